"""The pipeline's configuration that operators need comes from settings into `pantau ingest`."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import PipelineConfig
from ingest.wiring import pipeline_config
from pantau.settings import load_settings


def test_defaults_without_settings() -> None:
    assert pipeline_config(load_settings()) == PipelineConfig()


def test_environment_sets_periods_qc_and_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANTAU_ISPU_PERIOD_HOURS", '{"co": 8, "o3": 1}')
    monkeypatch.setenv("PANTAU_QC_THRESHOLDS", '{"pm25": {"spike_sigma": 8, "flatline_count": 5}}')
    monkeypatch.setenv("PANTAU_ANOMALY_THRESHOLD", "0.95")
    config = pipeline_config(load_settings())
    assert config.ispu_hours("co") == 8 and config.ispu_hours("o3") == 1
    assert config.ispu_hours("pm25") == 24
    pm25 = config.metric_qc("pm25")
    assert (pm25.spike_sigma, pm25.flatline_count) == (8.0, 5)
    assert isinstance(pm25.flatline_count, int)
    assert pm25.max_rate_per_s == PipelineConfig().metric_qc("pm25").max_rate_per_s
    assert config.metric_qc("pm10") == PipelineConfig().metric_qc("pm10")
    assert config.anomaly_threshold == 0.95


def test_toml_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_file = tmp_path / "pantau.toml"
    config_file.write_text(
        "[ispu_period_hours]\nco = 8\n\n[qc_thresholds.water_level]\nhigh = 900\n"
    )
    monkeypatch.setenv("PANTAU_CONFIG", str(config_file))
    config = pipeline_config(load_settings())
    assert config.ispu_hours("co") == 8
    assert config.metric_qc("water_level").high == 900.0


def test_the_checkpoint_interval_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().ingest_checkpoint_seconds == 5.0
    monkeypatch.setenv("PANTAU_INGEST_CHECKPOINT_SECONDS", "2")
    assert load_settings().ingest_checkpoint_seconds == 2.0
