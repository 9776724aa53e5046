"""The benchmark runner's summary (``python -m bench``): figures from results files, machine."""

from __future__ import annotations

import importlib
from pathlib import Path

bench = importlib.import_module("bench.__main__")
machine = importlib.import_module("bench.machine")


def test_headline_figures_are_picked_from_any_results_shape() -> None:
    document = {
        "machine": {"cores": 2},
        "args": {"messages_per_s": 1.0},
        "runs": {"pantau": {"messages_per_s": 775.1, "seconds": 25.8, "lost": 0}},
        "ratios": {"pantau_to_bare": 0.16},
        "sizes": [{"devices": 1000, "bytes_per_series": 3936.0}, {"devices": 10000}],
    }
    figures = bench.headline(document)
    assert figures == {
        "runs.pantau.messages_per_s": 775.1,
        "runs.pantau.lost": 0.0,
        "ratios.pantau_to_bare": 0.16,
        "sizes[1000].bytes_per_series": 3936.0,
    }


def test_summary_table_lists_every_bench_with_its_status() -> None:
    table = bench.summary_table(
        {
            "ingest": {"status": "ok", "seconds": 12.0, "figures": {"runs.x.messages_per_s": 1e4}},
            "api": {"status": "missing"},
        }
    )
    lines = table.splitlines()
    assert lines[0].split() == ["bench", "figure", "value"]
    assert any(line.startswith("ingest (ok, 12 s)") and "10,000" in line for line in lines)
    assert any(line.startswith("api (missing)") for line in lines)
    assert any(line.startswith("memory (skipped)") for line in lines)


def test_machine_info_names_cores_cpu_and_versions() -> None:
    info = machine.machine_info()
    assert info["cores"] >= 1 and info["cpu_model"]
    assert info["python"].count(".") == 2 and info["numpy"]
    assert info["date"].endswith("+00:00")


def test_a_partial_run_keeps_the_other_benches_of_the_last_summary() -> None:
    previous = {"ingest": {"status": "ok", "seconds": 200.0}, "fleet": {"status": "ok"}}
    current = {"influxgc": {"status": "ok", "seconds": 15.0}, "ingest": {"status": "failed"}}
    merged = bench.merged(previous, current)
    assert list(merged) == ["ingest", "fleet", "influxgc"]  # bench order
    assert merged["ingest"] == {"status": "failed"}  # this run's entry wins
    assert merged["fleet"] == {"status": "ok"}


def test_no_or_an_unreadable_last_summary_gives_no_entries(tmp_path: Path) -> None:
    assert bench.previous_benches(tmp_path / "summary.json") == {}
    (tmp_path / "summary.json").write_text("not json")
    assert bench.previous_benches(tmp_path / "summary.json") == {}
