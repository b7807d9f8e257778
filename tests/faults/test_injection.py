"""Injection through every user-facing string of the CLI that reaches the engine (``--by``, periods, entity
and column mapping names, dimensions, config values), on SQLite and on PostgreSQL (which runs several
statements in one call): each gets a result or one clear error, never an SQL syntax error (the text reached
SQL) or a traceback, and the source's tables and rows are unchanged. Then hostile data values (Slack
mentions, HTML, markdown) rendered by the real pipeline in every digest format: escaped in each."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.faults.test_fuzz_inputs import run_cli

DROP = "; DROP TABLE orders; --"
ARGUMENTS = [
    ("--by", f"region{DROP}"),
    ("--by", f'region" FROM customers{DROP}'),
    ("--by", f"region') OR 1=1 {DROP}"),
    ("--period", f"2026-W47'{DROP}"),
    ("--period", f"2026-11-01..2026-11-30'{DROP}"),
]
CONFIGS = [
    f'[entities.orders]\ntable = "orders{DROP}"\n',
    f'[entities.orders]\ntable = "main.orders\\"{DROP}"\n',
    f'[entities.orders]\ncolumns = {{ amount = "amount\\"{DROP}" }}\n',
    '[entities.orders]\ncolumns = { ordered_at = "ordered_at) OR (1=1" }\n',
    f'[entities.customers]\ndimensions = ["region\\"{DROP}"]\n',
    f'[entities.orders]\nscale = {{ amount = "0.01{DROP}" }}\n',
    f'timezone = "UTC\'{DROP}"\n',
    f'currency = "EUR\'{DROP}"\n',
]


def tables_and_rows(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        names = sa.inspect(engine).get_table_names()
        with engine.connect() as connection:
            return {n: connection.execute(sa.text(f'SELECT count(*) FROM "{n}"')).scalar() for n in names}
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def source(request, tmp_path, demo_database):
    """A source URL holding orders and customers (with regions)."""
    if request.param == "sqlite":
        path = tmp_path / "shop.db"
        shutil.copy(demo_database, path)
        yield f"sqlite:///{path}"
        return
    import sqlalchemy as sa

    url = request.getfixturevalue("pg_state_url")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE customers (customer_id int, signup_at timestamp, churned_at timestamp,"
                " channel text, region text, plan text)"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO customers VALUES (1, '2026-01-01', NULL, 'web', 'EU', 'pro'),"
                " (2, '2026-02-01', NULL, 'shop', 'US', 'basic')"
            )
        )
        connection.execute(
            sa.text(
                "CREATE TABLE orders (order_id int, customer_id int, ordered_at timestamp, amount numeric)"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO orders VALUES (1, 1, '2026-11-17 10:00', 40.5), (2, 2, '2026-11-18 11:00', 59.5)"
            )
        )
    engine.dispose()
    yield url


def check(result, what, *, one_line: bool = True) -> None:
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        what,
        repr(result.exception),
    )
    assert "Traceback" not in output, (what, output)
    assert "syntax error" not in output.lower() and "unrecognized token" not in output.lower(), (what, output)
    if result.exit_code and one_line:  # `kpi check` reports problems as a list: its exit code says the rest
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.exit_code in (1, 2) and len(lines) == 1 and lines[0].startswith("Error: "), (
            what,
            output,
        )


def test_sql_injection_through_the_cli_and_kpi_toml(tmp_path, monkeypatch, source):
    monkeypatch.setenv("KPI_LOAD_PLUGINS", "")
    monkeypatch.chdir(tmp_path)
    before = tables_and_rows(source)
    assert before.get("orders")
    for option, value in ARGUMENTS:
        arguments = ["compute", "revenue", "new_customers", "--source", source, "--format", "json"]
        if option != "--period":
            arguments += ["--period", "2026-W47"]
        check(run_cli(*arguments, option, value), (option, value))
    for number, text in enumerate(CONFIGS):
        config = tmp_path / f"kpi-{number}.toml"
        config.write_text(f'{text}\n[source]\nurl = "{source}"\n', encoding="utf-8")
        for arguments in (
            ["compute", "revenue", "--period", "2026-W47", "--format", "json"],
            ["compute", "revenue", "--period", "2026-W47", "--by", "region", "--format", "json"],
            ["check", "--data"],
        ):
            check(
                run_cli(*arguments, "--config", str(config)),
                (text, arguments),
                one_line=arguments[0] != "check",
            )
    assert tables_and_rows(source) == before


HOSTILE = "<!channel> <@U0BOSS> <script>alert(1)</script> *bold* _it_ | pipe & <https://evil.example|click>"


def test_mrkdwn_and_html_in_data_values_are_escaped_in_every_format(tmp_path, monkeypatch, demo_database):
    import sqlite3

    monkeypatch.setenv("KPI_LOAD_PLUGINS", "")
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "shop.db"
    shutil.copy(demo_database, path)
    with sqlite3.connect(path) as connection:  # every customer of one region gets the hostile name
        region = connection.execute(
            "SELECT region FROM customers WHERE region IS NOT NULL LIMIT 1"
        ).fetchone()[0]
        connection.execute("UPDATE customers SET region = ? WHERE region = ?", (HOSTILE, region))
    (tmp_path / "kpi.toml").write_text(
        f"""timezone = "UTC"
[source]
url = "{path}"
[digests.weekly]
title = "Weekly KPIs"
metrics = ["revenue", "new_customers"]
period = "2026-W47"
breakdowns = {{ revenue = "region", new_customers = "region" }}
""",
        encoding="utf-8",
    )
    bodies = {}
    for fmt in ("text", "md", "html", "slack"):
        result = run_cli("digest", "render", "weekly", "--format", fmt)
        assert result.exit_code == 0, result.output
        bodies[fmt] = result.stdout
    assert "alert(1)" in bodies["text"]  # the value is there (plain text: nothing interprets it)
    html = bodies["html"]
    assert "alert(1)" in html and "<script>" not in html and "<!channel>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;!channel&gt;" in html
    md = bodies["md"]
    assert "alert(1)" in md and "<script>" not in md and "<!channel>" not in md and "<@U0BOSS>" not in md
    assert "\\*bold\\*" in md and "\\| pipe" in md
    messages = json.loads(bodies["slack"])
    texts = []  # every text Slack parses for mentions and links (mrkdwn, a message's fallback text)
    plain = []  # plain_text objects: shown as written, nothing in them is parsed

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "plain_text":
                plain.append(node["text"])
            elif node.get("type") == "mrkdwn" or ("text" in node and isinstance(node["text"], str)):
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(messages)
    shown = [t for t in texts + plain if "alert(1)" in t]
    assert shown, "the hostile region never reached the Slack message"
    # A segment name is data in a plain_text field: the reader sees it exactly as the export wrote it.
    assert any("<!channel> <@U0BOSS> <script>alert(1)</script> *bold*" in t for t in plain), plain
    for text in texts:
        # Slack parses mentions and links only inside < >: none may remain raw.
        assert "<" not in text and ">" not in text, text
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), text
