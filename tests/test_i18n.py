"""Languages: complete catalogs, every surface translated, right to left, locale number formats, --locale."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from kpicore import i18n
from kpicore.digest import render
from kpicore.i18n import build
from kpicore.presentation import formatting
from tests.digest_data import PERIOD, sample_results, sample_spec

LANGUAGES = [language for language in i18n.LANGUAGES if language != "en"]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
KPI = Path(sys.executable).parent / "kpi"


def catalog(language: str, domain=None):
    with open(build.po_path(language, domain), "rb") as source:
        return read_po(source, locale=language)


PACKS = {"consulting": "kpicore_consulting", "restaurant": "kpicore_restaurant", "social": "kpicore_social"}
PACK_DOMAINS = tuple(sorted(PACKS.values()))


def pack_registry():
    """kpicore's plugins and the three packs of this repository, registered in-process (not entry points)."""
    import importlib

    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry

    loaded = new_plugin_manager(load_entry_points=False)
    for name, module in PACKS.items():
        loaded.manager.register(importlib.import_module(module), name=name)
    return build_registry(loaded)


REGISTRY = pack_registry()
#: kpicore's catalog and the packs' (restaurant, consulting, social), each checked in every language.
DOMAINS = {domain.name: domain for domain in build.domains(REGISTRY)}


def test_the_packs_ship_catalogs():
    assert set(PACK_DOMAINS) <= set(DOMAINS), "a pack's register_catalogs is missing"
    for name in PACK_DOMAINS:
        for language in i18n.LANGUAGES:
            assert DOMAINS[name].po_path(language).with_suffix(".mo").is_file()


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


@pytest.mark.parametrize("domain_name", sorted(DOMAINS))
@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_catalog_is_complete_and_matches_the_code(language, domain_name):
    """Every message the code, templates and metrics (titles, definitions, warnings) use is in the
    catalog, translated, not fuzzy, with the msgid's placeholders; the compiled .mo is the .po's."""
    domain = DOMAINS[domain_name]
    messages = catalog(language, domain)
    expected = {m.id if not m.pluralizable else m.id[0] for m in build.extract(domain, REGISTRY) if m.id}
    present = {m.id if not m.pluralizable else m.id[0] for m in messages if m.id}
    assert expected - present == set(), f"{language}: messages missing from the catalog (run make i18n)"
    for message in messages:
        if not message.id:
            continue
        assert not message.fuzzy, f"{language}: fuzzy entry {message.id!r}"
        ids = message.id if message.pluralizable else (message.id,)
        strings = message.string if message.pluralizable else (message.string,)
        assert all(strings), f"{language}: untranslated {message.id!r}"
        for string in strings:
            assert placeholders(string) == placeholders(ids[0]), (
                f"{language}: placeholders of {string!r} differ from {ids[0]!r}"
            )
    assert build.stale(domain) == [], "a compiled catalog is out of date: run make i18n"


def english_fragments() -> set[str]:
    """The English words of every msgid (placeholders cut out) whose translation differs."""
    fragments = set()
    for message in catalog("ml"):
        if not message.id:
            continue
        ids = message.id if message.pluralizable else (message.id,)
        for text in ids:
            for part in PLACEHOLDER.split(text)[::2]:
                part = part.strip(" .,:;()<>/“”")
                part = re.sub(r"</?strong>", "", part).strip()
                if len(re.findall(r"[A-Za-z]", part)) >= 3 and part not in ("KPI", "KPIs", "CSAT", "kpicore"):
                    fragments.add(part)
    return fragments


@pytest.mark.parametrize("fmt", ["text", "md", "html", "slack"])
def test_no_english_left_in_the_malayalam_digest(fmt):
    results = [r for r in sample_results() if r.ok]  # a failure's reason is the source's own words
    body = render(
        sample_spec(), results, fmt, period_label=PERIOD, locale="ml_IN", currency="INR", charts=False
    ).body
    if fmt == "html":
        body = re.sub(r"<[^>]+>", " ", body)
    if fmt == "slack":  # what Slack shows: the texts, not the Block Kit keys
        body = "\n".join(re.findall(r'"text": ("(?:[^"\\]|\\.)*")', body))
    left = sorted(
        f for f in english_fragments() if re.search(rf"(?<![A-Za-z]){re.escape(f)}(?![A-Za-z])", body)
    )
    assert left == [], f"English left in the ml {fmt} digest: {left}"


