"""Chapter "Dilated convolution": the effective receptive field (Luo et al., NeurIPS 2016) and its radius.

:func:`effective_receptive_field` backpropagates a unit signal from the centre output pixel
and averages the input gradient's magnitude over random models and inputs;
:func:`erf_radius` summarises the map by the radius that holds a given share of it, to set
against the theoretical receptive field of :func:`convref.arith.receptive_field`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .._checks import check_array, positive_int
from .training import check_seed, seeded

__all__ = ["effective_receptive_field", "erf_radius"]


def effective_receptive_field(
    build_model: Callable[[], torch.nn.Module],
    size: int,
    in_channels: int = 1,
    trials: int = 8,
    seed: int = 0,
) -> np.ndarray:
    r"""Effective receptive field of a model at the centre of its output (Luo et al., NeurIPS 2016).

    Luo, Li, Urtasun & Zemel, "Understanding the Effective Receptive Field in Deep
    Convolutional Neural Networks": the gradient signal is set to 1 at the centre pixel of the
    output and 0 elsewhere, and backpropagated to the input,

    .. math::

        \text{ERF}(i, j) \propto \mathbb{E}\left[\,\sum_c
            \left| \frac{\partial \sum_o y_{o, h_c, w_c}}{\partial x_{c, i, j}} \right| \,\right]

    where :math:`(h_c, w_c) = (H_{out} // 2, W_{out} // 2)` and the expectation runs over
    ``trials`` fresh models (new random weights) and random Gaussian inputs. The absolute
    value is taken per trial, before averaging, so that signs cannot cancel across trials.
    Each model is cast to float64 and put in evaluation mode (BatchNorm uses its running
    statistics, Dropout is off). The map is normalised to sum to 1, a distribution over
    input pixels; it is zero outside the theoretical receptive field
    (:func:`convref.arith.receptive_field`).

    Trial ``t`` builds its model and draws its input inside
    :func:`convref.experiments.seeded` ``(seed + t)``, so the global random state is left as it was.

    Parameters
    ----------
    build_model : callable
        Takes no argument and returns a new ``torch.nn.Module`` mapping
        ``(1, in_channels, size, size)`` to ``(1, C_out, H_out, W_out)``.
    size : int
        Side of the square input.
    in_channels : int
        Channels of the input.
    trials : int
        Models (and inputs) averaged over.
    seed : int
        Seed of the first trial.

    Returns
    -------
    numpy.ndarray
        Shape ``(size, size)``, float64, non-negative, summing to 1.
    """
    if not callable(build_model):
        raise TypeError(f"build_model must be callable, got {build_model!r}")
    size = positive_int("size", size)
    in_channels = positive_int("in_channels", in_channels)
    trials = positive_int("trials", trials)
    seed = check_seed(seed)
    total = torch.zeros(size, size, dtype=torch.float64)
    for trial in range(trials):
        with seeded(seed + trial):  # the model's weights come from the global generator
            model = build_model()
            if not isinstance(model, torch.nn.Module):
                raise TypeError(
                    "build_model must return a torch.nn.Module, got "
                    f"{type(model).__name__}"
                )
            model = model.double().eval()
            x = torch.randn(
                1, in_channels, size, size, dtype=torch.float64, requires_grad=True
            )
        y = model(x)
        if not isinstance(y, torch.Tensor) or y.ndim != 4 or y.shape[0] != 1:
            shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(
                "build_model's model must return a (1, C_out, H_out, W_out) tensor, "
                f"got {shape}"
            )
        signal = torch.zeros_like(y)
        signal[0, :, y.shape[2] // 2, y.shape[3] // 2] = (
            1  # the centre pixel, every output channel
        )
        (grad,) = torch.autograd.grad(y, x, grad_outputs=signal)
        total += grad[0].abs().sum(0)
    mass = total.sum()
    if mass == 0:
        raise ValueError(
            "the centre output has zero gradient with respect to the input in every "
            "trial"
        )
    return (total / mass).numpy()


def erf_radius(erf: np.ndarray, mass: float = 0.95, metric: str = "chebyshev") -> float:
    """Smallest distance from the centre pixel within which ``erf`` holds ``mass`` of its total.

    A one-number summary of an effective receptive field (:func:`effective_receptive_field`)
    to set against the theoretical one. The centre is pixel ``(H // 2, W // 2)``, where
    :func:`effective_receptive_field` puts the output's centre for "same" or symmetric
    geometry. With the default ``"chebyshev"`` metric the region is a square of side
    ``2 * radius + 1``, directly comparable with a theoretical receptive field of size ``r``,
    whose radius is ``(r - 1) / 2`` (``mass=1`` gives the support's radius);
    ``"euclidean"`` uses discs instead.

    Parameters
    ----------
    erf : numpy.ndarray
        Non-negative map, shape ``(H, W)``, with a positive sum.
    mass : float
        Share of the total to enclose, in ``(0, 1]``.
    metric : {"chebyshev", "euclidean"}
        Distance between pixels: ``max(|di|, |dj|)`` or ``sqrt(di^2 + dj^2)``.

    Returns
    -------
    float
        The radius, in pixels (one of the pixel distances to the centre).
    """
    check_array("erf", erf, np.ndarray, 2, "(H, W)")
    if not isinstance(mass, (int, float)) or isinstance(mass, bool):
        raise TypeError(f"mass must be a number, got {mass!r}")
    if not 0 < mass <= 1:
        raise ValueError(f"mass must be in (0, 1], got {mass!r}")
    if metric not in ("chebyshev", "euclidean"):
        raise ValueError(f"metric must be 'chebyshev' or 'euclidean', got {metric!r}")
    if not np.all(np.isfinite(erf)) or np.any(erf < 0):
        raise ValueError("erf must be finite and non-negative")
    total = erf.sum()
    if total <= 0:
        raise ValueError("erf must have a positive sum")
    rows, cols = np.indices(erf.shape)
    di, dj = np.abs(rows - erf.shape[0] // 2), np.abs(cols - erf.shape[1] // 2)
    distance = (
        np.maximum(di, dj).astype(np.float64)
        if metric == "chebyshev"
        else np.hypot(di, dj)
    )
    order = np.argsort(distance, axis=None, kind="stable")
    distances, enclosed = distance.ravel()[order], np.cumsum(erf.ravel()[order])
    # Only the last pixel at each distance marks a complete region; a relative tolerance
    # keeps rounding in the cumulative sum from pushing an exact share one ring out.
    complete = np.append(distances[1:] != distances[:-1], True)
    reached = complete & (enclosed >= mass * total * (1 - 1e-12))
    return float(distances[np.argmax(reached)])
