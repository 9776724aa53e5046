"""Parameter types that several routes share.

Row ids are SQL integer keys: bounded to what SQLite and PostgreSQL ``BIGINT``
hold, so an out-of-range id is a 422 naming the parameter, not a driver overflow.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_ROW_ID = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, examples=[17])]
