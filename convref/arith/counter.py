r"""One cost counter for whole models: parameters, multiply-adds, additions and activation bytes per layer.

:func:`count` runs the model once on a real input, with a forward hook on every module, and
gives one row per layer call and their total. Shapes come from the tensors the layers actually
receive and produce, so strides, paddings, dilations and data-dependent sizes need no
bookkeeping.

.. rubric:: Which modules make a row

* PyTorch's layers in the rule table ``convref.arith.torch_rules.RULES`` (convolutions and transposed
  convolutions, linear layers, pooling, normalisation, upsampling and the usual
  activations), counted by the rule for their type;
* any module with a method ``count_ops(inputs, output) -> Ops`` (every convref layer), where
  ``inputs`` holds the forward call's positional arguments followed by the values of its
  keyword arguments: it returns the arithmetic of its *own* forward code, not of its child
  modules, which the walker counts itself through their own hooks;
* any other module that holds parameters of its own: a row with its parameters and no
  operations, marked ``counted=False`` (see :attr:`Count.uncounted`), so that a layer the
  counter does not know is visible instead of silently free.

Containers (``Sequential``, blocks whose work is all in their children) make no row; views
(``Flatten``, ``Identity``, ``Dropout`` in evaluation mode) neither. Work done in a forward
method outside any layer (a residual ``x + y`` in a plain ``nn.Module``) is not counted.

.. rubric:: What is counted

``mult_adds``
    Multiply-accumulates ``acc += a * b``: one per weight per output position of a
    convolution or linear layer (the bias is not part of it), one per term of a matrix
    product (attention), four per bilinearly sampled value (deformable sampling, bilinear
    upsampling), ``K`` per mixed kernel entry (CondConv, DY-CNN), one per element for a
    scale-and-shift (BatchNorm with stored statistics). A product of two tensors without an
    accumulation (a gate) counts as one too; a scaling by a constant (a mean's division,
    attention's :math:`1/\sqrt{d}`, a softmax temperature) does not. On the convolution, linear
    and matrix-product parts this is exactly the FLOPs of
    :class:`torch.utils.flop_counter.FlopCounterMode` divided by 2, the convention of the
    papers ("multiply-adds", "MACs"); a transposed convolution costs
    :math:`N C_{in} H_{in} W_{in} (C_{out}/G) k_h k_w`, its *input* positions times its weights.
``additions``
    Additions and subtractions that are not part of a multiply-add: the bias (one per output
    element), AdderNet's :math:`|x - w|` terms (two each, subtract and accumulate, as Chen et
    al. count them), sums of pooling windows and means (one per value summed; the division by
    the count is not counted), residual and branch sums (one per element per extra operand),
    and the mean and centring of statistics computed from the input (GroupNorm, LayerNorm,
    BatchNorm in training).
``bytes_read``, ``bytes_written``
    Activation bytes that the layer's own computation reads and writes, each tensor once (an
    ideal implementation, as :func:`convref.arith.conv_memory_traffic`; padding zeros are not
    stored). Parameters are not included: ``params`` times their element size adds them.

Comparisons (max pooling, ReLU), transcendental functions (exp, sigmoid, softmax's
exponentials) and per-channel or per-group scalars (a normalisation's reciprocal square
roots) are not counted. The model runs in evaluation mode without gradients (the inference
cost; every module's mode is restored afterwards). All counts are for the whole batch given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

import torch
from torch import nn

from .._checks import check_bool
from .layer_ops import Ops, _first, _tensors
from .report import Count, LayerCount
from .torch_rules import RULES

__all__ = ["count"]


def _rule_for(module: nn.Module) -> Optional[Callable[[Any, tuple, Any], Ops]]:
    """The module's own ``count_ops`` if it has one, else the rule for its type, else None."""
    method = getattr(module, "count_ops", None)
    if callable(method):
        return lambda _, inputs, output: method(inputs, output)
    return next((RULES[cls] for cls in type(module).__mro__ if cls in RULES), None)


# ---------------------------------------------------------------------------
# The walker
# ---------------------------------------------------------------------------


