"""Small, seeded experiments that the chapters run to test the sources' claims."""

from __future__ import annotations

import time
from typing import Callable, Optional, Union

import numpy as np
import torch

from . import arith
from ._checks import _is_int, positive_int
from .nn import Conv2d

__all__ = ["activation_stds", "train_classifier"]


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
        Seed for the input and the weights.

    Returns
    -------
    list of float
        ``depth + 1`` values: the input's standard deviation, then one per layer.
    """
    torch.manual_seed(seed)
    x = torch.randn(batch, channels, size, size)
    stds = [x.std().item()]
    with torch.no_grad():
        for _ in range(depth):
            layer = Conv2d(channels, channels, 3, padding="same", bias=False, init=scheme)
            x = torch.relu(layer(x))
            stds.append(x.std().item())
    return stds


def train_classifier(
    model: torch.nn.Module,
    images: Union[np.ndarray, torch.Tensor],
    labels: Union[np.ndarray, torch.Tensor],
    epochs: int = 10,
    seed: int = 0,
    test_fraction: float = 0.25,
    batch_size: int = 64,
    lr: float = 3e-3,
    optimizer: str = "adam",
) -> dict:
    """Train a classifier with Adam (or SGD) and cross-entropy; report its train and test accuracy.

    The data are split once, with ``seed``, into a training part and a held-out test part
    (``test_fraction`` of the samples); the model is trained on the first and scored on both.
    Everything random here (the split and the order of the mini-batches) follows ``seed``;
    the model's initial weights are the caller's (seed before building it). The model is
    left in evaluation mode.

    Parameters
    ----------
    model : torch.nn.Module
        Maps a float batch ``(B, ...)`` to logits ``(B, num_classes)``. Trained in place.
    images : numpy.ndarray or torch.Tensor
        Inputs, shape ``(N, ...)`` (e.g. ``(N, 1, H, W)`` from :func:`convref.data.shapes`).
    labels : numpy.ndarray or torch.Tensor
        Integer class labels, shape ``(N,)``.
    epochs : int
        Passes over the training part.
    seed : int
        Seed of the split and of the mini-batch order.
    test_fraction : float
        Share of the samples held out for testing, in (0, 1).
    batch_size : int
        Samples per optimisation step.
    lr : float
        The optimiser's learning rate.
    optimizer : {"adam", "sgd"}
        Adam, or SGD with momentum 0.9 (the optimiser whose step follows the gradient's scale,
        which AdderNet's adaptive learning rate is designed for).

    Returns
    -------
    dict
        ``train_accuracy`` and ``test_accuracy`` (fractions in [0, 1], after the last epoch),
        ``loss`` (mean training loss of each epoch, a list), ``params`` (trainable parameters)
        and ``seconds`` (wall time of the training).
    """
    epochs = positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    if not _is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if not isinstance(test_fraction, (int, float)) or isinstance(test_fraction, bool):
        raise TypeError(f"test_fraction must be a number, got {test_fraction!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    x = torch.as_tensor(images, dtype=torch.float32)
    y = torch.as_tensor(labels)
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"labels must hold integer class indices, got dtype {str(y.dtype).removeprefix('torch.')}")
    y = y.to(torch.int64)
    if len(x) != len(y):
        raise ValueError(f"images and labels must have the same length, got {len(x)} and {len(y)}")
    generator = torch.Generator().manual_seed(seed)  # private: leaves the global RNG alone
    order = torch.randperm(len(x), generator=generator)
    n_test = max(1, int(round(test_fraction * len(x))))
    if n_test >= len(x):
        raise ValueError(
            f"test_fraction={test_fraction} leaves no training samples out of {len(x)}"
        )
    test, train = order[:n_test], order[n_test:]
    if optimizer == "adam":
        step_rule = torch.optim.Adam(model.parameters(), lr=lr)
    elif optimizer == "sgd":
        step_rule = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")

    def accuracy(index: torch.Tensor) -> float:
        model.eval()
        with torch.no_grad():
            predictions = torch.cat([model(x[index[i : i + 512]]).argmax(1) for i in range(0, len(index), 512)])
        return (predictions == y[index]).float().mean().item()

    losses = []
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        total = 0.0
        for batch in train[torch.randperm(len(train), generator=generator)].split(batch_size):
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            step_rule.zero_grad()
            loss.backward()
            step_rule.step()
            total += loss.item() * len(batch)
        losses.append(total / len(train))
    seconds = time.perf_counter() - start
    return {
        "train_accuracy": accuracy(train),
        "test_accuracy": accuracy(test),
        "loss": losses,
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "seconds": seconds,
    }


def input_influence(size: int, depth: int, padding_mode: str = "zeros", kernel_size: int = 3) -> np.ndarray:
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
        raise ValueError(f"padding_mode must be 'valid', 'zeros' or 'circular', got {padding_mode!r}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size!r}")
    from .functional import conv2d

    pad = (kernel_size - 1) // 2
    weight = torch.ones(1, 1, kernel_size, kernel_size, dtype=torch.float64)
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(depth):
        if padding_mode == "circular":  # wrap around: every pixel has a full neighbourhood
            y = conv2d(torch.nn.functional.pad(y, (pad,) * 4, mode="circular"), weight)
        else:
            y = conv2d(y, weight, padding="valid" if padding_mode == "valid" else "same")
    y.sum().backward()  # d(sum of outputs)/dx counts the paths, since every weight is 1
    return x.grad[0, 0].numpy()


__all__ += ["input_influence"]


def channel_connectivity(model: torch.nn.Module, in_channels: int, size: int = 5, seed: int = 0) -> np.ndarray:
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
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(1, in_channels, size, size, generator=generator, dtype=dtype).requires_grad_(True)
    y = model(x)
    rows = []
    for o in range(y.shape[1]):
        (grad,) = torch.autograd.grad(y[0, o].sum(), x, retain_graph=True)
        rows.append((grad[0] != 0).flatten(1).any(1))  # any pixel of input channel c reached output o
    return torch.stack(rows).numpy()


__all__ += ["channel_connectivity"]


def _run_hooked(model: torch.nn.Module, hooks: list, x: Union[np.ndarray, torch.Tensor, tuple]) -> None:
    """Run ``model`` once in evaluation mode without gradients, then remove ``hooks`` and restore its mode.

    ``x`` is a batch, or the shape of one input without the batch axis: then two zero inputs
    run (a BatchNorm that normalises with the batch's statistics needs more than one value).
    The input takes the dtype of the model's parameters.
    """
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    batch = torch.zeros(2, *x, dtype=dtype) if isinstance(x, tuple) else torch.as_tensor(x, dtype=dtype)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(batch)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()


def model_cost(model: torch.nn.Module, input_shape: tuple[int, ...]) -> dict:
    """Parameters, multiply-adds and convolution outputs of a model on one input, measured by running it.

    One forward pass on zeros, with a hook on every convolution (:class:`torch.nn.Conv2d` or
    :class:`convref.nn.Conv2d`, adder layers included, whose subtract-and-accumulate terms
    count as multiply-adds here; see :func:`op_counts`), every :class:`torch.nn.Linear`, and
    every :class:`convref.nn.KernelMixtureConv2d` (CondConv, DY-CNN): each adds its
    :func:`convref.arith.conv_cost` (at the output size it actually produced),
    :func:`convref.arith.linear_cost`, or the mixed convolution and the kernel mixing of
    :func:`convref.arith.dynamic_conv_cost`. The model is run in evaluation mode without
    gradients (so batch-norm statistics are not touched) and left in the mode it was in.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    input_shape : tuple of int
        Shape of one input without the batch axis, e.g. ``(1, 20, 20)``.

    Returns
    -------
    dict
        ``params``: trainable parameters of the whole model; ``mult_adds``: multiply-adds of
        its convolution and linear layers for one input (weights only, as the papers count);
        ``conv_outputs``: elements of all the feature maps the convolutions produce for one
        input -- what training keeps in memory for the backward pass, per layer at least;
        ``dynamic_mult_adds``: the part of ``mult_adds`` spent in the CondConv and DY-CNN
        layers' mixed convolutions and kernel mixing (zero in a static network).
    """
    from .arith import Cost, conv_cost, dynamic_conv_cost, linear_cost
    from .nn import KernelMixtureConv2d

    costs: list[Cost] = []
    outputs: list[int] = []
    dynamic: list[int] = []

    def on_mixture(module: KernelMixtureConv2d, _: tuple, y: torch.Tensor) -> None:
        cost = dynamic_conv_cost(
            module.in_channels, module.out_channels, module.kernel_size, tuple(y.shape[-2:]),
            module.num_kernels, module.groups, module.bias is not None,
        )
        costs.append(Cost(mult_adds=cost["conv"].mult_adds + cost["aggregation"].mult_adds))
        dynamic.append(costs[-1].mult_adds)
        outputs.append(y[0].numel())

    def on_conv(module: torch.nn.Module, _: tuple, y: torch.Tensor) -> None:
        costs.append(
            conv_cost(module.in_channels, module.out_channels, module.kernel_size, tuple(y.shape[-2:]), module.groups)
        )
        outputs.append(y[0].numel())

    def on_linear(module: torch.nn.Linear, _: tuple, y: torch.Tensor) -> None:
        costs.append(linear_cost(module.in_features, module.out_features, bias=False))

    hooks = []
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, Conv2d)):
            hooks.append(module.register_forward_hook(on_conv))
        elif isinstance(module, torch.nn.Linear):
            hooks.append(module.register_forward_hook(on_linear))
        elif isinstance(module, KernelMixtureConv2d):
            hooks.append(module.register_forward_hook(on_mixture))
    _run_hooked(model, hooks, tuple(input_shape))
    return {
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "mult_adds": sum(costs, Cost()).mult_adds,
        "conv_outputs": sum(outputs),
        "dynamic_mult_adds": sum(dynamic),
    }


__all__ += ["model_cost"]


def effective_receptive_field(
    build_model: Callable[[], torch.nn.Module],
    size: int,
    in_channels: int = 1,
    trials: int = 8,
    seed: int = 0,
) -> np.ndarray:
    r"""Effective receptive field of a model at the centre of its output (Luo et al., NeurIPS 2016).

    Luo, Li, Urtasun & Zemel, "Understanding the Effective Receptive Field in Deep
    Convolutional Neural Networks": the gradient signal is set to 1 at the centre pixel of the
    output and 0 elsewhere, and backpropagated to the input,

    .. math::

        \text{ERF}(i, j) \propto \mathbb{E}\left[\,\sum_c
            \left| \frac{\partial \sum_o y_{o, h_c, w_c}}{\partial x_{c, i, j}} \right| \,\right]

    where :math:`(h_c, w_c) = (H_{out} // 2, W_{out} // 2)` and the expectation runs over
    ``trials`` fresh models (new random weights) and random Gaussian inputs. The absolute
    value is taken per trial, before averaging, so that signs cannot cancel across trials.
    Each model is cast to float64 and put in evaluation mode (BatchNorm uses its running
    statistics, Dropout is off). The map is normalised to sum to 1, a distribution over
    input pixels; it is zero outside the theoretical receptive field
    (:func:`convref.arith.receptive_field`).

    Trial ``t`` builds its model under ``torch.manual_seed(seed + t)`` inside
    :func:`torch.random.fork_rng`, so the global random state is left as it was.

    Parameters
    ----------
    build_model : callable
        Takes no argument and returns a new ``torch.nn.Module`` mapping
        ``(1, in_channels, size, size)`` to ``(1, C_out, H_out, W_out)``.
    size : int
        Side of the square input.
    in_channels : int
        Channels of the input.
    trials : int
        Models (and inputs) averaged over.
    seed : int
        Seed of the first trial.

    Returns
    -------
    numpy.ndarray
        Shape ``(size, size)``, float64, non-negative, summing to 1.
    """
    if not callable(build_model):
        raise TypeError(f"build_model must be callable, got {build_model!r}")
    size = positive_int("size", size)
    in_channels = positive_int("in_channels", in_channels)
    trials = positive_int("trials", trials)
    if not _is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r}")
    total = torch.zeros(size, size, dtype=torch.float64)
    for trial in range(trials):
        with torch.random.fork_rng(devices=[]):  # private randomness: the caller's RNG is untouched
            torch.manual_seed(seed + trial)
            model = build_model()
            if not isinstance(model, torch.nn.Module):
                raise TypeError(f"build_model must return a torch.nn.Module, got {type(model).__name__}")
            model = model.double().eval()
            x = torch.randn(1, in_channels, size, size, dtype=torch.float64, requires_grad=True)
        y = model(x)
        if not isinstance(y, torch.Tensor) or y.ndim != 4 or y.shape[0] != 1:
            shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"build_model's model must return a (1, C_out, H_out, W_out) tensor, got {shape}")
        signal = torch.zeros_like(y)
        signal[0, :, y.shape[2] // 2, y.shape[3] // 2] = 1  # the centre pixel, every output channel
        (grad,) = torch.autograd.grad(y, x, grad_outputs=signal)
        total += grad[0].abs().sum(0)
    mass = total.sum()
    if mass == 0:
        raise ValueError("the centre output has zero gradient with respect to the input in every trial")
    return (total / mass).numpy()


def erf_radius(erf: np.ndarray, mass: float = 0.95, metric: str = "chebyshev") -> float:
    """Smallest distance from the centre pixel within which ``erf`` holds ``mass`` of its total.

    A one-number summary of an effective receptive field (:func:`effective_receptive_field`)
    to set against the theoretical one. The centre is pixel ``(H // 2, W // 2)``, where
    :func:`effective_receptive_field` puts the output's centre for "same" or symmetric
    geometry. With the default ``"chebyshev"`` metric the region is a square of side
    ``2 * radius + 1``, directly comparable with a theoretical receptive field of size ``r``,
    whose radius is ``(r - 1) / 2`` (``mass=1`` gives the support's radius);
    ``"euclidean"`` uses discs instead.

    Parameters
    ----------
    erf : numpy.ndarray
        Non-negative map, shape ``(H, W)``, with a positive sum.
    mass : float
        Share of the total to enclose, in ``(0, 1]``.
    metric : {"chebyshev", "euclidean"}
        Distance between pixels: ``max(|di|, |dj|)`` or ``sqrt(di^2 + dj^2)``.

    Returns
    -------
    float
        The radius, in pixels (one of the pixel distances to the centre).
    """
    from ._checks import check_array

    check_array("erf", erf, np.ndarray, 2, "(H, W)")
    if not isinstance(mass, (int, float)) or isinstance(mass, bool):
        raise TypeError(f"mass must be a number, got {mass!r}")
    if not 0 < mass <= 1:
        raise ValueError(f"mass must be in (0, 1], got {mass!r}")
    if metric not in ("chebyshev", "euclidean"):
        raise ValueError(f"metric must be 'chebyshev' or 'euclidean', got {metric!r}")
    if not np.all(np.isfinite(erf)) or np.any(erf < 0):
        raise ValueError("erf must be finite and non-negative")
    total = erf.sum()
    if total <= 0:
        raise ValueError("erf must have a positive sum")
    rows, cols = np.indices(erf.shape)
    di, dj = np.abs(rows - erf.shape[0] // 2), np.abs(cols - erf.shape[1] // 2)
    distance = np.maximum(di, dj).astype(np.float64) if metric == "chebyshev" else np.hypot(di, dj)
    order = np.argsort(distance, axis=None, kind="stable")
    distances, enclosed = distance.ravel()[order], np.cumsum(erf.ravel()[order])
    # Only the last pixel at each distance marks a complete region; a relative tolerance
    # keeps rounding in the cumulative sum from pushing an exact share one ring out.
    complete = np.append(distances[1:] != distances[:-1], True)
    reached = complete & (enclosed >= mass * total * (1 - 1e-12))
    return float(distances[np.argmax(reached)])


__all__ += ["effective_receptive_field", "erf_radius"]


# ---------------------------------------------------------------------------
# Transposed convolution: checkerboard artifacts of learned 2x upsampling
# ---------------------------------------------------------------------------


def checkerboard_energy(image: np.ndarray) -> float:
    r"""Share of an image's spectral energy that sits at the Nyquist frequencies: the checkerboard measure.

    With :math:`Y` the 2-D discrete Fourier transform of the image minus its mean,

    .. math::

        E = \frac{|Y(\pi, 0)|^2 + |Y(0, \pi)|^2 + |Y(\pi, \pi)|^2}{\sum_{\omega} |Y(\omega)|^2},
        \qquad Y(\pi, 0) = \sum_{i, j} (-1)^i \, (y_{ij} - \bar y), \ \dots

    The three frequencies are the patterns that alternate every pixel: horizontal stripes,
    vertical stripes and the checkerboard :math:`(-1)^{i+j}`, which is exactly what a stride-2
    transposed convolution with unevenly overlapping (or unequal) kernel taps adds to a
    smooth image (Odena, Dumoulin & Olah, Distill 2016). :math:`E` lies in :math:`[0, 1]`: 1 for
    a pure :math:`(-1)^{i+j}` pattern, close to 0 for a smooth image; the mean is removed
    first so that a bright image does not look artifact-free merely by its large average.
    A constant image has no energy left and gives 0. The measure is invariant to scaling
    the image and to adding a constant.

    Parameters
    ----------
    image : numpy.ndarray
        Shape ``(H, W)``, floating, with ``H`` and ``W`` even (the Nyquist frequencies exist only then).

    Returns
    -------
    float
        :math:`E`.
    """
    from ._checks import check_array

    check_array("image", image, np.ndarray, 2, "(H, W)")
    height, width = image.shape
    if height % 2 or width % 2 or height < 2 or width < 2:
        raise ValueError(f"image must have an even height and width (>= 2), got shape {image.shape}")
    image = image.astype(np.float64)
    centred = image - image.mean()
    # Nothing but the mean (up to rounding in the subtraction): no pattern at all.
    if np.sum(centred**2) <= 1e-24 * np.sum(image**2):
        return 0.0
    power = np.abs(np.fft.fft2(centred)) ** 2
    total = power.sum()
    nyquist = power[height // 2, 0] + power[0, width // 2] + power[height // 2, width // 2]
    return float(nyquist / total)


#: The three learned 2x upsamplers that the transposed-convolution chapter compares, with their kernel sizes.
UPSAMPLERS = {
    "transposed 3x3": 3,  # conv_transpose2d, stride 2, padding 1, output_padding 1: k mod s = 1, uneven overlap
    "transposed 4x4": 4,  # conv_transpose2d, stride 2, padding 1: k mod s = 0, even overlap (FCN, DCGAN)
    "resize-conv 3x3": 3,  # nearest-neighbour x2, then a 3x3 conv2d with "same" padding (Odena et al.)
}


def _upsampler_kernel_size(method: str) -> int:
    if method not in UPSAMPLERS:
        raise ValueError(f"method must be one of {list(UPSAMPLERS)}, got {method!r}")
    return UPSAMPLERS[method]


def upsample2x(x: torch.Tensor, method: str, weight: torch.Tensor) -> torch.Tensor:
    """Upsample ``x`` by 2 in each direction with one of the :data:`UPSAMPLERS`.

    All three give an output of exactly ``(2H, 2W)``:

    - ``"transposed 3x3"``: :func:`convref.functional.conv_transpose2d` with stride 2,
      padding 1 and output_padding 1; ``weight`` has shape ``(C_in, C_out, 3, 3)``;
    - ``"transposed 4x4"``: the same with a 4x4 kernel, padding 1 and no output_padding;
      ``weight`` ``(C_in, C_out, 4, 4)``;
    - ``"resize-conv 3x3"``: :func:`convref.functional.resize_conv2d`, nearest-neighbour
      upsampling then a 3x3 convolution with ``"same"`` padding; ``weight`` ``(C_out, C_in, 3, 3)``.

    Parameters
    ----------
    x : torch.Tensor
        Shape ``(N, C_in, H, W)``.
    method : str
        A key of :data:`UPSAMPLERS`.
    weight : torch.Tensor
        The kernel, in the layout of the operator named above: ``(C_in, C_out, k, k)`` for the
        transposed convolutions, ``(C_out, C_in, 3, 3)`` for the resize-convolution.

    Returns
    -------
    torch.Tensor
        Shape ``(N, C_out, 2H, 2W)``.
    """
    from .functional import conv_transpose2d, resize_conv2d

    k = _upsampler_kernel_size(method)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4 or tuple(weight.shape[2:]) != (k, k):
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"weight must be a 4-D tensor with a {k}x{k} kernel for method {method!r}, got {shape}")
    if method == "transposed 3x3":
        return conv_transpose2d(x, weight, stride=2, padding=1, output_padding=1)
    if method == "transposed 4x4":
        return conv_transpose2d(x, weight, stride=2, padding=1)
    return resize_conv2d(x, weight, scale_factor=2, padding="same")


def constant_upsampling_kernel(method: str, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The one-channel kernel of ``method`` with all taps equal, scaled to keep an image's brightness.

    A stride-2 transposed convolution puts ``k * k`` taps of every input pixel on 4 output
    pixels, so each output receives ``k**2 / 4`` taps on average: taps of ``4 / k**2`` keep the
    mean. A resize-convolution sums ``k * k`` taps per output: ``1 / k**2``.

    Parameters
    ----------
    method : str
        A key of :data:`UPSAMPLERS`; it fixes ``k``.
    dtype : torch.dtype
        Of the result.

    Returns
    -------
    torch.Tensor
        Shape ``(1, 1, k, k)``.
    """
    k = _upsampler_kernel_size(method)
    value = 1 / k**2 if method.startswith("resize") else 4 / k**2
    return torch.full((1, 1, k, k), value, dtype=dtype)


def checkerboard_experiment(image: np.ndarray, trials: int = 32, seed: int = 0) -> dict[str, dict]:
    """Upsample a smooth image 2x with each of the :data:`UPSAMPLERS` and measure the checkerboard.

    Every method is run once with its :func:`constant_upsampling_kernel` and ``trials``
    times with a random kernel (i.i.d. standard normal taps, the shape of a fresh
    initialisation; the scale does not matter because :func:`checkerboard_energy` is
    scale-invariant). Each output, ``(2H, 2W)``, is scored with :func:`checkerboard_energy`.

    Parameters
    ----------
    image : numpy.ndarray
        Shape ``(H, W)``, floating: the low-resolution input.
    trials : int
        Random kernels per method.
    seed : int
        Seed of the random kernels (a private generator; the global one is untouched).

    Returns
    -------
    dict
        ``{method: {"constant": float, "random": numpy.ndarray of shape (trials,), "output": the
        (2H, 2W) output of the constant kernel}}``.
    """
    from ._checks import check_array

    check_array("image", image, np.ndarray, 2, "(H, W)")
    trials = positive_int("trials", trials)
    if not _is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r}")
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float64))[None, None]
    generator = torch.Generator().manual_seed(seed)
    results = {}
    for method, k in UPSAMPLERS.items():
        constant = upsample2x(x, method, constant_upsampling_kernel(method))[0, 0].numpy()
        random = [
            checkerboard_energy(
                upsample2x(x, method, torch.randn(1, 1, k, k, generator=generator, dtype=torch.float64))[0, 0].numpy()
            )
            for _ in range(trials)
        ]
        results[method] = {"constant": checkerboard_energy(constant), "random": np.array(random), "output": constant}
    return results


def smooth_image(size: int = 32, sigma: float = 2.5, seed: int = 0) -> np.ndarray:
    """A smooth picture: :func:`convref.data.test_image` at twice the size, Gaussian-blurred, every other pixel.

    The blur (standard deviation ``sigma`` pixels of the large image, "same" padding with
    the border replicated) removes the sharp edges and the noise, so the result has almost
    no energy near the Nyquist frequencies and any checkerboard an upsampler adds stands out.

    Parameters
    ----------
    size : int
        Side of the result.
    sigma : float
        Standard deviation of the blur, in pixels of the ``2 size`` image.
    seed : int
        Seed of the test image's noise.

    Returns
    -------
    numpy.ndarray
        Shape ``(size, size)``, float64.
    """
    from . import data
    from .reference import conv2d

    size = positive_int("size", size)
    if not isinstance(sigma, (int, float)) or isinstance(sigma, bool) or sigma <= 0:
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel = np.outer(taps, taps) / taps.sum() ** 2
    large = np.pad(data.test_image(max(16, 2 * size), seed=seed), radius, mode="edge")
    return conv2d(large[None, None], kernel[None, None])[0, 0, ::2, ::2][:size, :size]


def train_upsampler(
    method: str,
    low: torch.Tensor,
    high: torch.Tensor,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 0.02,
    seed: int = 0,
) -> dict:
    """Learn the kernel of a one-channel 2x upsampler (one of the :data:`UPSAMPLERS`) from examples.

    The kernel starts from PyTorch's default initialisation of a one-channel layer,
    uniform in ``(-1/k, 1/k)``, and is fitted by Adam to minimise the mean squared error
    between ``upsample2x(low)`` and ``high`` over random mini-batches. No bias: it would only
    shift the mean. Everything random follows ``seed`` (a private generator).

    Parameters
    ----------
    method : str
        A key of :data:`UPSAMPLERS`.
    low, high : torch.Tensor
        Training pairs, shapes ``(N, 1, H, W)`` and ``(N, 1, 2H, 2W)``.
    steps, batch_size : int
        Optimisation steps and examples per step.
    lr : float
        Adam's learning rate.
    seed : int
        Seed of the initial kernel and of the mini-batches.

    Returns
    -------
    dict
        ``initial`` and ``weight`` (the kernel before and after, ``(1, 1, k, k)``), ``loss``
        (the mini-batch loss of every step) and ``seconds`` (wall time).
    """
    k = _upsampler_kernel_size(method)
    steps = positive_int("steps", steps)
    batch_size = positive_int("batch_size", batch_size)
    if not _is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if low.dim() != 4 or low.shape[1] != 1 or tuple(high.shape) != (low.shape[0], 1, 2 * low.shape[2], 2 * low.shape[3]):
        raise ValueError(
            f"low must be (N, 1, H, W) and high (N, 1, 2H, 2W), got {tuple(low.shape)} and {tuple(high.shape)}"
        )
    generator = torch.Generator().manual_seed(seed)
    initial = (torch.rand(1, 1, k, k, generator=generator, dtype=low.dtype) * 2 - 1) / k
    weight = initial.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([weight], lr=lr)
    losses = []
    start = time.perf_counter()
    for _ in range(steps):
        batch = torch.randint(0, len(low), (batch_size,), generator=generator)
        loss = torch.nn.functional.mse_loss(upsample2x(low[batch], method, weight), high[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"initial": initial, "weight": weight.detach(), "loss": losses, "seconds": time.perf_counter() - start}


__all__ += [
    "checkerboard_energy",
    "UPSAMPLERS",
    "upsample2x",
    "constant_upsampling_kernel",
    "checkerboard_experiment",
    "smooth_image",
    "train_upsampler",
]


# ---------------------------------------------------------------------------
# Deformable convolution: a small classifier with and without learned tap positions
# ---------------------------------------------------------------------------

#: The layer kinds that :func:`shape_classifier` builds its last two convolutions from.
SHAPE_CLASSIFIER_KINDS = ("plain", "active", "deformable", "modulated")


def shape_classifier(kind: str = "plain", width: int = 8, classes: int = 4) -> torch.nn.Sequential:
    """A small CNN for the 24x24 shapes of :func:`convref.data.varied_shapes`; the last two convolutions vary.

    Four 3x3 convolutions, each followed by BatchNorm and ReLU: ``1 -> w`` and ``w -> 2w``
    (stride 2) are always plain; ``2w -> 2w`` and ``2w -> 4w`` (stride 2) are of ``kind``. Then
    global average pooling and a linear layer. Putting the deformable layers late follows Dai
    et al., who deform the last layers: their offset convolutions see a large enough patch
    (9x9 input pixels for the first one here) to judge an object's extent.

    BatchNorm uses the statistics of the current batch in evaluation too
    (``track_running_stats=False``): after a few seconds of training with Adam the weights
    still move fast, and running averages would lag behind them; evaluated on a whole test
    set at once, the batch statistics are the test set's own.

    Parameters
    ----------
    kind : {"plain", "active", "deformable", "modulated"}
        ``torch.nn.Conv2d``, :class:`convref.nn.ActiveConv2d` (learned offsets shared by every
        pixel), :class:`convref.nn.DeformConv2d` (per-pixel offsets, DCN v1) or the same with
        ``modulated=True`` (DCN v2).
    width : int
        Channels of the first layer ``w``.
    classes : int
        Number of outputs.

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, 1, H, W)`` to logits ``(N, classes)``.
    """
    from .nn import ActiveConv2d, DeformConv2d

    if kind not in SHAPE_CLASSIFIER_KINDS:
        raise ValueError(f"kind must be one of {SHAPE_CLASSIFIER_KINDS}, got {kind!r}")
    width = positive_int("width", width)
    classes = positive_int("classes", classes)

    def block(c_in: int, c_out: int, layer_kind: str, stride: int = 1) -> list:
        if layer_kind == "plain":
            conv = torch.nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)  # BN follows: no bias
        elif layer_kind == "active":
            conv = ActiveConv2d(c_in, c_out, 3, stride, 1, bias=False)
        else:
            conv = DeformConv2d(c_in, c_out, 3, stride, 1, bias=False, modulated=layer_kind == "modulated")
        return [conv, torch.nn.BatchNorm2d(c_out, track_running_stats=False), torch.nn.ReLU()]

    return torch.nn.Sequential(
        *block(1, width, "plain"),
        *block(width, 2 * width, "plain", stride=2),
        *block(2 * width, 2 * width, kind),
        *block(2 * width, 4 * width, kind, stride=2),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * width, classes),
    )


