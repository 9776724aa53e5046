"""Per-device QC threshold overrides: parsing, the registry, CSV, and the pipeline (the API
in test_dev_api.py).

The last test follows an override from the registry through the ingest path's
directory into the pipeline's RANGE check, and its removal back out.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import pytest

from devices.cache import load_snapshot
from devices.importer import import_csv
from devices.qc import parse_qc, qc_text
from devices.registry import Registry
from ingest.directory import RegistryDirectory
from ingest.record import encode_message
from ingest.spool import Record
from pantau.database import open_engine
from pantau.flags import QC
from tests.harness import register
from tests.ingest.processors import new_processor

AIR = ("pm25", "pm10")


def test_json_and_csv_forms_give_the_same_overrides() -> None:
    from_json, problems = parse_qc({"pm25": {"high": 500, "max_rate_per_s": 2.5}}, AIR)
    assert problems == []
    assert from_json == (("pm25", "high", 500.0), ("pm25", "max_rate_per_s", 2.5))
    assert parse_qc("pm25.max_rate_per_s=2,5; pm25.high = 500", AIR) == (from_json, [])
    assert parse_qc(qc_text(from_json), AIR) == (from_json, [])
    assert parse_qc('{"pm25": {"high": 500, "max_rate_per_s": 2.5}}', AIR) == (from_json, [])
    assert parse_qc("", AIR) == ((), [])
    assert parse_qc({}, AIR) == ((), [])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"rain": {"high": 10}}, "the device does not report rain (it reports pm25, pm10)"),
        ({"pm2.5": {"high": 10}}, "unknown metric 'pm2.5'"),
        ({"pm25": {"hihg": 10}}, "unknown threshold 'hihg'; known: low, high, max_rate_per_s"),
        ({"pm25": {"high": "lots"}}, "pm25.high must be a finite number, not 'lots'"),
        ({"pm25": {"high": True}}, "pm25.high must be a finite number"),
        ({"pm25": {"max_rate_per_s": 0}}, "pm25.max_rate_per_s must be above 0"),
        ({"pm25": {"flatline_count": 2.5}}, "pm25.flatline_count must be a whole number"),
        ({"pm25": {"spike_min_delta": -1}}, "pm25.spike_min_delta must not be negative"),
        ({"pm25": {"low": 50, "high": 40}}, "pm25 low (50) must be below high (40)"),
        ({"pm25": {"low": 6000}}, "pm25 low (6000) must be below high (5000)"),  # catalogue high
        ({"pm25": 500}, 'pm25 needs thresholds, e.g. {"pm25": {"high": 500}}'),
        ("pm25 high 500", "'pm25 high 500' is not metric.threshold=value"),
        ("{not json", "qc is not valid JSON"),
        (["pm25"], "qc is {metric: {threshold: value}}"),
    ],
)
def test_bad_overrides_say_what_to_do(value: object, message: str) -> None:
    overrides, problems = parse_qc(value, AIR)
    assert overrides == ()
    assert any(message in p for p in problems), problems


def test_registry_keeps_overrides_and_update_replaces_or_removes_them(sql_url: str) -> None:
    register(sql_url, ["aq-001"])
    registry = Registry(open_engine(sql_url))
    assert registry.get("aq-001").qc == ()
    device = registry.update("aq-001", {"qc": {"pm25": {"high": 300, "spike_sigma": 8}}})
    assert device.qc_overrides() == {"pm25": {"high": 300.0, "spike_sigma": 8.0}}
    assert registry.update("aq-001", {"notes": "moved"}).qc == device.qc  # kept
    assert registry.update("aq-001", {"qc": {}}).qc == ()


def test_csv_import_reads_the_qc_column(sql_url: str) -> None:
    registry = Registry(open_engine(sql_url))
    text = (
        "id,kind,zone,latitude,longitude,qc\n"
        'aq-1,air_quality,ejip,-6.33,107.14,"pm25.high=400; pm10.max_rate_per_s=3"\n'
        "aq-2,air_quality,ejip,-6.33,107.14,pm25.hgh=400\n"
    )
    report = import_csv(registry, text, dry_run=True, source="qc.csv")
    assert not report.ok
    assert "line 3, column qc: unknown threshold 'hgh'" in report.text()
    report = import_csv(registry, text.rsplit("aq-2", 1)[0], dry_run=False, source="qc.csv")
    assert report.ok, report.text()
    assert registry.get("aq-1").qc_overrides() == {
        "pm10": {"max_rate_per_s": 3.0},
        "pm25": {"high": 400.0},
    }


def _reading(value: float, seq: int) -> Record:
    ts = 1_763_800_000_000 + seq * 60_000
    payload = orjson.dumps({"ts": ts, "seq": seq, "values": {"pm25": value}})
    body = encode_message(ts * 1_000_000, "sensors/aq-001/readings", payload)
    return Record(body=body, segment=1, offset=0, end_offset=len(body))


def _flags(lines: Sequence[str]) -> int:
    (line,) = [x for x in lines if x.startswith("readings,")]
    return int(line.split("flags=")[1].split("i")[0])


def test_an_override_reaches_the_pipeline_and_its_removal_too(sql_url: str) -> None:
    """A device whose sensor tops out at 100 µg/m³: 150 is out of its range, not pm25's."""
    engine = open_engine(sql_url)
    register(sql_url, ["aq-001"], metrics=AIR)
    registry = Registry(engine)
    directory = [RegistryDirectory(load_snapshot(engine))]
    processor = new_processor(engine, lambda: directory[0])
    assert not _flags(processor.prepare([_reading(150.0, 1)]).lines) & QC.RANGE
    registry.update("aq-001", {"qc": {"pm25": {"high": 100}}})
    directory[0] = RegistryDirectory(load_snapshot(engine))
    assert _flags(processor.prepare([_reading(150.0, 2)]).lines) & QC.RANGE
    registry.update("aq-001", {"qc": {}})
    directory[0] = RegistryDirectory(load_snapshot(engine))
    assert not _flags(processor.prepare([_reading(150.0, 3)]).lines) & QC.RANGE
