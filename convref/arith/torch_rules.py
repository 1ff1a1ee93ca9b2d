"""How :func:`convref.arith.count` counts PyTorch's own layers: one rule per layer type.

Each rule takes ``(module, inputs, output)`` and returns :class:`~convref.arith.layer_ops.Ops`;
what the fields count is set out in :mod:`convref.arith.counter`.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any, Callable, Mapping

import torch
from torch import nn

from .layer_ops import Ops, _first

__all__ = ["RULES"]


def _conv(module: nn.modules.conv._ConvNd, inputs: tuple, output: torch.Tensor) -> Ops:
    # every weight meets every output position once (transposed: every *input* position
    # once)
    spatial = module.weight.dim() - 2
    side = _first(inputs) if module.transposed else output
    channels = module.in_channels if module.transposed else module.out_channels
    positions = math.prod(side.shape[-spatial:])
    images = side.numel() // (
        channels * positions
    )  # the batch (1 for an unbatched input)
    additions = output.numel() if module.bias is not None else 0
    return Ops.io(
        inputs,
        output,
        images * positions * module.weight.numel(),
        additions,
        affine=True,
    )


def _linear(module: nn.Linear, inputs: tuple, output: torch.Tensor) -> Ops:
    rows = output.numel() // module.out_features
    additions = output.numel() if module.bias is not None else 0
    return Ops.io(inputs, output, rows * module.weight.numel(), additions, affine=True)


def _no_arithmetic(module: nn.Module, inputs: tuple, output: torch.Tensor) -> Ops:
    # max pooling and activations: comparisons and transcendental functions are not
    # counted
    return Ops.io(inputs, output)


def _spatial_dims(module: nn.Module) -> int:
    """1, 2 or 3: the number of spatial axes of a pooling layer, from its class (AvgPool2d: 2)."""
    return int(
        next(
            cls.__name__[-2]
            for cls in type(module).__mro__
            if cls.__name__[-2:] in ("1d", "2d", "3d")
        )
    )


def _avg_pool(module: nn.Module, inputs: tuple, output: torch.Tensor) -> Ops:
    # every output sums a full window (PyTorch's default divisor counts the padding too)
    spatial = _spatial_dims(module)
    kernel = module.kernel_size
    window = math.prod(kernel) if isinstance(kernel, tuple) else kernel**spatial
    return Ops.io(inputs, output, additions=output.numel() * window)


def _window_sizes(length: int, out: int) -> int:
    """Total window length along one axis of adaptive pooling (PyTorch's floor/ceil windows)."""
    return sum(
        math.ceil((i + 1) * length / out) - (i * length) // out for i in range(out)
    )


def _adaptive_avg_pool(module: nn.Module, inputs: tuple, output: torch.Tensor) -> Ops:
    spatial = _spatial_dims(module)
    in_sizes, out_sizes = _first(inputs).shape[-spatial:], output.shape[-spatial:]
    summed = math.prod(
        _window_sizes(i, o) for i, o in zip(in_sizes, out_sizes)
    )  # per channel
    return Ops.io(
        inputs, output, additions=output.numel() // math.prod(out_sizes) * summed
    )


def _batch_norm(
    module: nn.modules.batchnorm._BatchNorm, inputs: tuple, output: torch.Tensor
) -> Ops:
    if module.training or module.running_mean is None:  # statistics from the batch
        return _statistics_norm(module, inputs, output)
    return Ops.io(inputs, output, mult_adds=output.numel())  # y = a x + b per channel


def _statistics_norm(module: nn.Module, inputs: tuple, output: torch.Tensor) -> Ops:
    # mean: one addition per element; variance: x - mean (an addition) and its square
    # accumulated (a multiply-add); normalise and scale: (x - mean) (gamma rstd) + beta
    n = output.numel()
    return Ops.io(inputs, output, mult_adds=2 * n, additions=2 * n)


def _upsample(module: nn.Upsample, inputs: tuple, output: torch.Tensor) -> Ops:
    taps = {
        "nearest": 0,
        "nearest-exact": 0,
        "linear": 2,
        "bilinear": 4,
        "bicubic": 16,
        "trilinear": 8,
    }
    return Ops.io(inputs, output, mult_adds=taps.get(module.mode, 0) * output.numel())


#: The rules for PyTorch's layer types, ``type -> rule(module, inputs, output) -> Ops``;
#: a module uses the rule of the first class in its method resolution order found here.
RULES: Mapping[type, Callable[[Any, tuple, Any], Ops]] = MappingProxyType(
    {
        nn.modules.conv._ConvNd: _conv,  # Conv1d/2d/3d and ConvTranspose1d/2d/3d
        nn.Linear: _linear,
        nn.modules.pooling._MaxPoolNd: _no_arithmetic,
        nn.modules.pooling._AdaptiveMaxPoolNd: _no_arithmetic,
        nn.modules.pooling._AvgPoolNd: _avg_pool,
        nn.modules.pooling._AdaptiveAvgPoolNd: _adaptive_avg_pool,
        nn.modules.batchnorm._BatchNorm: _batch_norm,
        nn.GroupNorm: _statistics_norm,
        nn.LayerNorm: _statistics_norm,
        nn.modules.instancenorm._InstanceNorm: _statistics_norm,
        nn.Upsample: _upsample,
        **{
            activation: _no_arithmetic
            for activation in (
                nn.ReLU,
                nn.ReLU6,
                nn.LeakyReLU,
                nn.PReLU,
                nn.ELU,
                nn.GELU,
                nn.SiLU,
                nn.Mish,
                nn.Sigmoid,
                nn.Tanh,
                nn.Hardswish,
                nn.Hardsigmoid,
                nn.Hardtanh,
                nn.Softmax,
                nn.LogSoftmax,
                nn.Softplus,
                nn.ChannelShuffle,
                nn.PixelShuffle,
                nn.PixelUnshuffle,
                nn.ZeroPad2d,
                nn.ConstantPad2d,
            )
        },
    }
)
