"""Train a small network of convref layers the way a project of your own would.

One process, or several with ``torchrun``; the CPU, or a GPU when there is one:

    python examples/train_with_convref.py --amp --channels-last --compile --onnx model.onnx
    torchrun --nproc-per-node 2 examples/train_with_convref.py --amp

What it shows, each behind a flag or always on:

* convref layers (a depthwise separable block, a modulated deformable convolution, a
  dynamic convolution, an adder layer) between ``torch.nn`` ones, in one ``Sequential``;
* automatic mixed precision (``--amp``): bfloat16 on the CPU; float16 with a gradient
  scaler on a GPU;
* the channels_last memory format (``--channels-last``) for the model and the batches;
* ``torch.compile`` (``--compile``) of the whole model;
* DistributedDataParallel when ``torchrun`` starts it (gloo on the CPU, NCCL on GPUs),
  each process training on its own share of every batch, AdderNet's adaptive gradient
  scaled after the all-reduce (``scale_when="on_call"``);
* saving the trained weights and loading them into a fresh model;
* exporting the trained model to ONNX with a dynamic batch size (``--onnx PATH``; needs
  the ``onnx`` and ``onnxscript`` packages) and, where ``onnxruntime`` is installed,
  checking that the exported model gives the model's outputs.

The data are generated (:func:`convref.data.varied_shapes`), so nothing is downloaded. The
script prints the loss of the first and last steps and exits with an error if training
did not lower it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile

import torch
import torch.distributed as dist

from convref import data, nn
from convref.experiments import population_statistics


def build_model(classes: int) -> torch.nn.Module:
    """A small classifier in which every convolution is one of convref's."""
    return torch.nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.BatchNorm2d(16),
        torch.nn.ReLU(),
        nn.DepthwiseSeparableConv2d(16, 32, 3, stride=2, padding=1, batch_norm=True),
        torch.nn.ReLU(),
        nn.DCN2d(32, 32, 3, padding=1, modulated=True),
        torch.nn.ReLU(),
        nn.DynamicConv2d(32, 32, 3, padding=1),
        torch.nn.ReLU(),
        nn.Adder2d(32, 32, 3, padding=1, scale_when="on_call"),
        torch.nn.BatchNorm2d(32),  # an adder layer is always followed by BatchNorm
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(32, classes),
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="training steps")
    parser.add_argument(
        "--batch", type=int, default=32, help="images per step, all ranks"
    )
    parser.add_argument("--amp", action="store_true", help="automatic mixed precision")
    parser.add_argument(
        "--channels-last", action="store_true", help="channels_last model and batches"
    )
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the model"
    )
    parser.add_argument(
        "--onnx", metavar="PATH", help="export the trained model to ONNX at PATH"
    )
    return parser.parse_args(argv)


def export_onnx(
    model: torch.nn.Module, images: torch.Tensor, path: str
) -> float | None:
    """Export ``model`` (eval mode, float32) with a dynamic batch size; check it if possible.

    Returns the largest difference between onnxruntime's outputs and the model's on
    ``images``, relative to the largest output, or None where onnxruntime is not
    installed.
    """
    model = model.float().eval()
    batch = torch.export.Dim("batch", min=1, max=4096)
    example = images[:2]  # any batch size: the exported graph keeps it a dimension
    program = torch.onnx.export(
        model, (example,), dynamo=True, dynamic_shapes=({0: batch},), verbose=False
    )
    program.save(path)
    try:
        import onnxruntime  # optional: only to check the export
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (name,) = [node.name for node in session.get_inputs()]
    (outputs,) = session.run(None, {name: images.numpy()})
    with torch.no_grad():
        expected = model(images)
    difference = (torch.from_numpy(outputs) - expected).abs().max()
    return float(difference / expected.abs().max())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    distributed = "WORLD_SIZE" in os.environ  # started by torchrun
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    else:
        rank, world = 0, 1
    if args.batch % world:
        raise ValueError(f"--batch must be a multiple of the {world} processes")

    images, labels, _ = data.varied_shapes(args.steps * args.batch, size=24, seed=0)
    images, labels = torch.from_numpy(images), torch.from_numpy(labels)
    classes = int(labels.max()) + 1
    memory_format = (
        torch.channels_last if args.channels_last else torch.contiguous_format
    )

    torch.manual_seed(0)  # the same initial weights in every process
    model = build_model(classes).to(device, memory_format=memory_format)
    trained = model
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(model)
    if args.compile:
        model = torch.compile(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    amp_dtype = torch.bfloat16 if device.type == "cpu" else torch.float16
    scaler = torch.amp.GradScaler(
        device.type, enabled=args.amp and device.type == "cuda"
    )

    losses = []
    share = args.batch // world
    for step in range(args.steps):
        start = step * args.batch + rank * share  # this process's share of the batch
        x = images[start : start + share].to(device, memory_format=memory_format)
        y = labels[start : start + share].to(device)
        autocast = (
            torch.autocast(device.type, dtype=amp_dtype)
            if args.amp
            else contextlib.nullcontext()
        )
        with autocast:
            loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()  # under DDP the gradients are all-reduced here
        scaler.unscale_(optimizer)
        nn.scale_adder_gradients_(trained)  # AdderNet's rate, on the whole batch
        scaler.step(optimizer)
        scaler.update()
        losses.append(float(loss.detach()))

    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    # Save from the module itself (not the DDP or compiled wrapper): plain keys.
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.pt")
        torch.save(trained.state_dict(), path)
        fresh = build_model(classes)
        fresh.load_state_dict(torch.load(path, map_location="cpu"))
    # Batch norm's running averages trail an adder layer's drifting outputs (in the hundreds):
    # recompute them with the trained weights, or eval mode gives every image the same scores.
    population_statistics(fresh, images[: 8 * args.batch].split(args.batch))
    new_images, new_labels, _ = data.varied_shapes(256, size=24, seed=1)
    new_images = torch.from_numpy(new_images)
    with torch.no_grad():
        predicted = fresh(new_images).argmax(1)
    accuracy = float((predicted == torch.from_numpy(new_labels)).float().mean())
    if rank == 0:
        print(
            f"{world} process(es) on {device.type}, amp={args.amp},"
            f" channels_last={args.channels_last}, compile={args.compile}:"
            f" loss {first:.3f} over the first 5 steps, {last:.3f} over the last 5;"
            f" eval accuracy {accuracy:.2f} on 256 new images"
            f" (chance {1 / classes:.2f})"
        )
    exported_differs = False
    if args.onnx and rank == 0:
        difference = export_onnx(fresh, new_images[:16], args.onnx)
        if difference is None:
            print(f"ONNX: saved to {args.onnx} (install onnxruntime to check it)")
        else:
            print(
                f"ONNX: onnxruntime's outputs within {difference:.1e} of the model's"
                " (relative to the largest)"
            )
            exported_differs = difference > 1e-4
    if distributed:
        dist.destroy_process_group()
    if not last < first:
        print("training did not lower the loss", file=sys.stderr)
        return 1
    if exported_differs:
        print("the exported model differs from the trained one", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
