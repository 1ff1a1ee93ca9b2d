"""Argument checks shared by the NumPy reference and the PyTorch version.

Every operator validates its arguments here, so both versions reject the same
inputs with the same ``ValueError`` / ``TypeError`` and the same message. The
checks look only at shapes, dtypes and plain Python values, never at the data.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Sequence, Union

IntPair = Union[int, Sequence[int]]
Padding = Union[int, Sequence[int], str]

PADDING_MODES = ("valid", "same")


def _type_name(value: Any) -> str:
    cls = type(value)
    module = cls.__module__
    return cls.__name__ if module == "builtins" else f"{module.split('.')[0]}.{cls.__name__}"


def _dtype_name(dtype: Any) -> str:
    # numpy prints "float32", torch prints "torch.float32": compare and report the same way.
    return str(dtype).removeprefix("torch.")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def int_pair(name: str, value: IntPair, *, minimum: int) -> tuple[int, int]:
    """Return ``value`` as ``(height, width)``; raise if it is not an int or a pair of ints >= ``minimum``."""
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an int >= 1."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(value)


def positive_number(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite number > 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {_type_name(value)}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_layer_channels(in_channels: Any, out_channels: Any, groups: Any) -> tuple[int, int, int]:
    """Validate a layer's ``in_channels``, ``out_channels`` and ``groups`` (ints >= 1, groups dividing both)."""
    in_channels = positive_int("in_channels", in_channels)
    out_channels = positive_int("out_channels", out_channels)
    groups = positive_int("groups", groups)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups must divide in_channels and out_channels, got groups={groups} "
            f"for {in_channels} -> {out_channels} channels"
        )
    return in_channels, out_channels, groups


def check_output_padding(
    output_padding: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> None:
    """PyTorch's rule for a transposed convolution: ``output_padding < max(stride, dilation)`` on each axis."""
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError(
                f"output_padding must be smaller than stride or dilation, got output_padding={output_padding}, "
                f"stride={stride}, dilation={dilation}"
            )


def _check_array_type(name: str, value: Any, array_type: type) -> None:
    if not isinstance(value, array_type):
        expected = f"{array_type.__module__.split('.')[0]}.{array_type.__name__}"
        raise TypeError(f"{name} must be a {expected}, got {_type_name(value)}")


def _check_floating_dtype(name: str, value: Any) -> None:
    if not _is_floating(value):
        raise TypeError(f"{name} must have a floating dtype, got {_dtype_name(value.dtype)}")


def check_array(name: str, value: Any, array_type: type, ndim: int, layout: str) -> None:
    """Check that ``value`` is an array of ``array_type`` with ``ndim`` dimensions and a floating dtype."""
    _check_array_type(name, value, array_type)
    if value.ndim != ndim:
        raise ValueError(
            f"{name} must be {ndim}-D with shape {layout}, got shape {tuple(value.shape)}"
        )
    _check_floating_dtype(name, value)


def _is_floating(value: Any) -> bool:
    dtype = value.dtype
    if hasattr(dtype, "is_floating_point"):  # torch.dtype
        return bool(dtype.is_floating_point)
    return getattr(dtype, "kind", "") == "f"  # numpy.dtype


def check_same_dtype(name: str, value: Any, x: Any, x_name: str = "x") -> None:
    """Check that ``value`` has the dtype of ``x`` (named ``x_name`` in the message)."""
    if _dtype_name(value.dtype) != _dtype_name(x.dtype):
        raise TypeError(
            f"{name} must have the same dtype as {x_name} ({_dtype_name(x.dtype)}), "
            f"got {_dtype_name(value.dtype)}"
        )


def check_bias(bias: Any, x: Any, out_channels: int, array_type: type) -> None:
    """Check an optional bias: ``None`` or a 1-D array of ``out_channels`` values with ``x``'s dtype."""
    if bias is None:
        return
    check_array("bias", bias, array_type, 1, "(C_out,)")
    check_same_dtype("bias", bias, x)
    if bias.shape[0] != out_channels:
        raise ValueError(f"bias must have shape ({out_channels},), got shape {tuple(bias.shape)}")


def padding_amounts(
    padding: Padding, kernel_size: tuple[int, int], dilation: tuple[int, int], stride: tuple[int, int]
) -> tuple[int, int, int, int]:
    """Resolve ``padding`` to ``(top, bottom, left, right)``.

    ``"same"`` follows PyTorch: the total padding ``dilation * (kernel - 1)`` is split
    with the odd element on the bottom/right, and strided convolutions are refused.
    """
    if isinstance(padding, str):
        if padding not in PADDING_MODES:
            raise ValueError(f"padding must be an int, a pair of ints, 'valid' or 'same', got {padding!r}")
        if padding == "valid":
            return (0, 0, 0, 0)
        if stride != (1, 1):
            raise ValueError(f"padding='same' needs stride=1, got stride={stride}")
        amounts = []
        for k, d in zip(kernel_size, dilation):
            total = d * (k - 1)
            amounts += [total // 2, total - total // 2]
        return tuple(amounts)  # type: ignore[return-value]
    try:
        ph, pw = int_pair("padding", padding, minimum=0)
    except TypeError:
        raise TypeError(
            f"padding must be an int, a pair of ints, 'valid' or 'same', got {padding!r}"
        ) from None
    return (ph, ph, pw, pw)


def output_length(size: int, kernel_size: int, stride: int, pad_before: int, pad_after: int, dilation: int) -> int:
    """Number of output positions along one axis (floor division, as every framework does)."""
    return (size + pad_before + pad_after - dilation * (kernel_size - 1) - 1) // stride + 1


@dataclass(frozen=True)
class Conv2dArgs:
    """Validated and normalised arguments of a 2-D convolution."""

    batch: int
    in_channels: int
    out_channels: int
    in_size: tuple[int, int]
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]  # top, bottom, left, right
    dilation: tuple[int, int]
    groups: int
    out_size: tuple[int, int]


def check_window_args(
    op: str,
    in_size: tuple[int, int],
    kernel_size: IntPair,
    stride: IntPair,
    padding: Padding,
    dilation: IntPair,
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int], tuple[int, int], tuple[int, int]]:
    """Validate the sliding-window arguments; return kernel, stride, padding, dilation, output size."""
    kernel = int_pair("kernel_size", kernel_size, minimum=1)
    stride_hw = int_pair("stride", stride, minimum=1)
    dilation_hw = int_pair("dilation", dilation, minimum=1)
    pads = padding_amounts(padding, kernel, dilation_hw, stride_hw)
    out = []
    for axis, (size, k, s, d, before, after) in enumerate(
        zip(in_size, kernel, stride_hw, dilation_hw, pads[0::2], pads[1::2])
    ):
        span = d * (k - 1) + 1
        if size + before + after < span:
            dim = "height" if axis == 0 else "width"
            raise ValueError(
                f"{op}: x is too small: padded {dim} {size + before + after} is less than the "
                f"dilated kernel {dim} {span}"
            )
        out.append(output_length(size, k, s, before, after, d))
    return kernel, stride_hw, pads, dilation_hw, (out[0], out[1])


