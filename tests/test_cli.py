"""Every `kpi` command, its happy path and its error paths (one line, the right exit code)."""

from __future__ import annotations

import json
import shutil

import pytest

from kpicore import __version__
from kpicore.state import state_url as configured_state_url

DESIGN_8_KEYS = [
    "metric",
    "title",
    "unit",
    "status",
    "period",
    "start",
    "end",
    "value",
    "previous",
    "delta",
    "delta_pct",
    "n",
    "warnings",
    "left_out",
    "duplicates",
    "dimension",
    "segments",
    "trend",
    "target",
    "on_track",
    "gap",
]


def test_version(run_kpi):
    code, out, _ = run_kpi("--version")
    assert code == 0
    assert out.strip() == f"kpicore {__version__}"


def test_every_command_has_help(run_kpi):
    from kpicore.cli import cli

    for name, command in cli.commands.items():
        assert command.help, f"kpi {name} has no help text"
        code, out, _ = run_kpi(name, "--help")
        assert code == 0 and "Usage:" in out


def test_compute_json_is_design_8_shape(run_kpi, demo_database):
    code, out, err = run_kpi(
        "compute",
        "nps",
        "csat",
        "churn_rate",
        "--period",
        "2026-W47",
        "--source",
        str(demo_database),
        "--format",
        "json",
    )
    assert code == 0, err
    results = json.loads(out)
    assert [r["metric"] for r in results] == ["nps", "csat", "churn_rate"]
    for result in results:
        assert list(result) == DESIGN_8_KEYS
        assert result["status"] == "ok"
        assert result["period"] == "2026-W47"
        assert result["start"] == "2026-11-16T00:00:00+00:00"
        assert result["end"] == "2026-11-23T00:00:00+00:00"
        assert isinstance(result["value"], float)
        assert result["delta"] == pytest.approx(result["value"] - result["previous"])
        assert isinstance(result["n"], int) and result["n"] > 0
    nps = results[0]
    assert nps["unit"] == "points" and results[1]["unit"] == "percent"
    assert nps["warnings"] and all(set(w) == {"message", "count"} for w in nps["warnings"])


def test_compute_last_week_on_demo_data_defaults_to_demo_database(run_kpi, demo_database, tmp_path):
    shutil.copy(demo_database, tmp_path / "kpi-demo.db")
    code, out, err = run_kpi("compute", "nps", "--period", "2026-W47", "--format", "json")
    assert code == 0, err
    assert json.loads(out)[0]["n"] > 0


def test_compute_by_region_and_trend(run_kpi, demo_database):
    code, out, err = run_kpi(
        "compute",
        "nps",
        "--period",
        "2026-W47",
        "--source",
        str(demo_database),
        "--by",
        "region",
        "--trend",
        "4",
        "--format",
        "json",
    )
    assert code == 0, err
    (nps,) = json.loads(out)
    segments = {s["segment"]: s for s in nps["segments"]}
    assert {"North", "South", "East", "West"} <= set(segments)
    assert sum(s["n"] for s in nps["segments"]) == nps["n"]
    assert [p["period"] for p in nps["trend"]] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    assert nps["trend"][-1]["value"] == nps["value"]


def test_compute_csv_and_table(run_kpi, demo_database):
    code, out, _ = run_kpi(
        "compute", "revenue", "--period", "2026-11", "--source", str(demo_database), "--format", "csv"
    )
    assert code == 0
    header, row = out.strip().splitlines()
    assert header.startswith("metric,row,dimension,segment,status,period")
    assert row.startswith("revenue,total,,,ok,2026-11,")
    code, out, _ = run_kpi(
        "compute", "revenue", "new_customers", "--period", "2026-11", "--source", str(demo_database)
    )
    assert code == 0
    assert "Revenue" in out and "New customers" in out


