"""The ``/kpi`` command grammar: command text -> a typed request, as a pure function.

``parse_command(text, vocabulary, tz, now)`` knows nothing of Slack, the source or the state
database: it resolves metric words against the names, titles and aliases in ``vocabulary``, reads
periods into :class:`~kpicore.periods.Period` instants, and raises :class:`CommandError` (with the
closest names, or examples) for anything it cannot read. It never raises anything else, and the
command text never goes further than this module as text: the request holds registry names,
periods and a dimension word that the answer resolves against the source's own dimensions.

Forms::

    help | list | digest NAME
    follow METRIC [by DIMENSION] | unfollow METRIC | following
    METRIC [METRIC...] [PERIOD] [by DIMENSION] [vs PERIOD] [chart] [share]
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from kpicore.errors import ConfigError, PeriodError
from kpicore.periods import Period, parse_period, year_before
from kpicore.settings import closest

#: Common names people use for the stock metrics (applied only when the metric is registered).
ALIASES: dict[str, str] = {
    "ltv": "clv",
    "lifetime value": "clv",
    "customer lifetime value": "clv",
    "predictive ltv": "clv_predictive",
    "predictive clv": "clv_predictive",
    "predicted clv": "clv_predictive",
    "churn": "churn_rate",
    "retention": "retention_rate",
    "satisfaction": "csat",
    "customer satisfaction": "csat",
    "net promoter": "nps",
    "promoter score": "nps",
    "conversion": "conversion_rate",
    "conversions": "conversion_rate",
    "sales": "revenue",
    "signups": "new_customers",
    "new signups": "new_customers",
    "acquisition cost": "cac",
    "average order": "aov",
    "basket size": "aov",
    "first contact resolution": "fcr",
    "escalations": "escalation_rate",
    "repeat rate": "repeat_purchase_rate",
    "repeat purchases": "repeat_purchase_rate",
}
#: Examples shown when a period cannot be read.
PERIOD_EXAMPLES = (
    "last week",
    "this month",
    "last month",
    "Q3",
    "Q3 2026",
    "november",
    "2026-W47",
    "yesterday",
    "last 7 days",
    "2026-11-01..2026-11-15",
)
MAX_METRICS = 10
MAX_WORDS = 60
MAX_DAYS = 366

_FILLER = frozenset(
    {
        "for",
        "in",
        "during",
        "of",
        "the",
        "and",
        "show",
        "me",
        "what",
        "was",
        "is",
        "s",
        "please",
        "how",
        "did",
        "do",
        "we",
        "our",
        "my",
        "?",
        "with",
    }
)
_CHART = frozenset({"chart", "graph", "plot"})
_SHARE = frozenset({"share", "post", "public"})
_VS = frozenset({"vs", "vs.", "versus", "against", "compared", "compare"})
_KEYWORDS = _CHART | _SHARE | _VS | {"by"}
_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_RELATIVE = {"this-week", "last-week", "this-month", "last-month", "last-7-days", "yesterday", "today"}
_PERIOD_STARTS = (
    frozenset(
        {
            "last",
            "this",
            "past",
            "previous",
            "prior",
            "yesterday",
            "today",
            "week",
            "quarter",
            "year",
            "month",
            "from",
            "since",
        }
    )
    | _RELATIVE
    | set(_MONTHS)
)
_QUARTER = re.compile(r"q([1-4])")
_WEEK_NUMBER = re.compile(r"w(?:eek)?(\d{1,2})")
_YEAR = re.compile(r"\d{4}")
_DIMENSION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_HYPHENATED_WORD = re.compile(r"[a-z]+(?:-[a-z]+)+")
_UNIT_DAYS = {"day": 1, "days": 1, "week": 7, "weeks": 7}


class CommandError(ConfigError):
    """A ``/kpi`` command could not be read; the message says what and how to write it."""

    def __init__(self, message: str, *, kind: str = "syntax", suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.suggestions = suggestions


@dataclass(frozen=True)
class Vocabulary:
    """What the grammar may resolve words to: metric name -> title, and the digest names."""

    metrics: Mapping[str, str]
    digests: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=lambda: ALIASES)

    def phrases(self) -> dict[tuple[str, ...], str]:
        """Every word sequence that names a metric: its name, its title, its aliases (lowercase)."""
        found: dict[tuple[str, ...], set[str]] = {}

        def add(phrase: str, name: str) -> None:
            words = tuple(_words(phrase))
            if words:
                found.setdefault(words, set()).add(name)

        for name, title in self.metrics.items():
            add(title, name)
            add(re.sub(r"\([^)]*\)", " ", title), name)
        phrases = {words: next(iter(names)) for words, names in found.items() if len(names) == 1}
        for alias, name in self.aliases.items():
            if name in self.metrics:
                phrases[tuple(_words(alias))] = name
        for name in self.metrics:  # a registered name always wins
            phrases[(name.lower(),)] = name
            phrases[tuple(name.lower().split("_"))] = name
        return phrases


@dataclass(frozen=True)
class HelpRequest:
    """``/kpi help`` (or an empty command)."""


@dataclass(frozen=True)
class ListRequest:
    """``/kpi list``: the metrics this channel may ask for, and the digests."""


@dataclass(frozen=True)
class DigestRequest:
    """``/kpi digest NAME``: a preview of that digest for its current period."""

    name: str


@dataclass(frozen=True)
class MetricRequest:
    """``/kpi METRIC... [PERIOD] [by DIM] [vs PERIOD] [chart] [share]``.

    ``period_text`` is the period as the grammar reads it again (a form ``parse_period`` reads); ``vs`` is None
    to compare with the period just before. ``year_over_year`` is set by ``vs last year`` (``vs a year
    ago``): ``vs`` is then the same period a year before (:func:`kpicore.periods.year_before`) and the
    answer compares with it as ``kpi compute --compare last-year`` does, saying so when there is no data.
    """

    metrics: tuple[str, ...]
    period: Period
    period_text: str
    by: str | None = None
    vs: Period | None = None
    vs_text: str | None = None
    chart: bool = False
    share: bool = False
    year_over_year: bool = False

    def command_text(self) -> str:
        """The request as command text the grammar reads back to the same request (for buttons)."""
        parts = [*self.metrics, self.period_text]
        if self.by:
            parts += ["by", self.by]
        if self.vs_text:
            parts += ["vs", self.vs_text]
        if self.chart:
            parts.append("chart")
        if self.share:
            parts.append("share")
        return " ".join(parts)


@dataclass(frozen=True)
class FollowRequest:
    """``/kpi follow METRIC [by DIM]``: the metric in the asker's personal weekly message."""

    metric: str
    by: str | None = None


