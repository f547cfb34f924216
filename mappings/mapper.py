"""``map_ticket``: one source ticket -> the ticket the target receives (group key, values, tags)."""

from __future__ import annotations

from typing import Any

from migrator.models import Ticket, replace_record, status_category

from mappings.directory import Directory
from mappings.placement import Placements
from mappings.profile import CLOSED_STATUSES
from mappings.router import FieldResolver, Router
from mappings.schema import LEAD, Mapping
from mappings.values import UNMAPPED, apply, strict_error

__all__ = ["TicketMapper", "group_key"]


_MISSING = object()


def group_key(team: str, tier: str) -> str:
    """The stable key of the target group for a tier of a team."""
    return f"{team}/{tier}"


class TicketMapper:
    """Applies routing, the open-ticket policy, value maps and tags to a ticket."""

    def __init__(self, m: Mapping, d: Directory, pl: Placements, target_type: str,
                 group_keys: set[str]):
        self.m, self.d, self.pl = m, d, pl
        self.router = Router(m, d)
        self.fields = FieldResolver(m, d, target_type)
        self.group_keys = group_keys
        emails = d.agent_by_email()
        self.leads = {k: getattr(emails.get(t.lead.lower()), "id", None) for k, t in m.teams.items()}
        self._memo: dict[tuple, Any] = {}  # (map name, type, value) -> mapped value

    def map_ticket(self, t: Ticket) -> Ticket:
        """The mapped copy of ``t`` (``t`` itself is left unchanged)."""
        team, tier = self.router.route(t)
        assignee, team, tier, why = self._assignee(t, team, tier)
        extra = {**t.extra, "team": team, "tier": tier, "source_group_id": t.group_id}
        if why:
            extra["assignee_note"] = why
        return replace_record(
            t, group_id=group_key(team, tier), assignee_id=assignee,
            status=self._value("status", t.status, t.id) or t.status,
            priority=self._value("priority", t.priority, t.id),
            type=self._value("type", t.type, t.id),
            custom_fields=self._fields(t), tags=self._tags(t), extra=extra,
            comments=list(t.comments))

    def destination(self, t: Ticket, team: str, tier: str) -> tuple[str, str]:
        """The (team, tier) a ticket routed to ``team``/``tier`` ends in (open-ticket policy)."""
        _, team, tier, _ = self._assignee(t, team, tier)
        return team, tier

    def _value(self, name: str, value: Any, ticket_id: str) -> Any:
        if value is None:
            return None
        key = (name, type(value), value)  # 1 and True are one dict key, not one value
        hit = self._memo.get(key, _MISSING)
        if hit is not _MISSING:
            return hit
        mapped, how = apply(getattr(self.m.values, name), value)
        if how == UNMAPPED:
            raise strict_error(name, value, ticket_id)
        if len(self._memo) > 10_000:
            self._memo.clear()
        self._memo[key] = mapped
        return mapped

    def _fields(self, t: Ticket) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in sorted(t.custom_fields.items()):
            fm, tkey = self.fields.field_map(key), self.fields.target_key(key)
            if fm is None or tkey is None:
                continue  # dropped (values.other_fields: drop, or `drop: true`)
            mapped, how = self.fields.map_value(key, value)
            if how == UNMAPPED:
                raise strict_error(f"fields.{self.d.field_title(key)}", value, t.id)
            out[tkey] = mapped
        return out

    def _tags(self, t: Ticket) -> list[str]:
        return list(dict.fromkeys([*t.tags, *self.m.tickets.add_tags]))

    def _assignee(self, t: Ticket, team: str, tier: str) -> tuple[str | None, str, str, str]:
        """Who keeps the ticket, and the group it ends in (the ticket follows a kept assignee)."""
        aid = t.assignee_id
        if not aid:
            return None, team, tier, ""
        places = [p for p in self.pl.places.get(aid, []) if p[0] is not None]
        is_open = status_category(t) not in CLOSED_STATUSES
        policy = self.m.tickets.open_tickets
        if not places:  # not migrated as an agent (excluded, unknown) or outside all teams
            lead = self.leads.get(team)
            if is_open and policy.assignee_left == "team_lead" and lead and self._in(lead, team):
                return lead, team, LEAD, "assignee left: given to the team lead"
            return None, team, tier, "assignee left: unassigned"
        if (team, tier) in places:
            return aid, team, tier, ""
        same_team = [p for p in places if p[0] == team]
        if same_team:
            return aid, same_team[0][0], same_team[0][1], ""
        if is_open and policy.assignee_moved == "unassign":
            return None, team, tier, "assignee changed team: unassigned"
        return aid, places[0][0], places[0][1], "assignee changed team: ticket follows them"

    def _in(self, agent_id: str, team: str) -> bool:
        return (team, LEAD) in self.pl.places.get(agent_id, [])