def check_conv2d_args(
    x: Any,
    weight: Any,
    bias: Any,
    stride: IntPair,
    padding: Padding,
    dilation: IntPair,
    groups: int,
    *,
    array_type: type,
    op: str = "conv2d",
    weight_name: str = "weight",
) -> Conv2dArgs:
    """Validate the arguments of ``conv2d`` (and of operators with the same signature).

    Parameters
    ----------
    x, weight, bias
        Input ``(N, C_in, H, W)``, weight ``(C_out, C_in / groups, kh, kw)``, bias ``(C_out,)`` or None.
    stride, padding, dilation, groups
        As in :func:`torch.nn.functional.conv2d`.
    array_type
        ``numpy.ndarray`` for the reference, ``torch.Tensor`` for the PyTorch version.
    op
        The operator's name, used in messages.
    weight_name
        What messages call the weight (``"weights[k]"`` for one of a stack of kernels).
    """
    check_array("x", x, array_type, 4, "(N, C_in, H, W)")
    check_array(weight_name, weight, array_type, 4, "(C_out, C_in / groups, kh, kw)")
    check_same_dtype(weight_name, weight, x)
    groups = positive_int("groups", groups)
    batch, in_channels, height, width = (int(s) for s in x.shape)
    out_channels, group_channels, kh, kw = (int(s) for s in weight.shape)
    if in_channels % groups:
        raise ValueError(f"groups must divide the input channels: x has {in_channels} channels, groups={groups}")
    if out_channels % groups:
        raise ValueError(
            f"groups must divide the output channels: {weight_name} has {out_channels} output channels, groups={groups}"
        )
    if group_channels != in_channels // groups:
        raise ValueError(
            f"{weight_name}.shape[1] must be C_in / groups = {in_channels} / {groups} = {in_channels // groups}, "
            f"got {weight_name} of shape {tuple(weight.shape)}"
        )
    if kh < 1 or kw < 1:
        raise ValueError(
            f"{weight_name} must have a kernel of at least 1x1, got {weight_name} of shape {tuple(weight.shape)}"
        )
    check_bias(bias, x, out_channels, array_type)
    _, stride_hw, pads, dilation_hw, out_size = check_window_args(
        op, (height, width), (kh, kw), stride, padding, dilation
    )
    return Conv2dArgs(
        batch=batch,
        in_channels=in_channels,
        out_channels=out_channels,
        in_size=(height, width),
        kernel_size=(kh, kw),
        stride=stride_hw,
        padding=pads,
        dilation=dilation_hw,
        groups=groups,
        out_size=out_size,
    )


