"""``kpi init``, ``kpi check`` and ``kpi demo``: getting set up."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from ..errors import ConfigError, MappingError
from . import context, file_checks
from .demo_digest import DEMO_DIGEST_TOML

INIT_TEMPLATE = """\
# kpi.toml: kpicore's configuration. Every setting is optional; the defaults are shown.
# Secrets never go here: they come from the environment (SLACK_BOT_TOKEN, KPI_SMTP_PASSWORD, ...).

timezone = "UTC"            # business timezone: periods, schedules, display
currency = "USD"            # display only
locale = "en"               # number, currency and date formatting
gross_margin = 1.0          # used by clv and clv_predictive
# state_url = "sqlite:///kpi-state.db"   # kpicore's own database (relative to this file)
# templates_dir = "templates"            # your digest templates override the built-in ones by name

[source]
# Any SQLAlchemy URL, a .db/.sqlite file, or a folder of <entity>.csv / .parquet files.
# A URL may reference environment variables: "postgresql://kpi:${{DB_PASSWORD}}@db/shop".
{url_line}
timezone = "UTC"            # timezone of naive timestamps in the source
timeout = 60                # seconds before a query is cancelled

# Map an entity to your own table, renaming columns (unlisted columns keep their names):
# [entities.customers]
# table = "crm_customers"
# columns = {{ customer_id = "id", signup_at = "created_at", churned_at = "cancelled_at" }}
# dimensions = ["region", "plan"]
#
# ... or to a query:
# [entities.orders]
# query = "SELECT id AS order_id, customer_id, paid_at AS ordered_at, total_cents FROM shop_orders"
# columns = {{ amount = "total_cents" }}
# scale = {{ amount = 0.01 }}

# [targets]
# nps = {{ min = 40 }}
# churn_rate = {{ max = 2.5 }}
"""

DEMO_CONFIG = (
    """\
# Written by `kpi demo`: points kpicore at the sample database. Edit freely.
timezone = "UTC"
currency = "USD"

[source]
url = "kpi-demo.db"
"""
    + DEMO_DIGEST_TOML
    + """
