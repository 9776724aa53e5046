"""`pantau alerts` takes SMTP and the webhook secret from settings (env or pantau.toml)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from alerts.commands import smtp_settings
from alerts.endpoints import EndpointStore
from alerts.mailer import SmtpSettings
from pantau.cli import build_parser, main
from pantau.database import open_engine
from pantau.settings import load_settings


def _options(*argv: str) -> argparse.Namespace:
    return build_parser(["alerts"]).parse_args(["alerts", *argv])


def test_smtp_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANTAU_SMTP_HOST", "mail.example")
    monkeypatch.setenv("PANTAU_SMTP_PORT", "2525")
    monkeypatch.setenv("PANTAU_SMTP_USER", "dlh")
    monkeypatch.setenv("PANTAU_SMTP_PASSWORD", "rahasia")
    monkeypatch.setenv("PANTAU_SMTP_STARTTLS", "true")
    settings = load_settings()
    assert smtp_settings(_options(), settings) == SmtpSettings(
        host="mail.example",
        port=2525,
        sender="pantau@localhost",
        username="dlh",
        password="rahasia",
        starttls=True,
    )
    flagged = smtp_settings(_options("--smtp-port", "465"), settings)
    assert flagged is not None and flagged.port == 465  # an option wins over the setting


def test_no_smtp_host_no_email() -> None:
    assert smtp_settings(_options(), load_settings()) is None


def test_webhook_secret_comes_from_the_settings(
    sql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PANTAU_DATABASE_URL", sql_url)
    monkeypatch.setenv("PANTAU_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PANTAU_WEBHOOK_SECRET", "s" * 24)
    assert main(["alerts", "endpoints", "add", "dlh", "webhook", "https://dlh.example/h"]) == 0
    (endpoint,) = [e for e in EndpointStore(open_engine(sql_url)).list() if e.name == "dlh"]
    assert endpoint.secret == "s" * 24
