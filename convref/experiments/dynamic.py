"""Chapter "Dynamic convolution": the source article's layer, small dynamic networks, their attention.

:class:`SourceDynamicConv2d` re-states the source article's "dynamic" layer with its flaws;
:func:`dynamic_classifier` builds the same network with static, DY-CNN, CondConv or
selective-kernel layers; :func:`anneal_temperature` runs DY-CNN's temperature schedule inside
any training loop; :func:`dynamic_attention` reads the attention each layer computes, and
:func:`freeze_attention` replaces every kernel mixture by its average kernel.
For sequences, :func:`pointer_sequences` generates a task in which one token says where to
look, :func:`negation_sequences` sentences of varying length whose label a nearby "not" flips,
and :class:`SequenceClassifier` solves it with a depthwise, lightweight or dynamic
1-D convolution (Wu et al. 2019).
"""

from __future__ import annotations

import copy
from typing import Union

import numpy as np
import torch

from .._checks import positive_int
from ..nn import (
    CondConv2d,
    DynamicConv2d,
    DynamicLightweightConv1d,
    LightweightConv1d,
    SelectiveKernel2d,
    temperature_schedule,
)
from .training import check_seed, run_hooked, use_batch_statistics

__all__ = [
    "SourceDynamicConv2d",
    "DYNAMIC_CLASSIFIER_KINDS",
    "dynamic_classifier",
    "anneal_temperature",
    "dynamic_attention",
    "freeze_attention",
    "shuffle_attention",
    "pointer_sequences",
    "NEGATION_TOKENS",
    "negation_sequences",
    "SEQUENCE_CLASSIFIER_KINDS",
    "SequenceClassifier",
]