@dataclass(frozen=True)
class SeparableArgs:
    """Validated arguments of ``separable_conv2d``: the padding of each 1-D stage."""

    column_padding: Padding
    row_padding: Padding
    stride: tuple[int, int]
    dilation: tuple[int, int]
    groups: int


def check_separable_conv2d_args(
    x: Any,
    column_weight: Any,
    row_weight: Any,
    bias: Any,
    stride: IntPair,
    padding: Padding,
    dilation: IntPair,
    groups: int,
    *,
    array_type: type,
) -> SeparableArgs:
    """Validate ``separable_conv2d``: a ``(kh, 1)`` convolution followed by a ``(1, kw)`` one.

    Shapes: ``x (N, C_in, H, W)``, ``column_weight (C_mid, C_in / groups, kh, 1)``,
    ``row_weight (C_out, C_mid / groups, 1, kw)``, ``bias (C_out,)``.
    """
    check_array("x", x, array_type, 4, "(N, C_in, H, W)")
    check_array("column_weight", column_weight, array_type, 4, "(C_mid, C_in / groups, kh, 1)")
    check_array("row_weight", row_weight, array_type, 4, "(C_out, C_mid / groups, 1, kw)")
    check_same_dtype("column_weight", column_weight, x)
    check_same_dtype("row_weight", row_weight, x)
    groups = positive_int("groups", groups)
    in_channels = int(x.shape[1])
    mid_channels, column_in, kh, column_width = (int(s) for s in column_weight.shape)
    out_channels, row_in, row_height, kw = (int(s) for s in row_weight.shape)
    if column_width != 1 or kh < 1:
        raise ValueError(
            f"column_weight must have shape (C_mid, C_in / groups, kh, 1), got shape {tuple(column_weight.shape)}"
        )
    if row_height != 1 or kw < 1:
        raise ValueError(f"row_weight must have shape (C_out, C_mid / groups, 1, kw), got shape {tuple(row_weight.shape)}")
    for name, channels in (("input", in_channels), ("middle", mid_channels), ("output", out_channels)):
        if channels % groups:
            raise ValueError(f"groups must divide the {name} channels: {channels} channels, groups={groups}")
    if column_in != in_channels // groups:
        raise ValueError(
            f"column_weight.shape[1] must be C_in / groups = {in_channels} / {groups} = {in_channels // groups}, "
            f"got column_weight of shape {tuple(column_weight.shape)}"
        )
    if row_in != mid_channels // groups:
        raise ValueError(
            f"row_weight.shape[1] must be C_mid / groups = {mid_channels} / {groups} = {mid_channels // groups}, "
            f"got row_weight of shape {tuple(row_weight.shape)}"
        )
    check_bias(bias, x, out_channels, array_type)
    _, stride_hw, _, dilation_hw, _ = check_window_args(
        "separable_conv2d", (int(x.shape[2]), int(x.shape[3])), (kh, kw), stride, padding, dilation
    )
    if isinstance(padding, str):  # "same"/"valid" apply to each 1-D stage along its own axis
        column_padding: Padding = padding
        row_padding: Padding = padding
    else:
        ph, pw = int_pair("padding", padding, minimum=0)
        column_padding, row_padding = (ph, 0), (0, pw)
    return SeparableArgs(column_padding, row_padding, stride_hw, dilation_hw, groups)


def check_channel_shuffle_args(x: Any, groups: int, *, array_type: type) -> int:
    """Validate ``channel_shuffle``: ``x (N, C, H, W)`` with ``groups`` dividing ``C``."""
    check_array("x", x, array_type, 4, "(N, C, H, W)")
    groups = positive_int("groups", groups)
    if x.shape[1] % groups:
        raise ValueError(f"groups must divide the channels: x has {int(x.shape[1])} channels, groups={groups}")
    return groups


def check_kernel_matrix(kernel: Any, array_type: type, rank: Any) -> None:
    """Validate ``factorize_kernel``: a 2-D floating kernel of at least 1x1 and an optional rank >= 1."""
    check_array("kernel", kernel, array_type, 2, "(kh, kw)")
    if min(kernel.shape) < 1:  # an empty kernel has no rank-1 term to return
        raise ValueError(f"kernel must be at least 1x1, got shape {tuple(kernel.shape)}")
    if _dtype_name(kernel.dtype) not in ("float32", "float64"):  # what both SVDs support
        raise TypeError(f"kernel must be float32 or float64, got {_dtype_name(kernel.dtype)}")
    if rank is not None:
        rank = positive_int("rank", rank)
        if rank > min(kernel.shape):
            raise ValueError(f"rank must be <= min(kh, kw) = {min(kernel.shape)}, got {rank}")


