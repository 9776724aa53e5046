"""The NAB tuning protocol: the vectorised threshold optimiser, the fold selection (a fold
never chooses by its own files), the shipped defaults, and the results layout."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from bench.nab_scoring.corpus import DataFile
from bench.nab_scoring.cv import (
    REFINE,
    THRESHOLDS,
    Candidate,
    CandidateRun,
    candidate_grid,
    chosen_on_all,
    cross_validate,
    on_threshold_grid,
    refine,
    run_candidate,
)
from bench.nab_scoring.cv_report import TOTAL, reference_scores
from bench.nab_scoring.scoring import (
    STANDARD,
    Detections,
    LabelledFile,
    detections,
    label_file,
    optimise_threshold,
)
from bench.nab_scoring.sense import failures
from ingest.pipeline.config import DetectorConfig, PipelineConfig

ROOT = Path(__file__).resolve().parents[2]


def slow_optimum(
    files: list[LabelledFile], scores: list[NDArray[np.float64]]
) -> tuple[float, float]:
    """NAB's optimise step written plainly: every distinct score tried as the threshold."""
    pairs = zip(scores, files, strict=True)
    candidates = sorted({float(v) for s, f in pairs for v in s[f.probation :]})
    best_t, best = 1.1, -STANDARD.fn * sum(len(f.windows) for f in files)
    for t in sorted(candidates, reverse=True):
        total = 0.0
        for f, s in zip(files, scores, strict=True):
            det = s >= t
            det[: f.probation] = False
            for w in range(len(f.windows)):
                hits = det & (f.window_of == w)
                total += float(f.sweep[hits].max()) if hits.any() else -STANDARD.fn
            total += float(f.sweep[det & (f.window_of < 0)].sum())
        if total > best + 1e-12:
            best_t, best = t, total
    return best_t, best


def test_vectorised_optimiser_matches_the_plain_one() -> None:
    rng = np.random.default_rng(4)
    for _ in range(30):
        files: list[LabelledFile] = []
        scores: list[NDArray[np.float64]] = []
        for _ in range(int(rng.integers(1, 4))):
            n = int(rng.integers(60, 300))
            wins, pos = [], int(0.2 * n)
            for _ in range(int(rng.integers(0, 3))):
                a = pos + int(rng.integers(0, 20))
                b = a + int(rng.integers(1, 15))
                if b >= n:
                    break
                wins.append((a, b))
                pos = b + 2
            files.append(label_file("f", n, wins, STANDARD))
            scores.append(np.round(rng.random(n), 2))
        got = optimise_threshold(files, scores, STANDARD)
        want = slow_optimum(files, scores)
        assert got[0] == pytest.approx(want[0]) and got[1] == pytest.approx(want[1])


def test_threshold_grid_keeps_every_grid_decision() -> None:
    s = np.array([0.0, 0.004, 0.005, 0.8999999, 0.9, 0.9049, 1.0])
    q = on_threshold_grid(s)
    for t in THRESHOLDS:
        assert np.array_equal(q >= t, s >= t)


def _run(
    name: str, fits: dict[str, float], held: dict[str, float], sense: tuple[str, ...] = ()
) -> CandidateRun:
    return CandidateRun(
        Candidate(name, DetectorConfig()),
        {c: (0.9, v) for c, v in fits.items()},
        held,
        (0.9, sum(fits.values())),
        {},
        sense,
    )


def test_a_fold_chooses_by_the_other_categories_only() -> None:
    data = [
        DataFile("a/x.csv", ("2020-01-01 00:00:00",), np.zeros(1)),
        DataFile("b/y.csv", ("2020-01-01 00:00:00",), np.zeros(1)),
    ]
    files = [label_file(d.name, 1, [], STANDARD) for d in data]
    # "fit_a" is best when trained without a (its score on a is irrelevant to fold a)
    runs = [
        _run("good_on_b", {"a": 1.0, "b": 5.0}, {"a": -3.0, "b": 9.0}),
        _run("good_on_a", {"a": 4.0, "b": 2.0}, {"a": 7.0, "b": -1.0}),
        _run("senseless", {"a": 99.0, "b": 99.0}, {"a": 99.0, "b": 99.0}, ("stuck",)),
    ]
    folds = {f.category: f for f in cross_validate(runs, data, files)}
    assert folds["a"].candidate == "good_on_a" and folds["a"].raw == 7.0
    assert folds["b"].candidate == "good_on_b" and folds["b"].raw == 9.0
    assert chosen_on_all(runs).candidate.name == "good_on_b"  # 6.0 against 6.0: first


