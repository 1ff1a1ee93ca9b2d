"""Chapter "Deformable convolution": a small classifier with and without learned tap positions.

:func:`shape_classifier` builds the same network with plain, active (Jeon & Kim) or deformable
(Dai et al., Zhu et al.) layers in its last two convolutions, and :func:`shape_locator` a
fully convolutional network that points at one shape among others; :func:`layer_offsets`
reads the offsets each layer uses on given images, and :func:`stacked_taps` follows one
output pixel's taps back through the stack, as in Dai et al.'s figures.
"""

from __future__ import annotations

from typing import Union

import numpy as np
import torch

from .._checks import padding_amounts, positive_int
from ..arith import tap_positions
from ..nn import ActiveConv2d, DCN2d

__all__ = [
    "SHAPE_CLASSIFIER_KINDS",
    "conv_bn_relu",
    "shape_classifier",
    "shape_locator",
    "layer_offsets",
    "stacked_taps",
]


#: The layer kinds that :func:`shape_classifier` builds its last two convolutions from.
SHAPE_CLASSIFIER_KINDS = ("plain", "active", "deformable", "modulated")


def conv_bn_relu(c_in: int, c_out: int, kind: str, stride: int = 1) -> list:
    """A 3x3 convolution of ``kind`` (padding 1, no bias), BatchNorm and ReLU, as a list.

    BatchNorm always normalises with the current batch's statistics
    (``track_running_stats=False``; see :func:`shape_classifier` for why).

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    kind : {"plain", "active", "deformable", "modulated"}
        ``torch.nn.Conv2d``, :class:`convref.nn.ActiveConv2d`, or :class:`convref.nn.DCN2d`
        without or with modulation.
    stride : int
        Stride of the convolution.

    Returns
    -------
    list of torch.nn.Module
        The three layers, to unpack into a ``torch.nn.Sequential``.
    """
    if kind == "plain":
        conv = torch.nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)  # BN follows
    elif kind == "active":
        conv = ActiveConv2d(c_in, c_out, 3, stride, 1, bias=False)
    else:
        modulated = kind == "modulated"
        conv = DCN2d(c_in, c_out, 3, stride, 1, bias=False, modulated=modulated)
    return [
        conv,
        torch.nn.BatchNorm2d(c_out, track_running_stats=False),
        torch.nn.ReLU(),
    ]


def shape_classifier(
    kind: str = "plain", width: int = 8, classes: int = 4
) -> torch.nn.Sequential:
    """A small CNN for the 24x24 shapes of :func:`convref.data.varied_shapes`; the last two convolutions vary.

    Four 3x3 convolutions, each followed by BatchNorm and ReLU: ``1 -> w`` and ``w -> 2w``
    (stride 2) are always plain; ``2w -> 2w`` and ``2w -> 4w`` (stride 2) are of ``kind``. Then
    global average pooling and a linear layer. Putting the deformable layers late follows Dai
    et al., who deform the last layers: their offset convolutions see a large enough patch
    (9x9 input pixels for the first one here) to judge an object's extent.

    BatchNorm uses the statistics of the current batch in evaluation too
    (``track_running_stats=False``): after a few seconds of training with Adam the weights
    still move fast, and running averages would lag behind them; evaluated on a whole test
    set at once, the batch statistics are the test set's own.

    Parameters
    ----------
    kind : {"plain", "active", "deformable", "modulated"}
        ``torch.nn.Conv2d``, :class:`convref.nn.ActiveConv2d` (learned offsets shared by every
        pixel), :class:`convref.nn.DCN2d` (per-pixel offsets, DCN v1) or the same with
        ``modulated=True`` (DCN v2).
    width : int
        Channels of the first layer ``w``.
    classes : int
        Number of outputs.

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, 1, H, W)`` to logits ``(N, classes)``.
    """
    if kind not in SHAPE_CLASSIFIER_KINDS:
        raise ValueError(f"kind must be one of {SHAPE_CLASSIFIER_KINDS}, got {kind!r}")
    width = positive_int("width", width)
    classes = positive_int("classes", classes)

    return torch.nn.Sequential(
        *conv_bn_relu(1, width, "plain"),
        *conv_bn_relu(width, 2 * width, "plain", stride=2),
        *conv_bn_relu(2 * width, 2 * width, kind),
        *conv_bn_relu(2 * width, 4 * width, kind, stride=2),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * width, classes),
    )


def shape_locator(kind: str = "plain", width: int = 8) -> torch.nn.Sequential:
    """A small fully convolutional locator for :func:`convref.data.shape_scenes`: one logit per grid cell.

    Five 3x3 convolutions, each followed by BatchNorm and ReLU, as in
    :func:`shape_classifier`: ``1 -> w``, ``w -> 2w`` (stride 2) and ``2w -> 2w`` (stride
    2) are always plain; the last two, ``2w -> 2w`` on the map a quarter of the input's
    side, are of ``kind``. A 1x1 convolution then scores every position of that map, and
    the scores are flattened into logits over the grid cells, so the cross-entropy over
    them trains the network to point at the target's cell. A plain stack sees 25x25 input
    pixels from each output, more than the largest target of ``shape_scenes`` (16 pixels
    across); deformable layers can move their taps to where the object is.

    Parameters
    ----------
    kind : {"plain", "active", "deformable", "modulated"}
        The last three convolutions, as in :func:`shape_classifier`.
    width : int
        Channels of the first layer ``w``.

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, 1, H, W)`` to logits ``(N, (H / 4) (W / 4))`` over the grid cells, row
        by row (``H`` and ``W`` multiples of 4).
    """
    if kind not in SHAPE_CLASSIFIER_KINDS:
        raise ValueError(f"kind must be one of {SHAPE_CLASSIFIER_KINDS}, got {kind!r}")
    width = positive_int("width", width)
    return torch.nn.Sequential(
        *conv_bn_relu(1, width, "plain"),
        *conv_bn_relu(width, 2 * width, "plain", stride=2),
        *conv_bn_relu(2 * width, 2 * width, "plain", stride=2),
        *conv_bn_relu(2 * width, 2 * width, kind),
        *conv_bn_relu(2 * width, 2 * width, kind),
        torch.nn.Conv2d(2 * width, 1, 1),
        torch.nn.Flatten(),
    )


