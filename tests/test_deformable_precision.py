"""Deformable convolution away from float32 on small images: large images, half precision,
non-finite values.

The PyTorch version reads in pixel coordinates, as torchvision's kernel does, so an
identity read is exact at any size; it samples and accumulates half precision in float32;
and a point outside ``(-1, H) x (-1, W)`` or with a non-finite coordinate reads 0, in the
NumPy reference too. Each test compares with an independent result: the input itself, a
slice of it, or the float64 reference on the same (rounded) values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from convref import functional, reference

#: Machine epsilon of each half-precision format (the spacing of numbers in [1, 2)).
EPS = {torch.float16: 2.0**-10, torch.bfloat16: 2.0**-7}


def _one_tap(channels: int = 1, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A 1x1 kernel of the identity: each output channel copies its input channel."""
    return torch.eye(channels, dtype=dtype).view(channels, channels, 1, 1)


@pytest.mark.parametrize("size", [200, 1500])
def test_identity_read_is_exact_on_large_images_in_float32(size):
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, size, size, generator=generator)
    offset = torch.zeros(1, 2, size, size)
    out = functional.deform_conv2d(x, offset, _one_tap())
    torch.testing.assert_close(out, x, rtol=0, atol=1e-6)


def test_integer_offsets_move_pixels_exactly_on_a_large_image():
    generator = torch.Generator().manual_seed(1)
    size = 1500
    x = torch.rand(1, 1, size, size, generator=generator)
    offset = torch.zeros(1, 2, size, size)
    offset[:, 0] = 3.0  # read 3 rows down
    offset[:, 1] = -2.0  # and 2 columns left
    out = functional.deform_conv2d(x, offset, _one_tap())
    torch.testing.assert_close(out[0, 0, : size - 3, 2:], x[0, 0, 3:, : size - 2])
    assert torch.all(out[0, 0, size - 3 :] == 0) and torch.all(out[0, 0, :, :2] == 0)


def test_half_pixel_offsets_average_neighbours_on_a_large_image():
    size = 1500
    x = torch.arange(size, dtype=torch.float32).repeat(size, 1)[
        None, None
    ]  # x = column
    offset = torch.zeros(1, 2, size, size)
    offset[:, 1] = 0.5
    out = functional.deform_conv2d(x, offset, _one_tap())
    expected = torch.arange(size, dtype=torch.float32) + 0.5
    expected[-1] = (
        size - 1
    ) / 2  # the last read is half a pixel and half the zero border
    torch.testing.assert_close(out[0, 0, 0], expected, rtol=0, atol=1e-6)