# Targets: each result says whether it is on track and by how much (docs/configuration.md).
[targets]
nps = { min = 30 }
churn_rate = { max = 1.5 }
"""
)

DEMO_METRICS = ("revenue", "new_customers", "churn_rate", "nps", "csat")


@click.command("init")
@click.option(
    "--source", "url", help="Source URL to write (default: kpi-demo.db when it exists, else a placeholder)."
)
@click.option("--force", is_flag=True, help="Overwrite an existing kpi.toml.")
def init_command(url, force):
    """Write a commented kpi.toml in the current folder."""
    path = Path.cwd() / "kpi.toml"
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists: edit it, or pass --force to overwrite it")
    if url is None and (Path.cwd() / context.DEMO_DATABASE).is_file():
        url = context.DEMO_DATABASE
    if url is None:
        url_line = '# url = "postgresql://kpi_reader:${DB_PASSWORD}@db.internal/shop"   # set this, or run `kpi demo`'
        next_step = "Set [source] url, then `kpi check`."
    else:
        url_line = 'url = "' + url.replace('"', '\\"') + '"'
        next_step = "Next: `kpi check`, then `kpi compute all --period last-week`."
    path.write_text(INIT_TEMPLATE.format(url_line=url_line), encoding="utf-8")
    click.echo(f"Wrote {path}. {next_step}")


@click.command("check")
@context.source_option
@context.config_option
@click.option(
    "--indexes",
    is_flag=True,
    help="Also tell, for every mapped time column, whether the source has an index on it, "
    "and print the CREATE INDEX statement to add when it has not.",
)
@click.option(
    "--data",
    is_flag=True,
    help="Also scan every mapped time column for values that are not times (exit 1 when some are found).",
)
def check_command(source, config_path, indexes, data):
    """Validate kpi.toml, the plugins, and that every mapped entity and column resolves in the source.

    Exits 2 when the configuration, a plugin or a mapping is wrong; 1 when --data finds values that change
    results, or data it cannot read.
    """
    from ..config_check import config_problems

    config = context.load(config_path)
    reg = context.registry(allow_conflicts=True)
    problems = list(reg.problems)
    from ..config_check import destination_readiness

    destination_problems, destination_warnings = destination_readiness(config, reg)
    settings_problems = config_problems(config, reg) + _delivery_problems(config, reg) + destination_problems
    problems.extend(settings_problems)
    for warning in destination_warnings:
        click.echo(f"Warning: {warning}", err=True)
    status = "ok" if not settings_problems else f"{len(settings_problems)} problem(s), listed below"
    click.echo(f"config: {config.path or 'no kpi.toml (defaults)'}: {status}")
    _echo_digest_count(config, reg)
    the_source = context.open_source(config, source, reg)

    click.echo(f"source: {the_source.display} (dialect {the_source.dialect.name})")
    data_failures = 0
    try:
        unavailable = _echo_entities(the_source, reg, problems)
        _echo_unavailable_metrics(config, reg, unavailable, problems)
        available = [n for n in sorted(reg.entities) if n not in unavailable]
        if indexes:
            _echo_index_advice(the_source, available)
        if data:
            data_failures = _echo_data_checks(the_source, available)
    finally:
        the_source.close()
    for problem in problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    if problems:
        sys.exit(2)
    if data_failures:
        click.echo(f"DATA: {data_failures} column(s) hold values that change results (see above).", err=True)
        sys.exit(1)
    click.echo("OK")


def _echo_entities(the_source, reg, problems: list[str]) -> dict[str, str]:
    """Print how each entity resolves in the source; return the ones it lacks (name -> why)."""
    from ..source import EntityUnavailable

    unavailable = {}
    click.echo("entities:")
    for name, registration in sorted(reg.entities.items()):
        entity = registration.item
        try:
            relation = the_source.relation(name)
        except MappingError as error:
            problems.append(str(error))
            click.echo(f"  {name}: ERROR {error}")
            continue
        except EntityUnavailable as error:
            unavailable[name] = str(error)
            click.echo(f"  {name}: not in this source ({error})")
            continue
        extra = f"; dimensions: {', '.join(relation.dimensions)}" if relation.dimensions else ""
        if relation.missing and not entity.derive:  # only the metrics reading these are unavailable
            extra += f"; no column {', '.join(relation.missing)}: the metrics that read it are unavailable"
        kind = "derived" if entity.derive else relation.origin
        click.echo(f"  {name}: ok ({kind}{extra})")
    return unavailable


def _echo_unavailable_metrics(config, reg, unavailable: dict[str, str], problems: list[str]) -> None:
    """Print the metrics that need an entity the source lacks."""
    lacking = {}
    for metric_name, registration in sorted(reg.metrics.items()):
        try:
            needed = registration.item.entities(config)
        except ConfigError as error:  # a metric that reads settings of kpi.toml and finds them wrong
            problems.append(str(error))
            continue
        if missing := [e for e in needed if e in unavailable]:
            lacking[metric_name] = missing
    if lacking:
        click.echo("metrics:")
        for metric_name, missing in lacking.items():
            click.echo(f"  {metric_name}: unavailable (needs {', '.join(missing)})")


def _echo_data_checks(the_source, checked: list[str]) -> int:
    """``kpi check --data``: print the file readings and the value checks; return the failing columns."""
    data_failures, read_as_exported = file_checks.echo_file_readings(the_source, checked)
    checked = [n for n in checked if n not in read_as_exported]
    if checked:
        data_failures += _echo_time_checks(the_source, checked) + _echo_number_checks(the_source, checked)
        file_checks.echo_duplicate_ids(the_source, checked)
    return data_failures


def _delivery_problems(config, reg) -> list[str]:
    """Channel settings and [serve], one line each (digests are checked with the rest of kpi.toml)."""
    from ..config_check import service_problems
    from ..delivery.check import channel_setting_problems, serve_problems

    return channel_setting_problems(config, reg) + serve_problems(config, reg) + service_problems(config)


def _echo_digest_count(config, reg) -> None:
    from ..digest.config import digest_names, digest_problems

    names = digest_names(config)
    if names:
        errors = digest_problems(config, reg)
        click.echo(f"digests: {len(names) - len(errors)} ok, {len(errors)} with errors")


def _echo_index_advice(the_source, entity_names) -> None:
    """Print, for each mapped time column, its index or the statement that would add one."""
    from ..indexes import index_advice

    advice = index_advice(the_source, entity_names)
    click.echo("indexes on time columns:")
    for item in advice:
        where = f"{item.table}.{item.source_column}" if item.table and item.source_column else item.entity
        label = f"  {item.entity}.{item.column}"
        if item.index:
            click.echo(f"{label}: indexed ({item.index} on {where})")
        elif item.missing:
            click.echo(f"{label}: NO INDEX on {where}; add one with:\n    {item.create}")
        else:
            click.echo(f"{label}: {item.note}")
    missing = [item for item in advice if item.missing]
    if missing:
        click.echo(
            f"{len(missing)} time column(s) without an index: period filters on them scan the whole table."
        )


def _echo_time_checks(the_source, entity_names) -> int:
    """Print, for each mapped time column, how many of its values are not times; return how many columns
    hold such values or could not be read."""
    from ..data_check import check_times

    def problem(check, examples: str) -> str:
        effect = (
            f"this source cannot compute over them, so the metrics of {check.entity} are unavailable"
            if check.stops_compute
            else "every metric leaves those records out"
        )
        return f"{check.unreadable:,} value(s) are not times; {effect}" + (
            f" (e.g. {examples})" if examples else ""
        )

    checks = check_times(the_source, entity_names)
    file_checks.echo_checks("time values:", checks, "unreadable", problem, "all values are times or empty")
    flagged = [check for check in checks if check.unreadable or check.error]
    if flagged:
        click.echo(
            f"{len(flagged)} time column(s) hold values that are not times or cannot be read: fix them in "
            "the source, or map the entity to a query that converts them."
        )
    return len(flagged)


def _echo_number_checks(the_source, entity_names) -> int:
    """Print, for each number column the source reads leniently, how many of its values are not numbers;
    return how many columns hold such values or could not be read."""
    from ..data_check import check_numbers

    def problem(check, examples: str) -> str:
        return (
            f"{check.unreadable:,} value(s) are not numbers (e.g. {examples}); every metric "
            "reads them as missing: write plain numbers such as 1234.50, without thousands separators "
            "or currency signs"
        )

    checks = check_numbers(the_source, entity_names)
    if not checks:
        return 0
    file_checks.echo_checks(
        "number values:", checks, "unreadable", problem, "all values are numbers or empty"
    )
    return sum(1 for check in checks if check.unreadable or check.error)


@click.command("demo")
@click.option("--period", "-p", default="last-week", show_default=True, help="Period to show.")
@click.option(
    "--pack",
    "packs",
    multiple=True,
    metavar="NAME",
    help="Also add a plugin's sample data (e.g. restaurant, consulting) and show its metrics; repeatable.",
)
@context.locale_option
@click.option(
    "--into",
    "into",
    metavar="URL",
    help="Write the sample data into this empty database (PostgreSQL, MySQL/MariaDB, ...) "
    "instead of kpi-demo.db, and show the KPIs computed there.",
)
@context.wide_option
def demo_command(period, packs, locale, into, wide):
    """Create sample data (kpi-demo.db), a kpi.toml if there is none, and show last week's KPIs."""
    from ..compute import compute, select_metrics
    from ..config import load_config
    from ..state import store_results
    from .output import print_table

    folder = Path.cwd()
    reg = context.registry()
    context.warn_problems(reg)
    demo_packs = [_demo_pack(reg, name) for name in packs]
    if locale:
        from ..config import check_locale

        check_locale(locale, "--locale")
    written_url, password_variable = _url_for_config(into) if into else (None, None)
    source_url = _write_sample_data(folder, demo_packs, into, locale)
    config_path = folder / "kpi.toml"
    if demo_packs:
        providers = {registration.plugin for registration in demo_packs}
        names = [name for name, metric in reg.metrics.items() if metric.plugin in providers]
    else:
        names = list(DEMO_METRICS)
    kept = _write_demo_config(
        config_path, [registration.item for registration in demo_packs], written_url, locale, names
    )
    if password_variable and not kept:
        click.echo(
            f"kpi.toml reads the password from ${{{password_variable}}}, never from the file: "
            f"export {password_variable}=... before the next kpi command.",
            err=True,
        )
    config = context.apply_locale(load_config(config_path), locale)
    the_period = context.resolve_period(period, config.timezone, config.week_start)
    the_source = context.open_source(config, source_url, reg)
    try:
        results = compute(select_metrics(names, reg), the_period, the_source, config=config, trend=12)
    finally:
        the_source.close()
    store_results(config, results, the_source.display)
    print_table(results, config.currency, config.locale, config.digits, wide)
    # --- digest (issue 5): digest.html, digest.slack.json, digest.txt; print the text version ---
    from .demo_digest import write_demo_digest

    click.echo()
    pack_metrics = names if demo_packs else None
    click.echo(write_demo_digest(config, period, results, reg, source_url, folder, pack_metrics), nl=False)
    # --- end digest ---
    hint = "" if not kept else f" --source {redact_source(source_url)}"
    click.echo(
        f"Next: `kpi compute nps --period last-week --by region{hint}`, `kpi metrics`, "
        f"`kpi compute all --format json{hint}`",
        err=True,
    )


