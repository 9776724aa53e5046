"""Small status files under ``$PANTAU_HOME/status`` that one process writes and others read.

``pantau ingest`` writes its connection to the broker there (``ingest-<client>.json``:
``{"broker": "connected" | "refused: …" | …, "since": …}``) and ``pantau api``'s
``/api/v1/health`` shows it, so a refused ingest is visible without reading its log.
A writer refreshes its file at least every 30 s; :func:`read_statuses` marks a file not
rewritten for ``STALE_AFTER_S`` as ``stale`` (its process died without a word, e.g.
``kill -9``), unless it says the process stopped.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


def status_dir(home: Path) -> Path:
    return home / "status"


def write_status(path: Path, document: dict[str, object]) -> None:
    """Replace ``path`` atomically with ``document`` as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({**document, "written_at": time.time()}))
    os.replace(temporary, path)


STALE_AFTER_S = 90.0  # three missed refreshes


def read_statuses(
    directory: Path, prefix: str, *, now: float | None = None
) -> dict[str, dict[str, object]]:
    """Every ``<prefix>*.json`` in ``directory`` by name (without prefix and suffix), with
    ``"stale": true`` where it was last written more than ``STALE_AFTER_S`` ago."""
    now = time.time() if now is None else now
    found: dict[str, dict[str, object]] = {}
    for path in sorted(directory.glob(f"{prefix}*.json")):
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(document, dict):
            written = document.get("written_at")
            age = now - written if isinstance(written, int | float) else float("inf")
            document["stale"] = age > STALE_AFTER_S and document.get("broker") != "stopped"
            found[path.name[len(prefix) : -len(".json")]] = document
    return found
