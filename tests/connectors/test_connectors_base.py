"""Shared connector helpers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from connectors.base import RecentIds


def test_recent_ids_keep_the_latest_and_stay_bounded():
    ids = RecentIds(limit=3)
    for i in range(5):
        ids[f"s{i}"] = f"t{i}"
    assert len(ids) == 3
    assert ids.get("s0") is None and ids.get("s4") == "t4"
    assert ids.pick(["s1", "s2", "s3", "nope"]) == {"s2": "t2", "s3": "t3"}
    ids["s2"] = "t2"  # written again: the newest, so s3 goes first
    ids["s5"] = "t5"
    assert ids.pick(["s2", "s3", "s4", "s5"]) == {"s2": "t2", "s4": "t4", "s5": "t5"}


def test_recent_ids_from_threads():
    ids = RecentIds(limit=1000)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: ids.__setitem__(str(i), str(i)), range(5000)))
    assert len(ids) == 1000
