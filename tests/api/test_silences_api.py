"""``/api/v1/alert-silences`` (issue 18): operators create and end maintenance windows."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.integration


def test_operators_silence_a_station_for_maintenance(api: Api) -> None:
    body = {
        "device": "kb-03",
        "ends_at": "2099-12-04T17:00:00+07:00",
        "reason": "pemeliharaan pompa",
    }
    denied = api.client.post("/api/v1/alert-silences", json=body, headers=api.auth())
    assert denied.status_code == 403  # a researcher may read, not silence
    made = api.client.post("/api/v1/alert-silences", json=body, headers=api.auth(api.operator))
    assert made.status_code == 201, made.text
    silence = made.json()
    assert silence["device"] == "kb-03" and silence["ends_at"] == "2099-12-04T10:00:00Z"
    assert "test operator" in silence["created_by"]
    active = api.client.get("/api/v1/alert-silences?active=true", headers=api.auth()).json()
    assert [s["id"] for s in active] == [silence["id"]]
    ended = api.client.delete(
        f"/api/v1/alert-silences/{silence['id']}", headers=api.auth(api.operator)
    )
    assert ended.status_code == 204
    assert api.client.get("/api/v1/alert-silences?active=true", headers=api.auth()).json() == []
    assert len(api.client.get("/api/v1/alert-silences", headers=api.auth()).json()) == 1
    no_scope = {"ends_at": "2099-12-04T17:00:00+07:00", "reason": "x"}
    bad = api.client.post("/api/v1/alert-silences", json=no_scope, headers=api.auth(api.operator))
    assert bad.status_code in (400, 422) and "scope" in bad.text


@pytest.mark.parametrize(
    ("field", "moment"),
    [("ends_at", "2328-05-26T19:24:57-01:29"), ("starts_at", "1900-01-01T00:00:00Z")],
)
def test_a_silence_outside_the_storable_years_is_a_400_naming_the_field(
    api: Api, field: str, moment: str
) -> None:
    body = {"device": "kb-03", "ends_at": "2099-12-04T17:00:00+07:00", "reason": "x"}
    answer = api.client.post(
        "/api/v1/alert-silences", json={**body, field: moment}, headers=api.auth(api.operator)
    )
    assert answer.status_code == 400, answer.text
    assert field in answer.text and "1970" in answer.text
