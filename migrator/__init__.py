"""helpdesk-migrator: move a support desk between help desks and restructure the team on the way."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
