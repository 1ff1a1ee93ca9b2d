"""convref.arith.count, the one cost counter, against independent counts.

Independent oracles: PyTorch's FLOP counter (:class:`torch.utils.flop_counter.FlopCounterMode`,
two FLOPs per multiply-add) for convolutions, transposed convolutions, linear layers and
matrix products; the analytic count of a transposed convolution (its *input* positions times
the weights, which fvcore#78 and ptflops#149 get wrong); the closed forms of
:mod:`convref.arith.costs` as the chapters derive them (deformable: offset convolution +
bilinear sampling + product, which fvcore#121 skips; adder; dynamic; shift; non-local); the
``nbytes`` of the tensors a layer really reads and writes; and hand-derived numbers written
out in the tests.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from convref import arith
from convref import nn as cnn
from convref.arith import Count, LayerCount, Ops, count, tensor_bytes


def flop_counter_mult_adds(model: nn.Module, *args: torch.Tensor) -> int:
    """PyTorch's FLOPs of one forward pass, halved: multiply-adds."""
    with (
        torch.no_grad(),
        sdpa_kernel(SDPBackend.MATH),
        FlopCounterMode(display=False) as counter,
    ):
        model.eval()(*args)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def only_row(result: Count, module_type: type) -> LayerCount:
    rows = [row for row in result.rows if row.module_type is module_type]
    assert len(rows) == 1, result.format()
    return rows[0]


# ---------------------------------------------------------------------------
# PyTorch's layers against PyTorch's FLOP counter
# ---------------------------------------------------------------------------

TORCH_LAYERS = {
    "conv2d": (lambda: nn.Conv2d(6, 8, 3, padding=1), (2, 6, 9, 11)),
    "conv2d-no-bias": (lambda: nn.Conv2d(6, 8, 3, bias=False), (2, 6, 9, 11)),
    "conv2d-grouped": (lambda: nn.Conv2d(6, 9, (3, 2), groups=3), (3, 6, 8, 7)),
    "conv2d-depthwise": (
        lambda: nn.Conv2d(6, 12, 5, padding=2, groups=6),
        (1, 6, 10, 10),
    ),
    "conv2d-strided": (
        lambda: nn.Conv2d(4, 8, 3, stride=(2, 3), padding=1),
        (2, 4, 13, 14),
    ),
    "conv2d-dilated": (
        lambda: nn.Conv2d(4, 4, 3, dilation=(2, 3), padding="same"),
        (2, 4, 12, 12),
    ),
    "conv2d-unbatched": (lambda: nn.Conv2d(4, 5, 3), (4, 8, 8)),
    "conv1d": (lambda: nn.Conv1d(4, 6, 5, stride=2, dilation=2, groups=2), (3, 4, 40)),
    "conv3d": (lambda: nn.Conv3d(2, 4, 3, padding=1), (1, 2, 5, 6, 7)),
    "conv-transpose2d": (
        lambda: nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1),
        (2, 6, 5, 7),
    ),
    "conv-transpose2d-grouped": (
        lambda: nn.ConvTranspose2d(6, 9, (4, 3), stride=(2, 1), groups=3, dilation=2),
        (2, 6, 5, 5),
    ),
    "conv-transpose1d": (
        lambda: nn.ConvTranspose1d(4, 2, 4, stride=4, bias=False),
        (2, 4, 9),
    ),
    "linear": (lambda: nn.Linear(12, 7), (5, 12)),
    "linear-no-bias-3d": (lambda: nn.Linear(12, 7, bias=False), (2, 5, 12)),
}


@pytest.mark.parametrize("name", TORCH_LAYERS)
def test_torch_layer_mult_adds_match_the_flop_counter(name):
    build, shape = TORCH_LAYERS[name]
    torch.manual_seed(0)
    layer, x = build(), torch.randn(shape)
    result = count(layer, x)
    assert len(result.rows) == 1
    assert result.mult_adds == flop_counter_mult_adds(layer, x)
    y = layer(x)
    assert result.additions == (
        y.numel() if layer.bias is not None else 0
    )  # one bias add per output
    assert result.params == sum(p.numel() for p in layer.parameters())
    assert result.rows[0].output_shape == tuple(y.shape)


