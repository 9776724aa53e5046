"""``pantau alerts silences …`` and a Telegram endpoint from the command line (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pantau.cli import main

TOKEN = "123456789:AAE-test_token_abcdefghijklmnopq"


def test_silences_and_a_telegram_endpoint_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PANTAU_HOME", str(tmp_path))
    monkeypatch.delenv("PANTAU_DATABASE_URL", raising=False)
    add = ["alerts", "silences", "add", "--device", "kb-03", "--hours", "2"]
    assert main([*add, "--reason", "pemeliharaan pompa", "--by", "Sari"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["device"] == "kb-03" and made["created_by"] == "Sari"
    assert main(["alerts", "silences", "list", "--active"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == made["id"]
    assert main(["alerts", "silences", "end", str(made["id"])]) == 0
    capsys.readouterr()
    assert main(["alerts", "silences", "list", "--active"]) == 0
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("PANTAU_TELEGRAM_BOT_TOKEN", TOKEN)
    endpoint = ["bpbd", "telegram", "-1001234567890", "--kind", "water_level"]
    assert main(["alerts", "endpoints", "add", *endpoint, "--language", "en"]) == 0
    capsys.readouterr()
    assert main(["alerts", "endpoints", "list"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [bpbd] = [e for e in listed if e["name"] == "bpbd"]
    assert bpbd["secret"] == "set" and bpbd["language"] == "en"
    assert bpbd["kinds"] == ["water_level"] and TOKEN not in json.dumps(listed)