def check_dilate_kernel_args(weight: Any, dilation: IntPair, *, array_type: type) -> tuple[int, int]:
    """Validate ``dilate_kernel``: a 4-D floating weight ``(C_out, C_in / groups, kh, kw)`` and a dilation >= 1."""
    check_array("weight", weight, array_type, 4, "(C_out, C_in / groups, kh, kw)")
    if min(int(s) for s in weight.shape[2:]) < 1:
        raise ValueError(f"weight must have a kernel of at least 1x1, got weight of shape {tuple(weight.shape)}")
    return int_pair("dilation", dilation, minimum=1)


def check_block_args(x: Any, block: IntPair, *, array_type: type) -> tuple[int, int]:
    """Validate ``space_to_batch``: ``x (N, C, H, W)`` whose height and width the block divides."""
    check_array("x", x, array_type, 4, "(N, C, H, W)")
    bh, bw = int_pair("block", block, minimum=1)
    height, width = int(x.shape[2]), int(x.shape[3])
    if height % bh or width % bw:
        raise ValueError(f"block must divide the height and width of x ({height}, {width}), got block={(bh, bw)}")
    return bh, bw


def check_batch_to_space_args(y: Any, block: IntPair, *, array_type: type) -> tuple[int, int]:
    """Validate ``batch_to_space``: ``y (bh * bw * N, C, H, W)``."""
    check_array("y", y, array_type, 4, "(block_h * block_w * N, C, H, W)")
    bh, bw = int_pair("block", block, minimum=1)
    if int(y.shape[0]) % (bh * bw):
        raise ValueError(
            f"block_h * block_w = {bh * bw} must divide the batch of y, got y of shape {tuple(y.shape)}"
        )
    return bh, bw


def check_stuff_zeros_args(x: Any, stride: IntPair, *, array_type: type) -> tuple[int, int]:
    """Validate ``stuff_zeros``: ``x (N, C, H, W)`` and a stride >= 1."""
    check_array("x", x, array_type, 4, "(N, C, H, W)")
    return int_pair("stride", stride, minimum=1)


@dataclass(frozen=True)
class ConvTranspose2dArgs:
    """Validated and normalised arguments of a 2-D transposed convolution."""

    batch: int
    in_channels: int
    out_channels: int
    in_size: tuple[int, int]
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    output_padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    out_size: tuple[int, int]

    @property
    def full_size(self) -> tuple[int, int]:
        """Size of the uncropped output, ``(H - 1) s + d (k - 1) + 1``: every position some tap reaches."""
        return tuple(  # type: ignore[return-value]
            (i - 1) * s + d * (k - 1) + 1
            for i, s, d, k in zip(self.in_size, self.stride, self.dilation, self.kernel_size)
        )