@pytest.mark.parametrize(
    "c_in, c_out, kernel, stride, padding, output_padding, groups, size",
    [
        (8, 4, 3, 2, 1, 1, 1, 7),
        (6, 9, 4, 2, 1, 0, 3, 5),
        (4, 4, 2, 2, 0, 0, 4, 6),
        (3, 5, 5, 3, 2, 2, 1, 4),
    ],
)
def test_transposed_convolution_counts_its_input_positions(
    c_in, c_out, kernel, stride, padding, output_padding, groups, size
):
    # Each input value is multiplied by the C_out / G x k x k weights of its group once, however
    # the outputs overlap or are cropped: N C_in H_in W_in (C_out / G) k k. Counting the output
    # positions instead (fvcore#78, ptflops#149) overcounts by about stride^2.
    layer = nn.ConvTranspose2d(
        c_in, c_out, kernel, stride, padding, output_padding, groups, bias=False
    )
    x = torch.randn(2, c_in, size, size + 1)
    analytic = 2 * c_in * size * (size + 1) * (c_out // groups) * kernel * kernel
    assert count(layer, x).mult_adds == analytic
    wrong = (
        2 * c_out * math.prod(layer(x).shape[-2:]) * (c_in // groups) * kernel * kernel
    )  # output positions
    assert wrong != analytic


def test_convolution_bytes_by_hand():
    # 2 x 3 x 10 x 10 float32 in (2400 bytes), 2 x 8 x 8 x 8 float32 out (4096 bytes)
    layer = nn.Conv2d(3, 8, 3)
    result = count(layer, torch.zeros(2, 3, 10, 10))
    assert (
        (result.bytes_read, result.bytes_written)
        == (4 * 2 * 3 * 10 * 10, 4 * 2 * 8 * 8 * 8)
        == (2400, 4096)
    )
    # with the parameters, the ideal traffic of arith.conv_memory_traffic
    traffic = arith.conv_memory_traffic(3, 8, 3, 10, 8, batch=2, bias=True)
    assert result.bytes_read + result.bytes_written + 4 * result.params == traffic
    # float64 doubles everything
    wide = count(layer.double(), torch.zeros(2, 3, 10, 10, dtype=torch.float64))
    assert (wide.bytes_read, wide.bytes_written) == (4800, 8192)


def test_pooling_and_normalisation_rules_by_hand():
    x = torch.randn(2, 4, 6, 6)
    # max pooling: comparisons only; bytes in and out
    pooled = count(nn.MaxPool2d(2), x)
    assert (
        pooled.mult_adds,
        pooled.additions,
        pooled.bytes_read,
        pooled.bytes_written,
    ) == (0, 0, 4 * 288, 4 * 72)
    # 2x2 average pooling, stride 2: every input value is summed once
    assert count(nn.AvgPool2d(2), x).additions == 288
    # 3x3 windows with stride 1 on 6x6: 16 outputs of 9 values per channel
    assert count(nn.AvgPool2d(3, stride=1), x).additions == 2 * 4 * 16 * 9
    # global average pooling sums everything once
    assert count(nn.AdaptiveAvgPool2d(1), x).additions == 288
    # adaptive 6 -> 4 windows along an axis: [0,2) [1,3) [3,5) [4,6): 2 + 2 + 2 + 2 = 8 values;
    # 5 -> 3: [0,2) [1,4) [3,5): 2 + 3 + 2 = 7
    assert (
        count(nn.AdaptiveAvgPool2d((4, 3)), torch.randn(1, 2, 6, 5)).additions
        == 2 * 8 * 7
    )
    assert count(nn.AdaptiveAvgPool1d(3), torch.randn(1, 2, 5)).additions == 2 * 7
    # BatchNorm with stored statistics: y = a x + b, one multiply-add per element
    norm = count(nn.BatchNorm2d(4), x)
    assert (norm.mult_adds, norm.additions, norm.params) == (288, 0, 8)
    # statistics from the input: mean (1 add), centring (1 add), variance (1 MAC), normalise (1 MAC)
    for layer in (
        nn.GroupNorm(2, 4),
        nn.LayerNorm([6, 6]),
        nn.InstanceNorm2d(4),
        nn.BatchNorm2d(4, track_running_stats=False),
    ):
        result = count(layer, x)
        assert (result.mult_adds, result.additions) == (2 * 288, 2 * 288), layer
    # bilinear upsampling: four taps per output value; nearest: none
    assert (
        count(nn.Upsample(scale_factor=2, mode="bilinear"), x).mult_adds == 4 * 4 * 288
    )
    assert count(nn.Upsample(scale_factor=2), x).mult_adds == 0


def test_nested_model_totals_are_the_sum_of_its_rows():
    torch.manual_seed(0)

    def block(c_in, c_out, stride):
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
        )

    model = nn.Sequential(
        block(3, 8, 1),
        nn.Sequential(block(8, 16, 2), block(16, 16, 1)),
        nn.ConvTranspose2d(16, 8, 2, stride=2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    )
    x = torch.randn(2, 3, 16, 16)
    result = count(model, x)
    for field in ("params", "mult_adds", "additions", "bytes_read", "bytes_written"):
        assert getattr(result, field) == sum(getattr(row, field) for row in result.rows)
    assert result.params == sum(p.numel() for p in model.parameters())
    layers = (nn.modules.conv._ConvNd, nn.Linear)
    assert result.select(*layers).mult_adds == flop_counter_mult_adds(model, x)
    # BatchNorm (stored statistics) adds one multiply-add per element of its input
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert (
        result.select(nn.BatchNorm2d).mult_adds
        == 2 * (8 * 16 * 16 + 16 * 8 * 8 + 16 * 8 * 8)
        and len(norms) == 3
    )
    # one row per layer that computes, named as in named_modules, in call order
    assert [row.name for row in result.rows] == [
        "0.0",
        "0.1",
        "0.2",
        "1.0.0",
        "1.0.1",
        "1.0.2",
        "1.1.0",
        "1.1.1",
        "1.1.2",
        "2",
        "3",
        "5",
    ]
    table = str(result)
    assert table.splitlines()[0].split() == [
        "layer",
        "type",
        "output",
        "params",
        "mult-adds",
        "additions",
        "read",
        "written",
    ]
    assert "total" in table and "1.1.0" in table
    assert f"{result.mult_adds:,}" in result.format(exact=True)


def test_fold_batch_norm_only_after_an_affine_layer():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4)
    )
    x = torch.randn(2, 3, 8, 8)
    plain, folded = count(model, x), count(model, x, fold_batch_norm=True)
    first, second = (row for row in folded.rows if row.module_type is nn.BatchNorm2d)
    assert (first.mult_adds, first.bytes_read, first.note) == (
        0,
        0,
        "folded into the layer before",
    )
    assert second.mult_adds == 2 * 4 * 6 * 6  # after a ReLU: nothing to fold into
    assert plain.mult_adds - folded.mult_adds == 2 * 4 * 6 * 6
    assert folded.params == plain.params  # folding changes the work, not the model
    # a BatchNorm that normalises with the batch's statistics is counted as deployed: stored statistics
    batch_statistics = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.BatchNorm2d(4, track_running_stats=False)
    )
    assert (
        only_row(count(batch_statistics, x), nn.BatchNorm2d).mult_adds
        == 2 * 2 * 4 * 6 * 6
    )
    assert (
        only_row(
            count(batch_statistics, x, fold_batch_norm=True), nn.BatchNorm2d
        ).mult_adds
        == 2 * 4 * 6 * 6
    )
    batch_statistics[1] = nn.Identity()  # now right after the convolution: folded
    assert (
        only_row(
            count(batch_statistics, x, fold_batch_norm=True), nn.BatchNorm2d
        ).mult_adds
        == 0
    )
    # an in-place ReLU hands on the convolution's own tensor, but the BatchNorm no longer follows it
    in_place = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True), nn.BatchNorm2d(4)
    )
    assert (
        only_row(count(in_place, x, fold_batch_norm=True), nn.BatchNorm2d).mult_adds
        == 2 * 4 * 6 * 6
    )


