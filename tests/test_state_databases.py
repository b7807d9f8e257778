"""kpicore's own database through the dialect layer, on SQLite, PostgreSQL and MariaDB: upserts and
insert-or-ignore per dialect, the migrations, the URL forms `state_url` accepts (a bare path, postgres://,
mariadb://), and two `kpi serve` processes sharing one MariaDB state database."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
import sqlalchemy as sa

from kpicore import hookimpl
from kpicore.alerts.rules import alert_specs
from kpicore.channels import Channel, Delivery
from kpicore.config import parse_config
from kpicore.delivery import ledger
from kpicore.delivery.store import ledger_engine
from kpicore.errors import ConfigError
from kpicore.plugins import new_plugin_manager
from kpicore.registry import build_registry
from kpicore.results import MetricResult, Segment, TrendPoint
from kpicore.serve.alerts import run_alert
from kpicore.state import metric_values, open_state, state_dialect, store_results, store_trend
from kpicore.state import state_url as configured_state_url
from kpicore.testing import create_mysql_database, drop_mysql_database, mysql_url
from tests import test_digest_state
from tests.test_digest_state import POSTGRES_SERVER
from tests.test_serve import Serve, deliveries, environment, kpicore_parts, wait_until_sent, write_config

state_url = test_digest_state.state_url  # the state-database fixture, shared

START, END = "2026-11-16T00:00:00+00:00", "2026-11-23T00:00:00+00:00"


def result(value: float, n: int | None = 10, trend: list[TrendPoint] | None = None) -> MetricResult:
    return MetricResult(
        metric="revenue",
        title="Revenue",
        unit="currency",
        better="higher",
        status="ok",
        period="2026-W47",
        start=START,
        end=END,
        value=value,
        n=n,
        segments=[Segment(segment="North", value=value / 2, n=4)],
        trend=trend,
        dimension="region",
    )


def stored(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(metric_values.c.segment, metric_values.c.value, metric_values.c.n).order_by(
                metric_values.c.segment
            )
        )
        return [tuple(row) for row in rows]


def test_stored_values_are_upserted_on_every_state_database(state_url, tmp_path):
    config = parse_config({"state_url": state_url}, tmp_path / "kpi.toml")
    assert store_results(config, [result(100.0)], "shop", "region") == 2
    assert store_results(config, [result(120.0, n=12)], "shop", "region") == 2  # the same keys: updated
    engine = open_state(configured_state_url(config))
    assert stored(engine) == [("", 120.0, 12), ("region=North", 60.0, 4)]
    # A trend point updates the value and keeps the stored n (COALESCE(new n, stored n) in each dialect).
    point = TrendPoint(period="2026-W47", start=START, end=END, value=130.0)
    assert store_trend(config, [result(0.0, trend=[point])], "shop") == 1
    assert stored(engine) == [("", 130.0, 12), ("region=North", 60.0, 4)]


def test_insert_or_ignore_leaves_out_duplicates_on_every_state_database(state_url, tmp_path):
    engine = open_state(state_url)
    dialect = state_dialect(engine)
    row = {
        "metric": "nps",
        "start_utc": START,
        "end_utc": END,
        "segment": "",
        "source": "shop",
        "period": "2026-W47",
        "value": 40.0,
        "n": 3,
        "computed_at": START,
    }
    with engine.begin() as connection:
        connection.execute(dialect.insert_or_ignore(metric_values, [row]))
    assert stored(engine) == [("", 40.0, 3)]
    with engine.begin() as connection:  # the same key again, beside a new one: no error, the first kept
        connection.execute(
            dialect.insert_or_ignore(
                metric_values, [{**row, "value": 1.0}, {**row, "segment": "region=North"}]
            )
        )
    assert stored(engine) == [("", 40.0, 3), ("region=North", 40.0, 3)]


@pytest.mark.parametrize(
    ("written", "resolved"),
    [
        ("state.db", "sqlite:///{folder}/state.db"),
        ("data/state.db", "sqlite:///{folder}/data/state.db"),
        ("/var/kpi/state.db", "sqlite:////var/kpi/state.db"),
        ("sqlite:///state.db", "sqlite:///{folder}/state.db"),
        ("sqlite:////var/kpi/state.db", "sqlite:////var/kpi/state.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgres://kpi@db/kpi", "postgresql+psycopg://kpi@db/kpi"),
        ("postgresql://kpi@db/kpi", "postgresql+psycopg://kpi@db/kpi"),
        ("postgresql+psycopg2://kpi@db/kpi", "postgresql+psycopg2://kpi@db/kpi"),
        ("mysql://kpi@db/kpi", "mysql+pymysql://kpi@db/kpi"),
        ("mariadb://kpi@db/kpi", "mysql+pymysql://kpi@db/kpi"),
        (None, "sqlite:///{folder}/kpi-state.db"),
    ],
)
def test_state_url_forms(tmp_path, written, resolved):
    raw = {} if written is None else {"state_url": written}
    config = parse_config(raw, tmp_path / "kpi.toml")
    assert configured_state_url(config) == resolved.format(folder=tmp_path)


def test_a_bare_path_state_url_is_a_sqlite_file_beside_kpi_toml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)  # not the config's folder: the path is the config's
    config = parse_config({"state_url": "state.db"}, tmp_path / "kpi.toml")
    assert store_results(config, [result(100.0)], "shop", "region") == 2
    assert (tmp_path / "state.db").is_file()


@pytest.fixture
def postgres_database():
    name = f"kpi_state_url_{uuid.uuid4().hex[:10]}"
    server = sa.create_engine(f"{POSTGRES_SERVER}/test", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        open_state.cache_clear()
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_postgres_scheme_opens_the_state_database(postgres_database, tmp_path):
    config = parse_config(
        {"state_url": f"postgres://postgres@127.0.0.1:5432/{postgres_database}"}, tmp_path / "kpi.toml"
    )
    engine = open_state(configured_state_url(config))
    assert engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0008"


@pytest.fixture
def mariadb_state_url():
    database = create_mysql_database("kpi_serve_state")
    try:
        yield mysql_url(database)
    finally:
        open_state.cache_clear()
        drop_mysql_database(database)


def test_two_processes_on_one_mariadb_state_database_deliver_once(
    tmp_path, demo_database, slack_server, smtp_server, mariadb_state_url, servers
):
    slack = slack_server.fake
    slack.post_delay = 0.3  # both processes fire on the same 2 s grid and race for each claim
    write_config(
        tmp_path,
        demo_database,
        state_url=mariadb_state_url.replace("mysql+pymysql://", "mariadb://"),
        smtp=smtp_server,
        destinations=["slack:#kpis", "email:owner@example.com"],
    )
    env = environment(slack_server)
    running = [Serve(tmp_path, env, name=f"p{i}") for i in range(2)]
    servers.extend(running)
    for serve in running:
        serve.started()
    try:
        wait_until_sent(mariadb_state_url, "slack:#kpis", timeout=120)
    except AssertionError:
        raise AssertionError(running[0].text() + running[1].text()) from None
    wait_until_sent(mariadb_state_url, "email:owner@example.com", timeout=120)
    # Two more fires of the same period in each process after both sends were recorded: nothing is sent.
    fired = [serve.text().count("fired digest=weekly") for serve in running]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
        serve.text().count("fired digest=weekly") >= before + 2
        for serve, before in zip(running, fired, strict=True)
    ):
        time.sleep(0.2)
    for serve in running:
        assert serve.stop() == 0
    rows = deliveries(mariadb_state_url)
    assert sorted((row[3], row[4]) for row in rows) == [
        ("email:owner@example.com", "sent"),
        ("slack:#kpis", "sent"),
    ]
    assert kpicore_parts(slack) == [("digest|weekly|2026-W47||slack:#kpis", 1)]
    assert len(smtp_server.messages) == 1


class LeaseWatcher(Channel):
    """Reads, while it sends, how long the ledger's claim on the message it is sending still runs."""

    scheme = "watch"
    description = "records the lease of each claim it sends under"
    formats = ()

    def __init__(self, engine: sa.Engine):
        self.engine, self.leases = engine, []

    def send(self, message, target, settings):
        table = ledger.deliveries_table(sa.MetaData())
        with self.engine.connect() as connection:
            self.leases.append(
                connection.execute(
                    sa.select(table.c.kind, table.c.lease_until).where(
                        table.c.destination == f"watch:{target}"
                    )
                ).one()
            )
        return Delivery(message_ids=["w-1"])


