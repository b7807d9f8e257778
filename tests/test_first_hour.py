"""What a new user trips over in the first hour: `kpi demo --into` with a password, a kpi.toml that points
elsewhere, `kpi check` of a digest's destinations. `kpi` runs as a real process."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kpicore.testing import POSTGRES_URL

from .test_mysql_source import kpi


@pytest.fixture
def empty_postgres():
    """An empty PostgreSQL database, and its URL with a password (the server trusts loopback, so any
    password is accepted: what matters is where it ends up)."""
    name = f"kpi_firsthour_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name, password="s3cret-pw")
    yield url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_demo_into_writes_the_password_as_a_variable_and_says_which(empty_postgres, tmp_path):
    code, out, err = kpi("demo", "--into", empty_postgres, cwd=tmp_path)
    assert code == 0, err
    written = (tmp_path / "kpi.toml").read_text()
    assert "s3cret-pw" not in written and "s3cret-pw" not in out + err
    assert ":${DB_PASSWORD}@" in written, written
    assert "export DB_PASSWORD=" in err, err
    # with the variable exported, kpi.toml reads the database
    code, out, err = kpi(
        "compute", "revenue", "--format", "json", cwd=tmp_path, env={"DB_PASSWORD": "s3cret-pw"}
    )
    assert code == 0 and '"value"' in out, err


def test_demo_says_it_kept_a_kpi_toml_that_points_elsewhere(tmp_path):
    other = tmp_path / "shop.db"
    sa.create_engine(f"sqlite:///{other}").connect().close()
    (tmp_path / "kpi.toml").write_text('[source]\nurl = "shop.db"\n')
    code, _, err = kpi("demo", cwd=tmp_path)
    assert code == 0, err
    assert "Kept the kpi.toml here: its [source] is shop.db, not the sample data" in err, err
    # the commands it suggests then name the sample data
    assert "--source kpi-demo.db" in err.splitlines()[-1], err
    assert (tmp_path / "kpi.toml").read_text() == '[source]\nurl = "shop.db"\n'
    # a second `kpi demo` over its own kpi.toml says nothing of the kind
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    kpi("demo", cwd=fresh)
    code, _, err = kpi("demo", cwd=fresh)
    assert code == 0 and "Kept" not in err and "--source" not in err, err


DIGEST = """
[source]
url = "{database}"

[digests.weekly]
metrics = ["revenue"]
destinations = [{destinations}]
"""


def test_check_asks_each_destination_what_it_needs(demo_database, tmp_path):
    config = tmp_path / "kpi.toml"
    config.write_text(DIGEST.format(database=demo_database, destinations='"email:owner@example.com"'))
    code, out, err = kpi("check", cwd=tmp_path)
    assert code == 2, out + err
    assert "[digests.weekly] email:owner@example.com: [email] host is not set in kpi.toml" in err, err
    # a token missing from this environment is a warning: the service's environment may hold it
    config.write_text(DIGEST.format(database=demo_database, destinations='"slack:#kpis"'))
    code, out, err = kpi("check", cwd=tmp_path, env={"SLACK_BOT_TOKEN": ""})
    assert code == 0, out + err
    assert "Warning:" in err and "[digests.weekly] slack:#kpis: SLACK_BOT_TOKEN is not set" in err, err
    code, out, err = kpi("check", cwd=tmp_path, env={"SLACK_BOT_TOKEN": "xoxb-test"})
    assert code == 0 and "SLACK_BOT_TOKEN" not in err, err