def _offset_layers(model: torch.nn.Module) -> list:
    return [m for m in model.modules() if isinstance(m, (DCN2d, ActiveConv2d))]


def layer_offsets(
    model: torch.nn.Module, images: Union[np.ndarray, torch.Tensor]
) -> list[dict]:
    """The offsets (and masks) every deformable or active layer of ``model`` uses on ``images``.

    One forward pass without gradients records each layer's input; the offsets are then
    those the layer computes from it (:meth:`convref.nn.DCN2d.offsets_and_mask`, or
    :meth:`convref.nn.ActiveConv2d.offset_map`). The model's training mode is left as it was.

    Parameters
    ----------
    model : torch.nn.Module
        A network containing :class:`convref.nn.DCN2d` or :class:`convref.nn.ActiveConv2d` layers.
    images : numpy.ndarray or torch.Tensor
        ``(N, C, H, W)`` inputs.

    Returns
    -------
    list of dict
        One per layer, in the order of ``model.modules()``: ``"offset"`` ``(N, 2 kh kw, H_out, W_out)``
        and ``"mask"`` (``(N, kh kw, H_out, W_out)`` or None) as NumPy arrays, and the layer's
        ``"kernel_size"``, ``"stride"``, ``"padding"`` (top, left) and ``"dilation"``.
    """
    layers = _offset_layers(model)
    if not layers:
        raise ValueError("model has no DCN2d or ActiveConv2d layer")
    inputs: dict[int, torch.Tensor] = {}
    hooks = [
        layer.register_forward_hook(
            lambda m, args, out, i=i: inputs.__setitem__(i, args[0])
        )
        for i, layer in enumerate(layers)
    ]
    parameter = next(model.parameters())
    x = torch.as_tensor(images, dtype=parameter.dtype)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
            results = []
            for i, layer in enumerate(layers):
                if isinstance(layer, DCN2d):
                    offset, mask = layer.offsets_and_mask(inputs[i])
                else:
                    offset, mask = layer.offset_map(inputs[i]), None
                top, _, left, _ = padding_amounts(
                    layer.padding, layer.kernel_size, layer.dilation, layer.stride
                )
                results.append(
                    {
                        "offset": offset.numpy().astype(np.float64),
                        "mask": None
                        if mask is None
                        else mask.numpy().astype(np.float64),
                        "kernel_size": layer.kernel_size,
                        "stride": layer.stride,
                        "padding": (top, left),
                        "dilation": layer.dilation,
                    }
                )
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return results


def stacked_taps(
    layers: list[dict],
    index: int,
    pixel: tuple[int, int],
    input_stride: float = 1.0,
    regular: bool = False,
) -> np.ndarray:
    """The input points that one output pixel of a stack of deformable layers reads, through all of them.

    Starting from ``pixel`` of the last layer in ``layers`` (from :func:`layer_offsets`), its
    ``K`` taps (:func:`convref.arith.tap_positions`) are points of that layer's input, which is
    the previous layer's output; each is rounded to the nearest output pixel of the previous
    layer, whose own ``K`` taps are then taken, and so on down to the first layer: ``K**L``
    points, as in Dai et al.'s figures of the sampling locations of three stacked layers. The
    layers must follow one another (only pointwise operations such as BatchNorm and ReLU in
    between). The first layer's input coordinates are multiplied by ``input_stride`` to reach
    image coordinates (2 when a stride-2 "same"-padded convolution comes before, whose output
    pixel ``h`` is centred on input pixel ``2 h``).

    Parameters
    ----------
    layers : list of dict
        Output of :func:`layer_offsets`.
    index : int
        Which image of the batch.
    pixel : (int, int)
        Output pixel of the last layer.
    input_stride : float
        Image pixels per step of the first layer's input.
    regular : bool
        Ignore the offsets: the points the same stack of ordinary convolutions reads.

    Returns
    -------
    numpy.ndarray
        ``(K**L, 2)`` ``(y, x)`` image coordinates.
    """
    if not layers:
        raise ValueError("layers must hold at least one layer")
    points = np.asarray([pixel], dtype=np.float64)
    for number, layer in enumerate(reversed(layers)):
        if (
            number > 0
        ):  # points of this layer's output: round to its nearest output pixels
            _, out_h, out_w = layer["offset"].shape[1:]
            points = np.stack(
                [
                    np.clip(np.rint(points[:, 0]), 0, out_h - 1),
                    np.clip(np.rint(points[:, 1]), 0, out_w - 1),
                ],
                -1,
            )
        offset = None if regular else layer["offset"][index]
        points = tap_positions(
            offset,
            points.astype(np.int64),
            layer["kernel_size"],
            layer["stride"],
            layer["padding"],
            layer["dilation"],
        )
        points = points.reshape(-1, 2)
    return points * input_stride
