"""Dilation: dilated kernels, coverage of a stack (gridding), the HDC rule, causal stacks."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ._ints import _int_at_least, _int_sequence


def dilated_kernel_size(kernel_size: int, dilation: int) -> int:
    r"""Input positions spanned by a dilated kernel, from its first tap to its last.

    .. math::

        k' = d\,(k - 1) + 1

    A kernel of :math:`k` taps with dilation :math:`d` has :math:`d - 1` holes between
    neighbouring taps; it reads the same input window as a dense kernel of size :math:`k'`.

    Parameters
    ----------
    kernel_size, dilation : int
        :math:`k` and :math:`d` (``dilation=1`` is an ordinary kernel).

    Returns
    -------
    int
        :math:`k'`.

    Examples
    --------
    >>> dilated_kernel_size(3, 2)  # Dumoulin & Visin, figure 5.1
    5
    """
    kernel_size = _int_at_least("kernel_size", kernel_size, 1)
    dilation = _int_at_least("dilation", dilation, 1)
    return dilation * (kernel_size - 1) + 1


def receptive_field_coverage(
    kernel_sizes: Sequence[int], dilations: Sequence[int]
) -> np.ndarray:
    r"""How often each input position reaches one output of a stack of dilated convolutions.

    For a single-path stack of stride-1 2-D convolutions with square :math:`k_l \times k_l`
    kernels and dilation rates :math:`d_l` (input side first), the entry at
    :math:`(u, v)` is the number of paths from input position :math:`(u, v)` of the
    receptive field to one output position: the output's gradient with respect to the input
    when every kernel is all ones. Along one axis the counts are the convolution of the
    layers' dilated box indicators,

    .. math::

        c = b_1 * b_2 * \dots * b_L, \qquad
        b_l[t] = \begin{cases} 1 & t = 0, d_l, 2 d_l, \dots, (k_l - 1) d_l \\
                               0 & \text{otherwise} \end{cases}

    and the 2-D map is their outer product :math:`C = c\,c^\top` (the kernels are separable).
    Its side is :math:`R = 1 + \sum_l d_l (k_l - 1)`.

    A zero entry is a *hole*: an input position inside the receptive field that can never
    influence the output. This is the *gridding* problem of dilated convolution (Wang et
    al. 2018, "Understanding Convolution for Semantic Segmentation", WACV): three 3x3
    layers with rates ``(2, 2, 2)`` reach only the positions whose two coordinates are both
    even (a grid holding a quarter of the field), while rates ``(1, 2, 5)`` reach every
    position (their Hybrid Dilated Convolution, see :func:`satisfies_hdc`). The
    number of paths is also the shape of the receptive field's weighting when all weights
    are equal: it is largest in the middle.

    Parameters
    ----------
    kernel_sizes, dilations : sequence of int
        :math:`k_l` and :math:`d_l`, one per layer, input side first, same length (>= 1).

    Returns
    -------
    numpy.ndarray
        ``(R, R)`` int64 array of path counts; ``counts > 0`` marks the positions that
        reach the output.

    Examples
    --------
    >>> int((receptive_field_coverage([3, 3, 3], [2, 2, 2]) > 0).sum())  # 7 x 7 of the 13 x 13
    49
    """
    kernel_sizes = _int_sequence("kernel_sizes", kernel_sizes, 1)
    dilations = _int_sequence("dilations", dilations, 1)
    if len(kernel_sizes) != len(dilations):
        raise ValueError(
            "kernel_sizes and dilations must have the same length, got "
            f"{len(kernel_sizes)} and {len(dilations)}"
        )
    counts = np.ones(1, dtype=np.int64)
    for kernel_size, dilation in zip(kernel_sizes, dilations):
        box = np.zeros(dilation * (kernel_size - 1) + 1, dtype=np.int64)
        box[::dilation] = 1
        counts = np.convolve(
            counts, box
        )  # full convolution: the field grows by d (k - 1)
    return np.outer(counts, counts)


def hdc_max_gap(dilations: Sequence[int], kernel_size: int) -> int:
    r"""The HDC "maximum distance between two nonzero values", :math:`M_2`, of Wang et al. (2018).

    Wang et al. ("Understanding Convolution for Semantic Segmentation", WACV 2018,
    section 3.2) consider :math:`n` layers of :math:`K \times K` kernels with dilation rates
    :math:`r_1, \dots, r_n` (input side first) and define, from the top layer down,

    .. math::

        M_n = r_n, \qquad
        M_i = \max\bigl[\, M_{i+1} - 2 r_i,\; M_{i+1} - 2 (M_{i+1} - r_i),\; r_i \,\bigr]

    (the middle term is :math:`2 r_i - M_{i+1}`). :math:`M_i` bounds the distance between
    neighbouring nonzero taps of the kernel that layers :math:`i, \dots, n` compose to, along
    one axis (neighbours at distance 1 mean no hole). The recursion pictures each layer as the
    three taps :math:`-r_i, 0, r_i` of a 3x3 kernel (hence the :math:`2 r_i`); a larger
    kernel only adds taps, and for every :math:`K \ge 3` the bound holds:
    :math:`M_2` is at least the true largest gap of layers :math:`2 \dots n` (the tests check
    this). It is conservative: ``[1, 3, 1]`` covers its field without a hole, yet
    :math:`M_2 = 5`.

    The recursion never reads :math:`r_1`: the first layer is the one meant to fill the
    gaps left by the others, see :func:`satisfies_hdc`.

    Parameters
    ----------
    dilations : sequence of int
        :math:`r_1, \dots, r_n`, input side first (>= 1 each, at least one).
    kernel_size : int
        :math:`K`, at least 3. It does not enter the recursion; it is checked here because
        the recursion is a bound only for :math:`K \ge 3` (with 2-tap kernels the taps are
        not :math:`-r_i, 0, r_i` and the bound fails).

    Returns
    -------
    int
        :math:`M_2`. For a single layer there is no layer 2: the layers above layer 1
        compose to a single tap, which leaves no gap, and the result is 1 (the distance
        between neighbouring positions, what :math:`M` is for a dense kernel).

    Examples
    --------
    >>> hdc_max_gap([1, 2, 5], 3), hdc_max_gap([1, 2, 9], 3)  # the paper's two examples
    (2, 5)
    """
    dilations = _int_sequence("dilations", dilations, 1)
    _int_at_least("kernel_size", kernel_size, 3)
    if len(dilations) == 1:
        return 1
    gap = dilations[-1]  # M_n = r_n
    for rate in reversed(dilations[1:-1]):  # i = n-1 down to 2
        gap = max(gap - 2 * rate, gap - 2 * (gap - rate), rate)
    return gap


def satisfies_hdc(dilations: Sequence[int], kernel_size: int) -> bool:
    r"""Whether a stack of dilated :math:`K \times K` convolutions passes the HDC design rule.

    Wang et al. (2018, section 3.2): the goal of Hybrid Dilated Convolution is that the
    receptive field of the stack "fully covers a square region without any holes or missing
    edges" (no gridding, see :func:`receptive_field_coverage`); the design goal is

    .. math::

        M_2 \le K

    with :math:`M_2` from :func:`hdc_max_gap`. The idea: the layers above the first leave
    gaps of at most :math:`M_2` between the taps of their composed kernel, and a first layer
    of :math:`K` *adjacent* taps fills any gap of at most :math:`K`.

    That argument needs the first layer to be dense, :math:`r_1 = 1`, which the paper's
    examples all have (``[1, 2, 5]``, ``[1, 2, 3]``) but its formula never checks:
    :math:`M_2` does not depend on :math:`r_1`. Taken literally, :math:`M_2 \le K` accepts
    ``[2, 2, 2]`` (:math:`M_2 = 2`), which reaches only a quarter of its field. The paper adds
    that the rates in a group should not have a common factor greater than 1 (like
    ``2, 4, 8``), otherwise the gridding remains; that remark does not close the gap either:
    ``[2, 2, 5]`` has no common factor and :math:`M_2 = 2`, yet along each axis it never
    reaches offsets 1, 3, 15 and 17 of its 19. This function therefore checks both
    :math:`r_1 = 1` and :math:`M_2 \le K`, which makes it a *sufficient* rule for full
    coverage (with :math:`r_1 = 1` the rates' greatest common divisor is 1 automatically).
    It is not a necessary one: ``[1, 3, 1]`` covers its field but fails the rule.

    Parameters
    ----------
    dilations : sequence of int
        :math:`r_1, \dots, r_n`, input side first (>= 1 each, at least one).
    kernel_size : int
        :math:`K` (>= 3; the rule's recursion assumes a kernel with taps on both sides of
        its centre).

    Returns
    -------
    bool
        ``True`` when :math:`r_1 = 1` and :math:`M_2 \le K`. For one layer this is
        :math:`r_1 = 1`: a single dilated kernel always has holes.

    Examples
    --------
    >>> satisfies_hdc([1, 2, 5], 3), satisfies_hdc([1, 2, 9], 3), satisfies_hdc([2, 2, 2], 3)
    (True, False, False)
    """
    gap = hdc_max_gap(dilations, kernel_size)
    return int(dilations[0]) == 1 and gap <= kernel_size


def causal_receptive_field(kernel_size: int, dilations: Sequence[int]) -> int:
    r"""Receptive field of a stack of causal dilated 1-D convolutions (WaveNet).

    .. math::

        r = 1 + (k - 1) \sum_l d_l

    Each causal layer looks :math:`(k - 1) d_l` samples further into the past. WaveNet
    (van den Oord et al. 2016, section 2.1) uses :math:`k = 2` and rates
    :math:`1, 2, 4, \dots, 512`, whose receptive field is 1024 samples; doubling rates make it
    grow exponentially with depth, and every sample in it is seen (no gridding: with
    :math:`k = 2`, layer :math:`l` fills its field without a hole exactly when :math:`d_l` is at
    most the receptive field of the layers before it, which doubling rates starting at 1 meet).

    Parameters
    ----------
    kernel_size : int
        :math:`k`, the same in every layer.
    dilations : sequence of int
        :math:`d_l`, one per layer (>= 1 each). An empty stack sees only the current
        sample: 1.

    Returns
    -------
    int
        :math:`r`, the number of samples (the current one included) an output depends on.

    Examples
    --------
    >>> causal_receptive_field(2, [2 ** i for i in range(10)])
    1024
    """
    kernel_size = _int_at_least("kernel_size", kernel_size, 1)
    dilations = _int_sequence("dilations", dilations, 1, allow_empty=True)
    return 1 + (kernel_size - 1) * sum(dilations)
