"""Layers whose kernel depends on the input: CondConv, DY-CNN and selective kernels (SKNet).

* :class:`CondConv2d` (Yang et al. 2019) and :class:`DynamicConv2d` (Chen et al. 2020) keep
  ``K`` kernels and mix them per sample with weights computed from the globally pooled
  input: sigmoids (each kernel switched on or off independently) for CondConv, a softmax with
  a temperature (the mixture stays a convex combination) for DY-CNN. The mixing and the
  convolution are :func:`convref.functional.dynamic_conv2d`.
* :class:`SelectiveKernel2d` (Li et al. 2019) runs branches of different dilation (different
  receptive fields) and mixes their outputs per channel with a softmax over the branches, also
  computed from the pooled input: the kernel's effective size follows the input.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import functional
from .._checks import (
    IntPair,
    Padding,
    check_layer_channels,
    positive_int,
    positive_number,
)
from ..arith import Ops, tensor_bytes
from .base import ConvLayer2d, check_layer_input

__all__ = [
    "KernelMixtureConv2d",
    "CondConv2d",
    "DynamicConv2d",
    "SelectiveKernel2d",
    "temperature_schedule",
]


class KernelMixtureConv2d(ConvLayer2d):
    """The common part of :class:`CondConv2d` and :class:`DynamicConv2d`: ``K`` kernels mixed per sample.

    It holds ``weight`` ``(K, C_out, C_in / groups, kh, kw)`` and ``bias`` ``(K, C_out)``, each
    kernel drawn as PyTorch draws a convolution's (with ``init="pytorch"``), and computes
    :func:`convref.functional.dynamic_conv2d` with the weights that :meth:`attention` (defined
    by a subclass) returns for the batch.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size, stride, padding, dilation, groups
        As in :class:`torch.nn.Conv2d`.
    bias : bool
        Whether each kernel has a bias.
    num_kernels : int
        Keyword-only. ``K``.
    init : str
        Keyword-only. How each kernel is drawn, as in :class:`convref.nn.Conv2d`.

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with the sizes of
    :class:`torch.nn.Conv2d` (:func:`convref.arith.conv_output_size`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: Padding = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        num_kernels: int = 4,
        init: str = "pytorch",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            num_kernels=num_kernels,
            init=init,
        )

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The mixing weights ``(N, K)`` for the batch ``x``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.in_channels)
        return functional.dynamic_conv2d(
            x,
            self.weight,
            self.attention(x),
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
        )

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """This call's arithmetic, for :func:`convref.arith.count`, as :func:`convref.arith.dynamic_conv_cost` has it.

        One convolution per sample with the mixed kernel (not ``K``), the mixing itself (``K``
        multiply-adds per kernel and bias entry, per sample), the bias (one addition per output
        value), and the global average pooling the attention starts from (one addition per
        input value). The attention's linear layers are child modules, counted as such; its
        sigmoid or softmax is not counted.
        """
        x = inputs[0]
        entries = self.weight.numel() + (
            self.bias.numel() if self.bias is not None else 0
        )  # K kernels' worth
        mult_adds = self._weight_products(x, output) + x.shape[0] * entries
        return Ops.io(
            inputs,
            output,
            mult_adds,
            self._bias_additions(output) + x.numel(),
            affine=True,
        )


class CondConv2d(KernelMixtureConv2d):
    r"""Conditionally parameterised convolution (Yang et al. 2019): ``K`` experts weighed by sigmoids.

    The routing weights are :math:`r(x) = \sigma(\mathrm{GAP}(x) R + c)`, one independent
    sigmoid per expert, so the mixture :math:`\sum_k r_k W_k` is not normalised.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size, stride, padding, dilation, groups
        As in :class:`torch.nn.Conv2d`.
    bias : bool
        Whether each expert has a bias (mixed like the kernels).
    num_kernels : int
        Keyword-only. The number of experts ``K``.
    init : str
        Keyword-only. How each expert's kernel is drawn, as in :class:`convref.nn.Conv2d`.

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with the sizes of
    :class:`torch.nn.Conv2d` (:func:`convref.arith.conv_output_size`).

    Notes
    -----
    Parameters: ``K`` times a convolution's, plus the routing layer's ``C_in K + K``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: Padding = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        num_kernels: int = 4,
        init: str = "pytorch",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            num_kernels=num_kernels,
            init=init,
        )
        self.routing = nn.Linear(self.in_channels, self.num_kernels)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Sigmoid routing weights ``(N, K)``, each in ``(0, 1)``."""
        return torch.sigmoid(self.routing(x.mean((2, 3))))