def _offset_layers(model: torch.nn.Module) -> list:
    from .nn import ActiveConv2d, DeformConv2d

    return [m for m in model.modules() if isinstance(m, (DeformConv2d, ActiveConv2d))]


def layer_offsets(model: torch.nn.Module, images: Union[np.ndarray, torch.Tensor]) -> list[dict]:
    """The offsets (and masks) every deformable or active layer of ``model`` uses on ``images``.

    One forward pass without gradients records each layer's input; the offsets are then
    those the layer computes from it (:meth:`convref.nn.DeformConv2d.offsets_and_mask`, or
    :meth:`convref.nn.ActiveConv2d.offset_map`). The model's training mode is left as it was.

    Parameters
    ----------
    model : torch.nn.Module
        A network containing :class:`convref.nn.DeformConv2d` or :class:`convref.nn.ActiveConv2d` layers.
    images : numpy.ndarray or torch.Tensor
        ``(N, C, H, W)`` inputs.

    Returns
    -------
    list of dict
        One per layer, in the order of ``model.modules()``: ``"offset"`` ``(N, 2 kh kw, H_out, W_out)``
        and ``"mask"`` (``(N, kh kw, H_out, W_out)`` or None) as NumPy arrays, and the layer's
        ``"kernel_size"``, ``"stride"``, ``"padding"`` (top, left) and ``"dilation"``.
    """
    from ._checks import padding_amounts
    from .nn import DeformConv2d

    layers = _offset_layers(model)
    if not layers:
        raise ValueError("model has no DeformConv2d or ActiveConv2d layer")
    inputs: dict[int, torch.Tensor] = {}
    hooks = [layer.register_forward_hook(lambda m, args, out, i=i: inputs.__setitem__(i, args[0])) for i, layer in enumerate(layers)]
    parameter = next(model.parameters())
    x = torch.as_tensor(images, dtype=parameter.dtype)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
            results = []
            for i, layer in enumerate(layers):
                if isinstance(layer, DeformConv2d):
                    offset, mask = layer.offsets_and_mask(inputs[i])
                else:
                    offset, mask = layer.offset_map(inputs[i]), None
                top, _, left, _ = padding_amounts(layer.padding, layer.kernel_size, layer.dilation, layer.stride)
                results.append({
                    "offset": offset.numpy().astype(np.float64),
                    "mask": None if mask is None else mask.numpy().astype(np.float64),
                    "kernel_size": layer.kernel_size, "stride": layer.stride, "padding": (top, left), "dilation": layer.dilation,
                })
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return results


