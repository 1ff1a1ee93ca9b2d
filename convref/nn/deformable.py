"""Layers whose kernel shape is learned: deformable convolution (per pixel), active convolution and DCLS (shared).

* :class:`DeformConv2d` is ``torchvision.ops.DeformConv2d``: a layer that holds the kernel and
  takes the offsets (and masks) as inputs, ``forward(input, offset, mask=None)``.
* :class:`DCN2d` is the deformable ConvNet layer of the papers: it predicts an offset for
  every tap at every output pixel from the input itself (Dai et al. 2017), and with
  ``modulated=True`` a weight in ``[0, 1]`` per tap too (DCN v2, Zhu et al. 2019).
* :class:`ActiveConv2d` learns one offset per tap, the same at every pixel and for every image
  (Jeon & Kim 2017): the shape is learned but does not depend on the input.
* :class:`DclsConv2d` learns a position per kernel element, per channel pair, and spreads the
  elements bilinearly into a larger dense kernel (Khalfaoui-Hassani et al. 2023).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .. import functional
from ..functional._precision import compute_dtype
from ..functional._tracing import compiling, exporting
from .._checks import IntPair, Padding, check_bool, check_window_args, positive_int
from ..arith import Ops
from .base import ConvLayer2d, check_layer_input

__all__ = ["DeformConv2d", "DCN2d", "ActiveConv2d", "DclsConv2d"]


def _deformable_ops(
    layer: ConvLayer2d, inputs: tuple, output: torch.Tensor, modulated: bool
) -> Ops:
    """The arithmetic of one call of a deformable convolution, as :func:`convref.arith.deform_conv_cost` counts it.

    The convolution with the sampled values (one multiply-add per weight per output position,
    the bias one addition per output value), and the bilinear sampling: ``C_in kh kw`` values
    per output position, four multiply-adds each, one more for a modulation mask. The
    interpolation weights, computed once per tap and offset group, are not counted.
    """
    conv = ConvLayer2d.count_ops(layer, inputs, output)
    sampled = (
        output.numel()
        // layer.out_channels
        * layer.in_channels
        * layer.kernel_size[0]
        * layer.kernel_size[1]
    )
    mult_adds = conv.mult_adds + (5 if modulated else 4) * sampled
    return Ops(
        mult_adds, conv.additions, conv.bytes_read, conv.bytes_written, affine=True
    )


class DeformConv2d(ConvLayer2d):
    """Deformable convolution with given offsets: the layer of ``torchvision.ops.DeformConv2d``.

    Same constructor, same parameters (``weight`` ``(C_out, C_in / groups, kh, kw)``,
    ``bias`` ``(C_out,)``, drawn as torchvision draws them) and same
    ``forward(input, offset, mask=None)``, computed by :func:`convref.functional.deform_conv2d`:
    code written for torchvision's layer runs unchanged. The offsets (and the masks of DCN v2)
    come from the caller; :class:`DCN2d` is the layer that predicts them from its input.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size, stride, padding, dilation : int or (int, int)
        As in torchvision (``padding`` may also be ``"same"`` or ``"valid"``, as in
        :class:`torch.nn.Conv2d`).
    groups : int
        Weight groups.
    bias : bool
        Whether to add a learned bias.

    Shape
    -----
    ``input`` ``(N, C_in, H, W)``, ``offset`` ``(N, 2 G kh kw, H_out, W_out)``, ``mask``
    ``(N, G kh kw, H_out, W_out)`` for ``G`` offset groups (read from ``offset``'s shape; ``G``
    must divide ``C_in``); output ``(N, C_out, H_out, W_out)`` with the sizes of
    :class:`torch.nn.Conv2d`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: Padding = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
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
        )

    def forward(
        self,
        input: torch.Tensor,
        offset: torch.Tensor,
        mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Convolve ``input`` with the taps moved by ``offset`` (and scaled by ``mask``, DCN v2)."""
        check_layer_input(self, input, self.in_channels)
        return functional.deform_conv2d(
            input,
            offset,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            mask,
        )

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """This call's arithmetic, for :func:`convref.arith.count`: the convolution and its bilinear sampling.

        See :func:`_deformable_ops`; the sampling is modulated when a ``mask`` is given.
        """
        mask = inputs[2] if len(inputs) > 2 else None
        return _deformable_ops(self, inputs, output, modulated=mask is not None)


class DCN2d(ConvLayer2d):
    """Deformable ConvNet layer (DCN): a deformable convolution that predicts its own offsets from its input.

    The layer of the papers, v1 (Dai et al. 2017) or, with ``modulated=True``, v2 (Zhu et al.
    2019); mmcv calls them ``DeformConv2dPack`` and ``ModulatedDeformConv2dPack``. The offsets
    (and masks) come from an ordinary convolution ``conv_offset`` with the same window, stride,
    padding and dilation as the layer, so there is one offset per tap per output pixel.
    ``conv_offset`` starts at zero, as in the papers' code: the layer starts as a plain
    convolution (v1), or as half of one (v2, whose mask is ``sigmoid(0) = 0.5``).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size, stride, padding, dilation : int or (int, int)
        As in :class:`torch.nn.Conv2d` (``padding`` may also be ``"same"`` or ``"valid"``).
    groups : int
        Weight groups.
    bias : bool
        Whether the main convolution has a bias.
    offset_groups : int
        Keyword-only. Channel groups that share one set of offsets; must divide ``in_channels``.
    modulated : bool
        Keyword-only. DCN v2: also predict a mask in ``[0, 1]`` per tap (a sigmoid of
        ``conv_offset``'s last ``offset_groups * kh * kw`` channels).
    init : str
        Keyword-only. How the main ``weight`` and ``bias`` are drawn, as in
        :class:`convref.nn.Conv2d`.

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with the sizes of
    :class:`torch.nn.Conv2d`.

    Notes
    -----
    The result equals :class:`DeformConv2d` (or ``torchvision.ops.deform_conv2d``) with the same
    ``weight`` and ``bias``, called on ``offset, mask = layer.offsets_and_mask(x)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: Padding = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        offset_groups: int = 1,
        modulated: bool = False,
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
        self.offset_groups = positive_int("offset_groups", offset_groups)
        if self.in_channels % self.offset_groups:
            raise ValueError(
                f"offset_groups must divide in_channels, got offset_groups={offset_groups} for {in_channels} channels"
            )
        self.modulated = check_bool("modulated", modulated)
        taps = self.kernel_size[0] * self.kernel_size[1]
        predicted = (3 if modulated else 2) * self.offset_groups * taps
        self.conv_offset = nn.Conv2d(
            self.in_channels,
            predicted,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            bias=True,
        )
        self._zero_offset_conv()

    def _zero_offset_conv(self) -> None:
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def reset_parameters(self) -> None:
        """Draw ``weight`` and ``bias`` again (scheme :attr:`init`) and zero ``conv_offset``, as a new layer starts."""
        super().reset_parameters()
        self._zero_offset_conv()

    def offsets_and_mask(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The offsets ``(N, 2 G kh kw, H_out, W_out)`` and the mask (v2) or ``None`` (v1) used for ``x``."""
        predicted = self.conv_offset(x)
        split = 2 * self.offset_groups * self.kernel_size[0] * self.kernel_size[1]
        mask = torch.sigmoid(predicted[:, split:]) if self.modulated else None
        return predicted[:, :split], mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.in_channels)
        offset, mask = self.offsets_and_mask(x)
        return functional.deform_conv2d(
            x,
            offset,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            mask,
        )

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """This call's arithmetic, for :func:`convref.arith.count`: see :func:`_deformable_ops`.

        ``conv_offset`` is a child module and is counted as one; the mask's sigmoid is not counted.
        The sampling reads the predicted offsets (and mask) besides the input.
        """
        ops = _deformable_ops(self, inputs, output, modulated=self.modulated)
        predicted = (
            output.numel()
            // self.out_channels
            * self.conv_offset.out_channels
            * output.element_size()
        )
        return replace(ops, bytes_read=ops.bytes_read + predicted)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [
            *super()._repr_fields(),
            ("offset_groups", self.offset_groups),
            ("modulated", self.modulated),
        ]


class ActiveConv2d(ConvLayer2d):
    """Active convolution (Jeon & Kim 2017): one learned offset per tap, shared by every pixel and image.

    The deformable convolution with the same offset map at every output pixel. Its shape
    is learned, but it does not follow the input: ``2 kh kw`` extra parameters and no
    offset convolution. ``tap_offsets`` starts at zero (a plain convolution).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size, stride, padding, dilation : int or (int, int)
        As in :class:`torch.nn.Conv2d`.
    groups : int
        Weight groups.
    bias : bool
        Whether to add a learned bias.
    init : str
        Keyword-only. How ``weight`` and ``bias`` are drawn, as in :class:`convref.nn.Conv2d`.

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with the sizes of
    :class:`torch.nn.Conv2d` (:func:`convref.arith.conv_output_size`).

    Notes
    -----
    The parameter ``tap_offsets`` ``(kh kw, 2)`` holds ``(dy, dx)`` per tap in row-major order.

    Because every pixel shares the offsets, the layer runs as one plain convolution whose
    dense kernel carries each tap's weight spread bilinearly over the four pixels around
    its point (as DCLS builds its kernels): about the cost of a convolution with a kernel
    two pixels wider than the taps' spread. Under ``torch.compile`` or export, where a
    kernel's size may not depend on parameter values, it runs
    :func:`convref.functional.deform_conv2d` with the offsets broadcast to every pixel;
    both give the same output and gradients (on the pixel grid, the derivative from the
    right; ``deform_conv2d`` reports 0 for a point exactly on row or column -1).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: Padding = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
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
        taps = self.kernel_size[0] * self.kernel_size[1]
        self.tap_offsets = nn.Parameter(torch.zeros(taps, 2))

    def reset_parameters(self) -> None:
        """Draw ``weight`` and ``bias`` again (scheme :attr:`init`) and zero ``tap_offsets``, as a new layer starts."""
        super().reset_parameters()
        nn.init.zeros_(self.tap_offsets)

    def offset_map(self, x: torch.Tensor) -> torch.Tensor:
        """``tap_offsets`` broadcast to the ``(N, 2 kh kw, H_out, W_out)`` offset map of ``deform_conv2d``."""
        *_, out_size = check_window_args(
            "ActiveConv2d",
            tuple(x.shape[2:]),
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
        )
        return self.tap_offsets.reshape(1, -1, 1, 1).expand(x.shape[0], -1, *out_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.in_channels)
        offset = self.offset_map(x)
        traced = compiling() or exporting()
        if traced or not torch.isfinite(self.tap_offsets).all():
            return functional.deform_conv2d(
                x,
                offset,
                self.weight,
                self.bias,
                self.stride,
                self.padding,
                self.dilation,
            )
        return self._dense_forward(x)

    def _dense_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The same convolution as a plain one with the taps' bilinear weights in one dense kernel.

        Offsets shared by every pixel let the sampling move into the kernel: each tap's
        weight is spread over the four pixels around its point, with the bilinear weights
        of :func:`convref.functional.deform_conv2d` (the corner ``floor(p)`` gets
        ``1 - frac(p)``: the same one-sided derivative at integer points), and the input
        is padded or cropped so that the kernel's first row and column fall where the
        highest and leftmost tap reads. Reading zeros outside the image is then what zero
        padding does. The kernel's size follows the offsets, so a trace (whose shapes
        must not depend on parameter values) takes the deformable path instead.
        """
        (kh, kw), (dh, dw) = self.kernel_size, self.dilation
        compute = compute_dtype(x.dtype)
        offsets = self.tap_offsets.to(compute)
        grid = torch.stack(
            torch.meshgrid(
                torch.arange(kh, device=x.device, dtype=compute) * dh,
                torch.arange(kw, device=x.device, dtype=compute) * dw,
                indexing="ij",
            ),
            dim=-1,
        ).reshape(-1, 2)
        points = (
            grid + offsets
        )  # (K, 2): where each tap reads, from the window's corner
        corner = points.detach().floor()
        first = corner.min(dim=0).values.long()  # the dense kernel's (0, 0)
        size = (corner.max(dim=0).values.long() - first + 2).tolist()
        index = corner.long() - first  # each point's upper-left pixel in the kernel
        fraction = points - corner
        rows = _bilinear_rows(index[:, 0], fraction[:, 0], size[0])  # (K, size_h)
        cols = _bilinear_rows(index[:, 1], fraction[:, 1], size[1])  # (K, size_w)
        kernel = torch.einsum(
            "ock,ku,kv->ocuv", self.weight.to(compute).flatten(2), rows, cols
        )
        *_, (top, _, left, _), _, out_size = check_window_args(
            "ActiveConv2d",
            tuple(x.shape[2:]),
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
        )
        (sh, sw), (first_y, first_x) = self.stride, first.tolist()
        # the padded input's row 0 is the image's row first_y - top; it ends where the
        # last output's window does (negative padding crops)
        start_y, start_x = first_y - top, first_x - left
        end_y = start_y + (out_size[0] - 1) * sh + size[0]
        end_x = start_x + (out_size[1] - 1) * sw + size[1]
        height, width = x.shape[2], x.shape[3]
        padded = F.pad(
            x.to(compute), (-start_x, end_x - width, -start_y, end_y - height)
        )
        bias = None if self.bias is None else self.bias.to(compute)
        out = F.conv2d(padded, kernel, bias, self.stride, groups=self.groups)
        return out.to(x.dtype)

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """This call's arithmetic, for :func:`convref.arith.count`: see :func:`_deformable_ops` (no offset prediction)."""
        return _deformable_ops(self, inputs, output, modulated=False)


class DclsConv2d(ConvLayer2d):
    """Dilated convolution with learnable spacings (Khalfaoui-Hassani et al. 2023).

    ``kernel_count x kernel_count`` elements per channel pair, each at its own learned
    fractional position inside a ``dilated_kernel_size`` square, spread bilinearly into a dense
    kernel (:func:`convref.functional.dcls_kernel`) that a plain convolution then uses. The
    positions start on the regular grid that spans the square, spacing
    ``(dilated_kernel_size - 1) / (kernel_count - 1)``: with an integer spacing the layer
    starts as a dilated convolution of that rate.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_count : int
        Elements per side (``kernel_count ** 2`` per channel pair).
    dilated_kernel_size : int
        Side of the dense kernel; at least ``kernel_count``.
    stride : int or (int, int)
        Stride of the convolution.
    padding : int, (int, int), ``"valid"`` or ``"same"``
        Padding of the convolution with the dense kernel.
    groups : int
        Weight groups.
    bias : bool
        Whether to add a learned bias.
    init : str
        Keyword-only. How ``weight`` and ``bias`` are drawn, as in :class:`convref.nn.Conv2d`
        (with fans counted on the ``kc x kc`` elements, not on the dense kernel).

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with the sizes of a
    convolution whose kernel is ``dilated_kernel_size`` wide.

    Notes
    -----
    Parameters: ``weight`` ``(C_out, C_in / groups, kc, kc)`` and ``positions``
    ``(2, C_out, C_in / groups, kc, kc)``, ``(y, x)`` in dense-kernel coordinates.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_count: int,
        dilated_kernel_size: int,
        stride: IntPair = 1,
        padding: Padding = 0,
        groups: int = 1,
        bias: bool = True,
        *,
        init: str = "pytorch",
    ) -> None:
        kernel_count = positive_int("kernel_count", kernel_count)
        dilated_kernel_size = positive_int("dilated_kernel_size", dilated_kernel_size)
        if dilated_kernel_size < kernel_count:
            raise ValueError(
                f"dilated_kernel_size must be >= kernel_count, got {dilated_kernel_size} < {kernel_count}"
            )
        # the kernel_count x kernel_count weights of an ordinary convolution, placed by
        # positions
        super().__init__(
            in_channels,
            out_channels,
            kernel_count,
            stride,
            padding,
            1,
            groups,
            bias,
            init=init,
        )
        self.kernel_count, self.dilated_kernel_size = kernel_count, dilated_kernel_size
        self.positions = nn.Parameter(self._regular_positions())

    def reset_parameters(self) -> None:
        """Draw ``weight`` and ``bias`` again (scheme :attr:`init`) and put ``positions`` back on the regular grid."""
        super().reset_parameters()
        with torch.no_grad():
            self.positions.copy_(self._regular_positions())

    def _regular_positions(self) -> torch.Tensor:
        count, side = self.kernel_count, self.dilated_kernel_size
        spacing = (side - 1) / (count - 1) if count > 1 else 0.0
        line = torch.arange(count) * spacing + (0.0 if count > 1 else (side - 1) / 2)
        grid_y, grid_x = torch.meshgrid(line, line, indexing="ij")
        return (
            torch.stack((grid_y, grid_x))
            .reshape(2, 1, 1, count, count)
            .expand(2, *self.weight.shape)
            .clone()
        )

    def dense_kernel(self) -> torch.Tensor:
        """The ``(C_out, C_in / groups, s, s)`` kernel the convolution uses, ``s = dilated_kernel_size``."""
        return functional.dcls_kernel(
            self.weight, self.positions, self.dilated_kernel_size
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.in_channels)
        # the learned part is the dense kernel; the large convolution is PyTorch's own,
        # which is the point of DCLS: at run time it costs what a dense kernel of that
        # size costs
        return F.conv2d(
            x, self.dense_kernel(), self.bias, self.stride, self.padding, 1, self.groups
        )

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """This call's arithmetic, for :func:`convref.arith.count`: the dense convolution and building its kernel.

        The convolution runs with the dense ``s x s`` kernel, ``s = dilated_kernel_size``: one
        multiply-add per dense weight per output position (what DCLS costs at run time). Building
        that kernel spreads each element bilinearly over four entries: four multiply-adds per
        element, once per call (what a scatter computes; the einsum of
        :func:`convref.functional.dcls_kernel` also multiplies the zeros).
        """
        dense = (
            self.weight.numel() // (self.kernel_count**2) * self.dilated_kernel_size**2
        )
        mult_adds = (
            output.numel() // self.out_channels * dense + 4 * self.weight.numel()
        )
        return Ops.io(
            inputs, output, mult_adds, self._bias_additions(output), affine=True
        )

    def _repr_fields(self) -> list[tuple[str, Any]]:
        # the layer's own arguments in place of kernel_size and dilation, which it fixes
        shown = [
            field
            for field in super()._repr_fields()
            if field[0] not in ("kernel_size", "dilation")
        ]
        return [
            ("kernel_count", self.kernel_count),
            ("dilated_kernel_size", self.dilated_kernel_size),
            *shown,
        ]


def _bilinear_rows(
    index: torch.Tensor, fraction: torch.Tensor, size: int
) -> torch.Tensor:
    """Each point's bilinear weights along one axis: ``1 - f`` at ``index``, ``f`` at ``index + 1``.

    ``(K, size)`` from integer ``index`` and fractional part ``fraction``, both ``(K,)``;
    differentiable with respect to ``fraction``.
    """
    positions = torch.arange(size, device=index.device)
    lower = (positions == index[:, None]).to(fraction.dtype)
    upper = (positions == index[:, None] + 1).to(fraction.dtype)
    return lower * (1 - fraction[:, None]) + upper * fraction[:, None]
