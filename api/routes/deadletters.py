"""``/api/v1/dead-letters``: messages ingest could not accept, and replaying them."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.auth import context, require
from api.context import AppContext
from api.params import MAX_ROW_ID, PageLimit, RowId
from api.query import DEVICE_ID, SLUG
from pantau.deadletters import DeadLetter, DeadLetterStore
from pantau.errors import InvalidRequest

router = APIRouter(prefix="/api/v1/dead-letters", tags=["dead letters"])
READ = [Depends(require("technician", "operator"))]


class DeadLetterOut(BaseModel):
    id: int = Field(examples=[17])
    received_at: datetime
    topic: str = Field(examples=["sensors/aq-099/readings"])
    device: str | None = Field(examples=["aq-099"])
    reason: str = Field(examples=["unknown_device"])
    detail: str = Field(examples=["device aq-099 is not registered"])
    payload_text: str | None = Field(description="the payload as UTF-8, if it is text")
    payload_base64: str = Field(description="the raw payload bytes")
    replayed_at: datetime | None
    replay_result: str | None = Field(examples=[None])

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterOut:
        try:
            text: str | None = letter.payload.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return cls(
            id=letter.id,
            received_at=letter.received_at,
            topic=letter.topic,
            device=letter.device,
            reason=letter.reason,
            detail=letter.detail,
            payload_text=text,
            payload_base64=base64.b64encode(letter.payload).decode(),
            replayed_at=letter.replayed_at,
            replay_result=letter.replay_result,
        )


class DeadLetterPage(BaseModel):
    data: list[DeadLetterOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")
    counts: dict[str, int] = Field(description="all dead letters by reason")


class ReplayRequested(BaseModel):
    id: int
    status: str = Field(examples=["replay requested"])


@router.get(
    "",
    response_model=DeadLetterPage,
    summary="Dead letters, oldest first, in pages",
    dependencies=READ,
)
def list_dead_letters(
    ctx: Annotated[AppContext, Depends(context)],
    reason: Annotated[str | None, Query(max_length=64, examples=["unknown_device"])] = None,
    device: Annotated[str | None, Query(max_length=64, examples=["aq-099"])] = None,
    cursor: Annotated[str | None, Query(max_length=20, description="`next_cursor`")] = None,
    limit: PageLimit = 100,
) -> DeadLetterPage:
    if reason is not None and not SLUG.fullmatch(reason):
        raise InvalidRequest("`reason` is a code like unknown_device or bad_json", field="reason")
    if device is not None and not DEVICE_ID.fullmatch(device):
        raise InvalidRequest("`device` is a device id like aq-017", field="device")
    after = 0
    if cursor is not None:
        if not (cursor.isascii() and cursor.isdigit() and int(cursor) <= MAX_ROW_ID):
            raise InvalidRequest("`cursor` must be the `next_cursor` of a page", field="cursor")
        after = int(cursor)
    store = DeadLetterStore(ctx.engine)
    letters = store.find(reason=reason, device=device, after_id=after, limit=limit + 1)
    more = len(letters) > limit
    letters = letters[:limit]
    return DeadLetterPage(
        data=[DeadLetterOut.of(x) for x in letters],
        next_cursor=str(letters[-1].id) if more and letters else None,
        counts=store.counts(),
    )


@router.get(
    "/{letter_id}", response_model=DeadLetterOut, summary="One dead letter", dependencies=READ
)
def get_dead_letter(
    letter_id: RowId, ctx: Annotated[AppContext, Depends(context)]
) -> DeadLetterOut:
    return DeadLetterOut.of(DeadLetterStore(ctx.engine).get(letter_id))


@router.post(
    "/{letter_id}/replay",
    response_model=ReplayRequested,
    status_code=202,
    summary="Run a dead letter through ingest again (e.g. after registering its device)",
    dependencies=[Depends(require("technician"))],
)
def replay_dead_letter(
    letter_id: RowId, ctx: Annotated[AppContext, Depends(context)]
) -> ReplayRequested:
    DeadLetterStore(ctx.engine).request_replay(letter_id)
    return ReplayRequested(id=letter_id, status="replay requested")
