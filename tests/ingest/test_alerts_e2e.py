"""Readings published over MQTT raise alerts through the real ingest path."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from alerts.tables import alerts
from pantau.database import open_engine
from pantau.services import Mosquitto
from pantau.store import InfluxStore
from tests.harness import IngestProcess, TestPublisher, register, wait_for

pytestmark = pytest.mark.integration


def open_alerts(sql_url: str) -> list[sa.RowMapping]:
    engine = open_engine(sql_url)
    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(alerts).order_by(alerts.c.id)).mappings())
    engine.dispose()
    return rows


def test_flood_levels_raise_and_escalate_one_alert(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influx: InfluxStore,
    sql_url: str,
    topic_prefix: str,
) -> None:
    station = f"{topic_prefix}-wl"
    register(
        sql_url,
        [station],
        kind="water_level",
        zone="kali-bekasi",
        metrics=("water_level",),
        siaga=(80.0, 150.0, 200.0),
    )
    ingest = IngestProcess(
        home=tmp_path / "home",
        mqtt_url=mosquitto.url,
        influx=influx,
        sql_url=sql_url,
    )
    ingest.start()
    try:
        publisher = TestPublisher(mosquitto.url)
        now_ms = int(time.time() * 1000) - 20 * 60_000
        for i, level in enumerate([50.0, 60.0, 100.0, 120.0, 170.0, 180.0]):
            publisher.publish(
                f"sensors/{station}/readings",
                {"ts": now_ms + i * 60_000, "seq": i, "values": {"water_level": level}},
            )
        publisher.close()
        wait_for(
            lambda: any(
                a["device"] == station and a["rule_id"] == "default-flood"
                for a in open_alerts(sql_url)
            ),
            what="a flood alert",
        )
        flood = [a for a in open_alerts(sql_url) if a["rule_id"] == "default-flood"]
        assert len(flood) == 1
        assert flood[0]["status"] == "open"
        assert flood[0]["zone"] == "kali-bekasi"
        # 10–50 cm a minute: the smoothed rise rate says so, and "rising fast" opens
        wait_for(
            lambda: any(a["rule_id"] == "default-flood-rise" for a in open_alerts(sql_url)),
            what="a rising-fast alert",
        )
        [series] = influx.query('SELECT LAST("rise_cm_per_h") FROM "flood"')
        assert series.values[0][1] > 30.0
    finally:
        ingest.stop()
