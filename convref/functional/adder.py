r"""PyTorch AdderNet layer (Chen et al., CVPR 2020) with the paper's own gradients, in bounded memory.

Same names and arguments as :mod:`convref.reference.adder`. The forward pass is the negative
:math:`\ell_1` distance between the input's windows and the filters; the backward pass is the
paper's (full-precision filter gradient, HardTanh-clipped input gradient) or, on request, the
exact sign gradient, in a custom :class:`torch.autograd.Function`.

The authors' code builds the whole ``C_out x (C_in k^2) x (N H_out W_out)`` difference tensor,
three times (forward, and each gradient): 15 GB for one ResNet-50 stage-3 layer at batch 32.
Here nothing that large exists:

* forward: :func:`torch.cdist` with ``p=1`` on the window matrix of a batch chunk, which
  accumulates each distance without storing the differences;
* filter gradient (paper): :math:`\sum G (X - F) = G^\top X - F \sum G`, two matrix products;
* input gradient (and the exact filter gradient): the differences are formed for a slice of
  output positions at a time, at most :data:`PAIRWISE_ELEMENTS` of them (on the CPU; more on
  a GPU, where each launch costs more).

Only ``x`` and ``weight`` are saved for the backward pass; the windows are rebuilt there.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Optional

import torch
import torch.nn.functional as F

from .._checks import (
    Conv2dArgs,
    IntPair,
    Padding,
    check_adder_gradient,
    check_conv2d_args,
    check_eta,
    check_floating,
    check_grad_output,
)
from ._precision import (  # cdist lacks half kernels; L1 sums lose digits
    compute_dtype,
    follows_autocast,
)
from ._tracing import batch_slices, exporting

__all__ = [
    "adder2d",
    "adder2d_backward",
    "adder_adaptive_scale",
    "with_adaptive_gradient",
]

#: Largest number of window-matrix elements built at once (4 Mi elements, 16 MB in
#: float32); larger batches are processed in chunks of samples.
MAX_COLUMN_ELEMENTS = 2**22

#: Largest pairwise difference tensor (output positions x filters x window length)
#: formed at once on the CPU: 1 Mi elements (4 MB in float32) stays in a large cache,
#: and keeps the number of small parallel ops per backward pass low. Other devices use
#: :data:`PAIRWISE_ELEMENTS_GPU`, as each kernel launch there costs more than the
#: arithmetic.
PAIRWISE_ELEMENTS = 2**20
PAIRWISE_ELEMENTS_GPU = 2**25


def _batch_chunk(args: Conv2dArgs) -> int:
    """Samples per chunk, so that a chunk's window matrix stays under :data:`MAX_COLUMN_ELEMENTS`."""
    kh, kw = args.kernel_size
    per_sample = args.in_channels * kh * kw * args.out_size[0] * args.out_size[1]
    return max(1, MAX_COLUMN_ELEMENTS // max(1, per_sample))


def _padded(x: torch.Tensor, args: Conv2dArgs) -> torch.Tensor:
    top, bottom, left, right = args.padding
    return F.pad(x, (left, right, top, bottom)) if any(args.padding) else x


def _window_view(x_padded: torch.Tensor, args: Conv2dArgs) -> torch.Tensor:
    """Every window of the padded input as a strided view: ``(N, C, H_out, W_out, kh, kw)``, nothing copied."""
    (kh, kw), (sh, sw), (dh, dw) = args.kernel_size, args.stride, args.dilation
    windows = x_padded.unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)
    return windows[..., ::dh, ::dw]


def _patches(x: torch.Tensor, args: Conv2dArgs) -> torch.Tensor:
    """The windows of ``x`` as rows: ``(G, N * H_out * W_out, C_in / G * kh * kw)``, one copy of the input per tap."""
    windows = _window_view(_padded(x, args), args)
    n, channels, h_out, w_out, kh, kw = windows.shape
    windows = windows.reshape(
        n, args.groups, channels // args.groups, h_out, w_out, kh, kw
    )
    # rows ordered (n, i, j), entries (c, u, v): the order of weight.reshape(G, C_out /
    # G, -1)
    return windows.permute(1, 0, 3, 4, 2, 5, 6).reshape(
        args.groups, n * h_out * w_out, -1
    )


