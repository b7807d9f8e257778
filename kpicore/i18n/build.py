"""Build the catalogs: kpicore's own and those of the plugin packs in this repository.

For each gettext domain: extract every ``_()`` / ``N_()`` (Python, and for kpicore the templates, per
``babel.cfg``) and the domain's metrics' titles, one-sentence definitions and warnings into
``<domain>.pot``, update each language's ``.po`` from it (new messages arrive untranslated), compile the
``.mo`` files that ship in the wheel. Run it as ``make i18n`` (``python -m kpicore.i18n.build``);
``--check`` only reports catalogs whose ``.mo`` is out of date with its ``.po`` (exit 1).
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import dataclass
from pathlib import Path

from kpicore.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = LOCALE_DIR.parent.parent
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}


@dataclass(frozen=True)
class Domain:
    """One catalog: its gettext ``name``, its ``locale_dir``, the plugins whose metrics it translates and
    the package folder whose Python it extracts (None: kpicore, per ``babel.cfg``)."""

    name: str
    locale_dir: Path
    plugins: tuple[str, ...]
    package: Path | None = None

    @property
    def template(self) -> Path:
        return self.locale_dir / f"{self.name}.pot"

    def po_path(self, language: str) -> Path:
        return self.locale_dir / language / "LC_MESSAGES" / f"{self.name}.po"


def _registry():
    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry

    return build_registry(new_plugin_manager())


def kpicore_domain() -> Domain:
    """kpicore's own catalog (its stock metrics are the default plugins)."""
    from kpicore.plugins import DEFAULT_PLUGINS

    return Domain(DOMAIN, LOCALE_DIR, tuple(p for p in DEFAULT_PLUGINS if p.startswith("kpicore.metrics.")))


def domains(registry=None) -> list[Domain]:
    """kpicore's catalog, then every plugin catalog (``register_catalogs``) that lives in this repository."""
    registry = registry or _registry()
    found = [kpicore_domain()]
    for registration in sorted(registry.catalogs.values(), key=lambda r: r.name):
        locale_dir = Path(registration.item.locale_dir).resolve()
        if locale_dir.is_relative_to(ROOT):
            found.append(Domain(registration.name, locale_dir, (registration.plugin,), locale_dir.parent))
    return found


def metric_messages(plugins: tuple[str, ...], registry=None) -> list[tuple[str, str]]:
    """``(message, comment)`` for the title, definition and warnings of every metric these plugins register."""
    registry = registry or _registry()
    messages = []
    for name, registration in sorted(registry.metrics.items()):
        if registration.plugin not in plugins:
            continue
        metric = registration.item
        messages.append((metric.title, f"the title of the metric {name}"))
        if metric.description:
            messages.append((metric.description, f"the one-sentence definition of the metric {name}"))
        for measure in metric.resolved_measures(None).values():
            if measure.warn:
                messages.append((measure.warn, f"a warning of the metric {name}: records left out"))
            if measure.note:
                messages.append((measure.note, f"a note under the metric {name}: a property of the source"))
    return messages


def stock_metric_titles() -> list[str]:
    """The titles of kpicore's own metrics (plugins ship their own catalogs)."""
    registry = _registry()
    plugins = kpicore_domain().plugins
    return sorted({r.item.title for r in registry.metrics.values() if r.plugin in plugins})


def extract(domain: Domain | None = None, registry=None):
    """The template catalog of ``domain`` (default kpicore): its code's messages, its metrics' texts."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    domain = domain or kpicore_domain()
    if domain.package is None:
        with open(ROOT / "babel.cfg", encoding="utf-8") as config:
            method_map, options_map = parse_mapping_cfg(config)
        where = ROOT
    else:
        method_map, options_map, where = [("**.py", "python")], {}, domain.package
    catalog = Catalog(project=domain.name, domain=domain.name, charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(where),
        method_map,
        options_map,
        keywords=KEYWORDS,
        strip_comment_tags=True,
    ):
        if "/tests/" in f"/{filename}":
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    for message, comment in metric_messages(domain.plugins, registry):
        if message not in catalog:
            catalog.add(message, None, [("metrics", 0)], auto_comments=[comment])
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


def po_path(language: str, domain: Domain | None = None) -> Path:
    """Where one language's ``.po`` of ``domain`` (default kpicore) lives."""
    return (domain or kpicore_domain()).po_path(language)


def build_domain(domain: Domain, registry=None) -> None:
    """Extract, update every language's ``.po`` of one domain (new messages come in untranslated), compile."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    template = extract(domain, registry)
    domain.locale_dir.mkdir(parents=True, exist_ok=True)
    with open(domain.template, "wb") as out:
        write_po(out, template, omit_header=False, no_location=True, sort_output=True, width=110)
    for language in LANGUAGES:
        path = domain.po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with open(path, "rb") as source:
                catalog = read_po(source, locale=language)
        else:
            catalog = Catalog(locale=language, domain=domain.name, project=domain.name, charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        with open(path, "wb") as out:
            write_po(out, catalog, no_location=True, sort_output=True, width=110, ignore_obsolete=True)
        path.with_suffix(".mo").write_bytes(compiled(path))
        print(f"{path.relative_to(ROOT)}: {len(catalog)} messages")


def build() -> None:
    """Build every domain: kpicore's and the packs'."""
    registry = _registry()
    for domain in domains(registry):
        build_domain(domain, registry)


def stale(domain: Domain | None = None) -> list[Path]:
    """The ``.mo`` files of ``domain`` (default: every domain) that do not match their ``.po``."""
    out_of_date = []
    for each in [domain] if domain else domains():
        for language in LANGUAGES:
            mo = each.po_path(language).with_suffix(".mo")
            if not mo.exists() or mo.read_bytes() != compiled(each.po_path(language)):
                out_of_date.append(mo)
    return out_of_date


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
