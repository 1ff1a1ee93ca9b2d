r"""Lightweight and dynamic convolution layers (Wu et al., ICLR 2019).

* :class:`LightweightConv1d` (LightConv) holds one ``K``-tap kernel per head, each
  shared by the ``C / H`` channels of its head: ``H K`` weights where a depthwise
  convolution has ``C K`` and a full one ``C^2 K``.
* :class:`DynamicLightweightConv1d` (DynamicConv) predicts the ``H`` kernels at every
  time step from the input at that step with a linear map ``C -> H K`` and convolves
  with them: the kernel changes along the sequence, at a cost linear in its length
  (self-attention's is quadratic).

Both normalise their kernels with a softmax over the taps (``weight_softmax``), so
that each output is a weighted average of its window, and can drop taps while
training (``weight_dropout``: DropConnect on the normalised kernel), as the paper
regularises them.
The convolutions are :func:`convref.functional.lightweight_conv1d` and
:func:`convref.functional.dynamic_lightweight_conv1d`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import functional
from .._checks import check_lightweight_layer_args
from ..arith import Ops
from .base import check_layer_input

__all__ = ["DynamicLightweightConv1d", "LightweightConv1d"]


class _LightweightLayer(nn.Module):
    """What the two layers share: arguments, bias, the kernels' softmax and dropout."""

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        heads: int,
        padding: str,
        weight_softmax: bool,
        weight_dropout: float,
        bias: bool,
    ) -> None:
        super().__init__()
        self.channels, self.kernel_size, self.heads, self.weight_dropout = (
            check_lightweight_layer_args(
                channels,
                kernel_size,
                heads,
                padding,
                weight_softmax,
                weight_dropout,
                bias,
            )
        )
        self.padding = padding
        self.weight_softmax = weight_softmax
        self.bias: nn.Parameter | None = (
            nn.Parameter(torch.zeros(self.channels)) if bias else None
        )

    def _normalise(self, kernels: torch.Tensor, dim: int) -> torch.Tensor:
        """Softmax over the taps (if ``weight_softmax``), then DropConnect."""
        if self.weight_softmax:
            kernels = torch.softmax(kernels, dim)
        return F.dropout(kernels, self.weight_dropout, self.training)

    def _add_bias(self, y: torch.Tensor) -> torch.Tensor:
        return y if self.bias is None else y + self.bias.view(1, -1, 1).to(y.dtype)

    def _check_input(self, x: torch.Tensor) -> None:
        check_layer_input(self, x, self.channels, ndim=3, layout="(N, C_in, L)")

    def _own_ops(self, inputs: tuple, output: torch.Tensor, affine: bool) -> Ops:
        """``K`` multiply-adds per output value, one addition per value for the bias."""
        additions = output.numel() if self.bias is not None else 0
        mult_adds = output.numel() * self.kernel_size
        return Ops.io(inputs, output, mult_adds, additions, affine=affine)

    def extra_repr(self) -> str:
        return (
            f"{self.channels}, kernel_size={self.kernel_size}, heads={self.heads}, "
            f"padding={self.padding!r}, weight_softmax={self.weight_softmax}, "
            f"weight_dropout={self.weight_dropout}, bias={self.bias is not None}"
        )


class LightweightConv1d(_LightweightLayer):
    r"""LightConv (Wu et al. 2019): depthwise 1-D convolution with ``H`` shared kernels.

    Channel ``c`` is convolved with the softmax-normalised kernel of its head
    :math:`h(c) = \lfloor c H / C \rfloor`,

    .. math::

        y[n, c, t] = b_c + \sum_{j=0}^{K-1} \mathrm{softmax}(W_{h(c)})_j \,
        x[n, c, t + j - \ell],

    with :math:`\ell` zeros on the left (``padding``), by
    :func:`convref.functional.lightweight_conv1d`.

    Parameters
    ----------
    channels : int
        ``C``, the channels of the input and of the output.
    kernel_size : int
        ``K``, taps per kernel (odd or even).
    heads : int
        ``H``, the number of kernels; it must divide ``channels``.
    padding : {"same", "causal"}
        ``"same"`` keeps the window centred; ``"causal"`` lets output ``t`` see
        inputs up to ``t`` only (a decoder's layer).
    weight_softmax : bool
        Normalise each kernel with a softmax over its taps (the paper's choice).
    weight_dropout : float
        DropConnect, in ``[0, 1)``: in training mode only, each tap of the normalised
        kernel is zeroed with this probability and the others are scaled by
        ``1 / (1 - p)``, as :func:`torch.nn.functional.dropout` does (the kernel then
        no longer sums to one); a new draw at every call, shared by the batch. In
        evaluation mode the kernel is used whole.
    bias : bool
        Whether to add a learned bias per channel (initialised to zero).

    Shape
    -----
    Input ``(N, C, L)``, output ``(N, C, L)``: the length is kept.

    Attributes
    ----------
    weight : torch.nn.Parameter
        The head kernels, shape ``(H, K)``, before the softmax. Drawn Xavier-uniform
        as a ``(H, 1, K)`` convolution weight (bound :math:`\sqrt{6 / (K + H K)}`), as
        the authors' implementation (fairseq) draws it.
    bias : torch.nn.Parameter or None
        Shape ``(C,)``.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        heads: int = 1,
        padding: str = "same",
        weight_softmax: bool = True,
        weight_dropout: float = 0.0,
        bias: bool = False,
    ) -> None:
        super().__init__(
            channels, kernel_size, heads, padding, weight_softmax, weight_dropout, bias
        )
        self.weight = nn.Parameter(torch.empty(self.heads, self.kernel_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw ``weight`` Xavier-uniform (as a ``(H, 1, K)`` kernel), zero the bias."""
        with torch.no_grad():
            nn.init.xavier_uniform_(self.weight.view(self.heads, 1, self.kernel_size))
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        kernel = self._normalise(self.weight, 1)
        y = functional.lightweight_conv1d(x, kernel, self.padding, softmax=False)
        return self._add_bias(y)

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """This call's arithmetic, for :func:`convref.arith.count`.

        ``K`` multiply-adds per output value and one addition per value for the bias;
        the softmax over ``H K`` weights is not counted. A fixed linear map of the
        input.
        """
        return self._own_ops(inputs, output, affine=True)


