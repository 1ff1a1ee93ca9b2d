"""convref: convolution operators, each as a readable NumPy reference and a fast PyTorch version.

Subpackages
-----------
reference
    NumPy versions, written straight from the papers' equations.
functional
    PyTorch versions with the same names and arguments (autograd, any device).
nn
    ``torch.nn.Module`` layers over :mod:`convref.functional`.
arith
    Output sizes, receptive fields, parameter and multiply-add counts.
"""

from . import arith, data, functional, nn, reference, zoo

__version__ = "0.1.0"

__all__ = ["arith", "data", "functional", "nn", "reference", "zoo", "__version__"]
