"""``python -m bench.nab --cv``: run the cross-validation protocol (:mod:`bench.nab_scoring.cv`),
print the held-out score of each category next to Numenta HTM's and ARTime's (from
``REFERENCE.md``), the shipped choice and its (tuned-on, labelled so) scores, and save it all.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.nab_scoring.corpus import read_folder, read_windows
from bench.nab_scoring.cv import (
    REFINE,
    CandidateRun,
    Runner,
    candidate_grid,
    chosen_on_all,
    cross_validate,
)
from bench.nab_scoring.scoring import STANDARD, label_file, normalised
from ingest.pipeline import PipelineConfig

TOTAL = "total"


def reference_scores(path: Path) -> dict[str, tuple[float, float]]:
    """Numenta HTM's and ARTime's normalised score per category from REFERENCE.md's table
    (the row "all of the above ..." becomes :data:`TOTAL`)."""
    if not path.exists():
        return {}
    out: dict[str, tuple[float, float]] = {}
    row = re.compile(r"^\|\s*([^|]+?)\s*\|\s*\d+\s*\|\s*([-\d.]+)\s*\|\s*([-\d.]+)\s*\|\s*$")
    for line in path.read_text().splitlines():
        m = row.match(line)
        if m:
            name = TOTAL if m.group(1).startswith("all of the above") else m.group(1)
            out[name] = (float(m.group(2)), float(m.group(3)))
    return out


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def run_cv(data_dir: Path, labels: Path, reference: Path, out: Path) -> dict[str, Any]:
    data = read_folder(data_dir)
    if not data:
        raise SystemExit(f"no <category>/<file>.csv files under {data_dir}")
    files = [label_file(d.name, d.values.shape[0], read_windows(labels, d), STANDARD) for d in data]
    ts = [d.ts_ns for d in data]
    candidates = candidate_grid()
    started = time.process_time()
    t_wall = time.monotonic()
    runner = Runner(data, files, ts)
    runs: list[CandidateRun] = []
    for k, c in enumerate(candidates):
        runs.append(runner.run(c))
        print(f"\r  candidate {k + 1}/{len(candidates)}", end="", flush=True)
    print("; refining each fold's choice on its training categories", flush=True)
    folds = cross_validate(runs, data, files, runner)
    shipped = chosen_on_all(runs, runner)
    refined = list(runner.runs.values())[len(runs) :]
    ref = reference_scores(reference)
    n_windows = sum(f.windows for f in folds)
    cv_raw = sum(f.raw for f in folds)
    cv_total = normalised(cv_raw, n_windows, STANDARD)
    cats = [d.name.split("/")[0] for d in data]

    def in_sample(category: str | None) -> float | None:
        idx = [i for i, c in enumerate(cats) if category is None or c == category]
        w = sum(len(files[i].windows) for i in idx)
        if w == 0:
            return None
        # the shipped candidate's raw per category at its all-files threshold
        raw = shipped.in_sample[category] if category is not None else shipped.all_files[1]
        return normalised(raw, w, STANDARD)

    print(
        f"\nNAB standard profile, {len(data)} files, {n_windows} windows: leave-one-category-out"
        f" cross-validation over {len(candidates)} candidate configurations, each fold's"
        f" choice then refined ({', '.join(REFINE)}; {len(refined)} more configurations run)"
    )
    print("held out = scored with the configuration and threshold chosen on the other")
    print("categories only; 'tuned-on' = the shipped choice, made on every file (in-sample)")
    head = (
        f"  {'category':22} {'files':>5} {'windows':>7} {'held out':>9} {'Numenta':>8}"
        f" {'ARTime':>7} {'tuned-on':>9}  {'threshold':>9}  chosen on the other categories"
    )
    print(head)
    for f in folds:
        num, art = ref.get(f.category, (None, None))
        print(
            f"  {f.category:22} {f.files:>5} {f.windows:>7} {_fmt(f.normalised):>9}"
            f" {_fmt(num):>8} {_fmt(art):>7} {_fmt(in_sample(f.category)):>9}"
            f"  {f.threshold:>9.3f}  {f.candidate}"
        )
        if f.windows == 0:
            print(f"  {'':22} {'':>5} {'':>7} raw {f.raw:+.2f} (false positives only)")
    num, art = ref.get(TOTAL, (None, None))
    print(
        f"  {'TOTAL (cross-validated)':22} {len(data):>5} {n_windows:>7} {cv_total:>9.2f}"
        f" {_fmt(num):>8} {_fmt(art):>7} {_fmt(in_sample(None)):>9}"
    )
    start_only = cross_validate(runs[:1], data, files)  # no refinement: the start as it is
    start_cv = normalised(sum(f.raw for f in start_only), n_windows, STANDARD)
    print(
        f"  {'(start alone)':22} {'':>5} {'':>7} {start_cv:>9.1f}   the candidate grid's start,"
        " only its threshold chosen per fold"
    )
    print(
        f"\nshipped (chosen on all files): {shipped.candidate.name} at threshold"
        f" {shipped.all_files[0]:.3f}; its all-files score {_fmt(in_sample(None))} is tuned-on."
    )
    default_cfg = PipelineConfig()
    matches = (
        default_cfg.detector == shipped.candidate.config
        and abs(default_cfg.anomaly_threshold - shipped.all_files[0]) < 1e-9
    )
    print(
        "PipelineConfig() defaults "
        + ("are this choice." if matches else "DIFFER from this choice: update them.")
    )
    print(f"CPU time {time.process_time() - started:.0f} s, wall {time.monotonic() - t_wall:.0f} s")
    result: dict[str, Any] = {
        "profile": "standard",
        "protocol": "leave-one-category-out; configuration and threshold chosen on the other"
        " categories (best total raw NAB score there), held-out category scored at that choice",
        "data": str(data_dir),
        "files": len(data),
        "windows": n_windows,
        "candidates": len(candidates),
        "refined": {"parameters": REFINE, "configurations_run": len(refined)},
        "cross_validated": {
            "total_normalised": cv_total,
            "total_raw": cv_raw,
            "folds": [{**asdict(f), "normalised": f.normalised} for f in folds],
        },
        "reference": {k: {"numenta": v[0], "artime": v[1]} for k, v in ref.items()},
        "shipped": {
            "candidate": shipped.candidate.name,
            "threshold": shipped.all_files[0],
            "detector_config": asdict(shipped.candidate.config),
            "tuned_on_total_normalised": in_sample(None),
            "tuned_on_per_category": {c: in_sample(c) for c in sorted(set(cats))},
        },
        "start_alone_cross_validated": start_cv,
        "per_candidate": [
            {
                "candidate": r.candidate.name,
                "sense_failures": list(r.sense),
                "all_files": {"threshold": r.all_files[0], "raw": r.all_files[1]},
                "train": {c: {"threshold": t, "raw": v} for c, (t, v) in r.fits.items()},
                "held_out_raw": r.held_out,
            }
            for r in [*runs, *refined]
        ],
        "defaults_match_shipped": matches,
        "cpu_s": time.process_time() - started,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return result
