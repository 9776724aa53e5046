"""The public page and the operations dashboard in a real browser, on real data.

Readings go the whole way: MQTT → ``pantau ingest`` (pipeline, ISPU, flood level,
alert rules) → InfluxDB / SQL → the API → the page in Chromium.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.browser.support import ARTIFACTS, Stack, Watched, login, screenshot, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

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


def expected_ispu(pm25: float) -> int:
    """The index from the brief's table: linear inside a band, bands 0-50-100-200-300-500."""
    xs = (0.0, 15.5, 55.4, 150.4, 250.4, 500.0)
    ys = (0, 50, 100, 200, 300, 500)
    for i in range(1, len(xs)):
        if pm25 <= xs[i]:
            share = (pm25 - xs[i - 1]) / (xs[i] - xs[i - 1])
            return int(ys[i - 1] + share * (ys[i] - ys[i - 1]) + 0.5)
    return 500


@pytest.fixture(scope="module")
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


def check_zones(page: Any, known: Stack, api: dict[str, Any]) -> None:
    for name, (pm25, category, _) in KNOWN_PM25.items():
        device = known.devices[name]
        card = page.locator(f'li.ispu-card[data-zone="{device.zone}"]')
        assert card.get_attribute("data-category") == category
        badge = card.locator(".badge")
        assert badge.locator(".cat").inner_text() == category
        assert api[device.zone]["category"] == category
        shown = int(badge.locator(".num").inner_text())
        assert shown == api[device.zone]["index"]
        assert abs(shown - expected_ispu(pm25)) <= 1, (name, shown)
        # colour is not the only signal: an icon and the words, plus the health advice
        assert badge.locator(".icon").count() == 1
        assert card.locator(".advice").inner_text().strip()
        assert "PM2.5" in card.locator(".meta").inner_text()


def test_public_page_shows_the_ispu_category_of_known_readings(
    known: Stack, open_page: Callable[..., Watched]
) -> None:
    w = open_page()
    page = w.page
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "id"
    api = {z["zone"]: z for z in known.get("/api/v1/ispu")["zones"]}
    check_zones(page, known, api)  # as rendered by the server
    # the page's own refresh (every minute, and when the tab is shown again) redraws
    # the same from the open API
    page.evaluate("document.querySelectorAll('li.ispu-card').forEach(c => c.dataset.old = 1)")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.locator("li.ispu-card[data-old]").first.wait_for(state="detached")
    check_zones(page, known, api)
    # official colours (Baik green, Sedang blue, Tidak Sehat yellow, Sangat Tidak Sehat red)
    colours = {
        "jababeka": "rgb(19, 115, 51)",
        "mm2100": "rgb(26, 95, 208)",
        "ejip": "rgb(246, 196, 0)",
        "hyundai": "rgb(197, 34, 31)",
    }
    for zone, colour in colours.items():
        badge = page.locator(f'li.ispu-card[data-zone="{zone}"] .badge')
        assert badge.evaluate("b => getComputedStyle(b).backgroundColor") == colour
    # flood status per station, numbers in Indonesian format, time in WIB
    station = page.locator(f'#stations tr[data-device="{known.devices["wl-siaga"].id}"]')
    assert station.get_attribute("data-status") == "SIAGA 2"
    assert "Siaga 2" in station.inner_text()
    assert "172 cm" in station.inner_text()
    assert re.search(r"\d{2}\.\d{2} WIB", page.locator("#updated").inner_text())
    assert page.locator('a[href="/api/v1/ispu"]').count() == 1
    # small and fast: no framework, no third-party requests, a few tens of KB in all
    resources = page.evaluate(
        "performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))"
        ".map(e => [e.name, e.decodedBodySize])"
    )
    assert all(name.startswith(known.url) for name, _ in resources)
    total = sum(size for _, size in resources)
    print(f"public page: {len(resources)} files, {total} bytes before compression")
    assert total < 64_000, resources
    screenshot(w, "public-id")

    phone = open_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.page.goto("/")
    phone.page.locator("li.ispu-card").first.wait_for()
    screenshot(phone, "public-phone")