@dataclass(frozen=True)
class UnfollowRequest:
    """``/kpi unfollow METRIC``."""

    metric: str


@dataclass(frozen=True)
class FollowingRequest:
    """``/kpi following``: the metrics the asker follows."""


Request = (
    HelpRequest
    | ListRequest
    | DigestRequest
    | MetricRequest
    | FollowRequest
    | UnfollowRequest
    | FollowingRequest
)


def parse_command(
    text: str,
    vocabulary: Vocabulary,
    tz: str | ZoneInfo = "UTC",
    now: datetime | None = None,
    *,
    default_period: str = "last-week",
) -> Request:
    """The request ``text`` (what follows ``/kpi``) asks for; CommandError when it cannot be read."""
    zone = _zone(tz)
    if now is None:
        now = datetime.now(zone)
    now = (now if now.tzinfo else now.replace(tzinfo=zone)).astimezone(zone).replace(microsecond=0)
    original = _tokens(text)
    words = [word.lower() for word in original]
    if len(words) > MAX_WORDS:
        raise CommandError(f"that command has {len(words)} words; keep it under {MAX_WORDS}")
    if not words or words[0] in ("help", "?", "-h", "--help"):
        return HelpRequest()
    if words[0] in ("list", "metrics", "ls"):
        return ListRequest()
    if words[0] in ("following", "follows", "subscriptions"):
        if len(words) > 1:
            raise CommandError("`/kpi following` takes nothing after it", kind="follow")
        return FollowingRequest()
    if words[0] in ("follow", "subscribe", "unfollow", "unsubscribe"):
        return _follow(original[1:], words[1:], vocabulary, unfollow=words[0] in ("unfollow", "unsubscribe"))
    if words[0] in ("digest", "digests"):
        return _digest(text.split(None, 1)[1].split() if len(text.split(None, 1)) > 1 else [], vocabulary)
    return _metric_request(original, words, vocabulary, zone, now, default_period)


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    from kpicore.periods import get_timezone

    return get_timezone(tz)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_]+", text.lower().replace("-", " "))


