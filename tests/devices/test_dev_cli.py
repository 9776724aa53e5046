"""``pantau devices …`` end to end on a temporary $PANTAU_HOME (broker not running)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pantau.cli import main

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "devices.csv"


def test_import_add_list_decommission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PANTAU_HOME", str(tmp_path))
    monkeypatch.delenv("PANTAU_DATABASE_URL", raising=False)
    assert main(["devices", "import", str(EXAMPLE), "--dry-run"]) == 0
    assert "no problems; dry run, nothing was changed" in capsys.readouterr().out
    creds = tmp_path / "creds.csv"
    assert main(["devices", "import", str(EXAMPLE), "--credentials-out", str(creds)]) == 0
    assert creds.stat().st_mode & 0o777 == 0o600
    assert len(creds.read_text().splitlines()) == 7
    passwd = (tmp_path / "mosquitto" / "passwd").read_text()
    assert "wl-ckr-001:$7$101$" in passwd and "pantau-ingest:$7$" in passwd
    assert main(["devices", "import", str(EXAMPLE), "--dry-run"]) == 1
    assert "6 problems; nothing was changed" in capsys.readouterr().out
    args = ["--id", "aq-x1", "--kind", "air_quality", "--zone", "ejip"]
    assert main(["devices", "add", *args, "--latitude", "-6.33", "--longitude", "107.14"]) == 0
    out = capsys.readouterr().out
    assert "registered aq-x1" in out and "shown only once" in out
    qc = ["--qc", "pm25.high=400; pm10.max_rate_per_s=2.5"]
    position = ["--latitude", "-6.33", "--longitude", "107.14"]
    assert main(["devices", "add", "--id", "aq-x2", *args[2:], *position, *qc, "--no-sync"]) == 0
    assert main(["devices", "show", "aq-x2"]) == 0
    assert "pm10.max_rate_per_s=2.5; pm25.high=400" in capsys.readouterr().out
    assert main(["devices", "decommission", "aq-x1"]) == 0
    assert "aq-x1:" not in (tmp_path / "mosquitto" / "passwd").read_text()
    assert main(["devices", "list", "--status", "decommissioned"]) == 0
    assert "aq-x1" in capsys.readouterr().out
    assert main(["devices", "add", *args, "--latitude", "6.33", "--longitude", "107.14"]) == 1
    assert "latitude 6.33 is outside Kabupaten Bekasi" in capsys.readouterr().err