def test_compute_stores_values_in_state_database(run_kpi, demo_database, tmp_path):
    import sqlite3

    code, _, err = run_kpi(
        "compute", "nps", "--period", "2026-W47", "--source", str(demo_database), "--by", "region"
    )
    assert code == 0, err
    rows = (
        sqlite3.connect(tmp_path / "kpi-state.db")
        .execute("SELECT metric, segment, start_utc, end_utc FROM metric_values ORDER BY segment")
        .fetchall()
    )
    assert rows[0] == ("nps", "", "2026-11-16T00:00:00+00:00", "2026-11-23T00:00:00+00:00")
    assert {r[1] for r in rows[1:]} >= {"region=North", "region=South"}
    # Recomputing upserts instead of duplicating.
    run_kpi("compute", "nps", "--period", "2026-W47", "--source", str(demo_database), "--by", "region")
    again = (
        sqlite3.connect(tmp_path / "kpi-state.db").execute("SELECT count(*) FROM metric_values").fetchone()[0]
    )
    assert again == len(rows)


def test_unknown_metric_suggests_closest(run_kpi, demo_database):
    code, _, err = run_kpi("compute", "csta", "--source", str(demo_database))
    assert code == 2
    assert err.strip() == "Error: unknown metric 'csta' (did you mean csat, cac?); `kpi metrics` lists them"
    assert "Traceback" not in err


def test_bad_period_lists_accepted_forms(run_kpi, demo_database):
    code, _, err = run_kpi("compute", "nps", "--period", "last-fortnight", "--source", str(demo_database))
    assert code == 2
    assert "unknown period 'last-fortnight'" in err and "2026-W47" in err and "last-7-days" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_timezone(run_kpi, demo_database):
    code, _, err = run_kpi("compute", "nps", "--tz", "Europe/Berln", "--source", str(demo_database))
    assert code == 2
    assert "unknown timezone 'Europe/Berln'" in err and "Europe/Berlin" in err


def test_unknown_dimension_lists_dimensions(run_kpi, demo_database):
    code, _, err = run_kpi("compute", "nps", "--by", "planet", "--source", str(demo_database))
    assert code == 2
    assert "unknown dimension 'planet'" in err and "region" in err and "plan" in err


def test_unreachable_database_is_runtime_error_without_password(run_kpi):
    code, _, err = run_kpi("compute", "nps", "--source", "postgresql://kpi:hunter2@127.0.0.1:1/shop")
    assert code == 1
    assert "hunter2" not in err
    assert "127.0.0.1" in err and err.startswith("Error: source postgresql")
    assert len(err.strip().splitlines()) == 1


def test_debug_shows_traceback(run_kpi, demo_database):
    from kpicore.errors import MetricError

    with pytest.raises(MetricError):
        run_kpi("compute", "nope", "--source", str(demo_database), env={"KPI_DEBUG": "1"})


def test_missing_mapped_table_and_column(run_kpi, demo_database, tmp_path):
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{demo_database}"\n[entities.orders]\ntable = "shop_orders"\n', encoding="utf-8"
    )
    code, _, err = run_kpi("compute", "revenue")
    assert code == 2
    assert "entity orders: table 'shop_orders' not found" in err
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{demo_database}"\n[entities.orders]\ncolumns = {{ amount = "total" }}\n',
        encoding="utf-8",
    )
    code, _, err = run_kpi("compute", "revenue")
    assert code == 2
    assert "entity orders: column 'amount' (mapped to 'total') not found in table 'orders'" in err


def test_entity_missing_from_source_makes_metric_unavailable(run_kpi, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "survey_responses.csv").write_text(
        "response_id,customer_id,survey,score,responded_at\n1,1,nps,10,2026-11-16 10:00:00\n",
        encoding="utf-8",
    )
    code, out, err = run_kpi(
        "compute", "nps", "revenue", "--period", "2026-W47", "--source", str(folder), "--format", "json"
    )
    assert code == 0, err
    nps, revenue = json.loads(out)
    assert nps["status"] == "ok" and nps["value"] == 100.0
    assert revenue["status"] == "unavailable" and "orders" in revenue["reason"]
    code, out, _ = run_kpi(
        "compute", "all", "--period", "2026-W47", "--source", str(folder), "--format", "json"
    )
    assert [r["metric"] for r in json.loads(out)] == ["nps", "csat"]