@dataclass
class _Walk:
    """The state of one :func:`count` call (kept here, not at module level)."""

    fold_batch_norm: bool
    names: dict[int, str]
    rows: list[Optional[LayerCount]] = field(default_factory=list)
    slots: dict[int, list[int]] = field(
        default_factory=dict
    )  # id(module) -> slots of its calls in progress
    counted_params: set[int] = field(
        default_factory=set
    )  # ids of parameters in a row already (shared ones once)
    last_affine_output: Optional[torch.Tensor] = None

    def new_params(self, module: nn.Module) -> tuple[int, int]:
        """(parameters the module holds itself, those of them not in a row yet), and mark them counted."""
        own = list(module.parameters(recurse=False))
        new = [p for p in own if id(p) not in self.counted_params]
        self.counted_params.update(id(p) for p in own)
        return sum(p.numel() for p in own), sum(p.numel() for p in new)

    def before(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        # reserve the row now so that rows come in call order (a block before its
        # layers)
        self.slots.setdefault(id(module), []).append(len(self.rows))
        self.rows.append(None)

    def after(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        slot = self.slots[id(module)].pop()
        inputs = (
            *args,
            *kwargs.values(),
        )  # an argument passed by keyword is read all the same
        own, params = self.new_params(module)
        rule = _rule_for(module)
        if rule is None and own == 0:
            return  # a container or a view: its children (if any) have their own rows
        first = next(iter(_tensors(output)), None)
        shape = tuple(first.shape) if first is not None else ()
        name = self.names.get(id(module), type(module).__name__)
        if rule is None:
            self.rows[slot] = LayerCount(
                name,
                type(module),
                shape,
                params,
                0,
                0,
                0,
                0,
                counted=False,
                note="no rule for this layer type: operations not counted",
            )
            return
        ops = rule(module, inputs, output)
        if not isinstance(ops, Ops):
            raise TypeError(
                f"{type(module).__name__}.count_ops must return an arith.Ops, got {type(ops).__name__}"
            )
        note = ""
        if self.fold_batch_norm and isinstance(module, nn.modules.batchnorm._BatchNorm):
            # as deployed: stored statistics, a scale and shift that fold into an affine
            # layer before it
            ops = Ops.io(inputs, output, mult_adds=output.numel())
            if (
                self.last_affine_output is not None
                and _first(inputs) is self.last_affine_output
            ):
                ops, note = Ops(), "folded into the layer before"
        # only the very next layer may fold into an affine one (an in-place ReLU returns
        # the same tensor)
        self.last_affine_output = first if ops.affine else None
        self.rows[slot] = LayerCount(
            name,
            type(module),
            shape,
            params,
            ops.mult_adds,
            ops.additions,
            ops.bytes_read,
            ops.bytes_written,
            note=note,
        )

    def not_called(self, model: nn.Module) -> list[LayerCount]:
        """Rows for the modules whose parameters no call counted (used through ``.weight``, or never run)."""
        rows = []
        for name, module in model.named_modules():
            _, params = self.new_params(module)
            if params:
                rows.append(
                    LayerCount(
                        name,
                        type(module),
                        (),
                        params,
                        0,
                        0,
                        0,
                        0,
                        counted=False,
                        note="not called in the forward pass: parameters only",
                    )
                )
        return rows


def count(
    model: nn.Module,
    x: Union[torch.Tensor, Sequence[torch.Tensor]],
    *,
    fold_batch_norm: bool = False,
) -> Count:
    r"""Parameters, multiply-adds, additions and activation bytes of every layer of ``model`` on ``x``.

    The model runs once, in evaluation mode and without gradients, with a forward hook on
    each of its modules; every module's mode is restored afterwards. What each quantity
    counts, and which modules make a row, is set out in :mod:`convref.arith.counter`.

    Parameters
    ----------
    model : torch.nn.Module
        Any model; convref layers count themselves (``count_ops``), PyTorch's by
        the rule table ``convref.arith.torch_rules.RULES``.
    x : torch.Tensor or sequence of torch.Tensor
        The input, e.g. ``(N, C, H, W)``; a tuple or list is passed as positional arguments
        (``model(*x)``). Counts are for this whole batch.
    fold_batch_norm : bool
        Count every BatchNorm as inference deploys it: with stored statistics (one multiply-add
        per element, even where the model normalises with the batch's statistics), and free
        where it directly follows a convolution or linear layer (an output with
        ``Ops.affine``), whose weights and bias absorb its scale and shift. An adder layer's
        filters do not (they sit inside an absolute value).

    Returns
    -------
    Count
        ``rows`` per layer call and the totals (``params``, ``mult_adds``, ``additions``,
        ``bytes_read``, ``bytes_written``); ``print`` it for a table.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
    >>> result = count(net, torch.zeros(1, 3, 32, 32))
    >>> result.params, result.mult_adds  # 8 * 3 * 3 * 3 weights at 32 * 32 positions, + BN's 16
    (232, 229376)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_bool("fold_batch_norm", fold_batch_norm)
    args = (
        (x,)
        if isinstance(x, torch.Tensor)
        else tuple(x)
        if isinstance(x, (tuple, list))
        else ()
    )
    if not _tensors(args):
        raise TypeError(
            f"x must be a torch.Tensor or a sequence of them, got {type(x).__name__}"
        )
    walk = _Walk(fold_batch_norm, {id(m): name for name, m in model.named_modules()})
    modes = [(module, module.training) for module in model.modules()]
    handles = []
    try:
        for module in model.modules():
            handles.append(
                module.register_forward_pre_hook(walk.before, with_kwargs=True)
            )
            handles.append(module.register_forward_hook(walk.after, with_kwargs=True))
        model.eval()
        with torch.no_grad():
            model(*args)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training
    rows = [row for row in walk.rows if row is not None] + walk.not_called(model)
    first = _tensors(args)[0]
    return Count(tuple(rows), batch=int(first.shape[0]) if first.dim() else 1)
