"""Parameter types that several routes share.

Row ids are SQL integer keys: bounded to what SQLite and PostgreSQL ``BIGINT``
hold, so an out-of-range id is a 422 naming the parameter, not a driver overflow.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ROW_ID = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, examples=[17])]

DeviceId = Annotated[str, Path(max_length=64, description="device id", examples=["aq-017"])]
RuleId = Annotated[
    str, Path(max_length=64, description="alert rule id", examples=["pm25-jababeka"])
]
KeyId = Annotated[
    str,
    Path(
        max_length=16, description="the id part of a key (`pk_<id>_…`)", examples=["3f9a1c0b7e2d"]
    ),
]
PageLimit = Annotated[int, Query(ge=1, le=1000, description="rows per page")]