def test_malformed_csv_names_file_and_line(run_kpi, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "survey_responses.csv").write_text(
        "response_id,customer_id,survey,score,responded_at\n1,1,nps,10,2026-11-16\n2,1,nps,9,2026-11-17,extra,cells\n",
        encoding="utf-8",
    )
    code, _, err = run_kpi("compute", "nps", "--period", "2026-W47", "--source", str(folder))
    assert code == 1
    assert "survey_responses.csv" in err and "line 3" in err
    assert len(err.strip().splitlines()) == 1


def test_no_source_says_what_to_do(run_kpi):
    code, _, err = run_kpi("compute", "nps")
    assert code == 2
    assert "kpi demo" in err and "--source" in err


def test_metrics_lists_every_metric_with_plugin(run_kpi):
    code, out, _ = run_kpi("metrics", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert {"nps", "csat", "churn_rate", "new_customers", "revenue"} <= set(rows)
    assert rows["nps"]["entities"] == ["survey_responses"]
    assert rows["nps"]["plugin"] == "kpicore.metrics.surveys"
    code, out, _ = run_kpi("metrics")
    assert code == 0 and "nps" in out


def test_metrics_details_shows_sql(run_kpi, demo_database):
    code, out, _ = run_kpi(
        "metrics", "--details", "nps", "--period", "2026-W47", "--source", str(demo_database)
    )
    assert code == 0
    assert "Net Promoter Score" in out and "SELECT" in out and "survey_responses" in out
    assert "2026-11-16 00:00:00" in out


def test_plugins_lists_builtins(run_kpi):
    code, out, _ = run_kpi("plugins", "--json")
    assert code == 0
    data = json.loads(out)
    names = {p["name"]: p for p in data["plugins"]}
    assert names["kpicore.metrics.surveys"]["metrics"] == ["nps", "csat"]
    assert names["kpicore.connectors.sql"]["connectors"] == ["sql"]
    assert data["problems"] == []


def test_init_writes_commented_config_once(run_kpi, tmp_path):
    code, _, _ = run_kpi("init")
    assert code == 0
    text = (tmp_path / "kpi.toml").read_text()
    assert text.startswith("# kpi.toml") and "[source]" in text
    from kpicore.config import load_config

    # No demo database here: the url is left for the user to set, and `check` says what to do.
    assert load_config(tmp_path / "kpi.toml").source.url is None
    code, _, err = run_kpi("check")
    assert code == 2 and "kpi demo" in err and "--source" in err
    code, _, err = run_kpi("init")
    assert code == 2 and "already exists" in err
    code, _, _ = run_kpi("init", "--force", "--source", "postgresql://kpi@db/shop")
    assert load_config(tmp_path / "kpi.toml").source.url == "postgresql://kpi@db/shop"


def test_init_example_lines_uncommented_parse_and_mean_what_they_say(run_kpi, tmp_path, monkeypatch):
    """Uncomment every example line `kpi init` writes: the file parses and holds what the comments say."""
    import re

    from kpicore.config import expand_url, load_config

    code, _, _ = run_kpi("init")
    assert code == 0
    lines = (tmp_path / "kpi.toml").read_text().splitlines()
    example = re.compile(r"^# (\[[a-z_.]+\]|[a-z_]+ = )")
    uncommented = [line[2:] if example.match(line) else line for line in lines]
    assert sum(1 for line in lines if example.match(line)) >= 12
    (tmp_path / "kpi.toml").write_text("\n".join(uncommented) + "\n")
    config = load_config(tmp_path / "kpi.toml")
    # The source URL substitutes ${DB_PASSWORD} from the environment, percent-encoded.
    monkeypatch.setenv("DB_PASSWORD", "p@ss")
    assert expand_url(config.source.url, "url") == "postgresql://kpi_reader:p%40ss@db.internal/shop"
    assert config.state_url == "sqlite:///kpi-state.db"
    assert configured_state_url(config) == f"sqlite:///{tmp_path / 'kpi-state.db'}"
    assert config.templates_dir == (tmp_path / "templates").resolve()
    customers = config.source.entities["customers"]
    assert customers.table == "crm_customers" and customers.dimensions == ["region", "plan"]
    assert customers.source_column("signup_at") == "created_at"
    orders = config.source.entities["orders"]
    assert orders.query.startswith("SELECT id AS order_id") and orders.scale == {"amount": 0.01}
    assert orders.source_column("amount") == "total_cents"
    assert config.targets == {"nps": {"min": 40}, "churn_rate": {"max": 2.5}}


def test_init_points_at_an_existing_demo_database(run_kpi, tmp_path, demo_database):
    import shutil

    from kpicore.config import load_config

    shutil.copy(demo_database, tmp_path / "kpi-demo.db")
    code, _, _ = run_kpi("init")
    assert code == 0
    assert load_config(tmp_path / "kpi.toml").source.url == "kpi-demo.db"
    code, out, _ = run_kpi("check")
    assert code == 0 and out.strip().endswith("OK")


def test_check_reports_ok_and_missing(run_kpi, demo_database, tmp_path):
    code, out, err = run_kpi("check", "--source", str(demo_database))
    assert code == 0, err
    assert (
        "customers: ok" in out and "dimensions: channel, region, plan" in out and out.strip().endswith("OK")
    )
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{demo_database}"\n[entities.tickets]\ncolumns = {{ contacts = "touches" }}\n',
        encoding="utf-8",
    )
    code, out, err = run_kpi("check")
    assert code == 2
    assert "column 'contacts' (mapped to 'touches') not found" in err