def _write_sample_data(folder: Path, demo_packs, into: str | None, locale: str | None) -> str:
    """Write the sample data (and the packs') into kpi-demo.db here, or into the database ``into``;
    return the source's URL."""
    import datetime as dt

    from ..demo_data import generate_demo_database

    today = dt.datetime.now(dt.UTC).date()
    database = folder / context.DEMO_DATABASE
    if into:
        import tempfile

        from ..config import expand_url

        into = expand_url(into, "--into")
        scratch = tempfile.TemporaryDirectory()
        database = Path(scratch.name) / context.DEMO_DATABASE
    counts = generate_demo_database(database, today=today)
    _scale_to_currency(database, locale, folder / "kpi.toml")
    for registration in demo_packs:
        counts.update(registration.item.generate(database, today) or {})
    written = database.name
    if into:
        from ..connectors import redact
        from ..demo_copy import copy_into

        try:
            counts = copy_into(database, into)
        finally:
            scratch.cleanup()
        written = redact(into)
    click.echo(f"Wrote {written}: " + ", ".join(f"{n:,} {table}" for table, n in counts.items()), err=True)
    return into or str(database)


def _demo_pack(reg, name: str):
    """The demo data a plugin registered as ``name``; an unknown name lists the known ones."""
    if name not in reg.demo_data:
        known = ", ".join(sorted(reg.demo_data)) or "none (install a pack, e.g. kpicore-restaurant)"
        raise ConfigError(f"no demo data pack {name!r}; installed packs: {known}")
    return reg.demo_data[name]


