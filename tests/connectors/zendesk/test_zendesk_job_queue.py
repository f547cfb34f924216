"""The loader against a sandbox whose job queue is small and whose jobs take time.

The account allows 3 queued-or-running jobs and each job takes 0.2 s; the engine submits from 8
threads at once (its ``in_flight``). Every ticket must arrive exactly once, and the 429s the
queue answers must stay a handful: the loader learns the account's cap from the first refusal
instead of retrying into a full queue.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import connectors.zendesk as zendesk
from connectors.base import LoadItem
from connectors.sandbox.run import start_sandbox
from migrator.config import EndpointConfig, Options
from migrator.models import Comment, Entity, Outcome, Ticket

pytestmark = pytest.mark.e2e

TICKETS, BATCH, IN_FLIGHT = 300, 10, 8


def _tickets(requester: str) -> list[LoadItem]:
    out = []
    for n in range(TICKETS):
        sid = f"q{n}"
        comment = Comment(id=f"{sid}-1", ticket_id=sid, author_id=requester,
                          body=f"ticket {n}", created_at="2021-03-01T10:00:00Z")
        out.append(LoadItem(sid, Ticket(id=sid, subject=f"Queue test {n}", status="open",
                                        requester_id=requester, comments=[comment],
                                        created_at="2021-03-01T10:00:00Z",
                                        updated_at="2021-03-02T10:00:00Z")))
    return out


def _load(target, items):
    def one(batch):
        return target.collect(target.submit(Entity.TICKETS, batch))
    batches = [items[i:i + BATCH] for i in range(0, len(items), BATCH)]
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        return [o for outs in pool.map(one, batches) for o in outs]


@pytest.mark.parametrize("job_cap", [30, 3], ids=["cap-unknown", "cap-configured"])
def test_small_job_queue_loses_and_doubles_nothing(job_cap, tmp_path):
    with start_sandbox("zendesk", tickets=1, empty=True, job_seconds=0.2, max_jobs=3) as dst:
        cfg = EndpointConfig(type="zendesk", base_url=dst.url, email="admin@sandbox.test",
                             token="literal:sandbox-token", job_cap=job_cap)
        target = zendesk.make_target(cfg, workdir=tmp_path, options=Options(
            max_in_flight=IN_FLIGHT))
        target.jobs.poll_interval = 0.05
        requester = dst.company.agents[0].id
        outcomes = _load(target, _tickets(requester))
        target.close()
        stats = httpx.get(f"{dst.url}/_sandbox/stats").json()
        counts = httpx.get(f"{dst.url}/_sandbox/counts").json()
    assert [o.outcome for o in outcomes] == [Outcome.CREATED] * TICKETS
    assert len({o.target_id for o in outcomes}) == TICKETS
    assert counts["tickets"] == TICKETS
    external = sorted(t["external_id"] for t in dst.store.tickets.values())
    assert external == sorted(f"q{n}" for n in range(TICKETS))
    assert stats["jobs"]["total"] == TICKETS // BATCH
    assert stats["buckets"]["account"]["throttled"] == 0
    refused = stats["jobs"]["rejected"]
    if job_cap == 3:
        assert refused == 0
    else:  # learnt from the first refusals (threads already sending may each get one)
        assert refused <= IN_FLIGHT, refused