def conv_transpose_length(
    size: int, kernel_size: int, stride: int, padding: int, output_padding: int, dilation: int
) -> int:
    """Output length of a transposed convolution along one axis (PyTorch's formula)."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


def check_conv_transpose2d_args(
    x: Any,
    weight: Any,
    bias: Any,
    stride: IntPair,
    padding: IntPair,
    output_padding: IntPair,
    groups: int,
    dilation: IntPair,
    *,
    array_type: type,
) -> ConvTranspose2dArgs:
    """Validate the arguments of ``conv_transpose2d``, in PyTorch's order.

    Parameters
    ----------
    x, weight, bias
        Input ``(N, C_in, H, W)``, weight ``(C_in, C_out / groups, kh, kw)`` (the layout of the
        convolution it transposes), bias ``(C_out,)`` or None.
    stride, padding, output_padding, groups, dilation
        As in :func:`torch.nn.functional.conv_transpose2d`; ``output_padding`` must be smaller
        than the stride or the dilation along each axis.
    array_type
        ``numpy.ndarray`` for the reference, ``torch.Tensor`` for the PyTorch version.
    """
    check_array("x", x, array_type, 4, "(N, C_in, H, W)")
    check_array("weight", weight, array_type, 4, "(C_in, C_out / groups, kh, kw)")
    check_same_dtype("weight", weight, x)
    groups = positive_int("groups", groups)
    batch, in_channels, height, width = (int(s) for s in x.shape)
    weight_in, group_out, kh, kw = (int(s) for s in weight.shape)
    if height < 1 or width < 1:
        raise ValueError(f"x must have a height and width of at least 1, got shape {tuple(x.shape)}")
    if weight_in != in_channels:
        raise ValueError(
            f"weight.shape[0] must equal the input channels C_in = {in_channels}, got weight of shape "
            f"{tuple(weight.shape)}"
        )
    if in_channels % groups:
        raise ValueError(f"groups must divide the input channels: x has {in_channels} channels, groups={groups}")
    if kh < 1 or kw < 1 or group_out < 1:
        raise ValueError(
            f"weight must have at least one output channel and a 1x1 kernel, got weight of shape {tuple(weight.shape)}"
        )
    out_channels = group_out * groups
    check_bias(bias, x, out_channels, array_type)
    stride_hw = int_pair("stride", stride, minimum=1)
    try:
        padding_hw = int_pair("padding", padding, minimum=0)
    except TypeError:  # strings are conv2d's; a transposed convolution takes explicit amounts
        raise TypeError(f"padding must be an int or a pair of ints, got {padding!r}") from None
    output_padding_hw = int_pair("output_padding", output_padding, minimum=0)
    dilation_hw = int_pair("dilation", dilation, minimum=1)
    check_output_padding(output_padding_hw, stride_hw, dilation_hw)
    out_size = tuple(
        conv_transpose_length(i, k, s, p, op, d)
        for i, k, s, p, op, d in zip((height, width), (kh, kw), stride_hw, padding_hw, output_padding_hw, dilation_hw)
    )
    if min(out_size) < 1:
        raise ValueError(
            f"padding {padding_hw} crops the whole output: the output size would be {out_size}"
        )
    return ConvTranspose2dArgs(
        batch=batch,
        in_channels=in_channels,
        out_channels=out_channels,
        in_size=(height, width),
        kernel_size=(kh, kw),
        stride=stride_hw,
        padding=padding_hw,
        output_padding=output_padding_hw,
        dilation=dilation_hw,
        groups=groups,
        out_size=out_size,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class CausalConv1dArgs:
    """Validated arguments of ``causal_conv1d``."""

    kernel_size: int
    dilation: int
    groups: int


def check_causal_conv1d_args(
    x: Any, weight: Any, bias: Any, dilation: int, groups: int, *, array_type: type
) -> CausalConv1dArgs:
    """Validate ``causal_conv1d``: ``x (N, C_in, L)``, ``weight (C_out, C_in / groups, k)``, bias ``(C_out,)``."""
    check_array("x", x, array_type, 3, "(N, C_in, L)")
    check_array("weight", weight, array_type, 3, "(C_out, C_in / groups, k)")
    check_same_dtype("weight", weight, x)
    dilation = positive_int("dilation", dilation)
    groups = positive_int("groups", groups)
    in_channels = int(x.shape[1])
    out_channels, group_in, k = (int(s) for s in weight.shape)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups must divide the input and output channels, got groups={groups} for "
            f"{in_channels} -> {out_channels} channels"
        )
    if group_in != in_channels // groups:
        raise ValueError(
            f"weight.shape[1] must be C_in / groups = {in_channels} / {groups} = {in_channels // groups}, "
            f"got weight of shape {tuple(weight.shape)}"
        )
    if k < 1:
        raise ValueError(f"weight must have a kernel of at least 1 tap, got weight of shape {tuple(weight.shape)}")
    check_bias(bias, x, out_channels, array_type)
    return CausalConv1dArgs(kernel_size=k, dilation=dilation, groups=groups)


def check_resize_conv2d_args(x: Any, weight: Any, bias: Any, scale_factor: IntPair, padding: Padding, *, array_type: type) -> tuple[int, int]:
    """Validate ``resize_conv2d``'s arguments (shared by the NumPy and the PyTorch version).

    Shapes: ``x (N, C_in, H, W)``, ``weight (C_out, C_in, kh, kw)``, ``bias (C_out,)`` or None;
    ``scale_factor`` an int or a pair of ints >= 1; ``padding`` as in ``conv2d``, checked on the
    upsampled size. Returns ``scale_factor`` as ``(sh, sw)``.
    """
    check_array("x", x, array_type, 4, "(N, C_in, H, W)")
    check_array("weight", weight, array_type, 4, "(C_out, C_in, kh, kw)")
    check_same_dtype("weight", weight, x)
    sh, sw = int_pair("scale_factor", scale_factor, minimum=1)
    out_channels, in_channels, kh, kw = (int(s) for s in weight.shape)
    if in_channels != int(x.shape[1]):
        raise ValueError(
            f"weight.shape[1] must equal the input channels C_in = {int(x.shape[1])}, got weight of shape "
            f"{tuple(weight.shape)}"
        )
    if kh < 1 or kw < 1:
        raise ValueError(f"weight must have a kernel of at least 1x1, got weight of shape {tuple(weight.shape)}")
    check_bias(bias, x, out_channels, array_type)
    # The convolution runs on the upsampled input: check padding and kernel against that size.
    check_window_args("resize_conv2d", (int(x.shape[2]) * sh, int(x.shape[3]) * sw), (kh, kw), 1, padding, 1)
    return sh, sw


NON_LOCAL_MODES = ("gaussian", "embedded_gaussian", "dot_product", "concatenation")


def check_non_local_options(mode: Any, **flags: Any) -> None:
    """Validate a non-local block's ``mode`` and its boolean switches (``scale`` only in the dot-product modes)."""
    if not isinstance(mode, str) or mode not in NON_LOCAL_MODES:
        raise ValueError(f"mode must be one of {', '.join(repr(m) for m in NON_LOCAL_MODES)}, got {mode!r}")
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {flag!r}")
    if flags.get("scale") and mode == "concatenation":
        raise ValueError("scale=True applies to the dot-product modes, not to mode 'concatenation'")


