"""Chapter "Convolution basics" (and the grouped-convolution chapter): what a stack of layers does to its input.

:func:`activation_stds` follows the activations' scale through a deep stack under each
initialisation scheme; :func:`input_influence` counts how often a box-filter stack reads each
input pixel under each padding; :func:`channel_connectivity` reads off real gradients which
input channels each output channel depends on (grouped convolutions, channel shuffles).
:func:`small_cnn`, :func:`width_sweep` and :func:`finetune_seeds` are the chapter's two
training studies: how many kernels a layer needs, and what pretraining on another task buys
(:func:`tall_or_wide` is that other task).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Callable, Union

import numpy as np
import torch

from .._checks import positive_int
from ..data import varied_shapes
from ..functional import conv2d
from ..nn import Conv2d
from .protocol import SeedRuns, train_seeds
from .training import seeded, seeded_generator, train_classifier

__all__ = [
    "activation_stds",
    "input_influence",
    "channel_connectivity",
    "small_cnn",
    "width_sweep",
    "finetune_seeds",
    "tall_or_wide",
    "TALL_OR_WIDE",
]


def activation_stds(
    scheme: str,
    depth: int = 20,
    channels: int = 32,
    size: int = 16,
    batch: int = 8,
    seed: int = 0,
) -> list[float]:
    """Standard deviation of the activations after each layer of a deep conv + ReLU stack.

    The input is unit Gaussian noise; every layer is a 3x3 :class:`convref.nn.Conv2d`
    (``padding="same"``, no bias) initialised with ``scheme`` and followed by a ReLU.

    Parameters
    ----------
    scheme : {"random", "xavier", "he"}
        Initialisation of :mod:`convref.nn.init`.
    depth, channels, size, batch : int
        Layers, channels per layer, feature-map side and batch size.
    seed : int
        Seed for the input and the weights (the caller's random state is left alone).

    Returns
    -------
    list of float
        ``depth + 1`` values: the input's standard deviation, then one per layer.
    """
    # the layers draw their weights from PyTorch's global generator, one after another
    with seeded(seed), torch.no_grad():
        x = torch.randn(batch, channels, size, size)
        stds = [x.std().item()]
        for _ in range(depth):
            layer = Conv2d(
                channels, channels, 3, padding="same", bias=False, init=scheme
            )
            x = torch.relu(layer(x))
            stds.append(x.std().item())
    return stds


def input_influence(
    size: int, depth: int, padding_mode: str = "zeros", kernel_size: int = 3
) -> np.ndarray:
    """How strongly each input pixel reaches the output of a stack of box filters.

    The stack is ``depth`` single-channel convolutions with an all-ones ``kernel_size``
    kernel (stride 1). The result is the gradient of the sum of the final output with
    respect to the input: for these kernels, entry ``(i, j)`` is the number of paths from
    input pixel ``(i, j)`` to the outputs, i.e. how many times the network reads that pixel.
    Comparing border and centre shows how much of the edges a padding scheme keeps.

    Parameters
    ----------
    size : int
        Side of the square input.
    depth : int
        Number of convolutions in the stack.
    padding_mode : {"valid", "zeros", "circular"}
        ``"valid"``: no padding (the map shrinks by ``kernel_size - 1`` per layer);
        ``"zeros"``: ``"same"`` zero padding; ``"circular"``: ``"same"`` size, the input
        wrapped around like a torus.
    kernel_size : int
        Odd side of the box kernel.

    Returns
    -------
    numpy.ndarray
        Shape ``(size, size)``, float64: the path counts.
    """
    if padding_mode not in ("valid", "zeros", "circular"):
        raise ValueError(
            f"padding_mode must be 'valid', 'zeros' or 'circular', got {padding_mode!r}"
        )
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size!r}")
    pad = (kernel_size - 1) // 2
    weight = torch.ones(1, 1, kernel_size, kernel_size, dtype=torch.float64)
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(depth):
        if (
            padding_mode == "circular"
        ):  # wrap around: every pixel has a full neighbourhood
            y = conv2d(torch.nn.functional.pad(y, (pad,) * 4, mode="circular"), weight)
        else:
            y = conv2d(
                y, weight, padding="valid" if padding_mode == "valid" else "same"
            )
    y.sum().backward()  # d(sum of outputs)/dx counts the paths, since every weight is 1
    return x.grad[0, 0].numpy()


def channel_connectivity(
    model: torch.nn.Module, in_channels: int, size: int = 5, seed: int = 0
) -> np.ndarray:
    """Which input channels each output channel of ``model`` depends on, read off real gradients.

    A random input ``(1, in_channels, size, size)`` goes through ``model``; for every output
    channel ``o`` the gradient of ``y[0, o].sum()`` with respect to the input is taken, and
    input channel ``c`` counts as connected when any entry of that gradient in channel ``c``
    is nonzero. For a stack of convolutions (grouped or not, with or without channel
    shuffles) this is the product of the layers' block-diagonal channel masks and
    permutations: a weight that no path uses gets no gradient. With random weights an
    exact cancellation to zero has probability zero, so structural zeros are the only zeros.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(1, in_channels, size, size)`` to ``(1, C_out, H_out, W_out)``.
    in_channels : int
        Channels of the input.
    size : int
        Side of the random input (large enough for the model's kernels).
    seed : int
        Seed of the random input.

    Returns
    -------
    numpy.ndarray
        Boolean, shape ``(C_out, in_channels)``: entry ``[o, c]`` is True when output channel
        ``o`` depends on input channel ``c``.
    """
    in_channels = positive_int("in_channels", in_channels)
    size = positive_int("size", size)
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float64
    generator = seeded_generator(seed)
    x = torch.randn(
        1, in_channels, size, size, generator=generator, dtype=dtype
    ).requires_grad_(True)
    y = model(x)
    rows = []
    for o in range(y.shape[1]):
        (grad,) = torch.autograd.grad(y[0, o].sum(), x, retain_graph=True)
        rows.append(
            (grad[0] != 0).flatten(1).any(1)
        )  # any pixel of input channel c reached output o
    return torch.stack(rows).numpy()


class _ParallelKernels(torch.nn.Module):
    """Convolutions of several odd sizes side by side, their outputs concatenated (Inception)."""

    def __init__(
        self, in_channels: int, per_size: int, sizes: tuple[int, ...], stride: int
    ) -> None:
        super().__init__()
        self.paths = torch.nn.ModuleList(
            torch.nn.Conv2d(in_channels, per_size, k, stride, k // 2, bias=False)
            for k in sizes
        )  # padding k // 2 gives every size the same output grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([path(x) for path in self.paths], dim=1)


def _kernel_sizes(kernel_sizes: Sequence[int], width: int) -> tuple[int, ...]:
    """Check ``kernel_sizes``: distinct odd sizes whose number divides ``width``."""
    if isinstance(kernel_sizes, (str, bytes)) or not isinstance(kernel_sizes, Sequence):
        raise TypeError(
            f"kernel_sizes must be a sequence of odd ints, got {kernel_sizes!r}"
        )
    sizes = tuple(positive_int("kernel_sizes[i]", k) for k in kernel_sizes)
    if not sizes or len(set(sizes)) != len(sizes) or any(k % 2 == 0 for k in sizes):
        raise ValueError(
            f"kernel_sizes must hold distinct odd sizes, got {tuple(kernel_sizes)!r}"
        )
    if width % len(sizes):
        raise ValueError(
            f"width must be a multiple of len(kernel_sizes) = {len(sizes)}, got {width}"
        )
    return sizes


def small_cnn(
    width: int,
    classes: int = 4,
    in_channels: int = 1,
    kernel_sizes: Sequence[int] = (3,),
) -> torch.nn.Sequential:
    """The chapter's small CNN: three convolutions of ``width`` kernels each, then a linear head.

    Four blocks, each a ``torch.nn.Sequential``: ``in_channels -> width`` with stride 2;
    ``width -> width`` followed by 2x2 max pooling; ``width -> width``; and the head (global
    average pooling, flatten, ``Linear(width, classes)``). Every convolution has no bias and
    is followed by BatchNorm and ReLU. The blocks are the units that :func:`finetune_seeds`
    freezes, and the head's linear layer the one it replaces.

    With the default ``kernel_sizes=(3,)`` every convolution is 3x3 (``padding=1``) and the
    trainable parameters are
    ``18 width**2 + (9 in_channels + 6 + classes) width + classes``: two ``width x width``
    3x3 kernels, the first layer's kernels, three BatchNorms (scale and shift) and the head.
    With several sizes, each convolution becomes Inception's parallel branches (Szegedy et
    al. 2015, without the 1x1 reductions): one ``k x k`` convolution per size, each with
    ``width / len(kernel_sizes)`` kernels and ``padding=k // 2``, concatenated along the
    channels. The output keeps ``width`` channels; the parameters become
    ``(2 width + in_channels) (width / m) S + (6 + classes) width + classes``, with ``m``
    sizes whose squares sum to ``S``.

    Parameters
    ----------
    width : int
        Kernels per convolution layer (output channels), the same in the three layers.
    classes : int
        Number of outputs.
    in_channels : int
        Channels of the input.
    kernel_sizes : sequence of int
        Distinct odd kernel sizes side by side in every layer; their number must divide
        ``width``.

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, in_channels, H, W)`` to logits ``(N, classes)``.
    """
    width = positive_int("width", width)
    classes = positive_int("classes", classes)
    in_channels = positive_int("in_channels", in_channels)
    sizes = _kernel_sizes(kernel_sizes, width)
    nn = torch.nn

    def block(c_in: int, stride: int = 1, pool: bool = False) -> nn.Sequential:
        if sizes == (3,):  # one size: a plain convolution
            conv = nn.Conv2d(c_in, width, 3, stride, padding=1, bias=False)
        else:
            conv = _ParallelKernels(c_in, width // len(sizes), sizes, stride)
        layers = [conv, nn.BatchNorm2d(width), nn.ReLU()]  # BN: no bias above
        return nn.Sequential(*layers, *([nn.MaxPool2d(2)] if pool else []))

    head = nn.Sequential(
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes)
    )
    return nn.Sequential(
        block(in_channels, stride=2), block(width, pool=True), block(width), head
    )


def width_sweep(
    widths: Sequence[int],
    images: Union[np.ndarray, torch.Tensor],
    labels: Union[np.ndarray, torch.Tensor],
    seeds: Sequence[int] = (0, 1, 2),
    build: Callable[[int], torch.nn.Module] = small_cnn,
    **training,
) -> dict[int, SeedRuns]:
    """Train the same network at several widths, each from several seeds (:func:`train_seeds`).

    Parameters
    ----------
    widths : sequence of int
        The widths to train, e.g. ``(2, 4, 8, 16)``; each is passed to ``build``.
    images : numpy.ndarray or torch.Tensor
        Training inputs, shape ``(N, C, H, W)``.
    labels : numpy.ndarray or torch.Tensor
        Integer class labels, shape ``(N,)``.
    seeds : sequence of int
        The seeds of every width (at least two).
    build : callable
        ``build(width)`` returns a new, untrained model; :func:`small_cnn` by default (whose
        number of classes is 4: pass ``lambda w: small_cnn(w, classes)`` for another).
    **training
        Passed to :func:`train_classifier` through :func:`train_seeds` (``epochs``, ``lr``,
        ``test=(images, labels)``, ...): the same budget for every width.

    Returns
    -------
    dict of int to SeedRuns
        One entry per width, in the order given, each named ``"width <w>"``.
    """
    widths = [positive_int("widths", width) for width in widths]
    if len(set(widths)) != len(widths) or not widths:
        raise ValueError(f"widths must be distinct and not empty, got {widths}")
    return {
        width: train_seeds(
            f"width {width}",
            lambda width=width: build(width),
            images,
            labels,
            seeds,
            **training,
        )
        for width in widths
    }


def _head_name(model: torch.nn.Module) -> str:
    """The qualified name of the last ``torch.nn.Linear`` of ``model``, its head."""
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    if not names:
        raise TypeError(
            f"pretrained models must end in a torch.nn.Linear head, "
            f"got {type(model).__name__} without one"
        )
    return names[-1]


def _replace_head(model: torch.nn.Module, classes: int) -> torch.nn.Linear:
    """Replace the last ``torch.nn.Linear`` of ``model`` by a new one with ``classes`` outputs."""
    parent_name, _, attribute = _head_name(model).rpartition(".")
    parent = model.get_submodule(parent_name)
    old = getattr(parent, attribute)
    head = torch.nn.Linear(old.in_features, classes, bias=old.bias is not None)
    setattr(parent, attribute, head)
    return head


def finetune_seeds(
    name: str,
    pretrained: SeedRuns,
    images: Union[np.ndarray, torch.Tensor],
    labels: Union[np.ndarray, torch.Tensor],
    classes: int,
    freeze: int = 0,
    **training,
) -> SeedRuns:
    """Fine-tune pretrained models on a new task: a new head, the first ``freeze`` blocks fixed.

    For each seed of ``pretrained`` its model is copied (the pretrained models are left as
    they are), its last ``torch.nn.Linear`` is replaced by a new one with ``classes`` outputs
    (drawn inside :func:`seeded` with that seed, as :func:`train_seeds` draws a whole model),
    the parameters of its first ``freeze`` children are frozen (``requires_grad=False``), and
    the copy is trained with :func:`train_classifier` and the same seed. Everything else starts
    from exactly the pretrained weights. The batch norms of frozen blocks keep their scale and
    shift, but like all the others they normalise with the statistics of the new data.

    Parameters
    ----------
    name : str
        The design's name.
    pretrained : SeedRuns
        Models trained on the first task (e.g. by :func:`train_seeds`), one per seed.
    images : numpy.ndarray or torch.Tensor
        Inputs of the new task, shape ``(N, C, H, W)``.
    labels : numpy.ndarray or torch.Tensor
        Its integer class labels, shape ``(N,)``.
    classes : int
        Number of classes of the new task.
    freeze : int
        How many leading children of the model (the blocks of :func:`small_cnn`) keep their
        pretrained weights; 0 fine-tunes everything. The head must stay trainable.
    **training
        Passed to :func:`train_classifier` (``epochs``, ``lr``, ``test=(images, labels)``, ...).

    Returns
    -------
    SeedRuns
        The fine-tuned models and their results, with the seeds of ``pretrained``; ``params``
        counts the trainable parameters only.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {name!r}")
    if not isinstance(pretrained, SeedRuns):
        raise TypeError(
            f"pretrained must be a SeedRuns, got {type(pretrained).__name__}"
        )
    classes = positive_int("classes", classes)
    if "seed" in training:
        raise TypeError("finetune_seeds takes the seeds of pretrained, not seed=")
    _head_name(pretrained.models[0])
    blocks = len(list(pretrained.models[0].children()))
    if not isinstance(freeze, int) or isinstance(freeze, bool):
        raise TypeError(f"freeze must be an int, got {freeze!r}")
    if not 0 <= freeze < blocks:
        raise ValueError(
            f"freeze must be an int from 0 to {blocks - 1} (the head stays trainable), "
            f"got {freeze!r}"
        )
    results, models = [], []
    for seed, original in zip(pretrained.seeds, pretrained.models):
        model = copy.deepcopy(original)
        with seeded(seed):
            _replace_head(model, classes)
        for block in list(model.children())[:freeze]:
            block.requires_grad_(False)
        results.append(train_classifier(model, images, labels, seed=seed, **training))
        models.append(model)
    return SeedRuns(
        name,
        pretrained.seeds,
        tuple(results),
        tuple(models),
        training.get("test") is not None,
    )


