"""The result of :func:`convref.arith.count`: one :class:`LayerCount` per layer call, totalled in a :class:`Count`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

__all__ = ["LayerCount", "Count"]


@dataclass(frozen=True)
class LayerCount:
    """One row of :class:`Count`: one call of one layer.

    Attributes
    ----------
    name : str
        Qualified name in the model (``"features.0.conv"``); ``""`` for the model itself.
    module_type : type
        The layer's class.
    output_shape : tuple of int
        Shape of the (first) tensor it returned.
    params : int
        Parameters held by the layer itself (not its children), counted at its first call only.
    mult_adds, additions, bytes_read, bytes_written : int
        As in :class:`Ops`.
    counted : bool
        False when no rule and no ``count_ops`` covers the layer: its operations are unknown
        (and shown as 0).
    note : str
        Why a row looks unusual (folded BatchNorm, uncounted layer), else ``""``.
    """

    name: str
    module_type: type
    output_shape: tuple[int, ...]
    params: int
    mult_adds: int
    additions: int
    bytes_read: int
    bytes_written: int
    counted: bool = True
    note: str = ""

    @property
    def type_name(self) -> str:
        """The layer's class name."""
        return self.module_type.__name__


@dataclass(frozen=True)
class Count:
    """What :func:`count` returns: one :class:`LayerCount` per layer call, and their totals.

    Attributes
    ----------
    rows : tuple of LayerCount
        In call order (a layer before the layers it calls).
    batch : int
        Size of the first dimension of the input the model ran on.

    Notes
    -----
    ``params``, ``mult_adds``, ``additions``, ``bytes_read`` and ``bytes_written`` are the
    sums over the rows; ``str(count)`` is a table of the rows and the total.
    """

    rows: tuple[LayerCount, ...]
    batch: int = field(default=1)

    @property
    def params(self) -> int:
        """Total parameters of the layers that ran."""
        return sum(row.params for row in self.rows)

    @property
    def mult_adds(self) -> int:
        """Total multiply-accumulates."""
        return sum(row.mult_adds for row in self.rows)

    @property
    def additions(self) -> int:
        """Total additions outside multiply-adds."""
        return sum(row.additions for row in self.rows)

    @property
    def bytes_read(self) -> int:
        """Total activation bytes read."""
        return sum(row.bytes_read for row in self.rows)

    @property
    def bytes_written(self) -> int:
        """Total activation bytes written."""
        return sum(row.bytes_written for row in self.rows)

    @property
    def uncounted(self) -> list[str]:
        """Names of the layers that hold parameters but that no rule counts."""
        return [row.name for row in self.rows if not row.counted]

    def select(self, *types: type) -> "Count":
        """The rows of layers that are instances of one of ``types`` (subclasses included).

        Parameters
        ----------
        *types : type
            Module classes, e.g. ``torch.nn.Conv2d, torch.nn.Linear``.

        Returns
        -------
        Count
            Same batch, only those rows.
        """
        return Count(
            tuple(row for row in self.rows if issubclass(row.module_type, types)),
            self.batch,
        )

    def format(self, exact: bool = False) -> str:
        """A table of the rows and the total.

        Parameters
        ----------
        exact : bool
            Print integers in full (``1,204,224``) instead of rounded (``1.20M``, ``4.6MiB``).

        Returns
        -------
        str
        """
        number = (lambda n: f"{n:,}") if exact else _si
        size = (lambda n: f"{n:,}") if exact else _binary
        header = (
            "layer",
            "type",
            "output",
            "params",
            "mult-adds",
            "additions",
            "read",
            "written",
        )
        body = [
            (
                row.name or "(model)",
                row.type_name + ("" if row.counted else " ?"),
                "x".join(map(str, row.output_shape)),
                number(row.params),
                number(row.mult_adds),
                number(row.additions),
                size(row.bytes_read),
                size(row.bytes_written),
            )
            for row in self.rows
        ]
        total = (
            "total",
            "",
            f"batch {self.batch}",
            number(self.params),
            number(self.mult_adds),
            number(self.additions),
            size(self.bytes_read),
            size(self.bytes_written),
        )
        widths = [
            max(len(line[i]) for line in (header, *body, total))
            for i in range(len(header))
        ]

        def line(cells: Sequence[str]) -> str:
            left = [cell.ljust(width) for cell, width in zip(cells[:3], widths[:3])]
            right = [cell.rjust(width) for cell, width in zip(cells[3:], widths[3:])]
            return "  ".join(left + right).rstrip()

        rule = "-" * len(line(header))
        notes = [
            f"{row.name or '(model)'}: {row.note}" for row in self.rows if row.note
        ]
        return "\n".join(
            [line(header), rule, *map(line, body), rule, line(total), *notes]
        )

    def __str__(self) -> str:
        return self.format()


def _si(n: int) -> str:
    """``1_234_567 -> '1.23M'``: three significant digits, decimal prefixes (as papers give multiply-adds)."""
    for factor, prefix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.3g}{prefix}"
    return str(n)


def _binary(n: int) -> str:
    """``4_816_896 -> '4.59MiB'``: bytes with binary prefixes."""
    for factor, prefix in (
        (2**40, "TiB"),
        (2**30, "GiB"),
        (2**20, "MiB"),
        (2**10, "KiB"),
    ):
        if abs(n) >= factor:
            return f"{n / factor:.3g}{prefix}"
    return f"{n}B"