def test_no_threshold_above_the_cooldown_level() -> None:
    """A score that starts a cooldown is an alarm: folds choose thresholds at or below it."""
    rng = np.random.default_rng(3)
    data, files = [], []
    for cat in ("a", "b"):
        values = 10.0 + rng.normal(0.0, 1.0, 1200)
        values[900] += 40.0
        stamps = tuple(f"2020-01-{1 + i // 288:02d} 00:00:00" for i in range(1200))
        data.append(DataFile(f"{cat}/x.csv", stamps, values))
        files.append(label_file(f"{cat}/x.csv", 1200, [(880, 960)], STANDARD))
    ts = [np.arange(1200, dtype=np.int64) * 300_000_000_000 for _ in data]
    cfg = replace(DetectorConfig(), cooldown_level=0.5)
    run = run_candidate(Candidate("low cooldown level", cfg), data, files, ts)
    chosen = [t for t, _ in run.fits.values()] + [run.all_files[0]]
    assert all(t <= 0.5 or t == 1.1 for t in chosen), run  # 1.1: detect nothing
    assert 0.5 in chosen, run


def test_shipped_defaults_are_the_protocols_choice() -> None:
    saved = json.loads((ROOT / "bench" / "results" / "nab_cv.json").read_text())
    assert saved["shipped"]["detector_config"] == asdict(DetectorConfig())
    assert saved["shipped"]["threshold"] == pytest.approx(PipelineConfig().anomaly_threshold)
    assert failures(DetectorConfig(), PipelineConfig().anomaly_threshold) == []


def test_reference_table_is_read() -> None:
    ref = reference_scores(ROOT / "bench" / "data" / "nab" / "REFERENCE.md")
    assert ref["realTweets"] == (68.0, 81.8)
    assert ref[TOTAL] == (73.0, 77.0)


def _nab_folder(root: Path, category: str) -> list[tuple[str, float]]:
    """A one-file NAB-layout data folder: 300 minutes of a repeating ramp."""
    data = root / "data" / category
    data.mkdir(parents=True)
    rows = [(f"2020-01-01 {i // 60:02d}:{i % 60:02d}:00", float(i % 7)) for i in range(300)]
    with (data / "f.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        w.writerows(rows)
    return rows


def _read_pantau_scores(out: Path, category: str) -> list[dict[str, str]]:
    with (out / "pantau" / category / "pantau_f.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_any_nab_folder_gets_per_row_scores_in_nab_layout(tmp_path: Path) -> None:
    rows = _nab_folder(tmp_path, "mycat")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"mycat/f.csv": [[rows[200][0], rows[220][0]]]}))
    out = tmp_path / "out"
    subprocess.run(
        [sys.executable, "-m", "bench.nab", "--data", str(tmp_path / "data"), "--labels",
         str(labels), "--out", str(out)],
        cwd=ROOT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    got = _read_pantau_scores(out, "mycat")
    assert len(got) == 300 and set(got[0]) == {"timestamp", "value", "anomaly_score"}
    assert all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in got)
    assert (out / "nab.json").exists()


def test_a_folder_without_labels_still_gets_its_scores(tmp_path: Path) -> None:
    """bench/nab.py's docstring: a category no label file knows (an outside scorer's unseen
    one) is scored all the same; it simply has no windows."""
    _nab_folder(tmp_path, "unseenCategory")
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "bench.nab", "--data", str(tmp_path / "data"), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    got = _read_pantau_scores(out, "unseenCategory")
    assert len(got) == 300 and all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in got)
    assert json.loads((out / "nab.json").read_text())


def test_the_candidate_list_holds_each_configuration_once() -> None:
    """docs/anomaly.md: 32 candidates, none twice (a combination two groups share is kept
    once), and the shipped defaults are one of them."""
    grid = candidate_grid()
    configs = [c.config for c in grid]
    assert len(grid) == 32 and len(set(configs)) == len(configs)
    # the shipped defaults: a grid candidate with only the refined parameters moved
    shipped = PipelineConfig().detector
    assert any(replace(c, **{n: getattr(shipped, n) for n in REFINE}) == shipped for c in configs)


