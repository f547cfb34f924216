"""Streaming statistics with honest sample sizes: every figure carries the n it rests on.

Memory stays bounded whatever the number of tickets: a :class:`Distribution` keeps exact values
up to :data:`EXACT_CAP` of them (so small histories give exact medians), then folds them into a
log-scale histogram whose bins are 1 % wide, which bounds the median's relative error by 1 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Figure", "Distribution", "Ratio", "EXACT_CAP", "THIN_N"]

EXACT_CAP = 4096
THIN_N = 20  # below this many tickets a figure is flagged as thin data
_BIN_RATIO = math.log(1.01)


@dataclass(frozen=True)
class Figure:
    """One number in the report, with the count of tickets it rests on."""

    value: float | None
    n: int
    unit: str = ""
    estimate: bool = False
    min_n: int = THIN_N

    @property
    def thin(self) -> bool:
        """True when too few tickets back the number for it to be trusted."""
        return self.n < self.min_n

    @property
    def warning(self) -> str | None:
        """A short warning for thin data or a missing value, else ``None``."""
        if self.value is None:
            return f"no data (n={self.n})"
        if self.thin:
            return f"thin data: n={self.n} < {self.min_n}, indicative only"
        return None

    def to_json(self) -> dict[str, Any]:
        """The figure as JSON-ready data."""
        value = None if self.value is None else round(self.value, 4)
        out: dict[str, Any] = {"value": value, "n": self.n, "unit": self.unit, "thin": self.thin}
        if self.estimate:
            out["estimate"] = True
        if self.warning:
            out["warning"] = self.warning
        return out


class Distribution:
    """Count, mean and median of a stream of non-negative numbers in bounded memory."""

    __slots__ = ("count", "total", "_exact", "_bins")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self._exact: list[float] | None = []
        self._bins: dict[int, int] = {}

    def add(self, value: float) -> None:
        """Add one observation (negative values are clamped to 0: clock skew between systems)."""
        value = max(0.0, float(value))
        self.count += 1
        self.total += value
        if self._exact is not None:
            self._exact.append(value)
            if len(self._exact) > EXACT_CAP:
                for v in self._exact:
                    self._bin(v)
                self._exact = None
        else:
            self._bin(value)

    def _bin(self, value: float) -> None:
        key = -1 if value < 1.0 else int(math.log(value) / _BIN_RATIO)
        self._bins[key] = self._bins.get(key, 0) + 1

    @property
    def mean(self) -> float | None:
        """Arithmetic mean, or ``None`` when empty."""
        return self.total / self.count if self.count else None

    @property
    def median(self) -> float | None:
        """Median: exact up to EXACT_CAP values, within 1 % beyond."""
        if not self.count:
            return None
        if self._exact is not None:
            values = sorted(self._exact)
            mid = len(values) // 2
            return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
        return self._quantile_from_bins(0.5)

    def _quantile_from_bins(self, q: float) -> float:
        target = q * self.count
        seen = 0
        for key in sorted(self._bins):
            seen += self._bins[key]
            if seen >= target:
                return 0.0 if key < 0 else math.exp((key + 0.5) * _BIN_RATIO)
        return 0.0  # pragma: no cover - unreachable: target <= count

    def figure_mean(self, unit: str = "", *, estimate: bool = False) -> Figure:
        """The mean as a :class:`Figure`."""
        return Figure(self.mean, self.count, unit, estimate)

    def figure_median(self, unit: str = "", *, estimate: bool = False) -> Figure:
        """The median as a :class:`Figure`."""
        return Figure(self.median, self.count, unit, estimate)


class Ratio:
    """A share: hits over a base count."""

    __slots__ = ("hits", "base")

    def __init__(self) -> None:
        self.hits = 0
        self.base = 0

    def add(self, hit: bool) -> None:
        """Count one case in the base, and in the hits when ``hit``."""
        self.base += 1
        self.hits += 1 if hit else 0

    def figure(self) -> Figure:
        """The share (0..1) as a :class:`Figure`, ``None`` when the base is empty."""
        return Figure(self.hits / self.base if self.base else None, self.base, "ratio")
