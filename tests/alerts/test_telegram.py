"""The Telegram channel against a local Bot API server that checks the requests, and the
message templates in Bahasa Indonesia and English (issue 18)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine

from alerts.dispatcher import Dispatcher
from alerts.endpoints import Endpoint, EndpointStore
from alerts.engine import AlertEngine
from alerts.observations import FloodObservation, Observations
from alerts.rulebook import RuleBook
from alerts.rules import DEFAULT_RULES
from alerts.templates import render
from pantau.errors import InvalidRequest
from pantau.services import free_port
from tests.alerts.helpers import T0, rows

pytestmark = pytest.mark.integration
TOKEN = "123456789:AAE-test_token_abcdefghijklmnopq"
S = 1_000_000_000


@dataclass
class BotApi:
    """A local stand-in for api.telegram.org: checks path, token, JSON body."""

    fail_first: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != f"/bot{TOKEN}/sendMessage":
                    api.bad.append(self.path)
                    self._answer(404, {"ok": False, "description": "Not Found"})
                    return
                if "application/json" not in self.headers.get("Content-Type", ""):
                    api.bad.append("content-type")
                doc = json.loads(body)
                if api.fail_first > 0:
                    api.fail_first -= 1
                    self._answer(429, {"ok": False, "description": "Too Many Requests"})
                    return
                api.messages.append(doc)
                self._answer(200, {"ok": True, "result": {"message_id": len(api.messages)}})

            def _answer(self, code: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bot() -> Iterator[BotApi]:
    api = BotApi()
    yield api
    api.close()


def flood(level: float, minute: int) -> FloodObservation:
    status = "SIAGA 4"
    for threshold, name in ((250, "SIAGA 3"), (300, "SIAGA 2"), (350, "SIAGA 1")):
        if level >= threshold:
            status = name
    return FloodObservation(
        device="kb-03",
        zone="kali-bekasi",
        ts_ns=T0 + minute * 60 * S,
        level_cm=level,
        status=status,
        rise_cm_per_h=0.0,
    )


def telegram(engine: Engine, url: str, language: str) -> Endpoint:
    store = EndpointStore(engine)
    mqtt = store.list()[0]
    store.update(
        mqtt.id or 0,
        Endpoint(**{**mqtt.public(), "secret": "", "enabled": False, "zones": (), "kinds": ()}),
    )
    return store.create(
        Endpoint(
            id=None,
            name=f"bpbd-{language}",
            channel="telegram",
            target="-1001234567890",
            secret=TOKEN,
            language=language,
        )
    )


def test_telegram_gets_the_flood_alert_in_bahasa_indonesia(engine: Engine, bot: BotApi) -> None:
    bot.fail_first = 1  # a 429 first: retried
    telegram(engine, bot.url, "id")
    rules = RuleBook([r for r in DEFAULT_RULES if r.id == "default-flood"])
    AlertEngine(engine=engine, rules=rules).evaluate(
        Observations(flood=[flood(362.0, 0)]), now_ns=T0
    )
    dispatcher = Dispatcher(engine=engine, mqtt_url=None, telegram_api_url=bot.url, backoff_s=0)
    dispatcher.run_once()
    dispatcher.run_once()
    dispatcher.close()
    assert bot.bad == []
    [message] = bot.messages
    assert message["chat_id"] == "-1001234567890"
    text = message["text"]
    # 1763800000 s = 2025-11-22 08:26:40 UTC = 15:26 WIB
    assert "kb-03" in text and "kali-bekasi" in text
    assert "362 cm" in text and "Siaga 1" in text and "bencana" in text
    assert "15:26 WIB, 22 Nov 2025" in text
    attempts = rows(engine, "SELECT outcome, detail FROM alert_delivery_attempts ORDER BY id")
    assert [a["outcome"] for a in attempts] == ["failed", "delivered"]
    assert all(TOKEN not in str(a["detail"]) for a in attempts)  # the token is never recorded


def test_templates_in_english_name_station_level_unit_siaga_and_wib() -> None:
    doc: dict[str, Any] = {
        "type": "alert.transition",
        "transition": {"action": "escalate", "at": "2026-12-04T07:05:00Z", "value": 312.0},
        "alert": {
            "id": 7,
            "rule_kind": "flood_status",
            "severity": "major",
            "device": "kb-03",
            "zone": "kali-bekasi",
            "title": "Flood alert level (Siaga 3 or worse) — kb-03 (kali-bekasi)",
            "value": 312.0,
        },
    }
    english = render(doc, "en")
    assert "WORSE · SIAGA 2 · kb-03 (zone kali-bekasi)" in english
    assert "Water level 312 cm (Siaga 2, critical) at 14:05 WIB, 4 Dec 2026." in english
    bahasa = render(doc, "id")
    assert "MEMBURUK · SIAGA 2 · kb-03 (zona kali-bekasi)" in bahasa
    assert "Tinggi muka air 312 cm (Siaga 2, kritis) pukul 14:05 WIB, 4 Des 2026." in bahasa
    ispu = {**doc, "alert": {**doc["alert"], "rule_kind": "ispu", "severity": "major"}}
    ispu["transition"] = {**doc["transition"], "value": 212.0}
    assert "ISPU 212 (Sangat Tidak Sehat)" in render(ispu, "id")


def test_a_telegram_endpoint_needs_a_chat_id_and_a_bot_token(engine: Engine) -> None:
    store = EndpointStore(engine)
    with pytest.raises(InvalidRequest, match="chat id"):
        store.create(
            Endpoint(id=None, name="t", channel="telegram", target="not a chat", secret=TOKEN)
        )
    with pytest.raises(InvalidRequest, match="bot token"):
        store.create(Endpoint(id=None, name="t", channel="telegram", target="@dlh_bekasi"))
