"""adder2d (AdderNet), its two gradients and the adaptive learning rate, in NumPy and PyTorch.

Oracles, none of them convref:

- a loop over ``n, o, i, j`` and the window, with ``-|x - w|`` summed one term at a time;
- ``F.unfold`` patches broadcast against the filters (the authors' formulation) and
  ``torch.cdist(p=1)`` on those patches;
- the paper's gradients as the exact gradients of surrogate losses that PyTorch differentiates
  through ``F.unfold``: :math:`\\sum G (X - F)` is the derivative in ``F`` of
  :math:`-\\tfrac12 \\sum G (X - F)^2`, and :math:`\\sum G\\,\\mathrm{HT}(F - X)` the derivative in
  ``X`` of :math:`-\\sum G\\,\\mathrm{huber}(F - X)` (Huber with delta 1, whose derivative is the
  HardTanh);
- autograd of ``-|patches - filters|`` (sign gradients) and ``gradcheck`` for the exact mode;
- hand-worked values and the closed form of the adaptive learning rate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import convref.functional.adder as functional_adder
from convref import bench, functional, reference
from harness import assert_both_refuse, bad_calls, run_both, to_torch

RTOL, ATOL = 1e-10, 1e-10


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


# ---------------------------------------------------------------------------
# Independent oracles written here
# ---------------------------------------------------------------------------


def loop_adder2d(
    x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1
) -> np.ndarray:
    """The definition, one absolute difference at a time (int or pair padding)."""
    (sh, sw), (ph, pw), (dh, dw) = (_pair(v) for v in (stride, padding, dilation))
    batch, in_channels, height, width = x.shape
    out_channels, per_group, kh, kw = weight.shape
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))).tolist()
    out_h = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    ws = weight.tolist()
    out = np.zeros((batch, out_channels, out_h, out_w))
    for n in range(batch):
        for o in range(out_channels):
            first = (o // (out_channels // groups)) * per_group
            for i in range(out_h):
                for j in range(out_w):
                    total = 0.0 if bias is None else float(bias[o])
                    for c in range(per_group):
                        for u in range(kh):
                            for v in range(kw):
                                pixel = x_padded[n][first + c][i * sh + u * dh][
                                    j * sw + v * dw
                                ]
                                total -= abs(pixel - ws[o][c][u][v])
                    out[n, o, i, j] = total
    return out


def unfold_patches(
    x: torch.Tensor, weight: torch.Tensor, stride, padding, dilation, groups
):
    """``F.unfold`` patches per group ``(G, N L, C/G k^2)`` and filters ``(G, C_out/G, C/G k^2)``."""
    n = x.shape[0]
    columns = F.unfold(
        x, weight.shape[2:], dilation=dilation, padding=padding, stride=stride
    )  # (N, C k^2, L)
    columns = (
        columns.reshape(n, groups, -1, columns.shape[-1])
        .permute(1, 0, 3, 2)
        .reshape(groups, -1, columns.shape[1] // groups)
    )
    filters = weight.reshape(groups, weight.shape[0] // groups, -1)
    return columns, filters


def to_output(
    rows: torch.Tensor, n: int, out_channels: int, out_size: tuple[int, int]
) -> torch.Tensor:
    """``(G, N L, C_out/G)`` back to ``(N, C_out, H_out, W_out)``."""
    groups = rows.shape[0]
    return (
        rows.reshape(groups, n, -1, rows.shape[-1])
        .permute(1, 0, 3, 2)
        .reshape(n, out_channels, *out_size)
    )


def out_size(x_shape, weight_shape, stride, padding, dilation) -> tuple[int, int]:
    (sh, sw), (ph, pw), (dh, dw) = (_pair(v) for v in (stride, padding, dilation))
    kh, kw = weight_shape[2:]
    return (
        (x_shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1,
        (x_shape[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1,
    )


def broadcast_adder2d(
    x: torch.Tensor, weight: torch.Tensor, stride=1, padding=0, dilation=1, groups=1
) -> torch.Tensor:
    """The authors' formulation: every difference at once, then the sum (autograd gives the sign gradients)."""
    patches, filters = unfold_patches(x, weight, stride, padding, dilation, groups)
    distances = (
        (patches.unsqueeze(2) - filters.unsqueeze(1)).abs().sum(-1)
    )  # (G, N L, C_out/G)
    return -to_output(
        distances,
        x.shape[0],
        weight.shape[0],
        out_size(x.shape, weight.shape, stride, padding, dilation),
    )


def cdist_adder2d(
    x: torch.Tensor, weight: torch.Tensor, stride=1, padding=0, dilation=1, groups=1
) -> torch.Tensor:
    patches, filters = unfold_patches(x, weight, stride, padding, dilation, groups)
    distances = torch.cdist(patches, filters, p=1)
    return -to_output(
        distances,
        x.shape[0],
        weight.shape[0],
        out_size(x.shape, weight.shape, stride, padding, dilation),
    )