#: Class names of :func:`tall_or_wide`, in label order.
TALL_OR_WIDE = ("wide", "tall")


def tall_or_wide(
    n: int,
    size: int = 16,
    seed: int = 0,
    noise: float = 0.3,
    margin: float = 1.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Upright stretched shapes labelled by their elongation: is the object taller than wide?

    A task on the same kind of images as :func:`convref.data.shapes` but with other labels,
    built from :func:`convref.data.varied_shapes` (not rotated, half-size 18% to 30% of the
    image as in :func:`~convref.data.shapes`, aspect ratio log-uniform in [1/2, 2]). The
    shape's kind (square, disk, cross, triangle) is now a nuisance, and the label is 1 ("tall")
    when the half-height exceeds the half-width, else 0 ("wide"). Objects closer to square than
    ``margin`` (``1/margin < aspect < margin``) are left out, so that every label can be
    read off the pixels. More objects are drawn than needed and the first ``n`` kept ones are
    returned, so the same seed gives the same data.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Side of each square image (at least 8).
    seed : int
        Seed of :func:`~convref.data.varied_shapes`.
    noise : float
        Standard deviation of the added Gaussian noise.
    margin : float
        Smallest ratio of the longer to the shorter half-axis that is kept, in ``[1, 2)``.

    Returns
    -------
    images : numpy.ndarray
        Shape ``(n, 1, size, size)``, float32.
    labels : numpy.ndarray
        Shape ``(n,)``, int64: the index in :data:`TALL_OR_WIDE`.
    """
    n = positive_int("n", n)
    if not isinstance(margin, (int, float)) or not 1 <= margin < 2:
        raise ValueError(f"margin must be a number in [1, 2), got {margin!r}")
    # log |aspect| is uniform on [0, log 2]: a share 1 - log(margin) / log(2) is kept
    drawn = int(np.ceil(2 * n / (1 - np.log(margin) / np.log(2)))) + 32
    images, _, params = varied_shapes(
        drawn, size, seed, noise, scale=(0.18, 0.3), max_aspect=2.0, rotate=False
    )
    kept = np.flatnonzero(np.abs(np.log(params["aspect"])) > np.log(margin))
    if len(kept) < n:  # not seen in practice: the draw keeps about twice as many
        raise RuntimeError(f"only {len(kept)} of {drawn} objects kept, {n} needed")
    kept = kept[:n]
    return images[kept], (params["aspect"][kept] > 1).astype(np.int64)
