"""The dispatcher: delivers the notification outbox with retries, backoff and leases.

Every endpoint has its own workers (at most ``max_in_flight`` deliveries at once), so
a slow or dead receiver only ever delays its own notifications: the loop claims due
rows per endpoint, hands them to that endpoint's workers and goes on.

Several dispatchers (processes or threads) may run at once and any may be killed
at any moment. A row is *claimed* with a lease (``lease_owner``, ``lease_until``)
by a conditional UPDATE (``WHERE id = … AND status = 'pending' AND`` the lease is
free), which only one dispatcher can win on SQLite and PostgreSQL alike, and the
attempt is recorded (``started``) and committed *before* anything is sent; the
outcome is recorded after. While a delivery is in flight its lease is renewed every
``lease_s / 3`` seconds, and right before sending the worker re-takes the lease with
another conditional UPDATE (``WHERE lease_owner = me AND attempts = n``): a worker
that lost its lease does not send. So while its dispatcher lives, a row is sent by
one worker only, however long the receiver takes (the exactly-once per endpoint the
``X-Pantau-Delivery`` id stands for). A dispatcher that dies mid-delivery leaves a
``started`` attempt and a lease that expires; the next one marks that attempt
``interrupted`` and tries again (the receiver may then see the delivery id twice).
Rows of one alert to one endpoint go out in order.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from alerts.delivery import Delivery, DeliveryFailed, Notifier
from alerts.digest import make_digests
from alerts.endpoints import Endpoint, EndpointStore
from alerts.mailer import EmailNotifier, SmtpSettings
from alerts.mqttstate import MqttStateNotifier
from alerts.statestore import take_write_lock
from alerts.tables import attempts, outbox
from alerts.telegram import TelegramNotifier
from alerts.watchdog import Reminders, Watchdog
from alerts.webhook import WebhookNotifier

log = logging.getLogger(__name__)


def claim_due(
    conn: Connection, *, endpoint_id: int, owner: str, now: float, lease_s: float, limit: int
) -> list[dict[str, Any]]:
    """Claim up to ``limit`` due rows of one endpoint for ``owner``: the outbox claim, in
    one place. Each row is taken by a conditional UPDATE that only one dispatcher can
    win; a row behind an earlier pending row of the same alert waits (order)."""
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
    query = (
        sa.select(outbox)
        .where(
            outbox.c.endpoint_id == endpoint_id,
            outbox.c.status == "pending",
            outbox.c.next_attempt_at <= now,
            free,
            ~blocked,
        )
        .order_by(outbox.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        # dispatchers claim side by side: rows another one is claiming are skipped, not
        # waited for (SQLite has one writer at a time: take_write_lock)
        query = query.with_for_update(skip_locked=True, of=outbox)
    candidates = conn.execute(query).mappings().all()
    claimed: list[dict[str, Any]] = []
    for row in candidates:
        number = int(row["attempts"]) + 1
        took = conn.execute(
            outbox.update()
            .where(outbox.c.id == row["id"], outbox.c.status == "pending", free)
            .values(lease_owner=owner, lease_until=now + lease_s, attempts=number)
        )
        if took.rowcount == 1:
            claimed.append({**row, "attempts": number})
    return claimed


class Dispatcher:
    def __init__(
        self,
        *,
        engine: Engine,
        mqtt_url: str | None,
        mqtt_username: str | None = None,
        mqtt_password: str | None = None,
        smtp: SmtpSettings | None = None,
        telegram_api_url: str = "https://api.telegram.org",
        worker_id: str | None = None,
        lease_s: float = 60.0,
        batch: int = 50,
        max_in_flight: int = 4,
        max_attempts: int = 12,
        backoff_s: float = 5.0,
        backoff_max_s: float = 900.0,
        webhook_timeout_s: float = 10.0,
        poll_s: float = 0.2,
        digest_every_s: float = 30.0,
        watchdog: Watchdog | None = None,
        reminders: Reminders | None = None,
    ) -> None:
        self.engine = engine
        self.watchdog = watchdog  # the pipeline watchdog and reminders run in this loop too
        self.reminders = reminders
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_s = lease_s
        self.batch = batch
        self.max_in_flight = max(1, max_in_flight)
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.poll_s = poll_s
        self.digest_every_s = digest_every_s
        self._last_digest = 0.0
        self._last_renew = 0.0
        self._endpoints = EndpointStore(engine)
        self._lock = threading.Lock()
        self._pools: dict[int, ThreadPoolExecutor] = {}
        self._in_flight: dict[int, tuple[int, int]] = {}  # outbox id -> (endpoint, attempt)
        self._futures: set[Future[None]] = set()
        self.notifiers: dict[str, Notifier] = {
            "webhook": WebhookNotifier(timeout_s=webhook_timeout_s),
            "email": EmailNotifier(smtp),
            "mqtt": MqttStateNotifier(
                engine=engine, url=mqtt_url, username=mqtt_username, password=mqtt_password
            ),
            "telegram": TelegramNotifier(api_url=telegram_api_url, timeout_s=webhook_timeout_s),
        }

    # -- the loop -------------------------------------------------------------------

    def run_once(self, now: float | None = None) -> int:
        """Make due digests, claim what is due and deliver it; waits for the deliveries
        (``pantau alerts --once`` and tests). Returns how many were tried."""
        count = self.poll(now)
        self.wait()
        return count

    def poll(self, now: float | None = None) -> int:
        """Make due digests, renew the leases in flight, claim what is due per endpoint
        and hand it to the endpoint's workers without waiting; returns how many."""
        now = time.time() if now is None else now
        if now - self._last_digest >= self.digest_every_s or now < self._last_digest:
            self._last_digest = now
            try:
                make_digests(self.engine, now)
            except sa.exc.SQLAlchemyError:
                log.exception("making digests failed; will try again")
        self._renew()
        for task in (self.watchdog, self.reminders):
            if task is not None:
                task.check()
        started = 0
        for endpoint_id in self._due_endpoints(now):
            with self._lock:
                busy = sum(1 for ep, _ in self._in_flight.values() if ep == endpoint_id)
            slots = min(self.max_in_flight - busy, self.batch)
            if slots <= 0:
                continue
            for row in self._claim(now, endpoint_id, slots):
                started += 1
                self._submit(row, now)
        return started

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the deliveries in flight."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._futures)
            if not pending:
                return
            for future in pending:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                future.exception(timeout=left)
            if deadline is not None and time.monotonic() >= deadline:
                return

    def run_forever(self, stop: threading.Event) -> None:
        log.info("alert dispatcher %s started", self.worker_id)
        try:
            while not stop.is_set():
                try:
                    self.poll()
                except sa.exc.SQLAlchemyError:
                    log.exception("alert dispatcher: database error; retrying")
                stop.wait(self.poll_s)
        finally:
            self.close()
            log.info("alert dispatcher %s stopped", self.worker_id)

    def close(self) -> None:
        self.wait(timeout=30.0)
        for pool in list(self._pools.values()):
            pool.shutdown(wait=False, cancel_futures=True)
        for notifier in self.notifiers.values():
            notifier.close()

    # -- claiming -----------------------------------------------------------------

    def _due_endpoints(self, now: float) -> list[int]:
        free = sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox.c.endpoint_id)
                .where(
                    outbox.c.status == "pending",
                    outbox.c.next_attempt_at <= now,
                    outbox.c.endpoint_id.is_not(None),
                    free,
                )
                .distinct()
            ).all()
        return sorted(int(r[0]) for r in rows)

    def _claim(self, now: float, endpoint_id: int, limit: int) -> list[dict[str, Any]]:
        claimed: list[dict[str, Any]] = []
        with self.engine.begin() as conn:
            take_write_lock(conn)
            rows = claim_due(
                conn,
                endpoint_id=endpoint_id,
                owner=self.worker_id,
                now=now,
                lease_s=self.lease_s,
                limit=limit,
            )
            for row in rows:
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
                        number=row["attempts"],
                        worker=self.worker_id,
                        started_at=time.time(),
                        outcome="started",
                        detail="",
                    )
                ).inserted_primary_key
                assert new_id is not None
                claimed.append({**row, "attempt_id": int(new_id[0])})
        return claimed

    def _submit(self, row: dict[str, Any], now: float) -> None:
        endpoint_id = int(row["endpoint_id"])
        with self._lock:
            pool = self._pools.get(endpoint_id)
            if pool is None:
                pool = self._pools[endpoint_id] = ThreadPoolExecutor(
                    max_workers=self.max_in_flight, thread_name_prefix=f"notify-{endpoint_id}"
                )
            self._in_flight[int(row["id"])] = (endpoint_id, int(row["attempts"]))
            future = pool.submit(self._deliver, row, now)
            self._futures.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _renew(self) -> None:
        """Extend the leases of the rows in flight (every lease_s / 3)."""
        if time.monotonic() - self._last_renew < self.lease_s / 3:
            return
        self._last_renew = time.monotonic()
        with self._lock:
            ids = list(self._in_flight)
        if not ids:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(ids), outbox.c.lease_owner == self.worker_id)
                    .values(lease_until=time.time() + self.lease_s)
                )
        except sa.exc.SQLAlchemyError:
            log.exception("renewing %d delivery leases failed; will try again", len(ids))

    def _still_mine(self, row: dict[str, Any]) -> bool:
        """Re-take the lease right before sending; False if another dispatcher has it."""
        with self.engine.begin() as conn:
            took = conn.execute(
                outbox.update()
                .where(
                    outbox.c.id == row["id"],
                    outbox.c.status == "pending",
                    outbox.c.lease_owner == self.worker_id,
                    outbox.c.attempts == row["attempts"],
                )
                .values(lease_until=time.time() + self.lease_s)
            )
        return took.rowcount == 1

    # -- delivering ---------------------------------------------------------------

    def _deliver(self, row: dict[str, Any], now: float) -> None:
        try:
            self._attempt(row, now)
        except Exception:  # a database error here must not kill the endpoint's worker
            log.exception("delivering outbox row %s failed; the lease will expire", row["id"])
        finally:
            with self._lock:
                self._in_flight.pop(int(row["id"]), None)

    def _attempt(self, row: dict[str, Any], now: float) -> None:
        began = time.time()
        delivery = Delivery(
            int(row["id"]), int(row["attempts"]), str(row["channel"]), str(row["payload"])
        )
        try:
            endpoint = self._endpoint(row)
            if not endpoint.enabled:
                self._finish(row, "dropped", "endpoint disabled", status="dropped")
                return
            if not self._still_mine(row):
                log.warning("outbox %s: lease lost before sending; not sent", row["id"])
                self._finish(row, "interrupted", "lease lost before sending; not sent")
                return
            notifier = self.notifiers[delivery.channel]
            note = notifier.deliver(endpoint, delivery)
        except DeliveryFailed as exc:
            self._failed(row, str(exc), now + time.time() - began)
        except Exception as exc:  # a broken notifier must not stop the loop
            log.exception("notifier %s failed on outbox row %s", row["channel"], row["id"])
            self._failed(row, f"{type(exc).__name__}: {exc}", now + time.time() - began)
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
