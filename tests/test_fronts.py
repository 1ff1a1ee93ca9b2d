"""The package's central promise: ``reference.X`` and ``functional.X`` are the same operator.

Same names in both fronts' ``__all__``, same parameters in the same order, with the same kinds
and defaults, so that one test table runs every operator through both versions. What differs
is listed here with its reason, and each listed difference must still exist, so the lists
cannot outlive the code they excuse.
"""

from __future__ import annotations

import inspect
import re
from typing import Callable

import pytest

from convref import functional, reference

#: Operators that only one front has: name -> (front, reason).
ONLY_IN: dict[str, tuple[str, str]] = {
    "conv2d_loop": (
        "reference",
        "the chapter's literal loop over output pixels: to be read, too slow to port",
    ),
    "conv2d_im2col": (
        "reference",
        "the chapter's im2col + matrix product; functional.conv2d is that already",
    ),
    "with_adaptive_gradient": (
        "functional",
        "a tensor hook that rescales AdderNet's gradient in backward; NumPy has no autograd",
    ),
}

#: Trailing parameters that one version adds: (front, name, parameter) -> reason.
EXTRA_PARAMETERS: dict[tuple[str, str, str], str] = {
    ("functional", "adder2d", "gradient"): (
        "chooses the backward pass (paper's clipped gradient or the exact one); the reference has no backward"
    ),
    (
        "functional",
        "shift_pattern",
        "device",
    ): "where to create the returned tensor; a NumPy array has no device",
}

FRONTS = {"reference": reference, "functional": functional}


def _parameters(op: Callable) -> list[tuple[str, str, object]]:
    """``(name, kind, default)`` of each parameter, the kind in words (``"keyword-only"``)."""
    return [
        (p.name, p.kind.description, p.default)
        for p in inspect.signature(op).parameters.values()
    ]


def signature_mismatches(
    name: str, reference_op: Callable, functional_op: Callable, extra: dict
) -> list[str]:
    """What differs between two versions' parameter lists, after dropping the excused trailing extras.

    ``extra`` maps ``(front, name, parameter)`` to a reason, as :data:`EXTRA_PARAMETERS`.
    """
    lists = {
        "reference": _parameters(reference_op),
        "functional": _parameters(functional_op),
    }
    problems = []
    for front, params in lists.items():
        excused = [p for p in params if (front, name, p[0]) in extra]
        if excused and params[-len(excused) :] != excused:
            problems.append(
                f"{name}: {front}'s extra parameters {[p[0] for p in excused]} must come last"
            )
        lists[front] = [p for p in params if p not in excused]
    ref, fun = lists["reference"], lists["functional"]
    if [p[0] for p in ref] != [p[0] for p in fun]:
        problems.append(
            f"{name}: parameters {[p[0] for p in ref]} (reference) != {[p[0] for p in fun]} (functional)"
        )
    else:
        for (param, ref_kind, ref_default), (_, fun_kind, fun_default) in zip(ref, fun):
            if ref_kind != fun_kind:
                problems.append(f"{name}({param}): kind {ref_kind} != {fun_kind}")
            if ref_default != fun_default:
                problems.append(
                    f"{name}({param}): default {ref_default!r} != {fun_default!r}"
                )
    return problems


def front_mismatches(
    reference_names: list[str], functional_names: list[str], only_in: dict
) -> list[str]:
    """Names that one front's ``__all__`` lists and the other does not, unless :data:`ONLY_IN` excuses them."""
    names = {"reference": set(reference_names), "functional": set(functional_names)}
    problems = []
    for front, other in (("reference", "functional"), ("functional", "reference")):
        for name in sorted(names[front] - names[other]):
            if only_in.get(name, ("", ""))[0] != front:
                problems.append(
                    f"{name} is in {front}.__all__ but not in {other}.__all__"
                )
    return problems


SHARED = sorted(set(reference.__all__) & set(functional.__all__))


def test_both_fronts_list_the_same_operators():
    assert front_mismatches(reference.__all__, functional.__all__, ONLY_IN) == []


