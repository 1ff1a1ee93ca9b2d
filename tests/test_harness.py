"""The shared operator harness can fail: planted mistakes are caught, so a green table means something."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convref import functional, reference
from harness import (
    Case,
    Operator,
    Version,
    assert_both_refuse,
    bad_calls,
    run_both,
    versions,
)

CASE = Case.conv2d("3x3", 2, 3, 4, (6, 5), (3, 3), padding=1)


def test_case_draws_the_same_arrays_for_the_same_seed_in_call_order():
    x, weight, bias = CASE.arrays(seed=7)
    rng = np.random.default_rng(7)
    for name, array in zip(("x", "weight", "bias"), (x, weight, bias)):
        np.testing.assert_array_equal(
            array, rng.standard_normal(CASE.shape(name)), err_msg=name
        )
    assert all(
        torch.equal(t, torch.from_numpy(a))
        for t, a in zip(CASE.tensors(seed=7), (x, weight, bias))
    )
    no_bias = Case.conv2d("no-bias", 1, 2, 2, (4, 4), (3, 3), bias=False)
    assert no_bias.arrays()[2] is None and no_bias.tensors()[2] is None
    assert CASE.arrays(dtype=np.float32)[0].dtype == np.float32


def test_a_generator_goes_on_drawing():
    rng = np.random.default_rng(3)
    first = CASE.arrays(rng)[0]
    second = CASE.arrays(rng)[0]
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, CASE.arrays(3)[0])


def _torch(a):
    return None if a is None else torch.from_numpy(a)


def test_a_version_must_return_its_fronts_array_type():
    wrong = Version(
        "reference.conv2d",
        lambda *args, **kwargs: functional.conv2d(*map(_torch, args), **kwargs),
    )
    with pytest.raises(AssertionError, match="returned Tensor, not ndarray"):
        wrong.on(CASE)
    assert isinstance(
        versions("conv2d")["functional.conv2d"].on(CASE), np.ndarray
    )  # tensors come back as NumPy


def test_the_table_test_catches_a_wrong_version():
    operator = Operator(versions("conv2d"), oracle=F.conv2d)
    operator.check(CASE, rtol=1e-10, atol=1e-10)
    off = Version("reference.off", lambda *a, **k: reference.conv2d(*a, **k) + 1e-8)
    with pytest.raises(AssertionError):
        Operator({off.name: off}, F.conv2d).check(CASE, rtol=1e-10, atol=1e-10)
    float32 = Version(
        "reference.f32", lambda *a, **k: reference.conv2d(*a, **k).astype(np.float32)
    )
    with pytest.raises(AssertionError, match="dtype float32"):
        Operator({float32.name: float32}, F.conv2d).check(CASE, rtol=1e-3, atol=1e-3)


def test_run_both_gives_numpy_results_by_front():
    results = run_both("conv2d", *CASE.arrays(), **CASE.kwargs())
    assert list(results) == ["reference", "functional"]
    np.testing.assert_allclose(
        results["reference"], results["functional"], rtol=1e-10, atol=1e-10
    )


def _refuses(message: str, exception: type = ValueError):
    def call(**kwargs):
        raise exception(message)

    return call


def test_assert_both_refuse_needs_the_same_message_the_pattern_and_the_exact_type():
    base = {"x": np.zeros((1, 1, 3, 3))}
    assert_both_refuse(
        "conv2d",
        {**base, "weight": np.zeros((1, 1, 5, 5))},
        ValueError,
        r"x is too small",
    )
    different = {
        "reference.op": Version("reference.op", _refuses("groups must be >= 1, got 0")),
        "functional.op": Version(
            "functional.op", _refuses("groups must be >= 1, got 0 ")
        ),
    }
    with pytest.raises(AssertionError):
        assert_both_refuse(different, base, ValueError, r"^groups")
    same = {
        name: Version(name, _refuses("groups must be >= 1, got 0"))
        for name in ("reference.op", "functional.op")
    }
    assert_both_refuse(same, base, ValueError, r"^groups must be >= 1, got 0$")
    with pytest.raises(AssertionError):
        assert_both_refuse(same, base, ValueError, r"^stride")  # the pattern is checked
    subclass = {
        "reference.op": Version("reference.op", _refuses("bad", exception=UnicodeError))
    }
    with pytest.raises(AssertionError):
        assert_both_refuse(
            subclass, base, ValueError, "bad"
        )  # a subclass of ValueError is not ValueError


def test_bad_call_rows_become_named_parameters():
    (row,) = bad_calls([("groups 0", dict(groups=0), ValueError, r"^groups")])
    assert row.id == "groups 0" and row.values == (
        dict(groups=0),
        ValueError,
        r"^groups",
    )