def stacked_taps(layers: list[dict], index: int, pixel: tuple[int, int], input_stride: float = 1.0, regular: bool = False) -> np.ndarray:
    """The input points that one output pixel of a stack of deformable layers reads, through all of them.

    Starting from ``pixel`` of the last layer in ``layers`` (from :func:`layer_offsets`), its
    ``K`` taps (:func:`convref.viz.tap_positions`) are points of that layer's input, which is
    the previous layer's output; each is rounded to the nearest output pixel of the previous
    layer, whose own ``K`` taps are then taken, and so on down to the first layer: ``K**L``
    points, as in Dai et al.'s figures of the sampling locations of three stacked layers. The
    layers must follow one another (only pointwise operations such as BatchNorm and ReLU in
    between). The first layer's input coordinates are multiplied by ``input_stride`` to reach
    image coordinates (2 when a stride-2 "same"-padded convolution comes before, whose output
    pixel ``h`` is centred on input pixel ``2 h``).

    Parameters
    ----------
    layers : list of dict
        Output of :func:`layer_offsets`.
    index : int
        Which image of the batch.
    pixel : (int, int)
        Output pixel of the last layer.
    input_stride : float
        Image pixels per step of the first layer's input.
    regular : bool
        Ignore the offsets: the points the same stack of ordinary convolutions reads.

    Returns
    -------
    numpy.ndarray
        ``(K**L, 2)`` ``(y, x)`` image coordinates.
    """
    from .viz import tap_positions

    if not layers:
        raise ValueError("layers must hold at least one layer")
    points = np.asarray([pixel], dtype=np.float64)
    for number, layer in enumerate(reversed(layers)):
        if number > 0:  # points of this layer's output: round to its nearest output pixels
            _, out_h, out_w = layer["offset"].shape[1:]
            points = np.stack([np.clip(np.rint(points[:, 0]), 0, out_h - 1), np.clip(np.rint(points[:, 1]), 0, out_w - 1)], -1)
        offset = None if regular else layer["offset"][index]
        points = tap_positions(offset, points.astype(np.int64), layer["kernel_size"], layer["stride"], layer["padding"], layer["dilation"])
        points = points.reshape(-1, 2)
    return points * input_stride


