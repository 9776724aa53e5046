"""Offline detection in real time through `pantau ingest` (its liveness timer, the registry).

A device with a 2 s reporting interval (the shipped offline rule: k = 3, so 6 s) reports
for a while — no offline alert — then stops: the alert opens within k × interval plus
one check period (5 s) of its last reading, not before k × interval; a new reading
resolves it.
"""

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

INTERVAL_S = 2
LIMIT_S = 3 * INTERVAL_S  # default-offline: factor 3
CHECK_S = 5.0  # the ingest's liveness check period
SLACK_S = 2.0  # spool → worker → registry: a reading's way to last_seen


def offline_alerts(sql_url: str, device: str) -> list[sa.RowMapping]:
    engine = open_engine(sql_url)
    with engine.connect() as conn:
        rows = list(
            conn.execute(
                sa.select(alerts).where(
                    alerts.c.device == device, alerts.c.rule_id == "default-offline"
                )
            ).mappings()
        )
    engine.dispose()
    return rows


def test_offline_within_one_check_period_of_k_intervals(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influx: InfluxStore,
    sql_url: str,
    topic_prefix: str,
) -> None:
    device = f"{topic_prefix}-aq"
    register(sql_url, [device], interval_s=INTERVAL_S)
    ingest = IngestProcess(
        home=tmp_path / "home",
        mqtt_url=mosquitto.url,
        influx=influx,
        sql_url=sql_url,
    )
    ingest.start()
    publisher = TestPublisher(mosquitto.url)
    seq = 0

    def report() -> float:
        nonlocal seq
        seq += 1
        ts = int(time.time() * 1000)
        publisher.publish(
            f"sensors/{device}/readings", {"ts": ts, "seq": seq, "values": {"pm25": 20.0}}
        )
        return time.monotonic()

    try:
        # reporting every second for three check periods: never offline
        until = time.monotonic() + 3 * CHECK_S
        while time.monotonic() < until:
            last = report()
            time.sleep(1.0)
        assert offline_alerts(sql_url, device) == [], ingest.log()[-3000:]
        # silence: offline after k × interval, within one check period of it
        last = report()
        wait_for(
            lambda: bool(offline_alerts(sql_url, device)),
            timeout=LIMIT_S + CHECK_S + SLACK_S + 5,  # later fails the assertion below anyway
            what="the offline alert",
        )
        opened_after = time.monotonic() - last
        [alert] = offline_alerts(sql_url, device)
        assert alert["status"] == "open"
        assert LIMIT_S <= opened_after <= LIMIT_S + CHECK_S + SLACK_S, opened_after
        # it reports again: resolved by the next check
        report()
        wait_for(
            lambda: offline_alerts(sql_url, device)[0]["status"] == "resolved",
            timeout=CHECK_S + SLACK_S + 30,
            what="the offline alert to resolve",
        )
    finally:
        publisher.close()
        ingest.stop()
