"""DiskMap: what a target holds by name, in a temporary file instead of a dict."""

from __future__ import annotations

import threading

import pytest

from migrator.diskmap import DiskMap


def test_the_first_value_of_a_key_wins_as_dict_setdefault_would():
    m = DiskMap([("acme", "1"), ("beta", "2"), ("acme", "3")])
    assert (m.get("acme"), m["beta"], len(m)) == ("1", "2", 2)
    m.add_new([("acme", "9"), ("gamma", "4")])
    assert (m["acme"], m["gamma"]) == ("1", "4")
    assert "gamma" in m and "delta" not in m and m.get("delta") is None
    with pytest.raises(KeyError):
        m["delta"]
    m["acme"] = "7"  # an assignment replaces, as a dict's does
    assert m["acme"] == "7"


def test_threads_write_and_read_it_at_once():
    m = DiskMap()

    def work(n: int) -> None:
        for i in range(200):
            m[f"{n}-{i}"] = str(i)
            assert m[f"{n}-{i}"] == str(i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(m) == 800
