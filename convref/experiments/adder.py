"""Chapter "AdderNet": the adder classifier, template matching, weight statistics and gradients.

:func:`adder_classifier` builds the same small network with convolutions or adder layers in
its middle; :func:`template_responses` scores every window of an image against a template by
correlation and by negative L1 distance; :func:`excess_kurtosis` tells Laplace-like weights from
Gaussian ones; :func:`filter_gradients` returns the gradients each filter bank receives. The
operation counts (multiplications against additions) are :func:`convref.experiments.op_counts`.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch

from .. import reference
from .._checks import check_bool, positive_int
from ..nn import Adder2d

__all__ = [
    "ADDER_CLASSIFIER_KINDS",
    "adder_classifier",
    "template_responses",
    "excess_kurtosis",
    "filter_gradients",
]


#: The layer kinds that :func:`adder_classifier` builds its two middle layers from.
ADDER_CLASSIFIER_KINDS = ("conv", "adder")


def adder_classifier(
    kind: str = "adder",
    width: int = 8,
    classes: int = 4,
    batchnorm: bool = True,
    eta: Optional[float] = 0.2,
) -> torch.nn.Sequential:
    """A small network for :func:`convref.data.shapes` whose middle layers are convolutions or adder layers.

    The layout follows AdderNet's recipe: the first layer (``1 -> w``, on raw pixels) is an
    ordinary 3x3 convolution and the classifier a linear layer; the two middle 3x3 layers
    (``w -> 2w`` with stride 2, ``2w -> 2w``) are ``kind``; every layer is followed by
    BatchNorm (``batchnorm=True``) and ReLU; global average pooling comes before the linear
    layer. The two kinds have the same parameters and the same number of multiply-adds (the
    adder's are subtract-and-accumulate pairs).

    BatchNorm uses the current batch's statistics in evaluation too
    (``track_running_stats=False``), as in :func:`shape_classifier`: in seconds-long runs the
    running averages lag behind the weights.

    Parameters
    ----------
    kind : {"conv", "adder"}
        ``torch.nn.Conv2d`` or :class:`convref.nn.Adder2d` in the middle.
    width : int
        Channels of the first layer ``w``.
    classes : int
        Number of outputs.
    batchnorm : bool
        Whether BatchNorm follows each layer; without it an adder layer's negative outputs
        reach the ReLU as they are.
    eta : float or None
        The adder layers' adaptive learning-rate coefficient (``None``: plain gradient).

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, 1, H, W)`` to logits ``(N, classes)``.
    """
    if kind not in ADDER_CLASSIFIER_KINDS:
        raise ValueError(f"kind must be one of {ADDER_CLASSIFIER_KINDS}, got {kind!r}")
    check_bool("batchnorm", batchnorm)
    width = positive_int("width", width)
    classes = positive_int("classes", classes)

    def unit(layer: torch.nn.Module, channels: int) -> list:
        norm = (
            [torch.nn.BatchNorm2d(channels, track_running_stats=False)]
            if batchnorm
            else []
        )
        return [layer, *norm, torch.nn.ReLU()]

    def middle(c_in: int, c_out: int, stride: int) -> torch.nn.Module:
        if kind == "adder":
            return Adder2d(c_in, c_out, 3, stride, 1, bias=not batchnorm, eta=eta)
        return torch.nn.Conv2d(c_in, c_out, 3, stride, 1, bias=not batchnorm)

    return torch.nn.Sequential(
        *unit(torch.nn.Conv2d(1, width, 3, 1, 1, bias=not batchnorm), width),
        *unit(middle(width, 2 * width, 2), 2 * width),
        *unit(middle(2 * width, 2 * width, 1), 2 * width),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(2 * width, classes),
    )


def template_responses(
    image: np.ndarray, template: np.ndarray
) -> dict[str, np.ndarray]:
    r"""Score every window of ``image`` against ``template`` in the two ways a filter can match.

    ``"correlation"`` is the inner product :math:`\sum_{u,v} x[i+u, j+v]\, t[u, v]` (what a
    convolution layer computes, :func:`convref.reference.conv2d`); ``"negative L1"`` is
    :math:`-\sum_{u,v} |x[i+u, j+v] - t[u, v]|` (what an AdderNet layer computes,
    :func:`convref.reference.adder2d`). Both use valid windows only, so entry ``(i, j)``
    belongs to the window whose top-left pixel is ``(i, j)``.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` grey image.
    template : numpy.ndarray
        ``(kh, kw)`` template, no larger than the image.

    Returns
    -------
    dict
        ``{"correlation": (H - kh + 1, W - kw + 1), "negative L1": same shape}``, float64.
    """
    image = np.asarray(image, dtype=np.float64)
    template = np.asarray(template, dtype=np.float64)
    if image.ndim != 2 or template.ndim != 2:
        raise ValueError(
            f"image and template must be 2-D, got shapes {image.shape} and {template.shape}"
        )
    if template.shape[0] > image.shape[0] or template.shape[1] > image.shape[1]:
        raise ValueError(
            f"template {template.shape} must fit in the image {image.shape}"
        )
    x, t = (
        image[None, None],
        template[None, None],
    )  # one sample, one channel, one filter
    return {
        "correlation": reference.conv2d(x, t)[0, 0],
        "negative L1": reference.adder2d(x, t)[0, 0],
    }


def excess_kurtosis(values: Union[np.ndarray, torch.Tensor]) -> float:
    r"""Excess kurtosis :math:`E[(v - \mu)^4] / \sigma^4 - 3` of all the values (population moments).

    A scale-free measure of how heavy the tails of a distribution are: 0 for a Gaussian, 3 for
    a Laplace distribution, -1.2 for a uniform one. AdderNet's paper observes Laplace-like
    filters in adder layers and Gaussian-like ones in convolutions; this number tells them apart.

    Parameters
    ----------
    values : numpy.ndarray or torch.Tensor
        Any shape, at least two distinct values.

    Returns
    -------
    float
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    values = np.asarray(values, dtype=np.float64).ravel()
    centred = values - values.mean()
    variance = np.mean(centred**2)
    if values.size < 2 or variance == 0:
        raise ValueError("values must hold at least two distinct numbers")
    return float(np.mean(centred**4) / variance**2 - 3.0)


def filter_gradients(
    model: torch.nn.Module,
    images: Union[np.ndarray, torch.Tensor],
    labels: Union[np.ndarray, torch.Tensor],
) -> dict[str, torch.Tensor]:
    """The cross-entropy gradient of every filter bank (4-D weight) of ``model`` on one batch.

    The gradients are what the optimiser would receive: an :class:`convref.nn.Adder2d` with
    ``eta`` set delivers its gradient already scaled by the adaptive learning rate, so build
    the model with ``eta=None`` to see the raw ones. The model runs in training mode (BatchNorm
    on the batch's statistics), its mode is restored, and its ``.grad`` fields are left empty.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier mapping ``images`` to logits.
    images : numpy.ndarray or torch.Tensor
        One batch, ``(N, ...)``; converted to the dtype of the model's parameters.
    labels : numpy.ndarray or torch.Tensor
        Integer classes, ``(N,)``.

    Returns
    -------
    dict of str to torch.Tensor
        ``{parameter name: gradient}`` for every parameter with 4 dimensions, in model order;
        each gradient has its parameter's shape, e.g. ``(C_out, C_in / groups, kh, kw)``.
    """
    parameter = next(model.parameters(), None)
    x = torch.as_tensor(
        images, dtype=parameter.dtype if parameter is not None else torch.float32
    )  # the model's dtype
    y = torch.as_tensor(labels).to(torch.int64)
    filters = {name: p for name, p in model.named_parameters() if p.dim() == 4}
    was_training = model.training
    model.train()
    try:
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        gradients = {name: p.grad.detach().clone() for name, p in filters.items()}
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return gradients
