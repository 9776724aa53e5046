"""Helpers for the browser tests: the live stack's handle, pages that watch for errors."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from pantau.store import InfluxStore
from tests.harness import TestPublisher

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("PANTAU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass
class Device:
    id: str
    kind: str
    zone: str
    latitude: float
    longitude: float
    siaga: list[float] | None = None


@dataclass
class Stack:
    url: str
    store: InfluxStore
    sql_url: str
    mqtt_url: str
    keys: dict[str, str]
    devices: dict[str, Device] = field(default_factory=dict)
    publisher: TestPublisher | None = None

    def get(self, path: str, role: str = "operator") -> Any:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        response = httpx.get(self.url + path, headers=headers, timeout=10)
        response.raise_for_status()
        return response.json()

    def publish(self, device: str, values: list[dict[str, float]], *, step_s: int = 60) -> None:
        """Readings ending now, one every ``step_s`` seconds, over MQTT QoS 1."""
        assert self.publisher is not None
        now_ms = int(time.time() * 1000)
        start = now_ms - (len(values) - 1) * step_s * 1000
        batch = [
            {"ts": start + i * step_s * 1000, "seq": i, "values": v} for i, v in enumerate(values)
        ]
        self.publisher.publish(f"sensors/{device}/readings", batch)  # type: ignore[arg-type]


#: The devices every browser test can rely on (ids get a per-module prefix).
#: Air stations in different zones get readings in different ISPU bands.
DEVICES = (
    Device("aq-baik", "air_quality", "jababeka", -6.2897, 107.1540),
    Device("aq-sedang", "air_quality", "mm2100", -6.3120, 107.0930),
    Device("aq-tidak", "air_quality", "ejip", -6.3400, 107.1330),
    Device("aq-sangat", "air_quality", "hyundai", -6.3560, 107.1700),
    Device("aq-alert", "air_quality", "giic-deltamas", -6.3650, 107.2160),
    Device("wl-siaga", "water_level", "kali-bekasi", -6.2350, 107.0050, [80.0, 150.0, 200.0]),
    Device("tr-macet", "traffic", "lippo-cikarang", -6.3300, 107.1400),
    Device("aq-silent", "air_quality", "cikarang", -6.2620, 107.1470),  # never reports
)


#: pm2.5 (µg/m³) well inside one ISPU band each (Permen LHK P.14/2020 breakpoints
#: 15.5 / 55.4 / 150.4 / 250.4), so the category cannot depend on rounding.
KNOWN_PM25 = {
    "aq-baik": (8.0, "Baik", "Good"),
    "aq-sedang": (35.0, "Sedang", "Moderate"),
    "aq-tidak": (100.0, "Tidak Sehat", "Unhealthy"),
    "aq-sangat": (200.0, "Sangat Tidak Sehat", "Very unhealthy"),
}
# thresholds 80 / 150 / 200: SIAGA 2 once two readings above 150 confirm it (issue 18)
WATER_CM = [100.0, 130.0, 170.0, 172.0]


@dataclass
class Watched:
    """A page whose script errors and outside requests (``blocked``) fail the test."""

    page: Any
    errors: list[str]
    blocked: list[str] = field(default_factory=list)


#: the two screens of the issue: the office's wall screen / laptop and a technician's phone
DESKTOP: dict[str, Any] = {"viewport": {"width": 1366, "height": 768}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
SIZES = {"desktop": DESKTOP, "phone": PHONE}

#: WCAG 2.x contrast of every visible text node's colour against the background behind it
#: (the first ancestor with an opaque background); large text (>= 24 px, or >= 18.66 px
#: bold) needs 3:1, the rest 4.5:1. Returns the failures.
CONTRAST_JS = (Path(__file__).parent / "contrast.js").read_text(encoding="utf-8")


def check_page(w: Watched, name: str, size: str) -> None:
    """A screenshot, no horizontal overflow (nothing past the right edge), WCAG AA contrast."""
    page = w.page
    screen = page.viewport_size["width"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= screen, f"{name}: {width} px wide on a {screen} px screen"
    wide = page.evaluate(
        "(screen) => Array.from(document.querySelectorAll('body *')).filter(e => {"
        " const r = e.getBoundingClientRect(); return r.width && r.right > screen + 1"
        " && !e.closest('.leaflet-pane, .leaflet-control-container'); })"
        ".map(e => e.tagName + '.' + e.className).slice(0, 5)",
        screen,
    )
    assert not wide, f"{name}: elements past the right edge: {wide}"
    failures = page.evaluate(CONTRAST_JS)
    assert not failures, f"{name} ({size}): low contrast: {failures}"
    screenshot(w, f"{name}-{size}")


def login(w: Watched, key: str, target: str = "/dashboard") -> None:
    """Through the login form, as an operator would."""
    w.page.goto(target)
    w.page.wait_for_url("**/login?next=*")
    w.page.fill("#key", key)
    w.page.press("#key", "Enter")
    w.page.wait_for_url(f"**{target}")


def screenshot(w: Watched, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    w.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took; fails after ``timeout``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - start
