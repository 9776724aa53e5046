"""The NAB scoring rules (see bench/data/nab/SCORING.md): per-row sweep values, file and
corpus raw scores at a threshold, corpus-wide threshold optimisation, normalisation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Profile:
    name: str
    tp: float
    fn: float
    fp: float


STANDARD = Profile("standard", tp=1.0, fn=1.0, fp=0.11)


def probation_rows(n_rows: int) -> int:
    return int(min(math.floor(0.15 * n_rows), 0.15 * 5000))


def scaled_sigmoid(y: float) -> float:
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


@dataclass(frozen=True)
class LabelledFile:
    """One data file's windows (row indices, inclusive) and per-row sweep values."""

    name: str
    n_rows: int
    windows: tuple[tuple[int, int], ...]
    sweep: NDArray[np.float64]  # value of a detection at each row
    window_of: NDArray[np.int64]  # window number per row, -1 outside
    probation: int


def label_file(
    name: str, n_rows: int, windows: Sequence[tuple[int, int]], profile: Profile
) -> LabelledFile:
    sweep = np.zeros(n_rows, np.float64)
    window_of = np.full(n_rows, -1, np.int64)
    s_minus_one = scaled_sigmoid(-1.0)
    prev_end = -1
    prev_width = 0
    wins = sorted(windows)
    w_idx = 0
    for i in range(n_rows):
        while w_idx < len(wins) and wins[w_idx][1] < i:
            prev_end = wins[w_idx][1]
            prev_width = wins[w_idx][1] - wins[w_idx][0] + 1
            w_idx += 1
        if w_idx < len(wins) and wins[w_idx][0] <= i <= wins[w_idx][1]:
            left, right = wins[w_idx]
            width = right - left + 1
            y = -(right - i + 1) / width
            sweep[i] = scaled_sigmoid(y) * profile.tp / s_minus_one
            window_of[i] = w_idx
        elif prev_end < 0:
            sweep[i] = -profile.fp
        else:
            y = abs(prev_end - i) / max(prev_width - 1, 1)
            sweep[i] = scaled_sigmoid(y) * profile.fp
    return LabelledFile(
        name=name,
        n_rows=n_rows,
        windows=tuple(wins),
        sweep=sweep,
        window_of=window_of,
        probation=probation_rows(n_rows),
    )


def _detected(lf: LabelledFile, scores: NDArray[np.float64], threshold: float) -> NDArray[np.bool_]:
    """The rows NAB counts as detections: ``score >= threshold`` after the probation."""
    detected = scores >= threshold
    detected[: lf.probation] = False
    return detected


@dataclass(frozen=True)
class Detections:
    """What a detector did in one file: windows hit (of ``windows``) and false alarms
    (detections outside every window)."""

    windows: int
    hit: int
    false_alarms: int

    @classmethod
    def total(cls, parts: Iterable[Detections]) -> Detections:
        parts = list(parts)
        return cls(*(sum(getattr(p, f.name) for p in parts) for f in fields(cls)))

    def __str__(self) -> str:
        return f"{self.hit:3}/{self.windows:<3} windows hit {self.false_alarms:4} false alarms"


def detections(lf: LabelledFile, scores: NDArray[np.float64], threshold: float) -> Detections:
    detected = _detected(lf, scores, threshold)
    hit = len(np.unique(lf.window_of[detected & (lf.window_of >= 0)]))
    return Detections(len(lf.windows), hit, int((detected & (lf.window_of < 0)).sum()))


def file_score(
    lf: LabelledFile, scores: NDArray[np.float64], threshold: float, profile: Profile
) -> float:
    """Raw NAB score of one file when a detection is ``score >= threshold``."""
    detected = _detected(lf, scores, threshold)
    total = 0.0
    for w in range(len(lf.windows)):
        hits = detected & (lf.window_of == w)
        total += float(lf.sweep[hits].max()) if hits.any() else -profile.fn
    fps = detected & (lf.window_of < 0)
    return total + float(lf.sweep[fps].sum())


def optimise_threshold(
    files: Sequence[LabelledFile], scores: Sequence[NDArray[np.float64]], profile: Profile
) -> tuple[float, float]:
    """Corpus threshold with the best total raw score: ``(threshold, raw_total)``.

    Every distinct score is a candidate (plus 1.1, "detect nothing"). Vectorised: rows
    sorted by score, highest first; each row adds what lowering the threshold to it
    adds (an FP's sweep value, or the rise of its window's best detection), and the
    running sum at the last row of each run of equal scores is the total there.
    """
    all_scores: list[NDArray[np.float64]] = []
    all_sweep: list[NDArray[np.float64]] = []
    all_window: list[NDArray[np.int64]] = []
    n_windows = 0
    for lf, sc in zip(files, scores, strict=True):
        p = lf.probation
        all_scores.append(np.asarray(sc[p:], np.float64))
        all_sweep.append(lf.sweep[p:])
        win = lf.window_of[p:].copy()
        win[win >= 0] += n_windows
        all_window.append(win)
        n_windows += len(lf.windows)
    start = -profile.fn * n_windows
    if not all_scores:
        return 1.1, start
    sc_all = np.concatenate(all_scores)
    if sc_all.shape[0] == 0:
        return 1.1, start
    order = np.argsort(-sc_all, kind="stable")
    sc_sorted = sc_all[order]
    sw_sorted = np.concatenate(all_sweep)[order]
    wi_sorted = np.concatenate(all_window)[order]
    gain = np.where(wi_sorted < 0, sw_sorted, 0.0)
    in_win = np.flatnonzero(wi_sorted >= 0)
    if in_win.shape[0]:
        # Within each window (rows in score order), the running best sweep value.
        w = wi_sorted[in_win]
        by_window = in_win[np.argsort(w, kind="stable")]
        wk = wi_sorted[by_window]
        # sweep values lie in (-1, 1]: offsetting window k by 4k keeps windows apart
        offset = 4.0 * wk
        best = np.maximum.accumulate(sw_sorted[by_window] + offset) - offset
        first = np.ones(by_window.shape[0], np.bool_)
        first[1:] = wk[1:] != wk[:-1]
        prev_best = np.empty_like(best)
        prev_best[0] = 0.0
        prev_best[1:] = best[:-1]
        gain[by_window] = np.where(first, profile.fn + best, best - prev_best)
    total = start + np.cumsum(gain)
    last = np.ones(sc_sorted.shape[0], np.bool_)
    last[:-1] = sc_sorted[1:] != sc_sorted[:-1]
    ends = np.flatnonzero(last)
    k = int(np.argmax(total[ends]))
    if total[ends[k]] > start:
        return float(sc_sorted[ends[k]]), float(total[ends[k]])
    return 1.1, start


def normalised(raw_total: float, n_windows: int, profile: Profile) -> float:
    """100 × (raw - null) / (perfect - null); null misses every window, perfect hits each."""
    null = -profile.fn * n_windows
    perfect = profile.tp * n_windows
    return 100.0 * (raw_total - null) / (perfect - null)