__all__ += ["SHAPE_CLASSIFIER_KINDS", "shape_classifier", "layer_offsets", "stacked_taps"]


#: The layer kinds that :func:`adder_classifier` builds its two middle layers from.
ADDER_CLASSIFIER_KINDS = ("conv", "adder")


def adder_classifier(
    kind: str = "adder", width: int = 8, classes: int = 4, batchnorm: bool = True, eta: Optional[float] = 0.2
) -> torch.nn.Sequential:
    """A small network for :func:`convref.data.shapes` whose middle layers are convolutions or adder layers.

    The layout follows AdderNet's recipe: the first layer (``1 -> w``, on raw pixels) is an
    ordinary 3x3 convolution and the classifier a linear layer; the two middle 3x3 layers
    (``w -> 2w`` with stride 2, ``2w -> 2w``) are ``kind``; every layer is followed by
    BatchNorm (``batchnorm=True``) and ReLU; global average pooling comes before the linear
    layer. The two kinds have the same parameters and the same number of multiply-adds (the
    adder's are subtract-and-accumulate pairs).

    BatchNorm uses the current batch's statistics in evaluation too
    (``track_running_stats=False``), as in :func:`shape_classifier`: in seconds-long runs the
    running averages lag behind the weights.

    Parameters
    ----------
    kind : {"conv", "adder"}
        ``torch.nn.Conv2d`` or :class:`convref.nn.Adder2d` in the middle.
    width : int
        Channels of the first layer ``w``.
    classes : int
        Number of outputs.
    batchnorm : bool
        Whether BatchNorm follows each layer; without it an adder layer's negative outputs
        reach the ReLU as they are.
    eta : float or None
        The adder layers' adaptive learning-rate coefficient (``None``: plain gradient).

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, 1, H, W)`` to logits ``(N, classes)``.
    """
    from .nn import Adder2d

    if kind not in ADDER_CLASSIFIER_KINDS:
        raise ValueError(f"kind must be one of {ADDER_CLASSIFIER_KINDS}, got {kind!r}")
    if not isinstance(batchnorm, bool):
        raise TypeError(f"batchnorm must be a bool, got {batchnorm!r}")
    width = positive_int("width", width)
    classes = positive_int("classes", classes)

    def unit(layer: torch.nn.Module, channels: int) -> list:
        norm = [torch.nn.BatchNorm2d(channels, track_running_stats=False)] if batchnorm else []
        return [layer, *norm, torch.nn.ReLU()]

    def middle(c_in: int, c_out: int, stride: int) -> torch.nn.Module:
        if kind == "adder":
            return Adder2d(c_in, c_out, 3, stride, 1, bias=not batchnorm, eta=eta)
        return torch.nn.Conv2d(c_in, c_out, 3, stride, 1, bias=not batchnorm)

    return torch.nn.Sequential(
        *unit(torch.nn.Conv2d(1, width, 3, 1, 1, bias=not batchnorm), width),
        *unit(middle(width, 2 * width, 2), 2 * width),
        *unit(middle(2 * width, 2 * width, 1), 2 * width),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(2 * width, classes),
    )