def paper_gradients_by_surrogate(
    x, weight, grad_output, stride=1, padding=0, dilation=1, groups=1
):
    """The paper's gradients as exact gradients of two surrogate losses, through ``F.unfold``."""
    x_leaf = torch.from_numpy(x).requires_grad_()
    w_leaf = torch.from_numpy(weight).requires_grad_()
    g = torch.from_numpy(grad_output)
    size = out_size(x.shape, weight.shape, stride, padding, dilation)
    patches, filters = unfold_patches(x_leaf, w_leaf, stride, padding, dilation, groups)
    difference = patches.unsqueeze(2) - filters.unsqueeze(
        1
    )  # X - F: (G, N L, C_out/G, len)
    g_rows = (
        g.reshape(x.shape[0], groups, weight.shape[0] // groups, -1)
        .permute(1, 0, 3, 2)
        .reshape(groups, -1, weight.shape[0] // groups)
    )
    # d/dF of -1/2 G (X - F)^2 is G (X - F); X held fixed
    filter_surrogate = (
        -0.5
        * (
            g_rows.unsqueeze(-1)
            * (patches.detach().unsqueeze(2) - filters.unsqueeze(1)) ** 2
        ).sum()
    )
    # d/dX of -G huber(F - X) is G HT(F - X); F held fixed
    huber = F.huber_loss(
        filters.detach().unsqueeze(1).expand_as(difference),
        patches.unsqueeze(2).expand_as(difference),
        reduction="none",
        delta=1.0,
    )
    input_surrogate = -(g_rows.unsqueeze(-1) * huber).sum()
    (grad_weight,) = torch.autograd.grad(filter_surrogate, w_leaf)
    (grad_x,) = torch.autograd.grad(input_surrogate, x_leaf)
    assert size == tuple(grad_output.shape[2:])
    return grad_x.numpy(), grad_weight.numpy()


def exact_gradients_by_autograd(
    x, weight, grad_output, stride=1, padding=0, dilation=1, groups=1
):
    x_leaf = torch.from_numpy(x).requires_grad_()
    w_leaf = torch.from_numpy(weight).requires_grad_()
    y = broadcast_adder2d(x_leaf, w_leaf, stride, padding, dilation, groups)
    grad_x, grad_weight = torch.autograd.grad(
        y, (x_leaf, w_leaf), torch.from_numpy(grad_output)
    )
    return grad_x.numpy(), grad_weight.numpy()


def _case(
    rng,
    n=2,
    c=4,
    o=6,
    h=7,
    w=8,
    k=(3, 3),
    groups=1,
    stride=1,
    padding=1,
    dilation=1,
    scale=1.0,
):
    x = rng.standard_normal((n, c, h, w))
    weight = scale * rng.standard_normal((o, c // groups, *k))
    size = out_size(x.shape, weight.shape, stride, padding, dilation)
    grad_output = rng.standard_normal((n, o, *size))
    return (
        x,
        weight,
        grad_output,
        dict(stride=stride, padding=padding, dilation=dilation, groups=groups),
    )


# ---------------------------------------------------------------------------
# Forward
# ---------------------------------------------------------------------------

GEOMETRIES = [
    dict(),
    dict(stride=2, padding=0),
    dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1)),
    dict(groups=2, o=4),
    dict(groups=4, o=8, k=(1, 1), padding=0),
    dict(k=(2, 3), padding=(0, 1), dilation=2),
    dict(n=1, c=1, o=1, h=3, w=3, padding=0),
]


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_forward_matches_the_loop(rng, geometry):
    x, weight, _, kwargs = _case(rng, **geometry)
    bias = rng.standard_normal(weight.shape[0])
    expected = loop_adder2d(x, weight, bias, **kwargs)
    for name, y in run_both("adder2d", x, weight, bias, **kwargs).items():
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_forward_matches_cdist_and_broadcast_on_unfold(rng, geometry):
    x, weight, _, kwargs = _case(rng, **geometry)
    xt, wt = torch.from_numpy(x), torch.from_numpy(weight)
    ours = functional.adder2d(xt, wt, **kwargs)
    torch.testing.assert_close(
        ours, cdist_adder2d(xt, wt, **kwargs), rtol=RTOL, atol=ATOL
    )
    torch.testing.assert_close(
        ours, broadcast_adder2d(xt, wt, **kwargs), rtol=RTOL, atol=ATOL
    )


def test_hand_worked_values():
    # one 1x2 window, one filter: -(|1 - 0.5| + |-2 - 1|) = -3.5; with bias 1 -> -2.5
    x = np.array([[[[1.0, -2.0]]]])
    weight = np.array([[[[0.5, 1.0]]]])
    for y in run_both("adder2d", x, weight, np.array([1.0])).values():
        np.testing.assert_allclose(y, [[[[-2.5]]]])
    # padding adds |w| for every padded position: window (0, 1) then (1, -2), then (-2, 0)
    for y in run_both("adder2d", x, weight, padding=(0, 1)).values():
        np.testing.assert_allclose(y, [[[[-(0.5 + 0.0), -3.5, -(2.5 + 1.0)]]]])


def test_output_is_at_most_the_bias_and_zero_where_the_window_is_the_filter(rng):
    x = rng.standard_normal((2, 3, 6, 6))
    weight = x[1:2, :, 2:5, 1:4].copy()  # the window of sample 1 at output (2, 1)
    bias = np.array([0.7])
    for y in run_both("adder2d", x, weight, bias).values():
        assert np.all(y <= 0.7 + 1e-12)
        assert y[1, 0, 2, 1] == pytest.approx(0.7, abs=1e-12)
        assert np.argmax(y[1, 0]) == 2 * 4 + 1  # the best match is there


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    groups=st.sampled_from([1, 2, 3]),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    sh=st.integers(1, 3),
    sw=st.integers(1, 2),
    dh=st.integers(1, 2),
    dw=st.integers(1, 3),
)
def test_reference_and_pytorch_agree_on_drawn_geometries(
    data, groups, kh, kw, sh, sw, dh, dw
):
    ph = data.draw(st.integers(0, 2))
    pw = data.draw(st.integers(0, 2))
    c = groups * data.draw(st.integers(1, 2))
    o = groups * data.draw(st.integers(1, 2))
    h = data.draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 7))
    w = data.draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 7))
    n = data.draw(st.integers(1, 2))
    gradient = data.draw(st.sampled_from(["paper", "exact"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    kwargs = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups)
    x, weight, grad_output, _ = _case(
        rng, n=n, c=c, o=o, h=h, w=w, k=(kh, kw), **kwargs
    )
    ys = run_both("adder2d", x, weight, **kwargs)
    np.testing.assert_allclose(ys["functional"], ys["reference"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        ys["reference"], loop_adder2d(x, weight, None, **kwargs), rtol=RTOL, atol=ATOL
    )
    grads = run_both(
        "adder2d_backward", x, weight, grad_output, gradient=gradient, **kwargs
    )
    for ref, fun in zip(grads["reference"], grads["functional"]):
        np.testing.assert_allclose(fun, ref, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("k", [(2, 2), (3, 4)])
def test_string_padding(rng, padding, k):
    """'same' with an even kernel pads one more zero after than before, as PyTorch does."""
    x, weight, grad_output, _ = _case(rng, k=k, padding=0)
    expected_size = (
        x.shape[2:]
        if padding == "same"
        else (x.shape[2] - k[0] + 1, x.shape[3] - k[1] + 1)
    )
    (kh, kw) = k
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = (
        np.pad(x, ((0, 0), (0, 0), (top, kh - 1 - top), (left, kw - 1 - left)))
        if padding == "same"
        else x
    )
    expected = loop_adder2d(padded, weight)
    for name, y in run_both("adder2d", x, weight, padding=padding).items():
        assert y.shape[2:] == tuple(expected_size), name
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL, err_msg=name)
    grad_output = rng.standard_normal(expected.shape)
    grads = run_both(
        "adder2d_backward", x, weight, grad_output, gradient="paper", padding=padding
    )
    np.testing.assert_allclose(
        grads["functional"][0], grads["reference"][0], rtol=RTOL, atol=ATOL
    )
    np.testing.assert_allclose(
        grads["functional"][1], grads["reference"][1], rtol=RTOL, atol=ATOL
    )


# ---------------------------------------------------------------------------
# Backward: the paper's gradients and the exact ones
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_paper_gradients_match_the_surrogate_losses(rng, geometry):
    x, weight, grad_output, kwargs = _case(rng, **geometry)
    padding = kwargs["padding"]
    expected = paper_gradients_by_surrogate(x, weight, grad_output, **kwargs)
    for name, (grad_x, grad_weight) in run_both(
        "adder2d_backward", x, weight, grad_output, gradient="paper", **kwargs
    ).items():
        np.testing.assert_allclose(
            grad_x,
            expected[0],
            rtol=RTOL,
            atol=ATOL,
            err_msg=f"{name} x, padding {padding}",
        )
        np.testing.assert_allclose(
            grad_weight, expected[1], rtol=RTOL, atol=ATOL, err_msg=f"{name} weight"
        )


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_exact_gradients_match_autograd_of_the_broadcast_form(rng, geometry):
    x, weight, grad_output, kwargs = _case(rng, **geometry)
    expected = exact_gradients_by_autograd(x, weight, grad_output, **kwargs)
    for name, (grad_x, grad_weight) in run_both(
        "adder2d_backward", x, weight, grad_output, gradient="exact", **kwargs
    ).items():
        np.testing.assert_allclose(
            grad_x, expected[0], rtol=RTOL, atol=ATOL, err_msg=f"{name} x"
        )
        np.testing.assert_allclose(
            grad_weight, expected[1], rtol=RTOL, atol=ATOL, err_msg=f"{name} weight"
        )


def test_paper_gradients_by_hand():
    """One window, one filter, G = 2: dF = 2 (X - F); dX = 2 HT(F - X), clipped where |F - X| > 1."""
    x = np.array([[[[1.0, -2.0, 0.25]]]])
    weight = np.array([[[[0.5, 1.0, 0.0]]]])
    grad_output = np.array([[[[2.0]]]])
    for name, (grad_x, grad_weight) in run_both(
        "adder2d_backward", x, weight, grad_output, gradient="paper"
    ).items():
        np.testing.assert_allclose(grad_weight, [[[[1.0, -6.0, 0.5]]]], err_msg=name)
        np.testing.assert_allclose(grad_x, [[[[-1.0, 2.0, -0.5]]]], err_msg=name)
    for name, (grad_x, grad_weight) in run_both(
        "adder2d_backward", x, weight, grad_output, gradient="exact"
    ).items():
        np.testing.assert_allclose(grad_weight, [[[[2.0, -2.0, 2.0]]]], err_msg=name)
        np.testing.assert_allclose(grad_x, [[[[-2.0, 2.0, -2.0]]]], err_msg=name)


def test_paper_and_exact_gradients_differ_where_the_paper_says():
    """With |F - X| <= 1 everywhere, HT is the identity: the paper's input gradient is G (F - X), not G sign(F - X)."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-0.4, 0.4, (1, 2, 4, 4))
    weight = rng.uniform(-0.4, 0.4, (3, 2, 3, 3))
    grad_output = rng.standard_normal((1, 3, 2, 2))
    paper = reference.adder2d_backward(x, weight, grad_output, gradient="paper")
    exact = reference.adder2d_backward(x, weight, grad_output, gradient="exact")
    assert not np.allclose(paper[0], exact[0]) and not np.allclose(paper[1], exact[1])
    assert (
        np.abs(paper[0]).max() < np.abs(exact[0]).max()
    )  # differences below 1 shrink the paper's


def test_exact_gradient_passes_gradcheck(rng):
    x = torch.from_numpy(rng.standard_normal((2, 4, 5, 6))).requires_grad_()
    weight = torch.from_numpy(rng.standard_normal((6, 2, 3, 2))).requires_grad_()
    bias = torch.from_numpy(rng.standard_normal(6)).requires_grad_()

    def op(x, weight, bias):
        return functional.adder2d(
            x,
            weight,
            bias,
            stride=(1, 2),
            padding=1,
            dilation=(2, 1),
            groups=2,
            gradient="exact",
        )

    assert torch.autograd.gradcheck(op, (x, weight, bias), eps=1e-6, atol=1e-5)


def test_paper_gradient_fails_gradcheck_on_purpose(rng):
    """The paper's gradient is not the derivative of the forward pass: gradcheck must see that."""
    x = torch.from_numpy(rng.standard_normal((1, 2, 4, 4))).requires_grad_()
    weight = torch.from_numpy(rng.standard_normal((2, 2, 3, 3))).requires_grad_()
    assert not torch.autograd.gradcheck(
        lambda x, w: functional.adder2d(x, w, gradient="paper"),
        (x, weight),
        raise_exception=False,
    )


def test_bias_gradient_is_the_sum_of_the_output_gradient(rng):
    x, weight, grad_output, kwargs = _case(rng)
    bias = torch.zeros(weight.shape[0], dtype=torch.float64, requires_grad=True)
    y = functional.adder2d(
        torch.from_numpy(x), torch.from_numpy(weight), bias, **kwargs
    )
    y.backward(torch.from_numpy(grad_output))
    np.testing.assert_allclose(bias.grad.numpy(), grad_output.sum((0, 2, 3)), rtol=RTOL)


def test_only_the_needed_gradients_are_computed(rng):
    x, weight, grad_output, kwargs = _case(rng)
    xt, wt = torch.from_numpy(x), torch.from_numpy(weight)
    expected = reference.adder2d_backward(x, weight, grad_output, **kwargs)
    for needs_x, needs_w in ((True, False), (False, True)):
        leaf_x, leaf_w = (
            xt.clone().requires_grad_(needs_x),
            wt.clone().requires_grad_(needs_w),
        )
        functional.adder2d(leaf_x, leaf_w, **kwargs).backward(
            torch.from_numpy(grad_output)
        )
        assert (leaf_x.grad is not None) == needs_x and (
            leaf_w.grad is not None
        ) == needs_w
        if needs_x:
            np.testing.assert_allclose(
                leaf_x.grad.numpy(), expected[0], rtol=RTOL, atol=ATOL
            )
        else:
            np.testing.assert_allclose(
                leaf_w.grad.numpy(), expected[1], rtol=RTOL, atol=ATOL
            )


# ---------------------------------------------------------------------------
# Chunks, slices, layouts and dtypes of the PyTorch version
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("gradient", ["paper", "exact"])
def test_batch_chunks_and_position_slices_give_the_same_result(
    rng, monkeypatch, gradient
):
    x, weight, grad_output, kwargs = _case(rng, n=5, c=4, o=4, groups=2)
    expected_y = loop_adder2d(x, weight, None, **kwargs)
    expected_grads = reference.adder2d_backward(
        x, weight, grad_output, gradient=gradient, **kwargs
    )
    per_sample = 4 * 9 * 7 * 8
    monkeypatch.setattr(
        functional_adder, "MAX_COLUMN_ELEMENTS", 2 * per_sample
    )  # chunks of 2, 2, 1 samples
    monkeypatch.setattr(
        functional_adder, "PAIRWISE_ELEMENTS", 3 * 2 * 2 * 18
    )  # 3 positions per slice
    calls = {"cdist": 0}
    original_cdist = torch.cdist

    def counting_cdist(*args, **kw):
        calls["cdist"] += 1
        return original_cdist(*args, **kw)

    monkeypatch.setattr(torch, "cdist", counting_cdist)
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(weight).requires_grad_()
    y = functional.adder2d(xt, wt, gradient=gradient, **kwargs)
    assert calls["cdist"] == 3
    np.testing.assert_allclose(y.detach().numpy(), expected_y, rtol=RTOL, atol=ATOL)
    y.backward(torch.from_numpy(grad_output))
    np.testing.assert_allclose(xt.grad.numpy(), expected_grads[0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(wt.grad.numpy(), expected_grads[1], rtol=RTOL, atol=ATOL)


def test_non_contiguous_inputs(rng):
    x, weight, grad_output, kwargs = _case(rng)
    x_nc = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 1, 3, 2))).transpose(
        2, 3
    )
    w_nc = torch.from_numpy(
        np.ascontiguousarray(weight.transpose(1, 0, 2, 3))
    ).transpose(0, 1)
    g_nc = torch.from_numpy(
        np.ascontiguousarray(grad_output.transpose(1, 0, 2, 3))
    ).transpose(0, 1)
    assert not (x_nc.is_contiguous() or w_nc.is_contiguous() or g_nc.is_contiguous())
    y = functional.adder2d(x_nc, w_nc, **kwargs)
    np.testing.assert_allclose(
        y.numpy(), loop_adder2d(x, weight, None, **kwargs), rtol=RTOL, atol=ATOL
    )
    grads = functional.adder2d_backward(x_nc, w_nc, g_nc, **kwargs)
    expected = paper_gradients_by_surrogate(x, weight, grad_output, **kwargs)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=RTOL, atol=ATOL)


def test_expanded_output_gradient(rng):
    """``y.sum().backward()`` hands the backward an expanded (stride-0) gradient of ones."""
    x, weight, _, kwargs = _case(rng)
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(weight).requires_grad_()
    functional.adder2d(xt, wt, **kwargs).sum().backward()
    ones = np.ones(
        (x.shape[0], weight.shape[0], *out_size(x.shape, weight.shape, 1, 1, 1))
    )
    expected = paper_gradients_by_surrogate(x, weight, ones, **kwargs)
    np.testing.assert_allclose(xt.grad.numpy(), expected[0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(wt.grad.numpy(), expected[1], rtol=RTOL, atol=ATOL)


def test_empty_batch():
    x = np.zeros((0, 4, 5, 5))
    weight = np.ones((3, 4, 3, 3))
    for name, y in run_both("adder2d", x, weight, padding=1).items():
        assert y.shape == (0, 3, 5, 5), name
    for name, (grad_x, grad_weight) in run_both(
        "adder2d_backward",
        x,
        weight,
        np.zeros((0, 3, 5, 5)),
        gradient="paper",
        padding=1,
    ).items():
        assert grad_x.shape == (0, 4, 5, 5) and grad_weight.shape == (3, 4, 3, 3), name
        assert not grad_weight.any()


@pytest.mark.parametrize(
    "dtype, tolerance",
    [(torch.float32, 1e-5), (torch.float16, 2e-3), (torch.bfloat16, 1e-2)],
)
@pytest.mark.parametrize("gradient", ["paper", "exact"])
def test_lower_precision_keeps_its_dtype_and_stays_close(
    rng, dtype, tolerance, gradient
):
    x, weight, grad_output, kwargs = _case(rng, scale=0.5)
    # round the inputs to the dtype first, so the only error left is the computation's
    x, weight, grad_output = (
        torch.from_numpy(a).to(dtype).double().numpy() for a in (x, weight, grad_output)
    )
    expected_y = loop_adder2d(x, weight, None, **kwargs)
    expected_grads = reference.adder2d_backward(
        x, weight, grad_output, gradient=gradient, **kwargs
    )
    xt = torch.from_numpy(x).to(dtype).requires_grad_()
    wt = torch.from_numpy(weight).to(dtype).requires_grad_()
    y = functional.adder2d(xt, wt, gradient=gradient, **kwargs)
    assert y.dtype == dtype
    scale = np.abs(expected_y).max()
    np.testing.assert_allclose(
        y.detach().double().numpy(), expected_y, rtol=0, atol=tolerance * scale
    )
    y.backward(torch.from_numpy(grad_output).to(dtype))
    assert xt.grad.dtype == dtype and wt.grad.dtype == dtype
    for got, want in zip((xt.grad, wt.grad), expected_grads):
        np.testing.assert_allclose(
            got.double().numpy(), want, rtol=0, atol=tolerance * np.abs(want).max()
        )


def test_the_reference_keeps_float32(rng):
    x, weight, grad_output, kwargs = _case(rng)
    x32, w32, g32 = (a.astype(np.float32) for a in (x, weight, grad_output))
    assert reference.adder2d(x32, w32, **kwargs).dtype == np.float32
    grad_x, grad_weight = reference.adder2d_backward(x32, w32, g32, **kwargs)
    assert grad_x.dtype == np.float32 and grad_weight.dtype == np.float32


def test_workspace_never_holds_the_difference_tensor(rng):
    """Forward and backward peak below a tenth of the ``C_out x C_in k^2 x N L`` tensor the authors' code builds."""
    x = torch.randn(2, 16, 16, 16, requires_grad=True)
    weight = torch.randn(512, 16, 3, 3, requires_grad=True)
    differences_bytes = (
        512 * 16 * 9 * 2 * 16 * 16 * 4
    )  # 151 MB; the windows are 0.3 MB, the output 1 MB

    def step():
        functional.adder2d(x, weight, padding=1).sum().backward()

    assert bench.peak_memory(step, torch.device("cpu")) < differences_bytes / 10
    # the oracle of this measurement: the authors' formulation does hold it
    assert (
        bench.peak_memory(
            lambda: bench.broadcast_adder2d(x.detach(), weight.detach()),
            torch.device("cpu"),
        )
        >= differences_bytes
    )


# ---------------------------------------------------------------------------
# The adaptive learning rate
# ---------------------------------------------------------------------------


def test_adaptive_scale_closed_form(rng):
    grad = rng.standard_normal((4, 3, 3, 3))
    expected = (
        0.2
        * math.sqrt(grad.size)
        / math.sqrt(sum(v * v for v in grad.ravel().tolist()))
    )
    assert reference.adder_adaptive_scale(grad) == pytest.approx(expected, rel=1e-12)
    got = functional.adder_adaptive_scale(torch.from_numpy(grad))
    assert got.dim() == 0 and got.dtype == torch.float64
    assert got.item() == pytest.approx(expected, rel=1e-12)
    # a gradient of k equal entries c has norm sqrt(k) |c|: alpha = eta / |c|, whatever k
    assert reference.adder_adaptive_scale(
        np.full((5, 7), -0.5), eta=0.1
    ) == pytest.approx(0.2)
    # a zero gradient: the norm is clamped at 1e-12, as in the authors' code
    assert functional.adder_adaptive_scale(torch.zeros(4)).item() == pytest.approx(
        0.2 * 2 / 1e-12
    )


def test_adaptive_scale_half_precision():
    grad = torch.full((64,), 0.01, dtype=torch.float16)
    alpha = functional.adder_adaptive_scale(grad)
    assert alpha.dtype == torch.float16
    assert alpha.item() == pytest.approx(
        0.2 / 0.01, rel=1e-2
    )  # the norm of 64 small halves is not lost


def test_with_adaptive_gradient_scales_only_the_gradient(rng):
    weight = torch.from_numpy(rng.standard_normal((3, 2, 3, 3))).requires_grad_()
    x = torch.from_numpy(rng.standard_normal((2, 2, 5, 5)))
    scaled = functional.with_adaptive_gradient(weight, eta=0.3)
    assert torch.equal(scaled, weight)
    functional.adder2d(x, scaled).sum().backward()
    scaled_grad = weight.grad.clone()
    weight.grad = None
    functional.adder2d(x, weight).sum().backward()
    plain = weight.grad.numpy()
    expected = plain * 0.3 * math.sqrt(plain.size) / np.sqrt((plain**2).sum())
    np.testing.assert_allclose(scaled_grad.numpy(), expected, rtol=1e-12)
    assert np.linalg.norm(scaled_grad.numpy()) == pytest.approx(
        0.3 * math.sqrt(plain.size)
    )


# ---------------------------------------------------------------------------
# Bad calls: both versions refuse them with the same message
# ---------------------------------------------------------------------------


def _f32(*shape) -> np.ndarray:
    return np.zeros(shape, dtype=np.float32)


def _base() -> dict:
    return dict(
        x=_f32(2, 4, 5, 5),
        weight=_f32(6, 2, 3, 3),
        bias=_f32(6),
        stride=1,
        padding=0,
        dilation=1,
        groups=2,
    )


BAD_CALLS = [
    (
        "x integer",
        dict(x=np.zeros((2, 4, 5, 5), dtype=np.int64)),
        TypeError,
        r"^x must have a floating dtype, got int64$",
    ),
    (
        "weight other dtype",
        dict(weight=np.zeros((6, 2, 3, 3))),
        TypeError,
        r"^weight must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "bias wrong length",
        dict(bias=_f32(3)),
        ValueError,
        r"^bias must have shape \(6,\), got shape \(3,\)$",
    ),
    (
        "x not 4-D",
        dict(x=_f32(4, 5, 5)),
        ValueError,
        r"^x must be 4-D with shape \(N, C_in, H, W\), got shape \(4, 5, 5\)$",
    ),
    (
        "weight not 4-D",
        dict(weight=_f32(6, 2, 9)),
        ValueError,
        r"^weight must be 4-D with shape \(C_out, C_in / groups, kh, kw\), got shape \(6, 2, 9\)$",
    ),
    (
        "groups do not divide",
        dict(groups=3),
        ValueError,
        r"^groups must divide the input channels: x has 4 channels, groups=3$",
    ),
    (
        "weight channels",
        dict(weight=_f32(6, 4, 3, 3)),
        ValueError,
        r"^weight.shape\[1\] must be C_in / groups = 4 / 2 = 2",
    ),
    (
        "kernel larger than the input",
        dict(weight=_f32(6, 2, 7, 3)),
        ValueError,
        r"^adder2d: x is too small: padded height 5 is less than the dilated kernel height 7$",
    ),
    ("stride 0", dict(stride=0), ValueError, r"^stride must be >= 1, got 0$"),
    (
        "dilation float",
        dict(dilation=1.5),
        TypeError,
        r"^dilation must be an int or a pair of ints, got 1\.5$",
    ),
    (
        "padding same with stride",
        dict(padding="same", stride=2),
        ValueError,
        r"^padding='same' needs stride=1, got stride=\(2, 2\)$",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(BAD_CALLS))
def test_bad_calls(overrides, exception, pattern):
    assert_both_refuse("adder2d", {**_base(), **overrides}, exception, pattern)


def _backward_base() -> dict:
    base = _base()
    del base["bias"]
    return {**base, "grad_output": _f32(2, 6, 3, 3), "gradient": "paper"}


BACKWARD_BAD_CALLS = [
    (
        "grad_output wrong shape",
        dict(grad_output=_f32(2, 6, 5, 5)),
        ValueError,
        r"^grad_output must have the output's shape \(2, 6, 3, 3\), got shape \(2, 6, 5, 5\)$",
    ),
    (
        "grad_output 3-D",
        dict(grad_output=_f32(6, 3, 3)),
        ValueError,
        r"^grad_output must be 4-D with shape \(N, C_out, H_out, W_out\), got shape \(6, 3, 3\)$",
    ),
    (
        "grad_output other dtype",
        dict(grad_output=np.zeros((2, 6, 3, 3))),
        TypeError,
        r"^grad_output must have the same dtype as x \(float32\), got float64$",
    ),
    (
        "gradient unknown",
        dict(gradient="sign"),
        ValueError,
        r"^gradient must be 'paper' or 'exact', got 'sign'$",
    ),
    (
        "gradient not a string",
        dict(gradient=True),
        ValueError,
        r"^gradient must be 'paper' or 'exact', got True$",
    ),
    (
        "x integer",
        dict(x=np.zeros((2, 4, 5, 5), dtype=np.int64)),
        TypeError,
        r"^x must have a floating dtype, got int64$",
    ),
]


@pytest.mark.parametrize("overrides, exception, pattern", bad_calls(BACKWARD_BAD_CALLS))
def test_backward_bad_calls(overrides, exception, pattern):
    assert_both_refuse(
        "adder2d_backward", {**_backward_base(), **overrides}, exception, pattern
    )


def test_bad_call_bases_are_valid():
    kwargs = _base()
    expected = loop_adder2d(
        kwargs["x"].astype(np.float64),
        kwargs["weight"].astype(np.float64),
        kwargs["bias"],
        groups=2,
    )
    for y in (
        reference.adder2d(**kwargs),
        functional.adder2d(**to_torch(kwargs)).numpy(),
    ):
        np.testing.assert_allclose(y, expected)
    for grads in (
        reference.adder2d_backward(**_backward_base()),
        functional.adder2d_backward(**to_torch(_backward_base())),
    ):
        assert [tuple(g.shape) for g in grads] == [(2, 4, 5, 5), (6, 2, 3, 3)]


def test_functional_gradient_option_is_checked():
    with pytest.raises(
        ValueError, match=r"^gradient must be 'paper' or 'exact', got 'hardtanh'$"
    ):
        functional.adder2d(
            torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 3, 3), gradient="hardtanh"
        )


@pytest.mark.parametrize(
    "eta, exception, pattern",
    [
        (0, ValueError, r"^eta must be a positive finite number, got 0$"),
        (-0.2, ValueError, r"^eta must be a positive finite number, got -0\.2$"),
        (float("inf"), ValueError, r"^eta must be a positive finite number, got inf$"),
        ("0.2", TypeError, r"^eta must be a number, got str$"),
        (True, TypeError, r"^eta must be a number, got bool$"),
    ],
)
def test_bad_eta(eta, exception, pattern):
    grad = np.ones(3)
    for call, value in (
        (reference.adder_adaptive_scale, grad),
        (functional.adder_adaptive_scale, torch.ones(3)),
        (functional.with_adaptive_gradient, torch.ones(3)),
    ):
        with pytest.raises(exception, match=pattern):
            call(value, eta)


@pytest.mark.parametrize(
    "call, value, pattern",
    [
        (
            reference.adder_adaptive_scale,
            [1.0],
            r"^grad_weight must be a numpy.ndarray, got list$",
        ),
        (
            reference.adder_adaptive_scale,
            np.ones(3, dtype=np.int64),
            r"^grad_weight must have a floating dtype, got int64$",
        ),
        (
            functional.adder_adaptive_scale,
            np.ones(3),
            r"^grad_weight must be a torch.Tensor, got numpy.ndarray$",
        ),
        (
            functional.adder_adaptive_scale,
            torch.ones(3, dtype=torch.int32),
            r"^grad_weight must have a floating dtype, got int32$",
        ),
        (
            functional.with_adaptive_gradient,
            torch.ones(3, dtype=torch.int64),
            r"^weight must have a floating dtype, got int64$",
        ),
    ],
)
def test_adaptive_scale_bad_arrays(call, value, pattern):
    with pytest.raises(TypeError, match=pattern):
        call(value)


# ---------------------------------------------------------------------------
# CUDA
# ---------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.parametrize("gradient", ["paper", "exact"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cuda_matches_the_reference(gradient, dtype):
    rng = np.random.default_rng(0)
    x, weight, grad_output, kwargs = _case(
        rng, n=3, c=8, o=8, h=12, w=10, groups=2, stride=(2, 1), dilation=(1, 2)
    )
    expected_y = loop_adder2d(x, weight, None, **kwargs)
    expected = reference.adder2d_backward(
        x, weight, grad_output, gradient=gradient, **kwargs
    )
    device = torch.device("cuda")
    xt = torch.from_numpy(x).to(device, dtype).requires_grad_()
    wt = torch.from_numpy(weight).to(device, dtype).requires_grad_()
    y = functional.adder2d(xt, wt, gradient=gradient, **kwargs)
    tolerance = 1e-10 if dtype == torch.float64 else 1e-4
    np.testing.assert_allclose(
        y.detach().cpu().double().numpy(),
        expected_y,
        rtol=tolerance,
        atol=tolerance * 100,
    )
    y.backward(torch.from_numpy(grad_output).to(device, dtype))
    for got, want in zip((xt.grad, wt.grad), expected):
        np.testing.assert_allclose(
            got.cpu().double().numpy(), want, rtol=tolerance, atol=tolerance * 100
        )


@pytest.mark.cuda
def test_cuda_half_precision_and_adaptive_gradient():
    device = torch.device("cuda")
    x = torch.randn(2, 4, 6, 6, device=device, dtype=torch.float16)
    weight = torch.randn(
        4, 4, 3, 3, device=device, dtype=torch.float16, requires_grad=True
    )
    y = functional.adder2d(x, functional.with_adaptive_gradient(weight), padding=1)
    assert y.dtype == torch.float16 and y.device.type == "cuda"
    y.float().sum().backward()
    assert torch.linalg.vector_norm(weight.grad.float()).item() == pytest.approx(
        0.2 * math.sqrt(weight.numel()), rel=1e-2
    )
