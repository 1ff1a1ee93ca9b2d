"""Argument checks shared by the NumPy reference and the PyTorch version.

Every operator validates its arguments here, so both versions reject the same
inputs with the same ``ValueError`` / ``TypeError`` and the same message. The
checks look only at shapes, dtypes and plain Python values, never at the data.

One module per operator family, with the same name as in ``reference/`` and
``functional/``; ``core`` holds what they share (ints, pairs, arrays, dtypes, biases)
and ``conv`` the sliding-window arguments that most families reuse. Imports go
one way: family modules -> ``conv`` -> ``core``.
"""

from .adder import ADDER_GRADIENTS, check_adder_gradient, check_eta, check_grad_output
from .conv import (
    PADDING_MODES,
    Conv2dArgs,
    check_conv2d_args,
    check_window_args,
    output_length,
    padding_amounts,
)
from .core import (
    IntPair,
    Padding,
    _is_int,
    check_bool,
    check_array,
    check_bias,
    check_floating,
    check_layer_channels,
    check_same_dtype,
    int_pair,
    positive_int,
    positive_number,
)
from .deformable import (
    DeformConv2dArgs,
    check_dcls_kernel_args,
    check_deform_conv2d_args,
)
from .dilated import (
    CausalConv1dArgs,
    check_batch_to_space_args,
    check_block_args,
    check_causal_conv1d_args,
    check_dilate_kernel_args,
)
from .dynamic import check_dynamic_conv2d_args
from .grouped import check_channel_shuffle_args
from .lightweight import (
    LIGHTWEIGHT_PADDINGS,
    LightweightArgs,
    check_dynamic_lightweight_conv1d_args,
    check_heads,
    check_lightweight_conv1d_args,
    check_lightweight_layer_args,
    lightweight_padding,
)
from .non_local import (
    NON_LOCAL_MODES,
    NonLocalArgs,
    check_non_local_args,
    check_non_local_options,
    check_out_weight,
)
from .separable import SeparableArgs, check_kernel_matrix, check_separable_conv2d_args
from .shift import SHIFT_LAYOUTS, check_shift_args, check_shift_pattern_args
from .transposed import (
    ConvTranspose2dArgs,
    check_conv_transpose2d_args,
    check_output_padding,
    check_stuff_zeros_args,
    conv_transpose_length,
    transposed_output_size,
)
from .upsample import check_resize_conv2d_args

__all__ = [
    # core
    "IntPair",
    "check_bool",
    "Padding",
    "_is_int",  # private, but nn.dilated tells an int from a sequence of rates with it
    "check_array",
    "check_bias",
    "check_floating",
    "check_layer_channels",
    "check_same_dtype",
    "int_pair",
    "positive_int",
    "positive_number",
    # conv
    "PADDING_MODES",
    "Conv2dArgs",
    "check_conv2d_args",
    "check_window_args",
    "output_length",
    "padding_amounts",
    # families
    "ADDER_GRADIENTS",
    "check_adder_gradient",
    "check_eta",
    "check_grad_output",
    "DeformConv2dArgs",
    "check_dcls_kernel_args",
    "check_deform_conv2d_args",
    "CausalConv1dArgs",
    "check_batch_to_space_args",
    "check_block_args",
    "check_causal_conv1d_args",
    "check_dilate_kernel_args",
    "check_dynamic_conv2d_args",
    "check_channel_shuffle_args",
    "LIGHTWEIGHT_PADDINGS",
    "LightweightArgs",
    "check_dynamic_lightweight_conv1d_args",
    "check_heads",
    "check_lightweight_conv1d_args",
    "check_lightweight_layer_args",
    "lightweight_padding",
    "NON_LOCAL_MODES",
    "NonLocalArgs",
    "check_non_local_args",
    "check_non_local_options",
    "check_out_weight",
    "SeparableArgs",
    "check_kernel_matrix",
    "check_separable_conv2d_args",
    "SHIFT_LAYOUTS",
    "check_shift_args",
    "check_shift_pattern_args",
    "ConvTranspose2dArgs",
    "check_conv_transpose2d_args",
    "check_output_padding",
    "check_stuff_zeros_args",
    "conv_transpose_length",
    "transposed_output_size",
    "check_resize_conv2d_args",
]