__all__ += ["ADDER_CLASSIFIER_KINDS", "adder_classifier"]


# ---------------------------------------------------------------------------
# AdderNet chapter: template matching, weight statistics, gradients, operation counts
# ---------------------------------------------------------------------------


def template_responses(image: np.ndarray, template: np.ndarray) -> dict[str, np.ndarray]:
    r"""Score every window of ``image`` against ``template`` in the two ways a filter can match.

    ``"correlation"`` is the inner product :math:`\sum_{u,v} x[i+u, j+v]\, t[u, v]` (what a
    convolution layer computes, :func:`convref.reference.conv2d`); ``"negative L1"`` is
    :math:`-\sum_{u,v} |x[i+u, j+v] - t[u, v]|` (what an AdderNet layer computes,
    :func:`convref.reference.adder2d`). Both use valid windows only, so entry ``(i, j)``
    belongs to the window whose top-left pixel is ``(i, j)``.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` grey image.
    template : numpy.ndarray
        ``(kh, kw)`` template, no larger than the image.

    Returns
    -------
    dict
        ``{"correlation": (H - kh + 1, W - kw + 1), "negative L1": same shape}``, float64.
    """
    from .reference import adder2d, conv2d

    image = np.asarray(image, dtype=np.float64)
    template = np.asarray(template, dtype=np.float64)
    if image.ndim != 2 or template.ndim != 2:
        raise ValueError(f"image and template must be 2-D, got shapes {image.shape} and {template.shape}")
    if template.shape[0] > image.shape[0] or template.shape[1] > image.shape[1]:
        raise ValueError(f"template {template.shape} must fit in the image {image.shape}")
    x, t = image[None, None], template[None, None]  # one sample, one channel, one filter
    return {"correlation": conv2d(x, t)[0, 0], "negative L1": adder2d(x, t)[0, 0]}


