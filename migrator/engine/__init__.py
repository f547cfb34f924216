"""The migration engine: export runner, ordered load steps in recorded batches, recovery,
sample selection, rollback, verify and status. The CLI (``migrator.cli.run``) stays a thin shell
over these functions.
"""

from __future__ import annotations

from migrator.engine.dryrun import dry_run
from migrator.engine.exporter import ExportReport, run_export
from migrator.engine.migrate import MigrateOptions, migrate
from migrator.engine.report import RunReport, StepReport
from migrator.engine.signals import StopFlag, handle_signals
from migrator.engine.steps import LOAD_ORDER, STEPS, Step, check_steps

__all__ = ["run_export", "ExportReport", "migrate", "dry_run", "MigrateOptions", "RunReport",
           "StepReport", "StopFlag", "handle_signals", "STEPS", "LOAD_ORDER", "Step",
           "check_steps"]
