# Two commands do everything on a fresh machine:  make book  and  make test.
# Both create the virtual environment in .venv and install what is missing.

VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
# The CPU build of PyTorch; the package itself accepts any torch>=2.1.
TORCH   ?= torch==2.13.0
JB_FLAGS := -W -n --keep-going

.PHONY: setup book test unit notebooks build-book browser bench lab clean

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

build-book: setup $(PACKAGE_STAMP)
	$(VENV)/bin/jupyter-book build . $(JB_FLAGS)

## Run every test: unit tests, notebooks, the book build and the browser smoke test.
test: unit notebooks build-book browser

unit: setup
	$(PYTHON) -m pytest tests -m "not browser"

notebooks: setup
	$(PYTHON) -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider book

browser: setup
	$(PYTHON) -m pytest tests -m browser

bench: setup
	$(PYTHON) -m convref.bench

## Run the notebooks interactively.
lab: setup
	$(VENV)/bin/jupyter lab book

clean:
	rm -rf _build .pytest_cache .hypothesis
