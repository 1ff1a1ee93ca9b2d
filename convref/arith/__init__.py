"""Convolution arithmetic: output sizes, receptive fields, parameter and multiply-add counts.

Integer formulas (the few maps, such as receptive-field coverage and transposed-convolution
overlap, are small integer arrays): these are the formulas the chapters derive, and the
tests check them against shapes that PyTorch actually produces, brute-force receptive
fields found by autograd, and the numbers published in the papers.

.. rubric:: Modules

sizes
    Output sizes and receptive fields along one axis.
costs
    Parameters and multiply-adds of one layer from its hyper-parameters.
counter
    :func:`count`: parameters, multiply-adds, additions and activation bytes of a whole model,
    per layer, from one forward pass (what each quantity counts is set out there).
layer_ops
    :class:`Ops`, what a layer's ``count_ops`` returns to :func:`count`.
report
    :class:`Count` and :class:`LayerCount`, the result of :func:`count`, printable as a table.
torch_rules
    How :func:`count` counts PyTorch's own layers.
energy
    Multiplications and additions counted apart, and their energy (AdderNet).
memory
    Memory traffic and arithmetic intensity of a convolution (roofline).
dilation
    Dilated kernels, gridding, the HDC rule, causal stacks.
transposed
    Transposed-convolution sizes, TensorFlow's "same", checkerboard overlap.
taps
    Where the taps of a deformable convolution read the input.
"""

from .costs import (
    Cost,
    conv_cost,
    deform_conv_cost,
    depthwise_separable_cost,
    depthwise_separable_ratio,
    dynamic_conv_cost,
    linear_cost,
    shift_cost,
)
from .counter import count
from .dilation import (
    causal_receptive_field,
    dilated_kernel_size,
    hdc_max_gap,
    receptive_field_coverage,
    satisfies_hdc,
)
from .energy import ENERGY_45NM_PJ, OpCount, adder_op_count, conv_op_count
from .layer_ops import Ops, tensor_bytes
from .memory import arithmetic_intensity, conv_memory_traffic
from .report import Count, LayerCount
from .sizes import (
    ConvSpec,
    ReceptiveField,
    conv_output_size,
    receptive_field,
    stack_specs,
)
from .taps import affine_tap_offsets, tap_positions
from .transposed import (
    TfSameTranspose,
    conv_input_sizes,
    conv_transpose_output_size,
    has_uneven_overlap,
    tf_same_conv_transpose,
    transpose_overlap,
)

__all__ = [
    # sizes
    "conv_output_size",
    "ConvSpec",
    "ReceptiveField",
    "receptive_field",
    "stack_specs",
    # costs
    "Cost",
    "conv_cost",
    "linear_cost",
    "depthwise_separable_cost",
    "depthwise_separable_ratio",
    "shift_cost",
    "deform_conv_cost",
    "dynamic_conv_cost",
    # counter
    "count",
    "Count",
    "LayerCount",
    "Ops",
    "tensor_bytes",
    # energy
    "ENERGY_45NM_PJ",
    "OpCount",
    "conv_op_count",
    "adder_op_count",
    # memory
    "conv_memory_traffic",
    "arithmetic_intensity",
    # dilation
    "dilated_kernel_size",
    "receptive_field_coverage",
    "hdc_max_gap",
    "satisfies_hdc",
    "causal_receptive_field",
    # transposed
    "conv_transpose_output_size",
    "conv_input_sizes",
    "TfSameTranspose",
    "tf_same_conv_transpose",
    "transpose_overlap",
    "has_uneven_overlap",
    # taps
    "tap_positions",
    "affine_tap_offsets",
]
