"""RecentReadings against a plain dictionary model, across key-filter growth, merges,
pruning and a save/load round trip."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.memory import INT64_MIN, RecentReadings


class Model:
    """Every remembered (key, ident, ts), in dictionaries."""

    def __init__(self) -> None:
        self.idents: dict[int, set[int]] = {}
        self.newest: dict[int, int] = {}

    def add(self, key: list[int], ident: list[int], ts: list[int]) -> None:
        for k, i, t in zip(key, ident, ts, strict=True):
            self.idents.setdefault(k, set()).add(i)
            self.newest[k] = max(self.newest.get(k, INT64_MIN), t)

    def lookup(self, key: list[int], ident: list[int]) -> tuple[list[bool], list[int]]:
        found = [i in self.idents.get(k, ()) for k, i in zip(key, ident, strict=True)]
        return found, [self.newest.get(k, INT64_MIN) for k in key]


def lookup(
    memory: RecentReadings, key: NDArray[np.int64], ident: NDArray[np.int64]
) -> tuple[list[bool], list[int]]:
    seq_rows = np.ones(key.shape[0], np.bool_)
    found, seq_ts = memory.lookup(key, ident, seq_rows, np.argsort(key))
    return found.tolist(), seq_ts.tolist()


def test_lookups_match_the_model_as_the_memory_grows() -> None:
    rng = np.random.default_rng(7)
    memory, model = RecentReadings(), Model()
    remembered = np.zeros(0, np.int64)
    for batch in range(12):
        n = 6000  # twelve batches: past the filter's first size (16 384 entries)
        fresh = rng.integers(INT64_MIN, 2**63 - 1, size=n, dtype=np.int64)
        again = rng.choice(remembered, n // 4) if remembered.shape[0] else fresh[: n // 4]
        key = np.concatenate([fresh, again])
        ident = np.where(rng.random(key.shape[0]) < 0.5, key, key ^ 1)  # half exact repeats
        ts = rng.permutation(key.shape[0]).astype(np.int64) * 1000 + batch
        assert lookup(memory, key, ident) == model.lookup(key.tolist(), ident.tolist()), batch
        order = np.argsort(key)
        memory.add(key, ident, ts, np.zeros(key.shape[0], np.int64), order)
        model.add(key.tolist(), ident.tolist(), ts.tolist())
        remembered = np.concatenate([remembered, fresh])
    probe = np.concatenate([remembered[::7], rng.integers(0, 2**62, size=5000, dtype=np.int64)])
    expected = model.lookup(probe.tolist(), probe.tolist())
    assert lookup(memory, probe, probe) == expected
    saved = RecentReadings()
    saved.load(memory.to_arrays("m_"), "m_")
    assert lookup(saved, probe, probe) == expected


def test_pruned_entries_are_forgotten_and_kept_ones_still_found() -> None:
    memory = RecentReadings()
    n = 20_000
    key = np.arange(n, dtype=np.int64) * 7919
    ts = np.arange(n, dtype=np.int64)
    series = np.zeros(n, np.int64)
    memory.add(key, key, ts, series, np.argsort(key))
    memory.prune(np.array([n // 2], np.int64))  # series 0 keeps ts >= n/2
    found, newest = lookup(memory, key, key)
    assert found == [t >= n // 2 for t in range(n)]
    assert newest == [t if t >= n // 2 else INT64_MIN for t in range(n)]
