"""Whether an operator is being traced: by ``torch.compile``, or for export.

Four operators have a fast path that a tracer cannot take, each with a traceable path
that gives the same result (see the modules that import :func:`exporting` and
:func:`compiling`):

* ``torch.searchsorted`` (non-local concatenation): ONNX has no such operator;
* ``torch.cdist`` (AdderNet's L1 distances): the ONNX exporter has no rule for it;
* ``as_strided`` copies (ShiftNet's pattern shift): ``prims.as_strided_scatter`` has no
  ONNX rule, and the copy plan depends on the batch size (any trace takes the gather);
* the batch folded into a convolution's groups (dynamic convolution): ONNX's ``Conv``
  needs a group count known before the batch size.
"""

from __future__ import annotations

import torch


def compiling() -> bool:
    """Whether ``torch.compile`` (or an exporter built on it) is tracing this call.

    Returns
    -------
    bool
        False on a PyTorch without :func:`torch.compiler.is_compiling`.
    """
    is_compiling = getattr(torch.compiler, "is_compiling", None)
    return bool(is_compiling and is_compiling())


def exporting() -> bool:
    """Whether this call is being traced for export: :func:`torch.export.export` or :func:`torch.onnx.export`.

    Returns
    -------
    bool
        True under either ONNX exporter (the TorchScript one sets
        :func:`torch.onnx.is_in_onnx_export`; the default one is built on
        :func:`torch.export.export`, which sets :func:`torch.compiler.is_exporting`).
    """
    is_exporting = getattr(torch.compiler, "is_exporting", None)
    return bool(is_exporting and is_exporting()) or torch.onnx.is_in_onnx_export()


def batch_slices(batch: int, chunk: int) -> list[slice]:
    """The slices that cut a batch of ``batch`` samples into chunks of ``chunk``.

    The chunks bound the memory of an operator's window matrices. A batch that fits in
    one chunk is one slice, decided by ``batch <= chunk``: under ``torch.compile`` with
    a dynamic batch size that comparison is a range guard, so the compiled graph serves
    every batch size up to ``chunk`` (a loop over the batch would fix it to one size).
    While exporting the batch is always one chunk: an exported graph cannot branch.

    Parameters
    ----------
    batch : int or torch.SymInt
        The batch size.
    chunk : int
        Samples per chunk, at least 1.

    Returns
    -------
    list of slice
        Empty for an empty batch.
    """
    if batch == 0:
        return []
    if exporting() or batch <= chunk:  # exporting first: no guard on the batch
        return [slice(None)]
    return [slice(start, start + chunk) for start in range(0, batch, chunk)]
