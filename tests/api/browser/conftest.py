"""Browser fixtures: one live Pantau stack per module, driven by Debian's Chromium.

The stack is real end to end: the session's Mosquitto and InfluxDB (tests/conftest.py),
``pantau ingest`` as a subprocess, and the API app served by uvicorn on a free
loopback port. Devices are registered through ``POST /api/v1/devices`` before ingest
starts, so its registry cache knows them from the first message.

Chromium is the system package (``/usr/bin/chromium``, or ``PANTAU_CHROMIUM``) in
headless mode with the flags that keep it off the network; Playwright's own browser
download is never used. Screenshots go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.context import AppContext
from api.keys import KeyStore
from api.ratelimit import RateLimiter
from pantau import database
from pantau.database import open_engine
from pantau.services import InfluxDB, Mosquitto
from pantau.store import InfluxStore
from tests.api.browser.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DEVICES,
    KNOWN_PM25,
    WATER_CM,
    Device,
    Stack,
    Watched,
    wait_until,
)
from tests.api.conftest import serve
from tests.harness import IngestProcess, TestPublisher

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, mosquitto: Mosquitto, influxdb: InfluxDB
) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("browser")
    sql_url = f"sqlite:///{home / 'pantau.db'}"
    database.upgrade(sql_url)
    store = InfluxStore(url=influxdb.url, database=f"t_{uuid.uuid4().hex[:12]}", max_attempts=2)
    store.ensure_database()
    engine = open_engine(sql_url)
    keys = KeyStore(engine)
    tokens = {
        role: keys.create(role=role, name=f"Sari ({role})").token
        for role in ("admin", "operator", "technician", "researcher")
    }
    ctx = AppContext(
        store=store,
        engine=engine,
        keys=keys,
        mqtt_url=mosquitto.url,
        rate_limiter=RateLimiter(10_000),
    )
    url, server, thread = serve(create_app(ctx))
    prefix = f"b{uuid.uuid4().hex[:6]}"
    built = Stack(url=url, store=store, sql_url=sql_url, mqtt_url=mosquitto.url, keys=tokens)
    for d in DEVICES:
        device = Device(f"{prefix}-{d.id}", d.kind, d.zone, d.latitude, d.longitude, d.siaga)
        body: dict[str, object] = {
            "id": device.id, "kind": d.kind, "zone": d.zone, "latitude": d.latitude,
            "longitude": d.longitude, "model": "test", "requires_calibration": False,
        }  # fmt: skip
        if d.siaga:
            body["siaga"] = d.siaga
        answer = httpx.post(
            f"{url}/api/v1/devices",
            json=body,
            headers={"Authorization": f"Bearer {tokens['technician']}"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        built.devices[d.id] = device
    ingest = IngestProcess(
        home=home / "ingest",
        mqtt_url=mosquitto.url,
        influx=store,
        sql_url=sql_url,
    )
    ingest.start()
    built.publisher = TestPublisher(mosquitto.url)
    try:
        yield built
    finally:
        built.publisher.close()
        ingest.stop()
        server.should_exit = True
        thread.join(10)
        engine.dispose()
        store.drop_database()
        store.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium, or set PANTAU_CHROMIUM")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser: Any, stack: Stack) -> Iterator[Callable[..., Watched]]:
    contexts: list[Any] = []
    watched: list[Watched] = []

    def make(**options: Any) -> Watched:
        context = browser.new_context(
            base_url=stack.url, locale="id-ID", timezone_id="Asia/Jakarta", **options
        )
        w = Watched(None, [])

        def refuse(route: Any) -> None:
            w.blocked.append(route.request.url)
            route.abort("blockedbyclient")

        # Loopback only: anything that is not the app under test is refused (and noted).
        context.route(lambda u: not u.startswith(stack.url), refuse)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        w.page = page
        page.on("pageerror", lambda exc: w.errors.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                w.errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
            ),
        )
        watched.append(w)
        return w

    yield make
    for context in contexts:
        context.close()
    problems = [e for w in watched for e in w.errors]
    problems += [f"request left the machine: {u}" for w in watched for u in w.blocked]
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def known(stack: Stack) -> Stack:
    """Known readings published over MQTT, waited for until the open API shows them."""
    for name, (pm25, _, _) in KNOWN_PM25.items():
        # one temperature outside the physical range (-20..70 °C): a RANGE-flagged point
        temperature = [28.0, 95.0, 29.0] if name == "aq-baik" else [28.0, 28.5, 29.0]
        stack.publish(
            stack.devices[name].id,
            [{"pm25": pm25, "pm10": 20.0, "temperature": t, "humidity": 70.0} for t in temperature],
        )
    stack.publish(stack.devices["wl-siaga"].id, [{"water_level": cm} for cm in WATER_CM])
    stack.publish(
        stack.devices["tr-macet"].id, [{"speed": s, "vehicle_count": 90} for s in (12, 9, 8)]
    )

    def arrived() -> bool:
        zones = {z["device"] for z in stack.get("/api/v1/ispu")["zones"]}
        stations = {s["device"] for s in stack.get("/api/v1/flood")["stations"]}
        want = {stack.devices[n].id for n in KNOWN_PM25}
        return want <= zones and stack.devices["wl-siaga"].id in stations

    wait_until(arrived, 45, "ISPU and flood status from the published readings")
    return stack