def _filters(weight: torch.Tensor, args: Conv2dArgs) -> torch.Tensor:
    """The filters as rows: ``(G, C_out / G, C_in / G * kh * kw)``."""
    return weight.reshape(args.groups, args.out_channels // args.groups, -1)


def _rows_to_output(rows: torch.Tensor, n: int, args: Conv2dArgs) -> torch.Tensor:
    """``(G, n * L, C_out / G)`` per-position results back to ``(n, C_out, H_out, W_out)``."""
    groups, _, per_group = rows.shape
    rows = rows.reshape(groups, n, -1, per_group).permute(1, 0, 3, 2)
    return rows.reshape(n, args.out_channels, *args.out_size)


def _output_to_rows(grad: torch.Tensor, args: Conv2dArgs) -> torch.Tensor:
    """``(n, C_out, H_out, W_out)`` to ``(G, n * L, C_out / G)``, the layout of the forward's distances."""
    n = grad.shape[0]
    grad = grad.reshape(n, args.groups, args.out_channels // args.groups, -1)
    # contiguous: the incoming gradient may be an expanded (stride-0) view, which
    # batched products copy row by row
    return (
        grad.permute(1, 0, 3, 2)
        .reshape(args.groups, -1, args.out_channels // args.groups)
        .contiguous()
    )


def _fold_patches(
    grad_patches: torch.Tensor, x: torch.Tensor, args: Conv2dArgs
) -> torch.Tensor:
    """Add each window's gradient back onto the pixels of ``x`` it read (the adjoint of :func:`_patches`).

    ``F.fold`` sums the overlapping windows in one call (``col2im``): as fast as a strided
    add per tap, and one node instead of ``kh kw`` for ``torch.compile`` to fuse.
    """
    n = x.shape[0]
    top, bottom, left, right = args.padding
    height, width = args.in_size
    h_out, w_out = args.out_size
    # (G, n L, C_in / G kh kw) -> (n, C_in kh kw, L): fold's column layout
    columns = grad_patches.reshape(args.groups, n, h_out * w_out, -1).permute(
        1, 0, 3, 2
    )
    columns = columns.reshape(n, -1, h_out * w_out)
    grad_padded = F.fold(
        columns,
        (height + top + bottom, width + left + right),
        args.kernel_size,
        dilation=args.dilation,
        stride=args.stride,
    )
    return grad_padded[:, :, top : top + height, left : left + width]


def _l1_distances(patches: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
    """``|patch - filter|_1`` for every pair: ``(G, P, K)`` and ``(G, F, K)`` give ``(G, P, F)``.

    ``torch.cdist`` never holds the ``P x F x K`` differences, but exporters have no rule for
    it; a traced export takes the broadcast difference instead (the same sums).
    """
    if exporting():
        return (patches.unsqueeze(2) - filters.unsqueeze(1)).abs().sum(3)
    return torch.cdist(patches, filters, p=1)


def _forward(x: torch.Tensor, weight: torch.Tensor, args: Conv2dArgs) -> torch.Tensor:
    """``-|windows - filters|_1`` for every window and filter, a batch chunk at a time."""
    dtype = compute_dtype(x.dtype)
    filters = _filters(weight, args).to(dtype)
    chunk = _batch_chunk(args)
    outputs = []
    for part in batch_slices(args.batch, chunk):
        x_chunk = x[part]
        distances = _l1_distances(
            _patches(x_chunk.to(dtype), args), filters
        )  # (G, n L, C_out / G)
        outputs.append(_rows_to_output(distances.neg_(), x_chunk.shape[0], args))
    if not outputs:  # an empty batch
        return x.new_empty((0, args.out_channels, *args.out_size))
    y = torch.cat(outputs) if len(outputs) > 1 else outputs[0]
    return y.to(x.dtype)


def _pairwise_slice(
    device: torch.device, groups: int, filters: int, length: int
) -> int:
    """Output positions per slice, so that the difference tensor stays within the budget of ``device``."""
    budget = PAIRWISE_ELEMENTS if device.type == "cpu" else PAIRWISE_ELEMENTS_GPU
    return max(1, budget // max(1, groups * filters * length))


def _pairwise_gradients(
    patches: torch.Tensor,
    filters: torch.Tensor,
    grad_rows: torch.Tensor,
    exact: bool,
    needs: tuple[bool, bool],
) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    r"""The gradients that need every difference :math:`F - X`, built a slice of positions at a time.

    ``needs`` says which are wanted: the window gradient :math:`\sum_o G \,\phi(F - X)`, with
    :math:`\phi` the HardTanh (paper) or the sign (exact), and the exact filter gradient
    :math:`\sum_p G \,\mathrm{sign}(X - F)` (the paper's needs no differences: it is None then).
    """
    groups, positions, length = patches.shape
    per_slice = _pairwise_slice(patches.device, groups, filters.shape[1], length)
    need_x, need_filters = needs
    grad_patches = torch.empty_like(patches) if need_x else None
    grad_filters = torch.zeros_like(filters) if exact and need_filters else None
    for start in range(0, positions, per_slice):
        stop = min(start + per_slice, positions)
        g = grad_rows[:, start:stop]  # (G, p, C_out / G)
        difference = filters.unsqueeze(1) - patches[:, start:stop].unsqueeze(
            2
        )  # F - X: (G, p, C_out / G, len)
        phi = difference.sign_() if exact else difference.clamp_(-1.0, 1.0)
        if grad_patches is not None:
            grad_patches[:, start:stop] = torch.matmul(g.unsqueeze(2), phi).squeeze(2)
        if grad_filters is not None:
            grad_filters -= torch.einsum(
                "gpo,gpol->gol", g, phi
            )  # sign(X - F) = -sign(F - X)
    return grad_patches, grad_filters


def _backward(
    x: torch.Tensor,
    weight: torch.Tensor,
    grad: torch.Tensor,
    args: Conv2dArgs,
    exact: bool,
    needs: tuple[bool, bool],
) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    """Gradients of the input and of the filters, a batch chunk at a time."""
    dtype = compute_dtype(x.dtype)
    filters = _filters(weight, args).to(dtype)
    need_x, need_filters = needs
    grad_x = torch.empty_like(x) if need_x else None
    grad_filters = torch.zeros_like(filters) if need_filters else None
    chunk = _batch_chunk(args)
    for part in batch_slices(args.batch, chunk):
        x_chunk = x[part]
        patches = _patches(x_chunk.to(dtype), args)
        grad_rows = _output_to_rows(grad[part].to(dtype), args)
        if need_filters and not exact:
            # the paper's sum G (X - F) = G^T X - F sum(G): two matrix products, no
            # differences
            grad_filters += torch.matmul(grad_rows.transpose(1, 2), patches)
            grad_filters -= filters * grad_rows.sum(1).unsqueeze(2)
        if need_x or (exact and need_filters):
            grad_patches, exact_filters = _pairwise_gradients(
                patches, filters, grad_rows, exact, needs
            )
            if exact_filters is not None:
                grad_filters += exact_filters
            if need_x:
                grad_x[part] = _fold_patches(grad_patches, x_chunk, args)
    grad_weight = (
        None
        if grad_filters is None
        else grad_filters.reshape(weight.shape).to(weight.dtype)
    )
    return grad_x, grad_weight


class _NotDifferentiable(torch.autograd.Function):
    """A copy of ``gradient`` recorded as a function of ``anchor``; differentiating it raises ``message``."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, gradient: torch.Tensor, anchor: torch.Tensor, message: str
    ) -> torch.Tensor:
        ctx.message = message
        return gradient.clone()

    @staticmethod
    def backward(ctx, *_):  # type: ignore[override]
        raise RuntimeError(ctx.message)


def _first_derivative_only(what: str, why: str) -> Callable:
    """``torch.autograd.function.once_differentiable``, with a message that names ``what``.

    The backward pass runs without recording; when a graph of the gradients is asked for
    (``create_graph=True``, as a gradient penalty does), the gradients it returns raise a
    ``RuntimeError`` naming the operator and ``why`` if anything differentiates them.
    """
    message = (
        f"{what} has no second derivative ({why}): a double backward through it, "
        "such as a gradient penalty with create_graph=True, is not supported"
    )

    def decorate(backward: Callable) -> Callable:
        @functools.wraps(backward)
        def run(ctx, *grads):
            with torch.no_grad():
                gradients = backward(ctx, *grads)
            recorded = [
                g for g in grads if isinstance(g, torch.Tensor) and g.requires_grad
            ]
            if not (torch.is_grad_enabled() and recorded):
                return gradients
            # computed without recording, the gradients need a node that refuses
            return tuple(
                _NotDifferentiable.apply(g, recorded[0], message)
                if isinstance(g, torch.Tensor)
                else g
                for g in gradients
            )

        return run

    return decorate


class _Adder2d(torch.autograd.Function):
    """The adder layer with the gradients of :func:`convref.reference.adder2d_backward`."""

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, weight: torch.Tensor, args: Conv2dArgs, exact: bool
    ) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        ctx.args, ctx.exact = args, exact
        return _forward(x, weight, args)

    @staticmethod
    @_first_derivative_only(
        "adder2d",
        "its backward pass is AdderNet's surrogate gradient, HardTanh or sign",
    )
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        grad_x, grad_weight = _backward(
            x, weight, grad, ctx.args, ctx.exact, tuple(ctx.needs_input_grad[:2])
        )
        return grad_x, grad_weight, None, None


@follows_autocast
def adder2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    gradient: str = "paper",
) -> torch.Tensor:
    r"""AdderNet's adder layer: the negative L1 distance between every window and every filter.

    Computes :func:`convref.reference.adder2d`,

    .. math::

        y[n, o, i, j] = b[o] - \sum_{c, u, v}
            \bigl| x_{pad}[n,\; g\,C_{in}/G + c,\; s_h i + d_h u,\; s_w j + d_w v] - w[o, c, u, v] \bigr|,

    and differentiates it with the paper's gradients (``gradient="paper"``) or the exact ones
    (``"exact"``), as :func:`convref.reference.adder2d_backward` defines them. Half-precision
    inputs are computed in float32 and returned in their own dtype.

    Parameters
    ----------
    x : torch.Tensor
        Input of shape ``(N, C_in, H, W)``.
    weight : torch.Tensor
        Filters of shape ``(C_out, C_in / groups, kh, kw)``, same dtype and device as ``x``.
    bias : torch.Tensor, optional
        Shape ``(C_out,)``.
    stride, dilation : int or (int, int)
        Step between output positions; spacing between filter taps.
    padding : int, (int, int), ``"valid"`` or ``"same"``
        Zeros added on each side.
    groups : int
        Number of groups; each sees ``C_in / groups`` input channels.
    gradient : {"paper", "exact"}
        ``"paper"``: :math:`\partial y / \partial F = X - F` and
        :math:`\partial y / \partial X = \mathrm{HT}(F - X)` (Chen et al. 2020);
        ``"exact"``: the signs, the true derivative of :math:`-|X - F|`.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C_out, H_out, W_out)``, every value at most ``b[o]``.
    """
    args = check_conv2d_args(
        x,
        weight,
        bias,
        stride,
        padding,
        dilation,
        groups,
        array_type=torch.Tensor,
        op="adder2d",
    )
    exact = check_adder_gradient(gradient) == "exact"
    y = _Adder2d.apply(x, weight, args, exact)
    if bias is not None:
        y = y + bias.view(1, -1, 1, 1)
    return y


def adder2d_backward(
    x: torch.Tensor,
    weight: torch.Tensor,
    grad_output: torch.Tensor,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    gradient: str = "paper",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The gradients that :func:`adder2d`'s backward pass gives ``x`` and ``weight`` for ``grad_output``.

    PyTorch version of :func:`convref.reference.adder2d_backward` (same formulas); it runs
    autograd through :func:`adder2d`, so it tests what training uses.

    Parameters
    ----------
    x : torch.Tensor
        Input of shape ``(N, C_in, H, W)``.
    weight : torch.Tensor
        Filters of shape ``(C_out, C_in / groups, kh, kw)``.
    grad_output : torch.Tensor
        :math:`\partial L / \partial y`, shape ``(N, C_out, H_out, W_out)``.
    stride, padding, dilation, groups, gradient
        As in :func:`adder2d`.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        ``grad_x`` of the shape of ``x`` and ``grad_weight`` of the shape of ``weight``.
    """
    args = check_conv2d_args(
        x,
        weight,
        None,
        stride,
        padding,
        dilation,
        groups,
        array_type=torch.Tensor,
        op="adder2d",
    )
    check_grad_output(grad_output, x, args, torch.Tensor)
    check_adder_gradient(gradient)
    leaves = [x.detach().requires_grad_(), weight.detach().requires_grad_()]
    with torch.enable_grad():
        y = adder2d(
            leaves[0], leaves[1], None, stride, padding, dilation, groups, gradient
        )
        grad_x, grad_weight = torch.autograd.grad(y, leaves, grad_output)
    return grad_x, grad_weight


def adder_adaptive_scale(grad_weight: torch.Tensor, eta: float = 0.2) -> torch.Tensor:
    r"""AdderNet's adaptive learning rate of one layer: :math:`\alpha = \eta \sqrt{k} / \lVert \Delta L(F) \rVert_2`.

    PyTorch version of :func:`convref.reference.adder_adaptive_scale` (Chen et al. 2020;
    :math:`k` is the number of filter entries, the authors' code uses :math:`\eta = 0.2`).

    Parameters
    ----------
    grad_weight : torch.Tensor
        The filter gradient of one layer, any shape.
    eta : float
        The coefficient :math:`\eta > 0`.

    Returns
    -------
    torch.Tensor
        :math:`\alpha`, a 0-dim tensor of the gradient's dtype and device.
    """
    check_floating("grad_weight", grad_weight, torch.Tensor)
    eta = check_eta(eta)
    norm = torch.linalg.vector_norm(grad_weight.to(compute_dtype(grad_weight.dtype)))
    return (eta * math.sqrt(grad_weight.numel()) / norm.clamp_min(1e-12)).to(
        grad_weight.dtype
    )


class _AdaptiveGradient(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by :func:`adder_adaptive_scale`."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, eta: float) -> torch.Tensor:  # type: ignore[override]
        ctx.eta = eta
        return weight.view_as(weight)

    @staticmethod
    @_first_derivative_only(
        "with_adaptive_gradient (Adder2d's adaptive learning rate)",
        "its scale is taken from the gradient's norm",
    )
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return grad * adder_adaptive_scale(grad, ctx.eta), None


def with_adaptive_gradient(weight: torch.Tensor, eta: float = 0.2) -> torch.Tensor:
    r"""``weight`` itself, but its gradient arrives scaled by AdderNet's adaptive learning rate.

    Use it on an adder layer's filters before :func:`adder2d`; the optimiser then steps by
    ``lr * alpha * grad`` with :math:`\alpha` from :func:`adder_adaptive_scale`, as the
    authors' code does inside its backward pass. :class:`convref.nn.Adder2d` does this when
    its ``eta`` is set.

    Parameters
    ----------
    weight : torch.Tensor
        The filters, any shape.
    eta : float
        The coefficient :math:`\eta > 0`.

    Returns
    -------
    torch.Tensor
        A view of ``weight``: same shape, same values.
    """
    check_floating("weight", weight, torch.Tensor)
    return _AdaptiveGradient.apply(weight, check_eta(eta))
