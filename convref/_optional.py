"""The optional dependencies: matplotlib and ipywidgets, for the figures and widgets only.

``pip install convref`` installs what the operators and layers need (NumPy and PyTorch);
``pip install "convref[viz]"`` adds what :mod:`convref.viz` and :mod:`convref.widgets`
draw with.
"""

from __future__ import annotations

import importlib

#: The install command that brings the figures' and widgets' dependencies.
VIZ_INSTALL = 'pip install "convref[viz]"'


def require(package: str, user: str) -> None:
    """Import ``package``, or say which install brings it.

    Parameters
    ----------
    package : str
        The module ``user`` cannot work without, such as ``"matplotlib"``.
    user : str
        The convref module that needs it, named in the message.

    Raises
    ------
    ModuleNotFoundError
        If ``package`` cannot be imported; the message names ``user``, ``package`` and the
        install command.
    """
    try:
        importlib.import_module(package)
    except ImportError as missing:
        raise ModuleNotFoundError(
            f"{user} needs {package}, which is not installed. The operators and layers"
            f" work without it; for the figures and widgets: {VIZ_INSTALL}",
            name=package,
        ) from missing
