"""Every layer of :mod:`convref.nn` leaves PyTorch: ONNX export and ``torch.compile``.

* ONNX: each layer is exported with ``torch.onnx.export`` (the default exporter, built on
  ``torch.export``) with a dynamic batch size, and the model that onnxruntime runs on
  another batch size matches the layer's own output. Four operators have fast paths that
  ONNX cannot express (a binary search, ``cdist``, strided copies, a group count that
  depends on the batch); while exporting they take another path with the same result,
  which the rows for NonLocal2d (concatenation), Adder2d, Shift2d, ShiftBlock, CondConv2d
  and DynamicConv2d test, and which is tested against the fast path below.
* ``torch.compile(fullgraph=True)``: each layer compiles as one graph (a graph break is
  an error) with the default backend, and the compiled forward and backward give the
  eager output and gradients (in float64, so that only real differences show).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from layer_cases import (
    COMPILE_TOLERANCE,
    EXPORT_TOLERANCE,
    LAYERS,
    layer_and_input,
    layer_inputs,
    relative_error,
)

onnxruntime = pytest.importorskip("onnxruntime")


def _dynamic_batch(inputs: tuple) -> tuple:
    """Every input's first dimension is the batch."""
    batch = torch.export.Dim("batch", min=1, max=64)
    return tuple({0: batch} for _ in inputs)


def _onnx_outputs(model_bytes: bytes, inputs: tuple) -> np.ndarray:
    session = onnxruntime.InferenceSession(
        model_bytes, providers=["CPUExecutionProvider"]
    )
    names = [node.name for node in session.get_inputs()]
    assert len(names) == len(inputs), names
    feeds = {name: t.numpy() for name, t in zip(names, inputs)}
    (output,) = session.run(None, feeds)
    return output


@pytest.mark.compat("ONNX")
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_exports_to_onnx(name, tmp_path):
    layer, x, extra = layer_and_input(name, batch=3)
    inputs = layer_inputs(x, extra)
    program = torch.onnx.export(
        layer, inputs, dynamo=True, dynamic_shapes=_dynamic_batch(inputs), verbose=False
    )
    path = tmp_path / "layer.onnx"
    program.save(str(path))
    # another batch size than the traced one: the batch stays a dimension of the graph
    _, other_x, _ = layer_and_input(name, batch=5)
    other_inputs = layer_inputs(other_x, extra)
    with torch.no_grad():
        expected = layer(*other_inputs)
    output = torch.from_numpy(_onnx_outputs(path.read_bytes(), other_inputs))
    assert output.shape == expected.shape
    error = relative_error(output, expected)
    assert error <= EXPORT_TOLERANCE, f"{name}: onnxruntime differs by {error:.1e}"


def _output_and_gradients(layer, inputs) -> list[torch.Tensor]:
    """The output, the gradient of its squares' mean for ``x`` and for every parameter."""
    x = inputs[0].clone().requires_grad_(True)
    output = layer(x, *inputs[1:])
    output.square().mean().backward()
    gradients = [x.grad, *(p.grad for p in layer.parameters())]
    layer.zero_grad(set_to_none=True)
    return [output.detach(), *gradients]


@pytest.mark.compat("compile")
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_compiles_to_one_graph(name):
    torch._dynamo.reset()  # each layer compiles afresh, whatever ran before
    layer, x, extra = layer_and_input(name)
    # float64: what compiling changes (fusions, the order of sums) stays far below the
    # tolerance even where a gradient cancels, as batch norm's does
    layer = layer.double().train()  # batch statistics and their gradients
    inputs = layer_inputs(x.double(), extra)
    compiled = torch.compile(layer, fullgraph=True)
    results = _output_and_gradients(compiled, inputs)
    expected = _output_and_gradients(layer, inputs)
    labels = ["output", "x.grad", *(f"{n}.grad" for n, _ in layer.named_parameters())]
    for label, result, reference in zip(labels, results, expected, strict=True):
        assert result is not None and reference is not None, label
        # relative to the largest value; a gradient that is zero in exact arithmetic
        # (a bias before batch norm) is held to float64's rounding of zero instead
        torch.testing.assert_close(
            result,
            reference,
            rtol=0,
            atol=COMPILE_TOLERANCE * float(reference.abs().max()) + 1e-15,
            msg=lambda text, label=label: f"{name} {label}: {text}",
        )


