"""The ``migrator`` command: a thin shell over the library.

Each command module (``run``, ``mapping``, ``report``, ``sandbox``) parses options, calls one
library function and renders what it returns. Errors become user messages in exactly one place,
:class:`MigratorGroup`: a :class:`~migrator.errors.MigratorError` prints its message and hint and
exits with its code; Ctrl-C exits 130; anything unexpected prints one line and writes the
traceback to a log file, never to the screen.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import time
import traceback

import click

from migrator import __version__
from migrator.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, MigratorError, redact

__all__ = ["cli", "main", "COMMAND_MODULES"]

COMMAND_MODULES = ("migrator.cli.run", "migrator.cli.mapping", "migrator.cli.report",
                   "migrator.cli.sandbox")


def _say_error(message: str, hint: str | None = None) -> None:
    click.secho(f"Error: {message}", fg="red", err=True)
    if hint:
        click.secho(f"Hint: {hint}", fg="yellow", err=True)


def _write_crash_log(exc: BaseException) -> str:
    folder = os.path.join(os.getcwd(), ".migrator", "logs")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        folder = tempfile.gettempdir()
    path = os.path.join(folder, f"crash-{time.strftime('%Y%m%d-%H%M%S')}.log")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(redact("".join(traceback.format_exception(exc))))
    return path


class MigratorGroup(click.Group):
    """The one place where errors turn into messages and exit codes."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MigratorError as exc:
            _say_error(exc.message, exc.hint)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            _say_error("interrupted; the state is saved",
                       "run the same command again to continue where it stopped")
            ctx.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except OSError as exc:
            if exc.filename is None:  # not about a path (a socket, a bug): a crash, below
                self._crash(ctx, exc)
            _say_error(redact(f"cannot use {exc.filename}: {(exc.strerror or str(exc)).lower()}"),
                       "check the path (its folder must exist and be writable), "
                       "then run the command again")
            ctx.exit(EXIT_BAD_INPUT)
        except Exception as exc:  # a bug: one line on screen, the traceback in a file
            self._crash(ctx, exc)

    @staticmethod
    def _crash(ctx: click.Context, exc: BaseException) -> None:
        path = _write_crash_log(exc)
        _say_error(f"internal error: {type(exc).__name__}: {redact(str(exc))[:300]}",
                   f"this is a bug; the details are in {path}")
        ctx.exit(70)


@click.group(cls=MigratorGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                  "max_content_width": 100})
@click.version_option(__version__, prog_name="migrator")
@click.option("-c", "--config", "config_path", default="migration.yaml", show_default=True,
              envvar="MIGRATOR_CONFIG", help="The project file (source, target, mapping, state).")
@click.pass_context
def cli(ctx: click.Context, config_path: str) -> None:
    """Move a support desk between help desks and restructure the team into tiers and teams.

    \b
    The journey:
      init -> check -> export -> mapping scaffold/validate -> plan ->
      migrate --sample -> rollback -> migrate -> status -> verify -> report
    Try it all on built-in sandboxes: migrator demo

    \b
    Exit codes:
      0 ok, 1 finished with failed records, 2 bad input or configuration,
      3 the remote side kept failing (run again later), 130 interrupted (resumable)
    """
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(cli)


def main() -> None:
    """Console entry point."""
    cli(prog_name="migrator")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
