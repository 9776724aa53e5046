"""The public page (``/``), the operations dashboard (``/dashboard…``), login and static assets.

Pages are rendered on the server (Jinja2, autoescaped) in the visitor's language with
the current numbers already in the HTML, then kept fresh by small scripts from
``/static`` (plain JS, no CDN, no build step). The dashboard needs an API key: the
login form stores it in the ``pantau_key`` cookie (HttpOnly, SameSite=Strict), which
:func:`api.auth.require` accepts like a bearer token, so the scripts call the
ordinary ``/api/v1`` endpoints with it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from api import derived, i18n
from api.auth import context, require
from api.context import AppContext
from api.keys import ApiKey
from api.routes import apidocs
from devices.kinds import KINDS
from devices.qc import qc_text
from devices.registry import Registry
from devices.status import is_reporting
from devices.zones import BOUNDS, ZONE_INDEX, ZONES
from pantau import schema
from pantau.catalogue import METRIC_INDEX, METRICS, QC_THRESHOLDS
from pantau.errors import NotFound, PantauError, Unauthenticated
from pantau.store import InfluxStore, quote_ident, quote_string

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
router.include_router(apidocs.router)
Ctx = Annotated[AppContext, Depends(context)]
ANY_KEY = Depends(require("researcher", "operator", "technician"))

WEB = Path(__file__).resolve().parent.parent / "web"
STATIC = WEB / "static"
KEY_COOKIE = "pantau_key"
KEY_MAX_AGE = 12 * 3600  # an operator logs in once per shift
RECENT_NS = 24 * 3600 * 1_000_000_000  # what "current" means, as in the open API
MS = 1_000_000
MAX_RAW_POINTS = 5_000  # per metric and chart; the hourly band covers the whole range

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(WEB / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["schema"] = schema  # ISPU categories, Siaga statuses and traffic levels
_DEVICE = quote_ident(schema.TAG_DEVICE)
_METRIC = quote_ident(schema.TAG_METRIC)
_FLAGS = quote_ident(schema.FIELD_FLAGS)


# ── static assets ──────────────────────────────────────────────────────────────


@cache
def _fingerprint(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """``/static/<name>?v=<content hash>``: cached for a year, busted by any change."""
    return f"/static/{name}?v={_fingerprint(name)}"


@router.api_route("/static/{name:path}", methods=["GET", "HEAD"])
def static_file(name: str, v: str = "") -> Response:
    path = (STATIC / name).resolve()
    if not path.is_file() or STATIC.resolve() not in path.parents:
        raise NotFound(f"no static file {name!r}")
    immutable = v and v == _fingerprint(str(path.relative_to(STATIC.resolve())))
    cache_control = "public, max-age=31536000, immutable" if immutable else "public, max-age=300"
    return FileResponse(path, headers={"Cache-Control": cache_control})


# ── rendering ─────────────────────────────────────────────────────────────────


def _tile_origin(tile_url: str) -> str:
    parts = urlsplit(tile_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    ctx = context(request)
    lang = i18n.choose(request.query_params.get("lang"), request.cookies.get(i18n.COOKIE))
    t = i18n.Translator(lang)
    html = _env.get_template(template).render(
        t=t, lang=lang, static=static_url, strings=i18n.strings(lang), path=request.url.path,
        languages=i18n.LANGUAGES, **values,
    )  # fmt: skip
    tiles = (" " + _tile_origin(ctx.tile_url)).rstrip()
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data:{tiles}; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'"
    )
    response = HTMLResponse(html, status, headers={
        "Content-Security-Policy": csp, "Cache-Control": "no-cache", "Vary": "Cookie",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
    })  # fmt: skip
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def _operator(request: Request) -> ApiKey | None:
    token = request.cookies.get(KEY_COOKIE, "")
    if not token:
        return None
    try:
        return context(request).keys.authenticate(token)
    except Unauthenticated:
        return None


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", 303)


def _safe_next(target: str) -> str:
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok else "/dashboard"


# ── what the pages show: the open API's current ISPU and flood status ───────


def public_view(store: InfluxStore) -> dict[str, Any]:
    """ISPU per zone (its worst station, as ``/api/v1/ispu``) and flood status per station."""
    now = time.time_ns()
    since = now - RECENT_NS
    stations = derived.current_ispu(store, since_ns=since)
    zones = sorted(derived.worst_per_zone(stations), key=lambda s: (-s.index, s.zone))
    flood = derived.current_flood(store, now_ns=now, since_ns=since)
    flood = sorted(flood, key=lambda s: (s.siaga or 5, s.device))
    times = [s.time for s in zones] + [f.time for f in flood]
    return {
        "zones": [{**asdict(z), "name": _zone_name(z.zone)} for z in zones],
        "stations": [{**asdict(f), "name": _zone_name(f.zone)} for f in flood if f.siaga],
        "updated": max(times) if times else None,
    }


def _zone_name(zone: str) -> str:
    return ZONE_INDEX[zone].name if zone in ZONE_INDEX else zone


def _traffic(store: InfluxStore) -> dict[str, str]:
    statement = (
        f"SELECT {quote_ident(schema.FIELD_LEVEL)} FROM {quote_ident(schema.TRAFFIC)} "
        f"WHERE time > now() - 1h GROUP BY {_DEVICE} ORDER BY time DESC LIMIT 1"
    )
    return {
        s.tags.get(schema.TAG_DEVICE, ""): str(row[1])
        for s in store.query(statement)
        for row in s.values
    }


def _moment(t: i18n.Translator, value: str | None) -> str:
    return t.moment(datetime.fromisoformat(value)) if value else ""


def _hour(t: i18n.Translator, value: str | None) -> str:
    """An hourly ISPU's hour as the span it covers, ``22 Nov 2026 20.00–21.00 WIB``."""
    if not value:
        return ""
    start = datetime.fromisoformat(value)
    end = t.moment(start + timedelta(hours=1))
    return t.moment(start).removesuffix(" WIB") + "–" + end.split(" ")[-2] + " WIB"