@dataclass(frozen=True)
class NonLocalArgs:
    """Validated arguments of a non-local block."""

    mode: str
    in_channels: int
    inter_channels: int  # channels of theta, phi and g
    embed_channels: int  # channels of theta and phi (C for "gaussian", which has no embedding)
    sub_sample: bool
    scale: bool


def _check_matrix(name: str, value: Any, array_type: type, shape: tuple[int, int], layout: str, x: Any) -> None:
    check_array(name, value, array_type, 2, layout)
    check_same_dtype(name, value, x)
    if tuple(int(s) for s in value.shape) != shape:
        raise ValueError(f"{name} must have shape {shape} {layout}, got shape {tuple(value.shape)}")


def _check_vector(name: str, value: Any, array_type: type, length: int, layout: str, x: Any) -> None:
    check_array(name, value, array_type, 1, layout)
    check_same_dtype(name, value, x)
    if int(value.shape[0]) != length:
        raise ValueError(f"{name} must have shape ({length},) {layout}, got shape {tuple(value.shape)}")


def check_non_local_args(
    x: Any,
    theta_weight: Any,
    phi_weight: Any,
    g_weight: Any,
    mode: str,
    concat_weight: Any,
    sub_sample: bool,
    scale: bool,
    biases: dict[str, Any],
    *,
    array_type: type,
) -> NonLocalArgs:
    """Validate the arguments of ``non_local_response`` / ``non_local_affinity``.

    Shapes: ``x (N, C, H, W)``; ``theta_weight`` and ``phi_weight`` ``(C_e, C)`` (``None`` in
    ``"gaussian"`` mode, which compares the raw features); ``g_weight`` ``(C_i, C)``;
    ``concat_weight`` ``(2 C_e,)`` in ``"concatenation"`` mode only; biases ``(C_e,)`` / ``(C_i,)``.
    ``g_weight`` may be ``None`` when only the affinity is wanted.
    """
    check_non_local_options(mode, sub_sample=sub_sample, scale=scale)
    check_array("x", x, array_type, 4, "(N, C, H, W)")
    channels = int(x.shape[1])
    if mode == "gaussian":
        for name, value in (("theta_weight", theta_weight), ("phi_weight", phi_weight)):
            if value is not None:
                raise ValueError(f"{name} must be None in mode 'gaussian' (it compares the raw features x)")
        embed = channels
    else:
        if theta_weight is None or phi_weight is None:
            raise ValueError(f"theta_weight and phi_weight are required in mode {mode!r}")
        check_array("theta_weight", theta_weight, array_type, 2, "(C_e, C)")
        embed = int(theta_weight.shape[0])
        _check_matrix("theta_weight", theta_weight, array_type, (embed, channels), "(C_e, C)", x)
        _check_matrix("phi_weight", phi_weight, array_type, (embed, channels), "(C_e, C)", x)
    inter = embed
    if g_weight is not None:
        check_array("g_weight", g_weight, array_type, 2, "(C_i, C)")
        inter = int(g_weight.shape[0])
        _check_matrix("g_weight", g_weight, array_type, (inter, channels), "(C_i, C)", x)
    if mode == "concatenation":
        if concat_weight is None:
            raise ValueError("concat_weight is required in mode 'concatenation'")
        _check_vector("concat_weight", concat_weight, array_type, 2 * embed, "(2 C_e,)", x)
    elif concat_weight is not None:
        raise ValueError(f"concat_weight must be None in mode {mode!r}")
    lengths = {"theta_bias": embed, "phi_bias": embed, "g_bias": inter}
    for name, value in biases.items():
        if value is None:
            continue
        if mode == "gaussian" and name in ("theta_bias", "phi_bias"):
            raise ValueError(f"{name} must be None in mode 'gaussian'")
        _check_vector(name, value, array_type, lengths[name], "(C_e,)" if name != "g_bias" else "(C_i,)", x)
    if sub_sample and (int(x.shape[2]) < 2 or int(x.shape[3]) < 2):
        raise ValueError(f"sub_sample=True needs x of at least 2x2 pixels, got shape {tuple(x.shape)}")
    return NonLocalArgs(mode, channels, inter, embed, sub_sample, scale)