def test_check_bad_config_names_key_and_line(run_kpi, tmp_path):
    (tmp_path / "kpi.toml").write_text('timezone = "UTC"\ncurency = "EUR"\n', encoding="utf-8")
    code, _, err = run_kpi("check")
    assert code == 2
    assert "unknown key 'curency' (did you mean 'currency'?)" in err
    (tmp_path / "kpi.toml").write_text('timezone = "UTC\n', encoding="utf-8")
    code, _, err = run_kpi("check")
    assert code == 2
    assert "kpi.toml" in err and "line 1" in err


def test_demo_writes_files_and_shows_last_week(run_kpi, tmp_path):
    code, out, err = run_kpi("demo")
    assert code == 0, err
    assert (tmp_path / "kpi-demo.db").is_file()
    assert (tmp_path / "kpi.toml").is_file()
    assert (tmp_path / "kpi-state.db").is_file()
    assert "Revenue" in out and "Net Promoter" in out
    # Running it again regenerates its own database and keeps the user's kpi.toml.
    (tmp_path / "kpi.toml").write_text('currency = "EUR"\n[source]\nurl = "kpi-demo.db"\n')
    code, out, _ = run_kpi("demo")
    assert code == 0 and "€" in out


def test_demo_never_overwrites_a_foreign_database(run_kpi, tmp_path):
    import sqlite3

    sqlite3.connect(tmp_path / "kpi-demo.db").execute("CREATE TABLE mine (x)").connection.commit()
    code, _, err = run_kpi("demo")
    assert code != 0
    assert "kpi-demo.db" in err
    assert sqlite3.connect(tmp_path / "kpi-demo.db").execute("SELECT name FROM sqlite_master").fetchall() == [
        ("mine",)
    ]


def test_query_string_password_never_printed(run_kpi):
    code, _, err = run_kpi(
        "compute", "nps", "--source", "postgresql://127.0.0.1:1/shop?user=kpi&password=hunter2secret"
    )
    assert code == 1
    assert "hunter2secret" not in err and "password=***" in err


