"""``nn.Module`` non-local block over :func:`convref.functional.non_local_response`."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .. import functional
from .._checks import check_non_local_options, positive_int
from ..arith import Ops
from .base import check_layer_input
from .init import pytorch_default_

__all__ = ["NonLocal2d"]


class NonLocal2d(nn.Module):
    r"""The non-local block of Wang et al. (2018), :math:`z = \mathrm{BN}(W_z y) + x`, starting as the identity.

    Published implementations differ in a few switches; each is an argument here:

    * ``sub_sample``: 2x2 max pooling of the input *before* the :math:`\phi` and :math:`g`
      projections, as in the authors' code (some re-implementations pool after them, which is
      not the same function); it divides the cost of the pairwise term by 4.
    * ``scale``: multiply :math:`\theta^\top \phi` by ``inter_channels ** -0.5`` (the official
      code's option; not in the paper's equations). Not available for ``"concatenation"``.
    * ``bn``: a BatchNorm after :math:`W_z` whose scale :math:`\gamma` starts at 0, as in the
      paper, so that the block is the identity at initialisation and can be inserted into a
      trained network. Without it, :math:`W_z` itself starts at 0 (same effect).

    Parameters
    ----------
    in_channels : int
        Channels ``C`` of the input (and output).
    inter_channels : int, optional
        Channels ``C_i`` of :math:`\theta`, :math:`\phi` and :math:`g` (default ``C // 2``, at
        least 1, the paper's bottleneck).
    mode : {"embedded_gaussian", "gaussian", "dot_product", "concatenation"}
        The pairwise function (see :func:`convref.reference.non_local_affinity`).
    sub_sample, scale, bn : bool
        See above.

    Shape
    -----
    Input and output ``(N, C, H, W)``.

    Notes
    -----
    The 1x1 projections are stored as matrices with biases
    and initialised like PyTorch's 1x1 convolutions.
    """

    def __init__(
        self,
        in_channels: int,
        inter_channels: Optional[int] = None,
        mode: str = "embedded_gaussian",
        sub_sample: bool = True,
        scale: bool = False,
        bn: bool = True,
    ) -> None:
        super().__init__()
        in_channels = positive_int("in_channels", in_channels)
        inter_channels = (
            max(1, in_channels // 2)
            if inter_channels is None
            else positive_int("inter_channels", inter_channels)
        )
        check_non_local_options(mode, sub_sample=sub_sample, scale=scale, bn=bn)
        self.in_channels, self.inter_channels, self.mode = (
            in_channels,
            inter_channels,
            mode,
        )
        self.sub_sample, self.scale = sub_sample, scale
        embed = in_channels if mode == "gaussian" else inter_channels
        if (
            mode != "gaussian"
        ):  # the Gaussian version compares the raw features: no embeddings
            self.theta_weight, self.theta_bias = self._projection(
                inter_channels, in_channels
            )
            self.phi_weight, self.phi_bias = self._projection(
                inter_channels, in_channels
            )
        else:
            self.register_parameter("theta_weight", None)
            self.register_parameter("theta_bias", None)
            self.register_parameter("phi_weight", None)
            self.register_parameter("phi_bias", None)
        self.g_weight, self.g_bias = self._projection(inter_channels, in_channels)
        self.out_weight, self.out_bias = self._projection(in_channels, inter_channels)
        if mode == "concatenation":
            self.concat_weight = nn.Parameter(torch.empty(2 * embed))
            nn.init.uniform_(
                self.concat_weight, -((2 * embed) ** -0.5), (2 * embed) ** -0.5
            )
        else:
            self.register_parameter("concat_weight", None)
        self.bn = nn.BatchNorm2d(in_channels) if bn else None
        with torch.no_grad():  # start as the identity: z = 0 + x
            if self.bn is not None:
                self.bn.weight.zero_()
            else:
                self.out_weight.zero_()
                self.out_bias.zero_()

    @staticmethod
    def _projection(
        out_features: int, in_features: int
    ) -> tuple[nn.Parameter, nn.Parameter]:
        weight = nn.Parameter(torch.empty(out_features, in_features))
        bias = nn.Parameter(torch.empty(out_features))
        pytorch_default_(weight, bias)  # as a 1x1 nn.Conv2d would be
        return weight, bias

    def response(self, x: torch.Tensor) -> torch.Tensor:
        """The non-local response ``y`` ``(N, C_i, H, W)``, before :math:`W_z`."""
        return functional.non_local_response(
            x,
            self.theta_weight,
            self.phi_weight,
            self.g_weight,
            self.mode,
            self.concat_weight,
            self.sub_sample,
            self.scale,
            theta_bias=self.theta_bias,
            phi_bias=self.phi_bias,
            g_bias=self.g_bias,
        )

    def affinity(self, x: torch.Tensor) -> torch.Tensor:
        """The explicit normalised affinity ``(N, H W, M)`` (for inspection; memory grows as ``(H W)^2``)."""
        return functional.non_local_affinity(
            x,
            self.theta_weight,
            self.phi_weight,
            self.mode,
            self.concat_weight,
            self.sub_sample,
            self.scale,
            theta_bias=self.theta_bias,
            phi_bias=self.phi_bias,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.in_channels)
        y = self.response(x)
        z = torch.matmul(self.out_weight, y.flatten(2)) + self.out_bias.view(1, -1, 1)
        z = z.view_as(x)
        if self.bn is not None:
            z = self.bn(z)
        return z + x

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        r"""The block's own arithmetic, for :func:`convref.arith.count` (its BatchNorm is a child module).

        With :math:`P = HW` positions, :math:`M` keys (:math:`P / 4` with sub-sampling) and
        :math:`C_e` embedding channels (:math:`C` for the Gaussian, else :math:`C_i`), per sample:

        * multiply-adds: the 1x1 projections, :math:`C C_i` per position (:math:`\theta` and
          :math:`W_z` at the :math:`P` positions, :math:`\phi` and :math:`g` at the :math:`M`
          keys), and the pairwise term as computed: :math:`P M (C_e + C_i)` for the Gaussian
          forms, :math:`(P + M) C_e C_i` for the regrouped dot product, and
          :math:`(P + M) (C_e + C_i)` for the concatenation (:math:`s`, :math:`t`,
          :math:`t_j g_j` and the final :math:`s_i G + T`);
        * additions: the projections' biases, the softmax's normalising sums (:math:`P M`), the
          concatenation's two prefix sums (:math:`2 M C_i`) and the residual (:math:`C P`).

        Scalings by constants, the softmax's exponentials and the sort are not counted. The
        matrix products are what PyTorch's FLOP counter counts (with the attention on its
        ``MATH`` backend), and what the chapter derives.
        """
        x = inputs[0]
        samples, channels, height, width = x.shape
        positions, inter = height * width, self.inter_channels
        keys = (height // 2) * (width // 2) if self.sub_sample else positions
        gaussian = self.mode == "gaussian"
        embed = channels if gaussian else inter
        theta_phi = (
            0 if gaussian else positions + keys
        )  # where the embeddings are computed
        projections = (
            channels * inter * (theta_phi + keys + positions)
        )  # theta, phi; g; W_z
        biases = inter * (theta_phi + keys) + channels * positions
        if self.mode in ("gaussian", "embedded_gaussian"):
            pairwise, sums = positions * keys * (embed + inter), positions * keys
        elif self.mode == "dot_product":
            pairwise, sums = (positions + keys) * embed * inter, 0
        else:
            pairwise, sums = (positions + keys) * (embed + inter), 2 * keys * inter
        residual = channels * positions
        return Ops.io(
            inputs,
            output,
            samples * (projections + pairwise),
            samples * (biases + sums + residual),
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, inter_channels={self.inter_channels}, mode={self.mode!r}, "
            f"sub_sample={self.sub_sample}, scale={self.scale}, bn={self.bn is not None}"
        )