class DynamicConv2d(KernelMixtureConv2d):
    r"""Dynamic convolution (DY-CNN, Chen et al. 2020): ``K`` kernels mixed by a softmax with a temperature.

    The attention is :math:`\pi(x) = \mathrm{softmax}(\mathrm{FC}(\mathrm{ReLU}(\mathrm{FC}(\mathrm{GAP}(x)))) / \tau)`,
    the two fully connected layers squeezing ``C_in`` to ``C_in / reduction`` (at least 4) and
    then to ``K``. The weights sum to one, so the mixed kernel stays in the convex hull of the
    ``K`` kernels. A large temperature keeps the attention near uniform, so that every kernel
    receives gradient early in training; the paper lowers :math:`\tau` linearly from 30 to 1 over
    the first 10 epochs (:func:`temperature_schedule`; set :attr:`temperature` each epoch).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size, stride, padding, dilation, groups
        As in :class:`torch.nn.Conv2d`.
    bias : bool
        Whether each kernel has a bias (mixed like the kernels).
    num_kernels : int
        Keyword-only. ``K`` (4 in the paper).
    reduction : int
        Keyword-only. Squeeze ratio of the attention's hidden layer (4 in the paper).
    temperature : float
        Keyword-only. The softmax temperature :math:`\tau`. The default, 30, is where the paper *starts*:
        it makes the attention nearly uniform, so a layer left at 30 behaves almost like one
        static convolution. Lower it during training (:func:`temperature_schedule`), or pass 1.
    init : str
        Keyword-only. How each kernel is drawn, as in :class:`convref.nn.Conv2d`.

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with the sizes of
    :class:`torch.nn.Conv2d` (:func:`convref.arith.conv_output_size`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: Padding = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        num_kernels: int = 4,
        reduction: int = 4,
        temperature: float = 30.0,
        init: str = "pytorch",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            num_kernels=num_kernels,
            init=init,
        )
        hidden = max(4, self.in_channels // positive_int("reduction", reduction))
        self.squeeze = nn.Linear(self.in_channels, hidden)
        self.excite = nn.Linear(hidden, self.num_kernels)
        self.temperature = temperature

    @property
    def temperature(self) -> float:
        """The softmax temperature :math:`\\tau > 0`."""
        return self._temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        self._temperature = positive_number("temperature", value)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax attention ``(N, K)``: each row is positive and sums to one."""
        logits = self.excite(F.relu(self.squeeze(x.mean((2, 3)))))
        return torch.softmax(logits / self.temperature, dim=1)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [*super()._repr_fields(), ("temperature", self.temperature)]


def temperature_schedule(
    epoch: float, start: float = 30.0, end: float = 1.0, epochs: float = 10.0
) -> float:
    """DY-CNN's temperature: linear from ``start`` at epoch 0 to ``end`` at ``epochs``, then constant.

    Parameters
    ----------
    epoch : float
        The current epoch (fractions allowed, for a per-step schedule).
    start, end : float
        The temperatures at the beginning and after the annealing (30 and 1 in the paper).
    epochs : float
        Length of the annealing (10 epochs in the paper).

    Returns
    -------
    float
    """
    start, end, epochs = (
        positive_number(n, v)
        for n, v in (("start", start), ("end", end), ("epochs", epochs))
    )
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or epoch < 0:
        raise ValueError(f"epoch must be a number >= 0, got {epoch!r}")
    progress = min(epoch / epochs, 1.0)
    return start + (end - start) * progress


