"""Which columns of ``customers`` are segments when kpi.toml declares none: never personal data.

A column is a dimension by default only if it holds text with at most ``MAX_SEGMENTS`` distinct values
and neither its name nor its values look like an id, a person's name, an email, a phone number or an
address. Names are matched word by word in kpicore's five languages; values by shape (``@``, long digit
runs, a house number before a street, one distinct value per row).
"""

from __future__ import annotations

import re

from .errors import MappingError

MAX_SEGMENTS = 50

#: Words of a column name that mark personal data (English, Persian, Bengali, Malayalam, Igbo).
PERSONAL_WORDS = frozenset(
    """
    id ids uuid guid key name names firstname lastname fullname surname forename given family middle
    first last full nick nickname username user login email emails mail e-mail phone phones telephone tel
    mobile cell fax whatsapp contact address addresses addr street str road avenue house apt apartment
    zip zipcode postcode postal ssn passport birth birthday dob birthdate iban account card ip password
    نام نام‌خانوادگی فامیل ایمیل رایانامه تلفن تلفن‌همراه موبایل همراه شماره نشانی آدرس کدملی کد ملی شناسه
    নাম ইমেইল ই-মেইল ফোন মোবাইল ঠিকানা আইডি পরিচয়
    പേര് പേര ഇമെയിൽ ഫോൺ മൊബൈൽ വിലാസം ഐഡി നമ്പർ
    aha afa email ekwenti ekwentị adreesi adreesị adrees ebe-obibi nọmba nomba
    """.split()
)
_WORD = re.compile(r"[^\W_]+(?:[-‌][^\W_]+)*", re.UNICODE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DIGIT_RUN = re.compile(r"\d[\d\s().+-]{5,}\d")
_STREET = re.compile(r"\d+[a-zA-Z]?\s+\w+\s+\w+|\w+\s+\w+\s+\d+[a-zA-Z]?,")


def name_looks_personal(column: str) -> bool:
    """The column's name has a word that marks personal data (``email``, ``customer_name``, ``نام``)."""
    spaced = _CAMEL.sub(" ", column)
    words = [w.lower() for w in _WORD.findall(spaced)]
    return any(word in PERSONAL_WORDS for word in words) or column.lower() in PERSONAL_WORDS


def values_look_personal(counts: dict[str, int]) -> bool:
    """The values (with how many rows hold each) look like emails, phone numbers, ids or addresses, or
    there is one distinct value per row in a table of more than ten rows."""
    values = [v for v in counts if v is not None and str(v).strip()]
    if not values:
        return False
    texts = [str(v) for v in values]
    if any(_EMAIL.search(t) or _DIGIT_RUN.search(t) or _STREET.search(t) for t in texts):
        return True
    rows = sum(counts[v] for v in values)
    return rows > 10 and len(values) == rows


def _value_counts(source, from_, column: str) -> dict:
    """Up to MAX_SEGMENTS + 2 distinct values of the column as text, with the rows holding each."""
    import sqlalchemy as sa

    text = sa.cast(from_.c[column], sa.Text)
    query = (
        sa.select(text.label("value"), sa.func.count().label("rows"))
        .select_from(from_)
        .group_by(text)
        .limit(MAX_SEGMENTS + 2)
    )
    return {value: rows for value, rows in source.execute(query)}


def is_segment(source, from_, column: str) -> bool:
    """Text with at most MAX_SEGMENTS values, neither named nor shaped like personal data."""
    if name_looks_personal(column):
        return False
    counts = _value_counts(source, from_, column)
    if not counts:  # no rows yet: nothing personal to show, and a breakdown by it is simply empty
        return True
    distinct = [v for v in counts if v is not None and str(v).strip()]
    if len(distinct) > MAX_SEGMENTS or not distinct or _numeric(distinct):
        return False
    return not values_look_personal(counts)


def refusal(source, relation, column: str) -> NotADimension:
    """The error for ``--by column`` where the column exists but is not a dimension."""
    counts = {} if name_looks_personal(column) else _value_counts(source, relation.from_, column)
    shaped = any(_EMAIL.search(str(v)) or _DIGIT_RUN.search(str(v)) or _STREET.search(str(v)) for v in counts)
    too_many = len([v for v in counts if v is not None]) > MAX_SEGMENTS and not shaped
    return NotADimension(column, relation.entity.name, relation.dimensions, personal=not too_many)


def refusal_for(source, entity_names, word: str) -> NotADimension | None:
    """The error for a breakdown by ``word`` when it names a column of the entities' dimension holder
    (``customers``) that is not a dimension; None when it names no such column."""
    for name in entity_names:
        try:
            relation = source.relation(name)
        except Exception:  # an entity the source lacks has nothing to refuse
            continue
        lookup = relation.entity.dimension_lookup
        owners = [relation] + ([source.relation(lookup[0])] if lookup else [])
        for owner in owners:
            column = next((c for c in owner.from_.c.keys() if c.lower() == word.lower()), None)
            if column is not None and column not in owner.dimensions and column not in owner.columns:
                return refusal(source, owner, column)
    return None


def default_dimensions(source, from_, candidates, named=()) -> tuple[str, ...]:
    """The candidate columns that are segments: those ``named`` in kpi.toml (digests, alerts, insights)
    as written, the others only when they pass the rules of this module."""
    return tuple(column for column in candidates if column in named or is_segment(source, from_, column))


def _numeric(values) -> bool:
    """Numbers are measures or codes, not segments."""
    try:
        for value in values:
            float(str(value).replace(",", "."))
    except ValueError:
        return False
    return True


class NotADimension(MappingError):
    """``--by`` names a column that is not a dimension (personal data, or too many values)."""

    def __init__(self, name: str, entity: str, dimensions, personal: bool):
        self.name, self.entity, self.dimensions, self.personal = name, entity, tuple(dimensions), personal
        super().__init__(self.sentence())

    def sentence(self, gettext=None) -> str:
        """The message, in the current language when ``gettext`` is given."""
        _ = gettext or (lambda text: text)
        why = (
            _("it looks like personal data")
            if self.personal
            else _("it has more than %(count)s values") % {"count": MAX_SEGMENTS}
        )
        return _(
            "'%(name)s' is not a dimension (%(why)s; declare it in [entities.%(entity)s] dimensions to use "
            "it). Dimensions: %(dimensions)s"
        ) % {
            "name": self.name,
            "why": why,
            "entity": self.entity,
            "dimensions": _(", ").join(self.dimensions) or _("none"),
        }
