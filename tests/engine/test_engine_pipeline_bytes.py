"""Attachment bytes in flight stay under the byte budget, on the download and the upload side."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from connectors.base import LoadItem
from migrator.config import Options
from migrator.engine.attachments import AttachmentFetcher, ByteBoundTarget, ByteBudget
from migrator.models import Attachment, Comment, Entity, Ticket

KB = 1024
SIZE = 300 * KB


class Meter:
    """Bytes of the transfers running right now, and the most seen at once."""

    def __init__(self):
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def transfer(self, size: int, seconds: float = 0.05) -> None:
        with self.lock:
            self.now += size
            self.peak = max(self.peak, self.now)
        time.sleep(seconds)
        with self.lock:
            self.now -= size


class SlowSource:
    name = "slow"

    def __init__(self, meter: Meter):
        self.meter = meter

    def download(self, att: Attachment, dest: Path) -> int:
        self.meter.transfer(att.size)
        dest.write_bytes(b"x" * att.size)
        return att.size


def _comments(n: int) -> list[Comment]:
    return [Comment(id=f"c{i}", ticket_id="1", author_id=None, body="b",
                    attachments=[Attachment(id=f"a{i}", file_name=f"f{i}.bin", size=SIZE)])
            for i in range(n)]


def test_downloads_stay_under_the_byte_budget(tmp_path):
    meter = Meter()
    options = Options(max_in_flight=8, attachment_bytes_in_flight=700 * KB)
    fetcher = AttachmentFetcher(SlowSource(meter), tmp_path, options)
    comments = _comments(8)
    try:
        fetcher.fetch_all(comments)
    finally:
        fetcher.close()
    assert fetcher.count == 8 and all(c.attachments[0].local_path for c in comments)
    assert meter.peak <= 700 * KB  # two files at once at most, not eight
    assert meter.peak == 2 * SIZE  # and the budget is used: downloads do overlap


def test_default_budget_lets_every_worker_download():
    meter = Meter()
    fetcher = AttachmentFetcher(SlowSource(meter), Path("/nonexistent"), Options(max_in_flight=4))
    assert fetcher.budget.limit == 64 * 1024 * KB
    fetcher.close()


class SlowTarget:
    capabilities = "caps"

    def __init__(self, meter: Meter):
        self.meter = meter

    def submit(self, entity, items):
        size = sum(a.size for i in items for c in i.record.comments for a in c.attachments)
        self.meter.transfer(size)
        return "submitted"


def _item(n: int) -> LoadItem:
    comments = [Comment(id=f"c{n}", ticket_id=str(n), author_id=None, body="b",
                        attachments=[Attachment(id=f"a{n}", file_name="f", size=SIZE,
                                                local_path=f"attachments/a{n}/f")])]
    return LoadItem(source_id=str(n), record=Ticket(id=str(n), subject="s", comments=comments))


def test_uploads_stay_under_the_byte_budget():
    meter = Meter()
    target = ByteBoundTarget(SlowTarget(meter), ByteBudget(1000 * KB))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: target.submit(Entity.TICKETS, [_item(n)]), range(12)))
    assert results == ["submitted"] * 12 and target.capabilities == "caps"
    assert SIZE * 2 <= meter.peak <= 1000 * KB  # three batches of 300 KB at once at most


def test_a_file_larger_than_the_budget_goes_alone():
    budget = ByteBudget(100)
    with budget.hold(500) as got:
        assert got == 100 and budget.used == 100
    assert budget.used == 0 and budget.peak == 100


def test_failed_downloads_are_all_counted_and_the_first_listed(tmp_path, monkeypatch):
    """A CDN that lost every file: the export goes on; memory keeps a bounded list."""
    import migrator.engine.attachments as A
    from migrator.errors import RecordError

    class Gone:
        name = "gone"

        def download(self, att, dest):
            raise RecordError(f"attachment {att.id}: 404 not found", status=404)

    monkeypatch.setattr(A, "MAX_FAILURES_KEPT", 2)
    fetcher = AttachmentFetcher(Gone(), tmp_path, Options(max_in_flight=2))
    comments = _comments(5)
    try:
        fetcher.fetch_all(comments)
    finally:
        fetcher.close()
    assert fetcher.failed == 5 and len(fetcher.failures) == 2
    assert all("404 not found" in f for f in fetcher.failures)
    assert all(a.local_path is None for c in comments for a in c.attachments)