def test_modes_are_restored_and_statistics_untouched():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(0.5))
    model.train()
    model[1].eval()  # a frozen BatchNorm inside a training model
    before = model[1].running_mean.clone()
    result = count(model, torch.randn(2, 1, 5, 5) + 3)
    assert [m.training for m in model.modules()] == [True, True, False, True]
    assert torch.equal(model[1].running_mean, before)
    assert [row.module_type for row in result.rows] == [
        nn.Conv2d,
        nn.BatchNorm2d,
    ]  # Dropout: off in eval


def test_hooks_and_modes_are_restored_when_the_forward_pass_fails():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.Linear(5, 5)
    )  # the linear layer gets the wrong width
    model.train()
    with pytest.raises(RuntimeError):
        count(model, torch.zeros(1, 1, 4, 4))
    assert all(m.training for m in model.modules())
    assert all(
        not m._forward_hooks and not m._forward_pre_hooks for m in model.modules()
    )


def test_tensor_bytes_of_nested_values():
    a, b = torch.zeros(3, dtype=torch.float16), torch.zeros(2, 2, dtype=torch.float64)
    assert tensor_bytes({"a": [a, (b, None)], "n": 3}) == 3 * 2 + 4 * 8
    assert tensor_bytes("not a tensor") == 0


def test_a_layer_called_twice_counts_its_work_twice_and_its_parameters_once():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(self.conv(x))

    model, x = Twice(), torch.randn(1, 4, 6, 6)
    result = count(model, x)
    assert [row.name for row in result.rows] == ["conv", "conv"]
    assert [row.params for row in result.rows] == [4 * 4 * 9 + 4, 0]
    assert result.mult_adds == flop_counter_mult_adds(model, x) == 2 * 4 * 4 * 9 * 36


