"""PyTorch versions of every operator: same names and arguments as :mod:`convref.reference`."""

from .conv import conv2d, im2col
from .dilated import batch_to_space, causal_conv1d, conv2d_dilated_kernel, conv2d_space_to_batch, dilate_kernel, space_to_batch
from .grouped import channel_shuffle
from .separable import factorize_kernel, separable_conv2d
from .transposed import conv_transpose2d, conv_transpose2d_as_conv, flip_transpose_weight, stuff_zeros

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
]

from .upsample import resize_conv2d  # noqa: E402

__all__ += ["resize_conv2d"]

from .non_local import non_local2d, non_local_affinity, non_local_response  # noqa: E402

__all__ += ["non_local2d", "non_local_response", "non_local_affinity"]

from .shift import shift2d, shift_pattern  # noqa: E402

__all__ += ["shift2d", "shift_pattern"]

from .deformable import dcls_kernel, deform_conv2d  # noqa: E402

__all__ += ["deform_conv2d", "dcls_kernel"]

from .adder import adder2d, adder2d_backward, adder_adaptive_scale, with_adaptive_gradient  # noqa: E402

__all__ += ["adder2d", "adder2d_backward", "adder_adaptive_scale", "with_adaptive_gradient"]

from .dynamic import dynamic_conv2d  # noqa: E402

__all__ += ["dynamic_conv2d"]
