"""The chapters' experiments: small, seeded runs that test the sources' claims.

Every experiment follows one protocol (module ``training``): all its
randomness comes from its ``seed`` argument, through a private generator
(:func:`seeded_generator`) or a forked and seeded global one (:func:`seeded`), so the caller's
random state is left alone; every training run goes through one loop (:func:`optimise`, and
:func:`train_classifier` on top of it). One module per chapter family:

training
    The seeding policy, the training loop, :func:`train_classifier`, the :class:`Plateau`
    stopping rule, :func:`population_statistics`.
protocol
    Several seeds per design (:func:`train_seeds`) and a verdict between designs.
verdicts
    Means over seeds, confidence intervals, "A beats B" or "cannot be told apart".
basics
    Initialisation and padding studies; channel connectivity of grouped stacks; a width
    sweep and fine-tuning of pretrained networks.
costs
    Parameters, multiply-adds and operation counts of whole models.
receptive_field
    Effective receptive fields and their radius.
dilated
    Segmenters of small dots and large frames: plain, dilated or strided.
transposed
    Checkerboard artifacts of learned 2x upsampling.
deformable
    A classifier with learned tap positions, and the offsets it learns.
adder
    AdderNet: template matching, weight statistics, gradients.
dynamic
    Dynamic kernels: the source article's layer, small dynamic networks, their attention;
    a pointer task for lightweight and dynamic 1-D convolution.
choosing
    The capstone: every operator of the book in the same network slot.
"""

from .adder import (
    ADDER_CLASSIFIER_KINDS,
    adder_classifier,
    excess_kurtosis,
    filter_gradients,
    template_responses,
)
from .basics import (
    TALL_OR_WIDE,
    activation_stds,
    channel_connectivity,
    finetune_seeds,
    input_influence,
    small_cnn,
    tall_or_wide,
    width_sweep,
)
from .choosing import (
    CHOICES,
    OperatorChoice,
    choice_block,
    choice_network,
    compare_operators,
    format_comparison,
    hourglass_block,
    shift_unit,
)
from .costs import model_cost, network_mult_adds, op_counts
from .dilated import SEGMENTER_KINDS, recall_by_kind, segmenter
from .deformable import (
    SHAPE_CLASSIFIER_KINDS,
    layer_offsets,
    conv_bn_relu,
    shape_classifier,
    shape_locator,
    stacked_taps,
)
from .dynamic import (
    DYNAMIC_CLASSIFIER_KINDS,
    NEGATION_TOKENS,
    SEQUENCE_CLASSIFIER_KINDS,
    SequenceClassifier,
    SourceDynamicConv2d,
    anneal_temperature,
    dynamic_attention,
    dynamic_classifier,
    freeze_attention,
    negation_sequences,
    pointer_sequences,
    shuffle_attention,
)
from .receptive_field import effective_receptive_field, erf_radius
from .._threads import policy_threads
from .protocol import ROW_HEADERS, SeedRuns, train_seeds, verdict
from .training import (
    Plateau,
    optimise,
    population_statistics,
    seeded,
    seeded_generator,
    train_classifier,
)
from .verdicts import (
    Estimate,
    Verdict,
    compare,
    compare_paired,
    compare_to_level,
    estimate,
    replication_chance,
    student_t_quantile,
)
from .transposed import (
    UPSAMPLERS,
    checkerboard_energy,
    checkerboard_experiment,
    constant_upsampling_kernel,
    smooth_image,
    train_upsampler,
    upsample2x,
)

__all__ = [
    # training: the seeding policy and the one training loop
    "seeded",
    "seeded_generator",
    "optimise",
    "train_classifier",
    "Plateau",
    "population_statistics",
    "policy_threads",
    # protocol and verdicts: several seeds, intervals, "A beats B"
    "train_seeds",
    "SeedRuns",
    "ROW_HEADERS",
    "verdict",
    "Estimate",
    "Verdict",
    "estimate",
    "compare",
    "compare_paired",
    "compare_to_level",
    "replication_chance",
    "student_t_quantile",
    # basics
    "activation_stds",
    "input_influence",
    "channel_connectivity",
    "small_cnn",
    "width_sweep",
    "finetune_seeds",
    "TALL_OR_WIDE",
    "tall_or_wide",
    # costs
    "model_cost",
    "op_counts",
    "network_mult_adds",
    # receptive_field
    "effective_receptive_field",
    "erf_radius",
    # transposed
    "checkerboard_energy",
    "UPSAMPLERS",
    "upsample2x",
    "constant_upsampling_kernel",
    "checkerboard_experiment",
    "smooth_image",
    "train_upsampler",
    # dilated
    "SEGMENTER_KINDS",
    "segmenter",
    "recall_by_kind",
    # deformable
    "SHAPE_CLASSIFIER_KINDS",
    "conv_bn_relu",
    "shape_classifier",
    "shape_locator",
    "layer_offsets",
    "stacked_taps",
    # adder
    "ADDER_CLASSIFIER_KINDS",
    "adder_classifier",
    "template_responses",
    "excess_kurtosis",
    "filter_gradients",
    # dynamic
    "SourceDynamicConv2d",
    "DYNAMIC_CLASSIFIER_KINDS",
    "dynamic_classifier",
    "anneal_temperature",
    "dynamic_attention",
    "freeze_attention",
    "shuffle_attention",
    "pointer_sequences",
    "NEGATION_TOKENS",
    "negation_sequences",
    "SEQUENCE_CLASSIFIER_KINDS",
    "SequenceClassifier",
    # choosing
    "OperatorChoice",
    "CHOICES",
    "hourglass_block",
    "shift_unit",
    "choice_block",
    "choice_network",
    "compare_operators",
    "format_comparison",
]
