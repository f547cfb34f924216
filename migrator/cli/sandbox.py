"""``migrator sandbox zendesk|freshdesk``: serve an emulated, seeded help desk on loopback."""

from __future__ import annotations

import threading

import click

__all__ = ["register", "sandbox"]


def _describe(running) -> list[str]:
    creds = running.credentials
    lines = [f"{running.kind} sandbox running at {running.url}"]
    if running.kind == "zendesk":
        lines += [f"  API:         {running.url}/api/v2/",
                  f"  attachments: {running.cdn_url}/attachments/token/...",
                  f"  auth:        basic {creds['email']}/token:{creds['api_token']}"
                  f"  or  Bearer {creds['oauth_token']}"]
    else:
        lines += [f"  API:         {running.url}/api/v2/",
                  f"  auth:        basic {creds['api_key']}:X"]
    lines += [f"  control:     {running.url}/_sandbox/stats | /_sandbox/counts | "
              "POST /_sandbox/reset", "Press Ctrl-C to stop."]
    return lines


def _wait_forever() -> None:
    """Block until Ctrl-C (KeyboardInterrupt)."""
    threading.Event().wait()


@click.command("sandbox")
@click.argument("kind", type=click.Choice(["zendesk", "freshdesk"]))
@click.option("--port", type=int, default=0, show_default=True, help="0 picks a free port.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the demo company.")
@click.option("--tickets", type=click.IntRange(0, 20000), default=400, show_default=True)
@click.option("--empty", is_flag=True, help="An empty target account (agents as seats only).")
@click.option("--plan", default=None, help="Vendor plan whose rate limits apply "
              "(e.g. team, growth, enterprise); default unlimited.")
@click.option("--latency", type=click.FloatRange(0, 30), default=0.0, help="Seconds per request.")
@click.option("--rate-429", type=click.FloatRange(0, 1), default=0.0,
              help="Share of requests answered 429.")
@click.option("--rate-503", type=click.FloatRange(0, 1), default=0.0,
              help="Share of requests answered 503.")
@click.option("--drop-rate", type=click.FloatRange(0, 1), default=0.0,
              help="Share of connections dropped mid-response.")
@click.option("--job-seconds", type=click.FloatRange(0, 3600), default=0.0,
              help="How long a Zendesk background job takes.")
@click.option("--window", type=click.FloatRange(0.1, 3600), default=60.0, show_default=True,
              help="Seconds per rate-limit window.")
@click.option("--custom-statuses", is_flag=True, help="Zendesk: the account has custom ticket "
              "statuses (a few seeded ones, e.g. 'Waiting on vendor'); off, /custom_statuses "
              "answers 404.")
def sandbox(kind: str, port: int, seed: int, tickets: int, empty: bool, plan: str | None,
            latency: float, rate_429: float, rate_503: float, drop_rate: float,
            job_seconds: float, window: float, custom_statuses: bool) -> None:
    """Serve an emulated Zendesk or Freshdesk account, seeded with a demo company."""
    from connectors.sandbox.common import Faults, SandboxKnobs
    from connectors.sandbox.run import start_sandbox

    knobs = SandboxKnobs(plan=plan, latency=latency, job_seconds=job_seconds, window=window,
                         faults=Faults(rate_429=rate_429, rate_503=rate_503,
                                       drop_rate=drop_rate, seed=seed))
    if custom_statuses and kind != "zendesk":
        raise click.UsageError("--custom-statuses is a Zendesk sandbox setting")
    running = start_sandbox(kind, seed=seed, tickets=tickets, empty=empty, knobs=knobs,
                            port=port, custom_statuses=custom_statuses)
    for line in _describe(running):
        click.echo(line)
    try:
        _wait_forever()
    except KeyboardInterrupt:
        click.echo("stopping...")
    finally:
        running.stop()


def register(cli: click.Group) -> None:
    """Add this module's commands to the top-level group."""
    cli.add_command(sandbox)
