"""Local emulators of the vendor APIs (Zendesk, Freshdesk) seeded with one demo company.

Import what you need from the submodules: ``seed`` (the company), ``zendesk`` / ``freshdesk``
(Starlette app factories), ``run`` (``start_sandbox``), ``common`` (knobs, buckets, faults).
"""

from __future__ import annotations
