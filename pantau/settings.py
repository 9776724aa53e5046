"""One validated settings object, from ``PANTAU_*`` environment variables or ``pantau.toml``.

Environment variables win over the file. An invalid value stops the start with
:class:`~pantau.errors.ConfigError`, whose message names the variable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from pantau import schema
from pantau.catalogue import METRIC_INDEX, QC_THRESHOLDS
from pantau.errors import ConfigError

Port = Annotated[int, Field(ge=1, le=65535)]


class Settings(BaseSettings):
    """All of Pantau's settings. Each field ``x`` is set by ``PANTAU_X`` or ``x`` in pantau.toml."""

    model_config = SettingsConfigDict(
        env_prefix="PANTAU_", toml_file="pantau.toml", extra="forbid", frozen=True
    )

    home: Path = Field(Path("var"), description="Directory for local services, spool, SQLite")
    log_level: str = "INFO"

    # MQTT
    mqtt_url: str = Field("mqtt://127.0.0.1:18830", description="mqtt://user:pass@host:port")
    mqtt_client_id: str = "pantau-ingest"
    mqtt_share_group: str = Field("", description="Shared-subscription group ('' = none)")
    mqtt_max_payload: int = Field(256 * 1024, ge=1024, description="Largest accepted payload")
    mqtt_reload_command: str = Field(
        "",
        description="command that makes the broker re-read passwd/acl ('' = SIGHUP to the "
        "Mosquitto of `pantau services up`)",
    )

    # InfluxDB (v1 HTTP API)
    influx_url: str = "http://127.0.0.1:18086"
    influx_db: str = "pantau"
    influx_token: str = ""
    influx_user: str = ""
    influx_password: str = ""
    influx_timeout: float = Field(10.0, gt=0)
    influx_batch_lines: int = Field(5000, ge=1, le=100_000)
    influx_parallel_writes: int = Field(
        2, ge=1, le=16, description="InfluxDB write requests in flight at once (per process)"
    )

    # SQL (registry, alerts, dead letters, keys)
    database_url: str = Field(
        "",
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user:pass@host:5432/pantau; "
        "default sqlite under home",
    )
    database_pool_size: int = Field(
        5, ge=1, le=200, description="PostgreSQL connections each process keeps open"
    )
    database_max_overflow: int = Field(
        10, ge=0, le=500, description="extra connections a process may open under load"
    )
    database_pool_timeout: float = Field(
        30.0, gt=0, description="seconds a request waits for a free pooled connection"
    )
    registry_refresh_s: float = Field(
        0.5, gt=0, le=60, description="how often ingest checks the registry version for changes"
    )

    # local services (`pantau services up`)
    mosquitto_port: Port = 18830
    influx_port: Port = 18086
    influx_rpc_port: int = Field(
        0, ge=0, le=65535, description="InfluxDB's backup/restore port; 0: influx_port + 1"
    )
    postgres_port: Port = Field(15432, description="port of the local PostgreSQL (--with-postgres)")
    local_postgres: bool = Field(
        False,
        description="use the local PostgreSQL under home (and start it with the services) "
        "when PANTAU_DATABASE_URL is not set",
    )

    # ingest
    spool_max_bytes: int = Field(2 * 1024**3, ge=1024 * 1024)
    ingest_flush_ms: int = Field(200, ge=1, le=60_000)
    ingest_batch_messages: int = Field(
        10_000, ge=1, description="messages per processing chunk (at most)"
    )
    ingest_batch_bytes: int = Field(
        8 * 1024**2, ge=1024, description="message bytes per processing chunk (about)"
    )
    ingest_checkpoint_seconds: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="the processing process's checkpoint, at most this often (and at most 5 %"
        " of the time); after a crash the spool since the last one is processed again",
    )
    ingest_ready_wait_s: float = Field(
        10.0,
        ge=0,
        description="at start, how long the subscription waits for the processing process",
    )
    ingest_partition: str = Field(
        "", description="'i/n': handle only the devices whose id hashes to i mod n ('' = all)"
    )

    # alerts (issue 18)
    alerts_max_in_flight: int = Field(
        4, ge=1, le=64, description="deliveries at once per notification endpoint"
    )
    alerts_remind_minutes: dict[str, float] = Field(
        default_factory=lambda: {"critical": 30.0, "major": 120.0},
        description="repeat an open, unacknowledged alert every N minutes, per severity",
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Telegram Bot API base URL"
    )
    telegram_bot_token: str = Field(
        "", repr=False, description="bot token of Telegram endpoints added with the CLI"
    )

    # API
    api_host: str = "127.0.0.1"
    api_port: Port = 8000
    cors_origins: list[str] = Field(default_factory=list)
    rate_limit_per_minute: int = Field(600, ge=1)
    public_rate_limit_per_minute: int = Field(
        120, ge=1, description="requests without a key, per client address"
    )
    api_max_body_bytes: int = Field(
        64 * 1024, ge=1024, le=5 * 1024**2, description="request body limit (CSV import: 5 MB)"
    )
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="also serve /metrics without a key on this port"
    )
    metrics_host: str = Field("127.0.0.1", description="address of PANTAU_METRICS_PORT")
    tile_url: str = Field("", description="Map tile URL template; empty = plain background")

    # pipeline (pantau ingest)
    ispu_period_hours: dict[str, int] = Field(
        default_factory=dict,
        description='ISPU averaging period per pollutant in hours, e.g. {"co": 8}; others 24',
    )
    qc_thresholds: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description='QC defaults per metric, e.g. {"pm25": {"spike_sigma": 8}}',
    )
    anomaly_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="anomaly score that sets the ANOMALY flag (None: 0.9)"
    )

    # alerts (pantau alerts): e-mail and webhooks
    smtp_host: str = Field("", description="SMTP server for e-mail notifications ('' = none)")
    smtp_port: Port = 25
    smtp_from: str = "pantau@localhost"
    smtp_user: str = ""
    smtp_password: str = Field("", repr=False)
    smtp_starttls: bool = False
    webhook_secret: str = Field(
        "", repr=False, description="signing secret of webhooks added with the CLI"
    )

    @field_validator("alerts_remind_minutes")
    @classmethod
    def _remind(cls, value: dict[str, float]) -> dict[str, float]:
        known = ("info", "warning", "major", "critical")
        bad = [k for k in value if k not in known]
        if bad or any(v < 0 for v in value.values()):
            raise ValueError(
                f"a JSON object of severity ({', '.join(known)}) to minutes >= 0 "
                f'(0 = no reminders), e.g. {{"critical": 30}}; got {value}'
            )
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts", "tcp") or not parts.hostname:
            raise ValueError("must look like mqtt://[user:password@]host[:port]")
        return value

    @field_validator("influx_url")
    @classmethod
    def _influx_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must look like http://host:port")
        return value.rstrip("/")

    @field_validator("ingest_partition")
    @classmethod
    def _ingest_partition(cls, value: str) -> str:
        match = re.fullmatch(r"(\d+)/(\d+)", value)
        if value and not (match and int(match[1]) < int(match[2])):
            raise ValueError("must be 'i/n' with 0 <= i < n, e.g. 0/2")
        return value

    @field_validator("ispu_period_hours")
    @classmethod
    def _ispu_period_hours(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(schema.ISPU_BREAKPOINTS))
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} not ISPU pollutants ({', '.join(schema.ISPU_BREAKPOINTS)})"
            )
        if any(hours < 1 for hours in value.values()):
            raise ValueError("periods are whole hours, at least 1")
        return value

    @field_validator("qc_thresholds")
    @classmethod
    def _qc_thresholds(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for metric, thresholds in value.items():
            if metric not in METRIC_INDEX:
                raise ValueError(f"{metric!r} is not a metric of the catalogue")
            unknown = sorted(set(thresholds) - set(QC_THRESHOLDS))
            if unknown:
                raise ValueError(
                    f"{metric}: {', '.join(unknown)} not among {', '.join(QC_THRESHOLDS)}"
                )
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("PANTAU_CONFIG", "pantau.toml")
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    @property
    def sql_url(self) -> str:
        if self.database_url:
            return self.database_url
        if self.local_postgres:
            return local_postgres_url(self.home, self.postgres_port)
        return f"sqlite:///{(self.home / 'pantau.db').resolve()}"

    @property
    def pool_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`pantau.database.open_engine` for the pool."""
        return {
            "pool_size": self.database_pool_size,
            "max_overflow": self.database_max_overflow,
            "pool_timeout": self.database_pool_timeout,
        }

    @property
    def ingest_client_id(self) -> str:
        """The MQTT client id of ``pantau ingest``: one persistent session per partition."""
        if self.ingest_partition:
            index, count = self.ingest_partition.split("/")
            return f"{self.mqtt_client_id}-p{index}of{count}"
        return self.mqtt_client_id

    @property
    def spool_dir(self) -> Path:
        """One spool per ingest process: processes that scale out get their own."""
        if self.ingest_partition or self.mqtt_share_group:
            return self.home / "spool" / self.ingest_client_id
        return self.home / "spool"


def local_postgres_url(home: Path, port: int) -> str:
    """The URL of the PostgreSQL that ``pantau services up --with-postgres`` runs under home."""
    password_file = home.resolve() / "postgres" / "password"
    try:
        password = password_file.read_text().strip()
    except OSError:
        raise ConfigError(
            "PANTAU_LOCAL_POSTGRES is set but the local PostgreSQL has not been created yet "
            f"({password_file} is missing); run: pantau services up --with-postgres"
        ) from None
    return f"postgresql+psycopg://pantau:{password}@127.0.0.1:{port}/pantau"


def load_settings(**overrides: Any) -> Settings:
    """Load and validate settings; raise ConfigError naming the offending variable."""
    try:
        return Settings(**overrides)
    except SettingsError as exc:  # a list or table that is not JSON
        match = re.search(r'field "(\w+)"', str(exc))
        name = match[1] if match else "?"
        raise ConfigError(
            f"invalid setting: PANTAU_{name.upper()} (or '{name}' in pantau.toml): "
            "a list or a table must be written as JSON ([…] or {…})"
        ) from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"PANTAU_{name.upper()} (or '{name}' in pantau.toml): {error['msg']}")
        raise ConfigError("invalid setting: " + "; ".join(problems)) from None
