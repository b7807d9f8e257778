"""kpi.toml validation: every error names the file and key; defaults are sensible."""

from __future__ import annotations

import pytest

from kpicore.config import Config, load_config, parse_config
from kpicore.errors import ConfigError
from kpicore.state import state_url as configured_state_url


def write(tmp_path, text):
    path = tmp_path / "kpi.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.path is None and config.timezone == "UTC" and config.gross_margin == 1.0
    assert configured_state_url(config) == f"sqlite:///{tmp_path / 'kpi-state.db'}"


def test_full_design_12_example_parses(tmp_path):
    path = write(
        tmp_path,
        """
timezone = "Europe/Berlin"
currency = "EUR"
locale = "en_GB"
gross_margin = 0.6
state_url = "sqlite:///state/kpi-state.db"
templates_dir = "templates"

[source]
url = "postgresql://kpi_reader@db.internal/shop"
timezone = "UTC"

[entities.customers]
table = "crm_customers"
columns = { customer_id = "id", signup_at = "created_at", churned_at = "cancelled_at", channel = "utm_source" }
dimensions = ["region", "plan"]

[entities.orders]
query = "SELECT id AS order_id FROM shop_orders"

[targets]
nps = { min = 40 }

[digests.weekly]
metrics = ["revenue", "nps"]
schedule = "0 9 * * MON"

[packs.restaurant.opening_hours]
mon = ["11:30-15:00", "18:00-23:00"]

[chat]
allow = { "#leadership" = ["*"] }
""",
    )
    config = load_config(path)
    assert config.timezone == "Europe/Berlin" and config.gross_margin == 0.6
    assert configured_state_url(config) == f"sqlite:///{tmp_path / 'state/kpi-state.db'}"
    assert config.templates_dir == (tmp_path / "templates").resolve()
    assert config.source.entities["customers"].source_column("signup_at") == "created_at"
    assert config.source.entities["customers"].source_column("region") == "region"
    assert config.source.entities["orders"].query.startswith("SELECT")
    assert config.pack("restaurant")["opening_hours"]["mon"] == ["11:30-15:00", "18:00-23:00"]
    assert config.digests["weekly"]["metrics"] == ["revenue", "nps"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('timezone = "Mars/Olympus"', "timezone: unknown timezone 'Mars/Olympus'"),
        ('[source]\ntimezone = "Europe/Berln"', "source.timezone: unknown timezone 'Europe/Berln'"),
        ('locale = "xx_YY"', "locale: unknown locale 'xx_YY'"),
        ('currency = "EURO"', "currency: unknown currency 'EURO' (did you mean 'EUR'?)"),
        ("gross_margin = 1.5", "gross_margin must be in (0, 1], got 1.5"),
        ('gross_margin = "high"', "gross_margin: expected a number, got 'high'"),
        ("[source]\nurl = 5", "source.url: expected a URL or path, got 5"),
        ('[source]\nurll = "x"', "[source]: unknown key 'urll' (did you mean 'url'?)"),
        ("[source]\ntimeout = -1", "source.timeout: -1 is not a duration: it must be more than zero"),
        (
            '[entities.orders]\ntable = "a"\nquery = "b"',
            "[entities.orders]: give either 'table' or 'query', not both",
        ),
        (
            "[entities.orders]\ncolums = {}",
            "[entities.orders]: unknown key 'colums' (did you mean 'columns'?)",
        ),
        ('[entities.orders]\nscale = { amount = "x" }', "[entities.orders].scale.amount: expected a number"),
        ("currency = 3", "currency: expected a string, got 3"),
    ],
)
def test_errors_name_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_locale_and_currency_are_accepted_as_babel_knows_them(tmp_path):
    config = load_config(write(tmp_path, 'locale = "de_DE"\ncurrency = "eur"'))
    assert config.locale == "de_DE" and config.currency == "EUR"


def test_syntax_error_gives_line(tmp_path):
    path = write(tmp_path, 'timezone = "UTC"\n[source\nurl = "x"\n')
    with pytest.raises(ConfigError, match=r"line 2"):
        load_config(path)


def test_explicit_missing_config(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_parse_config_without_path_uses_defaults():
    config = parse_config({})
    assert isinstance(config, Config) and config.source.url is None
