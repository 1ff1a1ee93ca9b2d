"""Figures of the dynamic-convolution chapter: attention per kind of input, kernel mixtures, temperature, branch selection."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .deformable import plot_tap_spread
from .figure_style import COLUMN_WIDTH, TEXT_SIZES, _styled, _wrap


@_styled
def plot_attention_by_group(
    attention: Sequence[np.ndarray],
    groups: "dict[str, np.ndarray]",
    layer_names: Sequence[str] = (),
    title: str = "",
) -> Figure:
    """Mean attention of each dynamic layer for each kind of input, as heat maps (kinds x kernels).

    What makes a layer dynamic is how its attention *changes* from one input to another, and
    that change is often small next to the layer's fixed preference for some kernels. So the
    colour shows each group's mean attention minus the mean over all inputs (red: this kind
    of input gives the kernel more weight than the average input does), on a scale centred on
    zero, and the numbers in the cells are the mean attention itself. The panel title gives
    the standard deviation of the attention across all inputs, averaged over the kernels.

    Parameters
    ----------
    attention : sequence of numpy.ndarray
        One ``(N, K)`` array per layer (e.g. from :func:`convref.experiments.dynamic_attention`).
    groups : dict
        ``{row name: (N,) boolean mask}``: which inputs form each row (groups may overlap).
    layer_names : sequence of str
        Panel titles (``"layer 1"``, ... by default).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    attention = [np.asarray(a, dtype=np.float64) for a in attention]
    if not attention or any(a.ndim != 2 for a in attention):
        raise ValueError("attention must be a non-empty sequence of (N, K) arrays")
    masks = {name: np.asarray(mask, dtype=bool) for name, mask in groups.items()}
    for name, mask in masks.items():
        if mask.shape != (attention[0].shape[0],) or not mask.any():
            raise ValueError(
                f"group {name!r} must be a (N,) mask selecting at least one input, N = {attention[0].shape[0]}"
            )
    fig, axes = plt.subplots(
        1,
        len(attention),
        figsize=(
            min(
                0.75 * max(a.shape[1] for a in attention) * len(attention) + 2.2,
                COLUMN_WIDTH,
            ),
            0.42 * len(masks) + 1.6,
        ),
        squeeze=False,
    )
    for index, (ax, a) in enumerate(zip(axes[0], attention)):
        means = np.stack([a[mask].mean(0) for mask in masks.values()])
        deviation = means - a.mean(0)
        limit = float(np.abs(deviation).max()) or 1e-12
        shown = ax.imshow(
            deviation, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto"
        )
        for (i, j), value in np.ndenumerate(means):
            ax.text(
                j,
                i,
                f"{value:.3f}",
                ha="center",
                va="center",
                fontsize=TEXT_SIZES["small"],
            )
        ax.set_xticks(range(a.shape[1]), [f"$W_{k + 1}$" for k in range(a.shape[1])])
        ax.set_yticks(
            range(len(masks)), list(masks) if index == 0 else [""] * len(masks)
        )
        name = layer_names[index] if index < len(layer_names) else f"layer {index + 1}"
        ax.set_title(
            f"{name}\nstd across inputs {a.std(0).mean():.3f}",
            fontsize=TEXT_SIZES["label"],
        )
        bar = fig.colorbar(shown, ax=ax, fraction=0.05, pad=0.03)
        bar.ax.tick_params(labelsize=TEXT_SIZES["small"])
    if title:
        fig.suptitle(_wrap(title, fig.get_figwidth(), TEXT_SIZES["heading"]))
    fig.tight_layout()
    return fig