def test_persian_html_is_right_to_left():
    body = render(
        sample_spec(),
        sample_results(),
        "html",
        period_label=PERIOD,
        locale="fa_IR",
        currency="IRR",
        charts=False,
    ).body
    assert '<html lang="fa" dir="rtl">' in body
    # The date range is Persian words and numbers: isolated, read in its own direction (not forced LTR);
    # values and labels stay LTR; table cells align to the reading direction's start and end.
    # (a word joiner keeps the week label on one line on a phone)
    assert (
        '<bdi dir="auto">16 تا 22 نوامبر 2026</bdi>' in body and '<bdi dir="ltr">2026-\u2060W47</bdi>' in body
    )
    assert '<td align="left" style="font-size:22px' in body  # the value at the end of the row: left in RTL
    english = render(
        sample_spec(),
        sample_results(),
        "html",
        period_label=PERIOD,
        locale="en",
        currency="EUR",
        charts=False,
    ).body
    assert '<html lang="en" dir="ltr">' in english
    assert '<td align="right" style="font-size:22px' in english and "<bdi" not in english


@pytest.mark.parametrize(
    "locale, currency, value, expected",
    [
        ("ml_IN", "INR", 1234567, "₹12,34,567.00"),
        ("bn_BD", "BDT", 1234567, "12,34,567.00৳"),
        ("ig_NG", "NGN", 1234567, "₦1,234,567.00"),
        ("en", "USD", 1234567, "$1,234,567.00"),
    ],
)
def test_currency_and_indian_grouping(locale, currency, value, expected):
    assert formatting.format_value(value, "currency", locale, currency) == expected


def test_counts_group_the_indian_way_and_speak_the_language():
    with i18n.using("ml_IN"):
        assert formatting.format_count(1234567, "customers", "ml_IN") == "12,34,567 ഉപഭോക്താക്കൾ"
    assert formatting.format_count(1234567, "customers", "en") == "1,234,567 customers"
    assert formatting.format_count(1, "customers", "en") == "1 customer"


def test_a_locale_without_a_catalog_falls_back_to_english_once(caplog):
    i18n.translations.cache_clear()
    with caplog.at_level(logging.WARNING, logger="kpicore.i18n"), i18n.using("de_DE"):
        assert i18n.gettext("✓ better") == "✓ better"
        assert i18n.gettext("✗ worse") == "✗ worse"
    assert [r.getMessage() for r in caplog.records] == [
        "no kpicore catalog for locale 'de_DE': digests and messages are in English"
    ]


def test_a_broken_catalog_is_english_and_said(tmp_path, monkeypatch, caplog):
    broken = tmp_path / "xx" / "LC_MESSAGES"
    broken.mkdir(parents=True)
    (broken / "kpicore.mo").write_bytes(b"not a catalog")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="kpicore.i18n"), i18n.using("xx"):
            assert i18n.gettext("unavailable") == "unavailable"
        assert "catalog for locale 'xx' is broken" in caplog.text
    finally:
        i18n.translations.cache_clear()


def kpi(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(KPI), *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": str(KPI.parent), "COLUMNS": "200", "HOME": str(cwd)},
    )


@pytest.fixture(scope="module")
def demo_folder(
    tmp_path_factory,
):
    folder = tmp_path_factory.mktemp("demo-fa")
    completed = kpi("demo", "--locale", "fa_IR", "--period", "2026-W47", cwd=folder)
    assert completed.returncode == 0, completed.stderr
    return folder, completed


def test_kpi_demo_in_persian(demo_folder):
    folder, completed = demo_folder
    config = (folder / "kpi.toml").read_text(encoding="utf-8")
    assert 'currency = "IRR"' in config and 'locale = "fa_IR"' in config
    assert "شاخص‌های هفتگی" in completed.stdout  # the digest's title
    assert "درآمد" in completed.stdout  # revenue
    assert "Revenue" not in completed.stdout
    assert 'dir="rtl"' in (folder / "digest.html").read_text(encoding="utf-8")
    # A business in Iran: its timezone, its Saturday week, Solar Hijri dates, amounts in rials.
    assert 'timezone = "Asia/Tehran"' in config and 'week_start = "saturday"' in config
    assert 'calendar = "persian"' in config and 'schedule = "0 9 * * SAT"' in config
    assert "25 آبان تا 1 آذر 1405" in completed.stdout  # 2026-W47 in the Solar Hijri calendar
    revenue = kpi("compute", "revenue", "--period", "2026-W47", "--format", "json", cwd=folder)
    assert json.loads(revenue.stdout)[0]["value"] > 1e9  # a week's takings in rials, not dollars
    last_week = kpi("compute", "revenue", "--period", "last-week", "--format", "json", cwd=folder)
    start = json.loads(last_week.stdout)[0]["start"]
    assert dt.date.fromisoformat(start[:10]).weekday() == 5 and start.endswith("+03:30")  # a Tehran Saturday


