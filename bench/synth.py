"""Synthetic canonical data at any size, shaped like the sandbox's demo company.

The people, groups and fields are the seeded company's (so the shipped example mappings apply);
tickets and comments are the seeded ones cloned under new ids, page by page, so a million
tickets never sit in memory at once. Customers grow with tickets as in a real account: every
``new_customer_every``-th ticket comes from a new end user (staged in its page), who also writes
that ticket's customer comments.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterator

from connectors.sandbox.seed import Company, build_company
from migrator.models import Comment, EndUser, Ticket

__all__ = ["Template", "template", "ticket_pages", "people", "ID_BASE"]

ID_BASE = 10_000_000  # fixed-width ids: string order == numeric order up to 89,999,999 tickets


@dataclass
class Template:
    """The seeded company and, per seeded ticket, its first comments."""

    company: Company
    comments: dict[str, list[Comment]]


def template(seed: int = 7, tickets: int = 300, comments_per_ticket: int = 3) -> Template:
    """A small seeded company whose tickets are the patterns the synthetic ones repeat."""
    company = build_company(seed=seed, tickets=tickets)
    by_ticket = company.comments_by_ticket()
    kept = {tid: cs[:comments_per_ticket] for tid, cs in by_ticket.items()}
    return Template(company, kept)


def people(t: Template) -> list[Any]:
    """Everything but tickets and their children: staged once, whatever the ticket count."""
    c = t.company
    return [*c.organizations, *c.end_users, *c.agents, *c.groups, *c.memberships,
            *c.ticket_fields]


def _clone(t: Template, i: int, new_customer_every: int = 0
           ) -> tuple[Ticket, list[Comment], EndUser | None]:
    seeded = t.company.tickets[i % len(t.company.tickets)]
    tid = str(ID_BASE + i)
    customer = None
    if new_customer_every and i % new_customer_every == 0 and seeded.requester_id:
        customer = EndUser(id=f"c{tid}", name=f"Customer {tid}", email=f"c{tid}@synthetic.test",
                           organization_id=seeded.organization_id)
    old = seeded.requester_id

    def who(author: str | None) -> str | None:
        return customer.id if customer is not None and author == old else author
    comments = [dataclasses.replace(c, id=f"{tid}{k:02d}", ticket_id=tid, author_id=who(c.author_id))
                for k, c in enumerate(t.comments.get(seeded.id, ()))]
    ticket = dataclasses.replace(seeded, id=tid, comment_count=len(comments),
                                 requester_id=who(seeded.requester_id),
                                 submitter_id=who(seeded.submitter_id))
    return ticket, comments, customer


def ticket_pages(t: Template, n: int, page: int = 1000, start: int = 0,
                 new_customer_every: int = 3) -> Iterator[list[Any]]:
    """Pages of ``page`` tickets with their comments (tickets ``start`` .. ``n - 1``) and the
    new customers they bring."""
    for first in range(start, n, page):
        records: list[Any] = []
        for i in range(first, min(n, first + page)):
            ticket, comments, customer = _clone(t, i, new_customer_every)
            if customer is not None:
                records.append(customer)
            records.append(ticket)
            records.extend(comments)
        yield records
