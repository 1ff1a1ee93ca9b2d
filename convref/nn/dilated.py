"""Atrous (dilated) context modules of DeepLab v3: ASPP in parallel, a cascade in series.

Chen, Papandreou, Schroff & Adam (2017), "Rethinking Atrous Convolution for Semantic Image
Segmentation": section 3.2 stacks atrous convolutions in series, section 3.3 runs them in
parallel on the same feature map (Atrous Spatial Pyramid Pooling) next to image-level
features. Every convolution is a :class:`convref.nn.Conv2d`, which runs
:func:`convref.functional.conv2d` (dilation included).
"""

from __future__ import annotations

import numbers
from typing import Any, Optional, Sequence

import torch
from torch import nn

from .._checks import _is_int, check_bool, positive_int
from ..arith import ConvSpec, Ops, receptive_field, stack_specs, tensor_bytes
from .base import check_layer_input
from .conv import Conv2d

__all__ = ["ASPP", "AtrousCascade"]


def _check_rates(rates: Any) -> tuple[int, ...]:
    """Return ``rates`` as a tuple of ints >= 1; refuse an empty or non-sequence value."""
    if (
        _is_int(rates)
        or isinstance(rates, (str, bytes))
        or not isinstance(rates, Sequence)
    ):
        raise TypeError(f"rates must be a non-empty sequence of ints, got {rates!r}")
    if len(rates) == 0:
        raise ValueError(f"rates must be a non-empty sequence of ints, got {rates!r}")
    return tuple(positive_int(f"rates[{i}]", rate) for i, rate in enumerate(rates))


def _conv_bn_relu(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    padding: Any,
    dilation: int,
    batch_norm: bool,
) -> nn.Sequential:
    """``conv -> BN -> ReLU``; without BN the convolution gets a bias (with BN a bias is redundant)."""
    return nn.Sequential(
        Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            padding=padding,
            dilation=dilation,
            bias=not batch_norm,
        ),
        nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity(),
        nn.ReLU(),
    )


class _ImagePooling(nn.Module):
    """ASPP's image-level branch: global average pool -> 1x1 conv -> BN -> ReLU -> upsampling (a broadcast).

    Input ``(N, C_in, H, W)``, output ``(N, C_out, H, W)``, constant over ``H x W``.
    """

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool) -> None:
        super().__init__()
        self.block = _conv_bn_relu(in_channels, out_channels, 1, 0, 1, batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3), keepdim=True)  # (N, C_in, 1, 1): the global context
        features = self.block(pooled)
        # The paper upsamples bilinearly; from a 1x1 map every output pixel interpolates
        # between copies of the one value, i.e. a constant broadcast. Broadcasting gives
        # it exactly (F.interpolate's weights w * v + (1 - w) * v can differ from v in
        # the last bit).
        return features.expand(-1, -1, *x.shape[-2:])

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """The global average pooling, one addition per input value (for :func:`convref.arith.count`).

        The 1x1 convolution, BatchNorm and ReLU are child modules; the upsampling is a broadcast
        (a view): it writes nothing.
        """
        x = inputs[0]
        pooled = x.shape[0] * x.shape[1] * x.element_size()
        return Ops(
            additions=x.numel(), bytes_read=tensor_bytes(x), bytes_written=pooled
        )


