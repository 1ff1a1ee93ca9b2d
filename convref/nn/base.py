"""The base of the convolution-shaped layers, as :class:`torch.nn.modules.conv._ConvNd` is PyTorch's.

Every layer that holds a ``(C_out, C_in / groups, kh, kw)`` kernel (or ``K`` of them, or the
transposed ``(C_in, C_out / groups, kh, kw)`` one) gets the same argument checks, the same
parameters, the same initialisation schemes and the same ``repr`` from :class:`ConvLayer2d`;
a subclass adds its own options, parameters and ``forward``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, ClassVar, Optional

import torch
from torch import nn

from .._checks import (
    IntPair,
    Padding,
    check_array,
    check_bool,
    check_layer_channels,
    int_pair,
    padding_amounts,
    positive_int,
)
from ..arith import Ops
from ..functional._precision import autocast_dtype
from .init import bilinear_, init_weight_, pytorch_default_

__all__ = ["ConvLayer2d", "check_layer_input"]


def check_layer_input(
    layer: nn.Module,
    x: Any,
    channels: Optional[int],
    *,
    ndim: int = 4,
    layout: str = "(N, C_in, H, W)",
) -> None:
    """Refuse an input the layer cannot take, before any PyTorch operation runs.

    The layers' own message for each mistake, naming the layer, ``x``, what it expected
    and what it got, where PyTorch's would come from deep inside (a matrix product, a
    reshape, a weight that "must be C_in / groups").

    Parameters
    ----------
    layer : torch.nn.Module
        The layer (its class name opens every message; its first parameter gives the
        device and dtype ``x`` must share).
    x : Any
        The input.
    channels : int or None
        The channels ``x`` must have (dimension 1); ``None`` takes any number.
    ndim : int
        The dimensions ``x`` must have: 4 for ``(N, C, H, W)``, 3 for ``(N, C, L)``.
    layout : str
        The shape ``x`` must have, as the messages write it.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point :class:`torch.Tensor`, or (outside
        :class:`torch.autocast`) its dtype is not the layer's.
    ValueError
        If ``x`` has the wrong number of dimensions or channels, or is on another device
        than the layer's parameters.
    """
    name = type(layer).__name__
    try:
        check_array("x", x, torch.Tensor, ndim, layout)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{name}: {error}") from None
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{name}: x must have {channels} channels, the layer's input channels,"
            f" got shape {tuple(x.shape)}"
        )
    parameter = next(layer.parameters(), None)
    if parameter is None:
        return
    if x.device != parameter.device:
        raise ValueError(
            f"{name}: x is on {x.device}, the layer's parameters on {parameter.device};"
            " move the input or the layer with .to(device)"
        )
    if x.dtype != parameter.dtype and autocast_dtype(x.device.type) is None:
        raise TypeError(
            f"{name}: x has dtype {x.dtype}, the layer's parameters {parameter.dtype};"
            f" convert one of them (x.to({parameter.dtype}) or layer.to({x.dtype})),"
            " or run under torch.autocast"
        )


#: How each ``init`` scheme other than ``"pytorch"`` fills one kernel; the bias then
#: starts at zero. (``"pytorch"`` draws weight and bias together, by
#: :func:`convref.nn.init.pytorch_default_`.)
WEIGHT_FILLS: MappingProxyType[str, Callable[[torch.Tensor], Any]] = MappingProxyType(
    {
        "he": lambda weight: init_weight_(weight, "he"),
        "random": lambda weight: init_weight_(weight, "random"),
        "xavier": lambda weight: init_weight_(weight, "xavier"),
        "normal": lambda weight: nn.init.normal_(
            weight, 0.0, 1.0
        ),  # AdderNet's filters
        "bilinear": bilinear_,  # FCN's upsampling filters, for a transposed layer
    }
)


class ConvLayer2d(nn.Module):
    r"""The base of convref's 2-D convolution-shaped layers: checks, parameters, initialisation, ``repr``.

    What :class:`torch.nn.modules.conv._ConvNd` is to PyTorch's convolutions:
    :class:`~convref.nn.Conv2d`, :class:`~convref.nn.ConvTranspose2d`,
    :class:`~convref.nn.KernelMixtureConv2d` (CondConv, DY-CNN), :class:`~convref.nn.DeformConv2d`,
    :class:`~convref.nn.DCN2d`, :class:`~convref.nn.ActiveConv2d`, :class:`~convref.nn.DclsConv2d`
    and :class:`~convref.nn.Adder2d` are subclasses. It refuses bad arguments when the layer is
    built, with the messages of :mod:`convref.functional` (a ``ValueError`` or ``TypeError``
    naming the argument), creates ``weight`` and ``bias``, and draws them with the scheme
    ``init``. A subclass adds its ``forward`` and any options and parameters of its own,
    extends :meth:`reset_parameters` for the parameters it adds, and ``_repr_fields`` (the
    ``(name, value)`` pairs of the ``repr``) for its options.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output; ``groups`` must divide both.
    kernel_size, stride, dilation : int or (int, int)
        As in :class:`torch.nn.Conv2d`.
    padding : int, (int, int), ``"valid"`` or ``"same"``
        As in :class:`torch.nn.Conv2d`; a transposed layer takes an int or a pair only.
    groups : int
        Number of groups.
    bias : bool
        Whether to add a learned bias.
    num_kernels : int, optional
        Keyword-only. ``K``: hold ``K`` kernels (and biases), for the layers that mix them per
        sample; ``None`` holds one.
    init : str
        Keyword-only. How ``weight`` and ``bias`` are drawn; one of the class's
        :attr:`init_schemes`. ``"pytorch"`` is PyTorch's own default, draw for draw
        (:func:`convref.nn.init.pytorch_default_`); ``"random"``, ``"xavier"`` and ``"he"``
        are the Gaussian schemes of :mod:`convref.nn.init`, ``"normal"`` standard normal
        values and ``"bilinear"`` FCN's upsampling filters. Outside ``"pytorch"`` the bias
        starts at zero. With ``K`` kernels each is drawn as one layer's kernel would be.

    Attributes
    ----------
    weight : torch.nn.Parameter
        ``(C_out, C_in / groups, kh, kw)``; ``(C_in, C_out / groups, kh, kw)`` when
        :attr:`transposed`; with a leading ``K`` axis when ``num_kernels`` is given.
    bias : torch.nn.Parameter or None
        ``(C_out,)``, or ``(K, C_out)``.
    kernel_size, stride, dilation : (int, int)
        The checked pairs.
    padding : int, (int, int) or str
        As given (a checked pair when :attr:`transposed`).
    init_schemes : tuple of str
        Class attribute: the schemes ``init`` may name (the first is the usual default).
    transposed : bool
        Class attribute: whether the weight is stored ``(C_in, C_out / groups, kh, kw)``, as
        :class:`torch.nn.ConvTranspose2d` stores it.

    Shape
    -----
    Set by the subclass; input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)``.
    """

    init_schemes: ClassVar[tuple[str, ...]] = ("pytorch", "he", "random", "xavier")
    transposed: ClassVar[bool] = False

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
        num_kernels: Optional[int] = None,
        init: str = "pytorch",
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.groups = check_layer_channels(
            in_channels, out_channels, groups
        )
        self.kernel_size = int_pair("kernel_size", kernel_size, minimum=1)
        self.stride = int_pair("stride", stride, minimum=1)
        self.dilation = int_pair("dilation", dilation, minimum=1)
        self.padding = self._check_padding(padding)
        check_bool("bias", bias)
        self.num_kernels = (
            None if num_kernels is None else positive_int("num_kernels", num_kernels)
        )
        self.init = init
        channels = (
            (self.in_channels, self.out_channels)
            if self.transposed
            else (self.out_channels, self.in_channels)
        )
        kernel_shape = (channels[0], channels[1] // self.groups, *self.kernel_size)
        kernels = () if self.num_kernels is None else (self.num_kernels,)
        self.weight = nn.Parameter(torch.empty(*kernels, *kernel_shape))
        if bias:
            self.bias = nn.Parameter(torch.empty(*kernels, self.out_channels))
        else:
            self.register_parameter("bias", None)
        # the base's own parameters only: a subclass initialises those it adds after
        # this returns
        self._reset_weight_and_bias()

    @property
    def init(self) -> str:
        """The scheme :meth:`reset_parameters` draws ``weight`` and ``bias`` with (checked when set)."""
        return self._init

    @init.setter
    def init(self, value: str) -> None:
        self._init = self._check_init(value)

    def _check_init(self, init: Any) -> str:
        """Return ``init`` if the class offers it (a subclass may add conditions)."""
        if init not in self.init_schemes:
            raise ValueError(
                f"init must be one of {list(self.init_schemes)}, got {init!r}"
            )
        return init

    def _check_padding(self, padding: Any) -> Padding:
        if self.transposed:  # PyTorch's transposed layers take no "same" or "valid"
            return int_pair("padding", padding, minimum=0)
        # refuse a bad padding now (as torch.nn.Conv2d does), with functional.conv2d's
        # message
        padding_amounts(padding, self.kernel_size, self.dilation, self.stride)
        return padding

    def _reset_weight_and_bias(self) -> None:
        """Draw ``weight`` and ``bias`` with :attr:`init`, kernel by kernel."""
        weights = self.weight.detach()  # in-place draws on the parameters' storage
        biases = None if self.bias is None else self.bias.detach()
        if self.num_kernels is None:
            weights, biases = weights[None], None if biases is None else biases[None]
        for k in range(weights.shape[0]):
            bias = None if biases is None else biases[k]
            if self.init == "pytorch":
                pytorch_default_(weights[k], bias)
                continue
            WEIGHT_FILLS[self.init](weights[k])
            if bias is not None:
                bias.zero_()

    def reset_parameters(self) -> None:
        """Draw the parameters again, ``weight`` and ``bias`` with the scheme :attr:`init`.

        A subclass that adds parameters extends this to reset them too (to the values a new
        layer starts from).
        """
        self._reset_weight_and_bias()

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True):
        """Apply ``fn`` as :class:`torch.nn.Module` does, to stacks of kernels too.

        ``module.to(memory_format=torch.channels_last)`` converts every 4-D (and 5-D)
        tensor, and a 5-D one cannot take the 2-D format: a stack of ``K`` kernels
        ``(K, C_out, C_in / groups, kh, kw)`` (CondConv, DY-CNN) or DCLS's positions would
        make the whole model's conversion fail. Such a tensor is given to ``fn`` as the 4-D
        ``(K * C_out, C_in / groups, kh, kw)`` view that it is, kernel by kernel, and shaped
        back: every kernel gets the format, as a convolution's weight does.
        """

        def per_kernel(tensor: torch.Tensor) -> torch.Tensor:
            if tensor.dim() != 5:
                return fn(tensor)
            return fn(tensor.flatten(0, 1)).unflatten(0, tensor.shape[:2])

        return super()._apply(per_kernel, recurse)

    def count_ops(self, inputs: tuple, output: torch.Tensor) -> Ops:
        """This call's arithmetic, for :func:`convref.arith.count`: the convolution and its bias.

        One multiply-add per weight of one kernel per output position (per *input* position
        when :attr:`transposed`), one addition per output value for the bias. A subclass that
        computes more (sampling, kernel mixing) or otherwise (adder) extends or replaces it.
        """
        products = self._weight_products(inputs[0], output)
        return Ops.io(
            inputs, output, products, self._bias_additions(output), affine=True
        )

    def _weight_products(self, x: torch.Tensor, output: torch.Tensor) -> int:
        """Multiply-adds of one kernel over the call: (samples x positions) x the weights of one kernel."""
        side, channels = (
            (x, self.in_channels) if self.transposed else (output, self.out_channels)
        )
        return (
            side.numel() // channels * (self.weight.numel() // (self.num_kernels or 1))
        )

    def _bias_additions(self, output: torch.Tensor) -> int:
        return output.numel() if self.bias is not None else 0

    def _repr_fields(self) -> list[tuple[str, Any]]:
        """The ``(name, value)`` pairs that :meth:`extra_repr` shows after the channels."""
        fields: list[tuple[str, Any]] = [
            ("kernel_size", self.kernel_size),
            ("stride", self.stride),
            ("padding", self.padding),
            ("dilation", self.dilation),
            ("groups", self.groups),
            ("bias", self.bias is not None),
        ]
        if self.num_kernels is not None:
            fields.append(("num_kernels", self.num_kernels))
        return fields

    def extra_repr(self) -> str:
        named = ", ".join(f"{name}={value!r}" for name, value in self._repr_fields())
        return f"{self.in_channels}, {self.out_channels}, {named}"
