"""``nn.Module`` layer over PyTorch's own ``conv_transpose2d``.

:func:`convref.functional.conv_transpose2d` computes the same function as a matrix
product and a fold, to be read in the book and tested against PyTorch's; the layer runs
PyTorch's kernel, as :mod:`convref.nn.conv` does for the convolution.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional, Sequence

import torch

from .._checks import (
    IntPair,
    check_output_padding,
    conv_transpose_length,
    int_pair,
    transposed_output_size,
)
from .base import ConvLayer2d, check_layer_input

__all__ = ["ConvTranspose2d"]


class ConvTranspose2d(ConvLayer2d):
    """2-D transposed convolution layer computed by :func:`torch.nn.functional.conv_transpose2d`.

    A drop-in for :class:`torch.nn.ConvTranspose2d`: same arguments, same parameter shapes
    (weight ``(C_in, C_out / groups, kh, kw)``), and ``forward(x, output_size)`` to choose
    among the output sizes that a strided convolution maps to the same input size. It
    computes the function of :func:`convref.functional.conv_transpose2d`, the book's
    version, with PyTorch's kernel.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size, stride, padding, output_padding, dilation : int or (int, int)
        As in :class:`torch.nn.ConvTranspose2d`.
    groups : int
        Number of groups.
    bias : bool
        Whether to add a learned bias.
    init : {"pytorch", "bilinear", "he", "random", "xavier"}
        Keyword-only. ``"pytorch"`` reproduces :class:`torch.nn.ConvTranspose2d`'s default;
        ``"bilinear"`` makes the layer a per-channel bilinear upsampler (FCN, Long et al. 2015;
        needs ``in_channels == out_channels``) with a zero bias; the others are the Gaussian
        schemes of :mod:`convref.nn.init`, with fans counted on the weight as stored.

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with
    ``H_out = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1``.
    """

    init_schemes: ClassVar[tuple[str, ...]] = (
        "pytorch",
        "bilinear",
        "he",
        "random",
        "xavier",
    )
    transposed: ClassVar[bool] = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        output_padding: IntPair = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntPair = 1,
        *,
        init: str = "pytorch",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            init=init,
        )
        self.output_padding = int_pair("output_padding", output_padding, minimum=0)
        check_output_padding(self.output_padding, self.stride, self.dilation)

    def _check_init(self, init: Any) -> str:
        init = super()._check_init(init)
        if init == "bilinear" and self.in_channels != self.out_channels:
            raise ValueError(
                f"init='bilinear' needs in_channels == out_channels, got {self.in_channels} -> {self.out_channels}"
            )
        return init

    def output_padding_for(
        self, in_size: Sequence[int], output_size: Sequence[int]
    ) -> tuple[int, int]:
        """The ``output_padding`` that turns an input of ``in_size`` into ``output_size``.

        Raises ``ValueError`` when no ``output_padding`` below ``max(stride, dilation)`` reaches it.
        """
        pads = []
        for axis in range(2):
            smallest = conv_transpose_length(
                in_size[axis],
                self.kernel_size[axis],
                self.stride[axis],
                self.padding[axis],
                0,
                self.dilation[axis],
            )
            extra = output_size[axis] - smallest
            largest = smallest + max(self.stride[axis], self.dilation[axis]) - 1
            if not 0 <= extra < max(self.stride[axis], self.dilation[axis]):
                raise ValueError(
                    f"output_size must be between {smallest} and {largest} along axis {axis} for an input of "
                    f"size {in_size[axis]}, got output_size={tuple(output_size)}"
                )
            pads.append(extra)
        return pads[0], pads[1]

    def forward(
        self, x: torch.Tensor, output_size: Optional[Sequence[int]] = None
    ) -> torch.Tensor:
        """Apply the layer; ``output_size`` (the last two entries are used) picks ``output_padding``."""
        check_layer_input(self, x, self.in_channels)
        output_padding = self.output_padding
        if output_size is not None:
            if not isinstance(x, torch.Tensor) or x.dim() != 4:
                raise ValueError(
                    "x must be a 4-D torch.Tensor (N, C_in, H, W) when output_size is given"
                )
            output_size = [int(s) for s in output_size][-2:]
            if len(output_size) != 2:
                raise ValueError(
                    f"output_size must hold at least (H_out, W_out), got {output_size!r}"
                )
            output_padding = self.output_padding_for(tuple(x.shape[2:]), output_size)
        # a padding that crops the whole output, named as such, then PyTorch's kernel
        # (which applies autocast itself)
        transposed_output_size(
            tuple(x.shape[-2:]),
            self.kernel_size,
            self.stride,
            self.padding,
            int_pair("output_padding", output_padding, minimum=0),
            self.dilation,
        )
        return torch.nn.functional.conv_transpose2d(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )

    def _repr_fields(self) -> list[tuple[str, Any]]:
        fields = super()._repr_fields()
        after_padding = [name for name, _ in fields].index("padding") + 1
        return [
            *fields[:after_padding],
            ("output_padding", self.output_padding),
            *fields[after_padding:],
        ]
