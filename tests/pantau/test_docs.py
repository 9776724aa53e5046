"""The docs' readable facts are read back and compared with the code (as datasette does).

docs/settings.md's table against ``Settings`` (both ways, defaults too), every
``PANTAU_*`` the docs name against ``Settings``, the README's commands against the
CLI, docs/api.md's route list against the FastAPI app, and docs/ingest.md's metric
catalogue against ``pantau.catalogue``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pantau.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

#: ``PANTAU_*`` names the docs may use that are not settings
NOT_SETTINGS = {
    "PANTAU_CONFIG",  # which pantau.toml to read
    "PANTAU_CHROMIUM",  # the browser of the dashboard tests
    "PANTAU_NAME",  # a placeholder: PANTAU_<NAME>
}


def table_rows(text: str, heading: str) -> list[list[str]]:
    """Cells of the rows of the first Markdown table whose header starts with ``heading``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([cell.strip() for cell in cells])
    return rows


def settings_table() -> dict[str, tuple[str, str]]:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    rows = table_rows(text, "| variable | default | meaning |")
    return {row[0].strip("`"): (row[1], row[2]) for row in rows}


def test_every_setting_is_documented_and_every_documented_setting_is_real() -> None:
    documented = set(settings_table())
    fields = {f"PANTAU_{name.upper()}" for name in Settings.model_fields}
    assert sorted(fields - documented) == [], "settings missing from docs/settings.md"
    assert sorted(documented - fields) == [], "docs/settings.md rows that are no setting"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_the_documented_default_is_the_default(name: str) -> None:
    default_cell, meaning = settings_table()[f"PANTAU_{name.upper()}"]
    field = Settings.model_fields[name]
    default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
    assert meaning, f"PANTAU_{name.upper()} has no meaning written"
    if default in ("", None, [], {}):
        assert default_cell in ("empty", "none")
    else:
        assert default_cell == f"`{default}`"


def test_every_variable_the_docs_name_is_a_setting() -> None:
    fields = {f"PANTAU_{name.upper()}" for name in Settings.model_fields}
    found = []
    for doc in DOCS:
        for name in set(re.findall(r"PANTAU_[A-Z0-9_]*[A-Z0-9]", doc.read_text(encoding="utf-8"))):
            if name not in fields and name not in NOT_SETTINGS:
                found.append(f"{doc.relative_to(ROOT)}: {name}")
    assert sorted(found) == []


#: placeholders of the README's commands table, as a user would fill them in
PLACEHOLDERS = {"FILE": "bridge.toml", "FILE.csv": "devices.csv", "ROLE": "researcher"}


def readme_commands() -> list[list[str]]:
    """Each README command line, alternatives (``a|b``) expanded, ``[--flag]`` as given."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = []
    for row in table_rows(text, "| command | does |"):
        words = row[0].strip("`").replace("\\|", "|").split()
        assert words[0] == "pantau", row
        words = [PLACEHOLDERS.get(w, w).strip("[]") for w in words[1:] if w != "…"]
        alternatives = [w.split("|") for w in words]
        for i, choice in enumerate(alternatives):
            if len(choice) > 1:
                lines += [[*words[:i], c, *words[i + 1 :]] for c in choice]
                break
        else:
            lines.append(words)
    return lines


def test_the_readme_names_every_command_and_each_parses() -> None:
    from pantau.cli import COMMANDS, build_parser

    commands = readme_commands()
    assert {line[0] for line in commands} == set(COMMANDS)
    parser = build_parser([], load_all=True)
    for line in commands:
        try:
            parser.parse_args(line)
        except SystemExit:
            pytest.fail(f"README command does not parse: pantau {' '.join(line)}")


def test_the_api_route_list_is_the_apps() -> None:
    from api.app import create_app
    from api.context import AppContext

    spec = create_app(AppContext.__new__(AppContext)).openapi()
    routes = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops}
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    documented = {
        (row[0], row[1].strip("`")) for row in table_rows(text, "| method | path | does |")
    }
    assert sorted(routes - documented) == [], "routes missing from docs/api.md's route list"
    assert sorted(documented - routes) == [], "docs/api.md lists routes the app does not have"


def test_the_metric_catalogue_is_the_kernels() -> None:
    from pantau.catalogue import METRICS

    text = (ROOT / "docs" / "ingest.md").read_text(encoding="utf-8")
    rows = table_rows(text, "| metric | unit | low | high |")
    documented = [
        (name.strip("`"), unit, float(low.replace(" ", "")), float(high.replace(" ", "")))
        for name, unit, low, high in rows
    ]
    assert documented == [(m.name, m.unit, m.low, m.high) for m in METRICS]
