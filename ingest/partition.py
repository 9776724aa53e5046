"""Partitioned ingest: several processes, each owning a fixed share of the devices.

With ``PANTAU_INGEST_PARTITION=i/n`` a process subscribes like any other (its own
persistent session, so the broker keeps everything for it), but spools only the
messages of the devices it owns: those whose id hashes to ``i`` modulo ``n``. The
rest it acknowledges at once, because another partition received its own copy.
Every device's messages are therefore processed by exactly one process, in order,
so per-device state (sequence numbers, detectors, windows, alert rules) stays
whole. The hash is CRC-32 of the id, the same in every process and every run.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

_SPEC = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True, slots=True)
class Partition:
    index: int
    count: int

    @classmethod
    def parse(cls, spec: str) -> Partition | None:
        """``"i/n"`` (0 ≤ i < n) or ``""`` for no partitioning."""
        if not spec:
            return None
        match = _SPEC.match(spec.strip())
        if not match or not 0 <= int(match[1]) < int(match[2]):
            raise ValueError("must be 'i/n' with 0 <= i < n, e.g. 0/2")
        return cls(int(match[1]), int(match[2]))

    def owns(self, topic: str) -> bool:
        """Whether this partition handles a message on ``topic``.

        The owner is the topic's id (``sensors/<id>/…`` or ``gateways/<id>/…``), so a
        gateway's packs go to the gateway's partition.
        """
        parts = topic.split("/", 2)
        key = parts[1] if len(parts) > 1 else topic
        return zlib.crc32(key.encode()) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