def _by_bar(fits: dict[float, dict[str, float]], held: dict[str, float]) -> Callable[
    [DetectorConfig], CandidateRun
]:  # fmt: skip
    """An evaluate() whose training totals per fold depend on bar_base as ``fits`` says
    (unlisted values: -100) and whose held-out scores are ``held`` whatever the config."""

    def evaluate(cfg: DetectorConfig) -> CandidateRun:
        f = fits.get(cfg.bar_base, {"a": -100.0, "b": -100.0})
        sense = ("stuck",) if cfg.bar_base == 9.0 else ()
        return CandidateRun(
            Candidate(f"bar {cfg.bar_base}", cfg),
            {c: (0.9, v) for c, v in f.items()},
            held,
            (0.9, sum(f.values())),
            {},
            sense,
        )

    return evaluate


def test_the_refinement_climbs_the_training_score_only() -> None:
    """docs/anomaly.md: each fold's choice is refined by steps of 0.25 then 0.125 while its
    *training* total rises; held-out scores never steer it, and a configuration that fails
    the sense checks is never taken."""
    fits = {
        3.5: {"a": 1.0, "b": 1.0},
        3.25: {"a": 2.0, "b": 0.5},  # better for fold a (its training total)
        3.0: {"a": 3.0, "b": 0.0},
        2.75: {"a": 2.5, "b": 0.0},
        2.875: {"a": 3.5, "b": 0.0},  # found at the half step
        3.75: {"a": 0.0, "b": 2.0},  # better for fold b
        4.0: {"a": 0.0, "b": 1.5},
        3.625: {"a": 0.0, "b": 1.9},
        3.875: {"a": 0.0, "b": 2.5},
    }
    evaluate = _by_bar(fits, {"a": 0.0, "b": 0.0})
    start = evaluate(replace(DetectorConfig(), bar_base=3.5))
    fold_a = refine(start, lambda r: r.fits["a"][1], evaluate)
    assert fold_a.candidate.config.bar_base == 2.875
    assert fold_a.candidate.name == "bar 3.5 -> bar_base=2.875"
    fold_b = refine(start, lambda r: r.fits["b"][1], evaluate)
    assert fold_b.candidate.config.bar_base == 3.875
    # nothing better: the choice as it was
    assert refine(evaluate(replace(start.candidate.config, bar_base=3.875)),
                  lambda r: r.fits["b"][1], evaluate).candidate.name == "bar 3.875"  # fmt: skip
    # a senseless configuration is not taken however well it trains
    fits9 = {8.75: {"a": 0.0, "b": 1.0}, 9.0: {"a": 0.0, "b": 50.0}}
    evaluate9 = _by_bar(fits9, {"a": 0.0, "b": 0.0})
    top = refine(evaluate9(replace(DetectorConfig(), bar_base=8.75)), lambda r: r.fits["b"][1],
                 evaluate9)  # fmt: skip
    assert top.candidate.config.bar_base == 8.75


def test_folds_refine_on_their_training_categories() -> None:
    data = [
        DataFile("a/x.csv", ("2020-01-01 00:00:00",), np.zeros(1)),
        DataFile("b/y.csv", ("2020-01-01 00:00:00",), np.zeros(1)),
    ]
    files = [label_file(d.name, 1, [], STANDARD) for d in data]
    fits = {3.5: {"a": 1.0, "b": 1.0}, 3.25: {"a": 2.0, "b": 0.0}, 3.75: {"a": 0.0, "b": 3.0}}
    # held-out scores that would reward the opposite moves
    evaluate = _by_bar(fits, {"a": 5.0, "b": 5.0})
    start = evaluate(replace(DetectorConfig(), bar_base=3.5))
    folds = {f.category: f for f in cross_validate([start], data, files, evaluate)}
    # fits[v][fold]: fold's training total (its other categories) at bar_base v
    assert folds["a"].candidate == "bar 3.5 -> bar_base=3.25"
    assert folds["b"].candidate == "bar 3.5 -> bar_base=3.75"
    assert chosen_on_all([start], evaluate).candidate.config.bar_base == 3.75  # 3.0 > 2.0


SAVED_CV = ROOT / "bench" / "results" / "nab_cv.json"


def test_the_protocol_reproduces_the_saved_figures(tmp_path: Path) -> None:
    """``python -m bench.nab --cv`` as a user runs it gives bench/results/nab_cv.json's
    figures and choices again (so the saved file, and the docs that quote it, cannot go
    stale when the detector or the protocol changes), and PipelineConfig's defaults are
    its shipped choice."""
    out = tmp_path / "nab_cv.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.nab", "--cv", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    got, saved = json.loads(out.read_text()), json.loads(SAVED_CV.read_text())
    for key in ("cross_validated", "shipped", "refined", "candidates"):
        assert got[key] == saved[key], key
    assert got["defaults_match_shipped"] is True
    assert "PipelineConfig() defaults are this choice." in run.stdout