def test_environment_password_with_url_characters(run_kpi, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_DB_PASSWORD", "p@ss:w/rd")
    (tmp_path / "kpi.toml").write_text(
        '[source]\nurl = "postgresql://kpi:${SHOP_DB_PASSWORD}@127.0.0.1:1/shop"\n'
    )
    code, _, err = run_kpi("compute", "nps")
    assert code == 1, err  # the URL parses; the database on port 1 does not answer
    assert "p@ss" not in err and "Traceback" not in err and "kpi:***@127.0.0.1:1" in err


def test_malformed_url_is_a_config_error(run_kpi):
    code, _, err = run_kpi("compute", "nps", "--source", "postgresql://host:abc/db")
    assert code == 2
    assert "not a valid SQLAlchemy URL" in err and "Traceback" not in err


def test_missing_driver_names_the_dialect(run_kpi):
    # (PyMySQL is a test dependency now, so a database whose driver is never installed here: SQL Server)
    code, _, err = run_kpi("compute", "nps", "--source", "mssql+pyodbc://kpi:pw@127.0.0.1/shop")
    assert code == 2
    assert "driver" in err and "mssql" in err and "kpicore[postgres]" not in err and ":pw@" not in err


def test_misspelled_entity_mapping_is_an_error(run_kpi, tmp_path, demo_database):
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{demo_database}"\n[entities.order]\ntable = "orders"\n'
    )
    code, _, err = run_kpi("compute", "revenue")
    assert code == 2
    assert "[entities.order]: unknown entity 'order' (did you mean 'orders'?)" in err


def test_cli_start_up_imports_no_heavy_libraries():
    import subprocess
    import sys

    code = (
        "import sys, kpicore.cli; from kpicore.plugins import load_plugins; load_plugins(); "
        "heavy = [m for m in ('sqlalchemy', 'matplotlib', 'slack_sdk', 'babel', 'rich', 'duckdb', 'jinja2') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == ""


def test_broken_mapped_query_is_a_mapping_error(run_kpi, tmp_path, demo_database):
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{demo_database}"\n[entities.orders]\nquery = "SELEC * FROM orders"\n'
    )
    code, _, err = run_kpi("compute", "revenue")
    assert code == 2
    assert "kpi.toml [entities.orders] query fails" in err and "syntax error" in err


DIGEST = '[digests.weekly]\nmetrics = ["revenue"]\n'


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[digests.weekly]\nmetrics = ["revenu"]\n',
            "kpi.toml: [digests.weekly].metrics: unknown metric 'revenu' (did you mean revenue",
        ),
        (DIGEST + 'destinations = ["slak:#kpis"]\n', "no channel handles 'slak:' (did you mean slack:?)"),
        (DIGEST + 'schedule = "0 9 * MON"\n', "[digests.weekly].schedule: '0 9 * MON' has 4 field(s)"),
        (DIGEST + 'trend = "twelve"\n', "[digests.weekly].trend: expected a number of periods"),
        (
            '[entities.customers]\ncolumns = { customer_idd = "id" }\n',
            "kpi.toml: [entities.customers].columns: unknown column 'customer_idd' (did you mean 'customer_id'?)",
        ),
        (
            '[entities.custmers]\ntable = "crm"\n',
            "kpi.toml: [entities.custmers]: unknown entity 'custmers' (did you mean 'customers'?)",
        ),
        (
            "[targets]\nnsp = { min = 40 }\n",
            "kpi.toml: [targets]: unknown metric 'nsp' (did you mean 'nps'?)",
        ),
        (
            '[packs.restaurant.opening_hours]\nmonday = ["11:00-15:00"]\n',
            "kpi.toml: [packs.restaurant.opening_hours]: unknown key 'monday' (did you mean 'mon'?)",
        ),
        (
            "[packs.consulting]\nrate = 1\n",
            "kpi.toml: [packs.consulting]: unknown key 'rate' (packs.consulting takes no keys)",
        ),
        ('locale = "xx_YY"\n', "locale: unknown locale 'xx_YY'"),
        ('currency = "EURO"\n', "currency: unknown currency 'EURO' (did you mean 'EUR'?)"),
    ],
)
def test_check_rejects_each_broken_config(run_kpi, tmp_path, demo_database, monkeypatch, toml, message):
    monkeypatch.setenv("KPI_LOAD_PLUGINS", "restaurant,consulting")
    top, sep, rest = toml.partition("[")  # top-level keys before the first table
    (tmp_path / "kpi.toml").write_text(
        f'{top}[source]\nurl = "{demo_database}"\n{sep}{rest}', encoding="utf-8"
    )
    code, out, err = run_kpi("check")
    assert code == 2, out + err
    assert message in err
    assert "OK" not in out.splitlines()[-1:]


