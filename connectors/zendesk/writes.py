"""Creating requests that must not run twice: moved to :mod:`migrator.writes` (shared)."""

from __future__ import annotations

from migrator.writes import OnceClient, Unknown, create_once, wait_for

__all__ = ["OnceClient", "Unknown", "create_once", "wait_for"]