def test_unknown_layers_are_reported_not_silently_free():
    class Scale(nn.Module):  # own parameter, no rule, no count_ops
        def __init__(self):
            super().__init__()
            self.gamma = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x * self.gamma

    attention = nn.MultiheadAttention(
        3, 1, batch_first=True
    )  # calls out_proj through .weight

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale, self.attention = Scale(), attention

        def forward(self, x):
            return self.attention(*(self.scale(x),) * 3)[0]

    model = Model()
    result = count(model, torch.randn(2, 5, 3))
    assert result.uncounted == ["scale", "attention", "attention.out_proj"]
    assert result.params == sum(
        p.numel() for p in model.parameters()
    )  # every parameter in some row
    assert result.rows[-1].note == "not called in the forward pass: parameters only"
    assert " ?" in str(result)


def test_count_ops_protocol_counts_own_work_and_the_walker_the_children():
    class Gate(nn.Module):
        """y = conv(x) * x: a child convolution plus one multiplication per element of its own."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 1, bias=False)

        def forward(self, x):
            return self.conv(x) * x

        def count_ops(self, inputs, output):
            return Ops.io(inputs, output, mult_adds=output.numel())

    x = torch.randn(3, 2, 4, 4)
    result = count(Gate(), x)
    assert [(row.name, row.module_type.__name__) for row in result.rows] == [
        ("", "Gate"),
        ("conv", "Conv2d"),
    ]
    assert result.mult_adds == 3 * 2 * 16 + 3 * 16 * 4
    assert result.rows[0].bytes_read == tensor_bytes(x) == 4 * 96

    class Broken(Gate):
        def count_ops(self, inputs, output):
            return 0

    with pytest.raises(TypeError, match="count_ops must return an arith.Ops"):
        count(Broken(), x)


def test_several_inputs_and_keyword_arguments():
    class Add(nn.Module):
        def forward(self, a, b):
            return a + b

        def count_ops(self, inputs, output):
            return Ops.io(inputs, output, additions=output.numel())

    a = torch.zeros(2, 3)
    result = count(Add(), (a, a))
    assert (result.additions, result.bytes_read, result.bytes_written) == (6, 48, 24)

    class Outer(nn.Module):  # passes b by keyword: count_ops still sees it
        def __init__(self):
            super().__init__()
            self.add = Add()

        def forward(self, a):
            return self.add(a, b=a)

    assert count(Outer(), a).bytes_read == 48


@pytest.mark.parametrize(
    "model, x, fold, error, match",
    [
        (
            "not a module",
            torch.zeros(1),
            False,
            TypeError,
            "model must be a torch.nn.Module",
        ),
        (
            nn.ReLU(),
            [1, 2],
            False,
            TypeError,
            "x must be a torch.Tensor or a sequence of them",
        ),
        (
            nn.ReLU(),
            "x",
            False,
            TypeError,
            "x must be a torch.Tensor or a sequence of them",
        ),
        (nn.ReLU(), torch.zeros(1), 1, TypeError, "fold_batch_norm must be a bool"),
    ],
)
def test_bad_calls(model, x, fold, error, match):
    with pytest.raises(error, match=match):
        count(model, x, fold_batch_norm=fold)


# ---------------------------------------------------------------------------
# convref's layers (count_ops) against the closed forms and the FLOP counter
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, shape",
    [
        (lambda: cnn.Conv2d(6, 8, 3, padding=1), (2, 6, 9, 11)),
        (
            lambda: cnn.Conv2d(
                6, 9, (3, 2), stride=2, dilation=(2, 1), groups=3, bias=False
            ),
            (3, 6, 12, 9),
        ),
        (
            lambda: cnn.Conv2d(4, 4, 3, padding="same", dilation=2, groups=4),
            (2, 4, 10, 10),
        ),
        (lambda: cnn.Conv1x1(8, 4), (2, 8, 5, 5)),
        (lambda: cnn.CausalConv1d(4, 6, 3, dilation=2, groups=2), (2, 4, 17)),
    ],
)
def test_convref_convolutions_match_the_flop_counter(build, shape):
    torch.manual_seed(0)
    layer, x = build(), torch.randn(shape)
    result = count(layer, x)
    assert result.mult_adds == flop_counter_mult_adds(layer, x)
    y = layer(x)
    assert result.additions == (y.numel() if layer.bias is not None else 0)
    assert (result.bytes_read, result.bytes_written, result.params) == (
        x.nbytes,
        y.nbytes,
        sum(p.numel() for p in layer.parameters()),
    )


@pytest.mark.parametrize(
    "stride, padding, output_padding, groups",
    [(2, 1, 1, 1), (3, 0, 2, 2), (1, 1, 0, 2)],
)
def test_convref_transposed_convolution_counts_its_input_positions(
    stride, padding, output_padding, groups
):
    layer = cnn.ConvTranspose2d(4, 6, 3, stride, padding, output_padding, groups)
    x = torch.randn(2, 4, 5, 6)
    # analytic: N C_in H_in W_in (C_out / G) k k, what torch.nn.ConvTranspose2d's rule gives too
    assert count(layer, x).mult_adds == 2 * 4 * 5 * 6 * (6 // groups) * 9
    twin = nn.ConvTranspose2d(4, 6, 3, stride, padding, output_padding, groups)
    assert (
        count(layer, x).mult_adds
        == count(twin, x).mult_adds
        == flop_counter_mult_adds(twin, x)
    )


def test_adder_layer_counts_additions_only_as_the_paper_does():
    layer = cnn.Adder2d(6, 8, 3, stride=2, padding=1, groups=2, bias=True)
    x = torch.randn(2, 6, 9, 9)
    result = count(layer, x)
    paper = arith.adder_op_count(6, 8, 3, 5, groups=2)  # per image, no bias
    assert (result.mult_adds, result.additions) == (
        0,
        2 * paper.additions + 2 * 8 * 5 * 5,
    )
    assert result.params == paper.params + 8
    # a BatchNorm folds into a convolution before it, not into an adder layer
    x = torch.randn(2, 6, 8, 8)
    for first, folds in (
        (cnn.Conv2d(6, 6, 3, padding=1), True),
        (cnn.Adder2d(6, 6, 3, padding=1), False),
    ):
        norm = only_row(
            count(nn.Sequential(first, nn.BatchNorm2d(6)), x, fold_batch_norm=True),
            nn.BatchNorm2d,
        )
        assert norm.mult_adds == (0 if folds else x.numel())


@pytest.mark.parametrize(
    "modulated, groups, offset_groups, stride, bias",
    [(False, 1, 1, 1, True), (True, 2, 2, 2, False)],
)
def test_dcn_is_offset_convolution_plus_sampling_plus_product(
    modulated, groups, offset_groups, stride, bias
):
    # fvcore#121 skips the deformable op; arith.deform_conv_cost counts its three parts
    layer = cnn.DCN2d(
        4,
        6,
        3,
        stride=stride,
        padding=1,
        groups=groups,
        bias=bias,
        offset_groups=offset_groups,
        modulated=modulated,
    )
    x = torch.randn(2, 4, 9, 9)
    out = 9 if stride == 1 else 5
    expected = arith.deform_conv_cost(
        4, 6, 3, out, groups, offset_groups, modulated, bias
    )
    result = count(layer, x)
    assert [row.name for row in result.rows] == ["", "conv_offset"]
    assert result.mult_adds == 2 * expected["total"].mult_adds
    assert result.params == expected["total"].params
    assert (
        result.rows[1].mult_adds == 2 * expected["offsets"].mult_adds
    )  # the offset convolution, by the torch rule
    # the additions: the two biases, one per output value
    predicted = (3 if modulated else 2) * offset_groups * 9
    assert result.additions == 2 * out * out * (predicted + (6 if bias else 0))
    # the sampling reads the input and the predicted offsets (and mask)
    offsets = layer.offsets_and_mask(x)
    read = x.nbytes + sum(t.nbytes for t in offsets if t is not None)
    assert result.rows[0].bytes_read == read == x.nbytes + 4 * 2 * out * out * predicted


def test_torchvision_style_deform_conv_reads_its_offsets_and_mask():
    layer = cnn.DeformConv2d(4, 6, 3, padding=1)
    x, offset, mask = (
        torch.randn(2, 4, 7, 7),
        torch.randn(2, 18, 7, 7),
        torch.rand(2, 9, 7, 7),
    )
    costs = {
        modulated: arith.deform_conv_cost(4, 6, 3, 7, modulated=modulated)
        for modulated in (False, True)
    }
    plain, masked = count(layer, (x, offset)), count(layer, (x, offset, mask))
    # no offset convolution here: the caller computed the offsets
    assert plain.mult_adds == 2 * (
        costs[False]["conv"].mult_adds + costs[False]["sampling"].mult_adds
    )
    assert masked.mult_adds == 2 * (
        costs[True]["conv"].mult_adds + costs[True]["sampling"].mult_adds
    )
    assert masked.bytes_read == x.nbytes + offset.nbytes + mask.nbytes
    active = count(cnn.ActiveConv2d(4, 6, 3, padding=1), x)
    assert active.mult_adds == plain.mult_adds and active.params == plain.params + 2 * 9


def test_dcls_costs_its_dense_kernel():
    layer = cnn.DclsConv2d(4, 6, kernel_count=3, dilated_kernel_size=7, padding=3)
    x = torch.randn(2, 4, 10, 10)
    dense = arith.conv_cost(
        4, 6, 7, 10
    ).mult_adds  # what it costs at run time: a 7x7 convolution
    assert count(layer, x).mult_adds == 2 * dense + 4 * layer.weight.numel()


@pytest.mark.parametrize("kind", ["condconv", "dynamic"])
def test_dynamic_layers_match_dynamic_conv_cost_and_the_flop_counter(kind):
    torch.manual_seed(0)
    if kind == "condconv":
        layer, hidden = cnn.CondConv2d(8, 6, 3, padding=1, num_kernels=3), None
    else:
        layer, hidden = (
            cnn.DynamicConv2d(
                8, 6, 3, stride=2, padding=1, groups=2, num_kernels=4, temperature=1.0
            ),
            4,
        )
    x = torch.randn(3, 8, 8, 8)
    out = layer(x).shape[-1]
    expected = arith.dynamic_conv_cost(
        8, 6, 3, out, layer.num_kernels, layer.groups, True, hidden
    )
    result = count(layer, x)
    assert result.mult_adds == 3 * expected["total"].mult_adds
    assert result.params == expected["total"].params
    assert result.mult_adds == flop_counter_mult_adds(layer, x)
    own = only_row(result, type(layer))
    assert own.mult_adds == 3 * (
        expected["conv"].mult_adds + expected["aggregation"].mult_adds
    )
    assert (
        own.additions == layer(x).numel() + x.numel()
    )  # bias, and the pooling the attention starts from


def test_shift_layers_cost_memory_not_arithmetic():
    x = torch.randn(2, 18, 6, 6)
    shift = count(cnn.Shift2d(18, 3), x)
    zero = arith.shift_cost(18, 6)
    assert (
        (shift.params, shift.mult_adds, shift.additions)
        == (zero.params, zero.mult_adds, 0)
        == (0, 0, 0)
    )
    assert (shift.bytes_read, shift.bytes_written) == (x.nbytes, x.nbytes)
    active = count(cnn.ActiveShift2d(18, 3), x)
    assert (active.params, active.mult_adds) == (
        2 * 18,
        4 * x.numel(),
    )  # bilinear: four per value
    block = cnn.ShiftBlock(18, 18, expansion=2)
    result = count(block, x)
    convolutions = result.select(nn.modules.conv._ConvNd, cnn.Conv2d).mult_adds
    assert (
        convolutions == flop_counter_mult_adds(block, x) == 2 * 2 * 18 * 36 * 36
    )  # N, 2 convs 18 <-> 36, 36 positions
    assert only_row(result, cnn.ShiftBlock).additions == x.numel()  # the residual


def chapter_non_local_cost(channels, inter, size, sub_sample, mode):
    """The non-local chapter's count (projections with arith.conv_cost, then the pairwise term), per image."""
    key_side = size // 2 if sub_sample else size
    positions, keys = size * size, key_side * key_side
    projections = (
        arith.conv_cost(channels, inter, 1, size)
        + arith.conv_cost(channels, inter, 1, key_side)
        + arith.conv_cost(channels, inter, 1, key_side)
        + arith.conv_cost(inter, channels, 1, size)
    )
    pairwise = (
        (keys + positions) * inter * inter
        if mode == "dot_product"
        else positions * keys * 2 * inter
    )
    return projections.mult_adds + pairwise


