"""Notification endpoints (webhook, e-mail, MQTT, Telegram) in SQL, with their routing settings.

An endpoint receives an alert's notifications when the alert's zone is in its
``zones`` (empty: all), its rule kind or device kind is in ``kinds`` (empty:
all) and its severity is at least ``min_severity``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from alerts.rules import SEVERITIES
from alerts.tables import endpoints as table
from alerts.tables import outbox
from pantau.errors import Conflict, InvalidRequest, NotFound

Channel = Literal["webhook", "email", "mqtt", "telegram"]
CHANNELS: tuple[str, ...] = get_args(Channel)
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CHAT = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,64})$")
_BOT_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
LANGUAGES = ("id", "en")


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: int | None
    name: str
    channel: Channel
    target: str  # webhook URL, e-mail address, MQTT topic prefix, or Telegram chat id
    secret: str = ""  # webhook HMAC key, or the Telegram bot token
    zones: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    min_severity: str = "info"
    quiet_start: str | None = None  # "22:00", Asia/Jakarta
    quiet_end: str | None = None
    quiet_min_severity: str = "critical"  # at or above this, quiet hours do not hold it
    digest_max_severity: str | None = None  # at or below this, it goes into a digest
    digest_interval_s: float = 3600.0
    enabled: bool = True
    language: str = "id"  # of messages for people (Telegram): "id" Bahasa Indonesia, "en"

    def matches(self, *, zone: str, rule_kind: str, device_kind: str, severity: str) -> bool:
        if not self.enabled:
            return False
        if self.zones and zone not in self.zones:
            return False
        if self.kinds and rule_kind not in self.kinds and device_kind not in self.kinds:
            return False
        return SEVERITIES.index(severity) >= SEVERITIES.index(self.min_severity)

    def public(self) -> dict[str, Any]:
        """As shown by the API: the secret is never shown, only whether there is one."""
        out = asdict(self)
        out["zones"], out["kinds"] = list(self.zones), list(self.kinds)
        out["secret"] = "set" if self.secret else ""
        return out


def validate(ep: Endpoint) -> Endpoint:
    if not ep.name.strip():
        raise InvalidRequest("an endpoint needs a name", field="name")
    if ep.channel not in CHANNELS:
        raise InvalidRequest(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    if ep.channel == "webhook":
        if not re.match(r"^https?://[^\s/]+", ep.target):
            raise InvalidRequest("a webhook target is an http:// or https:// URL", field="target")
        if len(ep.secret) < 16:
            raise InvalidRequest(
                "a webhook needs a secret of at least 16 characters to sign its requests",
                field="secret",
            )
    if ep.channel == "telegram":
        if not _CHAT.match(ep.target):
            raise InvalidRequest(
                "a Telegram target is a chat id (e.g. -1001234567890) or @channelname",
                field="target",
            )
        if not _BOT_TOKEN.match(ep.secret):
            raise InvalidRequest(
                "a Telegram endpoint needs the bot token (123456:ABC…) as its secret",
                field="secret",
            )
    if ep.language not in LANGUAGES:
        raise InvalidRequest("language is 'id' (Bahasa Indonesia) or 'en'", field="language")
    if ep.channel == "email" and not _EMAIL.match(ep.target):
        raise InvalidRequest(f"{ep.target!r} is not an e-mail address", field="target")
    if ep.channel == "mqtt" and (not ep.target or "#" in ep.target or "+" in ep.target):
        raise InvalidRequest(
            "an MQTT target is a topic prefix without wildcards, e.g. 'pantau/alerts'",
            field="target",
        )
    for name in ("min_severity", "quiet_min_severity", "digest_max_severity"):
        value = getattr(ep, name)
        if value is not None and value not in SEVERITIES:
            raise InvalidRequest(f"{name} must be one of {', '.join(SEVERITIES)}", field=name)
    if (ep.quiet_start is None) != (ep.quiet_end is None):
        raise InvalidRequest("give both quiet_start and quiet_end, or neither", field="quiet_end")
    for name in ("quiet_start", "quiet_end"):
        value = getattr(ep, name)
        if value is not None and not _HHMM.match(value):
            raise InvalidRequest(f"{name} is a time of day like '22:00' (Asia/Jakarta)", field=name)
    if ep.digest_interval_s < 60:
        raise InvalidRequest(
            "digest_interval_s must be at least 60 seconds", field="digest_interval_s"
        )
    return replace(ep, target=ep.target.rstrip("/") if ep.channel == "mqtt" else ep.target)


def _from(m: sa.RowMapping) -> Endpoint:
    return Endpoint(
        id=m["id"],
        name=m["name"],
        channel=m["channel"],
        target=m["target"],
        secret=m["secret"],
        zones=tuple(json.loads(m["zones"])),
        kinds=tuple(json.loads(m["kinds"])),
        min_severity=m["min_severity"],
        quiet_start=m["quiet_start"],
        quiet_end=m["quiet_end"],
        quiet_min_severity=m["quiet_min_severity"],
        digest_max_severity=m["digest_max_severity"],
        digest_interval_s=m["digest_interval_s"],
        enabled=m["enabled"],
        language=m["language"],
    )


def _values(ep: Endpoint) -> dict[str, Any]:
    out = asdict(ep)
    out.pop("id")
    out["zones"], out["kinds"] = json.dumps(list(ep.zones)), json.dumps(list(ep.kinds))
    return out


def load_all(conn: Connection) -> list[Endpoint]:
    rows = conn.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    return [_from(m) for m in rows]


class EndpointStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list(self) -> list[Endpoint]:
        with self.engine.connect() as conn:
            return load_all(conn)

    def get(self, endpoint_id: int) -> Endpoint:
        with self.engine.connect() as conn:
            m = conn.execute(sa.select(table).where(table.c.id == endpoint_id)).mappings().first()
        if m is None:
            raise NotFound(f"no notification endpoint with id {endpoint_id}")
        return _from(m)

    def create(self, ep: Endpoint) -> Endpoint:
        ep = validate(ep)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(table.c.id).where(table.c.name == ep.name)).first():
                raise Conflict(f"an endpoint named {ep.name!r} exists")
            new_id = conn.execute(table.insert().values(**_values(ep))).inserted_primary_key
        return replace(ep, id=int(new_id[0]) if new_id else None)

    def update(self, endpoint_id: int, ep: Endpoint) -> Endpoint:
        current = self.get(endpoint_id)
        if ep.channel in ("webhook", "telegram") and not ep.secret:
            ep = replace(ep, secret=current.secret)  # keep the secret unless a new one is given
        ep = validate(replace(ep, id=endpoint_id))
        with self.engine.begin() as conn:
            taken = sa.select(table.c.id).where(table.c.name == ep.name, table.c.id != endpoint_id)
            if conn.execute(taken).first():
                raise Conflict(f"an endpoint named {ep.name!r} exists")
            conn.execute(table.update().where(table.c.id == endpoint_id).values(**_values(ep)))
        return ep

    def delete(self, endpoint_id: int) -> None:
        self.get(endpoint_id)
        with self.engine.begin() as conn:
            conn.execute(table.update().where(table.c.id == endpoint_id).values(enabled=False))

            used = conn.execute(
                sa.select(sa.func.count())
                .select_from(outbox)
                .where(outbox.c.endpoint_id == endpoint_id)
            ).scalar_one()
            if not used:
                conn.execute(table.delete().where(table.c.id == endpoint_id))
