"""The plan's ticket profile kept in the state store, so a restart does not re-read every ticket.

``profile_tickets`` is one pass over all staged tickets (5.7 s of a 100k-ticket restart). Its
result depends only on the mapping, the target type and the staged data, so it is stored in the
state store's ``meta`` table under a key made of the mapping's canonical JSON digest and the
target type, with the staging generation (:meth:`StateStore.staged_generation`, moved by every
write to the staging) it was computed at. Any change to the mapping or to anything staged makes
it a miss; the profile is then computed and stored again. Staged data that is not a state store
(tests, demos) is never cached.

The encoding is plain tagged JSON (no pickle: the state database may be shared).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from typing import Any, Callable

__all__ = ["cached", "profile_key", "META_KEY"]

META_KEY = "plan_ticket_profile"


def _store(staged: Any) -> Any:
    store = getattr(staged, "store", None)
    ok = all(hasattr(store, n) for n in ("staged_generation", "get_meta", "set_meta"))
    return store if ok else None


def profile_key(mapping: Any, target_type: str, profile_cls: type) -> str | None:
    """The mapping (canonical JSON), target type and profile layout as one digest."""
    dump = getattr(mapping, "model_dump_json", None)
    if dump is None:
        return None
    layout = ",".join(f.name for f in dataclasses.fields(profile_cls))
    return hashlib.sha1("\n".join((dump(), target_type, layout)).encode()).hexdigest()


def _enc(v: Any) -> Any:
    if isinstance(v, tuple):
        return {"T": [_enc(x) for x in v]}
    if isinstance(v, Counter):
        return {"C": [[_enc(k), n] for k, n in v.items()]}
    if isinstance(v, dict):
        return {"D": [[_enc(k), _enc(x)] for k, x in v.items()]}
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if dataclasses.is_dataclass(v):
        return {"O": type(v).__name__,
                "f": {f.name: _enc(getattr(v, f.name)) for f in dataclasses.fields(v)}}
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    raise TypeError(f"cannot keep a {type(v).__name__} in the profile cache")


def _dec(v: Any, classes: dict[str, type]) -> Any:
    if isinstance(v, list):
        return [_dec(x, classes) for x in v]
    if not isinstance(v, dict):
        return v
    if "T" in v:
        return tuple(_dec(x, classes) for x in v["T"])
    if "C" in v:
        return Counter({_dec(k, classes): n for k, n in v["C"]})
    if "D" in v:
        return {_dec(k, classes): _dec(x, classes) for k, x in v["D"]}
    cls = classes[v["O"]]
    return cls(**{k: _dec(x, classes) for k, x in v["f"].items()})


def _classes(profile_cls: type) -> dict[str, type]:
    out: dict[str, type] = {profile_cls.__name__: profile_cls}
    probe = profile_cls()
    for f in dataclasses.fields(profile_cls):
        value = getattr(probe, f.name)
        if dataclasses.is_dataclass(value):
            out[type(value).__name__] = type(value)
    return out


def cached(mapping: Any, staged: Any, target_type: str, profile_cls: type,
           compute: Callable[[], Any]) -> Any:
    """The stored profile if the mapping and the staging are unchanged, else ``compute()``
    (stored for next time)."""
    store = _store(staged)
    key = profile_key(mapping, target_type, profile_cls) if store is not None else None
    if key is None:
        return compute()
    generation = store.staged_generation()
    raw = store.get_meta(META_KEY)
    if raw:
        try:
            kept = json.loads(raw)
            if kept.get("key") == key and kept.get("generation") == generation:
                return _dec(kept["profile"], _classes(profile_cls))
        except (ValueError, KeyError, TypeError):
            pass  # unreadable: computed again and replaced
    profile = compute()
    try:
        body = _enc(profile)
    except TypeError:
        return profile
    # Kept only if nothing was staged while it was computed (else the next run computes again).
    if store.staged_generation() == generation:
        store.set_meta(META_KEY, json.dumps({"key": key, "generation": generation,
                                             "profile": body}))
    return profile
