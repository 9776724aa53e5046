"""Alerts: list, history, acknowledge, resolve, comment, live stream (SSE); rules; endpoints.

Reading needs any key (operator, researcher, technician); changing needs operator.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from alerts.board import AlertBoard, Filter
from alerts.endpoints import Endpoint, EndpointStore
from alerts.rulebook import RuleStore
from alerts.rules import Rule, RuleKind
from api.auth import charge, context, require
from api.context import AppContext
from api.keys import ApiKey
from api.params import MAX_ROW_ID, PageLimit, RowId, RuleId
from api.transitionfeed import TransitionFeed
from pantau import schema
from pantau.errors import InvalidRequest, PermissionDenied

router = APIRouter(prefix="/api/v1", tags=["alerts"])
READ = ("operator", "researcher", "technician")
Reader = Annotated[ApiKey, Depends(require(*READ))]
Operator = Annotated[ApiKey, Depends(require("operator"))]
Ctx = Annotated[AppContext, Depends(context)]
Severity = Literal["info", "warning", "major", "critical"]


class Note(BaseModel):
    comment: str = Field("", max_length=2000, examples=["petugas menuju lokasi"])
    by: str | None = Field(
        None, max_length=100, description="who acted, if the key is shared", examples=["Sari"]
    )


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000, examples=["sensor dibersihkan"])
    by: str | None = Field(None, max_length=100)


class RuleIn(BaseModel):
    """A rule; fields left out take the kind's defaults (see docs/alerts.md)."""

    kind: RuleKind
    name: str = Field("", max_length=200)
    severity: Severity = "warning"
    device: str | None = Field(None, max_length=64)
    zone: str | None = Field(None, max_length=64)
    device_kind: str | None = Field(None, max_length=32)
    metric: str | None = Field(None, max_length=32, examples=["pm25"])
    op: Literal["above", "below"] = "above"
    raise_value: float | None = Field(None, examples=[100.0])
    clear_value: float | None = Field(None, examples=[80.0])
    raise_for_s: float = Field(0.0, ge=0, le=7 * 86_400)
    clear_for_s: float = Field(0.0, ge=0, le=7 * 86_400)
    level: str | None = Field(None, examples=[schema.ISPU_UNHEALTHY, schema.FLOOD_ALERT])
    factor: float = Field(3.0, ge=1, le=1000)
    flags: int = Field(0, ge=0, le=0xFFFF, description="QC flag bitmask")
    window: int = Field(20, ge=2, le=10_000)
    flap_count: int = Field(3, ge=2, le=100)
    flap_window_s: float = Field(3600.0, ge=0)
    flap_hold_s: float = Field(900.0, ge=0)
    enabled: bool = True


class RuleCreate(RuleIn):
    id: str = Field(min_length=1, max_length=64, examples=["pm25-jababeka"])


class EndpointIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["dlh-webhook"])
    channel: Literal["webhook", "email", "mqtt", "telegram"]
    target: str = Field(min_length=1, max_length=500, examples=["https://example.org/hook"])
    secret: str = Field(
        "", max_length=200, description="webhook HMAC key or Telegram bot token (write-only)"
    )
    zones: list[str] = Field(default_factory=list, examples=[["jababeka", "ejip"]])
    kinds: list[str] = Field(
        default_factory=list,
        description="rule kinds or device kinds (full names); empty = all",
        examples=[["water_level", "air_quality"]],
    )
    min_severity: Severity = "info"
    quiet_start: str | None = Field(None, examples=["22:00"])
    quiet_end: str | None = Field(None, examples=["06:00"])
    quiet_min_severity: Severity = "critical"
    digest_max_severity: Severity | None = None
    digest_interval_s: float = 3600.0
    enabled: bool = True
    language: Literal["id", "en"] = "id"

    def endpoint(self, endpoint_id: int | None = None) -> Endpoint:
        data = self.model_dump()
        data["zones"], data["kinds"] = tuple(self.zones), tuple(self.kinds)
        return Endpoint(id=endpoint_id, **data)


