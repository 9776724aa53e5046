"""A reading may carry QC flags its device or gateway knows (``"flags": 512``, BOUND: the
value is a bound, e.g. water inside an ultrasonic ranger's blanking distance). Ingest
keeps them through the pipeline; other payloads are unchanged."""

from __future__ import annotations

import numpy as np
import orjson

from ingest.decode import decode
from ingest.readings import Columns
from pantau.batch import Batch
from pantau.catalogue import METRIC_INDEX
from pantau.flags import QC, flag_names
from tests.ingest.pipeline.harness import T0, new_pipeline
from tests.ingest.test_decode import DIRECTORY, RECEIVED


def run(payload: object) -> tuple[Columns, list[str]]:
    out = Columns()
    decoded = decode(
        "sensors/wl-001/readings",
        orjson.dumps(payload),
        received_ns=RECEIVED,
        directory=DIRECTORY,
        out=out,
        max_payload=65536,
    )
    return out, [r.reason for r in decoded.rejections]


TS = RECEIVED // 1_000_000


def test_flags_on_a_reading_are_kept_by_row() -> None:
    out, reasons = run(
        [
            {"ts": TS, "seq": 1, "values": {"water_level": 419.9}},
            {"ts": TS + 1, "seq": 2, "values": {"water_level": 420.0}, "flags": 512},
        ]
    )
    assert reasons == [] and len(out) == 2
    assert out.flagged == {1: int(QC.BOUND)}
    assert flag_names(512) == ["BOUND"]


def test_payloads_without_flags_are_unchanged() -> None:
    out, reasons = run({"ts": TS, "seq": 1, "values": {"water_level": 10.0}, "flags": 0})
    assert reasons == [] and len(out) == 1 and out.flagged == {}


def test_flags_pantau_sets_itself_are_refused() -> None:
    for flags in (1, 256, 512 | 2, -1, "BOUND", True, 1.5):
        out, reasons = run({"ts": TS, "values": {"water_level": 10.0}, "flags": flags})
        assert reasons == ["bad_flags"] and len(out) == 0, flags


def test_the_pipeline_keeps_a_device_flag_and_adds_its_own() -> None:
    level = METRIC_INDEX["water_level"]
    batch = Batch.from_columns(
        device=[1, 1], metric=[level, level], ts=[T0, T0 + 1_000_000_000], raw=[420.0, 5000.0]
    )
    batch.flags[:] = np.array([QC.BOUND, QC.BOUND], np.int32)
    out = new_pipeline().process(batch, now_ns=T0 + 2_000_000_000)
    flags = [int(f) for f in out.batch.flags]
    assert all(f & QC.BOUND for f in flags)
    assert flags[1] & QC.RANGE  # 5000 cm is outside the physical range