def test_language_switch_is_remembered(known: Stack, open_page: Callable[..., Watched]) -> None:
    w = open_page()
    page = w.page
    page.goto("/")
    assert page.locator("h1").inner_text() == "Kualitas udara dan status banjir"
    page.click('.lang a[data-lang="en"]')
    page.wait_for_url("**/?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Air quality and flood status"
    for name, (_, _, english) in KNOWN_PM25.items():
        zone = known.devices[name].zone
        assert page.locator(f'li.ispu-card[data-zone="{zone}"] .cat').inner_text() == english
    screenshot(w, "public-en")
    # remembered (cookie) on the next page without ?lang=
    page.goto("/login")
    assert page.locator("h1").inner_text() == "Staff login"
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "en"
    # and back
    page.click('.lang a[data-lang="id"]')
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "id"


def test_alert_from_published_readings_appears_live_and_is_acknowledged(
    known: Stack, open_page: Callable[..., Watched]
) -> None:
    w = open_page(viewport={"width": 1600, "height": 1000})
    page = w.page
    login(w, known.keys["operator"])
    page.wait_for_selector('#stream-state[data-state="live"]')
    page.evaluate("window.__sameDocument = true")
    device = known.devices["aq-alert"]
    existing = page.locator(f'li.alert:has(a[href$="/{device.id}"])')
    assert existing.count() == 0

    # Sangat Tidak Sehat (pm2.5 200) raises the shipped default-ispu rule in ingest
    published = time.monotonic()
    known.publish(device.id, [{"pm25": 200.0, "pm10": 40.0}] * 3)
    card = page.locator(f'li.alert[data-status="open"]:has(a[href$="/{device.id}"])')
    card.wait_for(timeout=20_000)
    took = time.monotonic() - published
    print(f"alert on the dashboard {took:.1f} s after publishing")
    assert took < 10
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert card.locator(".tag").first.inner_text() == "Berat"  # severity major, in words
    announced = page.locator("#announce").inner_text()
    assert announced.startswith("Peringatan baru: Kualitas udara tidak sehat")

    # the map and the table show the station in its ISPU category, with words
    def map_shows_it() -> bool:
        marker = page.locator(f'#map a[data-device="{device.id}"]')
        return marker.count() == 1 and "Sangat Tidak Sehat" in (
            marker.get_attribute("aria-label") or ""
        )

    wait_until(map_shows_it, 15, "the station's category on the map")
    good = known.devices["aq-baik"]
    row = page.locator(f'#device-rows tr[data-device="{good.id}"]')
    assert "ISPU" in row.inner_text()
    traffic = page.locator(f'#map a[data-device="{known.devices["tr-macet"].id}"]')
    assert "Macet" in (traffic.get_attribute("aria-label") or "")
    silent = page.locator(f'#map a[data-device="{known.devices["aq-silent"].id}"]')
    assert "Tidak aktif" in (silent.get_attribute("aria-label") or "")
    assert silent.get_attribute("class") == "offline"
    grey = silent.locator(".marker").evaluate("m => getComputedStyle(m).fill")
    assert grey == "rgb(140, 149, 159)"
    screenshot(w, "dashboard", full_page=False)

    # acknowledge with the keyboard
    card.locator('button[data-action="ack"]').focus()
    page.keyboard.press("Enter")
    acked = page.locator(f'li.alert[data-status="acknowledged"]:has(a[href$="/{device.id}"])')
    acked.wait_for()
    alerts = known.get(f"/api/v1/alerts?device={device.id}")
    assert [a["status"] for a in alerts] == ["acknowledged"]
    assert "Sari (operator)" in (alerts[0]["acknowledged_by"] or "")
    assert "Diakui" in acked.inner_text()
    assert "Sari (operator)" in acked.inner_text()
    cards = page.locator("li.alert")
    assert cards.count() == cards.locator("h3 a[href^='/dashboard/devices/']").count()
    screenshot(w, "dashboard-acknowledged", full_page=False)
    page.locator("#map").screenshot(path=str(ARTIFACTS / "dashboard-map.png"))

    # and resolve it: the card leaves the panel
    acked.locator('button[data-action="resolve"]').click()
    acked.wait_for(state="detached")
    assert [a["status"] for a in known.get(f"/api/v1/alerts?device={device.id}")] == ["resolved"]


def test_keyboard_reaches_a_device_page_with_charts_and_history(
    known: Stack, open_page: Callable[..., Watched]
) -> None:
    device = known.devices["aq-baik"]
    headers = {"Authorization": f"Bearer {known.keys['technician']}"}
    import httpx

    httpx.post(
        f"{known.url}/api/v1/devices/{device.id}/maintenance",
        json={"technician": "Budi", "action": "cleaned the inlet", "notes": "filter replaced"},
        headers=headers,
        timeout=10,
    ).raise_for_status()
    w = open_page(viewport={"width": 1280, "height": 900})
    page = w.page
    login(w, known.keys["operator"])
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    marker = page.locator(f'#map a[data-device="{device.id}"]')
    marker.wait_for()
    marker.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/dashboard/devices/{device.id}")
    chart = page.locator('figure.chart[data-metric="pm25"] svg')
    chart.wait_for()
    assert page.locator('figure.chart[data-metric="pm25"] path.raw').count() == 1
    # the out-of-range temperature is marked on its chart
    flags = page.locator('figure.chart[data-metric="temperature"] polygon.flag')
    assert flags.count() >= 1
    assert "di luar rentang" in flags.first.locator("title").text_content()
    wait_until(lambda: page.locator("#completeness").inner_text() != "…", 10, "completeness")
    completeness = page.locator("#completeness").inner_text()
    assert "%" in completeness or "baru terdaftar" in completeness  # registered moments ago
    history = page.locator("#maintenance tbody")
    history.locator("tr").first.wait_for()
    assert "Budi" in history.inner_text()
    screenshot(w, "device")


def test_technician_registers_a_device_on_a_phone(
    known: Stack, open_page: Callable[..., Watched]
) -> None:
    w = open_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = w.page
    login(w, known.keys["technician"], "/dashboard/register")
    screenshot(w, "register-phone")
    new_id = known.devices["aq-baik"].id.replace("aq-baik", "wl-new")
    page.fill("#f-id", new_id)
    page.select_option("#f-kind", "water_level")
    page.select_option("#f-zone", "cikarang")
    assert page.locator("#siaga").is_visible()
    page.fill("#f-s3", "80")
    page.fill("#f-s2", "150")
    page.fill("#f-s1", "200")
    page.fill("#f-address", "Jembatan Kali Cikarang")
    # a mistake first: the API's message is shown next to the form
    page.fill("#f-lat", "6.26")
    page.click("#register button[type=submit]")
    error = page.locator("#reg-error")
    error.wait_for()
    assert "latitude" in error.inner_text().lower()
    assert page.locator("#f-lat").get_attribute("aria-invalid") == "true"
    assert w.errors == [
        "console error: Failed to load resource: the server responded with a status of 400"
        " (Bad Request)"
    ]
    w.errors.clear()
    page.fill("#f-lat", "-6.262")
    # a QC override that is not metric.threshold=number is caught before sending
    page.fill("#f-qc", "water_level.high=lots")
    page.click("#register button[type=submit]")
    assert "water_level.high=lots" in error.inner_text()  # the part it could not read
    assert page.locator("#f-qc").get_attribute("aria-invalid") == "true"
    page.fill("#f-qc", "water_level.high=500; water_level.max_rate_per_s=0.5")
    page.click("#register button[type=submit]")
    page.locator("#created").wait_for()
    assert not page.locator("#register").is_visible()
    assert not error.is_visible()
    assert page.locator("#c-username").inner_text() == new_id
    assert len(page.locator("#c-password").inner_text()) >= 16
    assert page.locator("#c-topic").inner_text() == f"sensors/{new_id}/readings"
    screenshot(w, "register-done-phone")
    device: Any = known.get(f"/api/v1/devices/{new_id}")
    assert device["siaga"] == [80.0, 150.0, 200.0]
    assert device["qc"] == {"water_level": {"high": 500.0, "max_rate_per_s": 0.5}}
    assert device["address"] == "Jembatan Kali Cikarang"


def test_dashboard_needs_a_key(known: Stack, open_page: Callable[..., Watched]) -> None:
    w = open_page()
    page = w.page
    page.goto("/dashboard")
    page.wait_for_url("**/login?next=%2Fdashboard")
    page.fill("#key", "pk_not_a_real_key")
    page.press("#key", "Enter")
    assert page.locator("#login-error").is_visible()
    screenshot(w, "login")
    w.errors.clear()  # the 401 of the failed login is logged by Chromium, as it should be
