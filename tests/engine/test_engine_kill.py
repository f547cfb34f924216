"""Crash safety for real: `python -m migrator migrate` killed (SIGKILL) at seeded points, and
interrupted with SIGINT, against the sandboxes over loopback; then rerun until done, and the
target must hold each source record exactly once with all its notes and files (issue 6)."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from connectors.sandbox.run import credentials, start_sandbox
from migrator.config import DEFAULT_STATE
from migrator.demo import ENV_FRESHDESK, ENV_ZENDESK, write_demo_project
from migrator.engine import commands
from migrator.engine.killpoints import ENV as KILL_ENV
from migrator.models import Entity
from migrator.project import Project

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
POINTS = ("batch.opened", "batch.submitted", "batch.sent", "batch.finished")


def _make_sandboxes(tmp_path: Path, monkeypatch, state: str):
    monkeypatch.setenv(ENV_ZENDESK, credentials("zendesk")["api_token"])
    monkeypatch.setenv(ENV_FRESHDESK, credentials("freshdesk")["api_key"])
    source = start_sandbox("zendesk", seed=7, tickets=20)
    target = start_sandbox("freshdesk", seed=7, empty=True, latency=0.002)
    path = write_demo_project(tmp_path, source.url, target.url)
    data = yaml.safe_load(path.read_text())
    data["options"]["batch_size"] = 5  # many batches: many places to die
    data["state"] = state
    path.write_text(yaml.safe_dump(data))
    with Project.load(path) as project:
        commands.export_project(project)
    yield path, target
    source.stop()
    target.stop()


@pytest.fixture
def sandboxes(tmp_path, monkeypatch):
    """Zendesk (seeded) and Freshdesk (empty) sandboxes, a project, the export done (SQLite)."""
    yield from _make_sandboxes(tmp_path, monkeypatch, DEFAULT_STATE)


@pytest.fixture
def pg_sandboxes(pg_url, tmp_path, monkeypatch):
    """The same, with the state on the local PostgreSQL."""
    yield from _make_sandboxes(tmp_path, monkeypatch, pg_url)


def _migrate(path: Path, **env: str) -> subprocess.Popen:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.Popen([sys.executable, "-m", "migrator", "-c", str(path), "migrate"],
                            cwd=path.parent, env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def _marker(ticket: dict) -> str | None:
    # Freshdesk appends a numeric suffix to a created field's name (reference §5.4)
    return next((str(v) for k, v in ticket["custom_fields"].items()
                 if k.startswith("cf_migration_source_id") and v), None)


def _assert_exactly_once(path: Path, target, sample: bool = False) -> None:
    store = target.store
    with Project.load(path) as project:
        state = project.state
        live = [t for t in store.tickets.values() if not t.get("deleted")]
        markers = Counter(_marker(t) for t in live)
        assert all(n == 1 for n in markers.values()), f"duplicated tickets: {markers.most_common(3)}"
        expected = {str(t.id) for t in state.iter_staged(Entity.TICKETS)
                    if not t.deleted and not t.spam}
        if sample:
            expected = set(state.target_ids(Entity.TICKETS))
        assert set(markers) == expected
        emails = Counter(c.get("email") for c in store.contacts.values())
        assert all(n == 1 for n in emails.values()), "duplicated contacts"
        names = Counter(c.get("name") for c in store.companies.values())
        assert all(n == 1 for n in names.values()), "duplicated companies"
        assert len(store.companies) == len(state.target_ids(Entity.ORGANIZATIONS))
        report = commands.verify_project(project)  # comments, files, status... per ticket
        assert report.ok, report.mismatches[:3]
        assert state.open_batches() == [] and state.failed() == []


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_sigkill_at_ten_seeded_points_then_rerun(db, request):
    path, target = request.getfixturevalue("sandboxes" if db == "sqlite" else "pg_sandboxes")
    rng = random.Random(2024)
    kills = [(POINTS[i % 4], rng.randint(1, 4)) for i in range(6)]
    kills += [(f"{p}.tickets", 1) for p in POINTS]  # each point inside the tickets step
    died = 0
    for point, n in kills:
        proc = _migrate(path, **{KILL_ENV: f"{point}:{n}"})
        out = proc.communicate(timeout=120)[0].decode()
        assert proc.returncode in (-signal.SIGKILL, 0), out[-2000:]
        died += proc.returncode == -signal.SIGKILL
    assert died >= len(kills) - 1  # the points were really reached, not skipped
    for delay in (rng.uniform(0.0, 0.05), rng.uniform(0.0, 0.05)):  # mid-request, by time
        proc = _migrate(path)
        _wait_for(path, "tickets", proc)
        time.sleep(delay)
        proc.kill()
        proc.communicate(timeout=60)
    final = _migrate(path)
    out = final.communicate(timeout=120)[0].decode()
    assert final.returncode == 0, out[-2000:]
    _assert_exactly_once(path, target)


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_sigint_finishes_the_batch_in_flight_and_exits_130(db, request):
    path, target = request.getfixturevalue("sandboxes" if db == "sqlite" else "pg_sandboxes")
    proc = _migrate(path)
    with Project.load(path) as project:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if project.state.batch_counts().get("end_users", {}).get("done", 0) >= 3:
                break
            time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()[0].decode()[-2000:]
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 130, out[-2000:]
    assert "state is saved" in out and "Traceback" not in out
    with Project.load(path) as project:
        assert project.state.list_runs()[-1]["status"] == "interrupted"
        assert project.state.open_batches() == []  # the batches in flight were recorded
    final = _migrate(path)
    assert final.communicate(timeout=120) and final.returncode == 0
    _assert_exactly_once(path, target)


def _wait_for(path: Path, entity: str, proc: subprocess.Popen) -> None:
    """Until a batch of ``entity`` is open (being sent) or the process ended."""
    with Project.load(path) as project:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if project.state.open_batches(Entity(entity)):
                return
            time.sleep(0.005)


def _killed_in_users_then_finished(path: Path) -> None:
    """Killed after a batch of users was sent, then between sending one and recording its job;
    then run again to the end."""
    for point in ("batch.sent.end_users:1", "batch.submitted.end_users:2"):
        proc = _migrate(path, **{KILL_ENV: point})
        out = proc.communicate(timeout=120)[0].decode()
        assert proc.returncode == -signal.SIGKILL, out[-2000:]
    final = _migrate(path)
    out = final.communicate(timeout=120)[0].decode()
    assert final.returncode == 0, out[-2000:]


def _roll_back_every_run(project: Project) -> None:
    for _ in range(5):  # every run that created something, newest first
        if commands.rollback_plan(project, None)["run_id"] is None:
            return
        commands.rollback_project(project, None)


def test_a_contact_the_target_had_survives_a_kill_in_its_batch_and_rollback(sandboxes):
    """Freshdesk answers 409 for an e-mail it has and the loader reuses that contact. Killed
    after a batch of contacts was sent, the next run finds the batch's contacts by e-mail: those
    the account had before must not be recorded as created, or rollback deletes them."""
    path, target = sandboxes
    store = target.store
    with Project.load(path) as project:
        users = [u for u in project.state.iter_staged(Entity.END_USERS) if u.email]
    theirs = {}
    for user in users[::2]:  # every other customer already has a contact in the new account
        cid = store.new_id("users")
        store.contacts[cid] = {"id": cid, "name": f"{user.name} (theirs)", "email": user.email,
                               "active": True, "company_id": None, "tags": [],
                               "custom_fields": {}, "other_emails": [], "other_companies": [],
                               "created_at": "2020-01-01T00:00:00Z",
                               "updated_at": "2020-01-01T00:00:00Z"}
        store.remember(cid)
        theirs[cid] = user.email
    _killed_in_users_then_finished(path)
    _assert_exactly_once(path, target)
    assert len(store.contacts) > len(theirs)  # ours were created beside them
    with Project.load(path) as project:
        reused = project.state.target_ids(Entity.END_USERS)
        assert {str(c) for c in theirs} <= set(reused.values())
        _roll_back_every_run(project)
    left = {cid: c["email"] for cid, c in store.contacts.items() if not c.get("deleted")}
    assert left == theirs  # the account's own contacts, and only those


def test_a_zendesk_user_the_target_had_survives_a_kill_in_its_batch_and_rollback(
        tmp_path, monkeypatch):
    """Zendesk's create_or_update_many matches an e-mail the account has, updates that user and
    writes our marker (external_id) on it. Killed in a batch of users, the next run finds the
    batch by marker: users the account had before must not be recorded as created, or rollback
    deletes them (the target's clock is read from its Date headers). The rollback puts back what
    the run wrote on them (name, external id, tags, ...)."""
    from connectors.sandbox import zendesk_render as ZR
    from connectors.zendesk.load import RESTORED_END_USER_FIELDS
    from tests.engine.sandbox_project import start_pair, write_project
    source, target = start_pair(monkeypatch, "freshdesk", "zendesk", tickets=20)
    try:
        path = write_project(tmp_path, ("freshdesk", source.url), ("zendesk", target.url),
                             batch_size=5)
        with Project.load(path) as project:
            commands.export_project(project)
            users = [u for u in project.state.iter_staged(Entity.END_USERS) if u.email]
        store = target.app.state.store
        theirs = {}
        with store.lock:
            for user in users[:12:2]:  # in the first batches: every other one is theirs
                uid = store.new_id("user", store.users, 390_000)
                store.users[uid] = ZR.render_user(dataclasses.replace(
                    user, id=str(uid), name=f"{user.name} (theirs)",
                    created_at="2020-01-01T00:00:00Z", updated_at="2020-01-01T00:00:00Z"))
                theirs[uid] = user.email.lower()
            had = {uid: {k: store.users[uid].get(k) for k in RESTORED_END_USER_FIELDS}
                   for uid in theirs}
        _killed_in_users_then_finished(path)
        assert all(store.users[uid]["name"] != had[uid]["name"] for uid in theirs)  # written
        with Project.load(path) as project:
            ids = project.state.target_ids(Entity.END_USERS)
            assert {str(u) for u in theirs} <= set(ids.values())  # matched, tickets use them
            _roll_back_every_run(project)
        left = {uid: (u.get("email") or "").lower() for uid, u in store.users.items()
                if u.get("role") == "end-user"}
        assert left == theirs  # the account's own users, and only those
        assert {uid: {k: store.users[uid].get(k) for k in RESTORED_END_USER_FIELDS}
                for uid in theirs} == had  # as they were before the first run
    finally:
        source.stop()
        target.stop()
