"""The CLI's careful-user cases (issue 19): file modes, encodings, validated numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from pantau.cli import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PANTAU_HOME", str(tmp_path))
    monkeypatch.delenv("PANTAU_DATABASE_URL", raising=False)
    return tmp_path


def test_credentials_out_onto_an_existing_file_makes_it_0600(home: Path) -> None:
    csv = home / "devices.csv"
    csv.write_text("id,kind,zone,latitude,longitude\naq-m1,air_quality,ejip,-6.33,107.14\n")
    out = home / "creds.csv"
    out.write_text("old")
    out.chmod(0o644)
    assert main(["devices", "import", str(csv), "--credentials-out", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o600 and "aq-m1" in out.read_text()
    assert (home / "pantau.db").stat().st_mode & 0o777 == 0o600  # webhook secrets inside


def test_a_latin1_csv_is_a_problem_on_its_line_not_a_traceback(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = home / "latin1.csv"
    rows = "id,kind,zone,latitude,longitude,notes\naq-l1,air_quality,ejip,-6.33,107.14,ok\n"
    csv.write_bytes(
        (rows + "aq-l2,air_quality,ejip,-6.33,107.14,Cikarang Selatan é\n").encode("latin-1")
    )
    assert main(["devices", "import", str(csv)]) == 1
    err = capsys.readouterr().err
    assert "problem on line 3" in err and "UTF-8" in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["-1", "0", "²", "1e3", "100001"])
def test_keys_create_refuses_a_bad_rate_limit(
    home: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["keys", "create", "--role", "researcher", "--rate-limit", value])
    assert stopped.value.code == 2
    assert "--rate-limit" in capsys.readouterr().err