@pytest.fixture(scope="module")
def english_demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo-en")
    assert kpi("demo", "--period", "2026-W47", cwd=folder).returncode == 0
    return folder


@pytest.mark.parametrize(
    "locale, currency, timezone, title, per_dollar",
    [
        ("ml_IN", "INR", "Asia/Kolkata", "പ്രതിവാര KPI-കൾ", 85),
        ("bn_BD", "BDT", "Asia/Dhaka", "সাপ্তাহিক KPI", 120),
        ("ig_NG", "NGN", "Africa/Lagos", "KPI nke izu", 1500),
    ],
)
def test_kpi_demo_in_each_language(tmp_path, english_demo, locale, currency, timezone, title, per_dollar):
    completed = kpi("demo", "--locale", locale, "--period", "2026-W47", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    config = (tmp_path / "kpi.toml").read_text(encoding="utf-8")
    assert f'currency = "{currency}"' in config and f'locale = "{locale}"' in config
    assert f'timezone = "{timezone}"' in config and "week_start" not in config and "calendar" not in config
    assert title in completed.stdout and "Revenue" not in completed.stdout
    values = [
        json.loads(
            kpi(
                "compute", "aov", "--period", "2026-W47", "--tz", "UTC", "--format", "json", cwd=folder
            ).stdout
        )[0]["value"]
        for folder in (tmp_path, english_demo)
    ]
    assert values[0] == pytest.approx(values[1] * per_dollar, rel=0.01)  # the same orders, in that currency


def test_kpi_compute_translates_the_table_never_the_json(demo_folder):
    folder, _ = demo_folder
    table = kpi("compute", "revenue", "--period", "2026-W47", "--locale", "ml_IN", cwd=folder)
    assert table.returncode == 0, table.stderr
    assert "വരുമാനം" in table.stdout and "മൂല്യം" in table.stdout
    as_json = kpi(
        "compute", "revenue", "--period", "2026-W47", "--format", "json", "--locale", "ml_IN", cwd=folder
    )
    plain = kpi("compute", "revenue", "--period", "2026-W47", "--format", "json", cwd=folder)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == json.loads(plain.stdout)
    assert json.loads(as_json.stdout)[0]["title"] == "Revenue"


def test_kpi_digest_render_in_bengali(demo_folder):
    folder, _ = demo_folder
    completed = kpi("digest", "render", "weekly", "--period", "2026-W47", "--locale", "bn_BD", cwd=folder)
    assert completed.returncode == 0, completed.stderr
    assert "রাজস্ব" in completed.stdout and "সাপ্তাহিক KPI" in completed.stdout


def test_an_unknown_locale_is_one_line_and_exit_2(demo_folder):
    folder, _ = demo_folder
    completed = kpi("compute", "revenue", "--locale", "xx_QQ", cwd=folder)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "--locale" in lines[0] and "unknown locale 'xx_QQ'" in lines[0]


def test_bengali_and_malayalam_charts_draw_only_what_their_font_can():
    """Matplotlib cannot shape these scripts: chart labels are numbers (16/11) and Latin-only amounts."""
    assert formatting.period_tick("2026-W47", "bn_BD", numeric=True) == "16/11"
    assert formatting.format_axis_value(30000, "currency", "bn_BD", "BDT", latin=True) == "30,000৳"
    assert formatting.format_axis_value(30000, "currency", "ml_IN", "INR", latin=True) == "₹30K"
    assert formatting.format_axis_value(30000, "currency", "bn_BD", "BDT") != "30,000৳"  # CLDR's হাজার


def test_glossary_matches_the_catalogs():
    """docs/i18n.md's glossary lists every stock and pack metric with the catalogs' own translations."""
    page = (Path(__file__).parent.parent / "docs" / "i18n.md").read_text(encoding="utf-8")
    rows = {
        cells[0].strip("`"): cells[1:]
        for cells in (
            [c.strip() for c in line.strip("|").split("|")]
            for line in page.splitlines()
            if line.startswith("| `")
        )
    }
    plugins = {plugin for domain in DOMAINS.values() for plugin in domain.plugins}
    titles = {name: r.item.title for name, r in REGISTRY.metrics.items() if r.plugin in plugins}
    assert {name: row[0] for name, row in rows.items()} == titles
    catalogs = {
        lang: {m.id: m.string for d in DOMAINS.values() for m in catalog(lang, d)} for lang in LANGUAGES
    }
    for english, *translated in rows.values():
        assert translated == [catalogs[lang][english] for lang in ("ml", "bn", "fa", "ig")], english


def test_plugin_titles_definitions_and_warnings_are_translated():
    """A pack's metric speaks the reader's language through its own catalog (register_catalogs)."""
    i18n.add_catalogs((r.item.domain, r.item.locale_dir) for r in REGISTRY.catalogs.values())
    with i18n.using("ml_IN"):
        assert i18n.gettext("Covers") == "അതിഥികളുടെ എണ്ണം"
        assert i18n.gettext("sessions still open (no left_at yet)").startswith("ഇപ്പോഴും")
    with i18n.using("fa_IR"):
        assert i18n.gettext("Engagement rate") == "نرخ تعامل"
        assert i18n.gettext("Revenue") == "درآمد"  # kpicore's own catalog still comes first
    with i18n.using("de_DE"):
        assert i18n.gettext("Covers") == "Covers"


def test_a_broken_plugin_catalog_is_one_line_and_english(tmp_path, caplog):
    """A plugin whose .mo cannot be read: its texts in English, one warning line, kpicore's own text
    still translated."""
    broken = tmp_path / "fa" / "LC_MESSAGES"
    broken.mkdir(parents=True)
    (broken / "kpicore_brokenpack.mo").write_bytes(b"\x00 not a catalog at all")
    saved = i18n.plugin_catalogs()
    i18n.add_catalogs([("kpicore_brokenpack", tmp_path)])
    try:
        with caplog.at_level(logging.WARNING, logger="kpicore.i18n"), i18n.using("fa_IR"):
            assert i18n.gettext("Pizzas sold") == "Pizzas sold"
            assert i18n.gettext("Revenue") == "درآمد"
            body = render(
                sample_spec(),
                sample_results(),
                "text",
                period_label=PERIOD,
                locale="fa_IR",
                currency="IRR",
                charts=False,
            ).body
        assert "درآمد" in body
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 1 and lines[0].startswith(
            "the kpicore_brokenpack catalog for locale 'fa_IR' is broken ("
        )
        assert lines[0].endswith("): using English")
    finally:
        i18n._plugin_catalogs.clear()
        i18n.add_catalogs(saved.items())
        i18n.translations.cache_clear()


@pytest.mark.parametrize(
    "locale, expected",
    [
        ("bn_BD", "১২,৩৪,৫৬৭.০০৳"),
        ("fa_IR", "\u200eریال\xa0۱,۲۳۴,۵۶۷"),
        ("ml_IN", "₹൧൨,൩൪,൫൬൭.൦൦"),
        ("ig_NG", "₦1,234,567.00"),
    ],
)
def test_native_digits(locale, expected):
    currency = {"bn_BD": "BDT", "fa_IR": "IRR", "ml_IN": "INR", "ig_NG": "NGN"}[locale]
    with i18n.using(locale, "native"):
        assert formatting.format_value(1234567, "currency", locale, currency) == expected
    default = formatting.format_value(1234567, "currency", locale, currency)
    assert [c for c in default if c.isdigit()] == list("123456700" if locale != "fa_IR" else "1234567")


def test_digits_native_in_kpi_toml_reaches_the_digest(tmp_path):
    from kpicore.config import load_config
    from kpicore.digest.run import render_options
    from kpicore.errors import ConfigError

    (tmp_path / "kpi.toml").write_text('locale = "bn_BD"\ndigits = "native"\n', encoding="utf-8")
    options = render_options(load_config(tmp_path / "kpi.toml"))
    body = render(sample_spec(), sample_results(), "text", period_label=PERIOD, charts=False, **options).body
    assert "৮১২" in body and "812" not in body  # "based on 812 orders", in Bengali digits
    (tmp_path / "kpi.toml").write_text('digits = "arabic"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match='digits must be "default" or "native"'):
        load_config(tmp_path / "kpi.toml")


@pytest.mark.parametrize(
    "day, short, medium",
    [
        ("2026-03-21", "1405/01/01", "1 فروردین 1405"),  # Nowruz 1405
        ("2026-03-20", "1404/12/29", "29 اسفند 1404"),  # the last day of 1404 (not a leap year)
        ("2025-03-21", "1404/01/01", "1 فروردین 1404"),
        ("2024-03-20", "1403/01/01", "1 فروردین 1403"),
        ("2026-11-16", "1405/08/25", "25 آبان 1405"),  # the Monday of 2026-W47
    ],
)
def test_solar_hijri_dates(day, short, medium):
    with i18n.using("fa_IR", None, "persian"):
        assert formatting.format_date(day, "fa_IR", "short") == short
        assert formatting.format_date(day, "fa_IR") == medium
    with i18n.using("fa_IR", "native", "persian"):
        assert formatting.format_date(day, "fa_IR", "short") == short.translate(
            str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
        )
    with i18n.using("fa_IR"):  # the default calendar is Gregorian
        assert "1405" not in formatting.format_date(day, "fa_IR")
    with i18n.using("en", None, "persian"):  # Solar Hijri dates only where the language is Persian
        assert formatting.format_date(day, "en") == formatting.format_date(day, "en", "medium")
        assert "1405" not in formatting.format_date(day, "en") and "فروردین" not in formatting.format_date(
            day, "en"
        )


def test_solar_hijri_ranges_and_ticks():
    with i18n.using("fa_IR", None, "persian"):
        assert formatting.format_date_range("2026-11-16", "2026-11-23", "fa_IR") == "25 آبان تا 1 آذر 1405"
        assert formatting.format_date_range("2026-03-21", "2026-03-28", "fa_IR") == "1 تا 7 فروردین 1405"
        assert (
            formatting.format_date_range("2026-03-14", "2026-03-23", "fa_IR")
            == "23 اسفند 1404 تا 2 فروردین 1405"
        )
        assert formatting.period_tick("2026-W47", "fa_IR") == "25 آبان"
        assert formatting.period_tick("2026-W47", "fa_IR", numeric=True) == "8/25"


def test_calendar_persian_in_kpi_toml_reaches_the_persian_digest(tmp_path):
    from kpicore.config import load_config
    from kpicore.digest.run import render_options
    from kpicore.errors import ConfigError

    (tmp_path / "kpi.toml").write_text(
        'locale = "fa_IR"\ncurrency = "IRR"\ncalendar = "persian"\n', encoding="utf-8"
    )
    options = render_options(load_config(tmp_path / "kpi.toml"))
    for fmt in ("text", "html", "md", "slack"):
        body = render(sample_spec(), sample_results(), fmt, period_label=PERIOD, charts=False, **options).body
        assert "25 آبان تا 1 آذر 1405" in body, fmt
        assert "نوامبر" not in body, fmt  # no Gregorian month name left
    (tmp_path / "kpi.toml").write_text('calendar = "jalali"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match='calendar must be "gregorian" or "persian", got \'jalali\''):
        load_config(tmp_path / "kpi.toml")


@pytest.mark.parametrize("fmt", ["text", "md", "slack"])
def test_persian_lists_are_joined_with_the_arabic_comma(fmt):
    body = render(
        sample_spec(),
        sample_results(),
        fmt,
        period_label=PERIOD,
        locale="fa_IR",
        currency="IRR",
        charts=False,
    ).body
    if fmt == "slack":  # the notification text: "... — Weekly KPIs، 2026-W47" (the period isolated)
        assert "شاخص‌های هفتگی، \u20662026-W47\u2069" in body
    else:
        assert (
            re.search(r"پاسخ، \*?نمونهٔ کوچک", body) and "پاسخ, " not in body
        )  # "13 responses، small sample"
    assert formatting.format_list(["nps", "csat"], "fa_IR") == "nps، csat"
    assert formatting.format_list(["a", "b"], "fa_IR", sep="; ") == "a؛ b"
    assert formatting.format_list(["nps", "csat"], "ml_IN") == "nps, csat"
