"""``python -m convref.bench``: see :mod:`convref.bench.cli` (or ``--help``)."""

from .cli import main

if __name__ == "__main__":
    main()
