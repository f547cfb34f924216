"""What a migrate run did, per step: counts per outcome and the first failures with reasons."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["StepReport", "RunReport"]


@dataclass
class StepReport:
    """One step's counts: created, updated, unchanged, reused, skipped, failed (and planned)."""

    entity: str
    planned: int = 0
    counts: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"entity": self.entity, "planned": self.planned, "counts": dict(self.counts),
                "failures": [{"source_id": s, "reason": r} for s, r in self.failures],
                "notes": self.notes}


@dataclass
class RunReport:
    """A migrate (or dry) run."""

    run_id: int | None
    dry_run: bool = False
    status: str = "running"
    steps: dict[str, StepReport] = field(default_factory=dict)
    recovered: dict[str, int] = field(default_factory=dict)
    outstanding_failed: int = 0

    def step(self, entity: str) -> StepReport:
        """The report of one step (created on first use)."""
        return self.steps.setdefault(entity, StepReport(entity))

    @property
    def failed(self) -> int:
        """Records that failed in this run."""
        return sum(s.counts.get("failed", 0) for s in self.steps.values())

    def total(self, outcome: str) -> int:
        """Records with ``outcome`` across steps."""
        return sum(s.counts.get(outcome, 0) for s in self.steps.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"run_id": self.run_id, "dry_run": self.dry_run, "status": self.status,
                "recovered": self.recovered, "outstanding_failed": self.outstanding_failed,
                "steps": [s.as_dict() for s in self.steps.values()]}
