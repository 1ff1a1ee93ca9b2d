"""Every layer with parameters under DistributedDataParallel, on two processes (gloo, loopback).

Each process takes half of a batch, runs one forward and backward through the layer
wrapped in PyTorch's own ``DistributedDataParallel`` and saves the gradients it ends up
with. They must be the same on both processes (the all-reduce ran) and equal the
gradients one process gets from the whole batch: the layers hold no state that depends on
the process. Batch norm runs on its running statistics (eval mode): in training mode each
process normalises by its own half's statistics, unless the model uses SyncBatchNorm.

Adder2d's adaptive learning rate is the one place where the order matters: with
``scale_when="on_call"`` and :func:`convref.nn.scale_adder_gradients_` after the
all-reduce the step is the one-process step; with the authors' in-backward scaling it is
not, and the test shows by how much.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from layer_cases import LAYERS, layer_and_input

from convref import nn

WORLD = 2
BATCH = 4  # two samples per process
#: The Adder2d variants the test adds to the layer table.
ADDER_VARIANTS = {
    "Adder2d on_call": lambda: nn.Adder2d(4, 6, 3, padding=1, scale_when="on_call"),
    "Adder2d backward": lambda: nn.Adder2d(4, 6, 3, padding=1),
}


def _layer(name: str):
    if name in ADDER_VARIANTS:
        torch.manual_seed(0)
        layer = ADDER_VARIANTS[name]()
        extra, shape = None, (4, 9, 9)
    else:
        layer, x, extra = layer_and_input(name)
        shape = tuple(x.shape[1:])
    return layer.double().eval(), shape, extra


def _inputs(shape, extra) -> tuple:
    x = torch.randn(
        BATCH, *shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64
    )
    return (x, *extra(x)) if extra else (x,)


def _names() -> list[str]:
    names = [
        name for name in LAYERS if next(_layer(name)[0].parameters(), None) is not None
    ]
    return [name for name in names if name != "Adder2d"] + list(ADDER_VARIANTS)


def _gradients(layer, inputs) -> dict[str, torch.Tensor]:
    loss = layer(*inputs).square().mean()
    loss.backward()  # under DDP, the all-reduce has run when this returns
    nn.scale_adder_gradients_(layer)
    return {
        name: parameter.grad.clone() for name, parameter in layer.named_parameters()
    }


def _worker(rank: int, port: int, folder: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD
    )
    try:
        results = {}
        for name in _names():
            layer, shape, extra = _layer(name)
            share = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
            inputs = tuple(t[share] for t in _inputs(shape, extra))
            model = torch.nn.parallel.DistributedDataParallel(layer)
            grads = _gradients(model, inputs)
            results[name] = {k.removeprefix("module."): v for k, v in grads.items()}
        torch.save(results, os.path.join(folder, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """The gradients each of the two processes ended with, per layer."""
    folder = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(_free_port(), str(folder)), nprocs=WORLD, join=True)
    return [torch.load(folder / f"rank{rank}.pt") for rank in range(WORLD)]


def _one_process(name: str) -> dict[str, torch.Tensor]:
    layer, shape, extra = _layer(name)
    if name == "Adder2d on_call":  # one process: scaling in backward is the same step
        layer.scale_when = "backward"
    return _gradients(layer, _inputs(shape, extra))


def _matrix_cell(name: str):
    """The compatibility-matrix mark: both Adder2d variants are the Adder2d cell."""
    return pytest.mark.compat(
        "DDP", layer="Adder2d" if name in ADDER_VARIANTS else name
    )


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=_matrix_cell(name)) for name in _names()]
)
def test_two_processes_take_the_one_process_step(ranks, name):
    first, second = (rank[name] for rank in ranks)
    assert first.keys() == second.keys() and first
    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=0, atol=0)
    if name == "Adder2d backward":
        return  # the documented exception, measured below
    expected = _one_process(name)
    assert expected.keys() == first.keys()
    for key in first:
        torch.testing.assert_close(first[key], expected[key], rtol=1e-9, atol=1e-12)


def test_in_backward_adder_scaling_is_not_the_one_process_step(ranks):
    """What the Adder2d docstring says: each process scales its own share first."""
    ddp = ranks[0]["Adder2d backward"]["weight"]
    one = _one_process("Adder2d backward")["weight"]
    relative = float((ddp - one).norm() / one.norm())
    print(f"in-backward scaling under DDP: {relative:.1e} from the one-process step")
    assert relative > 1e-4, relative
