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


def test_help_keeps_descriptions_whole_and_gives_the_exit_codes(run_kpi):
    code, out, _ = run_kpi("--help")
    assert code == 0
    commands = out.split("Commands:")[1]
    assert "..." not in commands, out
    assert "column resolves in the source." in out  # `kpi check`'s whole first sentence
    assert "Exit codes:" in out and "\n    2  a problem" in out and "\n    1  a failure at run time" in out
    assert max(len(line) for line in out.splitlines()) <= 80, out


def test_names_differing_only_in_case_get_a_suggestion(run_kpi, demo_database):
    code, _, err = run_kpi("compute", "NPS", "--source", str(demo_database))
    assert code == 2 and "did you mean nps?" in err, err
    code, _, err = run_kpi("compute", "revenue", "--by", "Region", "--source", str(demo_database))
    assert code == 2 and "unknown dimension 'Region' (did you mean 'region'?)" in err, err


def test_a_period_in_the_future_gets_a_note(run_kpi, demo_database):
    code, out, err = run_kpi("compute", "revenue", "--period", "2099-W10", "--source", str(demo_database))
    assert code == 0, err
    assert "Note: 2099-W10 has not begun yet" in err and "$0.00" in out
    code, _, err = run_kpi("compute", "revenue", "--period", "2026-W10", "--source", str(demo_database))
    assert code == 0 and "has not begun" not in err, err


ORDERS = "order_id,customer_id,ordered_at,amount\n1,1,2026-11-20T10:00:00,10\n"


def test_exit_codes_and_messages_of_a_folder_source(run_kpi, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "orders.csv").write_text(ORDERS)
    period = ("--period", "2026-W47", "--source", str(folder))
    code, _, err = run_kpi("compute", "nps", *period)
    assert code == 2, err  # none of the metrics asked for could be computed: a mapping problem
    assert "none of the metrics asked for could be computed" in err
    code, _, err = run_kpi("compute", "nps", "revenue", *period)
    assert code == 0, err  # some were
    (folder / "orders.csv").rename(folder / "Orders.csv")
    code, out, err = run_kpi("compute", "revenue", "--wide", *period)
    assert code == 2
    assert "no table 'orders' (it has 'Orders': names are matched exactly" in out, out
    code, _, err = run_kpi("compute", "revenue", "--source", str(tmp_path / "missing"))
    assert code == 2 and f"source {tmp_path / 'missing'}: folder or file not found (--source)" in err, err


def test_a_source_url_given_on_the_command_line_is_named_as_such(run_kpi, monkeypatch):
    monkeypatch.delenv("DB_PASSWORD", raising=False)
    code, _, err = run_kpi("compute", "nps", "--source", "postgresql://kpi:${DB_PASSWORD}@db/shop")
    assert code == 2
    assert err.startswith("Error: --source references ${DB_PASSWORD}"), err


def test_sync_of_a_database_says_what_sync_is_for(run_kpi, demo_database):
    code, _, err = run_kpi("sync", "--source", str(demo_database))
    assert code == 2
    assert "is read where it is: nothing to sync" in err
    assert "copies a hosted CRM's records" in err and "CRM plugins' sources" in err, err


def test_demo_next_hint_is_not_a_pipeline(run_kpi):
    code, _, err = run_kpi("demo")
    assert code == 0, err
    hint = err.strip().splitlines()[-1]
    assert hint.startswith("Next: `kpi compute") and "|" not in hint, hint


def test_the_demo_digest_of_packs_is_what_digest_send_delivers(tmp_path):
    plugins = {"KPI_LOAD_PLUGINS": "restaurant,consulting"}
    code, _, err = kpi("demo", "--pack", "restaurant", "--pack", "consulting", cwd=tmp_path, env=plugins)
    assert code == 0, err
    shown = (tmp_path / "digest.txt").read_text(encoding="utf-8")
    code, _, err = kpi("digest", "send", "weekly", cwd=tmp_path, env=plugins)
    assert code == 0, err
    (sent,) = [path for path in (tmp_path / "digests").iterdir() if path.suffix == ".txt"]
    delivered = sent.read_text(encoding="utf-8")
    assert "Table turnover time" in delivered and "Utilization" in delivered, delivered
    assert shown.split("\n\n-- written by")[0].strip() == delivered.strip()
