"""Silences (maintenance windows) of alert notifications: ``/api/v1/alert-silences``.

Reading: operator, researcher or technician keys; creating and ending: operator.
Times are ISO-8601 with an offset (``2026-12-04T08:00:00+07:00``) or ``Z``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from alerts.silences import Silence, SilenceStore
from api.auth import context, require
from api.context import AppContext
from api.keys import ApiKey
from api.params import RowId
from api.routes.alerts import READ
from pantau.errors import InvalidRequest

router = APIRouter(prefix="/api/v1", tags=["alerts"])
Ctx = Annotated[AppContext, Depends(context)]
Reader = Annotated[ApiKey, Depends(require(*READ))]
Operator = Annotated[ApiKey, Depends(require("operator"))]


class SilenceIn(BaseModel):
    device: str | None = Field(None, max_length=64, examples=["kb-03"])
    zone: str | None = Field(None, max_length=64, examples=["kali-bekasi"])
    rule_id: str | None = Field(None, max_length=64, examples=["default-flood"])
    starts_at: datetime | None = Field(None, description="default: now")
    ends_at: datetime = Field(examples=["2026-12-04T17:00:00+07:00"])
    reason: str = Field(min_length=1, max_length=2000, examples=["pemeliharaan pompa"])


#: Times a silence may name: nanoseconds since 1970 fit a signed 64-bit column until 2262.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def _ns(moment: datetime, field: str) -> int:
    if moment.tzinfo is None:
        raise InvalidRequest(
            "give times with an offset, e.g. 2026-12-04T17:00:00+07:00", field=field
        )
    if not EARLIEST <= moment < LATEST:
        raise InvalidRequest(f"{field} must lie between 1970 and 2200", field=field)
    return int(moment.timestamp() * 1e9)


@router.get("/alert-silences", summary="Silences (maintenance windows), newest first")
def list_silences(
    ctx: Ctx, _: Reader, active: Annotated[bool, Query(description="only active now")] = False
) -> list[dict[str, Any]]:
    found = SilenceStore(ctx.engine).list(active_at_ns=time.time_ns() if active else None)
    return [s.as_json() for s in found]


@router.post("/alert-silences", status_code=201, summary="Silence notifications for a while")
def create_silence(ctx: Ctx, key: Operator, body: SilenceIn) -> dict[str, Any]:
    silence = Silence(
        id=None,
        device=body.device,
        zone=body.zone,
        rule_id=body.rule_id,
        starts_ns=_ns(body.starts_at, "starts_at") if body.starts_at else time.time_ns(),
        ends_ns=_ns(body.ends_at, "ends_at"),
        reason=body.reason,
    )
    return SilenceStore(ctx.engine).create(silence, f"{key.name or 'key'} ({key.id})").as_json()


@router.delete("/alert-silences/{silence_id}", status_code=204, summary="End a silence now")
def end_silence(ctx: Ctx, _: Operator, silence_id: RowId) -> None:
    SilenceStore(ctx.engine).end(silence_id)
