"""The regency deployment in one test: several processes on one PostgreSQL.

Two ``pantau api`` processes behind nginx (docs/deploy/nginx-pantau.conf), two
ingest partitions (``0/2``, ``1/2``) and two ``pantau alerts`` dispatchers share one
PostgreSQL, one Mosquitto and one InfluxDB. Flood stations are registered through
both APIs at once (and some ids through both at the same moment: one 201, one 409),
every station publishes a rising water level (an alert storm: each opens a Siaga
alert and escalates it), and then: every reading is in InfluxDB once, every
notification reached the webhook once, every transition came through nginx on the
live stream (SSE), PostgreSQL logged no deadlock and nothing answered 5xx.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from alerts.endpoints import Endpoint, EndpointStore
from alerts.tables import outbox
from api.keys import KeyStore
from pantau.database import open_engine
from pantau.postgres import PostgreSQL
from pantau.services import Mosquitto, free_port
from pantau.store import InfluxStore
from tests.alerts.receivers import WebhookReceiver
from tests.deploy.processes import NginxProxy, PantauProcess
from tests.harness import IngestProcess, TestPublisher, count_points, wait_for

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy"
STATIONS = 24
LEVELS = [40.0, 60.0, 90.0, 120.0, 160.0, 210.0]  # Siaga 4 → 3 → 2 → 1


@pytest.fixture
def stack(
    tmp_path: Path,
    postgres: PostgreSQL,
    make_pg_database: Callable[..., str],
    mosquitto: Mosquitto,
    influx: InfluxStore,
) -> Iterator[dict[str, object]]:
    url = make_pg_database()
    engine = open_engine(url)
    token = KeyStore(engine).create(role="technician", name="field team").token
    watcher = KeyStore(engine).create(role="operator", name="dinas").token
    receiver = WebhookReceiver()
    EndpointStore(engine).create(
        Endpoint(id=None, name="dinas", channel="webhook", target=receiver.url, secret="k" * 24)
    )
    common = {
        "PANTAU_DATABASE_URL": url,
        "PANTAU_MQTT_URL": mosquitto.url,
        "PANTAU_INFLUX_URL": influx.url,
        "PANTAU_INFLUX_DB": influx.database,
        "PANTAU_DATABASE_POOL_SIZE": "3",
        "PANTAU_DATABASE_MAX_OVERFLOW": "5",
    }
    apis = [
        PantauProcess(
            tmp_path / f"api{i}", ["api"], {**common, "PANTAU_API_PORT": str(free_port())}
        )
        for i in range(2)
    ]
    dispatchers = [
        PantauProcess(
            tmp_path / f"alerts{i}",
            ["alerts", "--worker-id", f"dispatcher-{i}", "--backoff", "0.5"],
            common,
        )
        for i in range(2)
    ]
    client_id = f"ingest-mp-{free_port()}"
    ingests = [
        IngestProcess(
            home=tmp_path / f"ingest{i}",
            mqtt_url=mosquitto.url,
            influx=influx,
            sql_url=url,
            extra_env={
                **common,
                "PANTAU_MQTT_CLIENT_ID": client_id,
                "PANTAU_INGEST_PARTITION": f"{i}/2",
            },
        )
        for i in range(2)
    ]
    deadlocks_before = postgres.log_file.read_text(errors="replace").count("deadlock detected")
    started: list[PantauProcess | IngestProcess] = []
    proxies: list[NginxProxy] = []
    try:
        for process in [*apis, *dispatchers]:
            process.start()
            started.append(process)
        for process in apis:
            process.wait_http(f"http://127.0.0.1:{process.env['PANTAU_API_PORT']}/api/v1/health")
        proxy = NginxProxy(
            tmp_path / "nginx",
            (DEPLOY / "nginx-pantau.conf").read_text(),
            free_port(),
            [int(a.env["PANTAU_API_PORT"]) for a in apis],
        )
        proxy.start()
        proxies.append(proxy)
        apis[0].wait_http(f"{proxy.url}/api/v1/health")
        for ingest in ingests:
            ingest.start()
            started.append(ingest)
        yield {
            "proxy": proxy,
            "watcher": watcher,
            "url": url,
            "token": token,
            "receiver": receiver,
            "apis": apis,
            "ingests": ingests,
            "dispatchers": dispatchers,
            "influx": influx,
            "mosquitto": mosquitto,
            "deadlocks_before": deadlocks_before,
        }
    finally:
        for running in started:  # all told at once, then each waited for
            if running.process is not None and running.process.poll() is None:
                running.process.send_signal(signal.SIGTERM)
        for running in reversed(started):
            running.stop()
        for proxy in proxies:
            proxy.stop()
        receiver.close()
        engine.dispose()


def _register(base: str, token: str, device_id: str) -> httpx.Response:
    body = {
        "id": device_id,
        "kind": "water_level",
        "zone": "kali-bekasi",
        "latitude": -6.2383,
        "longitude": 107.0011,
        "metrics": ["water_level"],
        "siaga": [80, 150, 200],
    }
    return httpx.post(
        f"{base}/api/v1/devices",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_two_apis_two_partitions_two_dispatchers_on_one_postgres(
    stack: dict[str, object], postgres: PostgreSQL
) -> None:
    token = str(stack["token"])
    apis: list[PantauProcess] = stack["apis"]  # type: ignore[assignment]
    bases = [f"http://127.0.0.1:{a.env['PANTAU_API_PORT']}" for a in apis]
    ids = [f"wl-mp-{n:02d}" for n in range(STATIONS)]
    statuses: list[tuple[str, int, int]] = []
    lock = threading.Lock()

    def register_via(api_index: int, device_ids: list[str]) -> None:
        for device_id in device_ids:
            answer = _register(bases[api_index], token, device_id)
            with lock:
                statuses.append((device_id, api_index, answer.status_code))

    # half through each API, concurrently; the last four ids through both at once
    contested = ids[-4:]
    plain = ids[:-4]
    threads = [
        threading.Thread(target=register_via, args=(0, plain[0::2] + contested)),
        threading.Thread(target=register_via, args=(1, plain[1::2] + contested)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    by_id: dict[str, list[int]] = {}
    for device_id, _, status in statuses:
        by_id.setdefault(device_id, []).append(status)
    assert all(by_id[d] == [201] for d in plain), by_id
    assert all(sorted(by_id[d]) == [201, 409] for d in contested), by_id
    assert {api for _, api, status in statuses if status == 201} == {0, 1}

    engine = open_engine(str(stack["url"]))
    try:
        with engine.connect() as conn:
            listed = conn.execute(sa.text("SELECT id FROM devices ORDER BY id")).scalars().all()
        assert listed == ids

        proxy: NginxProxy = stack["proxy"]  # type: ignore[assignment]
        events: list[int] = []
        connected = threading.Event()
        done = threading.Event()

        def listen() -> None:
            url = f"{proxy.url}/api/v1/alerts/stream"
            params = {"key": str(stack["watcher"]), "heartbeat_s": "1"}
            with httpx.stream("GET", url, params=params, timeout=30) as answer:
                assert answer.status_code == 200
                for line in answer.iter_lines():
                    connected.set()
                    if line.startswith("id: "):
                        events.append(int(line[4:]))
                    if done.is_set():
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert connected.wait(15), "the alert stream did not open through nginx"

        # an alert storm: every station rises through Siaga 3, 2 and 1
        publisher = TestPublisher(str(stack["mosquitto"].url))  # type: ignore[attr-defined]
        start_ms = int(time.time() * 1000) - 30 * 60_000
        for step, level in enumerate(LEVELS):
            for n, device_id in enumerate(ids):
                publisher.publish(
                    f"sensors/{device_id}/readings",
                    {
                        "ts": start_ms + step * 60_000 + n,
                        "seq": step,
                        "values": {"water_level": level},
                    },
                )
        publisher.close()
        influx: InfluxStore = stack["influx"]  # type: ignore[assignment]
        total = STATIONS * len(LEVELS)
        wait_for(lambda: count_points(influx) >= total, timeout=90, what=f"{total} readings")

        # the ingest partitions split the stations and each handled its own
        ingests: list[IngestProcess] = stack["ingests"]  # type: ignore[assignment]
        wait_for(
            lambda: all("transitions from" in i.log() for i in ingests),
            timeout=30,
            what="alerts raised by both partitions",
        )

        def webhook_rows() -> list[sa.RowMapping]:
            with engine.connect() as conn:
                return list(
                    conn.execute(
                        sa.select(outbox.c.id, outbox.c.status)
                        .select_from(outbox)
                        .where(outbox.c.channel == "webhook")
                    ).mappings()
                )

        wait_for(
            lambda: (
                len(webhook_rows()) >= 3 * STATIONS
                and all(r["status"] == "delivered" for r in webhook_rows())
            ),
            timeout=90,
            what="every webhook notification delivered",
        )
        time.sleep(1.0)  # a duplicate delivery, if any, would arrive now
        rows = webhook_rows()
        receiver: WebhookReceiver = stack["receiver"]  # type: ignore[assignment]
        seen = Counter(int(r.headers["X-Pantau-Delivery"]) for r in receiver.requests)
        assert sorted(seen) == sorted(int(r["id"]) for r in rows)
        assert max(seen.values()) == 1, "a notification was delivered twice"
        with engine.connect() as conn:
            alerts_by_device: dict[str, int] = dict(
                conn.execute(
                    sa.text(
                        "SELECT device, count(*) FROM alerts WHERE rule_id = 'default-flood' "
                        "GROUP BY device"
                    )
                ).all()
            )
            workers = (
                conn.execute(
                    sa.text(
                        "SELECT DISTINCT worker FROM alert_delivery_attempts a "
                        "JOIN alert_outbox o ON o.id = a.outbox_id WHERE o.channel = 'webhook'"
                    )
                )
                .scalars()
                .all()
            )
        assert alerts_by_device == dict.fromkeys(ids, 1)  # one alert per station, escalated
        with engine.connect() as conn:
            transitions = conn.execute(sa.text("SELECT id FROM alert_transitions")).scalars()
            expected_events = sorted(transitions)
        # every transition reached the SSE client through nginx, unbuffered (heartbeats each
        # second keep the loop turning, so the listener stops soon after it is told)
        deadline = time.monotonic() + 20
        while sorted(events) != expected_events and time.monotonic() < deadline:
            time.sleep(0.1)
        missing = sorted(set(expected_events) - set(events))
        assert sorted(events) == expected_events, (len(events), len(expected_events), missing)
        done.set()
        listener.join(timeout=5)
        assert set(workers) <= {"dispatcher-0", "dispatcher-1"} and workers
    finally:
        engine.dispose()

    # every reading stored once (a point's identity makes a redelivery overwrite itself)
    stored = influx.query('SELECT COUNT("value") FROM "readings" GROUP BY "device"')
    assert {s.tags["device"]: s.values[0][1] for s in stored} == dict.fromkeys(ids, len(LEVELS))
    log = postgres.log_file.read_text(errors="replace")
    assert log.count("deadlock detected") == stack["deadlocks_before"]
    for api in apis:
        text = api.log()
        assert "unhandled error" not in text, text[-3000:]
        assert not re.search(r'HTTP/1\.1" 5\d\d', text), text[-3000:]
        assert re.search(r'"POST /api/v1/devices HTTP/1\.1" 201', text)
    wait_for(
        lambda: "/api/v1/alerts/stream" in proxy.access_log(),
        timeout=10,
        what="nginx to log the closed stream",
    )
    logged = proxy.access_log()
    assert not re.search(r'HTTP/1\.1" 5\d\d ', logged), logged[-2000:]
    assert re.search(r'"GET /api/v1/alerts/stream HTTP/1\.1" 200 ', logged), logged[-2000:]
    assert str(stack["watcher"]) not in logged  # the stream's ?key= is not logged
