"""``migrator mapping scaffold|validate|schema|diff`` and ``migrator plan``: thin shells over mappings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from migrator.errors import ConfigError, MappingError

__all__ = ["register", "snapshot_target", "snapshot_lines"]


def _project(ctx: click.Context, required: bool = True):
    from migrator.project import Project
    path = ctx.obj.get("config_path", "migration.yaml") if ctx.obj else "migration.yaml"
    if not required and not Path(path).exists():
        return None
    return Project.load(path)


def _staged(project) -> Any:
    from mappings.staged import StoreStaged
    return StoreStaged(project.state)


def _file(project, file: str | None) -> Path:
    if file:
        return Path(file)
    if project is None:
        raise ConfigError("no mapping file given and no migration.yaml here",
                          hint="pass the file: `migrator mapping validate mapping.yaml`")
    return project.config.mapping_path


def _has_data(project) -> bool:
    from migrator.models import Entity
    return project is not None and bool(project.state.count_staged(Entity.AGENTS))


def snapshot_target(project) -> Any:
    """Read the target's groups, roles, ticket fields and agents; store the snapshot (meta).

    Called by ``migrator check`` and ``migrator plan --read-target``. Values a connector can
    tell apart (``ticket_values()``: custom statuses, ticket types) are kept when it offers them.
    """
    import datetime as _dt

    from mappings.target_snapshot import META_KEY, snapshot_of
    from migrator.models import Entity
    target = project.target()
    extra = _ticket_values(target, project.config.target.type)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    snap = snapshot_of(project.config.target.type, now,
                       groups=target.existing(Entity.GROUPS), roles=target.existing(Entity.ROLES),
                       ticket_fields=target.existing(Entity.TICKET_FIELDS),
                       agents=target.existing(Entity.AGENTS),
                       statuses=extra.get("statuses", ()), types=extra.get("types", ()))
    project.state.set_meta(META_KEY, snap.to_json())
    return snap


def _ticket_values(target: Any, kind: str) -> dict[str, list[str]]:
    """Custom statuses and ticket types the target has (what ``Target.existing`` leaves out).

    Freshdesk lists both in its ``status`` / ``ticket_type`` system fields (custom statuses are
    codes 6 and up, canonical by label); Zendesk types are fixed and custom statuses exist only
    with the custom ticket statuses feature (``/custom_statuses`` answers 403/404 without it).
    Anything unreadable leaves the built-in values in force.
    """
    from migrator.errors import MigratorError
    client = getattr(target, "client", None)
    if client is None or not hasattr(client, "get_json"):
        return {}
    try:
        if kind == "freshdesk":
            rows = client.get_json("/api/v2/ticket_fields") or []
            by_name = {r.get("name"): r.get("choices") for r in rows if isinstance(r, dict)}
            status = by_name.get("status") or {}
            custom = [labels[0] for code, labels in status.items()
                      if str(code).isdigit() and int(code) >= 6 and labels]
            return {"types": list(by_name.get("ticket_type") or []), "statuses": custom}
        from connectors.zendesk.lookups import list_custom_statuses
        return {"statuses": [c["agent_label"] for c in list_custom_statuses(client)
                             if c.get("active", True) and c.get("agent_label")
                             and not c.get("default")]}  # not the five category defaults
    except (MigratorError, AttributeError, TypeError, ValueError):
        return {}


def snapshot_lines(snap: Any, project: Any = None) -> list[str]:
    """What ``migrator check`` says about the snapshot it stored (and, when a valid mapping and
    staged data are there, which target roles exist and which groups are reused or created)."""
    return _snapshot_summary(snap) + (_plan_lines(project, snap) if project is not None else [])


def _plan_lines(project: Any, snap: Any) -> list[str]:
    from mappings.plan import build_plan
    from migrator.errors import MigratorError
    if not _has_data(project):
        return []
    try:
        plan = build_plan(project.mapping(), _staged(project), project.config.target.type,
                          existing=snap.existing())
    except MigratorError as exc:
        return [f"mapping not checked against the target: {exc.message.splitlines()[0]}"]
    data = plan.as_dict()
    out = [f"role {r['role']!r} ({', '.join(r['tiers'])}): {r['action']}" for r in data["roles"]]
    actions: dict[str, list[str]] = {}
    for g in data["groups"]:
        actions.setdefault(g["action"], []).append(g["name"])
    out += [f"groups to {action}: {', '.join(names)}" for action, names in sorted(actions.items())]
    return out


def _snapshot_summary(snap: Any) -> list[str]:
    return [f"target snapshot taken {snap.taken_at}: {len(snap.groups)} groups, "
            f"{len(snap.roles)} roles ({', '.join(snap.roles) or 'none'}), "
            f"{len(snap.ticket_fields)} custom ticket fields, {len(snap.agent_emails)} agents, "
            f"ticket types: {', '.join(snap.types) or 'built in'}, custom statuses: "
            f"{', '.join(snap.statuses) or 'none'}; "
            "`migrator plan` says which groups are reused and which roles must be created "
            "in the UI"]


def _existing(project) -> Any:
    """The stored target snapshot as :class:`~mappings.targets.Existing`, or ``None``."""
    from migrator.engine.commands import stored_existing
    return None if project is None else stored_existing(project)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


@click.group("mapping")
def mapping_group() -> None:
    """Write, check and compare the mapping file (tiers, teams, routing, value maps)."""


@mapping_group.command("scaffold")
@click.argument("file", required=False)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_context
def scaffold_cmd(ctx: click.Context, file: str | None, force: bool) -> None:
    """Write a starter mapping from the staged data, with suggested tiers and teams."""
    from mappings.scaffold import scaffold
    project = _project(ctx)
    path = _file(project, file)
    if path.exists() and not force:
        raise MappingError(f"{path} already exists; not overwriting it",
                           hint="pass --force to replace it, or give another FILE")
    if not _has_data(project):
        raise ConfigError("nothing is staged yet", hint="run `migrator export` first")
    text = scaffold(_staged(project), target_type=project.config.target.type)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {path}. Review the suggested tiers (see the # evidence comments), then "
               f"run `migrator mapping validate`.")


@mapping_group.command("validate")
@click.argument("file", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def validate_cmd(ctx: click.Context, file: str | None, as_json: bool) -> None:
    """Check the mapping file and, when data is staged, check it against that data."""
    from mappings import MappingInvalid, load_mapping
    from mappings.plan import check_mapping
    project = _project(ctx, required=file is None)
    path = _file(project, file)
    try:
        mapping = load_mapping(path)
        issues = []
        if _has_data(project):
            issues = check_mapping(mapping, _staged(project), project.config.target.type,
                                   existing=_existing(project))
            errors = [i for i in issues if not i.warning]
            if errors:
                raise MappingInvalid(str(path), errors)
    except MappingInvalid as exc:
        if not as_json:
            raise
        _echo_json({"file": str(path), "valid": False,
                    "issues": [i.as_dict(str(path)) for i in exc.issues]})
        ctx.exit(exc.exit_code)
    checked = "schema and staged data" if _has_data(project) else "schema only (nothing staged)"
    if as_json:
        _echo_json({"file": str(path), "valid": True, "checked": checked,
                    "issues": [i.as_dict(str(path)) for i in issues]})
        return
    for issue in issues:
        click.secho(f"warning: {issue.render(str(path))}", fg="yellow", err=True)
    click.echo(f"{path}: valid ({checked}; {len(issues)} warning(s)).")


@mapping_group.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of the mapping file (for editors)."""
    from mappings.schema_json import mapping_json_schema
    _echo_json(mapping_json_schema())


