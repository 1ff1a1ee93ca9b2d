"""Matplotlib figures used by the book; each returns its ``Figure`` and needs no widget.

Every ``plot_*`` function draws in the book's one figure style, :data:`STYLE`, applied for the
duration of the call only: importing :mod:`convref` leaves matplotlib's global settings (and
so your own figures) alone. :func:`use_style` adopts the style globally, as the chapters do
for the few figures they draw with matplotlib directly; :func:`style` applies it to a block.

.. rubric:: Modules

figure_style
    The style, the diagrams' colours and cells.
listing
    The package's source without docstrings (:func:`show_source`), tables (:func:`show_table`).
basics
    Convolution arithmetic, channel groups, images, matrices, curves, cost shares.
grouped
    Channel-shuffle connectivity, the roofline.
small_kernels
    Low-rank (separable) kernels and what they filter.
dilated
    Kernels with holes, space-to-batch, coverage, causal stacks, effective receptive fields.
transposed
    Scatter and gather readings of a transposed convolution, overlap, checkerboards.
non_local
    Attention maps, cost scaling.
shift
    Channels moved by their shifts.
deformable
    Regular against deformed taps, one output taken apart, learned taps.
adder
    Template matching, value and weight distributions.
dynamic
    Attention per kind of input, kernel mixtures, temperature, branch selection.
choosing
    Accuracy against cost, one point per operator.
"""

from . import _requires  # noqa: F401 (first: says which install brings what is missing)
from .adder import (
    plot_template_matching,
    plot_value_histograms,
    plot_weight_distributions,
)
from .basics import (
    plot_channel_groups,
    plot_conv_arithmetic,
    plot_conv_cases,
    plot_conv_steps,
    plot_cost_shares,
    plot_curves,
    plot_images,
    plot_matrix,
)
from .choosing import CHOICE_COSTS, plot_operator_choices
from .deformable import (
    plot_deformed_sampling,
    plot_learned_taps,
    plot_sampling_grid,
    plot_tap_spread,
)
from .dilated import (
    plot_causal_stack,
    plot_coverage,
    plot_dilated_kernel,
    plot_effective_receptive_fields,
    plot_space_to_batch,
)
from .dynamic import (
    plot_attention_by_group,
    plot_branch_attention,
    plot_kernel_mixture,
    plot_temperature_sweep,
)
from .figure_style import (
    COLUMN_WIDTH,
    INPUT_COLOR,
    OUTPUT_COLOR,
    PAD_COLOR,
    STYLE,
    TAP_COLOR,
    TEXT_SIZES,
    style,
    use_style,
)
from .grouped import plot_roofline, plot_shuffle_connectivity
from .listing import SourceListing, Table, show_source, show_table
from .non_local import plot_attention_map, plot_scaling
from .shift import plot_shifted_channels
from .small_kernels import plot_low_rank_filtering, plot_low_rank_kernels
from .transposed import (
    STAMP_COLORS,
    STUFFED_ZERO_COLOR,
    plot_overlap,
    plot_transpose_scatter,
    plot_upsampling_comparison,
    plot_zero_stuffed,
)

__all__ = [
    # figure_style
    "STYLE",
    "TEXT_SIZES",
    "COLUMN_WIDTH",
    "use_style",
    "style",
    "INPUT_COLOR",
    "PAD_COLOR",
    "TAP_COLOR",
    "OUTPUT_COLOR",
    # listing
    "show_source",
    "show_table",
    "SourceListing",
    "Table",
    # basics
    "plot_conv_arithmetic",
    "plot_conv_steps",
    "plot_conv_cases",
    "plot_channel_groups",
    "plot_images",
    "plot_matrix",
    "plot_curves",
    "plot_cost_shares",
    # grouped
    "plot_shuffle_connectivity",
    "plot_roofline",
    # small_kernels
    "plot_low_rank_kernels",
    "plot_low_rank_filtering",
    # dilated
    "plot_dilated_kernel",
    "plot_space_to_batch",
    "plot_coverage",
    "plot_causal_stack",
    "plot_effective_receptive_fields",
    # transposed
    "STAMP_COLORS",
    "STUFFED_ZERO_COLOR",
    "plot_transpose_scatter",
    "plot_zero_stuffed",
    "plot_overlap",
    "plot_upsampling_comparison",
    # non_local
    "plot_attention_map",
    "plot_scaling",
    # shift
    "plot_shifted_channels",
    # deformable
    "plot_sampling_grid",
    "plot_deformed_sampling",
    "plot_learned_taps",
    "plot_tap_spread",
    # adder
    "plot_template_matching",
    "plot_value_histograms",
    "plot_weight_distributions",
    # dynamic
    "plot_attention_by_group",
    "plot_kernel_mixture",
    "plot_temperature_sweep",
    "plot_branch_attention",
    # choosing
    "CHOICE_COSTS",
    "plot_operator_choices",
]
