"""Which part may import which, held as contracts (in the style of import-linter).

Dependencies point one way (ARCHITECTURE.md, "Layout"): every part may import the
kernel ``pantau``; ``ingest`` and ``api`` may import ``devices`` and ``alerts``;
``firmware_bridge`` imports only the kernel (it runs on a field gateway); the
kernel imports no other part; ``sandbox`` (simulator, demo) may import anything,
and no part imports it. Every import statement counts, those inside functions and
``TYPE_CHECKING`` blocks too. A broken contract names the file, line and import.
"""

from __future__ import annotations

import ast
import importlib
import tomllib
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PARTS = ("pantau", "ingest", "devices", "alerts", "api", "firmware_bridge", "sandbox")

#: part -> the other parts it may import
ALLOWED: dict[str, frozenset[str]] = {
    "pantau": frozenset(),
    "firmware_bridge": frozenset({"pantau"}),
    "devices": frozenset({"pantau"}),
    "alerts": frozenset({"pantau"}),
    "ingest": frozenset({"pantau", "devices", "alerts"}),
    "api": frozenset({"pantau", "devices", "alerts"}),
    "sandbox": frozenset(PARTS) - {"sandbox"},
}


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every absolute import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def violations(part: str, allowed: frozenset[str], root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted((root / part).rglob("*.py")):
        for line, module in imports(path):
            top = module.split(".")[0]
            if top in PARTS and top != part and top not in allowed:
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


def test_every_part_is_under_contract() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == set(PARTS), "a new part needs its row in ALLOWED"
    assert set(ALLOWED) == set(PARTS)


@pytest.mark.parametrize("part", PARTS)
def test_imports_follow_the_layers(part: str) -> None:
    found = violations(part, ALLOWED[part])
    assert not found, f"{part} may import only {sorted(ALLOWED[part])}:\n" + "\n".join(found)


def test_a_broken_contract_names_the_file_line_and_import(tmp_path: Path) -> None:
    (tmp_path / "devices").mkdir()
    (tmp_path / "devices" / "thing.py").write_text(
        "import os\n\n\ndef f() -> None:\n    from api.app import build\n"
    )
    assert violations("devices", ALLOWED["devices"], root=tmp_path) == [
        "devices/thing.py:5 imports api.app"
    ]


def part_names_in_strings(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal in a file that names a module of a part."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            top = node.value.split(".")[0]
            if "." in node.value and top in PARTS and node.value.replace(".", "").isidentifier():
                yield node.lineno, node.value


def test_the_kernel_loads_parts_only_through_the_command_table() -> None:
    """An import by name (``importlib``) is an import too: in the kernel only the CLI's
    command table names part modules; start-up steps are declared by the parts as
    entry points (``pyproject.toml``), so the kernel never reaches up to them."""
    found = [
        f"{path.relative_to(ROOT)}:{line} names {text}"
        for path in sorted((ROOT / "pantau").rglob("*.py"))
        if path.name != "cli.py"
        for line, text in part_names_in_strings(path)
        if text.split(".")[0] != "pantau"
    ]
    assert not found, "\n".join(found)


def declared_entry_points() -> dict[str, dict[str, str]]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    groups: dict[str, dict[str, str]] = project.get("entry-points", {})
    return groups


def test_start_up_steps_are_declared_installed_and_resolve() -> None:
    groups = declared_entry_points()
    assert {"pantau.before_services", "pantau.after_fresh_start"} <= set(groups)
    for group, points in groups.items():
        installed = {p.name: p.value for p in entry_points(group=group)}
        assert installed == points, f"{group}: reinstall (pip install -e .) to match pyproject"
        for name, target in points.items():
            module, _, function = target.partition(":")
            assert module.split(".")[0] in PARTS and module.split(".")[0] != "pantau", name
            assert callable(getattr(importlib.import_module(module), function)), target


#: third-party library -> the one adapter module that may import it
ADAPTERS = {
    "paho": "pantau/mqtt.py",
    "numba": "pantau/compiled.py",
    "serial": "firmware_bridge/serial_link.py",
    "pyarrow": "api/export.py",
}


@pytest.mark.parametrize("library", sorted(ADAPTERS))
def test_one_adapter_per_library(library: str) -> None:
    found = sorted(
        str(path.relative_to(ROOT))
        for part in PARTS
        for path in (ROOT / part).rglob("*.py")
        if any(module.split(".")[0] == library for _, module in imports(path))
    )
    assert found == [ADAPTERS[library]]
