"""The ingest checkpoint: spool cursor, device index and pipeline state, saved atomically together.

Saving them as one file is what makes a replay after ``kill -9`` deterministic:
the pipeline restarts from exactly the state it had when the cursor was saved.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import orjson

from ingest.spool import Cursor

_LENGTH = struct.Struct("<Q")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    cursor: Cursor
    device_ids: tuple[str, ...]
    pipeline_state: bytes | bytearray


def save(path: Path, checkpoint: Checkpoint) -> None:
    header = orjson.dumps(
        {
            "segment": checkpoint.cursor.segment,
            "offset": checkpoint.cursor.offset,
            "devices": list(checkpoint.device_ids),
        }
    )
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as handle:
        handle.write(_LENGTH.pack(len(header)) + header)
        handle.write(checkpoint.pipeline_state)  # (megabytes: not copied into one buffer first)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def load(path: Path) -> Checkpoint | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    (length,) = _LENGTH.unpack_from(data)
    header = orjson.loads(data[_LENGTH.size : _LENGTH.size + length])
    return Checkpoint(
        cursor=Cursor(int(header["segment"]), int(header["offset"])),
        device_ids=tuple(header["devices"]),
        pipeline_state=data[_LENGTH.size + length :],
    )
