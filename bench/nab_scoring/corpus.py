"""Reading a NAB-layout data folder (``<category>/<file>.csv`` with ``timestamp,value``),
its label windows, and writing results in NAB's layout."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class DataFile:
    name: str  # "<category>/<file>.csv", the key used in combined_windows.json
    timestamps: tuple[str, ...]
    values: NDArray[np.float64]

    @property
    def ts_ns(self) -> NDArray[np.int64]:
        """Row timestamps in ns since the epoch (NAB's naive timestamps read as UTC)."""
        return np.array([_ns(_parse(t)) for t in self.timestamps], np.int64)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.strip())


def _ns(dt: datetime) -> int:
    aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(microseconds=1) * 1_000


def read_folder(root: Path, categories: tuple[str, ...] | None = None) -> list[DataFile]:
    files: list[DataFile] = []
    for path in sorted(root.glob("*/*.csv")):
        category = path.parent.name
        if categories is not None and category not in categories:
            continue
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        files.append(
            DataFile(
                name=f"{category}/{path.name}",
                timestamps=tuple(r["timestamp"] for r in rows),
                values=np.array([float(r["value"]) for r in rows], np.float64),
            )
        )
    return files


def read_windows(labels: Path, data: DataFile) -> list[tuple[int, int]]:
    """The file's label windows as row indices (boundary timestamps match rows exactly)."""
    table: dict[str, list[list[str]]] = json.loads(labels.read_text())
    index = {_parse(t): i for i, t in enumerate(data.timestamps)}
    return [(index[_parse(a)], index[_parse(b)]) for a, b in table.get(data.name, [])]


def read_scores(path: Path) -> NDArray[np.float64]:
    with path.open(newline="") as fh:
        return np.array([float(r["anomaly_score"]) for r in csv.DictReader(fh)], np.float64)


def write_results(out: Path, detector: str, data: DataFile, scores: NDArray[np.float64]) -> None:
    category, filename = data.name.split("/")
    target = out / detector / category / f"{detector}_{filename}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for ts, v, s in zip(data.timestamps, data.values.tolist(), scores.tolist(), strict=True):
            writer.writerow([ts, repr(v), f"{s:.6f}"])
