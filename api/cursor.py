"""Opaque page cursors for ``GET /api/v1/readings``: the last row's time and series.

A cursor is URL-safe base64 of a small JSON document that also carries a
fingerprint of the query, so a cursor cannot be replayed against other filters.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
from dataclasses import dataclass

import orjson

from api.influxql import ReadingsQuery
from pantau.errors import InvalidRequest

SeriesKey = tuple[str, str, str, str]  # device, metric, zone, kind


def fingerprint(q: ReadingsQuery) -> str:
    """Identifies the filters of a query (not its start, which pages move)."""
    stable = dataclasses.replace(q, start_ns=0)
    return hashlib.sha256(repr(stable).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Cursor:
    time_ns: int
    key: SeriesKey
    query: str  # fingerprint

    def encode(self) -> str:
        document = {"t": self.time_ns, "k": list(self.key), "q": self.query}
        return base64.urlsafe_b64encode(orjson.dumps(document)).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, q: ReadingsQuery) -> Cursor:
        problem = "`cursor` is not one this API gave out; copy `next_cursor` from the last page"
        try:
            padded = text + "=" * (-len(text) % 4)
            document = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            time_ns = document["t"]
            key = document["k"]
            query = document["q"]
        except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
            raise InvalidRequest(problem, field="cursor") from None
        valid = (
            isinstance(time_ns, int)
            and isinstance(query, str)
            and isinstance(key, list)
            and len(key) == 4
            and all(isinstance(part, str) for part in key)
        )
        if not valid:
            raise InvalidRequest(problem, field="cursor")
        if query != fingerprint(q):
            raise InvalidRequest(
                "`cursor` belongs to a query with other filters; repeat the parameters of the "
                "first page or drop `cursor`",
                field="cursor",
            )
        if not q.start_ns <= time_ns < q.end_ns:
            raise InvalidRequest("`cursor` lies outside `start`..`end`", field="cursor")
        return cls(time_ns, (key[0], key[1], key[2], key[3]), query)
