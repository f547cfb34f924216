"""Errors, sorted by what the user should do about them.

    MigratorError                 base; carries a user message and an optional hint
    ├── ConfigError               bad or missing settings, credentials, permissions (401/403):
    │                             fix the configuration, then run the command again (exit 2)
    ├── MappingError              invalid mapping file or unmapped value in strict mode (exit 2)
    ├── ConnectorError            the remote side failed
    │   ├── TransientError        5xx / connection trouble past all retries: run the same
    │   │                         command again later, the state is resumable
    │   └── RateLimitedError      429 past all retries (a TransientError)
    ├── RecordError               one record was rejected (422, 409 that is not a duplicate, ...):
    │                             kept with its reason, the run goes on
    └── InterruptedRun            Ctrl-C / SIGTERM; state saved (exit 130)

Messages never contain credentials: :func:`redact` scrubs anything that looks like a secret
before a message leaves the library, and connectors register their secrets with
:func:`register_secret` so that even an echoed token is masked.
"""

from __future__ import annotations

import re
import threading

__all__ = [
    "MigratorError",
    "ConfigError",
    "MappingError",
    "ConnectorError",
    "TransientError",
    "RateLimitedError",
    "RecordError",
    "InterruptedRun",
    "register_secret",
    "redact",
    "EXIT_OK",
    "EXIT_FAILED_RECORDS",
    "EXIT_BAD_INPUT",
    "EXIT_INTERRUPTED",
]

EXIT_OK = 0
EXIT_FAILED_RECORDS = 1
EXIT_BAD_INPUT = 2
EXIT_TRANSIENT = 3
EXIT_INTERRUPTED = 130

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
# "Authorization: Basic xxx", "token=xxx", "api_key:xxx", '"password": "xxx"' -- but not prose
# such as "zendesk.token: environment variable ..." or "export ZENDESK_TOKEN=...".
_HEADER_PATTERN = re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)((?:basic|bearer)\s+)?([^\s\"',&]+)")
_AUTH_PATTERN = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(api[_-]?key|token|password|secret)(=|[\"']\s*:\s*[\"']|:(?=[^\s]))([^\s\"',&]+)")


def register_secret(value: str | None) -> None:
    """Remember a secret so that :func:`redact` masks it wherever it appears."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Mask registered secrets and ``key=value`` credentials in ``text``."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "***")
    text = _HEADER_PATTERN.sub(lambda m: f"{m.group(1)}{m.group(2) or ''}***", text)
    return _AUTH_PATTERN.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


class MigratorError(Exception):
    """Base of every error the toolkit raises on purpose.

    Args:
        message: what went wrong, for the user.
        hint: what to do next (a command, a flag, a setting), if there is something to say.
        detail: internal detail for logs (also redacted), never shown as the headline.
    """

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, hint: str | None = None, detail: str | None = None):
        self.message = redact(message)
        self.hint = redact(hint) if hint else None
        self.detail = redact(detail) if detail else None
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


class ConfigError(MigratorError):
    """Settings, credentials or permissions are wrong; retrying will not help."""


class MappingError(MigratorError):
    """A mapping file is invalid, or a value is unmapped in strict mode."""


class ConnectorError(MigratorError):
    """The remote help desk failed in a way the user cannot fix by editing files."""

    exit_code = EXIT_TRANSIENT

    def __init__(self, message: str, *, status: int | None = None, **kw):
        self.status = status
        super().__init__(message, **kw)


class TransientError(ConnectorError):
    """A temporary failure past all retries; the same command can be run again later."""


class RateLimitedError(TransientError):
    """Still rate limited (429) after all retries."""


class RecordError(MigratorError):
    """The target rejected one record; it is kept with the reason and the run goes on."""

    exit_code = EXIT_FAILED_RECORDS

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None, **kw):
        self.status = status
        self.code = code
        super().__init__(message, **kw)


class InterruptedRun(MigratorError):
    """The run was interrupted by a signal after saving its state."""

    exit_code = EXIT_INTERRUPTED