def _tokens(text: str) -> list[str]:
    """Words of the command: commas, '&' and '+' separate, a hyphenated word (first-contact) splits,
    except the period forms that carry hyphens (last-week, 2026-11-01)."""
    if not isinstance(text, str):
        raise CommandError("the command must be text")
    spaced = re.sub(r"[,;&+!]", " ", text.replace("\u00a0", " "))
    tokens = []
    for token in spaced.split():
        token = token.strip("\"'`“”‘’()[]{}")
        if token.endswith("?") and len(token) > 1:
            token = token.rstrip("?")
        if not token:
            continue
        if _HYPHENATED_WORD.fullmatch(token.lower()) and token.lower() not in _RELATIVE:
            tokens.extend(token.split("-"))
        else:
            tokens.append(token)
    return tokens


def _digest(names: list[str], vocabulary: Vocabulary) -> DigestRequest:
    known = ", ".join(vocabulary.digests) or "none are configured in kpi.toml"
    if not names:
        raise CommandError(f"which digest? `/kpi digest NAME` with one of: {known}", kind="digest")
    wanted = " ".join(names).lower()
    for name in vocabulary.digests:
        if name.lower() == wanted:
            return DigestRequest(name)
    close = closest(wanted, [n.lower() for n in vocabulary.digests], n=3, cutoff=0.5)
    by_lower = {n.lower(): n for n in vocabulary.digests}
    suggestions = tuple(by_lower[c] for c in close)
    hint = f" (did you mean {_either(suggestions)}?)" if suggestions else f"; the digests are: {known}"
    raise CommandError(f"no digest called {wanted!r}{hint}", kind="digest", suggestions=suggestions)


def _follow(original: list[str], words: list[str], vocabulary: Vocabulary, *, unfollow: bool):
    """``follow METRIC [by DIM]`` / ``unfollow METRIC``: one metric (name, title or alias)."""
    verb = "unfollow" if unfollow else "follow"
    example = "`/kpi unfollow nps`" if unfollow else "`/kpi follow nps` or `/kpi follow churn by region`"
    by: str | None = None
    if "by" in words:
        at = words.index("by")
        if unfollow:
            raise CommandError("`/kpi unfollow METRIC` stops the whole metric; no `by` needed", kind="follow")
        rest = original[at + 1 :]
        if len(rest) != 1:
            raise CommandError(
                "by what? write `by` and one dimension, e.g. `/kpi follow churn by region`", kind="dimension"
            )
        if not _DIMENSION.fullmatch(rest[0]):
            raise CommandError(
                f"{rest[0]!r} is not a dimension name: use a column name such as region, channel or plan",
                kind="dimension",
            )
        by = rest[0]
        words = words[:at]
    words = [w for w in words if w not in _FILLER]
    if not words:
        raise CommandError(f"{verb} which metric? e.g. {example}", kind="metric")
    phrases = vocabulary.phrases()
    matched = _match_metric(words, 0, phrases, max((len(p) for p in phrases), default=1))
    if matched is None:
        raise _unknown_metric(words, 0, phrases)
    name, length = matched
    if length < len(words):
        if _match_metric(words, length, phrases, max((len(p) for p in phrases), default=1)) is not None:
            raise CommandError(f"{verb} one metric at a time, e.g. {example}", kind="follow")
        raise CommandError(
            f"can't read {' '.join(words[length:])!r} after {name}: write {example}", kind="follow"
        )
    return UnfollowRequest(name) if unfollow else FollowRequest(name, by)


