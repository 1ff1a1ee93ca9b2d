"""Chapter "Choosing a convolution", the capstone: every operator of the book in the same small network, on the same task.

The network is fixed except for one slot: a 3x3 stem (``1 -> w``), a stride-2 3x3 convolution
(``w -> 2w``, to 12 x 12 on 24 x 24 images), then the slot's block twice (``2w -> 2w``, each
followed by BatchNorm and ReLU), global average pooling and a linear classifier. Each entry
of :data:`CHOICES` fills the slot with one chapter's operator, used as that chapter uses it.
:func:`compare_operators` trains every variant with the same recipe on
:func:`convref.data.varied_shapes` and measures parameters, multiply-adds
(:func:`convref.experiments.network_mult_adds`), the time and peak memory of one training
step, and accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch import nn

from .. import data
from .._checks import positive_int
from ..bench import peak_memory, time_call
from ..nn import (
    Adder2d,
    CondConv2d,
    Conv1x1,
    ConvTranspose2d,
    DCN2d,
    DepthwiseSeparableConv2d,
    DynamicConv2d,
    NonLocal2d,
    SelectiveKernel2d,
    Shift2d,
)
from .costs import network_mult_adds
from .training import seeded, train_classifier, use_batch_statistics

__all__ = [
    "OperatorChoice",
    "CHOICES",
    "hourglass_block",
    "shift_unit",
    "choice_block",
    "choice_network",
    "compare_operators",
    "format_comparison",
]


@dataclass(frozen=True)
class OperatorChoice:
    """One way to fill the comparison network's slot.

    Attributes
    ----------
    label : str
        Short name for tables and plots.
    chapter : str
        The chapter that explains the operator, as a path under ``book/`` without suffix.
    build : callable
        ``build(channels)`` returns a module mapping ``(N, C, H, W)`` to ``(N, C, H, W)``.
    """

    label: str
    chapter: str
    build: Callable[[int], nn.Module]


def _conv(channels: int, kernel_size, **options) -> nn.Conv2d:
    # BatchNorm follows every block, so no convolution here needs a bias
    return nn.Conv2d(channels, channels, kernel_size, bias=False, **options)


def _bn_relu(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.ReLU()]


def _bottleneck(channels: int) -> nn.Module:
    """ResNet's 1x1 -> 3x3 -> 1x1 with a four-times narrower middle."""
    middle = max(1, channels // 4)
    return nn.Sequential(
        nn.Conv2d(channels, middle, 1, bias=False),
        *_bn_relu(middle),
        nn.Conv2d(middle, middle, 3, padding=1, bias=False),
        *_bn_relu(middle),
        nn.Conv2d(middle, channels, 1, bias=False),
    )


def hourglass_block(channels: int) -> nn.Module:
    """The transposed-convolution chapter's operator in the slot: down by a stride-2 3x3 convolution, back up by a transposed one.

    A transposed convolution alone doubles the size, so it cannot fill a slot that keeps it;
    here it undoes a stride-2 3x3 convolution (followed by BatchNorm and ReLU). Its 4x4 kernel
    at stride 2 overlaps evenly, so it adds no checkerboard pattern.

    Parameters
    ----------
    channels : int
        ``C``, the same in, inside and out.

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, C, H, W)`` (``H``, ``W`` even) to ``(N, C, H, W)``.
    """
    return nn.Sequential(
        _conv(channels, 3, stride=2, padding=1),
        *_bn_relu(channels),
        ConvTranspose2d(channels, channels, 4, stride=2, padding=1, bias=False),
    )


def shift_unit(channels: int) -> nn.Module:
    """The shift chapter's operator in the slot: ShiftNet's 1x1 -> shift -> 1x1 (expansion 1).

    The 1x1 convolutions mix channels, the shift (no parameters, no multiply-adds) moves each
    channel by its own offset; without the residual connection, which none of the other
    blocks has either.

    Parameters
    ----------
    channels : int
        ``C``, the same in and out.

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, C, H, W)`` to ``(N, C, H, W)``.
    """
    return nn.Sequential(
        Conv1x1(channels, channels, bias=False),
        *_bn_relu(channels),
        Shift2d(channels),
        Conv1x1(channels, channels, bias=False),
    )


def _non_local_unit(channels: int) -> nn.Module:
    """A 3x3 convolution followed by a non-local block, the way Wang et al. insert blocks into a CNN."""
    return nn.Sequential(_conv(channels, 3, padding=1), NonLocal2d(channels))


#: The slot's candidates, in the book's chapter order; ``"conv3x3"`` is the baseline.
CHOICES: dict[str, OperatorChoice] = {
    "conv3x3": OperatorChoice(
        "3x3 conv", "conv_basics/conv_basics", lambda c: _conv(c, 3, padding=1)
    ),
    "conv1x1": OperatorChoice(
        "1x1 conv only", "conv1x1/conv1x1", lambda c: _conv(c, 1)
    ),
    "bottleneck": OperatorChoice(
        "1x1-3x3-1x1 bottleneck", "conv1x1/conv1x1", _bottleneck
    ),
    "conv5x5": OperatorChoice(
        "5x5 conv", "small_kernels/small_kernels", lambda c: _conv(c, 5, padding=2)
    ),
    "spatially_separable": OperatorChoice(
        "3x1 + 1x3",
        "small_kernels/small_kernels",
        lambda c: nn.Sequential(
            _conv(c, (3, 1), padding=(1, 0)), _conv(c, (1, 3), padding=(0, 1))
        ),
    ),
    "grouped": OperatorChoice(
        "grouped 3x3 (g=4)",
        "grouped_conv/grouped_conv",
        lambda c: _conv(c, 3, padding=1, groups=4),
    ),
    "depthwise_separable": OperatorChoice(
        "depthwise separable",
        "grouped_conv/grouped_conv",
        lambda c: DepthwiseSeparableConv2d(c, c, 3, padding=1, bias=False),
    ),
    "dilated": OperatorChoice(
        "dilated 3x3 (d=2)",
        "dilated_conv/dilated_conv",
        lambda c: _conv(c, 3, padding=2, dilation=2),
    ),
    "transposed": OperatorChoice(
        "stride-2 + transposed", "transposed_conv/transposed_conv", hourglass_block
    ),
    "deformable": OperatorChoice(
        "deformable 3x3",
        "deformable/deformable",
        lambda c: DCN2d(c, c, 3, padding=1, bias=False),
    ),
    "non_local": OperatorChoice(
        "3x3 + non-local", "non_local/non_local", _non_local_unit
    ),
    "shift": OperatorChoice("1x1-shift-1x1", "shift/shift", shift_unit),
    "adder": OperatorChoice(
        "adder 3x3", "adder/adder", lambda c: Adder2d(c, c, 3, padding=1, bias=False)
    ),
    "condconv": OperatorChoice(
        "CondConv (K=4)",
        "dynamic/dynamic",
        lambda c: CondConv2d(c, c, 3, padding=1, bias=False),
    ),
    # temperature 1: a five-epoch run is too short for DY-CNN's 30 -> 1 annealing
    "dynamic": OperatorChoice(
        "DY-CNN (K=4)",
        "dynamic/dynamic",
        lambda c: DynamicConv2d(c, c, 3, padding=1, bias=False, temperature=1.0),
    ),
    "selective_kernel": OperatorChoice(
        "selective kernel",
        "dynamic/dynamic",
        lambda c: SelectiveKernel2d(c, c, reduction=4, min_hidden=8),
    ),
}


def _check_name(name: str) -> str:
    if not isinstance(name, str) or name not in CHOICES:
        raise ValueError(f"name must be one of {list(CHOICES)}, got {name!r}")
    return name


def choice_block(name: str, channels: int) -> nn.Module:
    """The slot's block for operator ``name``: ``(N, C, H, W) -> (N, C, H, W)``, without the BatchNorm and ReLU that follow it.

    Parameters
    ----------
    name : str
        A key of :data:`CHOICES`.
    channels : int
        ``C``, the same in and out.

    Returns
    -------
    torch.nn.Module
        The block, freshly initialised from PyTorch's global generator.
    """
    return CHOICES[_check_name(name)].build(positive_int("channels", channels))


def choice_network(name: str, width: int = 8, classes: int = 4) -> nn.Sequential:
    """The comparison network with operator ``name`` in its slot.

    ``3x3 (1 -> w)``, ``3x3 stride 2 (w -> 2w)``, then ``choice_block(name, 2w)`` twice, each of
    the four followed by BatchNorm and ReLU; global average pooling and a linear layer. All
    BatchNorm layers use the current batch's statistics in evaluation too, as in the chapters'
    other seconds-long experiments (running averages lag behind weights that still move fast).

    Parameters
    ----------
    name : str
        A key of :data:`CHOICES`.
    width : int
        ``w``; the slot works on ``2w`` channels.
    classes : int
        Number of logits.

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, 1, H, W)`` (``H, W`` even) to logits ``(N, classes)``.
    """
    _check_name(name)
    width = positive_int("width", width)
    classes = positive_int("classes", classes)
    channels = 2 * width
    model = nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1, bias=False),
        *_bn_relu(width),
        nn.Conv2d(width, channels, 3, stride=2, padding=1, bias=False),
        *_bn_relu(channels),
        choice_block(name, channels),
        *_bn_relu(channels),
        choice_block(name, channels),
        *_bn_relu(channels),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(channels, classes),
    )
    return use_batch_statistics(model)


