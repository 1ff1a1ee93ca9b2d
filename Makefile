# Two commands do everything on a fresh machine:  make book  and  make test.
# Both create the virtual environment in .venv and install what is missing.

VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
# The CPU build of PyTorch; the package itself accepts any torch>=2.4.
TORCH   ?= torch==2.13.0
JB_FLAGS := -W -n --keep-going
# Matplotlib's settings and font cache live with the environment: a cache another
# environment wrote in ~/.cache (or wrote while this one was being installed) can list none
# of matplotlib's own fonts, and then every figure prints "findfont" warnings, which the
# book build (-W) rejects; the figures also stay free of the builder's own matplotlibrc.
export MPLCONFIGDIR := $(CURDIR)/$(VENV)/matplotlib

.PHONY: setup book test unit notebooks build-book browser bench under-load lab pdf vendor clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet "$(TORCH)"
	$(PYTHON) -m pip install --quiet -e ".[test,book]"
	$(PYTHON) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (convref)" >/dev/null
	touch $(STAMP)

## Build the book into _build/html.
book: setup build-book
	@echo "The book is in _build/html: open $(CURDIR)/_build/html/index.html"

# Executed notebooks are cached by their own code only; when the package changes, what they
# show (sources, numbers, figures) may change too, so the cache and the parsed pages are dropped.
PACKAGE_SOURCES := $(shell find convref -name '*.py')
PACKAGE_STAMP   := _build/.package-stamp

$(PACKAGE_STAMP): $(PACKAGE_SOURCES)
	rm -rf _build/.jupyter_cache _build/.doctrees _build/jupyter_execute
	mkdir -p _build && touch $@

# One thread per kernel, as `make notebooks` runs them: training results depend on the
# order of floating-point sums, so the book shows the numbers the notebook tests checked.
# The notebooks the cache lacks run first, two at a time (jupyter-book runs them one by one).
build-book: setup $(PACKAGE_STAMP)
	OMP_NUM_THREADS=1 $(PYTHON) scripts/execute_notebooks.py --jobs 2
	OMP_NUM_THREADS=1 $(VENV)/bin/jupyter-book build . $(JB_FLAGS)

## Run every test: unit tests, notebooks, the book build and the browser smoke test.
test: unit notebooks build-book browser

# Two test processes, each on one thread (the tests' tensors are small: a second thread
# gains little, a second process nearly doubles the speed on two cores). The run writes
# the API page's layer compatibility matrix from its own outcomes (tests/compatibility_matrix.py).
COMPAT_MATRIX := book/_generated/compatibility.md
unit: setup
	OMP_NUM_THREADS=1 $(PYTHON) -m pytest tests -m "not browser" -n 2 \
		--compatibility-matrix $(COMPAT_MATRIX)

# Two notebooks at a time, each kernel on one thread: on two cores this is faster than one
# notebook on two threads (small tensors gain little from a second thread).
notebooks: setup
	OMP_NUM_THREADS=1 $(PYTHON) -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider \
		-n 2 --dist loadfile book

# Two browsers at a time; the checks of one book page stay in one process, where they share
# one opening of the page (tests/conftest.py groups them, tests/book_pages.py opens them).
browser: setup
	$(PYTHON) -m pytest tests -m browser -n 2 --dist loadgroup

bench: setup
	$(PYTHON) -m convref.bench

# The notebooks as the build runs them, idle and then with one core held by a busy loop:
# fails if the loaded run takes more than twice the idle one (about twice the build's time).
under-load: setup
	OMP_NUM_THREADS=1 $(PYTHON) scripts/suite_under_load.py

## Print the whole book into one PDF, _build/pdf/convref.pdf (with the browser tests' Chromium).
pdf: setup build-book
	$(PYTHON) scripts/book_pdf.py

## Run the notebooks interactively.
lab: setup
	$(VENV)/bin/jupyter lab book

## Fetch the offline book's JavaScript again from npm (versions: book/_offline/vendor/README.md).
VENDOR := book/_offline/vendor
NPM    := _build/npm
vendor:
	rm -rf $(NPM) && mkdir -p $(NPM)
	cd $(NPM) && npm pack --silent mathjax@3.2.2 @jupyter-widgets/html-manager@1.0.15 requirejs@2.3.8 >/dev/null
	for f in $(NPM)/*.tgz; do mkdir -p "$${f%.tgz}" && tar xzf "$$f" -C "$${f%.tgz}"; done
	cp $(NPM)/mathjax-3.2.2/package/es5/tex-mml-chtml.js $(NPM)/mathjax-3.2.2/package/LICENSE $(VENDOR)/mathjax/
	rm -rf $(VENDOR)/mathjax/output && mkdir -p $(VENDOR)/mathjax/output/chtml/fonts
	cp -r $(NPM)/mathjax-3.2.2/package/es5/output/chtml/fonts/woff-v2 $(VENDOR)/mathjax/output/chtml/fonts/
	cp $(NPM)/jupyter-widgets-html-manager-1.0.15/package/dist/embed-amd.js $(NPM)/jupyter-widgets-html-manager-1.0.15/package/dist/*.woff* $(VENDOR)/html-manager/
	cp $(NPM)/jupyter-widgets-html-manager-1.0.15/package/dist/embed.js.LICENSE.txt $(VENDOR)/html-manager/THIRD_PARTY_NOTICES.txt
	cp $(NPM)/requirejs-2.3.8/package/require.js $(VENDOR)/require/

clean:
	rm -rf _build .pytest_cache .hypothesis
