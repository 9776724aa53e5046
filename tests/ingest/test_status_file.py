"""``pantau ingest``'s status file is rewritten while nothing changes, so a reader can
tell a live report from one left by a process that died (``/api/v1/health``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

import ingest.service
from ingest.receiver import Receiver
from ingest.service import IngestService


def test_the_status_is_refreshed_and_since_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest.service, "STATUS_REFRESH_S", 0.05)
    subscriber = SimpleNamespace(state="connected", refusals=0)
    path = tmp_path / "ingest-pantau-ingest.json"
    service = IngestService(
        receiver=cast(Receiver, SimpleNamespace(subscriber=subscriber)),
        worker_args=[],
        status_file=path,
    )
    service._report_broker_state()
    first = json.loads(path.read_text())
    service._report_broker_state()  # unchanged and recent: not rewritten
    assert json.loads(path.read_text())["written_at"] == first["written_at"]
    time.sleep(0.1)
    service._report_broker_state()
    second = json.loads(path.read_text())
    assert second["written_at"] > first["written_at"]
    assert second["since"] == first["since"] and second["broker"] == "connected"