def _actor(key: ApiKey, by: str | None) -> str:
    who = f"{key.name or 'key'} ({key.id})"
    return f"{by.strip()} via {who}" if by and by.strip() else who


def _rule(rule_id: str, body: RuleIn) -> Rule:
    data = body.model_dump(exclude={"id"})
    return Rule(id=rule_id, **data)


# -- alerts ------------------------------------------------------------------------


@router.get("/alerts", summary="Alerts, newest first, filtered")
def list_alerts(
    ctx: Ctx,
    _: Reader,
    status: Annotated[str | None, Query(examples=["open"])] = None,
    zone: Annotated[str | None, Query(max_length=64, examples=["jababeka"])] = None,
    device: Annotated[str | None, Query(max_length=64, examples=["aq-017"])] = None,
    severity: Annotated[str | None, Query(description="at least this severity")] = None,
    limit: PageLimit = 200,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="paging")] = None,
) -> list[dict[str, Any]]:
    f = Filter(status, zone, device, severity, limit, before_id)
    return [a.as_json() for a in AlertBoard(ctx.engine).find(f)]


def _stream_key(request: Request, key: str | None) -> ApiKey:
    """EventSource cannot set headers: accept ``?key=`` (or the ``pantau_key`` cookie)."""
    if not key:
        return require(*READ)(request)
    ctx = context(request)
    found = ctx.keys.authenticate(key.strip())
    if found.role != "admin" and found.role not in READ:
        raise PermissionDenied(f"reading alerts needs a key with role {', '.join(READ)}")
    charge(ctx, found)  # opening a stream counts against the key's rate limit
    return found


@router.get(
    "/alerts/stream",
    summary="Live alert transitions as Server-Sent Events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    key: Annotated[str | None, Query(description="API key, for EventSource")] = None,
    zone: Annotated[str | None, Query(max_length=64, examples=["jababeka"])] = None,
    last_event_id: Annotated[
        str | None, Header(description="resume after this event id (EventSource sends it)")
    ] = None,
    heartbeat_s: Annotated[
        float, Query(ge=0.5, le=120, description="seconds between keep-alive comments")
    ] = 15.0,
) -> StreamingResponse:
    _stream_key(request, key)
    board = AlertBoard(context(request).engine)
    if last_event_id and not (last_event_id.isascii() and last_event_id.isdigit()):
        raise InvalidRequest("Last-Event-ID must be a transition id", field="Last-Event-ID")
    start = (
        int(last_event_id) if last_event_id else await run_in_threadpool(board.latest_transition_id)
    )

    async def events() -> AsyncIterator[str]:
        feed, beat = TransitionFeed(board, start), time.monotonic()
        yield "retry: 2000\n: connected\n\n"
        while not await request.is_disconnected():
            found = await run_in_threadpool(feed.poll)
            for transition, alert in found:
                if zone and alert.zone != zone:
                    continue
                data = json.dumps({"transition": transition.as_json(), "alert": alert.as_json()})
                yield f"id: {transition.id}\nevent: alert\ndata: {data}\n\n"
            if time.monotonic() - beat >= heartbeat_s:
                beat = time.monotonic()
                yield ": keepalive\n\n"
            if not found:
                await asyncio.sleep(0.5)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.get("/alerts/{alert_id}", summary="One alert with its history")
def get_alert(ctx: Ctx, _: Reader, alert_id: RowId) -> dict[str, Any]:
    alert, history = AlertBoard(ctx.engine).get(alert_id)
    return {**alert.as_json(), "history": [t.as_json() for t in history]}


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert")
def acknowledge(
    ctx: Ctx, key: Operator, alert_id: RowId, note: Note | None = None
) -> dict[str, Any]:
    note = note or Note()
    done = AlertBoard(ctx.engine).acknowledge(alert_id, _actor(key, note.by), note.comment)
    return done.as_json()


@router.post("/alerts/{alert_id}/resolve", summary="Resolve an alert by hand")
def resolve(ctx: Ctx, key: Operator, alert_id: RowId, note: Note | None = None) -> dict[str, Any]:
    note = note or Note()
    return AlertBoard(ctx.engine).resolve(alert_id, _actor(key, note.by), note.comment).as_json()


