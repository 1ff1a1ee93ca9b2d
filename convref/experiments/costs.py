"""The chapters' three model-cost summaries, each a view of :func:`convref.arith.count`.

One counter runs the model once and counts every layer (:func:`convref.arith.count`); the
chapters want three summaries of it, per input:

* :func:`model_cost`: parameters, multiply-adds of the convolution and linear layers, and the
  feature maps the convolutions produce (small kernels, dynamic convolution);
* :func:`op_counts`: multiplications and additions apart, BatchNorm folded where it can be
  (AdderNet);
* :func:`network_mult_adds`: every multiply-add of the network except element-wise work
  (choosing an operator).

Each runs the model on a batch of two zero inputs (a BatchNorm that normalises with the
batch's statistics needs more than one value per channel) and halves the counts.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..arith import Count, LayerCount, OpCount, count
from ..nn import Adder2d, CausalConv1d, ConvLayer2d, KernelMixtureConv2d, NonLocal2d

__all__ = ["model_cost", "op_counts", "network_mult_adds"]

#: The layers whose multiply-adds are weights times positions: PyTorch's and convref's
#: convolutions.
CONVOLUTIONS = (nn.modules.conv._ConvNd, ConvLayer2d, CausalConv1d)

_PAIR = 2  # inputs per counted batch; every count below is divided by it


def _count_pair(
    model: nn.Module, input_shape: tuple[int, ...], fold_batch_norm: bool = False
) -> Count:
    """:func:`convref.arith.count` on two zero inputs of ``input_shape``, in the model's dtype and on its device."""
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    device = parameter.device if parameter is not None else torch.device("cpu")
    x = torch.zeros(_PAIR, *input_shape, dtype=dtype, device=device)
    return count(model, x, fold_batch_norm=fold_batch_norm)


def _adder_terms(row: LayerCount, layer: Adder2d) -> int:
    """The ``|x - w|`` terms of an adder layer's row: its additions are two per term, plus one per output for the bias."""
    bias = math.prod(row.output_shape) if layer.bias is not None else 0
    return (row.additions - bias) // 2


def model_cost(model: nn.Module, input_shape: tuple[int, ...]) -> dict:
    """Parameters, multiply-adds and convolution outputs of a model on one input, measured by running it.

    A view of :func:`convref.arith.count`: the multiply-adds of the convolution layers
    (PyTorch's and convref's, transposed ones included; an adder layer's subtract-and-accumulate
    terms count as multiply-adds here, see :func:`op_counts`), of the linear layers, and of
    the CondConv and DY-CNN layers (the mixed convolution and the kernel mixing, as
    :func:`convref.arith.dynamic_conv_cost` counts them). Other work (BatchNorm, pooling, the
    non-local block's attention, the selective kernel's weighted sum) is left out. The model
    runs in evaluation mode without gradients and keeps its mode.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    input_shape : tuple of int
        Shape of one input without the batch axis, e.g. ``(1, 20, 20)``.

    Returns
    -------
    dict
        ``params``: parameters of the whole model; ``mult_adds``: multiply-adds of its
        convolution and linear layers for one input (weights only, as the papers count);
        ``conv_outputs``: elements of all the feature maps the convolutions produce for one
        input -- what training keeps in memory for the backward pass, per layer at least;
        ``dynamic_mult_adds``: the part of ``mult_adds`` spent in the CondConv and DY-CNN
        layers (zero in a static network).
    """
    counted = _count_pair(model, tuple(input_shape))
    layers = dict(model.named_modules())
    mult_adds = outputs = dynamic = 0
    for row in counted.select(*CONVOLUTIONS, nn.Linear).rows:
        layer = layers[row.name]
        mult_adds += (
            _adder_terms(row, layer) if isinstance(layer, Adder2d) else row.mult_adds
        )
        if not isinstance(layer, nn.Linear):
            outputs += math.prod(row.output_shape)
        if isinstance(layer, KernelMixtureConv2d):
            dynamic += row.mult_adds
    return {
        "params": counted.params,
        "mult_adds": mult_adds // _PAIR,
        "conv_outputs": outputs // _PAIR,
        "dynamic_mult_adds": dynamic // _PAIR,
    }


def op_counts(model: nn.Module, input_shape: tuple[int, ...]) -> OpCount:
    """Multiplications and additions of a network on one input, adder layers counted as additions only.

    A view of :func:`convref.arith.count` with ``fold_batch_norm=True``:

    * a convolution or a linear layer: one multiplication and one addition per multiply-add
      (:func:`convref.arith.conv_op_count`); an :class:`convref.nn.Adder2d` two additions
      per term (:func:`convref.arith.adder_op_count`);
    * a BatchNorm right after a convolution costs nothing at inference, because its scale
      and shift fold into the convolution's weights and bias; after anything else (an adder
      layer above all: its filters sit inside an absolute value, so no scale folds into them)
      it costs one multiplication and one addition per element.

    Biases, activations and pooling are not counted (a few additions or comparisons per element).

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    input_shape : tuple of int
        Shape of one input without the batch axis, e.g. ``(1, 24, 24)``.

    Returns
    -------
    convref.arith.OpCount
        ``params`` (parameters of the whole model), ``multiplications``, ``additions``.
    """
    counted = _count_pair(model, tuple(input_shape), fold_batch_norm=True)
    layers = dict(model.named_modules())
    multiplications = additions = 0
    for row in counted.select(
        *CONVOLUTIONS, nn.Linear, nn.modules.batchnorm._BatchNorm
    ).rows:
        layer = layers[row.name]
        if isinstance(layer, Adder2d):
            additions += 2 * _adder_terms(row, layer)
        else:
            multiplications += row.mult_adds
            additions += row.mult_adds
    return OpCount(counted.params, multiplications // _PAIR, additions // _PAIR)


def network_mult_adds(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass for one input, everything but element-wise work.

    A view of :func:`convref.arith.count`: every convolution (PyTorch's and convref's, the
    deformable layers' bilinear reads and offset convolutions included), linear layer,
    non-local block (projections and attention) and kernel mixing (CondConv, DY-CNN), plus an
    adder layer's terms at one per term (as :func:`model_cost` counts them). These are the
    multiply-adds that :class:`torch.utils.flop_counter.FlopCounterMode` counts as two FLOPs
    each, plus the two kinds it cannot see (the adder's terms and the bilinear reads).
    Element-wise work (BatchNorm, activations, pooling, the shift's copy, the selective
    kernel's weighted sum) is not counted, as in the papers.

    Parameters
    ----------
    model : torch.nn.Module
        Run in evaluation mode without gradients on a batch of two zero inputs (BatchNorm with
        batch statistics needs more than one value per channel), and left in its mode.
    input_shape : tuple of int
        One input's shape without the batch axis, e.g. ``(1, 24, 24)``.

    Returns
    -------
    int
        Multiply-adds per input.
    """
    counted = _count_pair(model, tuple(input_shape))
    layers = dict(model.named_modules())
    total = 0
    for row in counted.select(*CONVOLUTIONS, nn.Linear, NonLocal2d).rows:
        layer = layers[row.name]
        total += (
            _adder_terms(row, layer) if isinstance(layer, Adder2d) else row.mult_adds
        )
    return total // _PAIR
