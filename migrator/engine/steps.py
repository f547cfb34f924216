"""The run as an ordered plan of steps, each naming the ids it needs from earlier steps.

The order is the loader contract of docs/ARCHITECTURE.md: fields, organisations, end users,
agents, groups, memberships, tickets (with comments and attachments), then the time logged
on tickets (where the target keeps it). :func:`check_steps` runs
before the first request, so a wrongly wired plan fails at once instead of half way through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from migrator.errors import ConfigError, MappingError
from migrator.models import Entity

__all__ = ["Step", "STEPS", "LOAD_ORDER", "check_steps", "check_plan_references", "PLAN_ENTITIES"]


@dataclass(frozen=True)
class Step:
    """One entity to load: where its records come from and which ids it needs first."""

    entity: Entity
    origin: str  # "plan" (RestructurePlan) or "staged" (the export)
    needs: tuple[Entity, ...] = ()


STEPS: tuple[Step, ...] = (
    Step(Entity.TICKET_FIELDS, "plan"),
    Step(Entity.ORGANIZATIONS, "staged"),
    Step(Entity.END_USERS, "staged", (Entity.ORGANIZATIONS,)),
    Step(Entity.AGENTS, "plan"),
    Step(Entity.GROUPS, "plan", (Entity.AGENTS,)),  # escalate_to = the lead's target id
    Step(Entity.MEMBERSHIPS, "plan", (Entity.AGENTS, Entity.GROUPS)),
    Step(Entity.TICKETS, "staged", (Entity.TICKET_FIELDS, Entity.ORGANIZATIONS,
                                    Entity.END_USERS, Entity.AGENTS, Entity.GROUPS)),
    Step(Entity.TIME_ENTRIES, "staged", (Entity.TICKETS, Entity.AGENTS)),
)
LOAD_ORDER: tuple[Entity, ...] = tuple(s.entity for s in STEPS)
PLAN_ENTITIES = {Entity.TICKET_FIELDS: "ticket_fields", Entity.AGENTS: "agents",
                 Entity.GROUPS: "groups", Entity.MEMBERSHIPS: "memberships"}


def check_steps(steps: Sequence[Step] = STEPS) -> None:
    """Every id a step needs must be produced by an earlier step; raise otherwise."""
    produced: set[Entity] = set()
    for step in steps:
        missing = [e.value for e in step.needs if e not in produced]
        if missing:
            raise ConfigError(
                f"step {step.entity.value} needs ids of {', '.join(missing)}, which no earlier "
                "step produces", hint="this is a wiring bug in the run plan; please report it")
        produced.add(step.entity)


def _ids(records: Iterable[Any]) -> set[str]:
    return {str(r.id) for r in records}


def check_plan_references(plan: Any) -> None:
    """Memberships and group leads must point at agents and groups the plan itself holds."""
    agents, groups = _ids(plan.agents), _ids(plan.groups)
    problems = []
    for g in plan.groups:
        if g.escalate_to and str(g.escalate_to) not in agents:
            problems.append(f"group {g.name!r}: lead (agent {g.escalate_to}) is not in the plan")
    for m in plan.memberships:
        if str(m.agent_id) not in agents:
            problems.append(f"membership {m.id}: agent {m.agent_id} is not in the plan")
        if str(m.group_id) not in groups:
            problems.append(f"membership {m.id}: group {m.group_id!r} is not in the plan")
    if problems:
        raise MappingError("the restructuring plan is inconsistent:\n  " + "\n  ".join(problems[:20]),
                           hint="run `migrator mapping validate` and fix the mapping")