@router.post("/alerts/{alert_id}/comments", summary="Add a comment to an alert's history")
def comment(ctx: Ctx, key: Operator, alert_id: RowId, body: CommentIn) -> dict[str, Any]:
    return AlertBoard(ctx.engine).comment(alert_id, _actor(key, body.by), body.text).as_json()


@router.get("/alerts/{alert_id}/deliveries", summary="An alert's notifications and attempts")
def deliveries(ctx: Ctx, _: Reader, alert_id: RowId) -> list[dict[str, Any]]:
    return AlertBoard(ctx.engine).deliveries(alert_id)


@router.get("/delivery-attempts", summary="Recent notification delivery attempts")
def delivery_attempts(
    ctx: Ctx,
    _: Reader,
    outcome: Annotated[
        Literal["started", "delivered", "failed", "interrupted", "dropped"] | None, Query()
    ] = None,
    limit: PageLimit = 200,
) -> list[dict[str, Any]]:
    return AlertBoard(ctx.engine).attempts(outcome=outcome, limit=limit)


# -- rules -------------------------------------------------------------------------


@router.get("/alert-rules", summary="Every rule, shipped defaults included")
def list_rules(ctx: Ctx, _: Reader) -> list[dict[str, Any]]:
    return [asdict(r) for r in RuleStore(ctx.engine).book().rules]


@router.get("/alert-rules/{rule_id}", summary="One rule")
def get_rule(ctx: Ctx, _: Reader, rule_id: RuleId) -> dict[str, Any]:
    return asdict(RuleStore(ctx.engine).get(rule_id))


@router.post("/alert-rules", status_code=201, summary="Create a rule")
def create_rule(ctx: Ctx, _: Operator, body: RuleCreate) -> dict[str, Any]:
    return asdict(RuleStore(ctx.engine).create(_rule(body.id, body)))


@router.put("/alert-rules/{rule_id}", summary="Create or replace a rule (also a default's)")
def put_rule(ctx: Ctx, _: Operator, rule_id: RuleId, body: RuleIn) -> dict[str, Any]:
    return asdict(RuleStore(ctx.engine).put(_rule(rule_id, body)))


@router.delete("/alert-rules/{rule_id}", status_code=204, summary="Delete a stored rule")
def delete_rule(ctx: Ctx, _: Operator, rule_id: RuleId) -> None:
    RuleStore(ctx.engine).delete(rule_id)


# -- notification endpoints --------------------------------------------------------


@router.get("/notification-endpoints", summary="Notification endpoints (secrets hidden)")
def list_endpoints(ctx: Ctx, _: Operator) -> list[dict[str, Any]]:
    return [e.public() for e in EndpointStore(ctx.engine).list()]


@router.get("/notification-endpoints/{endpoint_id}", summary="One endpoint")
def get_endpoint(ctx: Ctx, _: Operator, endpoint_id: RowId) -> dict[str, Any]:
    return EndpointStore(ctx.engine).get(endpoint_id).public()


@router.post("/notification-endpoints", status_code=201, summary="Add an endpoint")
def create_endpoint(ctx: Ctx, _: Operator, body: EndpointIn) -> dict[str, Any]:
    return EndpointStore(ctx.engine).create(body.endpoint()).public()


@router.put("/notification-endpoints/{endpoint_id}", summary="Change an endpoint")
def update_endpoint(ctx: Ctx, _: Operator, endpoint_id: RowId, body: EndpointIn) -> dict[str, Any]:
    return EndpointStore(ctx.engine).update(endpoint_id, body.endpoint(endpoint_id)).public()


@router.delete(
    "/notification-endpoints/{endpoint_id}",
    status_code=204,
    summary="Remove an endpoint (kept disabled if it has delivery history)",
)
def delete_endpoint(ctx: Ctx, _: Operator, endpoint_id: RowId) -> None:
    EndpointStore(ctx.engine).delete(endpoint_id)


__all__ = ["router"]