def test_check_accepts_the_same_config_written_right(run_kpi, tmp_path, demo_database, monkeypatch):
    monkeypatch.setenv("KPI_LOAD_PLUGINS", "restaurant,consulting")
    (tmp_path / "kpi.toml").write_text(
        f'locale = "en_GB"\ncurrency = "EUR"\n[source]\nurl = "{demo_database}"\n'
        '[entities.customers]\ncolumns = { customer_id = "customer_id" }\n[targets]\nnps = { min = 40 }\n'
        '[packs.restaurant.opening_hours]\nmon = ["11:00-15:00"]\n'
        + DIGEST
        + 'destinations = ["slack:#kpis"]\nschedule = "0 9 * * MON"\ntrend = 12\n',
        encoding="utf-8",
    )
    code, out, err = run_kpi("check")
    assert code == 0, out + err
    assert out.strip().endswith("OK")


def test_metrics_on_a_pipe_prints_plain_lines_with_whole_names(run_kpi):
    from kpicore.registry import get_registry

    code, out, _ = run_kpi("metrics")
    assert code == 0
    rows = [line.split("\t") for line in out.splitlines()]
    registry = get_registry()
    assert [row[0] for row in rows] == sorted(registry.metrics)
    for row in rows:
        assert len(row) == 6 and row[4] == registry.provider("metrics", row[0])
        assert row[5] == registry.metric(row[0]).description and "…" not in "".join(row)


@pytest.mark.parametrize("width", [60, 100, 120])
def test_metrics_table_on_a_terminal_never_cuts_names(width):
    import io

    from rich.console import Console

    from kpicore.cli.catalog import print_metrics

    rows = [
        {
            "name": "active_customers",
            "unit": "count",
            "better": "higher",
            "entities": ["customers"],
            "plugin": "kpicore.metrics.customers",
            "description": "Customers signed up before the end " * 4,
        },
        {
            "name": "revenue_per_consultant",
            "unit": "currency",
            "better": "higher",
            "entities": ["timesheets", "consultants"],
            "plugin": "kpicore_consulting_with_a_long_name",
            "description": "Billed amount per consultant with hours.",
        },
    ]
    buffer = io.StringIO()
    print_metrics(rows, Console(file=buffer, width=width, force_terminal=True, color_system=None))
    text = buffer.getvalue()
    for row in rows:
        assert row["name"] in text and row["plugin"] in text
    assert "…" not in text


def test_csv_with_mixed_line_ends_is_read(run_kpi, tmp_path):
    # Files as exported are read line by line whatever their line ends (a file edited on two systems).
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "survey_responses.csv").write_bytes(
        b"response_id,customer_id,survey,score,responded_at\n1,1,nps,10,2026-11-16\n"
        b"2,1,nps,9,2026-11-17\r\n3,1,nps,3,2026-11-18\n"
    )
    code, out, err = run_kpi(
        "compute", "nps", "--period", "2026-W47", "--source", str(folder), "--format", "json"
    )
    assert code == 0, err
    # 2 promoters (10, 9) and 1 detractor (3) of 3: (2 - 1) / 3 = 33.3.
    assert round(json.loads(out)[0]["value"], 1) == 33.3


