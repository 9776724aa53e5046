"""The pipeline watchdog (issue 18): `pantau ingest` beats; when it stops, the alerts
process raises "pipeline down" and notifies; when it comes back, the alert resolves."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from alerts.dispatcher import Dispatcher
from alerts.endpoints import Endpoint, EndpointStore
from alerts.rulebook import RuleBook
from alerts.rules import Rule, validate
from alerts.tables import alerts, heartbeats
from alerts.watchdog import Watchdog
from pantau.database import open_engine, upgrade
from pantau.services import Mosquitto
from pantau.store import InfluxStore
from tests.alerts.receivers import WebhookReceiver
from tests.harness import IngestProcess, wait_for

pytestmark = pytest.mark.integration
# the rule's raise_value: ingest beats every 5 s (checked each second), so 8 s leaves a
# loaded machine 3 s of jitter before a beat counts as missed (the default rule: 60 s)
SILENCE_S = 8.0


def test_the_watchdog_fires_when_ingest_stops_and_clears_when_it_resumes(
    tmp_path: Path, mosquitto: Mosquitto, influx: InfluxStore, sql_url: str
) -> None:
    upgrade(sql_url)
    engine = open_engine(sql_url)
    receiver = WebhookReceiver()
    store = EndpointStore(engine)
    store.create(
        Endpoint(
            id=None,
            name="ops",
            channel="webhook",
            target=receiver.url,
            secret="s3cret-s3cret-s3cret",
            kinds=("pipeline",),
        )
    )
    rule = validate(
        Rule(id="default-pipeline", kind="pipeline", severity="critical", raise_value=SILENCE_S)
    )
    watchdog = Watchdog(engine, rules=RuleBook([rule]), every_s=0.5)
    stop = threading.Event()
    dispatcher = Dispatcher(engine=engine, mqtt_url=None, poll_s=0.1, watchdog=watchdog)
    thread = threading.Thread(target=dispatcher.run_forever, args=(stop,), daemon=True)
    thread.start()
    ingest = IngestProcess(
        home=tmp_path / "home", mqtt_url=mosquitto.url, influx=influx, sql_url=sql_url
    )

    def down() -> list[sa.RowMapping]:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(alerts).where(alerts.c.rule_id == "default-pipeline")
                ).mappings()
            )

    def beats() -> int:
        with engine.connect() as conn:
            return len(conn.execute(sa.select(heartbeats)).all())

    try:
        ingest.start()
        wait_for(lambda: beats() > 0, what="the first heartbeat")
        time.sleep(SILENCE_S + 2)
        assert down() == []  # beating: nothing
        ingest.stop()
        stopped = time.monotonic()
        wait_for(lambda: len(down()) == 1, timeout=30, what="the pipeline-down alert")
        # the last beat was at most 5 s before the stop: raised SILENCE_S after it
        assert time.monotonic() - stopped <= SILENCE_S + 5 + 2
        [alert] = down()
        assert alert["device"] == "ingest" and alert["severity"] == "critical"
        wait_for(lambda: len(receiver.requests) == 1, what="the notification")
        sent = json.loads(receiver.requests[0].body)
        assert sent["alert"]["rule_kind"] == "pipeline"
        assert sent["transition"]["action"] == "open"
        ingest.start()
        wait_for(lambda: down()[0]["status"] == "resolved", timeout=20, what="resolved")
    finally:
        ingest.stop()
        stop.set()
        thread.join(timeout=30)
        receiver.close()
        engine.dispose()
