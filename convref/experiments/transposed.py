"""Chapter "Transposed convolution": checkerboard artifacts of learned 2x upsampling.

:func:`checkerboard_energy` measures the share of an image's energy at the Nyquist
frequencies; the :data:`UPSAMPLERS` (two transposed convolutions and a resize-convolution) are
run by :func:`upsample2x`, with constant kernels (:func:`constant_upsampling_kernel`), random
ones (:func:`checkerboard_experiment`) or learned ones (:func:`train_upsampler`), on a smooth
picture (:func:`smooth_image`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import torch

from .. import data, reference
from .._checks import check_array, positive_int
from ..functional import conv_transpose2d, resize_conv2d
from .training import check_seed, optimise, seeded_generator

__all__ = [
    "checkerboard_energy",
    "UPSAMPLERS",
    "upsample2x",
    "constant_upsampling_kernel",
    "checkerboard_experiment",
    "smooth_image",
    "train_upsampler",
]


def checkerboard_energy(image: np.ndarray) -> float:
    r"""Share of an image's spectral energy that sits at the Nyquist frequencies: the checkerboard measure.

    With :math:`Y` the 2-D discrete Fourier transform of the image minus its mean,

    .. math::

        E = \frac{|Y(\pi, 0)|^2 + |Y(0, \pi)|^2 + |Y(\pi, \pi)|^2}{\sum_{\omega} |Y(\omega)|^2},
        \qquad Y(\pi, 0) = \sum_{i, j} (-1)^i \, (y_{ij} - \bar y), \ \dots

    The three frequencies are the patterns that alternate every pixel: horizontal stripes,
    vertical stripes and the checkerboard :math:`(-1)^{i+j}`, which is exactly what a stride-2
    transposed convolution with unevenly overlapping (or unequal) kernel taps adds to a
    smooth image (Odena, Dumoulin & Olah, Distill 2016). :math:`E` lies in :math:`[0, 1]`: 1 for
    a pure :math:`(-1)^{i+j}` pattern, close to 0 for a smooth image; the mean is removed
    first so that a bright image does not look artifact-free merely by its large average.
    A constant image has no energy left and gives 0. The measure is invariant to scaling
    the image and to adding a constant.

    Parameters
    ----------
    image : numpy.ndarray
        Shape ``(H, W)``, floating, with ``H`` and ``W`` even (the Nyquist frequencies exist only then).

    Returns
    -------
    float
        :math:`E`.
    """
    check_array("image", image, np.ndarray, 2, "(H, W)")
    height, width = image.shape
    if height % 2 or width % 2 or height < 2 or width < 2:
        raise ValueError(
            f"image must have an even height and width (>= 2), got shape {image.shape}"
        )
    image = image.astype(np.float64)
    centred = image - image.mean()
    # Nothing but the mean (up to rounding in the subtraction): no pattern at all.
    if np.sum(centred**2) <= 1e-24 * np.sum(image**2):
        return 0.0
    power = np.abs(np.fft.fft2(centred)) ** 2
    total = power.sum()
    nyquist = (
        power[height // 2, 0] + power[0, width // 2] + power[height // 2, width // 2]
    )
    return float(nyquist / total)


#: The three learned 2x upsamplers that the transposed-convolution chapter compares,
#: with their kernel sizes.
UPSAMPLERS = {
    # conv_transpose2d, stride 2, padding 1, output_padding 1: k mod s = 1, uneven
    # overlap
    "transposed 3x3": 3,
    # conv_transpose2d, stride 2, padding 1: k mod s = 0, even overlap (FCN, DCGAN)
    "transposed 4x4": 4,
    # nearest-neighbour x2, then a 3x3 conv2d with "same" padding (Odena et al.)
    "resize-conv 3x3": 3,
}


def _upsampler_kernel_size(method: str) -> int:
    if method not in UPSAMPLERS:
        raise ValueError(f"method must be one of {list(UPSAMPLERS)}, got {method!r}")
    return UPSAMPLERS[method]


def upsample2x(x: torch.Tensor, method: str, weight: torch.Tensor) -> torch.Tensor:
    """Upsample ``x`` by 2 in each direction with one of the :data:`UPSAMPLERS`.

    All three give an output of exactly ``(2H, 2W)``:

    - ``"transposed 3x3"``: :func:`convref.functional.conv_transpose2d` with stride 2,
      padding 1 and output_padding 1; ``weight`` has shape ``(C_in, C_out, 3, 3)``;
    - ``"transposed 4x4"``: the same with a 4x4 kernel, padding 1 and no output_padding;
      ``weight`` ``(C_in, C_out, 4, 4)``;
    - ``"resize-conv 3x3"``: :func:`convref.functional.resize_conv2d`, nearest-neighbour
      upsampling then a 3x3 convolution with ``"same"`` padding; ``weight`` ``(C_out, C_in, 3, 3)``.

    Parameters
    ----------
    x : torch.Tensor
        Shape ``(N, C_in, H, W)``.
    method : str
        A key of :data:`UPSAMPLERS`.
    weight : torch.Tensor
        The kernel, in the layout of the operator named above: ``(C_in, C_out, k, k)`` for the
        transposed convolutions, ``(C_out, C_in, 3, 3)`` for the resize-convolution.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C_out, 2H, 2W)``.
    """
    k = _upsampler_kernel_size(method)
    if (
        not isinstance(weight, torch.Tensor)
        or weight.dim() != 4
        or tuple(weight.shape[2:]) != (k, k)
    ):
        shape = (
            tuple(weight.shape)
            if isinstance(weight, torch.Tensor)
            else type(weight).__name__
        )
        raise ValueError(
            f"weight must be a 4-D tensor with a {k}x{k} kernel for method {method!r}, got {shape}"
        )
    if method == "transposed 3x3":
        return conv_transpose2d(x, weight, stride=2, padding=1, output_padding=1)
    if method == "transposed 4x4":
        return conv_transpose2d(x, weight, stride=2, padding=1)
    return resize_conv2d(x, weight, scale_factor=2, padding="same")


def constant_upsampling_kernel(
    method: str, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """The one-channel kernel of ``method`` with all taps equal, scaled to keep an image's brightness.

    A stride-2 transposed convolution puts ``k * k`` taps of every input pixel on 4 output
    pixels, so each output receives ``k**2 / 4`` taps on average: taps of ``4 / k**2`` keep the
    mean. A resize-convolution sums ``k * k`` taps per output: ``1 / k**2``.

    Parameters
    ----------
    method : str
        A key of :data:`UPSAMPLERS`; it fixes ``k``.
    dtype : torch.dtype
        Of the result.

    Returns
    -------
    torch.Tensor
        Shape ``(1, 1, k, k)``.
    """
    k = _upsampler_kernel_size(method)
    value = 1 / k**2 if method.startswith("resize") else 4 / k**2
    return torch.full((1, 1, k, k), value, dtype=dtype)


def checkerboard_experiment(
    image: np.ndarray, trials: int = 32, seed: int = 0
) -> dict[str, dict]:
    """Upsample a smooth image 2x with each of the :data:`UPSAMPLERS` and measure the checkerboard.

    Every method is run once with its :func:`constant_upsampling_kernel` and ``trials``
    times with a random kernel (i.i.d. standard normal taps, the shape of a fresh
    initialisation; the scale does not matter because :func:`checkerboard_energy` is
    scale-invariant). Each output, ``(2H, 2W)``, is scored with :func:`checkerboard_energy`.

    Parameters
    ----------
    image : numpy.ndarray
        Shape ``(H, W)``, floating: the low-resolution input.
    trials : int
        Random kernels per method.
    seed : int
        Seed of the random kernels (a private generator; the global one is untouched).

    Returns
    -------
    dict
        ``{method: {"constant": float, "random": numpy.ndarray of shape (trials,), "output": the
        (2H, 2W) output of the constant kernel}}``.
    """
    check_array("image", image, np.ndarray, 2, "(H, W)")
    trials = positive_int("trials", trials)
    generator = seeded_generator(seed)
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float64))[None, None]
    results = {}
    for method, k in UPSAMPLERS.items():
        constant = upsample2x(x, method, constant_upsampling_kernel(method))[
            0, 0
        ].numpy()
        random = [
            checkerboard_energy(
                upsample2x(
                    x,
                    method,
                    torch.randn(1, 1, k, k, generator=generator, dtype=torch.float64),
                )[0, 0].numpy()
            )
            for _ in range(trials)
        ]
        results[method] = {
            "constant": checkerboard_energy(constant),
            "random": np.array(random),
            "output": constant,
        }
    return results


def smooth_image(size: int = 32, sigma: float = 2.5, seed: int = 0) -> np.ndarray:
    """A smooth picture: :func:`convref.data.test_image` at twice the size, Gaussian-blurred, every other pixel.

    The blur (standard deviation ``sigma`` pixels of the large image, "same" padding with
    the border replicated) removes the sharp edges and the noise, so the result has almost
    no energy near the Nyquist frequencies and any checkerboard an upsampler adds stands out.

    Parameters
    ----------
    size : int
        Side of the result.
    sigma : float
        Standard deviation of the blur, in pixels of the ``2 size`` image.
    seed : int
        Seed of the test image's noise.

    Returns
    -------
    numpy.ndarray
        Shape ``(size, size)``, float64.
    """
    size = positive_int("size", size)
    if not isinstance(sigma, (int, float)) or isinstance(sigma, bool) or sigma <= 0:
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel = np.outer(taps, taps) / taps.sum() ** 2
    large = np.pad(data.test_image(max(16, 2 * size), seed=seed), radius, mode="edge")
    return reference.conv2d(large[None, None], kernel[None, None])[0, 0, ::2, ::2][
        :size, :size
    ]


def train_upsampler(
    method: str,
    low: torch.Tensor,
    high: torch.Tensor,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 0.02,
    seed: int = 0,
) -> dict:
    """Learn the kernel of a one-channel 2x upsampler (one of the :data:`UPSAMPLERS`) from examples.

    The kernel starts from PyTorch's default initialisation of a one-channel layer,
    uniform in ``(-1/k, 1/k)``, and is fitted by Adam to minimise the mean squared error
    between ``upsample2x(low)`` and ``high`` over random mini-batches. No bias: it would only
    shift the mean. Everything random follows ``seed`` (a private generator). The loop is
    :func:`convref.experiments.optimise`, the one :func:`convref.experiments.train_classifier` runs.

    Parameters
    ----------
    method : str
        A key of :data:`UPSAMPLERS`.
    low, high : torch.Tensor
        Training pairs, shapes ``(N, 1, H, W)`` and ``(N, 1, 2H, 2W)``.
    steps, batch_size : int
        Optimisation steps and examples per step.
    lr : float
        Adam's learning rate.
    seed : int
        Seed of the initial kernel and of the mini-batches.

    Returns
    -------
    dict
        ``initial`` and ``weight`` (the kernel before and after, ``(1, 1, k, k)``), ``loss``
        (the mini-batch loss of every step) and ``seconds`` (wall time).
    """
    k = _upsampler_kernel_size(method)
    steps = positive_int("steps", steps)
    batch_size = positive_int("batch_size", batch_size)
    seed = check_seed(seed)
    if (
        low.dim() != 4
        or low.shape[1] != 1
        or tuple(high.shape) != (low.shape[0], 1, 2 * low.shape[2], 2 * low.shape[3])
    ):
        raise ValueError(
            f"low must be (N, 1, H, W) and high (N, 1, 2H, 2W), got {tuple(low.shape)} and {tuple(high.shape)}"
        )
    generator = seeded_generator(seed)
    initial = (torch.rand(1, 1, k, k, generator=generator, dtype=low.dtype) * 2 - 1) / k
    weight = initial.clone().requires_grad_(True)

    def random_batches() -> Iterator[torch.Tensor]:
        for _ in range(
            steps
        ):  # with replacement, drawn step by step after the initial kernel
            yield torch.randint(0, len(low), (batch_size,), generator=generator)

    def squared_error(batch: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(
            upsample2x(low[batch], method, weight), high[batch]
        )

    start = time.perf_counter()
    losses = optimise(squared_error, [weight], random_batches(), "adam", lr)
    return {
        "initial": initial,
        "weight": weight.detach(),
        "loss": losses,
        "seconds": time.perf_counter() - start,
    }