# ── public ───────────────────────────────────────────────────────────────────


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def public_page(request: Request, ctx: Ctx) -> HTMLResponse:
    try:
        view: dict[str, Any] | None = public_view(ctx.store)
    except PantauError:
        log.exception("public page: cannot read the current ISPU and flood status")
        view = None
    names = {z.id: z.name for z in ZONES}
    try:  # a station is known by its place (the registry's address), its id below it
        places = {d.id: d.address for d in Registry(ctx.engine).list(kind="water_level")}
    except PantauError:
        places = {}
    if view is not None:
        for station in view["stations"]:
            station["place"] = places.get(station["device"]) or ""
        view["stations"].sort(key=lambda s: (s["siaga"] or 5, s["place"] or s["device"]))
    return render(
        request, "public.html", view=view, moment=_moment, hour=_hour, zone_names=names,
        places={k: v for k, v in places.items() if v},
    )  # fmt: skip


# ── login ────────────────────────────────────────────────────────────────────


@router.api_route("/login", methods=["GET", "HEAD"], response_class=HTMLResponse)
def login_page(request: Request, next: str = "/dashboard") -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next), error=False)


@router.post("/login", response_model=None)
def login(
    request: Request,
    key: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/dashboard",
) -> Response:
    token = key.strip()
    try:
        context(request).keys.authenticate(token)
    except Unauthenticated:
        return render(request, "login.html", status=401, next=_safe_next(next), error=True)
    response = RedirectResponse(_safe_next(next), 303)
    response.set_cookie(
        KEY_COOKIE, token, max_age=KEY_MAX_AGE, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/",
    )  # fmt: skip
    return response


@router.post("/logout")
def logout() -> RedirectResponse:
    response = RedirectResponse("/", 303)
    response.delete_cookie(KEY_COOKIE, path="/", httponly=True, samesite="strict")
    return response


# ── dashboard ────────────────────────────────────────────────────────────────


def _map_config(ctx: AppContext) -> dict[str, Any]:
    return {
        "bounds": {"lat_min": BOUNDS.lat_min, "lat_max": BOUNDS.lat_max,
                   "lon_min": BOUNDS.lon_min, "lon_max": BOUNDS.lon_max},
        "zones": [{"id": z.id, "name": z.name, "category": z.category,
                   "lat": z.latitude, "lon": z.longitude} for z in ZONES],
        "tile_url": ctx.tile_url,
    }  # fmt: skip


@router.api_route("/dashboard", methods=["GET", "HEAD"], response_model=None)
def dashboard(request: Request, ctx: Ctx) -> Response:
    key = _operator(request)
    if key is None:
        return _to_login(request)
    return render(request, "dashboard.html", key=key, config=_map_config(ctx))


@router.get("/dashboard/map.json", dependencies=[ANY_KEY])
def map_data(ctx: Ctx) -> dict[str, Any]:
    """Every registered device with its position, whether it reports, and its newest level."""
    now = datetime.now(UTC)
    since = time.time_ns() - RECENT_NS
    ispu = {s.device: s for s in derived.current_ispu(ctx.store, since_ns=since)}
    now_ns = time.time_ns()
    flood = {s.device: s for s in derived.current_flood(ctx.store, now_ns=now_ns, since_ns=since)}
    traffic = _traffic(ctx.store)
    devices = []
    for d in Registry(ctx.engine).list():
        if d.status == "decommissioned":
            continue
        level: dict[str, Any] | None = None
        if d.id in ispu:
            air = ispu[d.id]
            level = {"type": "ispu", "index": air.index, "category": air.category}
        elif d.id in flood and flood[d.id].siaga:
            water = flood[d.id]
            level = {"type": "flood", "status": water.status, "level_cm": water.level_cm}
        elif d.id in traffic:
            level = {"type": "traffic", "level": traffic[d.id]}
        devices.append({
            "id": d.id, "kind": d.kind, "zone": d.zone, "lat": d.latitude, "lon": d.longitude,
            "status": d.status, "reporting": is_reporting(d, now), "level": level,
            "siaga": list(d.siaga) if d.siaga else None,
            "last_seen": d.last_seen.isoformat() if d.last_seen else None,
        })  # fmt: skip
    return {"devices": devices}


