"""Every value of the service's tables is checked when kpi.toml is read: `kpi check` exits 2 with one line
naming the key, and `kpi serve` exits 2 before it listens (never an error on a tick)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

KPI = str(Path(sys.executable).with_name("kpi"))
DIGEST = '[digests.weekly]\nmetrics = ["revenue"]\ndestinations = ["stdout:"]\n'
ALERT = '[alerts.spike]\nwhen = "revenue > 5"\ndestinations = ["stdout:"]\n'

BROKEN = [
    ('[serve]\nlease = "banana"\n', "kpi.toml: [serve].lease: 'banana' is not a duration"),
    ('[serve]\nlease = "0s"\n', "kpi.toml: [serve].lease: '0s' is not a duration: it must be more than zero"),
    ('[serve]\nlease = "3s"\n', "kpi.toml: [serve].lease: '3s' is too short: a lease is at least 5s"),
    (
        '[serve]\nlease = "20s"\ntick = "15s"\n',
        "kpi.toml: [serve].lease: '20s' is too short for [serve] tick",
    ),
    ("[serve]\nlease = 60\n", 'kpi.toml: [serve].lease: 60 has no unit: write "60s"'),
    ('[serve]\ntick = "often"\n', "kpi.toml: [serve].tick: 'often' is not a duration"),
    ('[serve]\nbackoff = ["1m", "5 minutes"]\n', "kpi.toml: [serve].backoff: '5 minutes' is not a duration"),
    ('[serve]\nretries = "four"\n', "kpi.toml: [serve].retries: expected a number of retries"),
    ('[serve]\nleas = "60s"\n', "kpi.toml: [serve]: unknown key 'leas' (did you mean 'lease'?)"),
    ('[chat]\nmax_age = "an hour"\n', "kpi.toml: [chat] max_age: 'an hour' is not a duration"),
    ("[chat]\nbudget = 2\n", 'kpi.toml: [chat] budget: 2 has no unit: write "2s"'),
    ('[chat]\nfollow_schedule = "0.5s"\n', "kpi.toml: [chat] follow_schedule: '0.5s' is not an interval"),
    ('[chat]\nbudgt = "2s"\n', "kpi.toml: [chat]: unknown key 'budgt' (did you mean 'budget'?)"),
    ('[sync]\nmax_age = "daily"\n', "kpi.toml: [sync]: max_age: 'daily' is not a duration"),
    ("[sync]\npage_size = 0\n", "kpi.toml: [sync]: page_size must be a positive number"),
    ('[sync]\nmaxage = "1h"\n', "kpi.toml: [sync]: unknown key 'maxage' (did you mean 'max_age'?)"),
    ('[email]\nport = "smtp"\n', "kpi.toml: [email] port: expected a port number such as 587, got 'smtp'"),
    ('[email]\ntimeout = "soon"\n', "kpi.toml: [email] timeout: 'soon' is not a duration"),
    ('[email]\nsmtp_host = "x"\n', "kpi.toml: [email]: unknown key 'smtp_host' (did you mean 'host'?)"),
    (DIGEST + 'catch_up = "a day"\n', "kpi.toml: [digests.weekly].catch_up: 'a day' is not a duration"),
    (DIGEST + "max_delay = 3600\n", 'kpi.toml: [digests.weekly].max_delay: 3600 has no unit: write "3600s"'),
    (DIGEST + 'every = "0.5s"\n', "kpi.toml: [digests.weekly].every: '0.5s' is not an interval"),
    (ALERT + 'every = "1h"\ncatch_up = "forever"\n', "[alerts.spike].catch_up: 'forever' is not a duration"),
    (ALERT + 'every = "soon"\n', "[alerts.spike].every: 'soon' is not an interval"),
    (
        '[insights.unusual]\nthreshold = "high"\n',
        "[insights.unusual].threshold: expected a number, not 'high'",
    ),
    ("[insights]\ntop = -1\n", "[insights].top: expected a whole number of insights"),
]


def write(folder: Path, demo_database, toml: str) -> None:
    (folder / "kpi.toml").write_text(f'[source]\nurl = "{demo_database}"\n{toml}', encoding="utf-8")


@pytest.mark.parametrize(("toml", "line"), BROKEN)
def test_kpi_check_names_the_key_of_each_bad_value(run_kpi, tmp_path, demo_database, toml, line):
    write(tmp_path, demo_database, toml)
    code, out, err = run_kpi("check")
    assert code == 2, out + err
    problems = [p for p in err.splitlines() if p.startswith("PROBLEM: ")]
    assert len(problems) == 1 and line in problems[0], err


def test_the_same_tables_written_right_pass(run_kpi, tmp_path, demo_database):
    write(
        tmp_path,
        demo_database,
        '[serve]\nlease = "1.5m"\ntick = "500ms"\nbackoff = ["90s", "1.5h"]\n'
        '[chat]\nmax_age = "1.5h"\nbudget = "500ms"\nfollow_schedule = "1.5h"\n'
        '[sync]\nmax_age = "0s"\ntimeout = 30\nmax_retry_wait = 120\n'
        '[email]\nport = 587\ntimeout = "90s"\n'
        + DIGEST
        + 'every = "1.5h"\ncatch_up = "1d"\nmax_delay = "90m"\n'
        + ALERT
        + 'every = "15m"\ncatch_up = "1.5h"\n',
    )
    code, out, err = run_kpi("check")
    assert code == 0, out + err
    assert out.splitlines()[-1] == "OK"


@pytest.mark.parametrize(
    ("toml", "line"),
    [BROKEN[0], BROKEN[1], BROKEN[9], BROKEN[13], BROKEN[16], BROKEN[24]],
    ids=["lease-banana", "lease-0s", "chat-max-age", "sync-max-age", "email-port", "insights"],
)
def test_kpi_serve_exits_2_before_it_listens(tmp_path, demo_database, toml, line):
    write(tmp_path, demo_database, toml)
    env = {k: v for k, v in os.environ.items() if k != "KPI_DEBUG"}
    result = subprocess.run(
        [KPI, "serve", "--port", "0"],
        cwd=tmp_path,
        env={**env, "KPI_LOAD_PLUGINS": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"Error: {line}"] or line in result.stderr
    assert "listening" not in result.stdout + result.stderr
