"""``/api/v1/keys``: create, list and revoke API keys (admin only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.auth import context, require
from api.context import AppContext
from api.keys import ROLES, ApiKey
from api.params import KeyId

router = APIRouter(prefix="/api/v1/keys", tags=["keys"], dependencies=[Depends(require("admin"))])


class KeyOut(BaseModel):
    id: str
    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    rate_limit_per_minute: int | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(**{name: getattr(key, name) for name in cls.model_fields})


class KeyCreate(BaseModel):
    role: str = Field(description=f"one of {', '.join(ROLES)}", examples=["researcher"])
    name: str = Field("", max_length=200, examples=["BRIN air-quality study"])
    rate_limit_per_minute: int | None = Field(None, ge=1, le=100_000)


class KeyCreated(KeyOut):
    token: str = Field(description="the key itself; shown only now, store it safely")


@router.get("", response_model=list[KeyOut], summary="List API keys (never their secrets)")
def list_keys(ctx: Annotated[AppContext, Depends(context)]) -> list[KeyOut]:
    return [KeyOut.of(k) for k in ctx.keys.list()]


@router.post("", response_model=KeyCreated, status_code=201, summary="Create an API key")
def create_key(body: KeyCreate, ctx: Annotated[AppContext, Depends(context)]) -> KeyCreated:
    new = ctx.keys.create(
        role=body.role, name=body.name, rate_limit_per_minute=body.rate_limit_per_minute
    )
    return KeyCreated(**KeyOut.of(new.key).model_dump(), token=new.token)


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key")
def revoke_key(key_id: KeyId, ctx: Annotated[AppContext, Depends(context)]) -> None:
    ctx.keys.revoke(key_id)
