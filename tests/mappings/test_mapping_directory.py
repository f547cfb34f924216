"""Organisation names: looked up on demand in a bounded cache, digested for fingerprints."""

from __future__ import annotations

from mappings.directory import Names
from mappings.staged import RecordSet
from migrator.models import Entity, Organization


class Lookups(RecordSet):
    """Staged data that can also look one record up (as the state store can), counting it."""

    def __init__(self, records):
        super().__init__(records)
        self.looked_up: list[str] = []

    def get(self, entity, source_id):
        self.looked_up.append(source_id)
        return next((r for r in self.iter(entity) if str(r.id) == source_id), None)


def orgs(n: int) -> list[Organization]:
    return [Organization(id=f"o{i}", name=f"Org {i}") for i in range(n)]


def test_names_are_looked_up_on_demand_and_bounded():
    staged = Lookups(orgs(30))
    names = Names(staged, Entity.ORGANIZATIONS, limit=5)
    assert len(names) == 30 and staged.looked_up == []  # nothing held up front
    assert [names.get(f"o{i}") for i in range(10)] == [f"Org {i}" for i in range(10)]
    assert names.get("o3") == "Org 3" and names.get("nope", "nope") == "nope"
    assert len(names._names) <= 5
    assert staged.looked_up[:10] == [f"o{i}" for i in range(10)]


def test_the_digest_follows_every_name_without_holding_them():
    a, b = Names(Lookups(orgs(3))), Names(RecordSet(orgs(3)))
    assert a.digest == b.digest and b.get("o1") == "Org 1"  # held whole without a lookup
    renamed = orgs(3)
    renamed[2] = Organization(id="o2", name="Renamed")
    assert Names(Lookups(renamed)).digest != a.digest
