"""The public surface is what docs/api.md says: every route is called without a key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def documented() -> set[str]:
    section = DOC.read_text().split("## Public surface", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^- `([A-Z]+ /\S+)`", section, flags=re.MULTILINE))


def test_exactly_the_documented_routes_answer_without_a_key(api: Api) -> None:
    api.ctx.public_rate_limit_per_minute = 100_000
    public = set()
    paths = api.app.openapi()["paths"]
    assert len(paths) >= 30
    for template, operations in paths.items():
        path = re.sub(r"\{[^}]+\}", "1", template)
        for method in operations:
            method = method.upper()
            if path.endswith("/stream"):
                answer = api.client.get(path, params={"heartbeat_s": 0.5}, headers={})
            else:
                answer = api.client.request(method, path, headers={})
            if answer.status_code != 401:
                public.add(f"{method} {template}")
    assert public == documented()
    assert "GET /api/v1/ispu/history" in public
