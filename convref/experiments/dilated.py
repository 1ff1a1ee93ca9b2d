"""Dense prediction at two scales: dilated, strided and plain segmenters of dots and frames.

The task is :func:`convref.data.dots_and_frames`: small dots need an output at full
resolution, large frames need a wide receptive field. Three networks with the same
layers and parameters differ only in how they get their field: not at all (plain),
by dilation at full resolution, or by striding and upsampling back.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._checks import positive_int

__all__ = ["SEGMENTER_KINDS", "segmenter", "recall_by_kind"]

#: The three ways :func:`segmenter` builds its four 3x3 layers: (stride, dilation) each.
SEGMENTER_KINDS = {
    "plain": ((1, 1), (1, 1), (1, 1), (1, 1)),
    "dilated": ((1, 1), (1, 2), (1, 4), (1, 1)),
    "strided": ((2, 1), (2, 1), (1, 1), (1, 1)),
}


def segmenter(kind: str, width: int = 8) -> nn.Sequential:
    """Four 3x3 convolutions with BatchNorm and ReLU, then a 1x1 layer to two classes per pixel.

    The layers' strides and dilations are those of :data:`SEGMENTER_KINDS`: ``"plain"``
    (field 9), ``"dilated"`` (rates 1, 2, 4, 1: field 17, full resolution) or
    ``"strided"`` (two stride-2 layers, field 23, then a bilinear upsampling by 4 back
    to the input's size, as segmentation networks without dilation do). All three have
    the same parameters.

    Parameters
    ----------
    kind : {"plain", "dilated", "strided"}
        How the receptive field is obtained.
    width : int
        Channels of every layer.

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, 1, H, W)`` (``H`` and ``W`` divisible by 4) to logits ``(N, 2, H, W)``.
    """
    if kind not in SEGMENTER_KINDS:
        raise ValueError(f"kind must be one of {tuple(SEGMENTER_KINDS)}, got {kind!r}")
    width = positive_int("width", width)
    layers: list[nn.Module] = []
    c_in = 1
    for stride, dilation in SEGMENTER_KINDS[kind]:
        layers += [
            nn.Conv2d(c_in, width, 3, stride, dilation, dilation, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        ]
        c_in = width
    layers.append(nn.Conv2d(width, 2, 1))
    if kind == "strided":
        layers.append(nn.Upsample(scale_factor=4, mode="bilinear", align_corners=False))
    return nn.Sequential(*layers)


def recall_by_kind(
    model: nn.Module, images: np.ndarray, kinds: np.ndarray, batch_size: int = 250
) -> dict[str, float]:
    """The share of each kind of pixel that ``model`` labels as object, and its false alarms.

    Parameters
    ----------
    model : torch.nn.Module
        A segmenter in evaluation mode: ``(N, 1, H, W)`` to logits ``(N, 2, H, W)``.
    images : numpy.ndarray
        ``(N, 1, H, W)`` float32.
    kinds : numpy.ndarray
        ``(N, H, W)``: 0 background, 1 dot, 2 frame (from
        :func:`convref.data.dots_and_frames`).
    batch_size : int
        Images scored at once.

    Returns
    -------
    dict
        ``"dots"`` and ``"frames"``: the fraction of those pixels labelled object (recall);
        ``"background"``: the fraction of background pixels labelled object.
    """
    batch_size = positive_int("batch_size", batch_size)
    with torch.no_grad():
        predicted = np.concatenate(
            [
                model(torch.from_numpy(images[start : start + batch_size]))
                .argmax(1)
                .numpy()
                for start in range(0, len(images), batch_size)
            ]
        )
    return {
        name: float((predicted[kinds == code] == 1).mean())
        for name, code in (("background", 0), ("dots", 1), ("frames", 2))
    }
