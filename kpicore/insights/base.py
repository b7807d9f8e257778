"""What an insight is, and what a detector (an insight plugin) implements.

An :class:`Insight` is a plain value: the metric, the kind of insight, a score that ranks it against
every other insight, the period, a sentence for people and the numbers behind it. The sentence is a
gettext template with named placeholders (``message``, ``values``), so it is translated and its
numbers formatted for the reader's locale when it is shown; ``text`` is the English one (JSON).

A :class:`Detector` receives a :class:`Evidence` per metric: the metric's current result, its trend
history and, for the dimensions it asks for, the segment aggregates of the period and the one before;
all computed in the source database by ``kpicore.compute`` (aggregates, never raw rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..i18n import N_
from ..results import clean_number

if TYPE_CHECKING:
    from ..config import Config
    from ..metric import Metric
    from ..periods import Period
    from ..results import MetricResult, TrendPoint


@dataclass(frozen=True)
class Number:
    """A placeholder's number and how to write it: ``unit`` is a metric unit (``currency``, ``percent``,
    ...), ``estimate`` (money said roughly: ``$2,400``), ``share`` (a fraction written as a percentage:
    0.62 -> 62 %), ``number``, ``change`` (a signed change in the metric's unit given by ``of``) or
    ``size`` (the same change without its sign, for a sentence that says which way: "fell 2.0 pts")."""

    value: float | None
    unit: str = "number"
    of: str | None = None


@dataclass(frozen=True)
class Word:
    """A placeholder's text that is itself translated when shown (a metric's title, a dimension's name)."""

    text: str


@dataclass(frozen=True)
class Span:
    """A placeholder for a number of periods like the one given, said in the reader's language:
    ``Span(8, "2026-W47")`` -> ``8 weeks``."""

    count: int
    period: str


@dataclass(frozen=True)
class Noun:
    """A placeholder for what a count counts (``customers``), in the reader's language and number."""

    noun: str
    count: int


@dataclass(frozen=True)
class Part:
    """A sentence or clause said with an insight: a gettext template and its placeholders (as an
    insight's own ``message`` and ``values``)."""

    message: str
    values: Mapping[str, Any] = field(default_factory=dict)


#: The groups a reader sees insights in, in this order, with their headings.
GROUPS = {
    "attention": N_("Needs attention"),
    "good": N_("Good news"),
    "outlook": N_("Outlook"),
}
#: The numbers that say how an insight was found (its ``details``), in this order.
DETAIL_KEYS = (
    "method",
    "model",
    "level",
    "expected",
    "robust_sd",
    "z",
    "threshold",
    "fallback",
    "rate",
    "mix",
    "revenue_at_risk",
)
#: Kinds that look ahead: grouped under "Outlook" whatever they predict.
OUTLOOK_KINDS = ("forecast",)


def ranked(insights: list[Insight]) -> list[Insight]:
    """``insights`` grouped (needs attention, good news, outlook) and by score inside each group, so a
    forecast never comes before an unusual change or what drove it."""
    order = list(GROUPS)
    return sorted(insights, key=lambda insight: (order.index(insight.group), -insight.score))


@dataclass(frozen=True)
class Insight:
    """One insight about one metric for one period (the JSON object of ``kpi insights``).

    ``score`` ranks insights of every kind against each other (higher first; about 0 to 1, where
    above 0.5 deserves a reader's attention). ``segment`` is ``"DIM = VALUE"`` when the insight is about
    one segment, else None. ``numbers`` are the figures behind it, plain JSON numbers, so anyone can
    check it. ``message`` is the sentence's gettext template and ``values`` its placeholders.
    """

    metric: str
    kind: str
    score: float
    period: str
    message: str
    values: Mapping[str, Any] = field(default_factory=dict)
    segment: str | None = None
    numbers: Mapping[str, Any] = field(default_factory=dict)
    #: Good news (a rise of a higher-is-better metric): ranked after what needs attention.
    needs_attention: bool = True
    #: Where the change came from, as a clause a headline adds to the sentence (its template holds
    #: ``%(finding)s``, the sentence without its full stop): ``; most of it in South (27 of 501 customers)``.
    driver: Part | None = None
    #: Sentences said after it (revenue at risk), in the body and, where they fit, the headline.
    more: tuple[Part, ...] = ()

    @property
    def group(self) -> str:
        """``attention``, ``good`` or ``outlook`` (a forecast, whatever it predicts)."""
        if self.kind in OUTLOOK_KINDS:
            return "outlook"
        return "attention" if self.needs_attention else "good"

    @property
    def text(self) -> str:
        """The sentence in English with numbers written plainly (the JSON ``text``)."""
        return self.sentence("en")

    def sentence(self, locale: str = "en", currency: str = "USD") -> str:
        """The sentence for people in ``locale``: the template translated, each number formatted (in
        right-to-left languages isolated), then what ``more`` says."""
        return " ".join(
            [_said(self.message, self.values, locale, currency)]
            + [_said(part.message, part.values, locale, currency) for part in self.more]
        )

    def headline_forms(self, locale: str = "en", currency: str = "USD") -> list[str]:
        """What a headline can say of it, longest first: the sentence with its driver and what ``more``
        says; then without the closing parenthesis (the expected range); then without ``more``; then
        the driver without its own parenthesis (``(27 of 501 customers)``); then without the driver.
        Each is whole sentences, so a headline that must be short drops a part."""
        main = _said(self.message, self.values, locale, currency)
        short = without_parenthesis(main)
        more = [_said(part.message, part.values, locale, currency) for part in self.more]
        forms = []
        if self.driver is not None:
            forms += [
                " ".join([self._with_driver(main, locale, currency), *more]),
                " ".join([self._with_driver(short, locale, currency), *more]),
                self._with_driver(short, locale, currency),
                without_parenthesis(self._with_driver(short, locale, currency)),
            ]
        forms += [" ".join([main, *more]), " ".join([short, *more]), short]
        return list(dict.fromkeys(forms))

    def _with_driver(self, finding: str, locale: str, currency: str) -> str:
        assert self.driver is not None
        stop = finding.rstrip()
        stop = stop[:-1] if stop.endswith((".", "।", "۔")) else stop
        return _said(self.driver.message, {**self.driver.values, "finding": _Said(stop)}, locale, currency)

    @property
    def details(self) -> dict[str, Any]:
        """How the insight was found, for ``kpi insights --details`` and the JSON ``details``, never for
        an owner's sentence: the method, the band (``[low, high]``), how far outside (``z``, robust SD),
        rate and mix effects, the model and interval level, as its detector recorded them."""
        found: dict[str, Any] = {}
        for key in DETAIL_KEYS:
            if self.numbers.get(key) is not None:
                found[key] = _json(self.numbers[key])
        if self.kind != "forecast" and "low" in self.numbers and "high" in self.numbers:
            found["band"] = [_json(self.numbers["low"]), _json(self.numbers["high"])]
        elif "low" in self.numbers and "high" in self.numbers:
            found["range"] = [_json(self.numbers["low"]), _json(self.numbers["high"])]
        return found

    def to_json(self) -> dict[str, Any]:
        """``{metric, kind, group, score, period, text, details, segment, numbers}`` with plain JSON
        types."""
        return {
            "metric": self.metric,
            "kind": self.kind,
            "group": self.group,
            "score": round(float(self.score), 4),
            "period": self.period,
            "text": self.text,
            "details": self.details,
            "segment": self.segment,
            "numbers": {key: _json(value) for key, value in self.numbers.items()},
        }


@dataclass(frozen=True)
class _Said:
    """A placeholder already rendered in the reader's language (isolated where it needs to be)."""

    text: str


def _said(message: str, values: Mapping[str, Any], locale: str, currency: str) -> str:
    """``message`` translated into ``locale`` with ``values`` formatted: numbers, signs, ranges and
    period labels isolated in right-to-left languages (Unicode isolates, as the metric blocks have
    them), in every format."""
    from ..i18n import _, direction, using
    from ..presentation import formatting

    with using(locale):
        rendered = {}
        for key, value in values.items():
            if isinstance(value, Number):
                rendered[key] = _format(value, locale, currency, formatting)
            elif isinstance(value, Span):
                rendered[key] = formatting.format_span(value.count, value.period, locale)
            elif isinstance(value, Word):
                rendered[key] = _(value.text)
            elif isinstance(value, Noun):
                rendered[key] = formatting.noun_text(value.noun, value.count)
            elif isinstance(value, _Said):
                rendered[key] = value.text
            elif isinstance(value, str):
                rendered[key] = value
            else:
                rendered[key] = (
                    formatting.format_number(value, locale) if isinstance(value, (int, float)) else str(value)
                )
        if direction(locale) == "rtl":
            from ..presentation.bidi import ltr

            rendered = {
                key: text if isinstance(values[key], (Word, Noun, _Said)) else ltr(text)
                for key, text in rendered.items()
            }
        return _(message) % rendered


def without_parenthesis(sentence: str) -> str:
    """``sentence`` without a closing parenthetical (``(expected 0.0% to 1.2%)``), its full stop kept."""
    import re

    return re.sub(r"\s*\([^()]*\)(?=[.।]?\s*$)", "", sentence)


def _format(number: Number, locale: str, currency: str, formatting) -> str:
    if number.value is None:
        return "—"
    if number.unit == "share":
        return _share(number.value, locale)
    if number.unit == "number":
        return formatting.format_number(number.value, locale)
    if number.unit == "change":
        return formatting.format_change(number.value, None, number.of or "count", locale, currency)
    if number.unit == "size":
        signed = formatting.format_change(abs(number.value), None, number.of or "count", locale, currency)
        return signed.replace("+", "", 1)
    if number.unit == "estimate":
        return format_estimate(number.value, locale, currency)
    return formatting.format_value(number.value, number.unit, locale, currency)


def format_estimate(amount: float, locale: str = "en", currency: str = "USD") -> str:
    """An estimated amount of money as people say one: two significant figures, no cents, in the
    locale's currency pattern and digits: 2,437.5 -> ``$2,400``, 87.2 -> ``$87``."""
    from babel import Locale
    from babel.numbers import format_currency, parse_pattern

    from ..i18n import localize_digits
    from ..presentation.formatting import _grouped

    rounded = float(f"{amount:.2g}") if amount else 0.0
    pattern = parse_pattern(_grouped(Locale.parse(locale).currency_formats["standard"].pattern, locale))
    pattern.frac_prec = (0, 0)
    return localize_digits(
        format_currency(rounded, currency, format=pattern, locale=locale, currency_digits=False)
    )


def _share(fraction: float, locale: str) -> str:
    """A fraction as a whole percentage in the locale's pattern and digits: 0.583 -> ``58%``."""
    from babel import Locale
    from babel.numbers import parse_pattern

    from ..i18n import localize_digits

    pattern = parse_pattern(Locale.parse(locale).percent_formats[None].pattern)
    pattern.frac_prec = (0, 0)
    return localize_digits(pattern.apply(fraction, locale))


def _json(value):
    if isinstance(value, float):
        return clean_number(value)
    if isinstance(value, (list, tuple)):
        return [_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    return value


@dataclass
class Evidence:
    """What a detector gets for one metric, all computed in SQL as aggregates.

    ``result``: the metric's result for the period (value, previous, target; ``result.value`` is never
    None here: the framework runs no detector on a missing value). ``history``: the trend, oldest first,
    ending with the period itself (``len(history) <= Detector.history(...)``; points whose value is
    None stay in, so positions keep their meaning). ``segments``: for each dimension the detector asked
    for, the metric's result broken down by it (``result.segments``: ``Segment(segment, value, n,
    previous, previous_n)``), or None when the metric cannot be broken down by that dimension.
    ``settings`` are the detector's own ``[insights.KIND]`` keys, ``options`` the ``[insights]`` ones.
    """

    metric: Metric
    period: Period
    result: MetricResult
    history: Sequence[TrendPoint]
    segments: Mapping[str, MetricResult | None]
    config: Config | None
    settings: Mapping[str, Any]
    options: Mapping[str, Any]

    @property
    def values(self) -> list[float | None]:
        """The history's values, oldest first, the period's own last."""
        return [point.value for point in self.history]


class Detector:
    """An insight plugin: subclass, set ``kind``, implement :meth:`detect`, and register an instance
    through the ``register_insights(register)`` hook.

    The framework asks each detector what it needs before computing anything: :meth:`history` (how
    many periods of trend, the period included) and :meth:`dimensions` (which dimensions' segment
    aggregates); one compute per dimension serves every detector and metric that asked for it.
    """

    #: Unique name, lower_snake_case: the ``kind`` of the insights it produces.
    kind: str = ""
    #: One line for `kpi plugins` and docs.
    description: str = ""
    #: Keys its ``[insights.KIND]`` table may hold, with defaults (``kpi check`` rejects others).
    settings: Mapping[str, Any] = {}

    def history(
        self, metric: Metric, period: Period, settings: Mapping[str, Any], options: Mapping[str, Any]
    ) -> int:
        """How many periods of history (the period included) it needs; 0 for none."""
        return 0

    def dimensions(
        self, metric: Metric, settings: Mapping[str, Any], options: Mapping[str, Any]
    ) -> Sequence[str]:
        """The dimensions whose segment aggregates it needs for ``metric`` (``options["dimensions"]`` are
        the ones kpi.toml names, else the source's customer dimensions)."""
        return ()

    def detect(self, evidence: Evidence) -> list[Insight]:
        """The insights about ``evidence.metric``; an empty list when there is nothing to say (never a
        made-up insight: too little history or a missing number means none)."""
        raise NotImplementedError


def validate_detector(detector: Any) -> None:
    """Raise TypeError when ``detector`` is not a usable Detector instance."""
    import re

    if not isinstance(detector, Detector):
        raise TypeError(f"{detector!r} is not a kpicore.insights.Detector instance")
    if not isinstance(detector.kind, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", detector.kind):
        raise TypeError(
            f"{type(detector).__name__}: kind must be a lower_snake_case name, not {detector.kind!r}"
        )
    if type(detector).detect is Detector.detect:
        raise TypeError(
            f"insight {detector.kind!r}: {type(detector).__name__} must implement detect(evidence)"
        )
