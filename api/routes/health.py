"""``GET /api/v1/health``: is the API up, and can it reach the broker, InfluxDB and SQL?"""

from __future__ import annotations

import socket
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import context
from api.context import AppContext
from pantau.mqtt import BrokerAddress
from pantau.status import read_statuses

router = APIRouter(prefix="/api/v1", tags=["health"])


class Health(BaseModel):
    status: str
    broker: bool
    influxdb: bool
    database: bool
    ingest: dict[str, str] = Field(
        default_factory=dict,
        description="each `pantau ingest`'s connection to the broker (connected, refused: …, "
        "stopped), or `stale: …` when its report is over 90 s old (it died without a word); "
        "left out when no ingest reports",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [{"status": "ok", "broker": True, "influxdb": True, "database": True}]
        }
    }


def _broker_reachable(url: str) -> bool:
    address = BrokerAddress.parse(url)
    try:
        with socket.create_connection((address.host, address.port), timeout=1.0):
            return True
    except OSError:
        return False


def _database_reachable(ctx: AppContext) -> bool:
    try:
        with ctx.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.SQLAlchemyError:
        return False


@router.get(
    "/health",
    response_model=Health,
    summary="Reachability of the broker, InfluxDB and the SQL database",
    responses={503: {"model": Health, "description": "something is unreachable"}},
)
def get_health(ctx: Annotated[AppContext, Depends(context)]) -> JSONResponse:
    health = Health(
        status="ok",
        broker=_broker_reachable(ctx.mqtt_url),
        influxdb=ctx.store.ping(),
        database=_database_reachable(ctx),
    )
    if ctx.status_dir is not None:
        reports = read_statuses(ctx.status_dir, "ingest-")
        health.ingest = {
            name: f"stale: last report {doc.get('broker', '')!s}"
            if doc["stale"]
            else str(doc.get("broker", ""))
            for name, doc in reports.items()
        }
    refused = any(state.startswith(("refused", "stale")) for state in health.ingest.values())
    ok = health.broker and health.influxdb and health.database and not refused
    health.status = "ok" if ok else "degraded"
    body = health.model_dump(exclude=set() if health.ingest else {"ingest"})
    return JSONResponse(body, status_code=200 if ok else 503)
