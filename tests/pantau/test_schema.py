"""The domain's words live in ``pantau/schema.py`` only: renaming one is a one-line change.

The scan reads every string literal of every part (docstrings aside) and fails
when an InfluxDB name is written as InfluxQL (``"value"``) or line protocol
(``,raw=``), when an aggregate measurement is named, or when an ISPU category or
a Siaga status is spelt out, anywhere but in the schema module.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pantau import schema

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("pantau", "ingest", "devices", "alerts", "api", "firmware_bridge", "sandbox")
MEASUREMENTS = (
    schema.READINGS,
    schema.READINGS_1M,
    schema.READINGS_1H,
    schema.ISPU,
    schema.FLOOD,
    schema.TRAFFIC,
)
NAMES = (
    tuple(
        value
        for key, value in vars(schema).items()
        if key.startswith(("TAG_", "FIELD_")) and isinstance(value, str)
    )
    + MEASUREMENTS
)
WORDS = (*schema.ISPU_CATEGORIES, *schema.FLOOD_STATUSES)


def literals(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal but docstrings; f-strings give their pieces."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        scoped = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        if isinstance(node, scoped) and node.body and isinstance(node.body[0], ast.Expr):
            docstrings.add(id(node.body[0].value))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if id(node) not in docstrings:
            yield node.lineno, node.value


def offences(text: str) -> list[str]:
    found = []
    for name in NAMES:
        if re.search(rf'"{re.escape(name)}"(?!\s*:)', text):  # InfluxQL, not a JSON key
            found.append(f"InfluxQL identifier {name!r}")
        if re.match(rf"[ ,]?{re.escape(name)}=", text):
            found.append(f"line-protocol field {name!r}")
    if text in (schema.READINGS_1M, schema.READINGS_1H):
        found.append(f"measurement {text!r}")
    found += [f"domain word {w!r}" for w in WORDS if re.search(rf"\b{re.escape(w)}\b", text)]
    return found


def test_the_domain_words_are_written_only_in_the_schema() -> None:
    found = []
    for part in PARTS:
        for path in sorted((ROOT / part).rglob("*.py")):
            if path == ROOT / "pantau" / "schema.py":
                continue
            for line, text in literals(path):
                found += [f"{path.relative_to(ROOT)}:{line}: {o}" for o in offences(text)]
    assert not found, "use pantau.schema instead:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("text", "caught"),
    [
        ('SELECT count("raw") FROM "readings"', True),
        (",raw=", True),
        ("readings_1h", True),
        ("Tidak Sehat", True),
        ("level SIAGA 3 reached", True),
        ('a gateway pack is {"readings": [...]}', False),
        ("use source=raw", False),
        ("Siaga thresholds must rise", False),
    ],
)
def test_the_scan_tells_a_written_name_from_ordinary_text(text: str, caught: bool) -> None:
    assert bool(offences(text)) is caught


def test_the_templates_take_the_words_from_the_schema() -> None:
    for template in (ROOT / "api" / "web" / "templates").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not [w for w in WORDS if f'"{w}"' in text], template.name


@pytest.mark.parametrize("language", ["en", "id"])
def test_every_category_and_status_has_its_words(language: str) -> None:
    """Translations are keyed by the name: a rename must rename these keys too."""
    words = json.loads((ROOT / "api" / "web" / "i18n" / f"{language}.json").read_text())
    keys = [f"ispu.{c}" for c in schema.ISPU_CATEGORIES]
    keys += [f"advice.{c}" for c in schema.ISPU_CATEGORIES]
    keys += [f"flood.{s}" for s in schema.FLOOD_STATUSES]
    keys += [f"traffic.{level}" for level in schema.TRAFFIC_LEVELS]
    assert [k for k in keys if k not in words] == []


def test_bands_are_consistent() -> None:
    uppers = [band.upper for band in schema.ISPU_BANDS]
    assert uppers == sorted(uppers)
    assert schema.ISPU_BOUNDS == (0.0, 50.0, 100.0, 200.0, 300.0, 500.0)
    assert list(schema.ISPU_BAND_LOW.values()) == [0, 51, 101, 201, 301]
    for edges in schema.ISPU_BREAKPOINTS.values():
        assert len(edges) == len(schema.ISPU_BANDS) and list(edges) == sorted(edges)
    assert [schema.ispu_band(i).category for i in (0, 50, 51, 300, 301, 999)] == [
        "Baik",
        "Baik",
        "Sedang",
        "Sangat Tidak Sehat",
        "Berbahaya",
        "Berbahaya",
    ]
    assert schema.SIAGA_NUMBER[schema.FLOOD_ALERT] == 3
