"""`kpi demo --into URL` writes the demo data into an empty server database, and `kpi compute` on it gives
the SQLite demo's numbers. `kpi` runs as a real process; each test makes and drops its own database."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kpicore.testing import POSTGRES_URL, create_mysql_database, drop_mysql_database, mysql_url

from .test_mysql_source import kpi


@pytest.fixture
def empty_database(request):
    """An empty database on the server named by the test's parameter, and its URL."""
    if request.param == "mysql":
        name = create_mysql_database("kpi_demo")
        yield mysql_url(name)
        drop_mysql_database(name)
        return
    name = f"kpi_demo_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    # postgres:// as hosting services write it
    yield (
        make_url(POSTGRES_URL)
        .set(database=name)
        .render_as_string(hide_password=False)
        .replace("postgresql+psycopg://", "postgres://")
    )
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.parametrize("empty_database", ["mysql", "postgresql"], indirect=True)
def test_demo_into_a_server_database_gives_the_sqlite_demos_numbers(empty_database, tmp_path):
    server, local = tmp_path / "server", tmp_path / "local"
    server.mkdir()
    local.mkdir()
    code, out, err = kpi("demo", "--into", empty_database, cwd=server)
    assert code == 0, err
    assert "Revenue" in out and "orders" in err
    code, _, err = kpi("demo", cwd=local)
    assert code == 0, err
    results = []
    for folder, url in ((server, empty_database), (local, str(local / "kpi-demo.db"))):
        code, out, err = kpi(
            "compute",
            "all",
            "--period",
            "last-week",
            "--trend",
            "4",
            "--format",
            "json",
            "--source",
            url,
            cwd=folder,
        )
        assert code == 0, err
        results.append(json.loads(out))
    assert results[0] == results[1]
    assert any(result["value"] for result in results[0])
    # kpi.toml points at the server database, so a plain `kpi compute` reads it too
    code, out, err = kpi("compute", "revenue", "--period", "last-week", "--format", "json", cwd=server)
    assert code == 0, err
    assert json.loads(out)[0]["value"] == next(r["value"] for r in results[1] if r["metric"] == "revenue")
    # a second --into finds the tables there and says so, in one line
    code, out, err = kpi("demo", "--into", empty_database, cwd=server)
    assert code == 2 and "already has table(s)" in err and "Traceback" not in err, err
