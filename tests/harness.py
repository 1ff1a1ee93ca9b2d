"""The operator tests' one harness: a case, the versions of an operator, and the bad-call tables.

Every operator exists up to three times: the NumPy reference (``convref.reference.X``), the
PyTorch version (``convref.functional.X``) and, where there is one, PyTorch's or torchvision's
own op. The tests run the same :class:`Case` through each of them and compare, in the spirit
of torchvision's ``test/test_ops.py`` ``OpTester``:

* :class:`Case`: named shapes and keyword arguments; seeded arrays or tensors in a dtype.
* :class:`Version` / :func:`versions`: one implementation, called on NumPy arrays whatever its
  front, its result returned as a NumPy array (after checking its type).
* :class:`Operator`: an operator's versions plus its oracle (PyTorch's own op);
  :meth:`Operator.check` is the table test "every version matches the oracle".
* :func:`run_both`: the reference and the PyTorch version on the same NumPy arrays.
* :func:`assert_both_refuse` and :func:`bad_calls`: one table of bad calls per family, each row
  ``(description, overrides, exception, message regex)``; every version must raise exactly that
  exception with the same message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import pytest
import torch

from convref import functional, reference

FRONTS = {"reference": reference, "functional": functional}

Shape = tuple[int, ...]
Seed = Union[int, np.random.Generator]


# ---------------------------------------------------------------------------
# Converting between the fronts
# ---------------------------------------------------------------------------


def to_torch(value: Any) -> Any:
    """``value`` with every NumPy array turned into a tensor sharing its memory (through dicts, tuples and lists)."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, dict):
        return {k: to_torch(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(to_torch(v) for v in value)
    return value


def to_numpy(value: Any) -> Any:
    """``value`` with every tensor turned into a NumPy array (detached, on the CPU), through tuples and lists."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, (tuple, list)):
        return type(value)(to_numpy(v) for v in value)
    return value


def _check_types(name: str, value: Any, array_type: type) -> None:
    """The result (or each element of a tuple of results) is of the front's array type."""
    items = value if isinstance(value, tuple) else (value,)
    for item in items:
        assert isinstance(item, array_type), (
            f"{name} returned {type(item).__name__}, not {array_type.__name__}"
        )


# ---------------------------------------------------------------------------
# One case
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One call of an operator: its arrays by name and shape (in call order) and its keyword arguments.

    ``shapes`` maps each positional array to its shape, or to ``None`` for an optional array left
    out (a bias): :meth:`arrays` draws them in that order from ``numpy.random.default_rng(seed)``
    (standard normal), skipping the ``None`` ones, so one seed always gives the same values.
    """

    id: str
    shapes: Mapping[str, Optional[Shape]]
    options: Mapping[str, Any] = field(default_factory=dict)

    def kwargs(self) -> dict:
        """The keyword arguments of the call (a fresh dict)."""
        return dict(self.options)

    def shape(self, name: str) -> Shape:
        """The shape of array ``name``."""
        shape = self.shapes[name]
        assert shape is not None, f"{self.id}: {name} is left out"
        return shape

    def arrays(
        self, seed: Seed = 0, dtype: Any = np.float64
    ) -> tuple[Optional[np.ndarray], ...]:
        """The positional arrays as NumPy arrays of ``dtype`` (``None`` where left out).

        ``seed`` may also be a generator, which then goes on drawing (``default_rng`` returns it as is).
        """
        rng = np.random.default_rng(seed)
        return tuple(
            None if shape is None else rng.standard_normal(shape).astype(dtype)
            for shape in self.shapes.values()
        )

    def tensors(
        self,
        seed: Seed = 0,
        dtype: Any = np.float64,
        device: Union[str, torch.device, None] = None,
    ) -> tuple[Optional[torch.Tensor], ...]:
        """The same values as :meth:`arrays`, as tensors (on ``device`` if given)."""
        tensors = to_torch(self.arrays(seed, dtype))
        return (
            tensors
            if device is None
            else tuple(None if t is None else t.to(device) for t in tensors)
        )

    # Constructors for the conv-shaped families, in the operators' own argument order.

    @classmethod
    def conv2d(
        cls,
        id: str,
        batch: int,
        in_channels: int,
        out_channels: int,
        size: tuple[int, int],
        kernel_size: tuple[int, int],
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> Case:
        """``x (N, C_in, H, W)``, ``weight (C_out, C_in / groups, kh, kw)``, ``bias (C_out,)``: ``conv2d``'s call."""
        return cls(
            id,
            {
                "x": (batch, in_channels, *size),
                "weight": (out_channels, in_channels // groups, *kernel_size),
                "bias": (out_channels,) if bias else None,
            },
            dict(stride=stride, padding=padding, dilation=dilation, groups=groups),
        )

    @classmethod
    def conv_transpose2d(
        cls,
        id: str,
        batch: int,
        in_channels: int,
        out_channels: int,
        size: tuple[int, int],
        kernel_size: tuple[int, int],
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        dilation: Any = 1,
        bias: bool = True,
    ) -> Case:
        """``conv_transpose2d``'s call: ``x (N, C_in, H, W)``, ``weight (C_in, C_out / groups, kh, kw)``, bias."""
        return cls(
            id,
            {
                "x": (batch, in_channels, *size),
                "weight": (in_channels, out_channels // groups, *kernel_size),
                "bias": (out_channels,) if bias else None,
            },
            dict(
                stride=stride,
                padding=padding,
                output_padding=output_padding,
                groups=groups,
                dilation=dilation,
            ),
        )

    @classmethod
    def separable_conv2d(
        cls,
        id: str,
        batch: int,
        in_channels: int,
        mid_channels: int,
        out_channels: int,
        size: tuple[int, int],
        kernel_size: tuple[int, int],
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> Case:
        """``x``, ``column_weight (C_mid, C_in / groups, kh, 1)``, ``row_weight (C_out, C_mid / groups, 1, kw)``."""
        kh, kw = kernel_size
        return cls(
            id,
            {
                "x": (batch, in_channels, *size),
                "column_weight": (mid_channels, in_channels // groups, kh, 1),
                "row_weight": (out_channels, mid_channels // groups, 1, kw),
                "bias": (out_channels,) if bias else None,
            },
            dict(stride=stride, padding=padding, dilation=dilation, groups=groups),
        )


def case_id(case: Case) -> str:
    """``ids=case_id`` in ``pytest.mark.parametrize`` names each test by its case."""
    return case.id


# ---------------------------------------------------------------------------
# The versions of an operator
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """One implementation of an operator, called on NumPy arrays whatever array type it takes.

    ``name`` says where it lives: ``"reference.X"`` takes and returns NumPy arrays; anything else
    (``"functional.X"``, ``"torch.nn.functional.conv2d"``) takes tensors, which it gets from the
    NumPy arguments (sharing their memory), and its tensors come back as NumPy arrays.
    """

    name: str
    call: Callable

    @property
    def takes_numpy(self) -> bool:
        return self.name.startswith("reference.")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.takes_numpy:
            result = self.call(*args, **kwargs)
            _check_types(self.name, result, np.ndarray)
            return result
        result = self.call(*to_torch(args), **to_torch(kwargs))
        _check_types(self.name, result, torch.Tensor)
        return to_numpy(result)

    def on(self, case: Case, seed: int = 0, dtype: Any = np.float64) -> Any:
        """The version on ``case``'s arrays, drawn with ``seed`` in ``dtype``."""
        return self(*case.arrays(seed, dtype), **case.kwargs())


def versions(*names: str, fronts: Sequence[str] = tuple(FRONTS)) -> dict[str, Version]:
    """``{"reference.X": ..., "functional.X": ...}`` for each name, front by front."""
    table = {}
    for front in fronts:
        for name in names:
            table[f"{front}.{name}"] = Version(
                f"{front}.{name}", getattr(FRONTS[front], name)
            )
    return table


def run_both(name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``reference.<name>`` and ``functional.<name>`` on the same NumPy arguments: ``{front: NumPy result}``."""
    return {
        front: version(*args, **kwargs)
        for front, version in zip(FRONTS, versions(name).values())
    }


@dataclass(frozen=True)
class Operator:
    """An operator under test: its convref versions and its oracle, PyTorch's own op on tensors (if any).

    :meth:`check` is the shared table test: every version on the case, in the case's dtype and
    with the oracle's shape, within ``rtol``/``atol`` of the oracle.
    """

    versions: Mapping[str, Version]
    oracle: Optional[Callable] = None

    def expected(
        self, case: Case, seed: int = 0, dtype: Any = np.float64
    ) -> np.ndarray:
        """The oracle on ``case`` as a NumPy array."""
        assert self.oracle is not None, "this operator has no oracle in PyTorch"
        return to_numpy(self.oracle(*case.tensors(seed, dtype), **case.kwargs()))

    def check(
        self,
        case: Case,
        *,
        rtol: float,
        atol: float,
        seed: int = 0,
        dtype: Any = np.float64,
        only: Optional[Sequence[str]] = None,
    ) -> None:
        """Each version (or those named in ``only``) matches the oracle on ``case``."""
        expected = self.expected(case, seed, dtype)
        for name in only or self.versions:
            y = self.versions[name].on(case, seed, dtype)
            assert y.dtype == np.dtype(dtype), f"{name}: dtype {y.dtype}"
            assert y.shape == expected.shape, (
                f"{name}: shape {y.shape} != {expected.shape}"
            )
            np.testing.assert_allclose(y, expected, rtol=rtol, atol=atol, err_msg=name)


# ---------------------------------------------------------------------------
# Bad calls
# ---------------------------------------------------------------------------

#: A row of a bad-call table: (description, overrides of a valid base call, exception, message regex).
BadCall = tuple[str, dict, type, str]


def bad_calls(table: Sequence[BadCall]) -> list:
    """The rows of a bad-call table as ``pytest.param(overrides, exception, pattern, id=description)``."""
    return [
        pytest.param(overrides, exception, pattern, id=row_id)
        for row_id, overrides, exception, pattern in table
    ]


def refusal(call: Callable, kwargs: dict, exception: type) -> str:
    """The message of the ``exception`` (exactly that type, not a subclass) that ``call(**kwargs)`` raises."""
    with pytest.raises(exception) as info:
        call(**kwargs)
    assert type(info.value) is exception, f"{type(info.value).__name__}: {info.value}"
    return str(info.value)


def assert_both_refuse(
    operator: Union[str, Mapping[str, Version]],
    kwargs: dict,
    exception: type,
    pattern: str,
) -> dict[str, str]:
    """Every version raises exactly ``exception`` with one and the same message, matching ``pattern``.

    ``operator`` is a name in both fronts, or a dict of :class:`Version`. ``kwargs`` holds NumPy
    arrays; the PyTorch versions get them as tensors. Returns the messages by version.
    """
    table = versions(operator) if isinstance(operator, str) else operator
    messages = {}
    for name, version in table.items():
        messages[name] = refusal(
            version.call, kwargs if version.takes_numpy else to_torch(kwargs), exception
        )
        assert re.search(pattern, messages[name]), f"{name}: {messages[name]!r}"
    assert len(set(messages.values())) == 1, messages
    return messages
