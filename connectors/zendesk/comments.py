"""Comments export: two strategies and the rule that picks one (limits.md §1.1).

E1 ``per_ticket``: ``GET /tickets/{id}/comments`` (CBP, 100 per page, inline images listed) for
every ticket id the engine passes, run on a thread pool as wide as the client's in-flight limit so
the account budget stays full.

E2 ``events``: ``GET /incremental/ticket_events?include=comment_events`` (1,000 events per page)
on the incremental budget. One event per audit, so A = N + 1 events per ticket with N comments.
The stream leaves inline images out; tickets whose comments show one are read again per ticket
on the account budget (:func:`add_inline_images`), so both strategies stage the same files.

E2 beats E1 while ``A < 1000 * L_inc / R`` (R account and L_inc incremental requests per minute).
``auto`` measures N on the first tickets with E1, then keeps E1 or switches to E2.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator

from migrator.http import HttpClient
from migrator.models import Comment

from connectors.zendesk.paging import iter_incremental_time
from connectors.zendesk.parse import comments_from_events, parse_comment

__all__ = ["STRATEGIES", "choose_strategy", "fetch_ticket_comments", "iter_per_ticket",
           "iter_events", "add_inline_images", "shows_inline_image"]

log = logging.getLogger("connectors.zendesk")
STRATEGIES = ("auto", "per_ticket", "events")


def choose_strategy(account_per_minute: float, incremental_per_minute: float,
                    comments_per_ticket: float) -> str:
    """``events`` when the incremental stream moves more tickets per minute, else ``per_ticket``.

    A limit of 0 means unlimited (no plan announced yet): per-ticket calls then scale with
    concurrency while the events stream stays sequential, so E1 wins.
    """
    if not account_per_minute:
        return "per_ticket"
    if not incremental_per_minute:
        return "events"
    audits_per_ticket = comments_per_ticket + 1
    return ("events" if audits_per_ticket < 1000 * incremental_per_minute / account_per_minute
            else "per_ticket")


def fetch_ticket_comments(client: HttpClient, ticket_id: str, *,
                          inline_images: bool = True) -> list[Comment]:
    """Every comment of one ticket, oldest first; a ticket gone since (404) has none."""
    params = {"page[size]": 100, "include_inline_images": str(inline_images).lower()}
    out: list[Comment] = []
    seen: set[str] = set()
    path = f"/api/v2/tickets/{ticket_id}/comments"
    while True:
        response = client.request("GET", path, params=params, ok=(404,))
        if response.status_code == 404:
            return out
        body = response.json()
        out.extend(parse_comment(c, ticket_id) for c in body.get("comments") or [])
        meta = body.get("meta") or {}
        after = meta.get("after_cursor")
        # has_more, not links.next, ends the list (reference §2.1).
        if not meta.get("has_more") or not after or after in seen:
            return out
        seen.add(after)
        params = {**params, "page[after]": after}


def iter_per_ticket(client: HttpClient, ticket_ids: Iterable[str], *, position: int = 0,
                    workers: int = 8, chunk: int | None = None, inline_images: bool = True,
                    ) -> Iterator[tuple[list[Comment], int, int]]:
    """E1: yields ``(comments, position, tickets)`` per chunk of tickets, in id order given.

    ``position`` counts ticket ids fully exported, so a resume skips that many ids.
    """
    chunk = chunk or max(workers * 4, 20)
    ids = itertools.islice(iter(ticket_ids), position, None)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zd-comments") as pool:
        while True:
            batch = [str(t) for t in itertools.islice(ids, chunk)]
            if not batch:
                return
            results = pool.map(lambda t: fetch_ticket_comments(
                client, t, inline_images=inline_images), batch)
            comments = [c for per_ticket in results for c in per_ticket]
            position += len(batch)
            yield comments, position, len(batch)


def iter_events(client: HttpClient, *, start_time: int, wanted: set[str] | None = None,
                inline_images: bool = True, workers: int = 8,
                ) -> Iterator[tuple[list[Comment], int, bool]]:
    """E2: yields ``(comments, end_time, end_of_stream)`` per page of the events stream.

    The stream does not list inline images; with ``inline_images`` the tickets whose comments
    show one in ``html_body`` are read again per ticket (see :func:`add_inline_images`).
    """
    params = {"include": "comment_events", "per_page": 1000}
    for events, end_time, end in iter_incremental_time(
            client, "/api/v2/incremental/ticket_events", "ticket_events",
            start_time=start_time, params=params):
        comments = [c for e in events for c in comments_from_events(e)
                    if wanted is None or c.ticket_id in wanted]
        if inline_images:
            comments = add_inline_images(client, comments, workers=workers)
        yield comments, end_time, end


# An <img> whose source is an attachment of the account (``.../attachments/token/<t>/``).
_INLINE_IMG = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']?[^\"'>\s]*/attachments/token/",
                         re.IGNORECASE)


def shows_inline_image(comment: Comment) -> bool:
    """True when the comment's HTML shows an image stored as an attachment of the account."""
    return bool(comment.html_body) and bool(_INLINE_IMG.search(comment.html_body or ""))


def add_inline_images(client: HttpClient, comments: list[Comment], *, workers: int = 8
                      ) -> list[Comment]:
    """Complete events-stream comments with the inline images the stream leaves out.

    The tickets with a comment that shows an inline image are read per ticket with
    ``include_inline_images=true`` (account budget, ``workers`` at a time); each such comment
    takes the attachment list of its per-ticket version, so inline images are staged as
    ``Attachment(inline=True)`` exactly as with E1. A comment gone since keeps what it had.
    """
    tickets = sorted({c.ticket_id for c in comments if shows_inline_image(c)}, key=_order)
    if not tickets:
        return comments
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(tickets))),
                            thread_name_prefix="zd-inline") as pool:
        fetched = pool.map(lambda t: fetch_ticket_comments(client, t, inline_images=True),
                           tickets)
        full = {c.id: c for per_ticket in fetched for c in per_ticket}
    log.info("zendesk: %d tickets with inline images read per ticket", len(tickets))
    return [dataclasses.replace(c, attachments=full[c.id].attachments)
            if c.id in full and shows_inline_image(c) else c for c in comments]


def _order(ticket_id: str) -> tuple:
    return (len(ticket_id), ticket_id)
