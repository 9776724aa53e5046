"""Building crafted observation series for the alerts tests."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import Engine

from alerts.observations import Observations

S = 1_000_000_000
T0 = 1_763_800_000 * S


def series(
    values: Sequence[float],
    *,
    device: str = "aq-001",
    metric: str = "pm25",
    zone: str = "jababeka",
    kind: str = "air",
    step_s: float = 60,
    start_ns: int = T0,
    flags: Sequence[int] | None = None,
    score: Sequence[float] | None = None,
) -> Observations:
    n = len(values)
    return Observations(
        device=[device] * n,
        zone=[zone] * n,
        kind=[kind] * n,
        metric=[metric] * n,
        ts_ns=[start_ns + int(i * step_s * S) for i in range(n)],
        value=list(values),
        flags=list(flags) if flags is not None else [0] * n,
        score=list(score) if score is not None else [0.0] * n,
    )


def rows(engine: Engine, sql: str) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(m) for m in conn.execute(sa.text(sql)).mappings()]