class ASPP(nn.Module):
    r"""Atrous Spatial Pyramid Pooling with image-level features (DeepLab v3, section 3.3).

    Parallel branches read the same input, each ``conv -> BN -> ReLU`` with ``out_channels``
    filters:

    * a ``1 x 1`` convolution;
    * one ``3 x 3`` convolution per rate ``r`` in ``rates``, with ``dilation = padding = r``
      so that the feature map keeps its size;
    * (``image_pooling``) image-level features: global average pooling, a ``1 x 1``
      convolution, BN, ReLU, then bilinear upsampling back to ``H x W``. The pooled map is
      ``1 x 1``, so bilinear upsampling is a constant broadcast -- computed as one here: the
      branch adds the same vector at every position.

    The branches are concatenated along the channels (``(len(rates) + 1 + image_pooling) *
    out_channels`` of them) and projected by a ``1 x 1`` convolution, BN and ReLU to
    ``out_channels`` (then Dropout when ``dropout > 0``). The paper's head uses
    ``rates=(6, 12, 18)`` at output stride 16 and 256 filters everywhere.

    A ``3 x 3`` kernel with rate ``r`` spans ``2r + 1`` input positions; once ``r`` reaches the
    feature-map size, all taps but the centre fall on padding and the branch degenerates to a
    ``1 x 1`` convolution -- the paper's reason for adding the image-level branch.

    Parameters
    ----------
    in_channels : int
        Channels of the input feature map.
    out_channels : int
        Filters of every branch and of the projection.
    rates : sequence of int
        Atrous rates (dilations) of the ``3 x 3`` branches, each >= 1; at least one.
    image_pooling : bool
        Whether to add the image-level branch.
    batch_norm : bool
        Whether to put a BatchNorm after every convolution; without it the convolutions
        get a bias.
    dropout : float
        Dropout probability after the projection, in ``[0, 1)``; ``0`` adds no layer.

    Attributes
    ----------
    branches : torch.nn.ModuleList
        The ``1 x 1`` branch, then one ``3 x 3`` branch per rate (each ``conv, BN, ReLU``).
    pooling : torch.nn.Module or None
        The image-level branch.
    project : torch.nn.Sequential
        ``1 x 1`` convolution, BN, ReLU (and Dropout) after the concatenation.

    Shape
    -----
    Input ``(N, in_channels, H, W)``, output ``(N, out_channels, H, W)``.

    Notes
    -----
    In training mode with ``batch_norm`` and ``image_pooling`` the batch must hold at least
    2 samples: the pooled branch's BatchNorm sees one value per channel and sample.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 256,
        rates: Sequence[int] = (6, 12, 18),
        image_pooling: bool = True,
        batch_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_channels = positive_int("in_channels", in_channels)
        self.out_channels = positive_int("out_channels", out_channels)
        self.rates = _check_rates(rates)
        self.image_pooling = check_bool("image_pooling", image_pooling)
        self.batch_norm = check_bool("batch_norm", batch_norm)
        if not isinstance(dropout, numbers.Real) or isinstance(dropout, bool):
            raise TypeError(f"dropout must be a number, got {dropout!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)

        channels, width = self.in_channels, self.out_channels
        self.branches = nn.ModuleList(
            [_conv_bn_relu(channels, width, 1, 0, 1, batch_norm)]
            + [
                _conv_bn_relu(channels, width, 3, rate, rate, batch_norm)
                for rate in self.rates
            ]
        )
        self.pooling = (
            _ImagePooling(channels, width, batch_norm) if image_pooling else None
        )
        concatenated = width * (len(self.branches) + int(image_pooling))
        self.project = _conv_bn_relu(concatenated, width, 1, 0, 1, batch_norm)
        if self.dropout > 0:
            self.project.append(nn.Dropout(self.dropout))

    @property
    def conv_receptive_field(self) -> int:
        """Largest span of the convolution branches along one axis: ``2 max(rates) + 1``.

        The input positions one output can see through the ``3 x 3`` atrous branches (the
        ``1 x 1`` projection adds nothing), ignoring the image-level branch.
        """
        spans = [
            receptive_field([ConvSpec(3, dilation=rate), ConvSpec(1)]).size
            for rate in self.rates
        ]
        return max(spans)

    @property
    def receptive_field(self) -> Optional[int]:
        """Receptive field of one output along one axis, in input positions.

        ``None`` with ``image_pooling``: the global average makes every output depend on the
        whole input, whatever its size (unbounded, not a number of positions). Otherwise
        :attr:`conv_receptive_field`.
        """
        return None if self.image_pooling else self.conv_receptive_field

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.in_channels)
        if self.training and self.batch_norm and self.image_pooling and x.shape[0] < 2:
            raise ValueError(
                "x must hold at least 2 samples in training mode: the image-pooling "
                "branch's BatchNorm sees one value per channel and sample, got shape "
                f"{tuple(x.shape)}"
            )
        features = [branch(x) for branch in self.branches]
        if self.pooling is not None:
            features.append(self.pooling(x))
        return self.project(torch.cat(features, dim=1))

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """The concatenation of the branches, no arithmetic (for :func:`convref.arith.count`).

        The branches and the projection are child modules. The concatenation reads and writes
        every branch's ``out_channels`` maps once.
        """
        features = len(self.branches) + (self.pooling is not None)
        size = features * tensor_bytes(output)
        return Ops(bytes_read=size, bytes_written=size)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, rates={self.rates}, image_pooling={self.image_pooling}, "
            f"batch_norm={self.batch_norm}, dropout={self.dropout}"
        )


class AtrousCascade(nn.Sequential):
    r"""Atrous convolutions in series (DeepLab v3, section 3.2): one block per rate.

    Block ``l`` is a ``kernel_size x kernel_size`` convolution with dilation ``rates[l]`` and
    ``"same"`` padding, then BN and ReLU; the channels stay ``channels`` throughout. The
    receptive field grows by ``rates[l] * (kernel_size - 1)`` per block, but the taps of a
    cascade of equal rates fall on a grid (every ``rate``-th position): the "gridding" of
    dilated stacks.

    Parameters
    ----------
    channels : int
        Channels of the input and of every block.
    rates : sequence of int
        Dilation of each block, input side first; at least one, each >= 1.
    kernel_size : int
        Side of every kernel.
    batch_norm : bool
        Whether to put a BatchNorm after every convolution; without it the convolutions
        get a bias.

    Shape
    -----
    Input ``(N, channels, H, W)``, output ``(N, channels, H, W)``.
    """

    def __init__(
        self,
        channels: int,
        rates: Sequence[int],
        kernel_size: int = 3,
        batch_norm: bool = True,
    ) -> None:
        channels = positive_int("channels", channels)
        checked_rates = _check_rates(rates)
        kernel_size = positive_int("kernel_size", kernel_size)
        batch_norm = check_bool("batch_norm", batch_norm)
        super().__init__(
            *(
                _conv_bn_relu(channels, channels, kernel_size, "same", rate, batch_norm)
                for rate in checked_rates
            )
        )
        self.channels, self.rates, self.kernel_size, self.batch_norm = (
            channels,
            checked_rates,
            kernel_size,
            batch_norm,
        )

    @property
    def receptive_field(self) -> int:
        r"""Receptive field of one output along one axis: :math:`1 + \sum_l r_l (k - 1)`."""
        specs = stack_specs([self.kernel_size] * len(self.rates), dilations=self.rates)
        return receptive_field(specs).size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.channels)
        return super().forward(x)

    def extra_repr(self) -> str:
        return f"{self.channels}, rates={self.rates}, kernel_size={self.kernel_size}, batch_norm={self.batch_norm}"