@router.api_route("/dashboard/devices/{device_id}", methods=["GET", "HEAD"], response_model=None)
def device_page(request: Request, device_id: str, ctx: Ctx) -> Response:
    key = _operator(request)
    if key is None:
        return _to_login(request)
    try:
        device = Registry(ctx.engine).get(device_id)
    except NotFound:
        return render(request, "notfound.html", status=404, what=device_id)
    zone = ZONE_INDEX.get(device.zone)
    return render(request, "device.html", key=key, device=device, qc_text=qc_text(device.qc),
                  zone_name=zone.name if zone else device.zone,
                  siaga=list(device.siaga) if device.siaga else [])  # fmt: skip


def not_found_page(request: Request) -> HTMLResponse:
    """The page a person sees at an unknown address (programs asking for JSON get JSON)."""
    return render(request, "notfound.html", status=404, what=request.url.path)


@router.api_route("/dashboard/data", methods=["GET", "HEAD"], response_model=None)
def data_page(request: Request, ctx: Ctx) -> Response:
    """A zone or selection of devices: its readings over a range, shown and downloadable."""
    key = _operator(request)
    if key is None:
        return _to_login(request)
    devices = [d for d in Registry(ctx.engine).list() if d.status != "decommissioned"]
    listed = [{"id": d.id, "zone": d.zone, "kind": d.kind, "metrics": list(d.metrics)}
              for d in devices]  # fmt: skip
    metrics = sorted({m for d in devices for m in d.metrics})
    return render(request, "data.html", key=key, zones=ZONES, devices=listed, metrics=metrics)


@router.get("/dashboard/devices/{device_id}/series.json", dependencies=[ANY_KEY])
def device_series(
    device_id: str, ctx: Ctx, hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24
) -> dict[str, Any]:
    """Chart data: raw points ``[ms, value, flags]`` and hourly ``[ms, mean, min, max, flags]``.

    Beyond 24 h only flagged raw points are sent (the hourly band carries the shape),
    and never more than the newest :data:`MAX_RAW_POINTS` per metric, so a device
    reporting every second cannot make the page heavy.
    """
    Registry(ctx.engine).get(device_id)
    device = quote_string(device_id)
    where = f"{_DEVICE} = {device} AND time > now() - {hours}h"
    raw_where = where if hours <= 24 else f"{where} AND {_FLAGS} > 0"
    out: dict[str, dict[str, Any]] = {}

    def metric(name: str) -> dict[str, Any]:
        unit = METRICS[METRIC_INDEX[name]].unit if name in METRIC_INDEX else ""
        return out.setdefault(name, {"unit": unit, "raw": [], "hourly": []})

    raw = (
        f"SELECT {quote_ident(schema.FIELD_VALUE)}, {_FLAGS} FROM {quote_ident(schema.READINGS)} "
        f"WHERE {raw_where} GROUP BY {_METRIC} "
        f"ORDER BY time DESC LIMIT {MAX_RAW_POINTS}"
    )
    limited = False
    for series in ctx.store.query(raw):
        rows = metric(series.tags.get(schema.TAG_METRIC, "?"))["raw"]
        rows += [[int(r[0]) // MS, r[1], int(r[2] or 0)] for r in reversed(series.values)]
        limited = limited or len(series.values) >= MAX_RAW_POINTS
    hourly = (
        "SELECT "
        + ", ".join(quote_ident(f) for f in (schema.FIELD_MEAN, schema.FIELD_MIN, schema.FIELD_MAX))
        + f", {_FLAGS} FROM {quote_ident(schema.READINGS_1H)} WHERE {where} GROUP BY {_METRIC}"
    )
    for series in ctx.store.query(hourly):
        rows = metric(series.tags.get(schema.TAG_METRIC, "?"))["hourly"]
        rows += [[int(r[0]) // MS, r[1], r[2], r[3], int(r[4] or 0)] for r in series.values]
    for chart in out.values():
        chart["raw"].sort(key=lambda point: point[0])
    return {
        "device": device_id,
        "hours": hours,
        "raw_complete": hours <= 24 and not limited,
        "raw_limited": limited,
        "metrics": out,
    }


@router.api_route("/dashboard/register", methods=["GET", "HEAD"], response_model=None)
def register_page(request: Request, ctx: Ctx) -> Response:
    key = _operator(request)
    if key is None:
        return _to_login(request)
    kinds = [k for k in KINDS if k.id != "gateway"]
    return render(
        request, "register.html", key=key, kinds=kinds, zones=ZONES, qc_thresholds=QC_THRESHOLDS
    )
