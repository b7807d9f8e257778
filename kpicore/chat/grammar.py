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

Period phrases are read by :mod:`kpicore.chat.period_words`; the request types live in
:mod:`kpicore.chat.requests` (and are importable from here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from kpicore.chat.period_words import (
    _CHART,
    _FILLER,
    _KEYWORDS,
    _RELATIVE,
    _SHARE,
    _VS,
    PERIOD_EXAMPLES,
    _comparison,
    _parse_form,
    _period_phrase,
    _starts_period,
    year_ago,
)
from kpicore.chat.requests import (
    CommandError,
    DigestRequest,
    FollowingRequest,
    FollowRequest,
    HelpRequest,
    ListRequest,
    MetricRequest,
    Request,
    UnfollowRequest,
)
from kpicore.periods import Period
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
MAX_METRICS = 10
MAX_WORDS = 60
_DIMENSION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_HYPHENATED_WORD = re.compile(r"[a-z]+(?:-[a-z]+)+")


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


__all__ = [
    "ALIASES",
    "PERIOD_EXAMPLES",
    "CommandError",
    "DigestRequest",
    "FollowRequest",
    "FollowingRequest",
    "HelpRequest",
    "ListRequest",
    "MetricRequest",
    "Request",
    "UnfollowRequest",
    "Vocabulary",
    "parse_command",
    "year_ago",
]
