"""CLI wiring of the run commands (CliRunner): help, exit codes, messages; fakes behind Project."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from migrator.cli import cli
from migrator.engine import commands
from migrator.models import Entity
from migrator.project import Project
from tests.engine.fakes import FakeSource, FakeTarget, company

RUN_COMMANDS = ("init", "check", "export", "migrate", "status", "verify", "rollback", "demo")


@pytest.mark.parametrize("name", RUN_COMMANDS)
def test_every_run_command_has_help(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_init_writes_env_references_only_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / "migration.yaml"
    runner = CliRunner()
    result = runner.invoke(cli, ["-c", str(path), "init"])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(path.read_text())
    assert data["source"]["token"] == "${ZENDESK_SOURCE_TOKEN}"
    assert data["target"]["api_key"] == "${FRESHDESK_TARGET_API_KEY}"
    assert data["state"] == "sqlite:///.migrator/state.db"
    assert (tmp_path / "mapping.yaml").exists()
    again = runner.invoke(cli, ["-c", str(path), "init"])
    assert again.exit_code == 2 and "already exists" in again.output and "--force" in again.output
    same = runner.invoke(cli, ["-c", str(tmp_path / "x.yaml"), "init", "--target", "zendesk"])
    assert same.exit_code == 2 and "both zendesk" in same.output


def test_missing_project_file_is_a_config_error(tmp_path):
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "nope.yaml"), "migrate"])
    assert result.exit_code == 2
    assert "no such file" in result.output and "migrator init" in result.output


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project whose connectors are the in-memory fakes and whose plan is the fake plan."""
    path = tmp_path / "migration.yaml"
    assert CliRunner().invoke(cli, ["-c", str(path), "init"]).exit_code == 0
    data, files, plan = company()
    source, target = FakeSource(data, files), FakeTarget()
    monkeypatch.setattr(Project, "source", lambda self: source)
    monkeypatch.setattr(Project, "target", lambda self: target)
    monkeypatch.setattr(commands, "plan_for", lambda project: plan)
    return path, source, target


def run(path, *args):
    return CliRunner().invoke(cli, ["-c", str(path), *args])


def test_the_journey_with_fakes(project):
    path, _, target = project
    assert run(path, "check").exit_code == 0
    exported = run(path, "export", "--json")
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output[exported.output.index("{"):])["totals"]["tickets"] == 6
    dry = run(path, "migrate", "--dry-run")
    assert dry.exit_code == 0 and "nothing was written" in dry.output and target.submitted == []
    sample = run(path, "migrate", "--sample", "2", "--seed", "1")
    assert sample.exit_code == 0, sample.output
    assert target.count(Entity.TICKETS) == 2
    back = run(path, "rollback", "--yes")
    assert back.exit_code == 0 and "deleted:" in back.output and target.count(Entity.TICKETS) == 0
    full = run(path, "migrate", "--json")
    assert full.exit_code == 0, full.output
    assert json.loads(full.output[full.output.index("{"):])["status"] == "done"
    status = run(path, "status", "--json")
    data = json.loads(status.output[status.output.index("{"):])
    assert data["entities"]["tickets"]["created"] == 6
    verified = run(path, "verify")
    assert verified.exit_code == 0 and "everything matches" in verified.output
    assert (path.parent / "verify.json").exists()


def test_rollback_asks_before_deleting(project):
    path, _, target = project
    run(path, "export")
    run(path, "migrate")
    refused = CliRunner().invoke(cli, ["-c", str(path), "rollback"], input="n\n")
    assert refused.exit_code == 1 and "Delete these records" in refused.output
    assert "nothing deleted" in refused.output and "--yes" in refused.output
    assert target.count(Entity.TICKETS) == 6
    # no one to answer (a script without --yes): the same, not a bare "Aborted!"
    silent = CliRunner().invoke(cli, ["-c", str(path), "rollback"], input="")
    assert silent.exit_code == 1 and "nothing deleted" in silent.output
    assert "Aborted" not in silent.output and target.count(Entity.TICKETS) == 6


