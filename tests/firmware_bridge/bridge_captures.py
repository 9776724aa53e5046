"""Readers for the PyPMS captured data (hexdump frames + the CSV decoded at capture time)."""

from __future__ import annotations

import csv
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "serial" / "pypms_captured_data"


def frames(sensor: str) -> list[bytes]:
    out = []
    for line in (DATA / f"{sensor}.hexdump").read_text().splitlines():
        if line.strip():
            out.append(bytes.fromhex(line.split(": ", 1)[1].split("  ")[0]))
    return out


def rows(sensor: str) -> list[dict[str, float]]:
    with (DATA / f"{sensor}.csv").open() as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        header = next(reader)
        return [{k: float(v) for k, v in zip(header, row, strict=True)} for row in reader]


def cases(sensor: str) -> list[tuple[bytes, dict[str, float]]]:
    pairs = list(zip(frames(sensor), rows(sensor), strict=True))
    assert pairs, sensor
    return pairs
