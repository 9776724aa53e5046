"""The dispatcher: delivers the notification outbox with retries, backoff and leases.

Several dispatchers (processes or threads) may run at once and any may be killed
at any moment. A row is *claimed* with a lease (``lease_owner``, ``lease_until``)
by a conditional UPDATE, and the attempt is recorded (``started``) and committed
*before* anything is sent; the outcome is recorded after. A dispatcher that dies
mid-delivery leaves a ``started`` attempt and a lease that expires; the next one
marks that attempt ``interrupted`` and tries again. So every request a receiver
ever saw has an attempt record, and the ``X-Pantau-Delivery`` header (the outbox
id) lets it drop a repeat. Rows of one alert to one endpoint go out in order.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from alerts.delivery import Delivery, DeliveryFailed, Notifier
from alerts.digest import make_digests
from alerts.endpoints import Endpoint, EndpointStore
from alerts.mailer import EmailNotifier, SmtpSettings
from alerts.mqttstate import MqttStateNotifier
from alerts.statestore import take_write_lock
from alerts.tables import attempts, outbox
from alerts.webhook import WebhookNotifier

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        *,
        engine: Engine,
        mqtt_url: str | None,
        mqtt_username: str | None = None,
        mqtt_password: str | None = None,
        smtp: SmtpSettings | None = None,
        worker_id: str | None = None,
        lease_s: float = 60.0,
        batch: int = 50,
        max_attempts: int = 12,
        backoff_s: float = 5.0,
        backoff_max_s: float = 900.0,
        webhook_timeout_s: float = 10.0,
        poll_s: float = 0.5,
        digest_every_s: float = 30.0,
    ) -> None:
        self.engine = engine
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_s = lease_s
        self.batch = batch
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.poll_s = poll_s
        self.digest_every_s = digest_every_s
        self._last_digest = 0.0
        self._endpoints = EndpointStore(engine)
        self.notifiers: dict[str, Notifier] = {
            "webhook": WebhookNotifier(timeout_s=webhook_timeout_s),
            "email": EmailNotifier(smtp),
            "mqtt": MqttStateNotifier(
                engine=engine, url=mqtt_url, username=mqtt_username, password=mqtt_password
            ),
        }

    # -- the loop -------------------------------------------------------------------

    def run_once(self, now: float | None = None) -> int:
        """Make due digests, then claim and deliver what is due; returns how many were tried."""
        now = time.time() if now is None else now
        if now - self._last_digest >= self.digest_every_s or now < self._last_digest:
            self._last_digest = now
            try:
                make_digests(self.engine, now)
            except sa.exc.SQLAlchemyError:
                log.exception("making digests failed; will try again")
        claimed = self._claim(now)
        for row in claimed:
            self._deliver(row, now)
        return len(claimed)

    def run_forever(self, stop: threading.Event) -> None:
        log.info("alert dispatcher %s started", self.worker_id)
        try:
            while not stop.is_set():
                try:
                    done = self.run_once()
                except sa.exc.SQLAlchemyError:
                    log.exception("alert dispatcher: database error; retrying")
                    done = 0
                if done == 0:
                    stop.wait(self.poll_s)
        finally:
            self.close()
            log.info("alert dispatcher %s stopped", self.worker_id)

    def close(self) -> None:
        for notifier in self.notifiers.values():
            notifier.close()

    # -- claiming -----------------------------------------------------------------

    def _claim(self, now: float) -> list[dict[str, Any]]:
        earlier = outbox.alias("earlier")
        blocked = (
            sa.select(earlier.c.id)
            .where(
                earlier.c.endpoint_id == outbox.c.endpoint_id,
                earlier.c.alert_id == outbox.c.alert_id,
                earlier.c.id < outbox.c.id,
                earlier.c.status == "pending",
            )
            .exists()
        )
        free = sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now)
        claimed: list[dict[str, Any]] = []
        with self.engine.begin() as conn:
            take_write_lock(conn)
            query = (
                sa.select(outbox)
                .where(
                    outbox.c.status == "pending",
                    outbox.c.next_attempt_at <= now,
                    free,
                    ~blocked,
                )
                .order_by(outbox.c.id)
                .limit(self.batch)
            )
            if conn.dialect.name == "postgresql":
                # dispatchers claim side by side: rows another one is claiming are skipped,
                # not waited for (SQLite has one writer at a time: take_write_lock)
                query = query.with_for_update(skip_locked=True, of=outbox)
            candidates = conn.execute(query).mappings().all()
            for row in candidates:
                number = int(row["attempts"]) + 1
                took = conn.execute(
                    outbox.update()
                    .where(outbox.c.id == row["id"], outbox.c.status == "pending", free)
                    .values(
                        lease_owner=self.worker_id, lease_until=now + self.lease_s, attempts=number
                    )
                )
                if took.rowcount != 1:
                    continue  # another dispatcher was quicker
                conn.execute(
                    attempts.update()
                    .where(attempts.c.outbox_id == row["id"], attempts.c.outcome == "started")
                    .values(
                        outcome="interrupted",
                        finished_at=time.time(),
                        detail="the dispatcher stopped during this attempt (lease expired)",
                    )
                )
                new_id = conn.execute(
                    attempts.insert().values(
                        outbox_id=row["id"],
                        number=number,
                        worker=self.worker_id,
                        started_at=time.time(),
                        outcome="started",
                        detail="",
                    )
                ).inserted_primary_key
                assert new_id is not None
                claimed.append({**row, "attempts": number, "attempt_id": int(new_id[0])})
        return claimed

    # -- delivering ---------------------------------------------------------------

    def _deliver(self, row: dict[str, Any], now: float) -> None:
        delivery = Delivery(
            int(row["id"]), int(row["attempts"]), str(row["channel"]), str(row["payload"])
        )
        try:
            endpoint = self._endpoint(row)
            if not endpoint.enabled:
                self._finish(row, "dropped", "endpoint disabled", status="dropped")
                return
            notifier = self.notifiers[delivery.channel]
            note = notifier.deliver(endpoint, delivery)
        except DeliveryFailed as exc:
            self._failed(row, str(exc), now)
        except Exception as exc:  # a broken notifier must not stop the loop
            log.exception("notifier %s failed on outbox row %s", row["channel"], row["id"])
            self._failed(row, f"{type(exc).__name__}: {exc}", now)
        else:
            self._finish(row, "delivered", note, status="delivered", delivered_at=time.time())
            log.info(
                "delivered outbox %s (%s) on attempt %s: %s",
                row["id"],
                row["channel"],
                row["attempts"],
                note,
            )

    def _endpoint(self, row: dict[str, Any]) -> Endpoint:
        if row["endpoint_id"] is None:
            raise DeliveryFailed("outbox row has no endpoint")
        return self._endpoints.get(int(row["endpoint_id"]))

    def _failed(self, row: dict[str, Any], error: str, now: float) -> None:
        number = int(row["attempts"])
        if number >= self.max_attempts:
            log.error(
                "outbox %s (%s) failed %s times, giving up: %s",
                row["id"],
                row["channel"],
                number,
                error,
            )
            self._finish(row, "failed", error, status="failed", last_error=error)
            return
        delay = min(self.backoff_max_s, self.backoff_s * 2 ** (number - 1))
        log.warning(
            "outbox %s (%s) attempt %s failed, retrying in %.1f s: %s",
            row["id"],
            row["channel"],
            number,
            delay,
            error,
        )
        self._finish(row, "failed", error, next_attempt_at=now + delay, last_error=error)

    def _finish(self, row: dict[str, Any], outcome: str, detail: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                attempts.update()
                .where(attempts.c.id == row["attempt_id"])
                .values(outcome=outcome, finished_at=time.time(), detail=detail[:2000])
            )
            conn.execute(
                outbox.update()
                .where(outbox.c.id == row["id"], outbox.c.lease_owner == self.worker_id)
                .values(lease_owner=None, lease_until=None, **values)
            )
