"""What a suite hands the report: tables of rows, each row a client and its measurements."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

__all__ = ["Row", "Table"]


@dataclass
class Row:
    """One client in one table: a value per round (or per run), in the table's unit."""

    name: str
    values: list[float] = field(default_factory=list)
    ours: bool = False
    floor: bool = False
    error: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        """True when the row has measurements and no error."""
        return bool(self.values) and self.error is None

    @property
    def median(self) -> float:
        """The median of the values (NaN when there are none)."""
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def low(self) -> float:
        """The smallest value."""
        return min(self.values) if self.values else float("nan")

    @property
    def high(self) -> float:
        """The largest value."""
        return max(self.values) if self.values else float("nan")


@dataclass
class Table:
    """A comparison: rows measured the same way, and the peers that ratios are taken to."""

    key: str
    title: str
    unit: str
    rows: list[Row]
    ratio_to: list[str] = field(default_factory=list)
    note: str = ""
    figure: str = ""
    decimals: int = 1

    def row(self, name: str) -> Row | None:
        """The row called ``name``, if any."""
        for row in self.rows:
            if row.name == name:
                return row
        return None

    def ratio(self, row: Row, peer_name: str) -> float | None:
        """``row``'s median over the peer's, or None when either is missing."""
        peer = self.row(peer_name)
        if peer is None or not peer.ok or not row.ok or peer.median == 0:
            return None
        return row.median / peer.median
