"""One believable, deterministic demo company ("BrightNest") as canonical records.

``build_company(seed, tickets, now)`` returns the same :class:`Company` for the same inputs: Faker
and ``random.Random`` are seeded per call, and every time is relative to ``now``. Both sandbox
emulators render their stores from it; ``target_account`` is what an empty target account holds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from faker import Faker

from migrator.models import (Agent, Attachment, Comment, EndUser, Group, Membership, Organization,
                             Product, Role, SatisfactionRating, Ticket, TicketEvent, TicketField,
                             TimeEntry, iso)

from . import seed_people as people
from .seed_text import LOCATIONS
from .seed_tickets import TicketFactory, plan_tickets

__all__ = ["Company", "build_company", "target_account", "attachment_bytes"]


@dataclass
class Company:
    """A help desk account's content as canonical records (source ids, ISO UTC times)."""

    name: str = "BrightNest"
    now: str | None = None
    roles: list[Role] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)
    organizations: list[Organization] = field(default_factory=list)
    end_users: list[EndUser] = field(default_factory=list)
    agents: list[Agent] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    ticket_fields: list[TicketField] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    satisfaction_ratings: list[SatisfactionRating] = field(default_factory=list)
    ticket_events: list[TicketEvent] = field(default_factory=list)
    time_entries: list[TimeEntry] = field(default_factory=list)
    locations: dict[str, dict[str, str]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Records per entity (the list attributes)."""
        return {f.name: len(getattr(self, f.name)) for f in dataclasses.fields(self)
                if isinstance(getattr(self, f.name), list)}

    def comments_by_ticket(self) -> dict[str, list[Comment]]:
        """Comments grouped by ticket id, in creation order."""
        out: dict[str, list[Comment]] = {}
        for comment in self.comments:
            out.setdefault(comment.ticket_id, []).append(comment)
        return out


def _default_now() -> datetime:
    # Floored to the day so that two calls on the same day without ``now`` still agree.
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today


def build_company(seed: int = 7, tickets: int = 400, now: datetime | None = None) -> Company:
    """Generate the demo company deterministically from ``seed``, ``tickets`` and ``now``."""
    now = (now or _default_now()).astimezone(timezone.utc).replace(microsecond=0)
    rng = random.Random(seed)
    fake_en, fake_de = Faker("en_US"), Faker("de_DE")
    fake_en.seed_instance(seed)
    fake_de.seed_instance(seed + 1)
    created = iso(now - timedelta(days=720))
    staff = people.build_staff(fake_en, fake_de, rng, now)
    orgs = people.build_organizations(fake_en, fake_de, rng, now)
    users = people.build_end_users(fake_en, fake_de, rng, now, orgs,
                                   count=max(60, min(700, 150 + tickets)))
    products = people.build_products()
    company = Company(now=iso(now), roles=people.build_roles(), products=products,
                      organizations=orgs, end_users=users, agents=staff.agents,
                      groups=people.build_groups(created), memberships=staff.memberships,
                      ticket_fields=people.build_ticket_fields(),
                      locations={k: {"city": v[0], "time_zone": v[1]}
                                 for k, v in LOCATIONS.items()})
    line_ids = dict(zip(("hub", "app", "billing"), (p.id for p in products)))
    factory = TicketFactory(rng, fake_en, fake_de, staff, now, line_ids)
    for n, spec in enumerate(plan_tickets(rng, now, users, tickets)):
        factory.add(str(n + 1), spec)
    company.tickets, company.comments = factory.tickets, factory.comments
    company.ticket_events, company.time_entries = factory.events, factory.time_entries
    company.satisfaction_ratings = factory.ratings
    return company


def target_account(company: Company) -> Company:
    """What an empty target account has: the same agents (seats, matched by e-mail), built-in roles.

    The agents carry no group memberships: the new tool starts without groups.
    """
    # Seats only: no groups and no custom roles yet (those come from the migration).
    agents = [dataclasses.replace(a, group_ids=[], tags=[], role_ids=[], custom_role=None)
              for a in company.agents if a.active and not a.suspended]
    return Company(name=company.name, now=company.now, agents=agents,
                   roles=[dataclasses.replace(r) for r in company.roles if r.builtin],
                   locations=dict(company.locations))


# -- attachment contents ---------------------------------------------------------------------

def attachment_bytes(attachment: Attachment) -> bytes:
    """Deterministic content of ``attachment`` of exactly ``attachment.size`` bytes (when set)."""
    size = attachment.size or 1024
    ctype = attachment.content_type or ""
    if ctype == "image/png":
        return _png(attachment.id, size)
    if ctype == "application/pdf":
        return _padded(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", b"\n%%EOF\n", attachment.id, size)
    return _text(attachment.id, size)


def _rng(key: str) -> random.Random:
    return random.Random(hashlib.sha256(key.encode()).digest())


def _filler(key: str, size: int) -> bytes:
    """``size`` pseudo-random bytes seeded by ``key`` (a sandbox serves thousands: it is fast)."""
    return _rng(key).randbytes(max(0, size))


def _padded(head: bytes, tail: bytes, key: str, size: int) -> bytes:
    body = max(0, size - len(head) - len(tail))
    return head + _filler(key, body) + tail


def _text(key: str, size: int) -> bytes:
    """A log file: lines with a per-line event id, seeded by ``key``."""
    line = len(f"2024-01-01T00:00:00Z INFO hub[{key}] event=0123456789abcdef\n")
    ids = _rng(key).randbytes(8 * (size // line + 1)).hex()
    out = "".join(f"2024-01-01T00:00:{n % 60:02d}Z INFO hub[{key}] "
                  f"event={ids[16 * n:16 * n + 16]}\n" for n in range(size // line + 1))
    return out.encode()[:size]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(key: str, size: int) -> bytes:
    """A valid 1x1 PNG padded with a text chunk to ``size`` bytes."""
    shade = hashlib.sha256(key.encode()).digest()[:3]
    head = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    idat = _chunk(b"IDAT", zlib.compress(b"\x00" + shade))
    end = _chunk(b"IEND", b"")
    pad = size - len(head) - len(idat) - len(end) - 12 - len(b"Comment\x00")
    text = b"" if pad < 0 else _chunk(b"tEXt", b"Comment\x00" + _filler(key, pad).hex()
                                       .encode()[:pad])
    return head + text + idat + end

