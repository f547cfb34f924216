"""Run INSIDE bench/.venv-peer: export every ticket and its comments with zenpy, the usual way.

The idiomatic zenpy script (its README and most migration scripts): incremental ticket export
(cursor based), then one ``tickets.comments(id)`` per ticket. zenpy sleeps on 429 itself
(``Retry-After``). Prints one JSON line: tickets, comments, seconds.
"""

from __future__ import annotations

import json
import sys
import time

from zenpy import Zenpy


def main() -> None:
    """Export and print the counts and the wall time."""
    started = time.monotonic()
    client = Zenpy(subdomain="sandbox", email=sys.argv[1], token=sys.argv[2])
    tickets = comments = 0
    for ticket in client.tickets.incremental(start_time=0, per_page=1000):
        tickets += 1
        for _ in client.tickets.comments(ticket=ticket.id):
            comments += 1
    print(json.dumps({"tickets": tickets, "comments": comments,
                      "seconds": round(time.monotonic() - started, 2)}))


if __name__ == "__main__":
    main()
