"""Incremental lifetime aggregates (kpicore.incremental): the answer equals a full compute to 1e-9 on every
backend, through late rows, deleted rows, changed amounts, amounts moved between customers, a backdated
first order, a changed timezone and the recompute schedule."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kpicore.compute import ANSWERS, compute, select_metrics
from kpicore.config import Config, SourceConfig
from kpicore.incremental.answer import Provider
from kpicore.periods import parse_period
from kpicore.state import open_state
from kpicore.testing import (
    POSTGRES_URL,
    KpiHarness,
    create_mysql_database,
    drop_mysql_database,
    mysql_url,
    mysql_writer,
    write_tables,
)

METRICS = ("clv", "repeat_purchase_rate")
#: The last run of a scenario; the data spans the ten weeks before it.
END = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
ZONE = "Europe/Berlin"


def order(i: int, customer, day: float, amount) -> dict:
    at = END - dt.timedelta(days=day)
    return {
        "order_id": i,
        "customer_id": customer,
        "ordered_at": at.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M:%S"),
        "amount": amount,
    }


class Scenario:
    """One source and one state database: orders rewritten in place between runs."""

    def __init__(self, harness: KpiHarness, rows: list[dict], tmp_path, state_url: str | None = None):
        self.harness = harness
        self.registry = harness.registry()
        self.entities = {name: r.item for name, r in self.registry.entities.items()}
        self.source = harness.source(
            {"orders": rows}, registry=self.registry, source_config=SourceConfig(timezone=ZONE)
        )
        self.config = Config()
        self.config.source = self.source.config
        self.state = open_state(state_url or str(tmp_path / f"state-{id(self)}.db"))

    def rewrite(self, rows: list[dict]) -> None:
        url = self.source.engine.url
        schema = self.source.config.schema
        if url.get_backend_name() == "sqlite":
            path = url.database.removeprefix("file:").split("?")[0]
            engine = sa.create_engine(f"sqlite:///{path}")
        elif url.get_backend_name() == "postgresql":
            engine = sa.create_engine(POSTGRES_URL)
        else:
            engine = mysql_writer(mysql_url(url.database))
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE {schema + '.' if schema else ''}orders"))
        write_tables(
            engine, {"orders": rows}, self.entities, schema=schema, timestamps=self.harness.timestamps
        )
        engine.dispose()

    def results(self, period: str, now: dt.datetime, provider=None, trend=6):
        token = ANSWERS.set(provider)
        try:
            results = compute(
                select_metrics(METRICS, self.registry),
                parse_period(period, ZONE, now=now),
                self.source,
                config=self.config,
                trend=trend,
            )
        finally:
            ANSWERS.reset(token)
        return [r.to_json() for r in results]

    def provider(self, now, recompute: str = "never") -> Provider:
        return Provider(
            self.config,
            self.state,
            late_data=7 * 86400,
            recompute=recompute,
            full=False,
            verify_every=0,
            now=now,
        )


def same(full, incremental):
    if isinstance(full, float) or isinstance(incremental, float):
        return incremental == pytest.approx(full, rel=1e-9, abs=1e-9)
    if isinstance(full, dict):
        return full.keys() == incremental.keys() and all(same(full[k], incremental[k]) for k in full)
    if isinstance(full, list):
        return len(full) == len(incremental) and all(
            same(a, b) for a, b in zip(full, incremental, strict=True)
        )
    return full == incremental


def check(
    scenario: Scenario, now: dt.datetime, periods=("last-week", "this-week", "this-month", "last-month")
):
    provider = scenario.provider(now)
    kinds, calls = [], []
    for period in periods:
        full = scenario.results(period, now)
        answered = scenario.results(period, now, provider)
        assert same(full, answered), (period, full, answered)
        kinds.append(provider.last_refresh.kind)
        calls.append(provider.answered)
    # last-week and last-month end at local midnights: answered from the aggregates, not computed.
    assert calls[0] == 1 and calls[3] - calls[2] == 1, calls
    return kinds[0]


BACKENDS = ["sqlite", "postgresql", "mysql"]

amounts = st.one_of(
    st.sampled_from([0.0, -5.0, None]), st.floats(1, 500, allow_nan=False).map(lambda x: round(x, 2))
)
rows_strategy = st.lists(st.tuples(st.integers(1, 12), st.floats(0, 70), amounts), min_size=1, max_size=40)
edits = st.lists(
    st.tuples(
        st.sampled_from(["late", "delete", "amount", "move", "backdate", "recent", "none", "none"]),
        st.integers(0, 1000),
        st.floats(0, 70),
        amounts,
    ),
    min_size=1,
    max_size=6,
)


def apply(rows: list[dict], edit, next_id: int) -> list[dict]:
    kind, pick, day, amount = edit
    rows = [dict(r) for r in rows]
    target = rows[pick % len(rows)] if rows else None
    if kind == "late":  # a row that arrives late, with an old time
        rows.append(order(next_id, pick % 6 + 1, 10 + day, amount))
    elif kind == "recent":
        rows.append(order(next_id, pick % 6 + 1, day % 6, amount))
    elif kind == "delete" and target is not None:
        rows.remove(target)
    elif kind == "amount" and target is not None:
        target["amount"] = amount
    elif kind == "move" and target is not None:
        target["customer_id"] = (target["customer_id"] or 0) % 6 + 1
    elif kind == "backdate":  # a customer whose first order is moved earlier
        rows.append(order(next_id, pick % 6 + 1, 70 + day, 9.5))
    return rows


@pytest.mark.parametrize("backend", BACKENDS)
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(start=rows_strategy, changes=edits)
def test_incremental_equals_full_compute(backend, tmp_path_factory, start, changes):
    tmp_path = tmp_path_factory.mktemp("inc")
    harness = KpiHarness(tmp_path, backend)
    try:
        rows = [order(i, c, d + 7, a) for i, (c, d, a) in enumerate(start)]
        scenario = Scenario(harness, rows, tmp_path)
        first_now = END - dt.timedelta(days=7)
        assert check(scenario, first_now) == "full"
        for step, edit in enumerate(changes):
            rows = apply(rows, edit, 1000 + step)
            scenario.rewrite(rows)
            check(scenario, END - dt.timedelta(days=7) + dt.timedelta(days=step + 1))
    finally:
        harness.close()


@pytest.fixture
def state_database(request):
    """The URL of an empty state database of the kind ``request.param`` (SQLite: None, a file)."""
    if request.param == "sqlite":
        yield None
        return
    if request.param == "postgresql":
        name = f"kpi_incremental_{uuid.uuid4().hex[:10]}"
        server = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            open_state.cache_clear()
            with server.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            server.dispose()
        return
    database = create_mysql_database("kpi_incremental")
    try:
        yield mysql_url(database)
    finally:
        open_state.cache_clear()
        drop_mysql_database(database)


@pytest.mark.parametrize(
    ("backend", "state_database"),
    [(backend, "sqlite") for backend in BACKENDS] + [("sqlite", "postgresql"), ("sqlite", "mysql")],
    indirect=["state_database"],
)
def test_a_week_later_only_the_new_rows_are_read(backend, state_database, tmp_path):
    """The second run extends the aggregates (no full recompute): a second purchase in the increment, one
    in the rows read live, a first order in each, a refund, a guest order, an order with no amount. The
    state database on each kind: the merge of a span with the stored customers is its SQL."""
    harness = KpiHarness(tmp_path, backend)
    try:
        rows = [
            order(1, 1, 40, 10.0),  # one purchase long ago ...
            order(2, 2, 40, 15.0),
            order(3, 2, 30, -15.0),  # ... a refund is not a purchase
            order(4, 3, 35, 0.0),  # an order that is no purchase
            order(5, None, 33, 7.0),  # a guest order
            order(6, 4, 33, None),  # no amount
        ]
        scenario = Scenario(harness, rows, tmp_path, state_database)
        assert check(scenario, END - dt.timedelta(days=14)) == "full"
        rows += [
            order(7, 1, 12, 20.0),  # the second purchase, between the two cutoffs
            order(8, 2, 3, 5.0),  # a second purchase among the rows read live
            order(9, 5, 12, 30.0),  # a new customer in the increment
            order(10, 6, 2, 8.0),  # and one among the rows read live
            order(11, 6, 1, 9.0),
            order(12, 3, 13, 4.0),  # a first purchase after an order that was none
            order(13, 1, 2, 6.0),  # a third purchase, read live after the increment stored the second
            order(14, 5, 1, 3.0),  # the second purchase of the increment's new customer, read live
        ]
        scenario.rewrite(rows)
        assert check(scenario, END - dt.timedelta(days=7)) == "increment"
        assert check(scenario, END) == "increment"
    finally:
        harness.close()


def test_changed_older_rows_and_settings_recompute_everything(tmp_path):
    harness = KpiHarness(tmp_path, "sqlite")
    try:
        rows = [order(1, 1, 40, 10.0), order(2, 2, 30, 12.0)]
        scenario = Scenario(harness, rows, tmp_path)
        now = END - dt.timedelta(days=7)
        assert check(scenario, now) == "full"
        assert check(scenario, now) == "none"
        rows[0]["amount"] = 11.0  # an older row changed: the fingerprint moves
        scenario.rewrite(rows)
        refresh = scenario.provider(now)
        scenario.results("last-week", now, refresh)
        assert refresh.last_refresh.kind == "full" and "fingerprint" in refresh.last_refresh.reason
        scenario.config.week_start = "sunday"  # a setting the aggregates depend on
        refresh = scenario.provider(now)
        scenario.results("last-week", now, refresh)
        assert refresh.last_refresh.reason == "the mapping, timezone or week start changed"
        weekly = scenario.provider(now + dt.timedelta(days=8), recompute="weekly")
        scenario.results("last-week", now + dt.timedelta(days=8), weekly)
        assert weekly.last_refresh.kind == "full" and "recompute" in weekly.last_refresh.reason
    finally:
        harness.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_older_row_changed_as_the_cutoff_moves_recomputes_everything(backend, tmp_path):
    """The check of the older rows when the run also adds a week (on PostgreSQL both fingerprints come
    from one scan): an unchanged store increments, a changed older amount recomputes everything."""
    harness = KpiHarness(tmp_path, backend)
    try:
        rows = [order(1, 1, 40, 10.0), order(2, 2, 30, 12.0), order(3, 1, 17, 5.0), order(4, 3, 10, 6.0)]
        scenario = Scenario(harness, rows, tmp_path)
        assert check(scenario, END - dt.timedelta(days=14)) == "full"
        assert check(scenario, END - dt.timedelta(days=7)) == "increment"
        rows[1]["amount"] = 12.5  # older than both cutoffs
        rows.append(order(5, 3, 2, 7.0))
        scenario.rewrite(rows)
        refresh = scenario.provider(END)
        scenario.results("last-week", END, refresh)
        assert refresh.last_refresh.kind == "full" and "fingerprint" in refresh.last_refresh.reason
    finally:
        harness.close()


def test_kpi_answers_ended_windows_again_until_the_next_check(tmp_path):
    """`/kpi` (a provider that checks at most once an interval) answers the windows that have ended from
    the totals of its first call until the next check."""
    from kpicore.incremental.answer import ANSWERED_CACHE, CHECKED

    harness = KpiHarness(tmp_path, "sqlite")
    try:
        rows = [order(1, 1, 40, 10.0), order(2, 2, 30, 12.0), order(3, 1, 3, 5.0)]
        scenario = Scenario(harness, rows, tmp_path)
        now = END

        def chat():
            return Provider(
                scenario.config,
                scenario.state,
                late_data=7 * 86400,
                recompute="never",
                full=False,
                verify_every=3600.0,
                now=now,
            )

        CHECKED.clear()
        ANSWERED_CACHE.clear()
        first = scenario.results("last-week", now, chat())
        rows.append(order(4, 3, 4, 50.0))  # a late order inside last week
        scenario.rewrite(rows)
        again = chat()
        assert scenario.results("last-week", now, again) == first and again.cached == 1
        CHECKED.clear()  # the interval has passed: the next call checks and reads again
        checked = chat()
        assert same(scenario.results("last-week", now), scenario.results("last-week", now, checked))
        assert checked.cached == 0 and scenario.results("last-week", now) != first
    finally:
        harness.close()


def test_settings_are_checked(tmp_path):
    from pathlib import Path

    from kpicore.config import parse_config
    from kpicore.delivery.check import serve_problems
    from kpicore.errors import ConfigError

    where = Path(tmp_path / "kpi.toml")
    config = parse_config({"source": {"incremental": "on", "late_data": "3d"}}, where)
    assert (config.source.incremental, config.source.late_data) == ("on", 3 * 86400)
    assert parse_config({}, where).source.late_data == 7 * 86400
    for bad, message in (
        ({"incremental": "sometimes"}, 'is not one of "auto", "on", "off"'),
        ({"late_data": "7"}, "is not a duration"),
        ({"incremantal": "on"}, "did you mean 'incremental'"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_config({"source": bad}, where)
    weekly = parse_config({"serve": {"recompute": "weekly"}}, where)
    assert serve_problems(weekly, KpiHarness(tmp_path).registry()) == []
    hourly = parse_config({"serve": {"recompute": "hourly"}}, where)
    assert any("'hourly' is not one of" in p for p in serve_problems(hourly, KpiHarness(tmp_path).registry()))