#: A business's usual settings where a demo language is spoken, by region: its timezone, the first day of
#: its week and its calendar, and roughly how many units of its currency a US dollar is (the demo's
#: amounts are written for a dollar-sized currency: an order of 48 becomes 4,080 rupees).
DEMO_REGIONS = {
    "IN": {"timezone": "Asia/Kolkata", "per_dollar": 85},
    "BD": {"timezone": "Asia/Dhaka", "per_dollar": 120},
    "IR": {
        "timezone": "Asia/Tehran",
        "per_dollar": 1_000_000,
        "week_start": "saturday",
        "calendar": "persian",
    },
    "NG": {"timezone": "Africa/Lagos", "per_dollar": 1500},
}


def _demo_region(locale: str) -> tuple[str, dict]:
    """``(currency, settings)`` of the region of ``locale``: its currency and :data:`DEMO_REGIONS` entry."""
    import datetime as dt

    from babel import Locale
    from babel.numbers import get_territory_currencies

    territory = Locale.parse(locale.replace("-", "_")).territory
    currencies = get_territory_currencies(territory, dt.date.today()) if territory else []
    return (currencies[0] if currencies else "USD"), DEMO_REGIONS.get(territory or "", {})


def _demo_locale_settings(locale: str) -> str:
    """The top-level kpi.toml lines for a business in ``locale``: the locale, its region's currency,
    timezone, week and calendar."""
    currency, region = _demo_region(locale)
    lines = [f'currency = "{currency}"', f'locale = "{locale}"']
    if "week_start" in region:
        lines.append(f'week_start = "{region["week_start"]}"   # the week runs Saturday to Friday')
    if "calendar" in region:
        lines.append(f'calendar = "{region["calendar"]}"    # Solar Hijri dates in the digest')
    return "\n".join(lines) + "\n"


def _scale_to_currency(database: Path, locale: str | None, config_path: Path) -> None:
    """The demo's amounts in the currency of ``locale``'s region (rials, taka...), at that currency's scale,
    when kpi.toml is the one this demo writes or already says that currency (else the amounts would not
    be in the currency kpi.toml shows)."""
    if not locale:
        return
    from babel.numbers import get_currency_precision

    from ..config import load_config
    from ..demo_data import scale_demo_amounts

    currency, region = _demo_region(locale)
    if config_path.exists() and load_config(config_path).currency != currency:
        return
    scale_demo_amounts(database, region.get("per_dollar", 1), get_currency_precision(currency))