def _training_step(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor
) -> Callable[[], None]:
    def step() -> None:
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(images), labels).backward()

    return step


def _measure_step(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device,
    repeat: int,
) -> tuple[float, int]:
    """Median seconds and peak bytes of one training step (forward, loss, backward) on ``device``."""
    model.to(device).train()
    step = _training_step(model, images.to(device), labels.to(device))
    seconds = time_call(step, repeat=repeat, device=device)
    peak = peak_memory(step, device)
    model.zero_grad(set_to_none=True)
    return seconds, peak


def compare_operators(
    names: Optional[Sequence[str]] = None,
    images: int = 1200,
    epochs: int = 5,
    seed: int = 0,
    width: int = 8,
    batch_size: int = 64,
    repeat: int = 5,
    gpu: Optional[bool] = None,
) -> list[dict]:
    """Train and measure the comparison network once per operator; one row per operator.

    Every variant sees the same data (:func:`convref.data.varied_shapes`, 24 x 24, four
    classes, ``seed``), starts from weights drawn inside :func:`seeded` ``(seed)`` and is
    trained by :func:`train_classifier` with the same recipe (Adam,
    learning rate 3e-3, ``epochs`` passes, batches of ``batch_size``, a quarter held out).
    Time and memory are those of one training step on a batch of ``batch_size`` images,
    measured after training, on the CPU (and on the GPU when ``gpu``); ratios are against
    the first row of the same run.

    Parameters
    ----------
    names : sequence of str, optional
        Keys of :data:`CHOICES`, the baseline first (default: all, ``"conv3x3"`` first).
    images, epochs, seed, width, batch_size : int
        Data set size, training passes, seed of data/weights/split, ``w``, batch size.
    repeat : int
        Timed repetitions of the training step (the median is kept).
    gpu : bool, optional
        Also time on CUDA (default: when a CUDA device is available).

    Returns
    -------
    list of dict
        Per operator: ``name``, ``label``, ``chapter``, ``params``, ``mult_adds`` (per image),
        ``cpu_ms`` and ``cpu_ratio`` (training step), ``peak_mib`` (CPU), ``gpu_ms`` and
        ``gpu_ratio`` (``None`` without a GPU), ``train_accuracy``, ``test_accuracy`` and
        ``train_seconds``.
    """
    names = list(CHOICES) if names is None else [_check_name(n) for n in names]
    if not names:
        raise ValueError("names must name at least one operator")
    for option, value in {
        "images": images,
        "epochs": epochs,
        "width": width,
        "batch_size": batch_size,
        "repeat": repeat,
    }.items():
        positive_int(option, value)
    gpu = torch.cuda.is_available() if gpu is None else bool(gpu)
    x, y, _ = data.varied_shapes(images, size=24, seed=seed)
    step_images = torch.from_numpy(x[:batch_size])
    step_labels = torch.from_numpy(y[:batch_size])
    rows = []
    for name in names:
        with seeded(seed):  # every variant starts from the same random stream
            model = choice_network(name, width=width, classes=len(data.SHAPE_CLASSES))
        result = train_classifier(
            model, x, y, epochs=epochs, seed=seed, batch_size=batch_size
        )
        cpu_seconds, peak = _measure_step(
            model, step_images, step_labels, torch.device("cpu"), repeat
        )
        gpu_seconds = (
            _measure_step(
                model, step_images, step_labels, torch.device("cuda"), repeat
            )[0]
            if gpu
            else None
        )
        model.to("cpu")
        rows.append(
            {
                "name": name,
                "label": CHOICES[name].label,
                "chapter": CHOICES[name].chapter,
                "params": result["params"],
                "mult_adds": network_mult_adds(model, (1, 24, 24)),
                "cpu_ms": cpu_seconds * 1e3,
                "peak_mib": peak / 2**20,
                "gpu_ms": None if gpu_seconds is None else gpu_seconds * 1e3,
                "train_accuracy": result["train_accuracy"],
                "test_accuracy": result["test_accuracy"],
                "train_seconds": result["seconds"],
            }
        )
    for row in rows:
        row["cpu_ratio"] = row["cpu_ms"] / rows[0]["cpu_ms"]
        row["gpu_ratio"] = (
            None if row["gpu_ms"] is None else row["gpu_ms"] / rows[0]["gpu_ms"]
        )
    return rows


def format_comparison(rows: Sequence[dict]) -> str:
    """The rows of :func:`compare_operators` as a Markdown table (GPU columns only when measured).

    Parameters
    ----------
    rows : sequence of dict
        As returned by :func:`compare_operators`.

    Returns
    -------
    str
        A Markdown table, one line per operator, the baseline first.
    """
    gpu = any(row.get("gpu_ms") is not None for row in rows)
    header = [
        "operator",
        "params",
        "mult-adds",
        "CPU step ms",
        "x baseline",
        "peak MiB",
    ]
    header += ["GPU step ms", "x baseline"] if gpu else []
    header += ["train acc", "test acc"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [
            row["label"],
            f"{row['params']:,}",
            f"{row['mult_adds'] / 1e6:.2f} M",
            f"{row['cpu_ms']:.1f}",
            f"{row['cpu_ratio']:.2f}",
            f"{row['peak_mib']:.1f}",
        ]
        cells += [f"{row['gpu_ms']:.2f}", f"{row['gpu_ratio']:.2f}"] if gpu else []
        cells += [f"{row['train_accuracy']:.2f}", f"{row['test_accuracy']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