@pytest.mark.parametrize("mode", ["embedded_gaussian", "dot_product", "gaussian"])
@pytest.mark.parametrize("sub_sample", [True, False])
def test_non_local_block_matches_the_chapter_and_the_flop_counter(mode, sub_sample):
    torch.manual_seed(0)
    block = cnn.NonLocal2d(8, mode=mode, sub_sample=sub_sample)
    x = torch.randn(2, 8, 6, 6)
    own = only_row(count(block, x), cnn.NonLocal2d)
    assert own.mult_adds == flop_counter_mult_adds(block, x)
    if mode != "gaussian":
        assert own.mult_adds == 2 * chapter_non_local_cost(8, 4, 6, sub_sample, mode)
    else:  # no theta, phi: the raw C = 8 features are compared
        keys = 9 if sub_sample else 36
        assert own.mult_adds == 2 * (8 * 4 * keys + 4 * 8 * 36 + 36 * keys * (8 + 4))


def test_non_local_concatenation_by_hand():
    block = cnn.NonLocal2d(8, inter_channels=3, mode="concatenation", sub_sample=True)
    own = only_row(count(block, torch.randn(1, 8, 4, 4)), cnn.NonLocal2d)
    positions, keys, c, ci = 16, 4, 8, 3
    # theta (P), phi and g (M), W_z (P); s_i, t_j (C_e each), t_j g_j (C_i), s_i G + T (C_i)
    assert own.mult_adds == c * ci * (positions + 2 * keys + positions) + (
        positions + keys
    ) * (ci + ci)
    # biases, two prefix sums over the M keys, the residual
    assert (
        own.additions
        == ci * (positions + 2 * keys) + c * positions + 2 * keys * ci + c * positions
    )