def excess_kurtosis(values: Union[np.ndarray, torch.Tensor]) -> float:
    r"""Excess kurtosis :math:`E[(v - \mu)^4] / \sigma^4 - 3` of all the values (population moments).

    A scale-free measure of how heavy the tails of a distribution are: 0 for a Gaussian, 3 for
    a Laplace distribution, -1.2 for a uniform one. AdderNet's paper observes Laplace-like
    filters in adder layers and Gaussian-like ones in convolutions; this number tells them apart.

    Parameters
    ----------
    values : numpy.ndarray or torch.Tensor
        Any shape, at least two distinct values.

    Returns
    -------
    float
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    values = np.asarray(values, dtype=np.float64).ravel()
    centred = values - values.mean()
    variance = np.mean(centred**2)
    if values.size < 2 or variance == 0:
        raise ValueError("values must hold at least two distinct numbers")
    return float(np.mean(centred**4) / variance**2 - 3.0)


def filter_gradients(
    model: torch.nn.Module, images: Union[np.ndarray, torch.Tensor], labels: Union[np.ndarray, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The cross-entropy gradient of every filter bank (4-D weight) of ``model`` on one batch.

    The gradients are what the optimiser would receive: an :class:`convref.nn.Adder2d` with
    ``eta`` set delivers its gradient already scaled by the adaptive learning rate, so build
    the model with ``eta=None`` to see the raw ones. The model runs in training mode (BatchNorm
    on the batch's statistics), its mode is restored, and its ``.grad`` fields are left empty.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier mapping ``images`` to logits.
    images : numpy.ndarray or torch.Tensor
        One batch, ``(N, ...)``; converted to the dtype of the model's parameters.
    labels : numpy.ndarray or torch.Tensor
        Integer classes, ``(N,)``.

    Returns
    -------
    dict of str to torch.Tensor
        ``{parameter name: gradient}`` for every parameter with 4 dimensions, in model order;
        each gradient has its parameter's shape, e.g. ``(C_out, C_in / groups, kh, kw)``.
    """
    parameter = next(model.parameters(), None)
    x = torch.as_tensor(images, dtype=parameter.dtype if parameter is not None else torch.float32)  # the model's dtype
    y = torch.as_tensor(labels).to(torch.int64)
    filters = {name: p for name, p in model.named_parameters() if p.dim() == 4}
    was_training = model.training
    model.train()
    try:
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        gradients = {name: p.grad.detach().clone() for name, p in filters.items()}
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return gradients


