"""bench.ingest's ``--against``: the settings a packs comparison runs with."""

from __future__ import annotations

import pytest

from bench.ingest import parse_settings


def test_settings_are_pantau_variables_with_values() -> None:
    assert parse_settings("PANTAU_INFLUX_PARALLEL_WRITES=4, PANTAU_INGEST_BATCH_BYTES=") == {
        "PANTAU_INFLUX_PARALLEL_WRITES": "4",
        "PANTAU_INGEST_BATCH_BYTES": "",
    }


@pytest.mark.parametrize("text", ["", " , ", "GOGC=100", "PANTAU_INFLUX_PARALLEL_WRITES"])
def test_anything_else_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match="PANTAU_NAME=value"):
        parse_settings(text)
