"""How the mapping layer reads staged data: a one-method protocol, and two implementations."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Protocol, runtime_checkable

from migrator.models import Entity

__all__ = ["StagedData", "RecordSet", "StoreStaged"]


@runtime_checkable
class StagedData(Protocol):
    """Anything that can stream the staged canonical records of one entity."""

    def iter(self, entity: Entity) -> Iterator[Any]:
        """The staged records of ``entity`` (may be called once per entity and pass)."""


class RecordSet:
    """Staged data held in memory: literal records in tests, a seeded company in demos."""

    def __init__(self, records: Iterable[Any] = ()):
        self._by: dict[Entity, list[Any]] = {}
        for rec in records:
            self._by.setdefault(rec.entity, []).append(rec)

    @classmethod
    def from_object(cls, obj: Any) -> "RecordSet":
        """From an object with one list attribute per entity (e.g. the sandbox ``Company``)."""
        out = cls()
        for entity in Entity:
            items = getattr(obj, entity.value, None)
            if items:
                out._by[entity] = list(items)
        return out

    def iter(self, entity: Entity) -> Iterator[Any]:
        """The records of ``entity`` in the order given."""
        return iter(self._by.get(entity, ()))


class StoreStaged:
    """Adapter over :meth:`migrator.state.StateStore.iter_staged` (anything with that method)."""

    def __init__(self, store: Any):
        self.store = store

    def iter(self, entity: Entity) -> Iterator[Any]:
        """Stream staged records of ``entity`` from the state store."""
        return self.store.iter_staged(entity)

    def get(self, entity: Entity, source_id: str) -> Any | None:
        """One staged record by id (``None`` if not staged)."""
        return self.store.get_staged(entity, source_id)
