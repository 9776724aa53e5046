"""The SQL tables of the alerts part (created by the ``alerts`` Alembic branch).

Times of alerts and transitions are epoch nanoseconds (UTC); outbox scheduling
uses epoch seconds (floats), as the dispatcher's clock does.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("device", sa.String(64)),
    sa.Column("zone", sa.String(64)),
    sa.Column("device_kind", sa.String(32)),
    sa.Column("metric", sa.String(32)),
    sa.Column("op", sa.String(8), nullable=False),
    sa.Column("raise_value", sa.Float),
    sa.Column("clear_value", sa.Float),
    sa.Column("raise_for_s", sa.Float, nullable=False),
    sa.Column("clear_for_s", sa.Float, nullable=False),
    sa.Column("level", sa.String(32)),
    sa.Column("factor", sa.Float, nullable=False),
    sa.Column("flags", sa.Integer, nullable=False),
    sa.Column("window", sa.Integer, nullable=False),
    sa.Column("flap_count", sa.Integer, nullable=False),
    sa.Column("flap_window_s", sa.Float, nullable=False),
    sa.Column("flap_hold_s", sa.Float, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
)

rule_state = sa.Table(
    "alert_rule_state",
    metadata,
    sa.Column("rule_id", sa.String(64), primary_key=True),
    sa.Column("device", sa.String(64), primary_key=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("pending_since_ns", sa.BigInteger),
    sa.Column("clearing_since_ns", sa.BigInteger),
    sa.Column("last_ts_ns", sa.BigInteger),
    sa.Column("alert_id", sa.Integer),
    sa.Column("flapping", sa.Boolean, nullable=False),
    sa.Column("opens", sa.Text, nullable=False),  # JSON list of recent open times (ns)
    sa.Column("tail", sa.Text, nullable=False),  # JSON list: quality rule's rolling window
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule_id", sa.String(64), nullable=False, index=True),
    sa.Column("rule_kind", sa.String(32), nullable=False),
    sa.Column("device", sa.String(64), nullable=False, index=True),
    sa.Column("zone", sa.String(64), nullable=False, index=True),
    sa.Column("device_kind", sa.String(32), nullable=False),
    sa.Column("metric", sa.String(32)),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("flapping", sa.Boolean, nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("opened_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("acknowledged_ns", sa.BigInteger),
    sa.Column("acknowledged_by", sa.String(200)),
    sa.Column("resolved_ns", sa.BigInteger),
    sa.Column("resolved_by", sa.String(200)),
    sa.Column("reminded_ns", sa.BigInteger),  # the last reminder (issue 18)
    sa.Column("silenced_by", sa.Integer),  # the silence that held its notifications
    sa.Index(
        "ux_alerts_one_unresolved",
        "rule_id",
        "device",
        unique=True,
        sqlite_where=sa.text("status != 'resolved'"),
        postgresql_where=sa.text("status != 'resolved'"),
    ),
)

transitions = sa.Table(
    "alert_transitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("at_ns", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("comment", sa.Text, nullable=False),
)

endpoints = sa.Table(
    "notification_endpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("target", sa.String(500), nullable=False),  # URL, e-mail address, topic prefix
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("zones", sa.Text, nullable=False),  # JSON list; [] = every zone
    sa.Column("kinds", sa.Text, nullable=False),  # JSON list of rule or device kinds
    sa.Column("min_severity", sa.String(16), nullable=False),
    sa.Column("quiet_start", sa.String(5)),  # "22:00" Asia/Jakarta
    sa.Column("quiet_end", sa.String(5)),
    sa.Column("quiet_min_severity", sa.String(16), nullable=False),
    sa.Column("digest_max_severity", sa.String(16)),
    sa.Column("digest_interval_s", sa.Float, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("language", sa.String(2), nullable=False, server_default="id"),
)

outbox = sa.Table(
    "alert_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("endpoint_id", sa.Integer, sa.ForeignKey("notification_endpoints.id"), index=True),
    sa.Column("transition_id", sa.Integer),
    sa.Column("alert_id", sa.Integer),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("next_attempt_at", sa.Float, nullable=False, index=True),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", sa.Float),
    sa.Column("delivered_at", sa.Float),
    sa.Column("last_error", sa.Text),
    sa.Column("digest_id", sa.Integer),
)

attempts = sa.Table(
    "alert_delivery_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "outbox_id", sa.Integer, sa.ForeignKey("alert_outbox.id"), nullable=False, index=True
    ),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(100), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Column("outcome", sa.String(16), nullable=False),  # started|delivered|failed|interrupted
    sa.Column("detail", sa.Text, nullable=False),
)

silences = sa.Table(
    "alert_silences",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("device", sa.String(64)),  # scope: any of these, all empty = everything
    sa.Column("zone", sa.String(64)),
    sa.Column("rule_id", sa.String(64)),
    sa.Column("starts_ns", sa.BigInteger, nullable=False),
    sa.Column("ends_ns", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
)

heartbeats = sa.Table(
    "pantau_heartbeats",
    metadata,
    sa.Column("component", sa.String(64), primary_key=True),  # e.g. "ingest"
    sa.Column("beat_ns", sa.BigInteger, nullable=False),
    sa.Column("detail", sa.String(200), nullable=False),
)