@mapping_group.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@click.pass_context
def diff_cmd(ctx: click.Context, old: str, new: str, as_json: bool) -> None:
    """What changes between two mapping versions, in plan terms."""
    from mappings import load_mapping
    from mappings.diff import diff_plans, render_diff
    from mappings.plan import build_plan
    project = _project(ctx)
    if not _has_data(project):  # a plan needs the staged data: diffing without it is noise
        raise ConfigError("nothing is staged yet", hint="run `migrator export` first")
    staged, target = _staged(project), project.config.target.type
    existing = _existing(project)
    before = build_plan(load_mapping(old), staged, target, existing=existing)
    after = build_plan(load_mapping(new), staged, target, existing=existing)
    result = diff_plans(before, after, staged)
    if as_json:
        _echo_json(result)
    else:
        click.echo(render_diff(result), nl=False)


@click.command("plan")
@click.option("--out", "out_dir", default=None, help="Folder for plan.md and plan.json "
              "(default: the project's workdir).")
@click.option("--mapping", "mapping_file", default=None, help="Mapping file (default: the one "
              "named in migration.yaml).")
@click.option("--json", "as_json", is_flag=True, help="Also print plan.json to stdout.")
@click.option("--read-target", is_flag=True, help="Read the target's groups, roles and fields "
              "first (as `migrator check` does) and store the snapshot the plan uses.")
@click.pass_context
def plan_cmd(ctx: click.Context, out_dir: str | None, mapping_file: str | None,
             as_json: bool, read_target: bool) -> None:
    """Offline dry run: org chart, groups, roles, routing counts, coverage -> plan.md + plan.json."""
    from mappings import load_mapping
    from mappings.plan import build_plan
    from mappings.render import plan_json, plan_markdown
    project = _project(ctx)
    if not _has_data(project):
        raise ConfigError("nothing is staged yet", hint="run `migrator export` first")
    if read_target:
        snapshot_target(project)
    plan = build_plan(load_mapping(_file(project, mapping_file)), _staged(project),
                      project.config.target.type, existing=_existing(project))
    folder = Path(out_dir) if out_dir else project.workdir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plan.md").write_text(plan_markdown(plan), encoding="utf-8")
    (folder / "plan.json").write_text(plan_json(plan), encoding="utf-8")
    if as_json:
        click.echo(plan_json(plan), nl=False)
        return
    click.echo(f"Wrote {folder / 'plan.md'} and {folder / 'plan.json'}: {len(plan.groups)} "
               f"groups, {len(plan.agents)} agents, {plan.profile.total} tickets routed, "
               f"{len(plan.issues)} warning(s).")


def register(cli: click.Group) -> None:
    """Add the ``mapping`` group and the top-level ``plan`` command."""
    cli.add_command(mapping_group)
    cli.add_command(plan_cmd)