def _url_for_config(url: str) -> tuple[str, str | None]:
    """The URL ``kpi demo --into URL`` writes into kpi.toml, and the environment variable it reads the
    password from: the password becomes ``${DB_PASSWORD}``; a URL with no password, or that names its
    variables already, is written as given (variable None)."""
    if "${" in url or "://" not in url:
        return url, None
    scheme, rest = url.split("://", 1)
    location, slash, tail = rest.partition("/")
    credentials, at, host = location.rpartition("@")
    user, colon, _ = credentials.partition(":")
    if not at or not colon:
        return url, None
    return f"{scheme}://{user}:${{DB_PASSWORD}}@{host}{slash}{tail}", "DB_PASSWORD"


def redact_source(url: str) -> str:
    """The source as a command line may name it: a file by its name when it is here, a URL redacted."""
    from ..connectors import redact

    path = Path(url)
    return path.name if path.parent == Path.cwd() else redact(url)


def _digest_metrics(text: str, metrics: list[str]) -> str:
    """The demo kpi.toml ``text`` with ``metrics`` added to its ``[digests.weekly]`` metrics, so that
    `kpi digest send weekly` delivers the digest `kpi demo` shows."""
    import re

    def added(match: re.Match) -> str:
        listed = json.loads(match[1])
        return "metrics = " + json.dumps([*listed, *(m for m in metrics if m not in listed)])

    return re.sub(r"(?m)^metrics = (\[.*\])$", added, text, count=1)


def _write_demo_config(
    config_path: Path,
    demo_packs,
    into: str | None = None,
    locale: str | None = None,
    metrics: Sequence[str] = (),
) -> bool:
    """Write the demo kpi.toml, or add the packs' settings to one `kpi demo` wrote; never touch the user's.
    With ``into`` (``kpi demo --into URL``) the new kpi.toml points at that database. True when a
    kpi.toml that points elsewhere was kept (and said so)."""
    fragments = [pack.config for pack in demo_packs if pack.config]
    if not config_path.exists():
        text = (
            DEMO_CONFIG
            if not into
            else DEMO_CONFIG.replace('url = "kpi-demo.db"', f"url = {json.dumps(into)}")
        )
        if locale:
            text = text.replace('currency = "USD"\n', _demo_locale_settings(locale), 1)
            region = _demo_region(locale)[1]
            if "timezone" in region:
                text = text.replace('timezone = "UTC"\n', f'timezone = "{region["timezone"]}"\n', 1)
            if region.get("week_start") == "saturday":  # the weekly digest goes out as the week begins
                text = text.replace('schedule = "0 9 * * MON"', 'schedule = "0 9 * * SAT"', 1)
        text = _digest_metrics(text, list(metrics))
        config_path.write_text("\n".join([text, *fragments]), encoding="utf-8")
        click.echo("Wrote kpi.toml pointing at it.", err=True)
        return False
    kept = _say_kept(config_path, into or context.DEMO_DATABASE)
    text = config_path.read_text(encoding="utf-8")
    missing = [
        (pack, pack.config) for pack in demo_packs if pack.config and f"[packs.{pack.name}" not in text
    ]
    ours = text.startswith(DEMO_CONFIG.splitlines()[0])
    if ours and _digest_metrics(text, list(metrics)) != text:
        text = _digest_metrics(text, list(metrics))
        config_path.write_text(text, encoding="utf-8")
    if not missing:
        return kept
    if ours:
        config_path.write_text(
            text.rstrip("\n") + "\n\n" + "\n".join(f for _, f in missing), encoding="utf-8"
        )
        click.echo(f"Added settings for {', '.join(p.name for p, _ in missing)} to kpi.toml.", err=True)
        return kept
    for pack, fragment in missing:
        click.echo(f"Note: the {pack.name} sample data expects this in kpi.toml:\n{fragment}", err=True)
    return kept


def _say_kept(config_path: Path, demo_url: str) -> bool:
    """Say so when the kpi.toml here points at another source than the sample data (commands without
    --source answer from that one); True then."""
    from ..config import load_config
    from ..connectors import redact

    configured = load_config(config_path).source.url
    if not configured or configured == demo_url:
        return False
    if "://" not in configured and (config_path.parent / configured).resolve() == Path(demo_url).resolve():
        return False
    click.echo(
        f"Kept the kpi.toml here: its [source] is {redact(configured)}, not the sample data, so kpi commands "
        "answer from that source unless given --source (or run `kpi demo` in an empty folder).",
        err=True,
    )
    return True


COMMANDS = [init_command, check_command, demo_command]