def _random_case(size: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 4, size, size, generator=generator)
    weight = torch.randn(3, 4, 3, 3, generator=generator) / 6
    bias = torch.randn(3, generator=generator)
    offset = 4 * torch.randn(2, 2 * 9, size, size, generator=generator)
    mask = torch.rand(2, 9, size, size, generator=generator)
    return x, offset, weight, bias, mask


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_matches_the_reference_on_a_256_pixel_image(dtype):
    size = 256
    tensors = [t.to(dtype) for t in _random_case(size, seed=2)]
    out = functional.deform_conv2d(*tensors[:4], padding=1, mask=tensors[4])
    assert out.dtype == dtype and out.shape == (2, 3, size, size)
    x, offset, weight, bias, mask = (t.double().numpy() for t in tensors)
    expected = reference.deform_conv2d(x, offset, weight, bias, padding=1, mask=mask)
    assert np.isfinite(out.double().numpy()).all()
    # float32 sampling and sums, then one rounding to the output format
    scale = float(np.abs(expected).max())
    torch.testing.assert_close(
        out.double(),
        torch.from_numpy(expected),
        rtol=EPS[dtype],
        atol=EPS[dtype] * scale,
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_gradients_follow_float32(dtype):
    size = 32
    base = [t.to(dtype).float() for t in _random_case(size, seed=3)]
    grads = {}
    for run_dtype in (torch.float32, dtype):
        leaves = [t.detach().to(run_dtype).requires_grad_() for t in base]
        out = functional.deform_conv2d(*leaves[:4], padding=1, mask=leaves[4])
        assert out.dtype == run_dtype
        out.float().square().sum().backward()
        grads[run_dtype] = [leaf.grad for leaf in leaves]
    for name, low, high in zip(
        ("x", "offset", "weight", "bias", "mask"), grads[dtype], grads[torch.float32]
    ):
        assert low.dtype == dtype, name
        assert torch.isfinite(low.float()).all(), name
        # the incoming gradient 2 * out is itself rounded to the half format
        relative = (low.float() - high).norm() / high.norm()
        assert relative < 8 * EPS[dtype], (name, float(relative))


def _border_inf_case():
    x = np.zeros((1, 1, 1, 3))
    x[0, 0, 0, 0] = np.inf
    return x


def test_an_infinite_pixel_does_not_leak_into_reads_that_miss_it():
    x = _border_inf_case()
    # every point half a row above the image: outside, never reads the inf pixel
    shifted = reference.shift2d(x, np.array([[1.5, 0.0]]))
    assert np.array_equal(shifted, np.zeros_like(x))
    torch_shifted = functional.shift2d(
        torch.from_numpy(x), torch.tensor([[1.5, 0.0]], dtype=torch.float64)
    )
    assert torch.equal(torch_shifted, torch.zeros(1, 1, 1, 3, dtype=torch.float64))
    offset = np.zeros((1, 2, 1, 3))
    offset[:, 0] = -1.5
    weight = np.ones((1, 1, 1, 1))
    expected = np.zeros((1, 1, 1, 3))
    assert np.array_equal(reference.deform_conv2d(x, offset, weight), expected)
    out = functional.deform_conv2d(
        torch.from_numpy(x), torch.from_numpy(offset), torch.from_numpy(weight)
    )
    assert torch.equal(out, torch.from_numpy(expected))


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_non_finite_offsets_read_zero_with_zero_gradients(bad):
    generator = torch.Generator().manual_seed(4)
    x = torch.rand(1, 2, 5, 5, generator=generator, dtype=torch.float64)
    weight = torch.rand(1, 2, 1, 1, generator=generator, dtype=torch.float64)
    offset = torch.zeros(1, 2, 5, 5, dtype=torch.float64)
    offset[0, 0, 2, 2] = bad  # one point's dy
    offset[0, 1, 1, 3] = bad  # another point's dx
    expected = reference.deform_conv2d(x.numpy(), offset.numpy(), weight.numpy())
    assert expected[0, 0, 2, 2] == 0 and expected[0, 0, 1, 3] == 0
    healthy = np.ones((5, 5), bool)
    healthy[2, 2] = healthy[1, 3] = False
    plain = (weight[0, :, 0, 0, None, None] * x[0]).sum(0).numpy()
    np.testing.assert_allclose(expected[0, 0][healthy], plain[healthy], rtol=1e-12)
    x.requires_grad_()
    offset.requires_grad_()
    out = functional.deform_conv2d(x, offset, weight)
    torch.testing.assert_close(out.detach(), torch.from_numpy(expected))
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(offset.grad).all()
    assert offset.grad[0, :, 2, 2].abs().sum() == 0
    assert offset.grad[0, :, 1, 3].abs().sum() == 0


@pytest.mark.parametrize("where", [-1.0, 5.0])
def test_points_on_the_open_boundary_read_zero(where):
    """(-1, H) is open: a point at -1 or at H has all its weight on outside corners."""
    x = torch.rand(1, 1, 5, 5, dtype=torch.float64) + 1
    offset = torch.zeros(1, 2, 5, 5, dtype=torch.float64)
    offset[0, 0, 0, 0] = where  # pixel (0, 0) reads row `where`
    out = functional.deform_conv2d(x, offset, _one_tap(dtype=torch.float64))
    expected = reference.deform_conv2d(
        x.numpy(), offset.numpy(), _one_tap(dtype=torch.float64).numpy()
    )
    assert out[0, 0, 0, 0] == 0 and expected[0, 0, 0, 0] == 0
    torch.testing.assert_close(out, torch.from_numpy(expected))
