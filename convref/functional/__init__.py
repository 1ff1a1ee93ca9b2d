"""PyTorch versions of every operator: same names and arguments as :mod:`convref.reference`.

One module per operator family; ``__all__`` lists the operators family by family.
"""

from .adder import (
    adder2d,
    adder2d_backward,
    adder_adaptive_scale,
    with_adaptive_gradient,
)
from .conv import conv2d, im2col
from .deformable import dcls_kernel, deform_conv2d
from .dilated import (
    batch_to_space,
    causal_conv1d,
    conv2d_dilated_kernel,
    conv2d_space_to_batch,
    dilate_kernel,
    space_to_batch,
)
from .dynamic import dynamic_conv2d
from .grouped import channel_shuffle
from .lightweight import dynamic_lightweight_conv1d, lightweight_conv1d
from .non_local import non_local2d, non_local_affinity, non_local_response
from .separable import factorize_kernel, separable_conv2d
from .shift import pattern_shift2d, shift2d, shift_pattern
from .transposed import (
    conv_transpose2d,
    conv_transpose2d_as_conv,
    flip_transpose_weight,
    stuff_zeros,
)
from .upsample import resize_conv2d

__all__ = [
    "conv2d",
    "im2col",
    "separable_conv2d",
    "factorize_kernel",
    "channel_shuffle",
    "dilate_kernel",
    "conv2d_dilated_kernel",
    "space_to_batch",
    "batch_to_space",
    "conv2d_space_to_batch",
    "causal_conv1d",
    "conv_transpose2d",
    "conv_transpose2d_as_conv",
    "stuff_zeros",
    "flip_transpose_weight",
    "resize_conv2d",
    "non_local2d",
    "non_local_response",
    "non_local_affinity",
    "shift2d",
    "shift_pattern",
    "pattern_shift2d",
    "deform_conv2d",
    "dcls_kernel",
    "adder2d",
    "adder2d_backward",
    "adder_adaptive_scale",
    "with_adaptive_gradient",
    "dynamic_conv2d",
    "lightweight_conv1d",
    "dynamic_lightweight_conv1d",
]