def op_counts(model: torch.nn.Module, input_shape: tuple[int, ...]) -> arith.OpCount:
    """Multiplications and additions of a network on one input, adder layers counted as additions only.

    One forward pass on zeros (two inputs of ``input_shape``) in evaluation mode, with hooks:

    * a convolution adds :func:`convref.arith.conv_op_count`, an :class:`convref.nn.Adder2d`
      :func:`convref.arith.adder_op_count` (at the output size each produced), a
      :class:`torch.nn.Linear` one multiplication and one addition per weight;
    * a BatchNorm right after a convolution costs nothing at inference, because its scale
      and shift fold into the convolution's weights and bias; after anything else (an adder
      layer above all: its filters sit inside an absolute value, so no scale folds into them)
      it costs one multiplication and one addition per element.

    Activations and pooling are not counted (comparisons and a few additions per element).

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    input_shape : tuple of int
        Shape of one input without the batch axis, e.g. ``(1, 24, 24)``.

    Returns
    -------
    convref.arith.OpCount
        ``params`` (trainable parameters of the whole model), ``multiplications``, ``additions``.
    """
    from .nn import Adder2d

    counts: list[arith.OpCount] = []
    previous: list[Optional[torch.nn.Module]] = [None]  # the last leaf module that ran

    def on_leaf(module: torch.nn.Module, _: tuple, y: torch.Tensor) -> None:
        out_size = tuple(y.shape[-2:])
        if isinstance(module, Adder2d):
            counts.append(arith.adder_op_count(module.in_channels, module.out_channels, module.kernel_size, out_size, module.groups))
        elif isinstance(module, (torch.nn.Conv2d, Conv2d)):
            counts.append(arith.conv_op_count(module.in_channels, module.out_channels, module.kernel_size, out_size, module.groups))
        elif isinstance(module, torch.nn.Linear):
            weights = module.in_features * module.out_features
            counts.append(arith.OpCount(0, weights, weights))
        elif isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            folds = isinstance(previous[0], (torch.nn.Conv2d, Conv2d)) and not isinstance(previous[0], Adder2d)
            if not folds:
                counts.append(arith.OpCount(0, y[0].numel(), y[0].numel()))
        previous[0] = module

    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(on_leaf) for m in leaves]
    _run_hooked(model, hooks, tuple(input_shape))
    return arith.OpCount(
        params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        multiplications=sum(c.multiplications for c in counts),
        additions=sum(c.additions for c in counts),
    )


__all__ += ["template_responses", "excess_kurtosis", "filter_gradients", "op_counts"]


