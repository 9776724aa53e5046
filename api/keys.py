"""API keys: created with a role, shown once, stored as a hash, revocable, last-used time.

A key reads ``pk_<id>_<secret>``; the id finds the row, the secret is checked
against its SHA-256 hash in constant time (secrets are 32 random bytes, so a
slow password hash would add nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Engine

from pantau.errors import InvalidRequest, NotFound, Unauthenticated

ROLES = ("admin", "technician", "operator", "researcher")

metadata = sa.MetaData()
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("secret_hash", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("rate_limit_per_minute", sa.Integer),
)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    rate_limit_per_minute: int | None


@dataclass(frozen=True, slots=True)
class NewKey:
    key: ApiKey
    token: str  # shown once


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _row(row: sa.Row[tuple[object, ...]]) -> ApiKey:
    m = row._mapping
    return ApiKey(
        id=m["id"],
        name=m["name"],
        role=m["role"],
        created_at=m["created_at"],
        last_used_at=m["last_used_at"],
        revoked_at=m["revoked_at"],
        rate_limit_per_minute=m["rate_limit_per_minute"],
    )


class KeyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self, *, role: str, name: str = "", rate_limit_per_minute: int | None = None
    ) -> NewKey:
        if role not in ROLES:
            raise InvalidRequest(
                f"role must be one of {', '.join(ROLES)}, not {role!r}", field="role"
            )
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key_id,
                    name=name,
                    role=role,
                    secret_hash=_hash(secret),
                    created_at=now,
                    rate_limit_per_minute=rate_limit_per_minute,
                )
            )
        key = ApiKey(key_id, name, role, now, None, None, rate_limit_per_minute)
        return NewKey(key=key, token=f"pk_{key_id}_{secret}")

    def authenticate(self, token: str) -> ApiKey:
        """The key behind ``token``; raises Unauthenticated. Updates last-used time."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "pk":
            raise Unauthenticated("API key is malformed; it starts with 'pk_'")
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == parts[1])).first()
            if row is None or not hmac.compare_digest(row._mapping["secret_hash"], _hash(parts[2])):
                raise Unauthenticated("API key is not valid")
            if row._mapping["revoked_at"] is not None:
                raise Unauthenticated("API key has been revoked")
            now = datetime.now(UTC)
            last = row._mapping["last_used_at"]
            if last is None or (now - _aware(last)).total_seconds() > 60:
                conn.execute(
                    api_keys.update().where(api_keys.c.id == parts[1]).values(last_used_at=now)
                )
        return _row(row)

    def list(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).all()
        return [_row(r) for r in rows]

    def revoke(self, key_id: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        if done.rowcount == 0:
            raise NotFound(f"no active API key with id {key_id!r}")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
