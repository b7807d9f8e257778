"""Build kpicore's catalogs: extract every ``_()`` (Python and templates, per ``babel.cfg``) and the stock
metrics' titles into ``kpicore/locale/kpicore.pot``, update each language's ``.po`` from it, compile the
``.mo`` files that ship in the wheel. Run it as ``make i18n`` (``python -m kpicore.i18n.build``);
``--check`` only reports catalogs whose ``.mo`` is out of date with its ``.po`` (exit 1).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from kpicore.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = LOCALE_DIR.parent.parent
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"


def stock_metric_titles() -> list[str]:
    """The titles of kpicore's own metrics (plugins ship their own catalogs)."""
    from kpicore.plugins import DEFAULT_PLUGINS

    titles = []
    for module_name in DEFAULT_PLUGINS:
        if not module_name.startswith("kpicore.metrics."):
            continue
        import importlib

        module = importlib.import_module(module_name)
        for value in vars(module).values():
            title = getattr(value, "title", None)
            if isinstance(value, type) and isinstance(title, str) and value.__module__ == module_name:
                titles.append(title)
    return sorted(set(titles))


def extract():
    """The template catalog: every message in the code and templates, plus the stock metric titles."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(ROOT / "babel.cfg", encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    catalog = Catalog(project="kpicore", domain=DOMAIN, charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords={"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)},
        strip_comment_tags=True,
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    for title in stock_metric_titles():
        catalog.add(title, None, [("kpicore/metrics", 0)], auto_comments=["a stock metric's title"])
    return catalog


def compiled(po_path: Path) -> bytes:
    """The ``.mo`` bytes for one ``.po`` file."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with open(po_path, "rb") as source:
        catalog = read_po(source)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def po_path(language: str) -> Path:
    """Where one language's ``.po`` lives."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def build() -> None:
    """Extract, update every language's ``.po`` (new messages come in untranslated), compile."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    template = extract()
    LOCALE_DIR.mkdir(exist_ok=True)
    with open(TEMPLATE, "wb") as out:
        write_po(out, template, omit_header=False, no_location=True, sort_output=True, width=110)
    for language in LANGUAGES:
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with open(path, "rb") as source:
                catalog = read_po(source, locale=language)
        else:
            catalog = Catalog(locale=language, domain=DOMAIN, project="kpicore", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        with open(path, "wb") as out:
            write_po(out, catalog, no_location=True, sort_output=True, width=110, ignore_obsolete=True)
        path.with_suffix(".mo").write_bytes(compiled(path))
        print(f"{path.relative_to(ROOT)}: {len(catalog)} messages")


def stale() -> list[Path]:
    """The ``.mo`` files that do not match their ``.po``."""
    return [
        po_path(language).with_suffix(".mo") for language in LANGUAGES
        if not po_path(language).with_suffix(".mo").exists()
        or po_path(language).with_suffix(".mo").read_bytes() != compiled(po_path(language))
    ]


def main(argv: list[str] | None = None) -> int:
    """``python -m kpicore.i18n.build [--check]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report .mo files out of date")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        for path in out_of_date:
            print(f"{path.relative_to(ROOT)} is out of date: run make i18n")
        return 1 if out_of_date else 0
    build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