# ---------------------------------------------------------------------------
# Dynamic convolution: the source article's layer, small dynamic networks, their attention
# ---------------------------------------------------------------------------


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
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.weight = torch.nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        torch.nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.attention = torch.nn.Parameter(torch.zeros(1, out_channels, 1, 1))  # one constant per output channel
        self.bias = bias  # a flag for now ...
        if bias:
            self.bias = torch.nn.Parameter(torch.zeros(out_channels))  # ... replaced by a parameter

    def channel_scales(self) -> torch.Tensor:
        """The factor ``softmax(attention)`` of each output channel's kernel, shape ``(C_out,)``; the same for every input."""
        return torch.softmax(self.attention, dim=1).reshape(self.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self.channel_scales().reshape(-1, 1, 1, 1)
        return torch.nn.functional.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


#: The layer kinds that :func:`dynamic_classifier` builds its last three convolutions from.
DYNAMIC_CLASSIFIER_KINDS = ("static", "dynamic", "condconv", "selective")


def _use_batch_statistics(model: torch.nn.Module) -> torch.nn.Module:
    """Make every BatchNorm of ``model`` normalise with the current batch's statistics, in evaluation too.

    PyTorch's BatchNorm does so when it holds no running averages; this removes them
    (equivalent to building it with ``track_running_stats=False``).
    """
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.track_running_stats = False
            module.running_mean = module.running_var = module.num_batches_tracked = None
    return model


def dynamic_classifier(
    kind: str = "dynamic", width: int = 8, classes: int = 4, num_kernels: int = 4, dilations: tuple[int, ...] = (1, 2)
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
    from .nn import CondConv2d, DynamicConv2d, SelectiveKernel2d

    if kind not in DYNAMIC_CLASSIFIER_KINDS:
        raise ValueError(f"kind must be one of {DYNAMIC_CLASSIFIER_KINDS}, got {kind!r}")
    width = positive_int("width", width)
    classes = positive_int("classes", classes)
    num_kernels = positive_int("num_kernels", num_kernels)

    def block(c_in: int, c_out: int, layer_kind: str, stride: int = 1) -> list:
        if layer_kind == "selective":  # BatchNorm and ReLU are inside each branch
            return [SelectiveKernel2d(c_in, c_out, stride, dilations, reduction=4, min_hidden=8)]
        if layer_kind == "static":
            conv = torch.nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)  # BN follows: no bias
        elif layer_kind == "dynamic":
            conv = DynamicConv2d(c_in, c_out, 3, stride, 1, bias=False, num_kernels=num_kernels, temperature=1.0)
        else:
            conv = CondConv2d(c_in, c_out, 3, stride, 1, bias=False, num_kernels=num_kernels)
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
    return _use_batch_statistics(model)


def anneal_temperature(
    model: torch.nn.Module, steps_per_epoch: int, start: float = 30.0, end: float = 1.0, epochs: float = 10.0
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
    from .nn import DynamicConv2d, temperature_schedule

    steps_per_epoch = positive_int("steps_per_epoch", steps_per_epoch)
    layers = [m for m in model.modules() if isinstance(m, DynamicConv2d)]
    if not layers:
        raise ValueError("model has no DynamicConv2d layer")
    temperature_schedule(0.0, start, end, epochs)  # refuse a bad schedule now, not at the first step
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


def dynamic_attention(model: torch.nn.Module, images: Union[np.ndarray, torch.Tensor]) -> list[np.ndarray]:
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
    from .nn import CondConv2d, DynamicConv2d, SelectiveKernel2d

    layers = [m for m in model.modules() if isinstance(m, (DynamicConv2d, CondConv2d, SelectiveKernel2d))]
    if not layers:
        raise ValueError("model has no DynamicConv2d, CondConv2d or SelectiveKernel2d layer")
    results: dict[int, np.ndarray] = {}

    def record(index: int, layer: torch.nn.Module, inputs: tuple) -> None:
        if isinstance(layer, SelectiveKernel2d):
            attention = layer.forward_with_attention(inputs[0])[1]
        else:
            attention = layer.attention(inputs[0])
        results[index] = attention.numpy().astype(np.float64)

    hooks = [layer.register_forward_pre_hook(lambda m, args, i=i: record(i, m, args)) for i, layer in enumerate(layers)]
    _run_hooked(model, hooks, images)
    return [results[i] for i in range(len(layers))]


__all__ += [
    "SourceDynamicConv2d",
    "DYNAMIC_CLASSIFIER_KINDS",
    "dynamic_classifier",
    "anneal_temperature",
    "dynamic_attention",
]


def freeze_attention(model: torch.nn.Module, images: Union[np.ndarray, torch.Tensor]) -> torch.nn.Module:
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
    import copy

    from .nn import CondConv2d, DynamicConv2d, SelectiveKernel2d

    layers = [m for m in model.modules() if isinstance(m, (DynamicConv2d, CondConv2d))]
    if not layers:
        raise ValueError("model has no DynamicConv2d or CondConv2d layer")
    # dynamic_attention lists the SelectiveKernel2d layers too: keep the kernel mixtures', in order
    every = [m for m in model.modules() if isinstance(m, (DynamicConv2d, CondConv2d, SelectiveKernel2d))]
    attention = [a for m, a in zip(every, dynamic_attention(model, images)) if not isinstance(m, SelectiveKernel2d)]
    means = {id(layer): torch.as_tensor(a.mean(0), dtype=layer.weight.dtype) for layer, a in zip(layers, attention)}
    frozen = copy.deepcopy(model)
    # a deep copy lists its modules in the same order: pair each copied layer with its original
    originals = dict(zip([id(m) for m in frozen.modules() if isinstance(m, (DynamicConv2d, CondConv2d))], layers))
    for parent in list(frozen.modules()):
        for name, child in list(parent.named_children()):
            if id(child) not in originals:
                continue
            source = originals[id(child)]
            mean = means[id(source)]
            if isinstance(source.padding, str):
                raise ValueError(f"freeze_attention needs an int or pair padding, got {source.padding!r}")
            conv = torch.nn.Conv2d(
                source.in_channels, source.out_channels, source.kernel_size, source.stride, source.padding,
                source.dilation, source.groups, bias=source.bias is not None,
            ).to(source.weight.dtype)
            with torch.no_grad():
                conv.weight.copy_(torch.tensordot(mean, source.weight, dims=1))
                if source.bias is not None:
                    conv.bias.copy_(mean @ source.bias)
            setattr(parent, name, conv)
    return frozen


__all__ += ["freeze_attention"]
