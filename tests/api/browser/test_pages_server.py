"""The pages' server side without a browser: strings, WIB formatting, headers, access."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import pytest

from api import i18n
from api.routes.pages import MAX_RAW_POINTS, static_url
from devices.registry import Registry
from tests.api.conftest import Api, reading
from tests.harness import register

pytestmark = pytest.mark.integration


def test_both_languages_have_the_same_keys() -> None:
    tables = {
        lang: json.loads((i18n.I18N_DIR / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in i18n.LANGUAGES
    }
    assert set(tables["id"]) == set(tables["en"])
    assert all(v.strip() for table in tables.values() for v in table.values())


def test_every_key_used_in_templates_and_scripts_exists() -> None:
    web = i18n.I18N_DIR.parent
    used: set[str] = set()
    for path in (web / "templates").glob("*.html"):
        used |= set(
            re.findall(r"""\bt\(["']([a-z_]+\.[A-Za-z0-9_. ]+|skip)["']\)""", path.read_text())
        )
    for path in (web / "static").glob("*.js"):
        used |= set(re.findall(r"""\bt\("([a-z_]+\.[A-Za-z0-9_. ]+)"\)""", path.read_text()))
    assert used, "no keys found: the pattern is wrong"
    assert not used - set(i18n.strings("id"))


@pytest.mark.parametrize(
    ("lang", "number", "moment"),
    [("id", "1.234,5", "22 Nov 2026 08.05 WIB"), ("en", "1,234.5", "22 Nov 2026 08:05 WIB")],
)
def test_numbers_and_times_in_the_local_format(lang: str, number: str, moment: str) -> None:
    t = i18n.Translator(lang)
    assert t.number(1234.5, 1) == number
    assert t.moment(datetime(2026, 11, 22, 1, 5, tzinfo=UTC)) == moment


def test_language_choice() -> None:
    assert i18n.choose(None, None) == "id"
    assert i18n.choose("en", "id") == "en"
    assert i18n.choose(None, "en") == "en"
    assert i18n.choose("fr", "xx") == "id"


def test_public_page_needs_no_key_and_sends_a_strict_policy(api: Api) -> None:
    page = api.client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "Belum ada data ISPU" in page.text  # no data yet, said in words
    english = api.client.get("/?lang=en")
    assert "No ISPU data" in english.text
    assert english.cookies.get(i18n.COOKIE) == "en"


def test_pages_are_compressed_but_api_answers_are_not(api: Api) -> None:
    page = api.client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers.get("content-encoding") == "gzip"
    flood = api.client.get("/api/v1/flood", headers={"Accept-Encoding": "gzip"})
    assert flood.status_code == 200 and "content-encoding" not in flood.headers


def test_dashboard_pages_need_a_key(api: Api) -> None:
    for path in ("/dashboard", "/dashboard/register", "/dashboard/devices/aq-1"):
        answer = api.client.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")
    assert api.client.get("/dashboard/map.json").status_code == 401
    bad = api.client.post("/login", data={"key": "pk_nope", "next": "/dashboard"})
    assert bad.status_code == 401
    good = api.client.post(
        "/login", data={"key": api.operator, "next": "//evil.example/"}, follow_redirects=False
    )
    assert good.headers["location"] == "/dashboard"  # no open redirect
    cookie = good.headers["set-cookie"]
    assert "pantau_key=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert api.client.get("/dashboard/map.json").json() == {"devices": []}
    assert api.client.get("/dashboard/devices/nope").status_code == 404


def test_static_files_are_cached_by_content_and_stay_inside_the_folder(api: Api) -> None:
    url = static_url("pantau.css")
    answer = api.client.get(url)
    assert answer.status_code == 200
    assert "immutable" in answer.headers["cache-control"]
    assert "max-age=300" in api.client.get("/static/pantau.css?v=old").headers["cache-control"]
    for path in ("/static/../routes/pages.py", "/static/%2e%2e/routes/pages.py", "/static/nope.js"):
        assert api.client.get(path).status_code == 404


def test_device_page_shows_qc_overrides_in_both_languages(api: Api, sql_url: str) -> None:
    register(sql_url, ["aq-plain", "aq-qc"])
    Registry(api.ctx.engine).update("aq-qc", {"qc": {"pm25": {"high": 400}}})
    api.client.post("/login", data={"key": api.researcher})
    page = api.client.get("/dashboard/devices/aq-qc?lang=id").text
    assert "Ambang QC" in page and "pm25.high=400" in page
    plain = api.client.get("/dashboard/devices/aq-plain?lang=en").text
    assert "QC thresholds" in plain and "the metrics&#39; defaults" in plain


def test_chart_data_is_capped_and_marks_flags(api: Api, sql_url: str) -> None:
    register(sql_url, ["aq-chart"], metrics=("pm25", "temperature"), interval_s=1)
    now = time.time_ns() // 10**9 * 10**9
    hour_ns = 3600 * 10**9
    lines = [reading("aq-chart", "pm25", now - i * 10**9, 20.0) for i in range(MAX_RAW_POINTS + 50)]
    lines += [
        reading("aq-chart", "temperature", now - 60 * 10**9, 95.0, flags=1),
        reading("aq-chart", "temperature", now, 30.0),
        "readings_1h,device=aq-chart,kind=air_quality,metric=pm25,zone=jababeka "
        f"mean=20.0,min=19.0,max=21.0,count=3600i,flags=0i {now - now % hour_ns}",
    ]
    api.ctx.store.write(lines)
    api.client.post("/login", data={"key": api.researcher})
    data = api.client.get("/dashboard/devices/aq-chart/series.json?hours=24").json()
    pm25 = data["metrics"]["pm25"]
    assert len(pm25["raw"]) == MAX_RAW_POINTS
    assert pm25["raw"][-1][0] == now // 1_000_000  # the newest kept, in time order
    assert pm25["raw"] == sorted(pm25["raw"])
    assert pm25["unit"] == "µg/m³"
    assert data["raw_limited"] is True and data["raw_complete"] is False
    assert [p[1:] for p in pm25["hourly"]] == [[20.0, 19.0, 21.0, 0]]
    assert [p[1:] for p in data["metrics"]["temperature"]["raw"]] == [[95.0, 1], [30.0, 0]]
    week = api.client.get("/dashboard/devices/aq-chart/series.json?hours=168").json()
    assert [p[1:] for p in week["metrics"]["temperature"]["raw"]] == [[95.0, 1]]  # flagged only
    assert api.client.get("/dashboard/devices/aq-chart/series.json?hours=0").status_code == 422


def test_a_tile_server_is_allowed_only_when_configured(api: Api) -> None:
    api.client.post("/login", data={"key": api.operator})
    plain = api.client.get("/dashboard")
    assert '"tile_url": ""' in plain.text
    assert "img-src 'self' data:;" in plain.headers["content-security-policy"]
    api.ctx.tile_url = "https://tiles.dlh.example/osm/{z}/{x}/{y}.png"
    tiled = api.client.get("/dashboard")
    assert "https://tiles.dlh.example/osm/{z}/{x}/{y}.png" in tiled.text
    csp = tiled.headers["content-security-policy"]
    assert "img-src 'self' data: https://tiles.dlh.example;" in csp
    assert "connect-src 'self'" in csp