class SelectiveKernel2d(nn.Module):
    r"""Selective kernel convolution (SKNet, Li et al. 2019): branches of different receptive field, mixed per input.

    Each branch is a 3x3 convolution with its own dilation (dilation 2 covers 5x5, as the paper
    builds its 5x5 branch), followed by BatchNorm and ReLU. The branch outputs :math:`U_m` are
    summed, pooled to a vector :math:`s`, squeezed to :math:`z = \mathrm{ReLU}(\mathrm{BN}(W s))`
    of length :math:`d = \max(C_{out}/r, L)`, and each branch gets a per-channel weight

    .. math::

        a_{m,c} = \frac{\exp(A_{m,c} z)}{\sum_{m'} \exp(A_{m',c} z)}, \qquad
        V_c = \sum_m a_{m,c} U_{m,c} .

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    stride : int or (int, int)
        Of every branch.
    dilations : sequence of int
        One branch per dilation (``(1, 2)``: the paper's 3x3 and 5x5).
    groups : int
        Groups of the branch convolutions (32 in the paper's ResNeXt).
    reduction : int
        :math:`r`, the squeeze ratio (16 in the paper).
    min_hidden : int
        :math:`L`, the smallest length of :math:`z` (32 in the paper).

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with
    ``H_out = ceil(H / stride)`` and ``W_out = ceil(W / stride)`` (every branch pads to keep the size).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: IntPair = 1,
        dilations: Sequence[int] = (1, 2),
        groups: int = 1,
        reduction: int = 16,
        min_hidden: int = 32,
    ) -> None:
        super().__init__()
        in_channels, out_channels, groups = check_layer_channels(
            in_channels, out_channels, groups
        )
        if (
            isinstance(dilations, (str, bytes))
            or not isinstance(dilations, Sequence)
            or len(dilations) < 2
        ):
            raise ValueError(
                f"dilations must be a sequence of at least two ints, got {dilations!r}"
            )
        self.dilations = tuple(positive_int("dilations", d) for d in dilations)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(
                    in_channels,
                    out_channels,
                    3,
                    stride,
                    padding=d,
                    dilation=d,
                    groups=groups,
                    bias=False,
                ),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(),
            )
            for d in self.dilations
        )
        hidden = max(
            out_channels // positive_int("reduction", reduction),
            positive_int("min_hidden", min_hidden),
        )
        self.squeeze = nn.Sequential(
            nn.Linear(out_channels, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
        )
        self.select = nn.Linear(hidden, len(self.dilations) * out_channels)

    def forward_with_attention(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The output ``(N, C_out, H_out, W_out)`` and the branch weights ``(N, branches, C_out)`` (summing to one over branches)."""
        check_layer_input(self, x, self.in_channels)
        outputs = torch.stack(
            [branch(x) for branch in self.branches], dim=1
        )  # (N, M, C, H, W)
        pooled = outputs.sum(1).mean((2, 3))  # s = GAP(U_1 + ... + U_M)
        logits = self.select(self.squeeze(pooled)).reshape(
            x.shape[0], len(self.branches), self.out_channels
        )
        weights = torch.softmax(logits, dim=1)
        return (weights[..., None, None] * outputs).sum(1), weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_attention(x)[0]

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """The block's own arithmetic, for :func:`convref.arith.count` (branches, squeeze and select are child modules).

        With ``M`` branches: their sum, ``M - 1`` additions per output value; its global
        average, one addition per value; the weighted sum of the branches, ``M`` multiply-adds
        per output value. The softmax is not counted. Reads the ``M`` branch outputs, writes
        the output.
        """
        branches, values = len(self.branches), output.numel()
        return Ops(
            mult_adds=branches * values,
            additions=branches * values,  # (M - 1) for the sum, 1 for the pooling
            bytes_read=branches * tensor_bytes(output),
            bytes_written=tensor_bytes(output),
        )

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, dilations={self.dilations}"