def _export_path_cases():
    """Each operator with an export path: its module and a float64 call of it."""
    from convref import functional

    generator = torch.Generator().manual_seed(7)

    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    x = randn(3, 8, 9, 9)
    return {
        "non_local": lambda: functional.non_local_response(
            x,
            randn(4, 8),
            randn(4, 8),
            randn(4, 8),
            mode="concatenation",
            concat_weight=randn(8),
        ),
        "adder": lambda: functional.adder2d(x, randn(6, 4, 3, 3), groups=2, padding=1),
        # 18 channels: two of each of the 3 x 3 pattern's directions
        "shift": lambda: functional.pattern_shift2d(randn(2, 18, 9, 9), 3, 1),
        "dynamic": lambda: functional.dynamic_conv2d(
            x,
            randn(5, 6, 4, 3, 3),
            randn(3, 5).softmax(1),
            randn(5, 6),
            stride=2,
            padding=1,
            groups=2,
        ),
    }


@pytest.mark.parametrize(
    "module, traced",
    [
        ("non_local", "exporting"),
        ("adder", "exporting"),
        ("shift", "compiling"),  # any trace: export and torch.compile alike
        ("dynamic", "exporting"),
    ],
)
def test_export_path_gives_the_fast_paths_result(module, traced, monkeypatch):
    """The path taken while tracing computes what the fast path does, in float64."""
    import importlib

    operator = _export_path_cases()[module]
    fast = operator()
    source = importlib.import_module(f"convref.functional.{module}")
    monkeypatch.setattr(source, traced, lambda: True)
    exported = _export_path_cases()[module]()
    torch.testing.assert_close(exported, fast, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(LAYERS))
def test_new_batch_sizes_do_not_recompile(name):
    """A compiled layer traces twice at most: once static, once with the batch dynamic.

    The operators' checks and batch chunks keep a symbolic batch size symbolic, so after
    the second batch size (when torch.compile marks the batch dynamic) no further one
    traces again. Counted with dynamo's own counting backend.
    """
    from torch._dynamo.testing import CompileCounter

    torch._dynamo.reset()
    counter = CompileCounter()
    layer, _, extra = layer_and_input(name)
    compiled = torch.compile(layer, backend=counter, fullgraph=True)
    with torch.no_grad():
        for batch in (2, 3, 4, 6):
            _, x, _ = layer_and_input(name, batch=batch)
            compiled(*layer_inputs(x, extra))
    assert counter.frame_count <= 2, f"{name}: traced {counter.frame_count} times"


def test_export_keeps_a_batch_larger_than_a_chunk_dynamic():
    """An exported graph takes any batch size, beyond the eager path's memory chunks too.

    Eager, the adder layer cuts this batch of 1,500 into two chunks (1,438 samples each
    at most, for 4 channels of 9 x 9 pixels); the exported graph, which cannot branch on
    the batch size, takes it whole and gives the same result.
    """
    from convref.functional import adder

    layer, _, _ = layer_and_input("Adder2d")
    x = torch.randn(1500, 4, 9, 9, generator=torch.Generator().manual_seed(8))
    chunk = adder._batch_chunk(
        adder.check_conv2d_args(
            x, layer.weight, None, 1, 1, 1, 1, array_type=torch.Tensor, op="adder2d"
        )
    )
    assert chunk < len(x)  # the eager path takes two chunks
    batch = torch.export.Dim("batch", min=1, max=100_000)
    program = torch.export.export(layer, (x[:3],), dynamic_shapes=({0: batch},))
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), layer(x), rtol=0, atol=1e-4)
