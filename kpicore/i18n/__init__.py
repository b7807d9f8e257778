"""Translations: the one ``_()`` every surface a person reads goes through.

Catalogs are gettext ``.mo`` files under ``kpicore/locale/<lang>/LC_MESSAGES/kpicore.mo``, built from the
``.po`` files next to them with Babel (``make i18n``: extract, update, compile) and shipped in the wheel as
package data. The locale in effect is a context variable: ``with using("ml_IN"): ...`` makes every
``_()`` inside it (Python code and the digest templates) speak Malayalam. A locale with no catalog falls
back to English and says so once on the ``kpicore.i18n`` logger, so sending a digest never fails over a
language.

JSON output is never translated: only code that produces text for people calls ``_()``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext as _gettext
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

#: The gettext domain of kpicore's own messages.
DOMAIN = "kpicore"
#: Where the compiled catalogs live (package data).
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
#: The languages kpicore ships complete catalogs for.
LANGUAGES = ("en", "ml", "bn", "fa", "ig")
#: Languages written right to left.
RTL_LANGUAGES = frozenset({"fa", "ar", "he", "ur", "ps"})

_current: contextvars.ContextVar[str] = contextvars.ContextVar("kpicore_locale", default="en")
_digits: contextvars.ContextVar[str] = contextvars.ContextVar("kpicore_digits", default="default")
_calendar: contextvars.ContextVar[str] = contextvars.ContextVar("kpicore_calendar", default="gregorian")
#: ``digits = "native"``: the zero of each language's own digits (Babel's default is Latin digits).
NATIVE_ZERO = {"ml": "\u0d66", "bn": "\u09e6", "fa": "\u06f0"}
#: The values ``digits`` takes in kpi.toml.
DIGITS = ("default", "native")
_log = logging.getLogger("kpicore.i18n")


def language(locale: str) -> str:
    """The language part of a locale: ``ml_IN`` -> ``ml``, ``fa-IR`` -> ``fa``."""
    return locale.replace("-", "_").split("_")[0].lower() or "en"


def direction(locale: str) -> str:
    """``rtl`` for a right-to-left language (Persian), ``ltr`` otherwise."""
    return "rtl" if language(locale) in RTL_LANGUAGES else "ltr"


#: Plugins' catalogs (``register_catalogs``): gettext domain -> locale folder, searched after kpicore's.
_plugin_catalogs: dict[str, str] = {}


def add_catalogs(catalogs: Iterable[tuple[str, str | Path]]) -> None:
    """Add plugins' catalogs (domain, locale folder) to the ones every ``_()`` looks in."""
    changed = False
    for domain, locale_dir in catalogs:
        if _plugin_catalogs.get(domain) != str(locale_dir):
            _plugin_catalogs[domain] = str(locale_dir)
            changed = True
    if changed:
        translations.cache_clear()


def plugin_catalogs() -> dict[str, str]:
    """The plugins' catalogs in use: gettext domain -> locale folder."""
    return dict(_plugin_catalogs)


@functools.lru_cache(maxsize=32)
def translations(locale: str) -> _gettext.NullTranslations:
    """The catalog for ``locale`` (``ml_IN`` then ``ml``), then the plugins' for it; English (the msgids)
    where there is none. A missing or broken catalog is said once on the log, never raised."""
    names = [locale.replace("-", "_"), language(locale)]
    catalog = _load(DOMAIN, str(LOCALE_DIR), names, locale, missing_said=language(locale) != "en")
    for domain, locale_dir in sorted(_plugin_catalogs.items()):
        # A plugin without this language is simply English, like any untranslated text.
        plugin = _load(domain, locale_dir, names, locale, missing_said=False)
        if type(plugin) is not _gettext.NullTranslations:
            catalog.add_fallback(plugin)
    return catalog


def _load(domain: str, locale_dir: str, names: list[str], locale: str, *, missing_said: bool):
    try:
        return _gettext.translation(domain, locale_dir, languages=names)
    except FileNotFoundError:
        if missing_said:
            _log.warning("no %s catalog for locale %r: digests and messages are in English", domain, locale)
    except (OSError, ValueError, LookupError, UnicodeError) as error:  # a broken .mo: English, never a crash
        _log.warning("the %s catalog for locale %r is broken (%s): using English", domain, locale, error)
    return _gettext.NullTranslations()


def current_locale() -> str:
    """The locale ``_()`` translates into right now."""
    return _current.get()


@contextlib.contextmanager
def using(locale: str | None, digits: str | None = None, calendar: str | None = None) -> Iterator[str]:
    """Translate every ``_()`` inside the block into ``locale`` (None keeps the current one); ``digits``
    ("default" or "native") chooses the digits numbers are written with, ``calendar`` ("gregorian" or
    "persian") the calendar of dates."""
    token = _current.set(locale or _current.get())
    digits_token = _digits.set(digits or _digits.get())
    calendar_token = _calendar.set(calendar or _calendar.get())
    try:
        yield _current.get()
    finally:
        _calendar.reset(calendar_token)
        _digits.reset(digits_token)
        _current.reset(token)


def solar_hijri(locale: str | None = None) -> bool:
    """Whether dates are written in the Solar Hijri calendar: ``calendar = "persian"`` in a Persian locale
    (elsewhere the Gregorian dates of Babel, so an English reader of a Persian business reads dates)."""
    return _calendar.get() == "persian" and language(locale or _current.get()) == "fa"


def localize_digits(text: str) -> str:
    """``text`` with its digits in the language's own script when ``digits = "native"`` is in effect
    (Malayalam ൧൨൩, Bengali ১২৩, Persian ۱۲۳); unchanged otherwise or for a language without them."""
    zero = NATIVE_ZERO.get(language(_current.get())) if _digits.get() == "native" else None
    if zero is None or not text:
        return text
    return text.translate({ord("0") + i: chr(ord(zero) + i) for i in range(10)})


def gettext(message: str) -> str:
    """``message`` in the current locale."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for ``n``, in the current locale."""
    return translations(_current.get()).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Mark ``message`` for the catalogs without translating it (it reaches ``_()`` later as a value)."""
    return message


#: Words that reach ``_()`` as values, not literals: what counts count, dimensions' names.
WORDS = (
    N_("orders"),
    N_("customers"),
    N_("records"),
    N_("responses"),
    N_("tickets"),
    N_("leads"),
    N_("segment"),
    N_("value"),
    N_("region"),
    N_("plan"),
    N_("channel"),
    N_("country"),
    N_("city"),
    N_("source"),
    N_("sales channel"),
    N_("acquisition channel"),
    # The default digest titles (a title set in kpi.toml is shown as written).
    N_("Weekly KPIs"),
    N_("Monthly KPIs"),
    N_("Daily KPIs"),
)

__all__ = [
    "DIGITS",
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "_",
    "add_catalogs",
    "current_locale",
    "direction",
    "gettext",
    "language",
    "localize_digits",
    "ngettext",
    "plugin_catalogs",
    "solar_hijri",
    "translations",
    "using",
]
