"""What a layer's arithmetic and traffic come to: :class:`Ops`, the answer of ``count_ops`` to :func:`convref.arith.count`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Ops", "tensor_bytes"]


def _tensors(value: Any) -> list[torch.Tensor]:
    """The tensors in ``value``: a tensor, or (nested) tuples, lists and dict values of them."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _tensors(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    return []


def tensor_bytes(value: Any) -> int:
    """Bytes held by the tensors in ``value`` (a tensor, or nested tuples, lists or dicts of them; others count 0).

    Parameters
    ----------
    value : torch.Tensor, tuple, list, dict or anything else
        What a layer receives or returns.

    Returns
    -------
    int
        ``sum(t.numel() * t.element_size())`` over the tensors found.
    """
    return sum(t.numel() * t.element_size() for t in _tensors(value))


def _first(inputs: tuple) -> torch.Tensor:
    """The first tensor a layer received."""
    return _tensors(inputs)[0]


@dataclass(frozen=True)
class Ops:
    """The arithmetic and activation traffic of one layer call, as a layer's ``count_ops`` returns it.

    See :mod:`convref.arith.counter` for what each field counts.

    Attributes
    ----------
    mult_adds : int
        Multiply-accumulates.
    additions : int
        Additions and subtractions that are not part of a multiply-add.
    bytes_read, bytes_written : int
        Activation bytes read and written.
    affine : bool
        The output is a fixed linear map of the input plus a bias (a convolution, a linear
        layer): a BatchNorm right after it folds into its weights at inference (see
        ``fold_batch_norm`` of :func:`count`).
    """

    mult_adds: int = 0
    additions: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    affine: bool = False

    @classmethod
    def io(
        cls,
        inputs: Any,
        output: Any,
        mult_adds: int = 0,
        additions: int = 0,
        affine: bool = False,
    ) -> "Ops":
        """``Ops`` of a layer that reads all its tensor inputs once and writes its output once.

        Parameters
        ----------
        inputs, output
            What the layer's forward received (its positional arguments) and returned.
        mult_adds, additions : int
            The layer's arithmetic.
        affine : bool
            See the class attributes.

        Returns
        -------
        Ops
            With ``bytes_read = tensor_bytes(inputs)``, ``bytes_written = tensor_bytes(output)``.
        """
        return cls(
            int(mult_adds),
            int(additions),
            tensor_bytes(inputs),
            tensor_bytes(output),
            affine,
        )
