"""The story of one seeded ticket: replies, notes, escalations, solve/reopen, then timestamps.

``_StoryMixin`` is mixed into :class:`~connectors.sandbox.seed_tickets.TicketFactory`; it turns a
ticket shell into a list of steps and writes those steps as comments, events, ratings and time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

from migrator.models import Attachment, Comment, SatisfactionRating, TicketEvent, TimeEntry, iso

from . import seed_text as T
from .seed_people import TECH_GROUP, TIER2_GROUP

__all__ = ["StoryMixin"]

_CLOSE_AFTER_MIN = 4 * 1440  # Zendesk closes solved tickets after 4 days (default automation)
_ESCALATE_TECH = {"firmware", "server_error", "api"}
_ATTACH_KINDS = {"png": ("screenshot-{n}.png", "image/png", (8_000, 200_000)),
                 "txt": ("diagnostics-{n}.log", "text/plain", (400, 60_000)),
                 "pdf": ("invoice-{n}.pdf", "application/pdf", (20_000, 150_000)),
                 "inline": ("image-{n}.png", "image/png", (1_500, 12_000))}


@dataclass
class _Step:
    """One thing that happens to a ticket."""

    gap: float  # minutes after the previous step
    author: str | None
    kind: str  # comment | note | event
    public: bool = True
    text: str = ""
    events: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    attach: str | None = None  # png | txt | pdf | inline


class StoryMixin:
    """Steps of a ticket's life and how they become records."""

    # -- building the steps -------------------------------------------------------------------
    def _steps(self, spec, ticket, issue: str, group: str, german: bool) -> list:
        rng, req = self.rng, spec.requester.id
        state = {"status": None, "group_id": None, "assignee_id": None, "priority": None}
        first = _Step(0, req, "comment", text=self._body(spec, ticket, german),
                      attach=self._maybe(0.12, "pdf" if "billing" in ticket.tags[0] else "png"))
        self._change(first, state, status="new", group_id=group, priority=ticket.priority)
        steps = [first]
        if spec.status == "new":
            if rng.random() < 0.3:
                steps.append(_Step(rng.uniform(30, 600), req, "comment",
                                   text=self._follow_up(german), attach=self._maybe(0.2, "png")))
            return steps
        agent = rng.choice(self._pool(group, spec.created, ("l1", "l1", "l1", "lead")))
        frt = min(4000.0, max(3.0, rng.lognormvariate(math.log(150), 1.0)))
        reply = _Step(frt, agent.id, "comment", text=self._reply(spec, agent, german),
                      attach=self._maybe(0.06, "inline"))
        self._change(reply, state, assignee_id=agent.id,
                     status="pending" if rng.random() < 0.5 else "open")
        steps.append(reply)
        escalate = rng.random() < (0.55 if issue in T.TECHNICAL_ISSUES else 0.08)
        if escalate:
            steps += self._escalation(spec, state, issue, agent, german, ticket.priority)
        if "product_billing" in ticket.tags and rng.random() < 0.15:
            light = rng.choice(self.staff.by_kind["light"])
            steps.append(_Step(rng.uniform(30, 900), light.id, "note", public=False,
                               text=T.INTERNAL_NOTES[3]))
        tail = {"solved": 1, "closed": 1, "open": 1, "pending": 1, "hold": 1}[spec.status]
        room = max(0, (15 - len(steps) - tail - 2) // 2)
        for _ in range(rng.randint(0, min(room, 4))):
            steps += self._round(spec, state, german)
        steps += self._ending(spec, state, german)
        return steps

    def _change(self, step, state: dict, **changes) -> None:
        for name, value in changes.items():
            if state[name] != value:
                step.events.append((name, state[name], value))
                state[name] = value

    def _maybe(self, share: float, kind: str) -> str | None:
        return kind if self.rng.random() < share else None

    def _escalation(self, spec, state, issue, agent, german, priority) -> list:
        rng = self.rng
        target = TECH_GROUP if issue in _ESCALATE_TECH else TIER2_GROUP
        pool = self._pool(target, spec.created, ("tech",) if target == TECH_GROUP else ("l2",))
        expert = rng.choice(pool)
        name = "Tech Escalations" if target == TECH_GROUP else "Tier 2"
        notes = [n for n in T.INTERNAL_NOTES if "{group}" in n]
        note = _Step(rng.uniform(20, 1500), agent.id, "note", public=False,
                     text=rng.choice(notes).format(group=name), attach=self._maybe(0.3, "txt"))
        changes = {"group_id": target, "assignee_id": expert.id}
        if priority in ("low", "normal") and rng.random() < 0.3:
            changes["priority"] = "high"
        self._change(note, state, **changes)
        answer = _Step(rng.uniform(60, 2880), expert.id, "comment",
                       text=self._reply(spec, expert, german), attach=self._maybe(0.08, "inline"))
        self._change(answer, state, status="open")
        return [note, answer]

    def _round(self, spec, state, german) -> list:
        rng = self.rng
        ask = _Step(rng.uniform(60, 2880), spec.requester.id, "comment",
                    text=self._follow_up(german), attach=self._maybe(0.2, "png"))
        self._change(ask, state, status="open")
        agent_id = state["assignee_id"]
        agent = self._agents[agent_id]
        if rng.random() < 0.2:
            answer = _Step(rng.uniform(30, 1440), agent_id, "note", public=False,
                           text=rng.choice(T.INTERNAL_NOTES).format(group="Tier 2"),
                           attach=self._maybe(0.25, "txt"))
        else:
            answer = _Step(rng.uniform(20, 1440), agent_id, "comment",
                           text=self._reply(spec, agent, german),
                           attach=self._maybe(0.06, "inline"))
            self._change(answer, state, status="pending" if rng.random() < 0.5 else "open")
        return [ask, answer]

    def _ending(self, spec, state, german) -> list:
        rng, final = self.rng, spec.status
        agent = self._agents[state["assignee_id"]]
        if final in ("open", "pending") or final == "hold":
            author, kind = (spec.requester.id, "comment") if final == "open" else (agent.id, "note")
            text = self._follow_up(german) if final == "open" else "Waiting for engineering."
            step = _Step(rng.uniform(30, 1440), author, kind, public=kind == "comment", text=text)
            self._change(step, state, status=final)
            return [step]
        solve = _Step(rng.uniform(30, 2880), agent.id, "comment",
                      text=self._reply(spec, agent, german), attach=self._maybe(0.1, "pdf"))
        self._change(solve, state, status="solved")
        steps = [solve]
        if rng.random() < 0.1:  # reopened by the customer, solved again
            back = _Step(rng.uniform(60, 2000), spec.requester.id, "comment",
                         text=self._follow_up(german))
            self._change(back, state, status="open")
            again = _Step(rng.uniform(30, 1440), agent.id, "comment",
                          text=self._reply(spec, agent, german))
            self._change(again, state, status="solved")
            steps += [back, again]
        if final == "closed":
            close = _Step(_CLOSE_AFTER_MIN, None, "event")
            self._change(close, state, status="closed")
            steps.append(close)
        return steps

    # -- texts --------------------------------------------------------------------------------
    def _body(self, spec, ticket, german: bool) -> str:
        fake = self.fake_de if german else self.fake_en
        if spec.kind == "spam":
            return "Buy followers now!!! Visit totally-legit.example 💰"
        problem = f"{ticket.subject} {fake.sentence()}"
        day = (spec.created - timedelta(days=self.rng.randint(1, 5))).strftime("%d.%m.%Y"
                                                                               if german else
                                                                               "%B %d")
        template = self.rng.choice(T.BODIES["de" if german else "en"])
        order = ticket.custom_fields.get("360010004") or "unknown"
        return template.format(problem=problem, order=order, day=day, name=spec.requester.name)

    def _reply(self, spec, agent, german: bool) -> str:
        pool = T.AGENT_REPLIES_DE if german else T.AGENT_REPLIES
        return self.rng.choice(pool).format(first=spec.requester.name.split(" ")[0],
                                            agent=agent.name.split(" ")[0])

    def _follow_up(self, german: bool) -> str:
        return self.rng.choice(T.FOLLOW_UPS_DE if german else T.FOLLOW_UPS)

    # -- writing the records ------------------------------------------------------------------
    def _write_history(self, ticket, spec, steps: list) -> None:
        if not steps:  # spam: one description, nothing else happened
            steps = [self._spam_step(spec)]
        budget = (self.now - spec.created).total_seconds() / 60 * 0.92
        budget -= sum(s.gap for s in steps if s.kind == "event") + 60
        scalable = sum(s.gap for s in steps if s.kind != "event") or 1.0
        scale = min(1.0, max(budget, 1.0) / scalable)
        at = spec.created
        for n, step in enumerate(steps):
            gap = step.gap if step.kind == "event" else step.gap * scale
            at = max(at + timedelta(minutes=gap), at + timedelta(seconds=1)) if n else at
            at = at.replace(microsecond=0)
            self._record_step(ticket, spec, step, at, first=n == 0)
        ticket.updated_at = iso(at)
        ticket.comment_count = sum(1 for s in steps if s.kind != "event")
        if ticket.status in ("solved", "closed") and spec.kind == "normal":
            self._maybe_rating(ticket)

    def _spam_step(self, spec):
        step = _Step(0, spec.requester.id, "comment", text=self._body(spec, None, False))
        step.events = [("status", None, "new")]
        return step

    def _record_step(self, ticket, spec, step, at, first: bool) -> None:
        when = iso(at)
        if step.kind != "event":
            agent = self._agents.get(step.author or "")
            channel = ticket.channel if first else ("web" if agent else "email")
            comment = Comment(id=self._next("comment"), ticket_id=ticket.id,
                              author_id=step.author, body=step.text, public=step.public,
                              created_at=when, channel=channel)
            if step.attach:
                self._attach(comment, step.attach)
            self.comments.append(comment)
            if agent and step.public and ticket.first_responded_at is None:
                ticket.first_responded_at = when
            if agent and self.rng.random() < 0.45:
                secs = self.rng.randint(60, 5400 if "tech" in (agent.custom_role or "").lower()
                                        else 2400)
                self.time_entries.append(TimeEntry(
                    id=self._next("time"), ticket_id=ticket.id, agent_id=agent.id, seconds=secs,
                    billable="product_billing" in ticket.tags, executed_at=when))
        for name, before, after in step.events:
            self.events.append(TicketEvent(id=self._next("event"), ticket_id=ticket.id,
                                           field=name, previous=before, value=after,
                                           author_id=step.author, created_at=when))
            if name in ("group_id", "assignee_id", "status", "priority"):
                setattr(ticket, name, after)
            if name == "status" and after == "solved":
                ticket.solved_at = when
            if name == "status" and after == "closed":
                ticket.closed_at = when

    def _attach(self, comment: Comment, kind: str) -> None:
        pattern, ctype, (lo, hi) = _ATTACH_KINDS[kind]
        att = Attachment(id=self._next("attachment"), file_name=pattern.format(n=comment.id[-4:]),
                         content_type=ctype, size=self.rng.randint(lo, hi),
                         inline=kind == "inline")
        comment.attachments.append(att)
        if att.inline:
            comment.html_body = (f'<div class="zd-comment"><p>{_html(comment.body)}</p>'
                                 f'<p><img src="cid:{att.id}" alt="{att.file_name}"></p></div>')

    def _maybe_rating(self, ticket) -> None:
        rng = self.rng
        if rng.random() >= 0.4:
            return
        score = rng.choices(["good", "bad", "offered"], weights=[70, 18, 12])[0]
        pool = T.CSAT_GOOD if score == "good" else T.CSAT_BAD if score == "bad" else [None]
        solved = self._parse(ticket.solved_at)
        when = min(solved + timedelta(hours=rng.uniform(1, 48)), self.now - timedelta(minutes=5))
        self.ratings.append(SatisfactionRating(
            id=self._next("rating"), ticket_id=ticket.id, score=score,
            comment=rng.choice(pool), requester_id=ticket.requester_id,
            assignee_id=ticket.assignee_id, group_id=ticket.group_id,
            created_at=iso(max(when, solved + timedelta(seconds=1)))))


def _html(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", "<br>"))