def test_the_docs_quote_the_saved_cross_validated_figures() -> None:
    """README's performance table and docs/anomaly.md's result table quote
    bench/results/nab_cv.json: the total to two decimals, each category's held-out and
    tuned-on figure to one, and the refinement it names."""
    saved = json.loads(SAVED_CV.read_text())
    total = f"{saved['cross_validated']['total_normalised']:.2f}"
    tuned_on = f"{saved['shipped']['tuned_on_total_normalised']:.1f}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    anomaly = (ROOT / "docs" / "anomaly.md").read_text(encoding="utf-8")
    assert (
        f"| {total} (Numenta HTM 73.0, ARTime 77.0, both tuned on these files); {tuned_on}"
        in readme
    )
    assert f"| **all, cross-validated** | 97 | **{total}** | 73.0 | 77.0 | {tuned_on} |" in anomaly
    for fold in saved["cross_validated"]["folds"]:
        if fold["normalised"] is None:  # artificialNoAnomaly: false positives only
            continue
        cat = fold["category"]
        held = f"{fold['normalised']:.1f}"
        tuned = f"{saved['shipped']['tuned_on_per_category'][cat]:.1f}"
        row = next(line for line in anomaly.splitlines() if line.startswith(f"| {cat} | "))
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert (cells[1], cells[2], cells[5]) == (str(fold["windows"]), held, tuned), row
    # bench.nab without --cv: the shipped detector at the ingest threshold, on all files
    plain = json.loads((ROOT / "bench" / "results" / "nab.json").read_text())
    at_ingest = plain["subsets"]["all files"]["pantau @ ingest threshold"]["normalised"]
    assert at_ingest == pytest.approx(saved["shipped"]["tuned_on_total_normalised"])
    assert f"({tuned_on} at the ingest threshold 0.9)" in anomaly
    assert saved["refined"]["parameters"] == REFINE == {"bar_base": 0.25}


def test_the_docs_gap_table_quotes_what_bench_nab_counts() -> None:
    """docs/anomaly.md's gap table (held-out raw, windows missed, false alarms per
    category) and its per-tweet-file false alarms are the figures of nab_cv.json and of
    ``python -m bench.nab`` (nab.json)."""
    saved = json.loads(SAVED_CV.read_text())
    plain = json.loads((ROOT / "bench" / "results" / "nab.json").read_text())
    anomaly = (ROOT / "docs" / "anomaly.md").read_text(encoding="utf-8")
    table = anomaly[anomaly.index("| category | held-out raw |") :].split("\n\n")[0]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert len(rows) == 5, table
    held = {f["category"]: f["raw"] for f in saved["cross_validated"]["folds"]}
    found = plain["per_file_detections_at_ingest_threshold"]
    for cat, row in rows.items():
        assert row.split("|")[2].strip() == f"{held[cat]:.2f}", row
        if cat == "artificialWithAnomaly":
            continue  # "above both reference detectors"
        at = plain["subsets"][cat]["pantau @ ingest threshold"]
        n_windows = sum(d["windows"] for name, d in found.items() if name.startswith(cat + "/"))
        assert f"{n_windows - at['windows_hit']} of {n_windows} windows missed" in row, row
        assert f"{at['false_alarms']} false alarms" in row, row
    tweets = [
        str(d["false_alarms"])
        for name, d in sorted(found.items())
        if name.startswith("realTweets/")
    ]
    assert f"IBM, KO, PFE, UPS): {'/'.join(tweets)} (at base 3.5" in anomaly


def test_detections_count_windows_hit_and_false_alarms() -> None:
    """A window counts once however many rows in it alarm; alarms outside every window
    are false alarms; nothing counts during NAB's probation (the first 15 % of rows)."""
    lf = label_file("c/f.csv", 1000, [(300, 340), (600, 640), (800, 840)], STANDARD)
    scores = np.zeros(1000)
    scores[[10, 310, 320, 330, 500, 501, 610]] = 1.0  # row 10: in probation
    assert detections(lf, scores, 0.9) == Detections(windows=3, hit=2, false_alarms=2)
    assert str(Detections.total([Detections(3, 2, 2), Detections(1, 0, 4)])) == (
        "  2/4   windows hit    6 false alarms"
    )