class SourceDynamicConv2d(torch.nn.Module):
    r"""The "dynamic convolution" layer of the source article ``001``, re-stated (imports fixed), flaws kept.

    The article presents this layer as an attention-based convolution that adapts to its input.
    What it computes is

    .. math::

        y = \bigl(s \odot W\bigr) * x + b, \qquad s = \operatorname{softmax}(\alpha) \in \mathbb{R}^{C_{out}},

    where :math:`\alpha` is a learned vector with one entry per output channel (initialised to
    zero) and :math:`s_o` multiplies every weight of output channel :math:`o`. Nothing in it
    depends on ``x``: it is an ordinary convolution with rescaled kernels. The flaws, kept on
    purpose so that the book can show them:

    * the "attention" :math:`\alpha` is a constant, so the layer is static;
    * the softmax runs over the output channels, so the scales are positive and sum to one:
      at initialisation every kernel is divided by ``C_out``, and training can only move
      weight from one channel to another;
    * a constant per-channel scale is absorbed by a BatchNorm that follows the layer, which
      then leaves :math:`\alpha` (almost) no gradient;
    * the weight has ``C_in`` input channels whatever ``groups`` is, so ``groups > 1`` fails
      in the forward pass;
    * ``bias=False`` stores the flag ``False`` where the bias parameter would be, and the
      forward pass then hands ``bias=False`` to ``conv2d``, which raises a ``TypeError``;
      ``bias=True`` replaces the flag by a parameter initialised to zero.

    The weight gets PyTorch's default initialisation of a convolution (Kaiming-uniform with
    ``a = sqrt(5)``). This class is not meant to be used; the real dynamic layers are
    :class:`convref.nn.DynamicConv2d` and :class:`convref.nn.CondConv2d`.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size : int
        Side of the square kernel.
    stride, padding, dilation, groups
        Passed to :func:`torch.nn.functional.conv2d` as they are.
    bias : bool
        See above.

    Shape
    -----
    Input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` as for
    :func:`torch.nn.functional.conv2d` with the same arguments.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = (
            in_channels,
            out_channels,
            kernel_size,
        )
        self.stride, self.padding, self.dilation, self.groups = (
            stride,
            padding,
            dilation,
            groups,
        )
        self.weight = torch.nn.Parameter(
            torch.empty(out_channels, in_channels, kernel_size, kernel_size)
        )
        torch.nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.attention = torch.nn.Parameter(
            torch.zeros(1, out_channels, 1, 1)
        )  # one constant per output channel
        self.bias = bias  # a flag for now ...
        if bias:
            self.bias = torch.nn.Parameter(
                torch.zeros(out_channels)
            )  # ... replaced by a parameter

    def channel_scales(self) -> torch.Tensor:
        """The factor ``softmax(attention)`` of each output channel's kernel, shape ``(C_out,)``; the same for every input."""
        return torch.softmax(self.attention, dim=1).reshape(self.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self.channel_scales().reshape(-1, 1, 1, 1)
        return torch.nn.functional.conv2d(
            x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


#: The layer kinds that :func:`dynamic_classifier` builds its last three convolutions
#: from.
DYNAMIC_CLASSIFIER_KINDS = ("static", "dynamic", "condconv", "selective")


def dynamic_classifier(
    kind: str = "dynamic",
    width: int = 8,
    classes: int = 4,
    num_kernels: int = 4,
    dilations: tuple[int, ...] = (1, 2),
) -> torch.nn.Sequential:
    """A small CNN for the 24x24 images of :mod:`convref.data` whose last three 3x3 convolutions are of ``kind``.

    The layout of :func:`shape_classifier`: ``1 -> w`` (always an ordinary convolution: the
    global average of a one-channel image is a single number, too little for an attention to
    work from), then ``w -> 2w`` (stride 2), ``2w -> 2w`` and ``2w -> 4w`` (stride 2) of
    ``kind``, each followed by BatchNorm and ReLU, then global average pooling and a linear
    layer. The multiply-adds of the convolutions are the same for every kind, except
    ``"selective"``, whose two branches cost twice as much; the parameters of ``"dynamic"`` and
    ``"condconv"`` are about ``num_kernels`` times those of ``"static"``.

    Every BatchNorm uses the statistics of the current batch in evaluation too (as in
    :func:`shape_classifier`: after seconds of training, running averages lag behind the
    weights). So an evaluation batch must mix inputs as the training batches did: a batch of
    only large objects is normalised as if they were of average size.

    Parameters
    ----------
    kind : {"static", "dynamic", "condconv", "selective"}
        ``torch.nn.Conv2d``; :class:`convref.nn.DynamicConv2d` (``temperature`` 1; see
        :func:`anneal_temperature`); :class:`convref.nn.CondConv2d`; or
        :class:`convref.nn.SelectiveKernel2d` (its branches carry their own BatchNorm and ReLU,
        and its squeeze has length ``max(C_out / 4, 8)``).
    width : int
        Channels of the first layer ``w``.
    classes : int
        Number of outputs.
    num_kernels : int
        ``K`` of the dynamic and CondConv layers.
    dilations : tuple of int
        The branches of the selective-kernel layers.

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, 1, H, W)`` to logits ``(N, classes)``.
    """
    if kind not in DYNAMIC_CLASSIFIER_KINDS:
        raise ValueError(
            f"kind must be one of {DYNAMIC_CLASSIFIER_KINDS}, got {kind!r}"
        )
    width = positive_int("width", width)
    classes = positive_int("classes", classes)
    num_kernels = positive_int("num_kernels", num_kernels)

    def block(c_in: int, c_out: int, layer_kind: str, stride: int = 1) -> list:
        if layer_kind == "selective":  # BatchNorm and ReLU are inside each branch
            return [
                SelectiveKernel2d(
                    c_in, c_out, stride, dilations, reduction=4, min_hidden=8
                )
            ]
        if layer_kind == "static":
            conv = torch.nn.Conv2d(
                c_in, c_out, 3, stride, 1, bias=False
            )  # BN follows: no bias
        elif layer_kind == "dynamic":
            conv = DynamicConv2d(
                c_in,
                c_out,
                3,
                stride,
                1,
                bias=False,
                num_kernels=num_kernels,
                temperature=1.0,
            )
        else:
            conv = CondConv2d(
                c_in, c_out, 3, stride, 1, bias=False, num_kernels=num_kernels
            )
        return [conv, torch.nn.BatchNorm2d(c_out), torch.nn.ReLU()]

    model = torch.nn.Sequential(
        *block(1, width, "static"),
        *block(width, 2 * width, kind, stride=2),
        *block(2 * width, 2 * width, kind),
        *block(2 * width, 4 * width, kind, stride=2),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * width, classes),
    )
    return use_batch_statistics(model)


def anneal_temperature(
    model: torch.nn.Module,
    steps_per_epoch: int,
    start: float = 30.0,
    end: float = 1.0,
    epochs: float = 10.0,
) -> "torch.utils.hooks.RemovableHandle":
    """Lower the temperature of every :class:`convref.nn.DynamicConv2d` in ``model`` step by step, as DY-CNN does.

    Registers a forward pre-hook on ``model``: each forward pass in training mode counts one
    optimisation step and first sets every layer's temperature to
    :func:`convref.nn.temperature_schedule` at epoch ``step / steps_per_epoch``. In evaluation
    mode the temperature is left as it is (``end`` once the annealing is over). This works with
    any training loop, :func:`train_classifier` included.

    Parameters
    ----------
    model : torch.nn.Module
        A network containing :class:`convref.nn.DynamicConv2d` layers.
    steps_per_epoch : int
        Mini-batches per epoch (``ceil(training samples / batch size)``).
    start, end, epochs : float
        The schedule: from ``start`` to ``end`` over ``epochs`` epochs (30, 1 and 10 in the paper).

    Returns
    -------
    torch.utils.hooks.RemovableHandle
        Call ``.remove()`` to stop the annealing.
    """
    steps_per_epoch = positive_int("steps_per_epoch", steps_per_epoch)
    layers = [m for m in model.modules() if isinstance(m, DynamicConv2d)]
    if not layers:
        raise ValueError("model has no DynamicConv2d layer")
    temperature_schedule(
        0.0, start, end, epochs
    )  # refuse a bad schedule now, not at the first step
    for layer in layers:
        layer.temperature = start
    steps = [0]

    def before_forward(module: torch.nn.Module, _: tuple) -> None:
        if module.training:
            value = temperature_schedule(steps[0] / steps_per_epoch, start, end, epochs)
            for layer in layers:
                layer.temperature = value
            steps[0] += 1

    return model.register_forward_pre_hook(before_forward)


def dynamic_attention(
    model: torch.nn.Module, images: Union[np.ndarray, torch.Tensor]
) -> list[np.ndarray]:
    """The attention of every dynamic layer of ``model`` on ``images``, from one forward pass.

    Hooks record each layer's input; the attention is then what the layer computes from it:
    :meth:`convref.nn.DynamicConv2d.attention` or :meth:`convref.nn.CondConv2d.attention`
    (``(N, K)``), or the branch weights of
    :meth:`convref.nn.SelectiveKernel2d.forward_with_attention` (``(N, branches, C_out)``).
    The model runs in evaluation mode without gradients and is left in the mode it was in.
    All ``images`` form one batch (the BatchNorms of :func:`dynamic_classifier` normalise with it).

    Parameters
    ----------
    model : torch.nn.Module
        A network with :class:`convref.nn.DynamicConv2d`, :class:`convref.nn.CondConv2d` or
        :class:`convref.nn.SelectiveKernel2d` layers.
    images : numpy.ndarray or torch.Tensor
        ``(N, C, H, W)`` inputs, converted to the dtype of the model's parameters.

    Returns
    -------
    list of numpy.ndarray
        One array per dynamic layer, in the order of ``model.modules()``, float64: ``(N, K)``
        for a dynamic or CondConv layer, ``(N, branches, C_out)`` for a selective-kernel one.
    """
    layers = [
        m
        for m in model.modules()
        if isinstance(m, (DynamicConv2d, CondConv2d, SelectiveKernel2d))
    ]
    if not layers:
        raise ValueError(
            "model has no DynamicConv2d, CondConv2d or SelectiveKernel2d layer"
        )
    results: dict[int, np.ndarray] = {}

    def record(index: int, layer: torch.nn.Module, inputs: tuple) -> None:
        if isinstance(layer, SelectiveKernel2d):
            attention = layer.forward_with_attention(inputs[0])[1]
        else:
            attention = layer.attention(inputs[0])
        results[index] = attention.numpy().astype(np.float64)

    hooks = [
        layer.register_forward_pre_hook(lambda m, args, i=i: record(i, m, args))
        for i, layer in enumerate(layers)
    ]
    run_hooked(model, hooks, images)
    return [results[i] for i in range(len(layers))]


def freeze_attention(
    model: torch.nn.Module, images: Union[np.ndarray, torch.Tensor]
) -> torch.nn.Module:
    r"""A static copy of ``model``: each dynamic layer replaced by one convolution with its average mixed kernel.

    For every :class:`convref.nn.DynamicConv2d` and :class:`convref.nn.CondConv2d`, the
    attention :math:`\bar a` is averaged over ``images`` (one batch, through
    :func:`dynamic_attention`) and the layer is replaced by a :class:`torch.nn.Conv2d` with
    kernel :math:`\sum_k \bar a_k W_k` and bias :math:`\sum_k \bar a_k b_k`: what the layer
    computes for an input whose attention is the average one. Comparing the copy with the
    original tells how much the network gains from adapting its kernels to each input, as
    opposed to from its extra parameters. ``model`` itself is not changed.

    Parameters
    ----------
    model : torch.nn.Module
        A network with dynamic layers (their ``padding`` must be an int or a pair, and their
        kernels and attention must be on the same device).
    images : numpy.ndarray or torch.Tensor
        ``(N, C, H, W)`` inputs over which the attention is averaged.

    Returns
    -------
    torch.nn.Module
        A deep copy of ``model`` without dynamic layers, in the training mode of ``model``.
    """
    layers = [m for m in model.modules() if isinstance(m, (DynamicConv2d, CondConv2d))]
    if not layers:
        raise ValueError("model has no DynamicConv2d or CondConv2d layer")
    # dynamic_attention lists the SelectiveKernel2d layers too: keep the kernel
    # mixtures', in order
    every = [
        m
        for m in model.modules()
        if isinstance(m, (DynamicConv2d, CondConv2d, SelectiveKernel2d))
    ]
    attention = [
        a
        for m, a in zip(every, dynamic_attention(model, images))
        if not isinstance(m, SelectiveKernel2d)
    ]
    means = {
        id(layer): torch.as_tensor(a.mean(0), dtype=layer.weight.dtype)
        for layer, a in zip(layers, attention)
    }
    frozen = copy.deepcopy(model)
    # a deep copy lists its modules in the same order: pair each copied layer with its
    # original
    originals = dict(
        zip(
            [
                id(m)
                for m in frozen.modules()
                if isinstance(m, (DynamicConv2d, CondConv2d))
            ],
            layers,
        )
    )
    for parent in list(frozen.modules()):
        for name, child in list(parent.named_children()):
            if id(child) not in originals:
                continue
            source = originals[id(child)]
            mean = means[id(source)]
            if isinstance(source.padding, str):
                raise ValueError(
                    f"freeze_attention needs an int or pair padding, got {source.padding!r}"
                )
            conv = torch.nn.Conv2d(
                source.in_channels,
                source.out_channels,
                source.kernel_size,
                source.stride,
                source.padding,
                source.dilation,
                source.groups,
                bias=source.bias is not None,
            ).to(source.weight.dtype)
            with torch.no_grad():
                conv.weight.copy_(torch.tensordot(mean, source.weight, dims=1))
                if source.bias is not None:
                    conv.bias.copy_(mean @ source.bias)
            setattr(parent, name, conv)
    return frozen


def shuffle_attention(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A copy of ``model`` whose dynamic layers give each input the kernel mixture of another input.

    The control for "kernels that follow the input help": every
    :class:`convref.nn.DynamicConv2d` and :class:`convref.nn.CondConv2d` still computes its
    attention for the whole batch, and the rows are then permuted across the batch (one random
    permutation per call, drawn from ``seed`` for the batch's size). Each input is convolved
    with a kernel the trained network really produces, from the same distribution of kernels,
    but one chosen for some other input. Unlike :func:`freeze_attention`, which replaces the
    mixtures by their average and so also changes their distribution, this breaks only the
    match between input and kernel. If the network scores as well shuffled as not, the match
    contributed nothing. ``model`` itself is not changed.

    Parameters
    ----------
    model : torch.nn.Module
        A network with dynamic layers.
    seed : int
        Seed of the permutations.

    Returns
    -------
    torch.nn.Module
        A deep copy of ``model``; evaluate it on one batch of many inputs, so that the
        permutation mixes them.
    """
    seed = check_seed(seed)
    shuffled = copy.deepcopy(model)
    layers = [
        m for m in shuffled.modules() if isinstance(m, (DynamicConv2d, CondConv2d))
    ]
    if not layers:
        raise ValueError("model has no DynamicConv2d or CondConv2d layer")
    for layer in layers:
        own_attention = layer.attention  # the bound method of the copied layer

        def permuted(x: torch.Tensor, own_attention=own_attention) -> torch.Tensor:
            rows = own_attention(x)
            generator = torch.Generator().manual_seed(seed)
            return rows[torch.randperm(len(rows), generator=generator).to(rows.device)]

        layer.attention = permuted  # this copy's layer only
    return shuffled


def pointer_sequences(
    n: int,
    length: int = 24,
    symbols: int = 4,
    max_offset: int = 8,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Sequences in which one token says where to look: the label is the symbol it points at.

    Every position holds one of ``symbols`` content symbols, drawn uniformly, except one
    position ``p`` that holds a *pointer*: one of ``2 * max_offset`` tokens, each standing
    for an offset ``k`` in ``-max_offset .. -1, 1 .. max_offset``. The label is the content
    symbol at ``p + k``. ``p`` is drawn so that every offset stays inside the sequence. Which
    neighbour matters is written in the input at ``p`` itself, so a layer whose kernel at
    ``p`` is computed from the input at ``p`` (dynamic convolution) can read the label in
    one step, while a fixed kernel must carry every offset's symbol to ``p``. Chance is
    ``1 / symbols``.

    Parameters
    ----------
    n : int
        Number of sequences.
    length : int
        Positions per sequence; more than ``2 * max_offset``.
    symbols : int
        Content symbols, and classes (at least 2).
    max_offset : int
        The largest distance a pointer can point to.
    seed : int
        Seed of every draw (a private generator).

    Returns
    -------
    x : numpy.ndarray
        One-hot tokens, float32, shape ``(n, symbols + 2 * max_offset, length)``: channel
        ``s < symbols`` marks content symbol ``s``; channel ``symbols + i`` marks the pointer
        to ``offsets[i]``.
    labels : numpy.ndarray
        The symbol pointed at, int64, shape ``(n,)``.
    info : dict
        ``"position"`` and ``"offset"`` of each sequence's pointer (int64 arrays of shape
        ``(n,)``) and ``"offsets"``, the offset of each pointer token, shape
        ``(2 * max_offset,)``.
    """
    n, length = positive_int("n", n), positive_int("length", length)
    symbols, max_offset = (
        positive_int("symbols", symbols),
        positive_int("max_offset", max_offset),
    )
    if symbols < 2:
        raise ValueError(f"symbols must be >= 2, got {symbols}")
    if length <= 2 * max_offset:
        raise ValueError(
            f"length must be > 2 * max_offset = {2 * max_offset}, got {length}"
        )
    rng = np.random.default_rng(check_seed(seed))
    offsets = np.concatenate([np.arange(-max_offset, 0), np.arange(1, max_offset + 1)])
    tokens = rng.integers(0, symbols, size=(n, length))
    which = rng.integers(0, len(offsets), size=n)
    position = rng.integers(max_offset, length - max_offset, size=n)
    rows = np.arange(n)
    labels = tokens[rows, position + offsets[which]]
    tokens[rows, position] = symbols + which  # the pointer replaces the content there
    x = np.zeros((n, symbols + len(offsets), length), dtype=np.float32)
    x[rows[:, None], tokens, np.arange(length)[None, :]] = 1.0
    info = {"position": position, "offset": offsets[which], "offsets": offsets}
    return x, labels.astype(np.int64), info


#: The token names of :func:`negation_sequences`, after its filler words, in channel order.
NEGATION_TOKENS = ("good", "bad", "not", "pad")


def negation_sequences(
    n: int,
    min_length: int = 16,
    max_length: int = 64,
    max_gap: int = 5,
    fillers: int = 4,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Sentences of varying length whose label is one keyword's polarity, flipped by "not".

    Each sentence has ``L`` words, ``L`` uniform in ``[min_length, max_length]``, padded to
    ``max_length`` with a ``pad`` token. Its words are fillers (``fillers`` kinds) except one
    keyword, ``good`` or ``bad``, at a random position ``p``, and for three sentences in four
    one ``not``:

    * in half of the sentences it *negates*: it stands ``d`` words before the keyword,
      ``1 <= d <= max_gap`` ("not very good");
    * in a quarter it is a *distractor* that negates nothing: ``d`` words after the keyword
      (``1 <= d <= max_gap``), or ``max_gap < d <= 2 max_gap`` words before it;
    * a quarter have no ``not``.

    The label is 1 (positive) for an un-negated ``good`` or a negated ``bad``, else 0; the
    two classes are equally likely. Reading it takes the keyword and the words up to
    ``max_gap`` before it, wherever the keyword is and however long the sentence: a fixed
    window of ``2 max_gap + 1`` words centred on the keyword holds everything that matters.

    Parameters
    ----------
    n : int
        Number of sentences.
    min_length, max_length : int
        The shortest and longest sentence, ``3 max_gap + 1 <= min_length <= max_length``.
    max_gap : int
        The farthest a negating ``not`` stands before its keyword.
    fillers : int
        Kinds of filler word (at least 1).
    seed : int
        Seed of every draw (a private generator).

    Returns
    -------
    x : numpy.ndarray
        One-hot words, float32, shape ``(n, fillers + 4, max_length)``: channel ``f <
        fillers`` marks filler ``f``, the last four :data:`NEGATION_TOKENS`.
    labels : numpy.ndarray
        0 or 1, int64, shape ``(n,)``.
    info : dict
        int64 arrays of shape ``(n,)``: ``"length"``, ``"keyword"`` (its position),
        ``"negated"`` (0 or 1) and ``"not_at"`` (the position of ``not``, -1 if none).
    """
    n, max_gap, fillers = (
        positive_int("n", n),
        positive_int("max_gap", max_gap),
        positive_int("fillers", fillers),
    )
    min_length = positive_int("min_length", min_length)
    max_length = positive_int("max_length", max_length)
    # room for a distractor 2 max_gap words before the keyword or max_gap words after it
    if min_length < 3 * max_gap + 1:
        raise ValueError(
            f"min_length must be >= 3 * max_gap + 1 = {3 * max_gap + 1}, "
            f"got {min_length}"
        )
    if max_length < min_length:
        raise ValueError(
            f"max_length must be >= min_length = {min_length}, got {max_length}"
        )
    rng = np.random.default_rng(check_seed(seed))
    good, bad, negation, pad = range(fillers, fillers + 4)
    length = rng.integers(min_length, max_length + 1, size=n)
    # the keyword leaves 2 max_gap words before it and max_gap after it
    keyword = 2 * max_gap + (rng.random(n) * (length - 3 * max_gap)).astype(np.int64)
    is_bad = rng.random(n) < 0.5
    case = rng.integers(0, 4, size=n)  # 0, 1: negated; 2: distractor; 3: no "not"
    gap = rng.integers(1, max_gap + 1, size=n)
    far = rng.random(n) < 0.5  # a distractor before the window instead of after it
    not_at = np.where(case < 2, keyword - gap, -1)
    distractor = case == 2
    distractor_at = np.where(far, keyword - max_gap - gap, keyword + gap)
    not_at[distractor] = distractor_at[distractor]
    tokens = rng.integers(0, fillers, size=(n, max_length))
    rows, positions = np.arange(n), np.arange(max_length)
    tokens[positions[None, :] >= length[:, None]] = pad
    tokens[rows, keyword] = np.where(is_bad, bad, good)
    has_not = not_at >= 0
    tokens[rows[has_not], not_at[has_not]] = negation
    negated = case < 2
    # positive: a good keyword not negated, or a bad one negated
    labels = (is_bad == negated).astype(np.int64)
    x = np.zeros((n, fillers + 4, max_length), dtype=np.float32)
    x[rows[:, None], tokens, positions[None, :]] = 1.0
    info = {
        "length": length.astype(np.int64),
        "keyword": keyword.astype(np.int64),
        "negated": negated.astype(np.int64),
        "not_at": not_at.astype(np.int64),
    }
    return x, labels, info


#: The token-mixing layers that :class:`SequenceClassifier` can hold.
SEQUENCE_CLASSIFIER_KINDS = ("depthwise", "lightweight", "dynamic")


class SequenceClassifier(torch.nn.Module):
    r"""A one-block sequence classifier whose only layer across time is of ``kind``.

    .. math::

        h = E x, \qquad u = \mathrm{ReLU}\bigl(h + P\,\mathrm{mix}(h)\bigr), \qquad
        \text{logits} = W \max_t u[:, t] + b,

    with :math:`E` and :math:`P` position-wise linear maps (1x1 convolutions with bias), a
    residual connection, the maximum over time, and a linear read-out. ``mix`` is the only
    part that sees neighbouring positions:

    * ``"depthwise"``: :class:`torch.nn.Conv1d` with ``groups=C``, one fixed ``K``-tap
      kernel per channel, no bias (``C K`` weights);
    * ``"lightweight"``: :class:`convref.nn.LightweightConv1d`, ``H`` softmax-normalised
      kernels shared by the channels of a head (``H K`` weights);
    * ``"dynamic"``: :class:`convref.nn.DynamicLightweightConv1d`, ``H`` kernels predicted
      at every position from the input there (``C H K`` weights in the predictor). With
      ``heads=1`` it holds exactly as many weights as ``"depthwise"``.

    Parameters
    ----------
    kind : {"depthwise", "lightweight", "dynamic"}
        The layer across time.
    vocabulary : int
        Input channels (one per token of a one-hot input).
    channels : int
        ``C``, the width of the block.
    kernel_size : int
        ``K``, odd, so that ``"same"`` padding centres the window.
    heads : int
        ``H`` of the lightweight and dynamic layers (ignored by ``"depthwise"``).
    classes : int
        Number of outputs.

    Shape
    -----
    Input ``(N, vocabulary, L)``, output ``(N, classes)``.
    """

    def __init__(
        self,
        kind: str,
        vocabulary: int,
        channels: int = 8,
        kernel_size: int = 17,
        heads: int = 1,
        classes: int = 4,
    ) -> None:
        super().__init__()
        if kind not in SEQUENCE_CLASSIFIER_KINDS:
            raise ValueError(
                f"kind must be one of {SEQUENCE_CLASSIFIER_KINDS}, got {kind!r}"
            )
        vocabulary = positive_int("vocabulary", vocabulary)
        channels = positive_int("channels", channels)
        kernel_size = positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        heads = positive_int("heads", heads)
        classes = positive_int("classes", classes)
        self.kind = kind
        self.embed = torch.nn.Conv1d(vocabulary, channels, 1)
        if kind == "depthwise":
            self.mix: torch.nn.Module = torch.nn.Conv1d(
                channels,
                channels,
                kernel_size,
                padding=kernel_size // 2,
                groups=channels,
                bias=False,
            )
        elif kind == "lightweight":
            self.mix = LightweightConv1d(channels, kernel_size, heads)
        else:
            self.mix = DynamicLightweightConv1d(channels, kernel_size, heads)
        self.project = torch.nn.Conv1d(channels, channels, 1)
        self.head = torch.nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        u = torch.relu(h + self.project(self.mix(h)))
        return self.head(u.amax(dim=-1))
