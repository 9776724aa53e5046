"""RecentReadings (with the rows of the batch itself) against a plain dictionary model,
across table growth, pruning and a save/load round trip."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.memory import COLUMNS, INT64_MIN, RecentReadings


class Model:
    """Every remembered (key, ident, ts), in dictionaries; rows checked one at a time."""

    def __init__(self) -> None:
        self.idents: dict[int, set[int]] = {}
        self.newest: dict[int, int] = {}

    def check(
        self, key: list[int], ident: list[int], ts: list[int], eligible: list[bool]
    ) -> tuple[list[bool], list[int]]:
        seen, newest = [], []
        for k, i, t, e in zip(key, ident, ts, eligible, strict=True):
            seen.append(e and i in self.idents.get(k, ()))
            newest.append(self.newest.get(k, INT64_MIN))
            if e:
                self.idents.setdefault(k, set()).add(i)
                self.newest[k] = max(self.newest.get(k, INT64_MIN), t)
        return seen, newest


def check(
    memory: RecentReadings,
    key: NDArray[np.int64],
    ident: NDArray[np.int64],
    ts: NDArray[np.int64],
    eligible: NDArray[np.bool_],
) -> tuple[list[bool], list[int]]:
    n = key.shape[0]
    series = np.zeros(n, np.int64)
    seen, newest = memory.check(key, ident, ts, series, np.ones(n, np.bool_), eligible)
    return seen.tolist(), newest.tolist()


def test_checks_match_the_model_as_the_memory_grows() -> None:
    rng = np.random.default_rng(7)
    memory, model = RecentReadings(), Model()
    remembered = np.zeros(0, np.int64)
    for batch in range(12):
        n = 8000  # twelve batches: past the table's first size (32 768 entries at half load)
        fresh = rng.integers(INT64_MIN, 2**63 - 1, size=n, dtype=np.int64)
        fresh[:50] = fresh[50:100]  # repeats inside the batch
        again = rng.choice(remembered, n // 4) if remembered.shape[0] else fresh[: n // 4]
        key = np.concatenate([fresh, again])
        ident = np.where(rng.random(key.shape[0]) < 0.5, key, key ^ 1)  # half exact repeats
        ts = ident >> 24  # an ident is a reading: the same one, the same ts
        eligible = np.asarray(rng.random(key.shape[0]) < 0.9, np.bool_)
        want = model.check(key.tolist(), ident.tolist(), ts.tolist(), eligible.tolist())
        assert check(memory, key, ident, ts, eligible) == want, batch
        remembered = np.concatenate([remembered, fresh])
    probe = np.concatenate([remembered[::7], rng.integers(0, 2**62, size=5000, dtype=np.int64)])
    ts = np.zeros(probe.shape[0], np.int64)
    never = np.zeros(probe.shape[0], np.bool_)  # not eligible: looked up, not remembered
    expected = model.check(probe.tolist(), probe.tolist(), ts.tolist(), never.tolist())
    saved = RecentReadings()
    saved.load(memory.to_arrays("m_"), "m_")
    assert check(memory, probe, probe, ts, never) == expected
    assert check(saved, probe, probe, ts, never) == expected


def test_a_checkpoint_of_the_column_layout_of_earlier_versions_still_loads() -> None:
    memory = RecentReadings()
    key = np.array([5, -3, 9, 5], np.int64)
    ident = key + np.array([0, 0, 0, 1])
    yes = np.ones(4, np.bool_)
    memory.check(key, ident, np.arange(4), np.arange(4), yes, yes)
    entries = memory.to_arrays("m_")["m_entries"]
    order = np.argsort(entries[:, 0], kind="stable")  # earlier versions: sorted columns
    old = {f"m_{c}": entries[order, i].copy() for i, c in enumerate(COLUMNS)}
    old["m_pruned"] = np.array([0], np.int64)
    saved = RecentReadings()
    saved.load(old, "m_")
    found = check(saved, key, ident, np.arange(4), yes)
    assert found == check(memory, key, ident, np.arange(4), yes)
    assert found[0] == [True] * 4


def test_pruned_entries_are_forgotten_and_kept_ones_still_found() -> None:
    memory = RecentReadings()
    n = 20_000
    key = np.arange(n, dtype=np.int64) * 7919
    ts = np.arange(n, dtype=np.int64)
    yes = np.ones(n, np.bool_)
    memory.check(key, key, ts, np.zeros(n, np.int64), yes, yes)
    memory.prune(np.array([n // 2], np.int64))  # series 0 keeps ts >= n/2
    assert len(memory) == n // 2
    found, newest = check(memory, key, key, ts, np.zeros(n, np.bool_))
    assert found == [False] * n  # (only eligible rows count as seen)
    assert newest == [t if t >= n // 2 else INT64_MIN for t in range(n)]


def test_a_pruned_index_keeps_its_size_and_is_rebuilt_only_when_entries_go() -> None:
    """Pruning keeps the index's size (the entries grow back), rebuilds it only when an
    entry was forgotten, and shrinks it when it is far larger than the entries need."""
    memory = RecentReadings()
    n = 100_000
    key = np.arange(n, dtype=np.int64) * 7919
    yes = np.ones(n, np.bool_)
    memory.check(key, key, np.arange(n, dtype=np.int64), np.zeros(n, np.int64), yes, yes)
    size = memory._index.shape[0]
    assert size >= 2 * n
    rebuilt: list[int] = []
    reindex = memory._reindex

    def counted(size: int) -> None:
        rebuilt.append(size)
        reindex(size)

    memory._reindex = counted  # type: ignore[method-assign]
    memory.prune(np.array([0], np.int64))  # nothing older than the horizon
    assert rebuilt == [] and len(memory) == n
    memory.prune(np.array([n // 2], np.int64), force=True)  # half forgotten
    assert rebuilt == [size] and memory._index.shape[0] == size and len(memory) == n // 2
    _, newest = check(memory, key, key, np.arange(n, dtype=np.int64), np.zeros(n, np.bool_))
    assert newest == [i if i >= n // 2 else INT64_MIN for i in range(n)]
    memory.prune(np.array([n - 10], np.int64), force=True)  # ten left: a small index
    assert memory._index.shape[0] < size and len(memory) == 10