def test_semicolon_delimited_csv_is_read(run_kpi, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "survey_responses.csv").write_text(
        "response_id;customer_id;survey;score;responded_at\n1;1;nps;10;2026-11-16\n2;1;nps;3;2026-11-17\n"
    )
    code, out, err = run_kpi(
        "compute", "nps", "--period", "2026-W47", "--source", str(folder), "--format", "json"
    )
    assert code == 0, err
    assert json.loads(out)[0]["value"] == 0.0 and json.loads(out)[0]["n"] == 2


def test_check_data_says_an_amount_is_not_a_number_with_an_example(run_kpi, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "orders.csv").write_text(
        'order_id,customer_id,ordered_at,amount\n1,1,2026-11-16,"1,234.50"\n2,1,2026-11-17,ten\n3,1,2026-11-17,\n'
    )
    code, out, err = run_kpi("check", "--data", "--source", str(folder))
    assert code == 1, out + err
    # A folder of files as exported: '1,234.50' is an amount; 'ten' is left out, with its line.
    assert (
        "  orders.amount: read decimal '.' (decided by the column's values); 1 value(s) left out of the "
        "metrics that read it (1 not a number; e.g. line 3: 'ten')"
    ) in out
    # SQLite keeps the text too: the same check.
    import sqlite3

    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE orders (order_id, customer_id, ordered_at, amount)")
        connection.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [
                (1, 1, "2026-11-16", "1,234.50"),
                (2, 1, "2026-11-17", 10),
                (3, 1, "2026-11-17", "12 EUR"),
                (4, 1, "2026-11-17", None),
            ],
        )
    code, out, err = run_kpi("check", "--data", "--source", str(database))
    assert code == 1, out + err
    assert "  orders.amount: 2 value(s) are not numbers (e.g. '1,234.50', '12 EUR')" in out


def test_a_newcomers_first_command_fits_one_screen(tmp_path):
    """`make demo`: the setup prints one line (pip's output goes to a log) and `kpi demo`, run as a real
    process, fits a 50-line screen."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    recipe = makefile.split("$(VENV)/.installed:", 1)[1].split("\n\n", 1)[0].replace("\\\n\t\t", "")
    commands = [
        line[1:] for line in recipe.splitlines()[1:] if line.startswith("\t") and not line.startswith("\t\t")
    ]
    assert commands and all(command.startswith("@") for command in commands), "make echoes a setup command"
    assert sum(command.startswith("@echo") for command in commands) == 1
    for command in (c for c in recipe.split("\n\t") if "pip install" in c):
        assert re.search(r">>? \$\(VENV\)/setup\.log 2>&1", command), f"pip prints to the terminal: {command}"
    assert "\t@$(BIN)/kpi demo" in makefile
    env = {**os.environ, "KPI_LOAD_PLUGINS": ""}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("kpi")), "demo"],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    # + the one setup line; the digest's three insights (an unusual value, a forecast, its driver) take
    # seven of these lines and the two targets two more; on an 80-column screen the folded target column
    # leaves two lines under the table and the text digest wraps at 72 columns: a tall terminal's screen
    assert len(lines) + 1 <= 64, len(lines)
    assert not any("Traceback" in line or "Warning" in line for line in lines)


def test_a_csv_wider_than_the_limit_is_one_clear_error_at_once(run_kpi, tmp_path):
    """100,000 columns kept DuckDB planning for minutes: a header over the limit is refused before it."""
    folder = tmp_path / "data"
    folder.mkdir()
    header = "order_id,customer_id,ordered_at,amount," + ",".join(f"c{i}" for i in range(20_000))
    (folder / "orders.csv").write_text(header + "\n1,1,2026-11-17 10:00,40.5\n", encoding="utf-8")
    code, _, err = run_kpi("compute", "revenue", "--period", "2026-W47", "--source", str(folder))
    assert code == 1
    assert f"cannot read {folder / 'orders.csv'}: its header has 20,004 columns, more than the 16,384" in err
    assert len(err.strip().splitlines()) == 1
