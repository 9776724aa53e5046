"""Leave-one-category-out cross-validation of the detector on NAB (standard profile).

The protocol cannot flatter itself: for each category, the detector configuration and
the score threshold are chosen on the *other* categories only (best total raw NAB score
there), and the held-out category is scored with that choice. Every candidate
configuration is run once over all files (its per-row scores do not depend on the
fold); each fold then only selects among them, so a fold never sees its own files'
labels. ``artificialNoAnomaly`` (no windows: false positives only) is a fold like the
others. The cross-validated total is the sum of the held-out raw scores, normalised
over all windows. The shipped defaults are the same selection made on all files.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from bench.nab_scoring.corpus import DataFile
from bench.nab_scoring.detectors import pantau_scores
from bench.nab_scoring.scoring import (
    STANDARD,
    LabelledFile,
    file_score,
    normalised,
    optimise_threshold,
)
from ingest.pipeline.config import DetectorConfig


@dataclass(frozen=True)
class Candidate:
    name: str
    config: DetectorConfig


@dataclass(frozen=True)
class CandidateRun:
    """One candidate's choice per training set: ``fits[fold] = (threshold, train raw)``,
    and the raw score of every file at each fold's threshold."""

    candidate: Candidate
    fits: dict[str, tuple[float, float]]
    held_out: dict[str, float]  # fold -> raw score of the held-out category at its threshold
    all_files: tuple[float, float]  # (threshold, raw) chosen on every file


@dataclass(frozen=True)
class FoldResult:
    category: str
    files: int
    windows: int
    candidate: str
    threshold: float
    train_raw: float
    raw: float  # held-out raw score

    @property
    def normalised(self) -> float | None:
        if self.windows == 0:
            return None
        return normalised(self.raw, self.windows, STANDARD)


def categories_of(data: Sequence[DataFile]) -> list[str]:
    return sorted({d.name.split("/")[0] for d in data})


def candidate_grid(base: DetectorConfig | None = None) -> list[Candidate]:
    """The fixed candidate list every fold chooses from: the base configuration, each
    parameter varied on its own, and pairs of the parameters that interact most."""
    b = base or DetectorConfig()
    out = [Candidate("base", b)]
    single: dict[str, tuple[float | int, ...]] = {
        "alpha": (0.002, 0.01, 0.02),
        "alpha_short": (0.15, 0.5, 1.0),
        "alpha_tail": (0.0005, 0.002, 0.005),
        "cooldown": (50, 200, 400),
        "cooldown_factor": (0.2, 0.6, 1.0),
        "activity_weight": (0.0, 1.0, 2.0),
        "season_weight": (0.0, 0.6, 1.5),
        "novelty_ratio": (0.0, 1.0, 1.2, 1.7),
        "novelty_decay": (0.999, 0.9995, 0.99995),
        "tail_floor": (0.02, 0.1, 0.2),
        "scale_floor": (0.001, 0.03),
    }
    for name, values in single.items():
        for v in values:
            out.append(Candidate(f"{name}={v:g}", replace(b, **{name: v})))
    pairs = (
        ("novelty_ratio", (1.0, 1.2, 1.7), "novelty_decay", (0.9995, 0.99995)),
        ("cooldown", (200, 400), "cooldown_factor", (0.2, 0.6)),
        ("alpha_short", (0.15, 0.5), "alpha_tail", (0.0005, 0.002)),
    )
    for n1, v1, n2, v2 in pairs:
        for a, c in itertools.product(v1, v2):
            out.append(Candidate(f"{n1}={a:g},{n2}={c:g}", replace(b, **{n1: a, n2: c})))
    return out


def run_candidate(
    candidate: Candidate,
    data: Sequence[DataFile],
    files: Sequence[LabelledFile],
    ts: Sequence[NDArray[np.int64]],
) -> CandidateRun:
    scores = pantau_scores([d.values for d in data], ts, candidate.config)
    cats = [d.name.split("/")[0] for d in data]
    fits: dict[str, tuple[float, float]] = {}
    held: dict[str, float] = {}
    for fold in sorted(set(cats)):
        train = [i for i, c in enumerate(cats) if c != fold]
        test = [i for i, c in enumerate(cats) if c == fold]
        thr, raw = optimise_threshold([files[i] for i in train], [scores[i] for i in train], STANDARD)
        fits[fold] = (thr, raw)
        held[fold] = sum(file_score(files[i], scores[i], thr, STANDARD) for i in test)
    all_fit = optimise_threshold(files, scores, STANDARD)
    return CandidateRun(candidate, fits, held, all_fit)


def cross_validate(
    runs: Sequence[CandidateRun], data: Sequence[DataFile], files: Sequence[LabelledFile]
) -> list[FoldResult]:
    """Each fold takes the candidate (and its threshold) best on the other categories."""
    cats = [d.name.split("/")[0] for d in data]
    results = []
    for fold in sorted(set(cats)):
        best = max(runs, key=lambda r: r.fits[fold][1])
        idx = [i for i, c in enumerate(cats) if c == fold]
        results.append(
            FoldResult(
                category=fold,
                files=len(idx),
                windows=sum(len(files[i].windows) for i in idx),
                candidate=best.candidate.name,
                threshold=best.fits[fold][0],
                train_raw=best.fits[fold][1],
                raw=best.held_out[fold],
            )
        )
    return results


def chosen_on_all(runs: Sequence[CandidateRun]) -> CandidateRun:
    """The shipped choice: the same selection made on every file."""
    return max(runs, key=lambda r: r.all_files[1])
