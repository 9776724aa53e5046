"""Password hashes are byte-compatible with mosquitto_passwd 2.0 ($7$, PBKDF2-SHA512, 101)."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from devices.credentials import hash_password, service_password, verify_password


def test_format_and_round_trip() -> None:
    encoded = hash_password("s3cret")
    parts = encoded.split("$")
    assert parts[:3] == ["", "7", "101"]
    assert len(base64.b64decode(parts[3])) == 12
    assert len(base64.b64decode(parts[4])) == 64
    assert verify_password("s3cret", encoded)
    assert not verify_password("s3creT", encoded)
    assert not verify_password("s3cret", "garbage")
    assert hash_password("s3cret") != encoded  # fresh salt each time


def test_known_vector_with_fixed_salt() -> None:
    salt = base64.b64decode("eZwzzb1ucCj3NbSC")
    assert hash_password("secret", salt=salt) == (
        "$7$101$eZwzzb1ucCj3NbSC$hB0FzZHaLhENnM8bsYj0pVtLf2okm5XJBHTeg5lhANT782viY6qr3KjmQlJcl38"
        "rm91sajyZ4feLsk+A+l4scg=="
    )


def test_matches_what_mosquitto_passwd_writes(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "dev-1", "hunter2"], check=True)
    user, encoded = path.read_text().strip().split(":", 1)
    assert user == "dev-1"
    assert verify_password("hunter2", encoded)
    salt = base64.b64decode(encoded.split("$")[3])
    assert hash_password("hunter2", salt=salt) == encoded


def test_service_password_created_once_private(tmp_path: Path) -> None:
    first = service_password(tmp_path / "secrets", "pantau-ingest")
    assert service_password(tmp_path / "secrets", "pantau-ingest") == first
    path = tmp_path / "secrets" / "pantau-ingest.secret"
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError):
        service_password(tmp_path / "secrets", "root")
