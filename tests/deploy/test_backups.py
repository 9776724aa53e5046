"""The backup and restore commands of docs/deploy.md, on the test servers.

PostgreSQL: ``pg_dump -Fc`` of a Pantau database, ``pg_restore --no-owner`` into an
empty one, and Pantau reads the registry and keys back. InfluxDB 1.x:
``influxd backup -portable`` over its RPC port and ``influxd restore -portable
-newdb``, and every point is back.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from api.keys import KeyStore
from devices.registry import Registry
from devices.validation import parse_device
from pantau.database import open_engine
from pantau.postgres import PostgreSQL, postgres_bin_dir
from pantau.services import InfluxDB, find_binary
from pantau.store import InfluxStore

pytestmark = pytest.mark.integration
DOC = (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text()


def test_postgres_dump_and_restore(
    tmp_path: Path, postgres: PostgreSQL, make_pg_database: Callable[..., str]
) -> None:
    assert "pg_dump -Fc -d pantau" in DOC and "pg_restore --no-owner" in DOC
    source = make_pg_database()
    engine = open_engine(source)
    device, problems = parse_device(
        {
            "id": "aq-bak",
            "kind": "air_quality",
            "zone": "ejip",
            "latitude": -6.3,
            "longitude": 107.1,
        },
        today=date(2026, 12, 4),
    )
    assert device is not None, problems
    Registry(engine).add(device, at=datetime(2026, 12, 4, 1, 2, 3, tzinfo=UTC))
    token = KeyStore(engine).create(role="researcher").token
    engine.dispose()

    url = make_url(source)
    env = {**os.environ, "PGPASSWORD": postgres.password()}
    where = ["-h", "127.0.0.1", "-p", str(postgres.port), "-U", "pantau"]
    dump = tmp_path / "pantau.dump"
    bin_dir = postgres_bin_dir()
    subprocess.run(
        [bin_dir / "pg_dump", *where, "-Fc", "-d", str(url.database), "-f", str(dump)],
        env=env,
        check=True,
        timeout=60,
    )
    restored = make_pg_database(empty=True)
    subprocess.run(
        [
            bin_dir / "pg_restore",
            *where,
            "--no-owner",
            "--role=pantau",
            "-d",
            str(make_url(restored).database),
            str(dump),
        ],
        env=env,
        check=True,
        timeout=60,
    )
    engine = open_engine(restored)
    try:
        back = Registry(engine).get("aq-bak")
        assert back.registered_at == datetime(2026, 12, 4, 1, 2, 3, tzinfo=UTC)
        assert KeyStore(engine).authenticate(token).role == "researcher"
        with engine.connect() as conn:
            heads = set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
        assert "d002" in heads  # Alembic's bookkeeping came along: no re-migration
    finally:
        engine.dispose()


def test_influxdb_portable_backup_and_restore(tmp_path: Path, influxdb: InfluxDB) -> None:
    assert "influxd backup -portable -database pantau" in DOC
    assert "influxd restore -portable -db pantau -newdb pantau_restored" in DOC
    name = f"bak_{uuid.uuid4().hex[:8]}"
    store = InfluxStore(url=influxdb.url, database=name)
    store.ensure_database()
    lines = [
        f"readings,device=aq-{i % 7},metric=pm25,zone=ejip,kind=air_quality "
        f"value={i}.5,raw={i}.0,flags=0i,score=0 {1_764_000_000_000_000_000 + i * 10**9}"
        for i in range(500)
    ]
    store.write(lines)
    influxd = find_binary("influxd")
    rpc = ["-host", f"127.0.0.1:{influxdb.rpc_port}"]
    backup = tmp_path / "influx-backup"
    subprocess.run(
        [influxd, "backup", "-portable", *rpc, "-database", name, str(backup)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    restored = f"{name}_restored"
    subprocess.run(
        [influxd, "restore", "-portable", *rpc, "-db", name, "-newdb", restored, str(backup)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    copy = InfluxStore(url=influxdb.url, database=restored)
    try:
        [series] = copy.query_all('SELECT COUNT("value"), SUM("value") FROM "readings"')
        assert series.values[0][1:] == [500, sum(i + 0.5 for i in range(500))]
    finally:
        copy.drop_database()
        store.drop_database()
        copy.close()
        store.close()