def test_serve_lease_reaches_alerts(tmp_path, demo_database):
    """`[serve] lease` holds for an alert's claim as for a digest's (it once reached digests only)."""
    config = parse_config(
        {
            "source": {"url": str(demo_database)},
            "serve": {"lease": "7m", "tick": "1s"},
            "alerts": {"always": {"when": "revenue > 0", "period": "2026-W47", "destinations": ["watch:x"]}},
        },
        tmp_path / "kpi.toml",
    )
    engine = ledger_engine(config)
    watcher = LeaseWatcher(engine)

    class Plugin:
        @hookimpl
        def register_channels(self, register):
            register(watcher)

    loaded = new_plugin_manager(load_entry_points=False)
    loaded.manager.register(Plugin(), name="watcher")
    registry = build_registry(loaded)
    before = dt.datetime.now(dt.UTC)
    run_alert(alert_specs(config)["always"], before, config, registry, engine)
    ((kind, until),) = watcher.leases
    until = until if until.tzinfo else until.replace(tzinfo=dt.UTC)
    assert kind == "alert" and dt.timedelta(minutes=6) < until - before <= dt.timedelta(minutes=7, seconds=30)


def test_a_bad_state_url_is_one_line_without_its_password():
    with pytest.raises(ConfigError) as caught:
        open_state("postgres://kpi:s3cret@db:port/kpi")
    assert (
        str(caught.value)
        == "state_url 'postgresql+psycopg://kpi:***@db:port/kpi' is not a valid SQLAlchemy URL"
    )
