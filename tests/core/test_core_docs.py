"""Every command has help and is documented in README.md; CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from migrator.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def _commands(group: click.Group, prefix: str = "migrator"):
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        yield path, cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, path)


COMMANDS = list(_commands(cli))


def test_there_are_commands():
    names = {p for p, _ in COMMANDS}
    for expected in ("migrator demo", "migrator export", "migrator migrate", "migrator plan",
                     "migrator mapping validate", "migrator report", "migrator sandbox"):
        assert expected in names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS])
def test_every_command_has_help_and_is_in_the_readme(path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"`{re.escape(path)}(\s|`|\])", readme), f"{path} is not documented in README.md"
    result = CliRunner().invoke(cli, path.split()[1:] + ["--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    cmd = dict(COMMANDS)[path]
    assert (cmd.help or cmd.short_help or "").strip(), f"{path} has no help text"


def test_top_level_help():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "Exit codes" in result.output


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- test-command -->\s*```\s*\n(.+?)\n```", readme, re.S)
    assert block, "README.md must hold the test command between test-command markers"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "test-command" in ci and "pytest" in block.group(1)
