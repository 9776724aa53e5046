"""Each user's task in a real browser, on real data, at 1366×768 and 390×844.

Readings go the whole way: MQTT → ``pantau ingest`` (pipeline, ISPU, flood level,
alert rules) → InfluxDB / SQL → the API → the page in Chromium. Every page opened here
is checked for script errors, requests leaving the machine, horizontal overflow on the
phone and WCAG AA text contrast, and is photographed into ``test-artifacts/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.api.browser.support import (
    ARTIFACTS,
    DESKTOP,
    KNOWN_PM25,
    PHONE,
    SIZES,
    Stack,
    Watched,
    check_page,
    login,
    screenshot,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]
Opener = Callable[..., Watched]


def expected_ispu(pm25: float) -> int:
    """The index from the brief's table: linear inside a band, bands 0-50-100-200-300-500."""
    xs = (0.0, 15.5, 55.4, 150.4, 250.4, 500.0)
    ys = (0, 50, 100, 200, 300, 500)
    for i in range(1, len(xs)):
        if pm25 <= xs[i]:
            share = (pm25 - xs[i - 1]) / (xs[i] - xs[i - 1])
            return int(ys[i - 1] + share * (ys[i] - ys[i - 1]) + 0.5)
    return 500


def check_zones(page: Any, known: Stack, api: dict[str, Any], lang: str) -> None:
    for name, (pm25, category, english) in KNOWN_PM25.items():
        device = known.devices[name]
        card = page.locator(f'li.ispu-card[data-zone="{device.zone}"]')
        assert card.get_attribute("data-category") == category
        badge = card.locator(".badge")
        assert badge.locator(".cat").inner_text() == (category if lang == "id" else english)
        shown = int(badge.locator(".num").inner_text())
        assert shown == api[device.zone]["index"]
        assert abs(shown - expected_ispu(pm25)) <= 1, (name, shown)
        # colour is not the only signal: an icon and the words, plus the health advice
        assert badge.locator(".icon").count() == 1
        assert card.locator(".advice").inner_text().strip()
        meta = card.locator(".meta").inner_text()
        assert "PM2.5" in meta
        # the hour an hourly ISPU covers, as a span, so it does not read as stale
        assert re.search(r"\d{2}[.:]\d{2}–\d{2}[.:]\d{2} WIB", meta), meta


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_public_page_in_indonesian_and_english(known: Stack, open_page: Opener, size: str) -> None:
    w = open_page(**SIZES[size])
    page = w.page
    api = {z["zone"]: z for z in known.get("/api/v1/ispu")["zones"]}
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "id"
    assert page.locator("h1").inner_text() == "Kualitas udara dan status banjir"
    check_zones(page, known, api, "id")  # as rendered by the server
    station = page.locator(f'#stations tr[data-device="{known.devices["wl-siaga"].id}"]')
    assert station.get_attribute("data-status") == "SIAGA 2"
    assert "Siaga 2" in station.inner_text() and "172 cm" in station.inner_text()
    if size == "phone":  # the flood table is a card per station: level and time in view
        level = station.locator("td.n")
        assert level.bounding_box()["x"] + level.bounding_box()["width"] <= 390
        label = level.evaluate("td => getComputedStyle(td, '::before').content")
        assert label == '"Tinggi muka air: "'  # each value says what it is
    check_page(w, "public-id", size)
    # the page's own refresh redraws the same from the open API
    page.evaluate("document.querySelectorAll('li.ispu-card').forEach(c => c.dataset.old = 1)")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.locator("li.ispu-card[data-old]").first.wait_for(state="detached")
    check_zones(page, known, api, "id")

    page.click('.lang a[data-lang="en"]')
    page.wait_for_url("**/?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Air quality and flood status"
    check_zones(page, known, api, "en")
    english = page.locator("main").inner_text()
    for word in ("Pembaruan", "Tinggi muka air", "rata-rata", "Pos"):
        assert word not in english
    check_page(w, "public-en", size)
    page.goto("/")  # remembered
    assert page.locator("html").get_attribute("lang") == "en"
    page.click('.lang a[data-lang="id"]')
    page.wait_for_url("**/?lang=id")
    if size == "desktop":
        # official colours (Baik green, Sedang blue, Tidak Sehat yellow, Sangat Tidak Sehat red)
        colours = {"jababeka": "rgb(19, 115, 51)", "mm2100": "rgb(26, 95, 208)",
                   "ejip": "rgb(246, 196, 0)", "hyundai": "rgb(197, 34, 31)"}  # fmt: skip
        for zone, colour in colours.items():
            badge = page.locator(f'li.ispu-card[data-zone="{zone}"] .badge')
            assert badge.evaluate("b => getComputedStyle(b).backgroundColor") == colour
        resources = page.evaluate(
            "performance.getEntriesByType('resource')"
            ".concat(performance.getEntriesByType('navigation'))"
            ".map(e => [e.name, e.decodedBodySize])"
        )
        total = sum(size for _, size in resources)
        assert total < 64_000, resources  # small: no framework on the public page


def test_office_acknowledges_and_resolves_from_the_keyboard_only(
    known: Stack, open_page: Opener
) -> None:
    w = open_page(**DESKTOP)
    page = w.page
    page.goto("/dashboard")
    page.wait_for_url("**/login?next=*")
    for _ in range(8):  # to the key field, typed, sent with Enter
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "key":
            break
    page.keyboard.type(known.keys["operator"])
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard")
    page.wait_for_selector('#stream-state[data-state="live"]')
    device = known.devices["aq-alert"]
    published = time.monotonic()
    known.publish(device.id, [{"pm25": 200.0, "pm10": 40.0}] * 3)  # Sangat Tidak Sehat
    card = page.locator(f'li.alert[data-status="open"]:has(a[href$="/{device.id}"])')
    card.wait_for(timeout=20_000)
    print(f"alert on the dashboard {time.monotonic() - published:.1f} s after publishing")
    title = card.locator("h3 a").inner_text()
    assert "Sangat Tidak Sehat" in title and device.id in title and "GIIC" in title
    assert "saat dibuka: ISPU" in card.inner_text()
    assert page.locator("#announce").inner_text().startswith("Peringatan baru: Kualitas udara")
    check_page(w, "dashboard", "desktop")

    # skip link first, then straight into the alerts: a handful of Tab presses to "Akui"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "alerts-h"
    page.keyboard.press("Tab")  # the first alert's title (a link to its device)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.action") == "ack"  # the first Akui
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    presses = 0
    ack = card.locator('button[data-action="ack"]')
    while not ack.evaluate("b => b === document.activeElement"):
        page.keyboard.press("Tab")
        presses += 1
        assert presses <= 12, "Akui not reached by keyboard"
    print(f"{presses} Tab presses from the skip link to Akui")
    page.keyboard.press("Enter")
    acked = page.locator(f'li.alert[data-status="acknowledged"]:has(a[href$="/{device.id}"])')
    acked.wait_for()
    assert "Sari (operator)" in acked.inner_text()
    # focus stays on the same alert, on its next action, also across a live update
    focused = (
        'document.activeElement.closest("li.alert")?.dataset.alert'
        ' + ":" + document.activeElement.dataset.action'
    )
    alert_id = acked.get_attribute("data-alert")
    assert page.evaluate(focused) == f"{alert_id}:resolve"
    page.evaluate("document.dispatchEvent(new CustomEvent('pantau:devices'))")
    assert page.evaluate(focused) == f"{alert_id}:resolve"
    assert [a["status"] for a in known.get(f"/api/v1/alerts?device={device.id}")] == [
        "acknowledged"
    ]
    page.keyboard.press("Enter")
    acked.wait_for(state="detached")
    moved = 'document.activeElement.closest(".alerts-panel") !== null'
    wait_until(lambda: bool(page.evaluate(moved)), 5, "the focus to stay in the alerts")
    assert [a["status"] for a in known.get(f"/api/v1/alerts?device={device.id}")] == ["resolved"]

    # the map: markers with their level in words, shapes by kind, colours by scale
    def map_shows(device_id: str, words: str) -> bool:
        marker = page.locator(f'#map a[data-device="{device_id}"]')
        return marker.count() == 1 and words in (marker.get_attribute("aria-label") or "")

    wait_until(lambda: map_shows(device.id, "Sangat Tidak Sehat"), 35, "the category on the map")
    assert map_shows(known.devices["tr-macet"].id, "Macet")
    assert map_shows(known.devices["aq-silent"].id, "Tidak aktif")
    fills = {
        name: page.locator(f'#map a[data-device="{known.devices[name].id}"] .marker').evaluate(
            "m => m.tagName + ' ' + getComputedStyle(m).fill"
        )
        for name in ("aq-baik", "wl-siaga", "tr-macet", "aq-silent")
    }
    assert fills["aq-baik"].startswith("circle") and fills["wl-siaga"].startswith("polygon")
    assert fills["tr-macet"].startswith("rect")
    assert len({f.split(" ", 1)[1] for f in fills.values()}) == 4  # four distinct colours
    legend = page.locator(".legend-box")
    assert legend.locator("svg circle").count() >= 5 and legend.locator("svg polygon").count() >= 4
    # pan and zoom, by keyboard too; zone labels never overlap
    zoom = page.evaluate("() => document.querySelector('#map').className")
    assert "leaflet-container" in zoom
    labels_overlap = """() => {
      const r = Array.from(document.querySelectorAll('#map .zone-label:not(.collides) .zone-inner'))
        .map(e => e.getBoundingClientRect());
      return r.some((a, i) => r.some((b, j) => i < j && a.left < b.right && a.right > b.left
        && a.top < b.bottom && a.bottom > b.top));
    }"""
    assert page.evaluate(labels_overlap) is False
    page.focus("#map")
    before = page.locator(".leaflet-proxy").get_attribute("style")
    page.keyboard.press("Equal")
    page.wait_for_timeout(400)
    assert page.locator(".leaflet-proxy").get_attribute("style") != before
    assert page.evaluate(labels_overlap) is False
    pane = page.locator(".leaflet-map-pane")
    before = pane.get_attribute("style")
    page.keyboard.press("ArrowRight")  # pans
    wait_until(lambda: pane.get_attribute("style") != before, 3, "the map to pan")
    for _ in range(6):  # station labels from zoom 14 on
        if "show-station-labels" in (page.locator("#map").get_attribute("class") or ""):
            break
        page.keyboard.press("Equal")
        page.wait_for_timeout(300)
    assert page.locator("#map .dev-label").first.is_visible()
    page.locator("#map").screenshot(path=str(ARTIFACTS / "dashboard-map-desktop.png"))

    phone = open_page(**PHONE)
    login(phone, known.keys["operator"])
    phone.page.locator("#device-rows tr").first.wait_for()
    alerts_y = phone.page.locator(".alerts-panel").bounding_box()["y"]
    assert alerts_y < phone.page.locator("#map").bounding_box()["y"]  # alerts first
    check_page(phone, "dashboard", "phone")


def test_technician_registers_on_a_phone_and_sees_the_device_report(
    known: Stack, open_page: Opener
) -> None:
    w = open_page(**PHONE)
    page = w.page
    login(w, known.keys["technician"], "/dashboard/register")
    check_page(w, "register", "phone")
    # a required field left empty: said in Indonesian, not in the browser's language
    page.click("#register button[type=submit]")
    error = page.locator("#reg-error")
    assert error.inner_text() == "ID perangkat: wajib diisi"
    new_id = known.devices["aq-baik"].id.replace("aq-baik", "wl-new")
    page.fill("#f-id", new_id)
    page.select_option("#f-kind", "water_level")
    page.select_option("#f-zone", "cikarang")
    page.fill("#f-s3", "80")
    page.fill("#f-s2", "150")
    page.fill("#f-s1", "200")
    page.fill("#f-address", "Jembatan Kali Cikarang")
    # a mistake the server catches: its answer comes back in Indonesian, on the field
    page.fill("#f-lat", "6.26")
    page.click("#register button[type=submit]")
    error.wait_for()
    wait_until(lambda: "Lintang" in error.inner_text(), 5, "the server's error")
    assert "Lintang (latitude)" in error.inner_text() and "must" not in error.inner_text()
    assert page.locator("#f-lat").get_attribute("aria-invalid") == "true"
    assert len(w.errors) == 1 and "400" in w.errors[0]  # Chromium logs the refused request
    w.errors.clear()
    page.fill("#f-lat", "-6.262")
    page.fill("#f-qc", "water_level.high=lots")
    page.click("#register button[type=submit]")
    assert "water_level.high=lots" in error.inner_text()
    page.fill("#f-qc", "water_level.high=500; water_level.max_rate_per_s=0.5")
    page.click("#register button[type=submit]")
    page.locator("#created").wait_for()
    assert page.locator("#c-username").inner_text() == new_id
    assert page.locator("#c-topic").inner_text() == f"sensors/{new_id}/readings"
    page.click('button[data-copy="c-username"]')
    wait_until(lambda: bool(page.locator("#copy-state").inner_text()), 5, "copy feedback")
    # clipboard access refused (as phones do without permission): the text is selected
    # and the page says how to copy it
    page.evaluate(
        "() => { navigator.clipboard.writeText = () =>"
        " Promise.reject(new DOMException('refused', 'NotAllowedError')); }"
    )
    page.click('button[data-copy="c-password"]')
    wait_until(lambda: "Ctrl+C" in page.locator("#copy-state").inner_text(), 5, "copy advice")
    assert page.evaluate("getSelection().toString()") == page.locator("#c-password").inner_text()
    check_page(w, "register-done", "phone")
    device: Any = known.get(f"/api/v1/devices/{new_id}")
    assert device["siaga"] == [80.0, 150.0, 200.0]

    # the device report: its thresholds, whether it reports, completeness, downloads
    page.click("#c-link")
    page.wait_for_url(f"**/dashboard/devices/{new_id}")
    thresholds = page.locator("#thresholds").inner_text()
    for text in ("Siaga 3", "≥ 80", "Siaga 2", "≥ 150", "Siaga 1", "≥ 200"):
        assert text in thresholds
    wait_until(lambda: page.locator("#reporting").inner_text() != "…", 10, "reporting state")
    assert "Tidak melapor" in page.locator("#reporting").inner_text()
    wait_until(lambda: "%" in page.locator("#completeness").inner_text(), 10, "completeness")
    assert page.locator('.download a[data-format="parquet"]').get_attribute("href")
    check_page(w, "device-new", "phone")
    desktop = open_page(**DESKTOP)
    login(desktop, known.keys["technician"], "/dashboard/register")
    check_page(desktop, "register", "desktop")


def axis_text_px(page: Any) -> float:
    """The smallest rendered size of chart text, in CSS pixels."""
    return float(
        page.evaluate(
            "Math.min(...Array.from(document.querySelectorAll('figure.chart svg text')).map(t => {"
            " const svg = t.ownerSVGElement;"
            " const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;"
            " return parseFloat(getComputedStyle(t).fontSize) * scale; }))"
        )
    )


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_device_pages_speak_the_domain(known: Stack, open_page: Opener, size: str) -> None:
    w = open_page(**SIZES[size])
    page = w.page
    air = known.devices["aq-baik"].id
    login(w, known.keys["operator"], f"/dashboard/devices/{air}")
    page.locator('figure.chart[data-metric="temperature"] svg').wait_for()
    # ISPU history with its category bands first, then pollutants in ISPU order
    order = page.eval_on_selector_all("figure.chart", "fs => fs.map(f => f.dataset.metric)")
    assert order[0] == "ispu"
    assert order.index("pm10") < order.index("pm25") < order.index("temperature")
    assert page.locator('figure.chart[data-metric="ispu"] rect.ispu-band').count() >= 2
    heading = page.locator('figure.chart[data-metric="pm25"] h3').inner_text()
    assert heading == "Partikulat halus PM2.5 (µg/m³)"
    # the out-of-range 95 °C is flagged and drawn at the edge, not flattening 28-29 °C
    flag = page.locator('figure.chart[data-metric="temperature"] polygon.flag.offscale')
    assert flag.count() == 1
    assert "di luar rentang" in (flag.locator("title").text_content() or "")
    ticks = page.eval_on_selector_all(
        'figure.chart[data-metric="temperature"] svg > text[text-anchor="end"]',
        "ts => ts.map(t => t.textContent)",
    )
    assert all(float(v.replace(",", ".")) < 40 for v in ticks), ticks
    assert axis_text_px(page) >= 11
    wait_until(lambda: "%" in page.locator("#completeness").inner_text(), 10, "completeness")
    check_page(w, "device-air", size)

    water = known.devices["wl-siaga"].id
    page.goto(f"/dashboard/devices/{water}")
    page.locator('figure.chart[data-metric="water_level"] svg').wait_for()
    lines = page.locator('figure.chart[data-metric="water_level"] line.siaga')
    assert lines.count() == 3
    labels = page.locator('figure.chart[data-metric="water_level"] text.siaga-label')
    assert "Siaga 2 · 150 cm" in labels.all_text_contents()
    assert "≥ 150" in page.locator("#thresholds").inner_text()
    assert axis_text_px(page) >= 11
    check_page(w, "device-water", size)


def _api_rows(known: Stack, href: str) -> list[dict[str, Any]]:
    path = re.sub(r"format=\w+", "format=json", href)
    return known.get(path, role="researcher")["data"]  # type: ignore[no-any-return]


def test_researcher_downloads_csv_and_parquet_matching_the_api(
    known: Stack, open_page: Opener, tmp_path: Any
) -> None:
    import csv

    import pyarrow.parquet as pq

    w = open_page(**DESKTOP, accept_downloads=True)
    page = w.page
    device = known.devices["aq-sedang"].id
    login(w, known.keys["researcher"], f"/dashboard/devices/{device}")
    page.locator('figure.chart[data-metric="pm25"] svg').wait_for()

    def download(link: Any) -> Any:
        with page.expect_download() as info:
            link.click()
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        return path

    csv_link = page.locator('.download a[data-format="csv"]')
    href = csv_link.get_attribute("href")
    expected = _api_rows(known, href)
    assert len(expected) == 12  # 3 readings x 4 metrics
    with open(download(csv_link), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(expected)
    by_key = {(r["time"], r["metric"]): r for r in rows}
    for want in expected:
        got = by_key[(want["time"], want["metric"])]
        assert float(got["value"]) == want["value"] and int(got["flags"]) == want["flags"]
        assert got["device"] == device
    table = pq.read_table(download(page.locator('.download a[data-format="parquet"]')))
    got_rows = table.to_pylist()
    assert len(got_rows) == len(expected)
    assert sorted((r["metric"], r["value"], r["flags"]) for r in got_rows) == sorted(
        (r["metric"], r["value"], r["flags"]) for r in expected
    )
    page.check('input[name="dl-source"][value="1h"]')
    assert "source=1h" in (csv_link.get_attribute("href") or "")

    # a zone's data, on a phone
    phone = open_page(**PHONE, accept_downloads=True)
    login(phone, known.keys["researcher"], "/dashboard/data")
    p = phone.page
    p.select_option("#d-zone", known.devices["aq-sedang"].zone)
    p.select_option("#d-metric", "pm25")
    p.click("#selection button[type=submit]")
    p.locator("#d-rows tbody tr").first.wait_for()
    assert p.locator("#d-rows tbody tr").count() == 3
    link = p.locator('#result a[data-format="csv"]')
    expected = _api_rows(known, link.get_attribute("href") or "")
    with p.expect_download() as info:
        link.click()
    saved = tmp_path / "zone.csv"
    info.value.save_as(saved)
    with open(saved, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["time"], float(r["value"])) for r in rows] == [
        (r["time"], r["value"]) for r in expected
    ]
    check_page(phone, "data", "phone")
    check_page(w, "device-download", "desktop")
    page.goto("/dashboard/data")
    check_page(w, "data", "desktop")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_api_docs_work_with_the_network_blocked(known: Stack, open_page: Opener, size: str) -> None:
    w = open_page(**SIZES[size])  # every non-loopback request is aborted and fails the test
    page = w.page
    page.goto("/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 10
    assert "/api/v1/readings" in page.locator("#swagger-ui").inner_text()
    screenshot(w, f"docs-{size}", full_page=False)
    page.goto("/redoc")
    page.locator("h1", has_text="Pantau API").wait_for()
    assert page.locator("h2", has_text="Readings of devices, zones and metrics").count() == 1
    screenshot(w, f"redoc-{size}", full_page=False)
    assert not w.blocked


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_unknown_address_and_login(known: Stack, open_page: Opener, size: str) -> None:
    w = open_page(**SIZES[size])
    page = w.page
    answer = page.goto("/no/such/page")
    assert answer is not None and answer.status == 404
    assert page.locator("h1").inner_text() == "Tidak ditemukan."
    w.errors.clear()  # Chromium logs the 404 itself
    check_page(w, "notfound", size)
    page.goto("/dashboard")
    page.wait_for_url("**/login?next=%2Fdashboard")
    page.fill("#key", "pk_not_a_real_key")
    page.press("#key", "Enter")
    assert page.locator("#login-error").is_visible()
    w.errors.clear()  # the 401 of the failed login is logged by Chromium, as it should be
    check_page(w, "login", size)


def test_keyboard_reaches_a_device_page_from_the_map(known: Stack, open_page: Opener) -> None:
    device = known.devices["aq-baik"]
    httpx.post(
        f"{known.url}/api/v1/devices/{device.id}/maintenance",
        json={"technician": "Budi", "action": "cleaned the inlet", "notes": "filter replaced"},
        headers={"Authorization": f"Bearer {known.keys['technician']}"},
        timeout=10,
    ).raise_for_status()
    w = open_page(**DESKTOP)
    page = w.page
    login(w, known.keys["operator"])
    marker = page.locator(f'#map a[data-device="{device.id}"]')
    marker.wait_for()
    marker.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/dashboard/devices/{device.id}")
    history = page.locator("#maintenance tbody")
    history.locator("tr").first.wait_for()
    assert "Budi" in history.inner_text()