def test_selective_kernel_block():
    torch.manual_seed(0)
    block = cnn.SelectiveKernel2d(8, 8, dilations=(1, 2, 3), reduction=2, min_hidden=4)
    x = torch.randn(2, 8, 6, 6)
    result = count(block, x)
    assert result.select(
        nn.modules.conv._ConvNd, nn.Linear
    ).mult_adds == flop_counter_mult_adds(block, x)
    own = only_row(result, cnn.SelectiveKernel2d)
    assert (own.mult_adds, own.additions) == (
        3 * x.numel(),
        3 * x.numel(),
    )  # weighted sum; branch sum + pooling
    assert result.params == sum(p.numel() for p in block.parameters())


def test_depthwise_separable_matches_its_closed_form():
    layer = cnn.DepthwiseSeparableConv2d(
        6, 10, 3, padding=1, depth_multiplier=2, bias=False
    )
    x = torch.randn(2, 6, 7, 7)
    expected = arith.depthwise_separable_cost(6, 10, 3, 7, depth_multiplier=2)
    result = count(layer, x)
    assert (result.mult_adds, result.params) == (
        2 * expected.mult_adds,
        expected.params,
    )


def test_aspp_counts_its_branches_and_its_concatenation():
    torch.manual_seed(0)
    block = cnn.ASPP(4, 6, rates=(2, 3))
    x = torch.randn(2, 4, 9, 9)
    result = count(block, x)
    assert result.select(
        nn.modules.conv._ConvNd, cnn.Conv2d
    ).mult_adds == flop_counter_mult_adds(block, x)
    own = only_row(result, cnn.ASPP)
    features = len(block.branches) + 1  # + the image pooling
    assert own.bytes_read == own.bytes_written == features * 4 * 2 * 6 * 81
    assert result.params == sum(p.numel() for p in block.parameters())


