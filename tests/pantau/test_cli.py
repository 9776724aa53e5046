"""The ``pantau`` command imports a part only when its command runs.

``pantau bridge`` on a field gateway must not need the server's libraries: one
test runs the bridge's import path in a fresh interpreter and inspects
``sys.modules``; another installs the package without extras into a new venv,
as a gateway would, and runs ``pantau bridge --help`` there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from pantau.cli import COMMANDS, build_parser, command_of, main

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = (
    "numpy",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "uvicorn",
    "pyarrow",
    "alembic",
    "httpx",
    "ingest",
    "devices",
    "alerts",
    "api",
    "sandbox",
)

#: What ``pantau bridge --config FILE`` imports before the bridge runs, then the
#: modules it imported, as JSON.
BRIDGE_IMPORTS = """
import json, sys
from pantau.cli import _log_level, build_parser
argv = ["bridge", "--config", "bridge.toml"]
build_parser(argv).parse_args(argv)
_log_level(None)
import firmware_bridge.runner, firmware_bridge.bridge, firmware_bridge.drivers
print(json.dumps(sorted(sys.modules)))
"""


def _heavy(modules: list[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules} & set(SERVER_ONLY))


def test_the_bridge_imports_no_server_part() -> None:
    out = subprocess.run(
        [sys.executable, "-c", BRIDGE_IMPORTS],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    modules = json.loads(out)
    assert "firmware_bridge.bridge" in modules
    assert _heavy(modules) == []


def commands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_help_lists_every_command_without_importing_them() -> None:
    assert list(commands(build_parser([])).choices) == list(COMMANDS)


def test_each_command_help_is_its_modules_own() -> None:
    """The CLI's one line of help per command is the one its module registers."""
    action = commands(build_parser([], load_all=True))
    helps = {choice.dest: choice.help for choice in action._choices_actions}
    assert helps == {name: text for name, (_, text) in COMMANDS.items()}


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["bridge", "--config", "x"], "bridge"),
        (["--log-level", "DEBUG", "ingest"], "ingest"),
        (["--version"], None),
        ([], None),
    ],
)
def test_the_command_is_found_on_the_command_line(argv: list[str], command: str | None) -> None:
    assert command_of(argv) == command


def test_a_bad_log_level_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PANTAU_LOG_LEVEL", "LOUD")
    assert main(["bridge", "--config", "missing.toml"]) == 2
    assert "PANTAU_LOG_LEVEL" in capsys.readouterr().err


@pytest.mark.integration
def test_a_gateway_install_runs_the_bridge_without_the_server_libraries(tmp_path: Path) -> None:
    """``pip install .`` without extras, in a new venv, as docs/bridge.md says."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for part in ("pantau", "ingest", "devices", "alerts", "api", "firmware_bridge", "sandbox"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source)],
        check=True,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=240,
    )
    helped = subprocess.run(
        [env_dir / "bin" / "pantau", "bridge", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert helped.returncode == 0, helped.stderr
    assert "--config FILE" in helped.stdout
    check = BRIDGE_IMPORTS + (
        "import importlib.util\n"
        f"print(json.dumps([m for m in {list(SERVER_ONLY[:6])!r} "
        "if importlib.util.find_spec(m) is not None]))\n"
    )
    out = subprocess.run(
        [python, "-c", check], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert out.returncode == 0, out.stderr
    imported, installed = (json.loads(line) for line in out.stdout.splitlines())
    assert "firmware_bridge.bridge" in imported
    assert _heavy(imported) == []
    assert installed == []  # numpy, SQLAlchemy, FastAPI … are not even installed
    server = subprocess.run(
        [env_dir / "bin" / "pantau", "ingest"], capture_output=True, text=True, env=env, timeout=60
    )
    assert server.returncode == 2 and "pantau[server]" in server.stderr
