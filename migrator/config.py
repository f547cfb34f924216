"""The project file, ``migration.yaml``: source, target, mapping, state, options.

Credentials are written only as ``${ENV_VAR}`` references; they are resolved from the
environment when a connector is built and never stored, logged or printed. ``repr`` of a config
shows the reference, never the value.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from migrator.errors import ConfigError, register_secret

__all__ = ["Config", "EndpointConfig", "Options", "load_config", "resolve_secret",
           "DEFAULT_STATE", "SECRET_KEYS"]

DEFAULT_STATE = "sqlite:///.migrator/state.db"
SECRET_KEYS = frozenset({"token", "api_token", "api_key", "password", "oauth_token", "secret"})
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# Vendor keys a connector reads from its endpoint section (beyond the declared fields); any other
# key is a typo that would otherwise be ignored without a word.
VENDOR_KEYS = {
    "zendesk": frozenset({"retry_backoff", "rate_window", "comments_strategy", "job_cap",
                          "job_poll_seconds", "placeholder_email", "account_limit",
                          "incremental_limit"}),
    "freshdesk": frozenset({"retry_backoff", "rate_window", "page_cap"}),
}


class EndpointConfig(BaseModel):
    """One side of the migration. Vendor-specific keys are allowed and read by the connector."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: Literal["zendesk", "freshdesk"]
    subdomain: str | None = None  # Zendesk: acme -> https://acme.zendesk.com
    domain: str | None = None  # Freshdesk: acme -> https://acme.freshdesk.com
    base_url: str | None = None  # override: sandbox, proxy or a real account
    email: str | None = None
    token: str | None = None
    oauth_token: str | None = None
    api_key: str | None = None
    plan: str | None = None  # announces rate limits before the first response does
    create_agents: bool = False  # Freshdesk target: agents are paid seats

    @field_validator("token", "oauth_token", "api_key")
    @classmethod
    def _only_env_refs(cls, value: str | None, info) -> str | None:
        if value is not None and not _ENV_REF.match(value) and not value.startswith("literal:"):
            raise ValueError(
                f"`{info.field_name}` must be an environment reference like ${{ZENDESK_TOKEN}}, "
                "never the secret itself")
        return value

    def secret(self, name: str) -> str | None:
        """Resolve a credential reference from the environment."""
        return resolve_secret(getattr(self, name), f"{self.type}.{name}")

    def __repr__(self) -> str:
        return f"EndpointConfig(type={self.type!r}, base_url={self.base_url!r})"


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attachments: bool = True
    inline_images: bool = True
    tags: list[str] = Field(default_factory=lambda: ["migrated"])
    archive_closed: bool = False
    since: str | None = None  # only tickets updated since (YYYY-MM-DD)
    batch_size: int = Field(default=100, ge=1, le=100)
    include_deleted: bool = False
    include_spam: bool = False
    max_in_flight: int = Field(default=8, ge=1, le=64)
    # attachment bytes downloaded or uploaded at once (files stream to disk in 64 KB chunks)
    attachment_bytes_in_flight: int = Field(default=64 * 1024 * 1024, ge=1)

    @field_validator("since")
    @classmethod
    def _a_date(cls, value: str | None) -> str | None:
        """A date (YYYY-MM-DD) or an ISO timestamp, checked when the file is read, not when
        the export reaches the tickets."""
        if value is None or not value.strip():
            return None
        text = value.strip()
        try:
            if len(text) == 10:
                datetime.strptime(text, "%Y-%m-%d")
            else:
                datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. 2024-01-31"
                             ) from None
        return text


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: EndpointConfig
    target: EndpointConfig
    mapping: str = "mapping.yaml"
    state: str = DEFAULT_STATE
    workdir: str = ".migrator"
    options: Options = Field(default_factory=Options)
    path: str | None = Field(default=None, exclude=True)

    def resolve(self, relative: str) -> Path:
        """A path named in the file, relative to the file's folder."""
        base = Path(self.path).parent if self.path else Path.cwd()
        p = Path(relative)
        return p if p.is_absolute() else base / p

    @property
    def mapping_path(self) -> Path:
        return self.resolve(self.mapping)

    @property
    def state_url(self) -> str:
        if self.state.startswith("sqlite:///") and not self.state.startswith("sqlite:////"):
            rel = self.state[len("sqlite:///"):]
            return f"sqlite:///{self.resolve(rel)}" if rel != ":memory:" else self.state
        return self.state

    @property
    def workdir_path(self) -> Path:
        return self.resolve(self.workdir)


def resolve_secret(ref: str | None, what: str) -> str | None:
    """``${NAME}`` -> the environment's value; missing -> :class:`ConfigError`."""
    if ref is None:
        return None
    if ref.startswith("literal:"):  # only used by the built-in demo for sandbox-only tokens
        value = ref[len("literal:"):]
        register_secret(value)
        return value
    match = _ENV_REF.match(ref)
    if not match:
        raise ConfigError(f"{what} must be an environment reference like ${{NAME}}")
    value = os.environ.get(match.group(1))
    if not value:
        raise ConfigError(f"{what}: environment variable {match.group(1)} is not set",
                          hint=f"export {match.group(1)}=... before running the command")
    register_secret(value)
    return value


def load_config(path: str | Path) -> Config:
    """Read and validate ``migration.yaml``; every problem becomes a :class:`ConfigError`."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file", hint="run `migrator init` to write one")
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, not a project file",
                          hint=f"name the file: `migrator -c {path / 'migration.yaml'} ...`")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (expected UTF-8 YAML)") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with `source` and `target` keys")
    try:
        config = Config(**data)
    except ValidationError as exc:
        lines = [f"{_where(path, err['loc'])}: {'.'.join(str(p) for p in err['loc'])}: "
                 f"{err['msg']}" for err in exc.errors()]
        raise ConfigError("invalid project file:\n  " + "\n  ".join(lines),
                          hint="see \"The project file\" in README.md for every key") from None
    unknown = [(side, key) for side in ("source", "target")
               for key in (getattr(config, side).model_extra or {})
               if key not in VENDOR_KEYS[getattr(config, side).type]]
    if unknown:
        lines = [f"{_where(path, (side, key))}: {side}.{key}: unknown "
                 f"{getattr(config, side).type} setting" for side, key in unknown]
        raise ConfigError("invalid project file:\n  " + "\n  ".join(lines),
                          hint="check the spelling; \"The project file\" in README.md lists "
                               "every key")
    return config.model_copy(update={"path": str(path)})


def _where(path: Path, loc: tuple) -> str:
    """``path:line:column`` of the key at ``loc`` (or its nearest parent), else ``path``."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return str(path)
    mark = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if key.value == str(part):
                mark, node = key.start_mark, value
                break
        else:
            break
    return f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)


def dump_config(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
