"""Schemathesis against the live app's OpenAPI: generated requests never cause a server error.

The operations come from the app's own OpenAPI document (one test per operation,
so a failure names it); each test sends a bounded number of positive (schema-valid)
and negative (schema-violating) requests to the app served by uvicorn on real
InfluxDB and SQLite. Schemathesis' pytest plugin is not used: its lazy fixture
loader does not run on pytest 9, while ``as_strategy`` + Hypothesis does.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from api.app import create_app
from api.context import AppContext
from api.keys import KeyStore
from api.ratelimit import RateLimiter
from pantau import database
from pantau.services import InfluxDB, Mosquitto, free_port
from pantau.store import InfluxStore
from tests.api.conftest import BASE_NS, reading

pytestmark = pytest.mark.integration

# endpoints that never end by design (server-sent events)
ENDLESS = ("/api/v1/alerts/stream",)
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 4}
# values that broke parsers before (issue 19): double signs, non-ASCII digits, huge numbers
HOSTILE = (
    "--1",
    "²",
    "¹²³",
    "٣",
    "０",
    "+-1",
    "1e309",
    "9" * 40,
    "-" * 3,
    "",
    " ",
    "NaN",
    "pk%5Fx",
    "\x00",
)
# the endpoints that build InfluxQL from many parameters get more examples
MORE = {"GET /api/v1/readings": 5, "GET /api/v1/ispu/history": 2, "GET /api/v1/completeness": 2}

# The document the app serves does not depend on its components.
SCHEMA = schemathesis.openapi.from_dict(create_app(cast(AppContext, None)).openapi())
OPERATIONS: dict[str, Any] = {}
for _result in SCHEMA.get_all_operations():
    _operation = cast(Any, _result).ok()
    if _operation.path not in ENDLESS:
        OPERATIONS[f"{_operation.method.upper()} {_operation.path}"] = _operation


def negatable(operation: Any) -> bool:
    """Whether a request can violate the schema: a body, a query parameter, or a typed path."""
    if operation.body:
        return True
    for parameter in operation.iter_parameters():
        schema = {k: v for k, v in parameter.definition.get("schema", {}).items() if k != "title"}
        if parameter.location.value != "path" or schema != {"type": "string"}:
            return True
    return False


CASES = [
    pytest.param(label, mode, id=f"{label}-{mode.value}")
    for label, operation in OPERATIONS.items()
    for mode in EXAMPLES
    if mode is GenerationMode.POSITIVE or negatable(operation)
]


@pytest.fixture(scope="module")
def live(
    influxdb: InfluxDB, mosquitto: Mosquitto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(base URL, admin key) of the app served by uvicorn on its own database and SQLite."""
    store = InfluxStore(url=influxdb.url, database=f"t_{uuid.uuid4().hex[:12]}", max_attempts=2)
    store.ensure_database()
    store.write([reading("aq-001", "pm25", BASE_NS + i * 10**9, float(i)) for i in range(500)])
    now = time.time_ns()
    store.write(
        [
            f'ispu,device=aq-001,zone=jababeka index=77i,category="Sedang",dominant="pm25" {now}',
            f'flood,device=wl-001,zone=cikarang level_cm=120,status="SIAGA 3",'
            f"rise_cm_per_h=3 {now}",
        ]
    )
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('schemathesis')) / 'pantau.db'}"
    database.upgrade(url)
    engine = database.open_engine(url)
    keys = KeyStore(engine)
    token = keys.create(role="admin", name="schemathesis").token
    ctx = AppContext(
        store=store,
        engine=engine,
        keys=keys,
        mqtt_url=mosquitto.url,  # so /health is 200, not its documented 503
        rate_limiter=RateLimiter(1_000_000),
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", token
    server.should_exit = True
    thread.join(10)
    store.drop_database()
    store.close()
    engine.dispose()


def test_every_operation_is_covered() -> None:
    assert len(OPERATIONS) >= 40
    assert "GET /api/v1/readings" in OPERATIONS
    negative = {
        label for label, mode in (cast(Any, c).values for c in CASES) if mode.value == "negative"
    }
    assert "GET /api/v1/readings" in negative and "POST /api/v1/keys" in negative


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_no_server_errors(live: tuple[str, str], label: str, mode: GenerationMode) -> None:
    base_url, token = live
    operation = OPERATIONS[label]
    headers = {"Authorization": f"Bearer {token}"}

    @given(
        case=operation.as_strategy(generation_mode=mode),
        hostile=st.sampled_from(HOSTILE),
        pick=st.integers(min_value=0, max_value=63),
    )
    @settings(
        max_examples=EXAMPLES[mode] * MORE.get(label, 1),
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any, hostile: str, pick: int) -> None:
        names = [p.name for p in operation.iter_parameters() if p.location.value == "query"]
        if names and pick % 2:  # every other case: one query parameter gets a hostile value
            case.query = {**(case.query or {}), names[pick // 2 % len(names)]: hostile}
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=[not_a_server_error])

    check()