@_styled
def plot_kernel_mixture(
    kernels: np.ndarray,
    attention: "dict[str, np.ndarray]",
    images: "Optional[dict[str, np.ndarray]]" = None,
    title: str = "",
) -> Figure:
    r"""The ``K`` kernels of a dynamic layer and the kernel :math:`\sum_k a_k W_k` that each attention vector mixes from them.

    Top row: the kernels :math:`W_1 \dots W_K` on one colour scale. Then one row per attention
    vector: its input image (when given), the attention as bars (the dashed line is
    :math:`1/K`), the mixed kernel on the kernels' colour scale, and the mixed kernel minus the
    uniform mixture :math:`\frac{1}{K}\sum_k W_k` on a scale of its own: what this input changed.

    Parameters
    ----------
    kernels : numpy.ndarray
        ``(K, kh, kw)``: one 2-D slice (one output and one input channel) of each kernel.
    attention : dict
        ``{row name: (K,) weights}``.
    images : dict, optional
        ``{row name: (H, W) image}``, drawn at the start of the rows with the same names.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    kernels = np.asarray(kernels, dtype=np.float64)
    if kernels.ndim != 3:
        raise ValueError(f"kernels must have shape (K, kh, kw), got {kernels.shape}")
    count = kernels.shape[0]
    weights = {name: np.asarray(a, dtype=np.float64) for name, a in attention.items()}
    for name, a in weights.items():
        if a.shape != (count,):
            raise ValueError(
                f"attention {name!r} must have shape ({count},), got {a.shape}"
            )
    images = images or {}
    offset = 1 if images else 0
    ncols = max(count, 3 + offset)
    fig, axes = plt.subplots(
        1 + len(weights),
        ncols,
        figsize=(1.9 * ncols, 1.9 * (1 + len(weights))),
        squeeze=False,
    )
    for ax in axes.flat:
        ax.axis("off")
    limit = float(np.abs(kernels).max()) or 1.0
    for k in range(count):
        axes[0, k].imshow(kernels[k], cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[0, k].set_title(f"$W_{k + 1}$", fontsize=TEXT_SIZES["label"])
    uniform = kernels.mean(0)
    for row, (name, a) in enumerate(weights.items(), start=1):
        if name in images:
            axes[row, 0].imshow(np.asarray(images[name]), cmap="gray")
            axes[row, 0].set_title(name, fontsize=TEXT_SIZES["label"])
        bars = axes[row, offset]
        bars.axis("on")
        bars.bar(range(1, count + 1), a, color="#4c72b0")
        bars.axhline(1 / count, color="gray", linestyle="--", linewidth=1)
        bars.set_xticks(range(1, count + 1))
        bars.set_ylim(0, max(1.0, float(a.max()) * 1.05))
        bars.tick_params(labelsize=TEXT_SIZES["small"])
        bars.set_title(
            "attention" if name in images else f"attention: {name}",
            fontsize=TEXT_SIZES["label"],
        )
        mixed = np.tensordot(a, kernels, axes=1)
        axes[row, offset + 1].imshow(mixed, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[row, offset + 1].set_title(
            r"mixed: $\Sigma_k\, a_k W_k$", fontsize=TEXT_SIZES["label"]
        )
        change = mixed - uniform
        change_limit = float(np.abs(change).max()) or 1e-12
        axes[row, offset + 2].imshow(
            change, cmap="RdBu_r", vmin=-change_limit, vmax=change_limit
        )
        axes[row, offset + 2].set_title(
            f"minus uniform mix\n(max |change| {change_limit:.2g})",
            fontsize=TEXT_SIZES["label"],
        )
    if title:
        fig.suptitle(_wrap(title, fig.get_figwidth(), TEXT_SIZES["heading"]))
    fig.tight_layout()
    return fig


@_styled
def plot_temperature_sweep(
    logits: "dict[str, np.ndarray]",
    temperatures: Optional[np.ndarray] = None,
    title: str = "",
) -> Figure:
    r"""The attention :math:`\operatorname{softmax}(z / \tau)` against the temperature :math:`\tau`, one panel per logit vector.

    At a high temperature every kernel gets :math:`1/K` (dashed line) whatever the logits;
    at a low one the largest logit takes all the weight. :math:`\tau = 1` is marked.

    Parameters
    ----------
    logits : dict
        ``{panel title: (K,) logits}``.
    temperatures : numpy.ndarray, optional
        The temperatures ``(T,)`` to draw (log-spaced from 0.03 to 100 by default).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    taus = (
        np.logspace(-1.5, 2, 141)
        if temperatures is None
        else np.asarray(temperatures, dtype=np.float64)
    )
    if taus.ndim != 1 or taus.size < 2 or (taus <= 0).any():
        raise ValueError(
            "temperatures must be a 1-D array of at least two positive values"
        )
    fig, axes = plt.subplots(
        1, len(logits), figsize=(3.6 * len(logits), 3.0), squeeze=False, sharey=True
    )
    for ax, (name, z) in zip(axes[0], logits.items()):
        z = np.asarray(z, dtype=np.float64)
        scaled = z[None, :] / taus[:, None]
        weights = np.exp(scaled - scaled.max(1, keepdims=True))
        weights /= weights.sum(1, keepdims=True)
        for k in range(z.size):
            ax.plot(taus, weights[:, k], label=f"$W_{k + 1}$ (z = {z[k]:.2f})")
        ax.axhline(1 / z.size, color="gray", linestyle="--", linewidth=1)
        ax.axvline(1.0, color="black", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel(r"temperature $\tau$")
        ax.set_title(name, fontsize=TEXT_SIZES["label"])
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0, 0].set_ylabel("attention")
    if title:
        fig.suptitle(_wrap(title, fig.get_figwidth(), TEXT_SIZES["heading"]))
    fig.tight_layout()
    return fig


@_styled
def plot_branch_attention(
    sizes: np.ndarray,
    attention: "dict[str, Sequence[np.ndarray]]",
    branch: int = -1,
    layer_names: Sequence[str] = (),
    xlabel: str = "object half-size s (pixels)",
    ylabel: str = "weight of the largest receptive field",
    title: str = "",
) -> Figure:
    """A selective-kernel layer's weight on one branch (averaged over channels) against object size, one panel per layer.

    Each panel is :func:`plot_tap_spread` of the per-input mean weight of ``branch``: a
    scatter per network, its Pearson correlation with the size in the legend.

    Parameters
    ----------
    sizes : numpy.ndarray
        ``(N,)`` object sizes.
    attention : dict
        ``{network name: one (N, branches, C) array per layer}`` (from
        :func:`convref.experiments.dynamic_attention`); every network has the same layers.
    branch : int
        Which branch's weight to show (the last, the largest receptive field, by default).
    layer_names : sequence of str
        Panel titles (``"layer 1"``, ... by default).
    xlabel, ylabel, title : str
        Labels (``ylabel`` on the first panel).

    Returns
    -------
    matplotlib.figure.Figure
    """
    layers = {len(a) for a in attention.values()}
    if len(layers) != 1:
        raise ValueError(
            f"every network must have the same number of layers, got {sorted(layers)}"
        )
    count = layers.pop()
    fig, axes = plt.subplots(
        1,
        count,
        figsize=(min(4.2, COLUMN_WIDTH / count) * count, 3.5),
        squeeze=False,
        sharey=True,
    )
    for index, ax in enumerate(axes[0]):
        values = {
            name: np.asarray(a[index], dtype=np.float64)[:, branch].mean(1)
            for name, a in attention.items()
        }
        name = layer_names[index] if index < len(layer_names) else f"layer {index + 1}"
        plot_tap_spread(
            sizes,
            values,
            xlabel=xlabel,
            ylabel=ylabel if index == 0 else "",
            title=name,
            ax=ax,
        )
    if title:
        fig.suptitle(_wrap(title, fig.get_figwidth(), TEXT_SIZES["heading"]))
    fig.tight_layout()
    return fig
