"""Settings from PANTAU_* variables or pantau.toml; a bad value names its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from pantau.errors import ConfigError
from pantau.settings import load_settings
from pantau.store import InfluxStore


def test_environment_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "pantau.toml"
    config.write_text('influx_db = "from_toml"\napi_port = 8123\n')
    monkeypatch.setenv("PANTAU_CONFIG", str(config))
    monkeypatch.setenv("PANTAU_API_PORT", "9000")  # the environment wins over the file
    settings = load_settings()
    assert (settings.influx_db, settings.api_port) == ("from_toml", 9000)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PANTAU_API_PORT", "seventy"),
        ("PANTAU_MQTT_URL", "http://wrong"),
        ("PANTAU_INFLUX_URL", "influx:8086"),
        ("PANTAU_LOG_LEVEL", "LOUD"),
        ("PANTAU_INGEST_PARTITION", "2/2"),
        ("PANTAU_SPOOL_MAX_BYTES", "10"),
        ("PANTAU_INFLUX_PARALLEL_WRITES", "0"),
        ("PANTAU_ISPU_PERIOD_HOURS", '{"pm2": 8}'),
        ("PANTAU_ISPU_PERIOD_HOURS", '{"co": 0}'),
        ("PANTAU_ISPU_PERIOD_HOURS", "eight"),
        ("PANTAU_QC_THRESHOLDS", '{"pm25": {"sigma": 3}}'),
        ("PANTAU_QC_THRESHOLDS", '{"dust": {"high": 3}}'),
        ("PANTAU_ANOMALY_THRESHOLD", "1.5"),
        ("PANTAU_SMTP_PORT", "0"),
        ("PANTAU_SMTP_STARTTLS", "perhaps"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_scaled_out_ingest_gets_its_own_session_and_spool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANTAU_HOME", "/srv/pantau")
    plain = load_settings()
    assert (plain.ingest_client_id, plain.spool_dir) == ("pantau-ingest", Path("/srv/pantau/spool"))
    monkeypatch.setenv("PANTAU_INGEST_PARTITION", "1/3")
    part = load_settings()
    assert part.ingest_client_id == "pantau-ingest-p1of3"
    assert part.spool_dir == Path("/srv/pantau/spool/pantau-ingest-p1of3")


def test_the_influx_store_follows_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANTAU_INFLUX_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("PANTAU_INFLUX_DB", "elsewhere")
    monkeypatch.setenv("PANTAU_INFLUX_BATCH_LINES", "1234")
    monkeypatch.setenv("PANTAU_INFLUX_PARALLEL_WRITES", "4")
    store = InfluxStore.from_settings(load_settings())
    try:
        assert (store.url, store.database) == ("http://127.0.0.1:1", "elsewhere")
        assert (store.batch_lines, store.parallel_writes) == (1234, 4)
    finally:
        store.close()
