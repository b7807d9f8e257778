"""The statement timeout, seen from `kpi compute` run as a real process: what the message says, and
`--timeout SECONDS` overriding `[source] timeout` for one run (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from kpicore.testing import POSTGRES_URL

KPI = str(Path(sys.executable).with_name("kpi"))

#: Survey responses from a query that takes far longer than any timeout here (SQLite).
SQLITE_SLOW = (
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000000) "
    "SELECT x AS response_id, 1 AS customer_id, 'nps' AS survey, 10 AS score, "
    "'2026-11-16 10:00:00' AS responded_at FROM n"
)
#: The same on PostgreSQL.
POSTGRES_SLOW = (
    "SELECT g AS response_id, 1 AS customer_id, 'nps' AS survey, 10 AS score, "
    "timestamptz '2026-11-16 10:00+00' + g * interval '0 second' AS responded_at "
    "FROM generate_series(1, 1000000000) AS g"
)
#: A quick one (SQLite), for the override that lets a query finish.
SQLITE_QUICK = (
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000) "
    "SELECT x AS response_id, 1 AS customer_id, 'nps' AS survey, 10 AS score, "
    "'2026-11-16 10:00:00' AS responded_at FROM n"
)


def kpi(*args, cwd):
    environment = {**os.environ, "KPI_LOAD_PLUGINS": ""}
    environment.pop("KPI_DEBUG", None)
    started = time.monotonic()
    done = subprocess.run(
        [KPI, *args], check=False, cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def write_config(
    directory: Path, url: str, query: str, timeout: float | None = None, schema: str | None = None
):
    lines = ["[source]", f'url = "{url}"']
    if timeout is not None:
        lines.append(f"timeout = {timeout}")
    if schema is not None:
        lines.append(f'schema = "{schema}"')
    lines += ["", "[entities.survey_responses]", f'query = "{query}"']
    (directory / "kpi.toml").write_text("\n".join(lines) + "\n")


@pytest.fixture
def sqlite_db(tmp_path):
    path = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE placeholder (x INTEGER)"))
    engine.dispose()
    return path


@pytest.fixture
def pg_schema():
    schema = f"kpi_timeout_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield schema
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def assert_timeout_message(stderr: str, seconds: str):
    line = stderr.strip().splitlines()[-1]
    assert "ran past the statement timeout of " + seconds + " s" in line, stderr
    assert "[source] timeout" in line and "--timeout SECONDS" in line, stderr
    assert "interrupted" not in line and "canceling" not in line, stderr


def test_sqlite_timeout_from_config_is_named_in_the_message(tmp_path, sqlite_db):
    write_config(tmp_path, f"sqlite:///{sqlite_db}", SQLITE_SLOW, timeout=0.3)
    code, stdout, stderr, took = kpi("compute", "nps", "--period", "2026-W47", cwd=tmp_path)
    assert code == 1, (stdout, stderr)
    assert_timeout_message(stderr, "0.3")
    assert took < 30


def test_sqlite_timeout_option_overrides_the_config_for_one_run(tmp_path, sqlite_db):
    write_config(tmp_path, f"sqlite:///{sqlite_db}", SQLITE_SLOW, timeout=20)
    code, stdout, stderr, took = kpi(
        "compute", "nps", "--period", "2026-W47", "--timeout", "0.25", cwd=tmp_path
    )
    assert code == 1, (stdout, stderr)
    assert_timeout_message(stderr, "0.25")
    assert took < 30
    # The other way round: a tiny configured timeout, raised for this run, lets the query finish.
    write_config(tmp_path, f"sqlite:///{sqlite_db}", SQLITE_QUICK, timeout=0.001)
    code, _, stderr, _ = kpi("compute", "nps", "--period", "2026-W47", "--format", "csv", cwd=tmp_path)
    assert code == 1 and "statement timeout of 0.001 s" in stderr, stderr
    code, stdout, stderr, _ = kpi(
        "compute", "nps", "--period", "2026-W47", "--format", "csv", "--timeout", "60", cwd=tmp_path
    )
    assert code == 0, stderr
    assert "nps" in stdout and "300000" in stdout, stdout


def test_timeout_option_must_be_positive(tmp_path, sqlite_db):
    write_config(tmp_path, f"sqlite:///{sqlite_db}", SQLITE_QUICK)
    code, _, stderr, _ = kpi("compute", "nps", "--timeout", "0", cwd=tmp_path)
    assert code == 2 and "--timeout" in stderr, stderr


def test_postgres_timeout_option_is_named_in_the_message(tmp_path, pg_schema):
    write_config(tmp_path, POSTGRES_URL, POSTGRES_SLOW, timeout=20, schema=pg_schema)
    code, stdout, stderr, took = kpi(
        "compute", "nps", "--period", "2026-W47", "--timeout", "0.2", cwd=tmp_path
    )
    assert code == 1, (stdout, stderr)
    assert_timeout_message(stderr, "0.2")
    assert took < 30
    write_config(tmp_path, POSTGRES_URL, POSTGRES_SLOW, timeout=0.4, schema=pg_schema)
    code, stdout, stderr, _ = kpi("compute", "nps", "--period", "2026-W47", cwd=tmp_path)
    assert code == 1, (stdout, stderr)
    assert_timeout_message(stderr, "0.4")


#: Survey responses that take a second or two to count (SQLite), so that progress has something to show.
SQLITE_WHILE = SQLITE_QUICK.replace("x < 300000", "x < 3000000")


def test_progress_on_a_terminal_names_the_running_entity_and_the_time(tmp_path, sqlite_db):
    import pty

    write_config(tmp_path, f"sqlite:///{sqlite_db}", SQLITE_WHILE)
    environment = {**os.environ, "KPI_LOAD_PLUGINS": "", "COLUMNS": "160", "TERM": "xterm"}
    environment.pop("KPI_DEBUG", None)
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [KPI, "compute", "nps", "--period", "2026-W47", "--format", "csv"],
        cwd=tmp_path,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=secondary,
    )
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    stdout = process.communicate(timeout=60)[0].decode()
    os.close(primary)
    assert process.returncode == 0, seen.decode(errors="replace")
    screen = seen.decode(errors="replace")
    assert "Computing 1 metric(s) for 2026-W47: survey_responses running" in screen, screen
    assert "0:00:0" in screen, screen  # the time elapsed
    assert "3000000" in stdout and "Computing" not in stdout


def test_no_progress_on_a_pipe(tmp_path, sqlite_db):
    write_config(tmp_path, f"sqlite:///{sqlite_db}", SQLITE_WHILE)
    code, stdout, stderr, _ = kpi("compute", "nps", "--period", "2026-W47", "--format", "csv", cwd=tmp_path)
    assert code == 0, stderr
    assert stderr == "" and "3000000" in stdout