class DynamicLightweightConv1d(_LightweightLayer):
    r"""DynamicConv (Wu et al. 2019): LightConv with kernels predicted at every step.

    A linear map :math:`W^Q \in \mathbb{R}^{H K \times C}` (no bias, as in the
    paper's equation) turns the input at step ``t`` into ``H`` kernels of ``K`` taps,
    which are normalised and applied around ``t``:

    .. math::

        k[n, :, :, t] = \mathrm{reshape}_{H \times K}(W^Q x[n, :, t]), \qquad
        y[n, c, t] = b_c + \sum_{j=0}^{K-1} \mathrm{softmax}(k[n, h(c), :, t])_j \,
        x[n, c, t + j - \ell],

    by :func:`convref.functional.dynamic_lightweight_conv1d`. The kernel at ``t``
    depends on ``x[:, :, t]`` only; the output at ``t`` on the window around it
    (``padding``).

    Parameters
    ----------
    channels : int
        ``C``, the channels of the input and of the output.
    kernel_size : int
        ``K``, taps per kernel (odd or even).
    heads : int
        ``H``, the kernels per time step; it must divide ``channels``.
    padding : {"same", "causal"}
        ``"same"`` keeps the window centred; ``"causal"`` lets output ``t`` see
        inputs up to ``t`` only (a decoder's layer).
    weight_softmax : bool
        Normalise each predicted kernel with a softmax over its taps (the paper's
        choice).
    weight_dropout : float
        DropConnect on the normalised kernels, in ``[0, 1)``, in training mode only:
        each tap of each predicted kernel is zeroed with this probability and the
        others are scaled by ``1 / (1 - p)`` (:func:`torch.nn.functional.dropout`). In
        evaluation mode nothing is dropped.
    bias : bool
        Whether to add a learned bias per channel to the output (initialised to zero).

    Shape
    -----
    Input ``(N, C, L)``, output ``(N, C, L)``: the length is kept.

    Attributes
    ----------
    kernel_predictor : torch.nn.Linear
        ``C -> H K``, without bias, weight drawn Xavier-uniform (as the authors' code).
    bias : torch.nn.Parameter or None
        Shape ``(C,)``.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        heads: int = 1,
        padding: str = "same",
        weight_softmax: bool = True,
        weight_dropout: float = 0.0,
        bias: bool = False,
    ) -> None:
        super().__init__(
            channels, kernel_size, heads, padding, weight_softmax, weight_dropout, bias
        )
        self.kernel_predictor = nn.Linear(
            self.channels, self.heads * self.kernel_size, bias=False
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the predictor's weight Xavier-uniform; zero the bias."""
        with torch.no_grad():
            nn.init.xavier_uniform_(self.kernel_predictor.weight)
            if self.bias is not None:
                self.bias.zero_()

    def kernels(self, x: torch.Tensor) -> torch.Tensor:
        """The predicted kernels ``(N, H, K, L)`` for ``x (N, C, L)``, before softmax.

        Parameters
        ----------
        x : torch.Tensor
            Input of shape ``(N, C, L)``.

        Returns
        -------
        torch.Tensor
            Shape ``(N, H, K, L)``: ``kernels[n, :, :, t]`` is a linear function of
            ``x[n, :, t]`` alone.
        """
        logits = self.kernel_predictor(x.transpose(1, 2))  # (N, L, H K)
        logits = logits.reshape(x.shape[0], x.shape[2], self.heads, self.kernel_size)
        return logits.permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        kernels = self._normalise(self.kernels(x), 2)
        y = functional.dynamic_lightweight_conv1d(
            x, kernels.to(x.dtype), self.padding, softmax=False
        )
        return self._add_bias(y)

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """This call's arithmetic, for :func:`convref.arith.count`.

        ``K`` multiply-adds per output value with the predicted kernels and one
        addition per value for the bias. The prediction is the child module
        ``kernel_predictor``, counted as such; the softmax is not counted. Not a fixed
        linear map of the input.
        """
        return self._own_ops(inputs, output, affine=False)