def test_failed_records_exit_1_and_retry_failed_exits_0(project):
    path, _, target = project
    run(path, "export")
    target.fail[(Entity.TICKETS, "2")] = "Priority: is invalid"
    first = run(path, "migrate")
    assert first.exit_code == 1 and "Priority: is invalid" in first.output
    assert "--retry-failed" in first.output
    target.fail.clear()
    assert run(path, "migrate", "--retry-failed").exit_code == 0
    assert target.count(Entity.TICKETS) == 6  # the failed one went through
    # nothing failed any more: said, and no empty run is recorded
    again = run(path, "migrate", "--retry-failed")
    assert again.exit_code == 0 and "nothing to retry" in again.output
    as_json = run(path, "migrate", "--retry-failed", "--json")
    assert json.loads(as_json.output) == {"status": "nothing to retry", "outstanding_failed": 0}


def test_transient_failure_exits_3_with_a_resume_hint(project):
    path, _, target = project
    run(path, "export")
    target.transient_on = lambda entity, items: entity is Entity.TICKETS
    result = run(path, "migrate")
    assert result.exit_code == 3
    assert "503" in result.output and "run the same command again" in result.output
    assert "Traceback" not in result.output


def test_check_failure_is_exit_2_with_the_table(project, monkeypatch):
    path, source, _ = project
    from connectors.base import CheckItem
    monkeypatch.setattr(source, "check", lambda: [CheckItem("credentials", False, "401",
                                                            "set ZENDESK_SOURCE_TOKEN")])
    result = run(path, "check")
    assert result.exit_code == 2 and "1 checks failed" in result.output and "FAIL" in result.output


def test_sandbox_custom_statuses_is_a_zendesk_setting():
    runner = CliRunner()
    assert "--custom-statuses" in runner.invoke(cli, ["sandbox", "--help"]).output
    result = runner.invoke(cli, ["sandbox", "freshdesk", "--custom-statuses"])
    assert result.exit_code == 2 and "Zendesk sandbox setting" in result.output


def test_config_path_that_is_a_folder_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["-c", str(tmp_path), "status"])
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert str(tmp_path) in result.output and "folder" in result.output


def test_unwritable_out_path_is_a_clear_error_not_a_crash(project, tmp_path):
    path, _, _ = project
    assert run(path, "export").exit_code == 0
    assert run(path, "migrate").exit_code == 0
    out = tmp_path / "no" / "such" / "folder" / "verify.json"
    blocker = tmp_path / "no"
    blocker.write_text("a file where a folder should be")
    result = run(path, "verify", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert str(blocker) in result.output and ".tickets" not in result.output  # our temp file
    assert "Hint:" in result.output


def test_verify_before_migrate_does_not_sign_off_on_nothing(project):
    path, _, _ = project
    assert run(path, "export").exit_code == 0
    for args in (("verify",), ("verify", "--json")):
        result = run(path, *args)
        assert result.exit_code == 2, result.output
        assert "nothing has been migrated" in result.output and "migrator migrate" in result.output
        assert "everything matches" not in result.output and '"ok": true' not in result.output


def test_check_json_is_valid_json_on_stdout_and_keeps_the_exit_code(project, monkeypatch):
    path, source, _ = project
    ok = run(path, "check", "--json")
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data["ok"] is True and {c["side"] for c in data["checks"]} == {"source", "target"}
    from connectors.base import CheckItem
    monkeypatch.setattr(source, "check", lambda: [CheckItem("credentials", False, "401",
                                                            "set ZENDESK_SOURCE_TOKEN")])
    bad = run(path, "check", "--json")
    assert bad.exit_code == 2
    data = json.loads(bad.stdout)
    assert data["ok"] is False
    assert {"side": "source", "name": "credentials", "ok": False, "warning": False,
            "detail": "401", "hint": "set ZENDESK_SOURCE_TOKEN"} in data["checks"]