def test_no_convref_layer_is_left_uncounted():
    torch.manual_seed(0)
    layers = [
        cnn.Conv2d(8, 8, 3, padding=1),
        cnn.Adder2d(8, 8, 3, padding=1),
        cnn.DCN2d(8, 8, 3, padding=1),
        cnn.ActiveConv2d(8, 8, 3, padding=1),
        cnn.DclsConv2d(8, 8, 2, 3, padding=1),
        cnn.CondConv2d(8, 8, 3, padding=1),
        cnn.DynamicConv2d(8, 8, 3, padding=1),
        cnn.SelectiveKernel2d(8, 8, min_hidden=4),
        cnn.NonLocal2d(8),
        cnn.Shift2d(8),
        cnn.ActiveShift2d(8),
        cnn.ShiftBlock(8, 8),
        cnn.ChannelShuffle(2),
        cnn.DepthwiseSeparableConv2d(8, 8, 3, padding=1),
        cnn.ASPP(8, 8, rates=(2,)),
        cnn.AtrousCascade(8, (1, 2)),
        cnn.ConvTranspose2d(8, 8, 3, padding=1),
    ]
    model = nn.Sequential(*layers)
    result = count(model, torch.randn(2, 8, 8, 8))
    assert result.uncounted == []
    assert result.params == sum(p.numel() for p in model.parameters())
    assert all(row.bytes_read > 0 or row.note for row in result.rows)