def check_out_weight(out_weight: Any, out_bias: Any, x: Any, inter_channels: int, *, array_type: type) -> None:
    """Validate the output projection ``W_z`` ``(C, C_i)`` of ``non_local2d`` and its bias ``(C,)``."""
    channels = int(x.shape[1])
    _check_matrix("out_weight", out_weight, array_type, (channels, inter_channels), "(C, C_i)", x)
    if out_bias is not None:
        _check_vector("out_bias", out_bias, array_type, channels, "(C,)", x)


SHIFT_LAYOUTS = ("grouped", "interleaved")


def check_shift_args(x: Any, shifts: Any, *, array_type: type) -> None:
    """Validate ``shift2d``: ``x (N, C, H, W)`` and ``shifts (C, 2)``, integer or floating."""
    check_array("x", x, array_type, 4, "(N, C, H, W)")
    _check_array_type("shifts", shifts, array_type)
    channels = int(x.shape[1])
    if tuple(int(s) for s in shifts.shape) != (channels, 2):
        raise ValueError(f"shifts must have shape ({channels}, 2) (one (dy, dx) per channel), got shape {tuple(shifts.shape)}")
    kind = _dtype_name(shifts.dtype)
    if not (_is_floating(shifts) or kind.startswith("int") or kind.startswith("uint")):
        raise TypeError(f"shifts must be integer or floating, got {kind}")
    if _is_floating(shifts):
        check_same_dtype("shifts", shifts, x)


def check_shift_pattern_args(channels: int, kernel_size: int, dilation: int, layout: str) -> tuple[int, int, int]:
    """Validate ``shift_pattern``: channels >= 1, an odd kernel size, dilation >= 1, a known layout."""
    channels = positive_int("channels", channels)
    kernel_size = positive_int("kernel_size", kernel_size)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (the directions are centred), got {kernel_size}")
    dilation = positive_int("dilation", dilation)
    if not isinstance(layout, str) or layout not in SHIFT_LAYOUTS:
        raise ValueError(f"layout must be 'grouped' or 'interleaved', got {layout!r}")
    return channels, kernel_size, dilation


@dataclass(frozen=True)
class DeformConv2dArgs:
    """Validated arguments of ``deform_conv2d``: the convolution's, plus the offset groups."""

    conv: Conv2dArgs
    offset_groups: int


def _check_sampling_map(name: str, value: Any, x: Any, per_group: int, layout: str, args: Conv2dArgs, array_type: type) -> int:
    """Check an offset or mask map ``(N, G * per_group, H_out, W_out)``; return its group count ``G``."""
    check_array(name, value, array_type, 4, layout)
    check_same_dtype(name, value, x)
    batch, channels, height, width = (int(s) for s in value.shape)
    if batch != args.batch:
        raise ValueError(f"{name} must have the batch size of x ({args.batch}), got shape {tuple(value.shape)}")
    if (height, width) != args.out_size:
        raise ValueError(
            f"{name} must cover the output, {args.out_size[0]}x{args.out_size[1]} pixels, got shape {tuple(value.shape)}"
        )
    if channels == 0 or channels % per_group:
        raise ValueError(f"{name} must have a positive multiple of {per_group} channels {layout}, got {channels}")
    return channels // per_group


def check_deform_conv2d_args(
    x: Any,
    offset: Any,
    weight: Any,
    bias: Any,
    stride: IntPair,
    padding: Padding,
    dilation: IntPair,
    mask: Any,
    *,
    array_type: type,
) -> DeformConv2dArgs:
    """Validate ``deform_conv2d`` with torchvision's conventions: groups and offset groups come from the shapes.

    ``weight`` is ``(C_out, C_in / groups, kh, kw)``, so ``groups = C_in / weight.shape[1]``;
    ``offset`` is ``(N, 2 G kh kw, H_out, W_out)`` and ``mask`` ``(N, G kh kw, H_out, W_out)``
    for ``G`` offset groups, which must divide ``C_in``.
    """
    check_array("x", x, array_type, 4, "(N, C_in, H, W)")
    check_array("weight", weight, array_type, 4, "(C_out, C_in / groups, kh, kw)")
    in_channels, group_channels = int(x.shape[1]), int(weight.shape[1])
    if group_channels == 0 or in_channels % group_channels:
        raise ValueError(
            f"weight.shape[1] must divide the input channels (it is C_in / groups): x has {in_channels} "
            f"channels, weight has shape {tuple(weight.shape)}"
        )
    conv = check_conv2d_args(
        x, weight, bias, stride, padding, dilation, in_channels // group_channels, array_type=array_type, op="deform_conv2d"
    )
    taps = conv.kernel_size[0] * conv.kernel_size[1]
    offset_groups = _check_sampling_map(
        "offset", offset, x, 2 * taps, "(N, 2 * offset_groups * kh * kw, H_out, W_out)", conv, array_type
    )
    if in_channels % offset_groups:
        raise ValueError(
            f"the offset groups must divide the input channels: offset has {offset_groups} groups "
            f"({int(offset.shape[1])} channels), x has {in_channels} channels"
        )
    if mask is not None:
        mask_groups = _check_sampling_map("mask", mask, x, taps, "(N, offset_groups * kh * kw, H_out, W_out)", conv, array_type)
        if mask_groups != offset_groups:
            raise ValueError(
                f"mask must have offset_groups * kh * kw = {offset_groups * taps} channels (one per offset), "
                f"got {int(mask.shape[1])}"
            )
    return DeformConv2dArgs(conv, offset_groups)


