"""Alerts the environment office can trust, through the real path (issue 18): readings
over Mosquitto into `pantau ingest`, InfluxDB, the rules, and a dispatcher delivering to
real HTTP receivers routed by device kind."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from alerts.dispatcher import Dispatcher
from alerts.endpoints import Endpoint, EndpointStore
from alerts.rulebook import RuleStore
from alerts.rules import Rule
from alerts.tables import alerts, transitions
from pantau.database import open_engine, upgrade
from pantau.services import Mosquitto
from pantau.store import InfluxStore
from tests.alerts.receivers import WebhookReceiver
from tests.harness import IngestProcess, TestPublisher, count_points, register, wait_for

pytestmark = pytest.mark.integration
MINUTE_MS = 60_000
SECRET = "s3cret-s3cret-s3cret"


def kind_routed(engine: Engine, water: str, air: str) -> None:
    """The routing example of docs/alerts.md: one endpoint per device kind."""
    store = EndpointStore(engine)
    mqtt = store.list()[0]
    store.update(
        mqtt.id or 0,
        Endpoint(**{**mqtt.public(), "secret": "", "enabled": False, "zones": (), "kinds": ()}),
    )
    for name, url, kind in (("bpbd", water, "water_level"), ("dlh", air, "air_quality")):
        store.create(
            Endpoint(
                id=None, name=name, channel="webhook", target=url, secret=SECRET, kinds=(kind,)
            )
        )


def alerts_of(engine: Engine, device: str) -> list[sa.RowMapping]:
    with engine.connect() as conn:
        return list(
            conn.execute(sa.select(alerts).where(alerts.c.device == device)).mappings().all()
        )


def history(engine: Engine, alert_id: int) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(transitions.c.action, transitions.c.severity)
            .where(transitions.c.alert_id == alert_id)
            .order_by(transitions.c.id)
        ).all()
    return [(str(a), str(s)) for a, s in found]


def kinds_received(receiver: WebhookReceiver) -> set[tuple[str, str]]:
    out = set()
    for request in receiver.requests:
        alert = json.loads(request.body)["alert"]
        out.add((alert["device_kind"], alert["rule_kind"]))
    return out


def deliver_all(engine: Engine) -> None:
    """Until nothing is due (one step of an alert per round: they go out in order)."""
    dispatcher = Dispatcher(engine=engine, mqtt_url=None)
    while dispatcher.run_once():
        pass
    dispatcher.close()


@pytest.fixture
def receivers() -> Iterator[tuple[WebhookReceiver, WebhookReceiver]]:
    water, air = WebhookReceiver(), WebhookReceiver()
    yield water, air
    water.close()
    air.close()


def test_a_glitch_raises_nothing_and_a_steady_rise_raises_and_escalates_once_each(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influx: InfluxStore,
    sql_url: str,
    topic_prefix: str,
    receivers: tuple[WebhookReceiver, WebhookReceiver],
) -> None:
    glitchy, rising = f"{topic_prefix}-glitch", f"{topic_prefix}-rise"
    upgrade(sql_url)
    for station in (glitchy, rising):
        register(
            sql_url,
            [station],
            kind="water_level",
            zone="kali-bekasi",
            metrics=("water_level",),
            siaga=(250.0, 300.0, 350.0),
        )
    engine = open_engine(sql_url)
    kind_routed(engine, receivers[0].url, receivers[1].url)
    rng = np.random.default_rng(18)
    glitch = list(214.0 + rng.normal(0, 1.0, 60))
    glitch[40] = 300.0  # one glitch: 86 cm above a station at 214 cm
    ramp = [200.0 + rng.normal(0, 0.5) for _ in range(35)]
    ramp += [200.0 + 40.0 * (i + 1) / 60 + rng.normal(0, 0.5) for i in range(250)]  # 40 cm/h
    ingest = IngestProcess(
        home=tmp_path / "home", mqtt_url=mosquitto.url, influx=influx, sql_url=sql_url
    )
    ingest.start()
    try:
        start_ms = int(time.time() * 1000) - 6 * 60 * MINUTE_MS
        publisher = TestPublisher(mosquitto.url)
        for station, levels in ((glitchy, glitch), (rising, ramp)):
            for i, level in enumerate(levels):
                publisher.publish(
                    f"sensors/{station}/readings",
                    {
                        "ts": start_ms + i * MINUTE_MS,
                        "seq": i,
                        "values": {"water_level": float(level)},
                    },
                )
        publisher.close()
        wait_for(
            lambda: count_points(influx, where=f"\"device\" = '{rising}'") == len(ramp),
            what="every reading stored",
        )
        wait_for(
            lambda: any(
                a["rule_id"] == "default-flood" and a["severity"] == "critical"
                for a in alerts_of(engine, rising)
            ),
            what="the flood alert at Siaga 1",
        )
        time.sleep(1.5)  # one more evaluation round: nothing else may come
        assert alerts_of(engine, glitchy) == []
        [series] = influx.query(
            f'SELECT "flags" FROM "readings" WHERE "device" = \'{glitchy}\' AND "flags" > 0'
        )
        assert [row[1] & 2 for row in series.values] == [2]  # the glitch: SPIKE, nothing else
        [statuses] = influx.query(f'SELECT "status" FROM "flood" WHERE "device" = \'{glitchy}\'')
        assert {row[1] for row in statuses.values} == {"SIAGA 4"}
        [flood] = [a for a in alerts_of(engine, rising) if a["rule_id"] == "default-flood"]
        assert history(engine, flood["id"]) == [
            ("open", "warning"),
            ("escalate", "major"),
            ("escalate", "critical"),
        ]
        flagged = influx.query(
            f'SELECT "flags" FROM "readings" WHERE "device" = \'{rising}\' AND "flags" > 0'
        )
        bad = [row for s in flagged for row in s.values if row[1] & 31]  # RANGE…TIME
        assert bad == []  # nothing of the steady rise is bad data (ANOMALY may note its onset)
        deliver_all(engine)
        water, air = receivers
        assert kinds_received(water) == {
            ("water_level", "flood_status"),
            ("water_level", "flood_rise"),
        }
        assert len(water.requests) >= 3 and air.requests == []
    finally:
        ingest.stop()
        engine.dispose()


def test_ispu_rule_of_15_minutes_fires_15_minutes_into_an_episode(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influx: InfluxStore,
    sql_url: str,
    topic_prefix: str,
    receivers: tuple[WebhookReceiver, WebhookReceiver],
) -> None:
    station = f"{topic_prefix}-aq"
    upgrade(sql_url)
    register(sql_url, [station], kind="air_quality", zone="jababeka", metrics=("pm25",))
    engine = open_engine(sql_url)
    kind_routed(engine, receivers[0].url, receivers[1].url)
    RuleStore(engine).put(
        Rule(id="ispu-15min", kind="ispu", level="Tidak Sehat", raise_for_s=900, device=station)
    )
    ingest = IngestProcess(
        home=tmp_path / "home", mqtt_url=mosquitto.url, influx=influx, sql_url=sql_url
    )
    ingest.start()
    try:
        hour_ms = 3_600_000
        episode_ms = (int(time.time() * 1000) // hour_ms - 2) * hour_ms  # an hour boundary
        publisher = TestPublisher(mosquitto.url)
        # 20 minutes of PM2.5 at 200 µg/m³ (ISPU 250, Sangat Tidak Sehat), then clean air;
        # one reading a minute, arriving as a live station's would (one at a time)
        for i, pm25 in enumerate([200.0] * 20 + [10.0] * 10):
            publisher.publish(
                f"sensors/{station}/readings",
                {"ts": episode_ms + i * MINUTE_MS, "seq": i, "values": {"pm25": pm25}},
            )
            time.sleep(0.25)
        publisher.close()
        wait_for(
            lambda: any(a["rule_id"] == "ispu-15min" for a in alerts_of(engine, station)),
            what="the 15-minute ISPU alert",
        )
        [alert] = [a for a in alerts_of(engine, station) if a["rule_id"] == "ispu-15min"]
        minutes = (alert["opened_ns"] / 1e6 - episode_ms) / MINUTE_MS
        assert 13.0 <= minutes <= 17.0, minutes
        assert alert["device_kind"] == "air_quality" and alert["severity"] == "major"
        deliver_all(engine)
        water, air = receivers
        assert kinds_received(air) == {("air_quality", "ispu")}
        assert water.requests == []
    finally:
        ingest.stop()
        engine.dispose()
