"""One offline truth (issue 18): the device list, the map and the offline alert agree,
within one check interval, through the real `pantau ingest`; a device's own
{"state": "offline"} status message marks it offline at once; a reporting rain gauge
(no ISPU, no Siaga) is shown as reporting."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from alerts.rules import DEFAULT_RULES
from alerts.tables import alerts
from devices.status import OFFLINE_FACTOR
from pantau.services import Mosquitto
from pantau.store import InfluxStore
from tests.api.conftest import Api
from tests.harness import IngestProcess, TestPublisher, register, wait_for

pytestmark = pytest.mark.integration
INTERVAL_S = 2
CHECK_S = 5.0  # the ingest's liveness check period


def offline_open(api: Api, device: str) -> bool:
    with api.ctx.engine.connect() as conn:
        found = conn.execute(
            sa.select(alerts.c.id).where(
                alerts.c.device == device,
                alerts.c.rule_id == "default-offline",
                alerts.c.status != "resolved",
            )
        ).first()
    return found is not None


def shown(api: Api, device: str) -> tuple[bool, bool, dict[str, Any]]:
    """(reporting in the device list, reporting on the map, the map entry)."""
    listed = api.client.get("/api/v1/devices", headers=api.auth()).json()
    [entry] = [d for d in listed if d["id"] == device]
    mapped = api.client.get("/dashboard/map.json", headers=api.auth()).json()["devices"]
    [point] = [d for d in mapped if d["id"] == device]
    return entry["state"]["reporting"], point["reporting"], point


def test_the_same_rule_as_the_offline_alert() -> None:
    [rule] = [r for r in DEFAULT_RULES if r.id == "default-offline"]
    assert rule.factor == OFFLINE_FACTOR


def test_list_map_and_alert_agree_and_a_status_message_is_offline_at_once(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influx: InfluxStore,
    sql_url: str,
    topic_prefix: str,
    api: Api,
) -> None:
    sensor, gauge = f"{topic_prefix}-aq", f"{topic_prefix}-rain"
    register(sql_url, [sensor], interval_s=INTERVAL_S)
    register(sql_url, [gauge], kind="rain", metrics=("rain",), interval_s=INTERVAL_S)
    ingest = IngestProcess(
        home=tmp_path / "home", mqtt_url=mosquitto.url, influx=influx, sql_url=sql_url
    )
    ingest.start()
    publisher = TestPublisher(mosquitto.url)
    seq = 0

    def report(*devices: str) -> None:
        nonlocal seq
        seq += 1
        ts = int(time.time() * 1000)
        for device in devices:
            metric = "rain" if device == gauge else "pm25"
            publisher.publish(
                f"sensors/{device}/readings", {"ts": ts, "seq": seq, "values": {metric: 1.0}}
            )

    try:
        # reporting (an offline alert from before its first reading, if ingest took longer
        # to start than k × interval after the registration, resolves at the next check;
        # a loaded host may take a while to start ingest: the loop ends once both report)
        deadline = time.monotonic() + 12 * CHECK_S
        while time.monotonic() < deadline:
            report(sensor, gauge)
            both = shown(api, gauge)[:2] == shown(api, sensor)[:2] == (True, True)
            if both and not offline_open(api, sensor):
                break
            time.sleep(0.5)
        listed, mapped, point = shown(api, gauge)
        assert point["kind"] == "rain" and point["level"] is None  # reporting, no level
        assert shown(api, sensor)[:2] == (True, True) and not offline_open(api, sensor)

        # the sensor falls silent (the gauge goes on): API and alert within one check
        list_at = map_at = alert_at = None
        deadline = time.monotonic() + OFFLINE_FACTOR * INTERVAL_S + 3 * CHECK_S
        while time.monotonic() < deadline and None in (list_at, map_at, alert_at):
            report(gauge)
            listed, mapped, _ = shown(api, sensor)
            if list_at is None and not listed:
                list_at = time.monotonic()
            if map_at is None and not mapped:
                map_at = time.monotonic()
            if alert_at is None and offline_open(api, sensor):
                alert_at = time.monotonic()
            time.sleep(0.2)
        assert None not in (list_at, map_at, alert_at), ingest.log()[-2000:]
        assert list_at is not None and map_at is not None and alert_at is not None
        assert abs(list_at - map_at) <= 0.5  # list and map: one function, one answer
        assert abs(alert_at - list_at) <= CHECK_S + 1.5
        assert shown(api, gauge)[:2] == (True, True)

        # it reports again: reporting, and the alert resolves
        report(sensor, gauge)
        wait_for(lambda: shown(api, sensor)[:2] == (True, True), what="reporting again")
        wait_for(lambda: not offline_open(api, sensor), timeout=CHECK_S + 5, what="resolved")

        # its own Last Will / status message: offline at once, before k × interval
        said = time.monotonic()
        publisher.publish(f"sensors/{sensor}/status", {"state": "offline"})
        wait_for(lambda: shown(api, sensor)[:2] == (False, False), timeout=3, what="API")
        wait_for(lambda: offline_open(api, sensor), timeout=CHECK_S + 2, what="alert")
        assert time.monotonic() - said <= CHECK_S + 2.0
    finally:
        publisher.close()
        ingest.stop()
