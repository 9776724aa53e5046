"""The pages' server side without a browser: strings, WIB formatting, headers, access."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import pytest

from api import errors, i18n
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


def test_head_and_unknown_addresses(api: Api) -> None:
    for path in ("/", "/login", "/docs", "/redoc", static_url("pantau.css")):
        answer = api.client.head(path)
        assert answer.status_code == 200, path
    assert api.client.head("/dashboard", follow_redirects=False).status_code == 303
    # a person gets a page in their language; programs and the API get JSON
    page = api.client.get("/no/such/page?lang=en", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Not found." in page.text and "/no/such/page" in page.text
    indonesian = api.client.get("/nope?lang=id", headers={"Accept": "text/html"})
    assert "Tidak ditemukan." in indonesian.text
    program = api.client.get("/no/such/page")
    assert program.status_code == 404 and program.json()["error"]["code"] == "not_found"
    in_api = api.client.get("/api/v1/nope", headers={"Accept": "text/html,*/*"})
    assert in_api.json()["error"]["code"] == "not_found"


def test_api_docs_are_served_from_pantau_itself(api: Api) -> None:
    for path, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        page = api.client.get(path)
        assert page.status_code == 200
        assert "http://" not in page.text and "https://" not in page.text  # nothing outside
        assert f'src="/docs/assets/{asset}"' in page.text
        assert "connect-src 'self'" in page.headers["content-security-policy"]
        assert api.client.get(f"/docs/assets/{asset}").status_code == 200
    assert api.client.get("/docs/assets/../../pages.py").status_code == 404
    assert api.client.get("/openapi.json").json()["info"]["title"] == "Pantau API"


def test_validation_errors_carry_codes_the_pages_translate(api: Api) -> None:
    answer = api.client.post(
        "/api/v1/devices",
        json={"id": "aq-x", "kind": "air_quality", "zone": "jababeka", "latitude": 91,
              "longitude": 107.1},
        headers={"Authorization": f"Bearer {api.technician}"},
    )  # fmt: skip
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    problem = error["problems"][0] if "problems" in error else error
    assert problem["field"].endswith("latitude")
    # every code the API answers with has words in both languages
    codes = {code for _, _, code in errors._STATUS}
    codes |= {"internal", "method_not_allowed", "rate_limited", "http_error", "import_rejected"}
    used = {"error.code." + code for code in codes}
    for lang in i18n.LANGUAGES:
        table = json.loads((i18n.I18N_DIR / f"{lang}.json").read_text(encoding="utf-8"))
        assert used <= set(table), used - set(table)
    if "problems" in error:
        assert f"error.type.{problem['type']}" in i18n.strings("id")


def test_exports_carry_no_float_noise(api: Api, sql_url: str) -> None:
    """130.24175959000002 (calibration arithmetic) is written as the sensor's 130.24175959."""
    register(sql_url, ["aq-noise"], metrics=("pm25",))
    now = time.time_ns() // 10**9 * 10**9
    api.ctx.store.write([reading("aq-noise", "pm25", now, 130.24175959000002, raw=0.1 + 0.2)])
    headers = {"Authorization": f"Bearer {api.researcher}"}
    base = f"/api/v1/readings?device=aq-noise&start={now // 10**9 - 60}"
    csv_text = api.client.get(base + "&format=csv", headers=headers).text
    assert ",130.24175959,0.3,0," in csv_text and "000002" not in csv_text
    ndjson = api.client.get(base + "&format=ndjson", headers=headers).text
    assert '"value":130.24175959,"raw":0.3' in ndjson
    page = api.client.get(base + "&limit=10", headers=headers).json()
    assert page["data"][0]["value"] == 130.24175959
    import io

    import pyarrow.parquet as pq

    parquet = api.client.get(base + "&format=parquet", headers=headers).content
    assert pq.read_table(io.BytesIO(parquet)).column("value").to_pylist() == [130.24175959]


def _luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_palette_meets_wcag_aa_contrast() -> None:
    """Every badge colour with its text colour, and the page's text colours, at least 4.5:1."""
    css = (i18n.I18N_DIR.parent / "static" / "pantau.css").read_text(encoding="utf-8")
    root = css[css.index(":root {") : css.index("}", css.index(":root {"))]
    palette = dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{3,6})", root))
    scales = re.findall(
        r"\.((?:ispu|flood|traffic)-[a-z0-9-]+|offline|nodata) \{ --c: var\(--([a-z0-9-]+)\);"
        r"(?: --on: (#[0-9a-fA-F]{3,6});)? \}",
        css,
    )
    assert len(scales) == 5 + 4 + 3 + 2, scales
    failures = []
    for name, colour, on in scales:
        ratio = contrast(palette[colour], on or "#fff")
        if ratio < 4.5:
            failures.append(f"{name}: {ratio:.2f}")
    for fg, bg in (("fg", "bg"), ("muted", "bg"), ("muted", "card"), ("accent", "card")):
        ratio = contrast(palette[fg], palette[bg])
        if ratio < 4.5:
            failures.append(f"{fg} on {bg}: {ratio:.2f}")
    assert not failures, failures
    # the three scales do not share a colour (Baik, Siaga 4 and Lancar were all one green)
    colours = [palette[c] for _, c, _ in scales]
    assert len(set(colours)) == len(colours)
