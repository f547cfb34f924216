"""The people and structure of the seeded demo company: roles, groups, agents, customers, fields.

Tiers are deliberately *not* labelled anywhere: they must be inferred from evidence (custom role
names, membership of "Tier 2" / "Tech Escalations", who tickets get escalated to).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from faker import Faker

from migrator.models import (Agent, EndUser, FieldOption, Group, Membership, Organization, Product,
                             Role, TicketField, iso)

from .seed_text import ISSUE_TYPES, LOCATIONS, PRODUCT_LINES

__all__ = ["Staff", "build_roles", "build_products", "build_groups", "build_staff",
           "build_organizations", "build_end_users", "build_ticket_fields", "FIELD_IDS",
           "GROUP_IDS", "TIER2_GROUP", "TECH_GROUP"]

# Zendesk-like numeric ids (as strings, the canonical convention), in disjoint ranges so that
# agents and end users (one Zendesk user id space) never collide.
AGENT_ID0, USER_ID0, ORG_ID0, GROUP_ID0 = 370_001, 380_001, 360_101, 360_001
FIELD_IDS = {"product": "360010001", "issue": "360010002", "vip": "360010003",
             "order": "360010004", "purchase": "360010005", "devices": "360010006"}
TIER2_GROUP, TECH_GROUP, LEGACY_GROUP = "360000007", "360000008", "360000009"
GROUP_IDS = {f"{line}/{loc}": str(GROUP_ID0 + i) for i, (line, loc) in enumerate(
    (line, loc) for line in PRODUCT_LINES for loc in LOCATIONS)}

# (custom role id, name, description); Zendesk's built-in roles are admin / agent.
CUSTOM_ROLES = [("36001", "Staff", "Standard agent: tickets in own groups"),
                ("36002", "Team Lead", "Leads a queue, can edit macros and views"),
                ("36003", "Advisor", "Senior agent handling escalations"),
                ("36004", "Light Agent", "Can view and add private notes only"),
                ("36005", "Technical Specialist", "Engineers handling technical escalations")]


@dataclass
class Staff:
    """The agents plus the evidence of who is who (used to build tickets)."""

    agents: list[Agent] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    by_kind: dict[str, list[Agent]] = field(default_factory=dict)
    left: list[Agent] = field(default_factory=list)  # inactive or suspended agents


def build_roles() -> list[Role]:
    """The built-in and custom roles of the source account."""
    roles = [Role(id="admin", name="Administrator", builtin=True),
             Role(id="agent", name="Agent", builtin=True)]
    roles += [Role(id=i, name=n, description=d) for i, n, d in CUSTOM_ROLES]
    return roles


def build_products() -> list[Product]:
    """The three product lines."""
    return [Product(id=str(7001 + i), name=name, description=f"{name} support")
            for i, (name, _, _) in enumerate(PRODUCT_LINES.values())]


def build_groups(created: str) -> list[Group]:
    """Product line x location queues, the escalation groups and one deleted legacy group."""
    groups = []
    for key, gid in GROUP_IDS.items():
        line, loc = key.split("/")
        groups.append(Group(id=gid, name=f"{PRODUCT_LINES[line][2]} {LOCATIONS[loc][2]}",
                            description=f"{PRODUCT_LINES[line][0]} questions, {LOCATIONS[loc][0]}",
                            created_at=created, updated_at=created))
    groups.append(Group(id=TIER2_GROUP, name="Tier 2", description="Escalated cases",
                        created_at=created, updated_at=created))
    groups.append(Group(id=TECH_GROUP, name="Tech Escalations",
                        description="Firmware, backend and API problems",
                        created_at=created, updated_at=created))
    groups.append(Group(id=LEGACY_GROUP, name="Phone Support (old)", deleted=True,
                        created_at=created, updated_at=created))
    return groups


# kind -> (count, zendesk role, custom role id, tags)
_STAFF_PLAN = [("manager", 1, "admin", None, ["manager"]),
               ("lead", 4, "agent", "36002", []),
               ("l1", 14, "agent", "36001", []),
               ("l2", 5, "agent", "36003", []),
               ("tech", 4, "agent", "36005", ["engineering"]),
               ("light", 2, "agent", "36004", ["finance"])]


def _agent(i: int, name: str, kind: str, role: str, custom: str | None, tags: list[str],
           loc: str, created: str) -> Agent:
    first, last = name.split(" ", 1)
    email = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
    email = email.encode("ascii", "ignore").decode() + "@brightnest.example"
    role_name = dict((r[0], r[1]) for r in CUSTOM_ROLES).get(custom or "")
    return Agent(id=str(AGENT_ID0 + i), name=name, email=email, role=role,
                 role_ids=[custom] if custom else [], custom_role=role_name,
                 ticket_scope="global" if kind in ("manager", "lead", "l2", "tech") else "group",
                 tags=list(tags), time_zone=LOCATIONS[loc][1], created_at=created,
                 updated_at=created, last_login_at=created)


def _groups_for(kind: str, n: int, loc: str, rng: random.Random) -> list[str]:
    lines = list(PRODUCT_LINES)
    if kind == "manager":
        return [GROUP_IDS[f"{line}/{loc}"] for line in lines] + [TIER2_GROUP]
    if kind == "lead":
        return [GROUP_IDS[f"{lines[n % 3]}/{loc}"], GROUP_IDS[f"{lines[(n + 1) % 3]}/{loc}"],
                TIER2_GROUP]
    if kind == "l1":
        first = lines[n % 3]
        extra = [rng.choice(lines)] if rng.random() < 0.3 else []
        return list(dict.fromkeys(GROUP_IDS[f"{x}/{loc}"] for x in [first, *extra]))
    if kind == "l2":
        return [TIER2_GROUP, GROUP_IDS[f"{lines[n % 3]}/{loc}"]]
    if kind == "tech":
        return [TECH_GROUP] + ([TIER2_GROUP] if n == 0 else [])
    return [GROUP_IDS[f"billing/{loc}"]]  # light agents: finance staff


def build_staff(fake_en: Faker, fake_de: Faker, rng: random.Random, now: datetime) -> Staff:
    """About 30 agents across Berlin and Austin, plus two who have left."""
    staff = Staff()
    created = iso(now - timedelta(days=720))
    names: set[str] = set()
    i = 0
    for kind, count, role, custom, tags in _STAFF_PLAN:
        for n in range(count):
            loc = "eu" if (n + (kind == "tech")) % 2 == 0 else "us"
            fake = fake_de if loc == "eu" else fake_en
            name = fake.first_name() + " " + fake.last_name()
            while name in names:
                name = fake.first_name() + " " + fake.last_name()
            names.add(name)
            agent = _agent(i, name, kind, role, custom, tags, loc, created)
            agent.group_ids = _groups_for(kind, n, loc, rng)
            agent.extra = {"location": LOCATIONS[loc][0]}
            staff.agents.append(agent)
            staff.by_kind.setdefault(kind, []).append(agent)
            i += 1
    # Two L1 agents who left: one deactivated (downgraded), one suspended; both wrote comments.
    for n, flag in enumerate(("inactive", "suspended")):
        agent = staff.by_kind["l1"][n]
        agent.active = flag != "inactive"
        agent.suspended = flag == "suspended"
        agent.last_login_at = iso(now - timedelta(days=200 + 40 * n))
        staff.left.append(agent)
    for agent in staff.agents:
        for j, gid in enumerate(agent.group_ids):
            staff.memberships.append(Membership(id=str(460_001 + len(staff.memberships)),
                                                agent_id=agent.id, group_id=gid, default=j == 0))
    return staff


def build_organizations(fake_en: Faker, fake_de: Faker, rng: random.Random,
                        now: datetime, count: int = 40) -> list[Organization]:
    """Customer companies, some German, with e-mail domains."""
    orgs, seen = [], set()
    for i in range(count):
        fake = fake_de if i % 3 == 0 else fake_en
        name = fake.company()
        while name in seen:
            name = fake.company()
        seen.add(name)
        slug = "".join(c for c in name.lower() if c.isalnum())[:18] or f"org{i}"
        created = iso(now - timedelta(days=rng.randint(500, 900)))
        orgs.append(Organization(id=str(ORG_ID0 + i), name=name, domains=[f"{slug}.example"],
                                 external_id=f"CRM-{10_000 + i}",
                                 tags=rng.sample(["partner", "reseller", "smb", "enterprise",
                                                  "edu"], k=rng.randint(0, 2)),
                                 notes="Key account" if i % 10 == 0 else None,
                                 created_at=created, updated_at=created))
    return orgs


def build_end_users(fake_en: Faker, fake_de: Faker, rng: random.Random, now: datetime,
                    orgs: list[Organization], count: int) -> list[EndUser]:
    """Customers; half belong to an organisation (e-mail on its domain), some speak German."""
    users = []
    for i in range(count):
        loc = "eu" if rng.random() < 0.5 else "us"
        locale = rng.choice(LOCATIONS[loc][3])
        fake = fake_de if locale == "de" else fake_en
        first, last = fake.first_name(), fake.last_name()
        org = rng.choice(orgs) if rng.random() < 0.5 else None
        local = f"{first}.{last}.{i}".lower().encode("ascii", "ignore").decode()
        domain = org.domains[0] if org else rng.choice(["mail.example", "web.example",
                                                        "post.example"])
        created = iso(now - timedelta(days=rng.randint(30, 700), minutes=rng.randint(0, 1440)))
        users.append(EndUser(id=str(USER_ID0 + i), name=f"{first} {last}",
                             email=f"{local.replace(' ', '')}@{domain}",
                             phone=fake.phone_number() if rng.random() < 0.3 else None,
                             organization_id=org.id if org else None,
                             external_id=f"cust-{50_000 + i}" if rng.random() < 0.4 else None,
                             time_zone=LOCATIONS[loc][1], locale=locale,
                             tags=["vip"] if rng.random() < 0.05 else [],
                             created_at=created, updated_at=created,
                             extra={"location": loc}))
    for n, user in enumerate(users[-6:]):  # a few blocked (spammers) and deleted customers
        if n < 3:
            user.blocked = True
        else:
            user.deleted, user.active = True, False
    return users


def build_ticket_fields() -> list[TicketField]:
    """The custom ticket fields: dropdowns, checkbox, text, date, integer."""
    f = FIELD_IDS
    return [
        TicketField(id=f["product"], key=f["product"], title="Product line", type="dropdown",
                    options=[FieldOption(value=v, label=n) for n, v, _ in PRODUCT_LINES.values()]),
        TicketField(id=f["issue"], key=f["issue"], title="Issue type", type="dropdown",
                    options=[FieldOption(value=k, label=v[0]) for k, v in ISSUE_TYPES.items()]),
        TicketField(id=f["vip"], key=f["vip"], title="VIP", type="checkbox"),
        TicketField(id=f["order"], key=f["order"], title="Order number", type="text"),
        TicketField(id=f["purchase"], key=f["purchase"], title="Purchase date", type="date"),
        TicketField(id=f["devices"], key=f["devices"], title="Number of devices", type="integer"),
    ]
