"""The systemd units in docs/deploy/ pass ``systemd-analyze verify`` (no warnings either)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy"
INSTANCES = {
    "pantau-api@.service": "pantau-api@8001.service",
    "pantau-ingest@.service": "pantau-ingest@0.service",
    "pantau-alerts@.service": "pantau-alerts@1.service",
}


def test_units_verify_cleanly(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is part of the systemd package (scripts/install-system.sh)"
    pantau = Path(sys.executable).parent / "pantau"
    assert pantau.exists()
    for template, instance in INSTANCES.items():
        text = (DEPLOY / template).read_text()
        assert "ExecStart=/opt/pantau/.venv/bin/pantau " in text
        # the units name the installed path; here the checkout's own venv stands in for it
        (tmp_path / instance).write_text(text.replace("/opt/pantau/.venv/bin/pantau", str(pantau)))
    shutil.copy(DEPLOY / "pantau.target", tmp_path / "pantau.target")
    wanted = (DEPLOY / "pantau.target").read_text()
    for instance in INSTANCES.values():
        assert instance in wanted
    result = subprocess.run(
        [analyze, "verify", "--man=no", *INSTANCES.values(), "pantau.target"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and result.stdout.strip() == "", result.stderr