def check_dcls_kernel_args(weight: Any, positions: Any, size: IntPair, *, array_type: type) -> tuple[int, int]:
    """Validate ``dcls_kernel``: ``weight (C_out, C_in / g, kh, kw)``, ``positions (2, *weight.shape)``, dense ``size``."""
    check_array("weight", weight, array_type, 4, "(C_out, C_in / groups, kh, kw)")
    check_array("positions", positions, array_type, 5, "(2, C_out, C_in / groups, kh, kw)")
    check_same_dtype("positions", positions, weight, "weight")
    expected = (2, *(int(s) for s in weight.shape))
    if tuple(int(s) for s in positions.shape) != expected:
        raise ValueError(f"positions must have shape {expected} (a (y, x) per weight), got shape {tuple(positions.shape)}")
    return int_pair("size", size, minimum=1)


ADDER_GRADIENTS = ("paper", "exact")


def check_adder_gradient(gradient: Any) -> str:
    """Validate the ``gradient`` option of ``adder2d``: ``"paper"`` or ``"exact"``."""
    if not isinstance(gradient, str) or gradient not in ADDER_GRADIENTS:
        raise ValueError(f"gradient must be 'paper' or 'exact', got {gradient!r}")
    return gradient


def check_grad_output(grad_output: Any, x: Any, args: Conv2dArgs, array_type: type) -> None:
    """Validate the gradient of an output ``(N, C_out, H_out, W_out)`` against the call that produced it."""
    check_array("grad_output", grad_output, array_type, 4, "(N, C_out, H_out, W_out)")
    check_same_dtype("grad_output", grad_output, x)
    expected = (args.batch, args.out_channels, *args.out_size)
    if tuple(int(s) for s in grad_output.shape) != expected:
        raise ValueError(f"grad_output must have the output's shape {expected}, got shape {tuple(grad_output.shape)}")


def check_eta(eta: Any) -> float:
    """Validate AdderNet's adaptive learning-rate coefficient: a positive finite number."""
    return positive_number("eta", eta)


def check_floating(name: str, value: Any, array_type: type) -> None:
    """Check that ``value`` is an array of ``array_type`` (any shape) with a floating dtype."""
    _check_array_type(name, value, array_type)
    _check_floating_dtype(name, value)


def check_dynamic_conv2d_args(
    x: Any,
    weights: Any,
    attention: Any,
    bias: Any,
    stride: IntPair,
    padding: Padding,
    dilation: IntPair,
    groups: int,
    *,
    array_type: type,
) -> tuple[Conv2dArgs, int]:
    """Validate ``dynamic_conv2d``: ``x (N, C_in, H, W)``, ``weights (K, C_out, C_in / groups, kh, kw)``,
    ``attention (N, K)``, ``bias (K, C_out)`` or None; returns the convolution's arguments and ``K``."""
    check_array("x", x, array_type, 4, "(N, C_in, H, W)")
    check_array("weights", weights, array_type, 5, "(K, C_out, C_in / groups, kh, kw)")
    kernels = int(weights.shape[0])
    if kernels < 1:
        raise ValueError(f"weights must hold at least one kernel (K >= 1), got shape {tuple(weights.shape)}")
    args = check_conv2d_args(
        x, weights[0], None, stride, padding, dilation, groups, array_type=array_type, op="dynamic_conv2d",
        weight_name="weights[k]",
    )
    check_array("attention", attention, array_type, 2, "(N, K)")
    check_same_dtype("attention", attention, x)
    if tuple(int(s) for s in attention.shape) != (args.batch, kernels):
        raise ValueError(
            f"attention must have shape ({args.batch}, {kernels}) (one weight per sample and kernel), "
            f"got shape {tuple(attention.shape)}"
        )
    if bias is not None:
        check_array("bias", bias, array_type, 2, "(K, C_out)")
        check_same_dtype("bias", bias, x)
        if tuple(int(s) for s in bias.shape) != (kernels, args.out_channels):
            raise ValueError(f"bias must have shape ({kernels}, {args.out_channels}), got shape {tuple(bias.shape)}")
    return args, kernels