@pytest.mark.parametrize("front", FRONTS)
def test_every_listed_name_is_a_public_callable(front):
    module = FRONTS[front]
    assert len(module.__all__) == len(set(module.__all__)), (
        f"{front}.__all__ lists a name twice"
    )
    for name in module.__all__:
        op = getattr(module, name)
        assert callable(op) and op.__doc__, (
            f"{front}.{name} must be a documented callable"
        )


@pytest.mark.parametrize("name", SHARED)
def test_same_parameters_in_the_same_order(name):
    assert (
        signature_mismatches(
            name, getattr(reference, name), getattr(functional, name), EXTRA_PARAMETERS
        )
        == []
    )


@pytest.mark.parametrize("name", sorted(ONLY_IN))
def test_each_one_sided_operator_still_exists_on_one_side_only(name):
    front, reason = ONLY_IN[name]
    other = "functional" if front == "reference" else "reference"
    assert reason
    assert name in FRONTS[front].__all__, (
        f"{name} is gone from {front}: drop it from ONLY_IN"
    )
    assert name not in FRONTS[other].__all__, (
        f"{name} is now in both fronts: drop it from ONLY_IN"
    )


@pytest.mark.parametrize("key", sorted(EXTRA_PARAMETERS))
def test_each_extra_parameter_still_exists_on_one_side_only(key):
    front, name, parameter = key
    other = "functional" if front == "reference" else "reference"
    assert EXTRA_PARAMETERS[key]
    assert parameter in inspect.signature(getattr(FRONTS[front], name)).parameters, (
        f"{front}.{name} has no parameter {parameter!r} any more: drop it from EXTRA_PARAMETERS"
    )
    assert (
        parameter not in inspect.signature(getattr(FRONTS[other], name)).parameters
    ), f"{other}.{name} has {parameter!r} too: drop it from EXTRA_PARAMETERS"


# The comparison itself can fail: planted differences are caught.


def _op(x, weight, bias=None, stride=1, padding=0):
    """Stand-in operator."""


def _swapped(x, weight, bias=None, padding=0, stride=1):
    """Two parameters in the other order."""


def _renamed(x, kernel, bias=None, stride=1, padding=0):
    """``weight`` under another name."""


def _other_default(x, weight, bias=None, stride=2, padding=0):
    """Another default stride."""


def _keyword_only(x, weight, bias=None, *, stride=1, padding=0):
    """``stride`` and ``padding`` keyword-only."""


def _extra_first(x, device=None, weight=None, bias=None, stride=1, padding=0):
    """An excused extra parameter that is not last."""


def _extra_last(x, weight, bias=None, stride=1, padding=0, device=None):
    """An excused extra parameter at the end."""


EXCUSE_DEVICE = {("functional", "op", "device"): "test"}


@pytest.mark.parametrize(
    "functional_op, extra, message",
    [
        (_swapped, {}, "parameters"),
        (_renamed, {}, "parameters"),
        (_other_default, {}, r"op\(stride\): default 1 != 2"),
        (
            _keyword_only,
            {},
            r"op\(stride\): kind positional or keyword != keyword-only",
        ),
        (_extra_first, EXCUSE_DEVICE, "must come last"),
        (_extra_last, {}, "parameters"),  # an extra parameter that nothing excuses
    ],
)
def test_the_signature_comparison_catches_a_planted_difference(
    functional_op, extra, message
):
    problems = signature_mismatches("op", _op, functional_op, extra)
    assert any(re.search(message, p) for p in problems), problems


def test_the_signature_comparison_accepts_an_excused_extra_and_an_identical_pair():
    assert signature_mismatches("op", _op, _extra_last, EXCUSE_DEVICE) == []
    assert signature_mismatches("op", _op, _op, {}) == []


def test_the_front_comparison_catches_a_missing_name():
    assert front_mismatches(["conv2d", "shift2d"], ["conv2d"], {}) == [
        "shift2d is in reference.__all__ but not in functional.__all__"
    ]
    assert front_mismatches(
        ["conv2d"], ["conv2d", "extra"], {"extra": ("reference", "wrong side")}
    ) == ["extra is in functional.__all__ but not in reference.__all__"]
    assert (
        front_mismatches(
            ["conv2d"], ["conv2d", "extra"], {"extra": ("functional", "excused")}
        )
        == []
    )
