"""A migration project: the config, its state store, its connectors and its mapping, opened lazily."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrator.config import Config, load_config
from migrator.state import StateStore

if TYPE_CHECKING:
    from connectors.base import Source, Target

__all__ = ["Project"]


class Project:
    """Everything a command needs, opened on first use and closed by :meth:`close`."""

    def __init__(self, config: Config):
        self.config = config
        self._source: Any = None
        self._target: Any = None

    @classmethod
    def load(cls, path: str | Path) -> "Project":
        return cls(load_config(path))

    @cached_property
    def state(self) -> StateStore:
        return StateStore(self.config.state_url)

    @property
    def workdir(self) -> Path:
        return self.config.workdir_path

    @property
    def attachments_dir(self) -> Path:
        return self.workdir / "attachments"

    def source(self) -> "Source":
        if self._source is None:
            from connectors import make_source
            self._source = make_source(self.config.source, workdir=self.workdir,
                                       options=self.config.options)
        return self._source

    def target(self) -> "Target":
        if self._target is None:
            from connectors import make_target
            self._target = make_target(self.config.target, workdir=self.workdir,
                                       options=self.config.options)
        return self._target

    def mapping(self, path: str | Path | None = None):
        """The validated mapping (raises :class:`~migrator.errors.MappingError`)."""
        from mappings import load_mapping
        return load_mapping(Path(path) if path else self.config.mapping_path)

    def close(self) -> None:
        for conn in (self._source, self._target):
            if conn is not None:
                conn.close()
        if "state" in self.__dict__:
            self.state.close()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