def _either(names: Iterable[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _metric_request(original, words, vocabulary, zone, now, default_period) -> MetricRequest:
    phrases = vocabulary.phrases()
    longest = max((len(p) for p in phrases), default=1)
    metrics: list[str] = []
    period: tuple[Period, str] | None = None
    vs: tuple[Period, str] | None = None
    by: str | None = None
    chart = share = False
    i = 0
    while i < len(words):
        word = words[i]
        matched = _match_metric(words, i, phrases, longest)
        if matched is not None:
            name, length = matched
            if name not in metrics:
                metrics.append(name)
            i += length
        elif word in _FILLER:
            i += 1
        elif word == "by":
            if i + 1 >= len(words) or words[i + 1] in _KEYWORDS:
                raise CommandError("by what? write `by` and a dimension, e.g. `by region`", kind="dimension")
            candidate = original[i + 1]
            if not _DIMENSION.fullmatch(candidate):
                raise CommandError(
                    f"{candidate!r} is not a dimension name: use a column name such as region, channel or plan",
                    kind="dimension",
                )
            if by is not None and by.lower() != candidate.lower():
                raise CommandError("one `by` at a time: break down by a single dimension", kind="dimension")
            by = candidate
            i += 2
        elif word in _VS:
            i += 1
            if i < len(words) and words[i] in ("to", "with"):
                i += 1
            if vs is not None:
                raise CommandError("one `vs` at a time, e.g. `nps last week vs 2026-W40`", kind="period")
            vs, i = _comparison(words, i, zone, now, period)
        elif word in _CHART:
            chart = True
            i += 1
        elif word in _SHARE:
            share = True
            i += 1
        elif _starts_period(word):
            found, i = _period_phrase(words, i, zone, now)
            if period is not None and found[0] != period[0]:
                raise CommandError(
                    f"two periods ({period[1]} and {found[1]}): give one, and `vs PERIOD` to compare",
                    kind="period",
                )
            period = found
        else:
            raise _unknown_metric(words, i, phrases)
    if not metrics:
        raise CommandError(
            "which metric? e.g. `/kpi nps last week`; `/kpi list` shows the metrics you can ask for",
            kind="metric",
        )
    if len(metrics) > MAX_METRICS:
        raise CommandError(f"{len(metrics)} metrics: ask for at most {MAX_METRICS} at a time", kind="metric")
    if period is None:
        period = (_parse_form(default_period, zone, now), default_period)
    year_over_year = vs is not None and vs[1] == "__year_ago__"
    if year_over_year:
        vs = (year_ago(period[0]), "last year")
    return MetricRequest(
        metrics=tuple(metrics),
        period=period[0],
        period_text=period[1],
        by=by,
        vs=vs[0] if vs else None,
        vs_text=vs[1] if vs else None,
        chart=chart,
        share=share,
        year_over_year=year_over_year,
    )


def _match_metric(words, i, phrases, longest) -> tuple[str, int] | None:
    for length in range(min(longest, len(words) - i), 0, -1):
        candidate = tuple(words[i : i + length])
        if candidate in phrases:
            return phrases[candidate], length
        joined = tuple(" ".join(candidate).replace("-", " ").split())
        if joined != candidate and joined in phrases:
            return phrases[joined], length
    return None


def _starts_period(word: str) -> bool:
    return word in _PERIOD_STARTS or word[:1].isdigit() or bool(re.fullmatch(r"[qw]\d+|week\d+", word))


def _unknown_metric(words, i, phrases) -> CommandError:
    end = i
    while end < len(words) and words[end] not in _KEYWORDS and not _starts_period(words[end]):
        if end > i and _match_metric(words, end, phrases, 1) is not None:
            break
        end += 1
    unknown = " ".join(words[i : max(end, i + 1)])
    by_text = {" ".join(p): name for p, name in phrases.items()}
    close = closest(unknown, by_text, n=6, cutoff=0.6)
    suggestions = tuple(dict.fromkeys(by_text[c] for c in close))[:3]
    hint = f" (did you mean {_either(suggestions)}?)" if suggestions else ""
    return CommandError(
        f"unknown metric {unknown!r}{hint}; `/kpi list` shows the metrics you can ask for",
        kind="metric",
        suggestions=suggestions,
    )


def _comparison(words, i, zone, now, period):
    """The period after `vs`: a period phrase, `previous` (the default), or `last year` (a year earlier)."""
    rest = words[i : i + 4]
    if not rest:
        raise CommandError("vs what? e.g. `vs last year`, `vs 2026-W40`, `vs previous`", kind="period")
    for phrase, length in (
        (("same", "period", "last", "year"), 4),
        (("a", "year", "ago"), 3),
        (("year", "ago"), 2),
        (("last", "year"), 2),
    ):
        if tuple(rest[:length]) == phrase:
            return (None, "__year_ago__"), i + length
    if rest[0] in ("previous", "prior", "before") and (
        len(rest) == 1 or rest[1] not in ("week", "month", "quarter", "year", "day")
    ):
        return None, i + 1 + (len(rest) > 1 and rest[1] == "period")
    if not _starts_period(rest[0]):
        raise CommandError(
            f"can't read the period after vs: {rest[0]!r}; try {', '.join(PERIOD_EXAMPLES[:5])}",
            kind="period",
        )
    return _period_phrase(words, i, zone, now)


def _period_phrase(words, i, zone, now) -> tuple[tuple[Period, str], int]:
    """The longest run of words from ``i`` that reads as a period, and the index after it."""
    end = i
    while end < len(words) and end - i < 5 and words[end] not in _KEYWORDS and words[end] not in _FILLER:
        end += 1
    first_error: CommandError | None = None
    for stop in range(end, i, -1):
        try:
            return _read_period(words[i:stop], zone, now), stop
        except CommandError as error:
            first_error = first_error or error
    phrase = " ".join(words[i:end]) or words[i]
    detail = f" ({first_error})" if first_error and first_error.kind == "period-range" else ""
    raise CommandError(
        f"can't read the period {phrase!r}{detail}; try {', '.join(PERIOD_EXAMPLES)}", kind="period"
    )


def _parse_form(form: str, zone: ZoneInfo, now: datetime) -> Period:
    try:
        return parse_period(form, zone, now=now)
    except PeriodError as error:
        raise CommandError(str(error), kind="period-range") from None
    except (ValueError, OverflowError) as error:
        raise CommandError(f"period {form!r} is out of range: {error}", kind="period-range") from None


def _read_period(words: list[str], zone: ZoneInfo, now: datetime) -> tuple[Period, str]:
    """One period phrase (already lowercase words) -> (Period, the text that reads back to it)."""
    phrase = " ".join(words)
    today = now.date()
    if not words:
        raise CommandError("empty period")
    hyphenated = "-".join(words)
    if hyphenated in _RELATIVE:
        return _parse_form(hyphenated, zone, now), hyphenated
    if len(words) == 2 and words[0] in ("past", "previous", "prior") and words[1] in ("week", "month"):
        form = f"last-{words[1]}"
        return _parse_form(form, zone, now), form
    if len(words) == 3 and words[0] in ("last", "past") and words[1].isdigit() and words[2] in _UNIT_DAYS:
        days = int(words[1]) * _UNIT_DAYS[words[2]]
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"{phrase}: ask for 1 to {MAX_DAYS} days", kind="period-range")
        form = f"{(today - timedelta(days=days)).isoformat()}..{(today - timedelta(days=1)).isoformat()}"
        return _parse_form(form, zone, now), form
    if (
        len(words) == 2
        and words[0] in ("this", "last", "previous", "past")
        and words[1] in ("quarter", "year")
    ):
        current = _current_unit(words[1], today, zone, now)
        if words[0] == "this":
            return current, f"this {words[1]}"
        whole = _parse_form(_unit_label(words[1], today), zone, now).previous()
        return whole, whole.label
    if len(words) == 1 and " " not in phrase:
        word = words[0]
        if match := _QUARTER.fullmatch(word):
            return _latest("quarter", int(match[1]), None, zone, now)
        if match := _WEEK_NUMBER.fullmatch(word):
            return _latest("week", int(match[1]), None, zone, now)
        if word in _MONTHS:
            return _latest("month", _MONTHS[word], None, zone, now)
        return _labelled(word, zone, now)
    if len(words) == 2:
        first, second = words
        year_first = _YEAR.fullmatch(first)
        unit, year = (second, first) if year_first else (first, second)
        if _YEAR.fullmatch(year):
            if match := _QUARTER.fullmatch(unit):
                return _labelled(f"{year}-Q{match[1]}", zone, now)
            if match := _WEEK_NUMBER.fullmatch(unit):
                return _labelled(f"{year}-W{int(match[1]):02d}", zone, now)
            if unit in _MONTHS:
                return _labelled(f"{year}-{_MONTHS[unit]:02d}", zone, now)
        if first in ("week", "quarter") and second.isdigit():
            kind = first
            return _latest(kind, int(second), None, zone, now)
    if (
        len(words) == 3
        and words[0] in ("week", "quarter")
        and words[1].isdigit()
        and _YEAR.fullmatch(words[2])
    ):
        label = f"{words[2]}-W{int(words[1]):02d}" if words[0] == "week" else f"{words[2]}-Q{words[1]}"
        return _labelled(label, zone, now)
    if len(words) == 3 and words[1] in ("to", "until", "through"):
        return _labelled(f"{words[0]}..{words[2]}", zone, now)
    if len(words) == 4 and words[0] == "from" and words[2] in ("to", "until", "through"):
        return _labelled(f"{words[1]}..{words[3]}", zone, now)
    raise CommandError(f"can't read the period {phrase!r}", kind="period")


def _labelled(form: str, zone: ZoneInfo, now: datetime) -> tuple[Period, str]:
    period = _parse_form(form, zone, now)
    return period, period.label


def _unit_label(unit: str, today: date) -> str:
    if unit == "quarter":
        return f"{today.year:04d}-Q{(today.month - 1) // 3 + 1}"
    return f"{today.year:04d}"


def _current_unit(unit: str, today: date, zone: ZoneInfo, now: datetime) -> Period:
    """This quarter or year so far, compared with the same elapsed span of the one before."""
    whole = _parse_form(_unit_label(unit, today), zone, now)
    return _so_far(whole, now)


def _so_far(whole: Period, now: datetime) -> Period:
    elapsed = now.replace(tzinfo=None) - whole.start.replace(tzinfo=None)
    return replace(whole, end=now, elapsed=elapsed)


def _latest(kind: str, number: int, year: int | None, zone: ZoneInfo, now: datetime) -> tuple[Period, str]:
    """The most recent quarter, ISO week or month ``number`` that has begun; the current one runs to now."""
    today = now.date()
    if kind == "quarter":
        current = (today.month - 1) // 3 + 1
        year = today.year if number <= current else today.year - 1
        label, is_current = f"{year:04d}-Q{number}", number == current
        text = f"q{number}"
    elif kind == "month":
        year = today.year if number <= today.month else today.year - 1
        label, is_current = f"{year:04d}-{number:02d}", number == today.month
        text = label if not is_current else "this-month"
    else:
        iso = today.isocalendar()
        year = iso.year if number <= iso.week else iso.year - 1
        label, is_current = f"{year:04d}-W{number:02d}", number == iso.week
        text = label if not is_current else "this-week"
    whole = _parse_form(label, zone, now)
    if is_current:
        return _so_far(whole, now), text
    return whole, label


def year_ago(period: Period) -> Period:
    """The same period one year earlier (:func:`kpicore.periods.year_before`: the same ISO week number,
    W53 with W52; the same month, quarter, year or dates); CommandError past the supported years."""
    try:
        return year_before(period)
    except (PeriodError, ValueError, OverflowError) as error:
        raise CommandError(f"no year before {period.label}: {error}", kind="period") from None
