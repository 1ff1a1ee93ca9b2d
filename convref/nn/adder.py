"""AdderNet layers (Chen et al., CVPR 2020): filters matched by L1 distance instead of inner product.

* :class:`Adder2d` is the adder layer, with the paper's gradients and its adaptive learning
  rate, initialised as the authors' code does.
* :func:`adder_bn_relu` is the unit the paper trains: an adder layer is always followed by
  BatchNorm, because its outputs are all negative and of a scale that grows with the window.
* :func:`to_adder` turns the convolutions of an existing network into adder layers, except the
  first, which the paper keeps (as it keeps the final fully connected layer).
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

import torch
from torch import nn

from .. import functional
from .._checks import IntPair, Padding, check_adder_gradient, check_bool, check_eta
from ..arith import Ops
from .base import ConvLayer2d, check_layer_input

__all__ = ["Adder2d", "adder_bn_relu", "to_adder", "scale_adder_gradients_"]

#: When an :class:`Adder2d` scales its filter gradient by the adaptive learning rate.
SCALE_WHEN = ("backward", "on_call")


class Adder2d(ConvLayer2d):
    r"""AdderNet's adder layer: :math:`y = -\sum |x_{window} - w|` per filter, by :func:`convref.functional.adder2d`.

    Same arguments and parameter shapes as :class:`torch.nn.Conv2d`, plus the two choices of the
    paper's training: which gradient the backward pass uses, and the adaptive learning rate
    :math:`\alpha = \eta \sqrt{k} / \lVert \Delta L(F) \rVert_2` that scales this layer's filter
    gradient (:func:`convref.functional.with_adaptive_gradient`).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size, stride, dilation : int or (int, int)
        As in :class:`torch.nn.Conv2d`.
    padding : int, (int, int), ``"valid"`` or ``"same"``
        Zeros added on each side.
    groups : int
        Number of groups (the authors' code has none; here any divisor, as for a convolution).
    bias : bool
        Whether to add a learned bias. Off by default, as in the authors' code: BatchNorm follows.
    gradient : {"paper", "exact"}
        Keyword-only. The paper's full-precision / HardTanh gradients, or the exact sign gradients.
    eta : float or None
        Keyword-only. :math:`\eta` of the adaptive learning rate (0.2 in the authors' code);
        ``None`` trains with the plain gradient.
    scale_when : {"backward", "on_call"}
        Keyword-only. When the adaptive rate scales the filter gradient. ``"backward"``, as
        the authors' code does: inside the backward pass, from the gradient this process
        computed. Under :class:`~torch.nn.parallel.DistributedDataParallel` each process
        then scales its own share before the all-reduce, and the step differs from one
        process's step on the whole batch (by 7e-4 relative in the two-process test).
        ``"on_call"``: the backward pass leaves the gradient unscaled and
        :func:`scale_adder_gradients_`, called after ``loss.backward()`` (after the
        all-reduce) and before ``optimizer.step()``, scales the whole batch's gradient: the
        one-process step, on any number of processes.
    init : {"normal", "pytorch", "he", "random", "xavier"}
        Keyword-only. ``"normal"``: standard normal filters, as the authors' code draws them
        (an adder's output depends on the filters' scale relative to the input's, not on a
        fan-in rule); the others as in :class:`convref.nn.Conv2d`. Biases start at zero.

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)``, every value at most the bias.
    """

    init_schemes: ClassVar[tuple[str, ...]] = (
        "normal",
        "pytorch",
        "he",
        "random",
        "xavier",
    )

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: Padding = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = False,
        *,
        gradient: str = "paper",
        eta: Optional[float] = 0.2,
        scale_when: str = "backward",
        init: str = "normal",
    ) -> None:
        gradient = check_adder_gradient(gradient)
        eta = None if eta is None else check_eta(eta)
        if scale_when not in SCALE_WHEN:
            raise ValueError(
                f"scale_when must be one of {list(SCALE_WHEN)}, got {scale_when!r}"
            )
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            init=init,
        )
        self.gradient, self.eta, self.scale_when = gradient, eta, scale_when

    def _reset_weight_and_bias(self) -> None:
        super()._reset_weight_and_bias()
        if (
            self.bias is not None
        ):  # zero whatever the scheme (also "pytorch"): BatchNorm follows an adder
            nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_layer_input(self, x, self.in_channels)
        weight = (
            functional.with_adaptive_gradient(self.weight, self.eta)
            if self.eta is not None and self.scale_when == "backward"
            else self.weight
        )
        return functional.adder2d(
            x,
            weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.gradient,
        )

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """This call's arithmetic, for :func:`convref.arith.count`: no multiplication at all.

        Two additions per term :math:`|x - w|` (the subtraction and the accumulation; the
        absolute value clears a sign bit), as Chen et al. count them
        (:func:`convref.arith.adder_op_count`), and one per output value for the bias. Not
        ``affine``: a BatchNorm after it cannot fold into filters that sit inside an absolute value.
        """
        additions = 2 * self._weight_products(inputs[0], output) + self._bias_additions(
            output
        )
        return Ops.io(inputs, output, additions=additions)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        fields = [("gradient", self.gradient), ("eta", self.eta)]
        if self.scale_when != "backward":
            fields.append(("scale_when", self.scale_when))
        return [*super()._repr_fields(), *fields]


def scale_adder_gradients_(model: nn.Module) -> int:
    """Scale the filter gradients of ``model``'s ``scale_when="on_call"`` adder layers.

    Each such :class:`Adder2d` with an ``eta`` gets ``weight.grad`` multiplied by
    :func:`convref.functional.adder_adaptive_scale` of itself. Call it between
    ``loss.backward()`` and ``optimizer.step()``; under DistributedDataParallel the
    gradients are all-reduced by then, so every process scales the whole batch's gradient
    and takes the step one process would take on the whole batch.

    Parameters
    ----------
    model : torch.nn.Module
        The model (or a DistributedDataParallel wrapper of it).

    Returns
    -------
    int
        How many layers' gradients were scaled (a layer without a gradient is skipped).
    """
    scaled = 0
    for layer in model.modules():
        if (
            isinstance(layer, Adder2d)
            and layer.scale_when == "on_call"
            and layer.eta is not None
            and layer.weight.grad is not None
        ):
            grad = layer.weight.grad
            grad.mul_(functional.adder_adaptive_scale(grad, layer.eta))
            scaled += 1
    return scaled


def adder_bn_relu(
    in_channels: int,
    out_channels: int,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: Padding = 0,
    groups: int = 1,
    *,
    eta: Optional[float] = 0.2,
    relu: bool = True,
) -> nn.Sequential:
    """The unit AdderNet trains: :class:`Adder2d` (no bias), BatchNorm, then ReLU.

    BatchNorm is not optional for an adder layer: its raw outputs are negative distances of
    order ``-C_in k^2`` times the input's spread, which a ReLU would zero out entirely.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    kernel_size, stride, padding, groups
        As in :class:`Adder2d`.
    eta : float or None
        Keyword-only. As in :class:`Adder2d`.
    relu : bool
        Keyword-only. Whether to end with a ReLU (a residual block's second unit has none before the sum).

    Returns
    -------
    torch.nn.Sequential
    """
    layers: list[nn.Module] = [
        Adder2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            groups=groups,
            eta=eta,
        ),
        nn.BatchNorm2d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def to_adder(
    model: nn.Module, *, eta: Optional[float] = 0.2, keep_first: bool = True
) -> nn.Module:
    """Replace the ``torch.nn.Conv2d`` layers of ``model`` by :class:`Adder2d` layers of the same geometry.

    The paper keeps the first convolution (it sees raw pixels) and the last, fully connected
    layer as they are; ``keep_first`` does the first, and linear layers are never touched.
    The new layers start from the adder initialisation, not from the old weights (an inner
    product's filters mean nothing to an L1 distance). Each replaced convolution should be
    followed by BatchNorm, as in ResNets; this is not checked.

    Parameters
    ----------
    model : torch.nn.Module
        Modified in place.
    eta : float or None
        Keyword-only. Passed to every :class:`Adder2d`.
    keep_first : bool
        Keyword-only. Leave the first convolution (in ``model.modules()`` order) as it is.

    Returns
    -------
    torch.nn.Module
        ``model`` itself.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_bool("keep_first", keep_first)
    eta = None if eta is None else check_eta(eta)
    convolutions = [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if type(child) is nn.Conv2d
    ]
    for index, (parent, name, conv) in enumerate(convolutions):
        if keep_first and index == 0:
            continue
        if conv.padding_mode != "zeros":
            raise ValueError(
                f"{name} pads with {conv.padding_mode!r}; Adder2d pads with zeros only"
            )
        adder = Adder2d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
            bias=conv.bias is not None,
            eta=eta,
        ).to(device=conv.weight.device, dtype=conv.weight.dtype)
        setattr(parent, name, adder)
    return model
