"""Readers for the per-post CSV exports of Meta Business Suite, LinkedIn and X.

Each reader maps the platform's own column names (see the pack's README for where they come from) to
the canonical ``social_posts`` columns. ``read_export`` tells the platform from the header row, so a file
from another platform, or not an export at all, is an error naming the file and the columns it lacks.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kpicore import SourceError

#: The canonical columns the readers write, in this order.
POST_COLUMNS = (
    "platform",
    "post_id",
    "posted_at",
    "impressions",
    "reach",
    "engagements",
    "clicks",
    "deleted",
)


@dataclass(frozen=True)
class ExportFormat:
    """One platform's export: the columns that identify it and how a row becomes a post."""

    name: str
    required: tuple[str, ...]
    convert: Callable[[dict[str, str], str], dict]


def _column(row: dict[str, str], *names: str) -> str | None:
    """The first of ``names`` present in the row (exports rename columns over time)."""
    for name in names:
        if name in row:
            return row[name]
    return None


def _number(value: str | None, *, where: str) -> float | None:
    """A count as the exports write it: '1,234', '1234', '' (empty = unknown)."""
    if value is None:
        return None
    text = value.strip().replace(",", "")
    if text in ("", "-", "--"):
        return None
    try:
        return float(text)
    except ValueError:
        raise SourceError(f"{where}: {value!r} is not a number") from None


def _sum(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _timestamp(value: str | None, formats: tuple[str, ...], *, where: str) -> str | None:
    """An export's time as ISO 8601 text (naive: the time zone the export was taken in)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    for form in formats:
        try:
            parsed = dt.datetime.strptime(text, form)
        except ValueError:
            continue
        return (
            parsed.isoformat(sep=" ")
            if parsed.tzinfo is None
            else parsed.astimezone(dt.UTC).isoformat(sep=" ")
        )
    try:
        return dt.datetime.fromisoformat(text).isoformat(sep=" ")
    except ValueError:
        raise SourceError(f"{where}: {value!r} is not a time this reader knows") from None


def _meta(row: dict[str, str], where: str) -> dict:
    # A Facebook Page export has "Page ID"; an Instagram one "Account username".
    platform = "instagram" if "Account username" in row and "Page ID" not in row else "facebook"
    reactions = _number(_column(row, "Reactions", "Likes"), where=f"{where}, Reactions")
    comments = _number(row.get("Comments"), where=f"{where}, Comments")
    shares = _number(row.get("Shares"), where=f"{where}, Shares")
    clicks = _number(_column(row, "Total clicks", "Link clicks"), where=f"{where}, Total clicks")
    return {
        "platform": platform,
        "post_id": row["Post ID"].strip(),
        "posted_at": _timestamp(
            row["Publish time"], ("%m/%d/%Y %H:%M", "%m/%d/%Y"), where=f"{where}, Publish time"
        ),
        # Meta renamed "Impressions" to "Views" in 2025; either is the count of times shown.
        "impressions": _number(_column(row, "Impressions", "Views"), where=f"{where}, Impressions"),
        "reach": _number(row.get("Reach"), where=f"{where}, Reach"),
        "engagements": _sum((reactions, comments, shares, clicks)),
        "clicks": clicks,
        "deleted": None,
    }


_LINKEDIN_ACTIVITY = re.compile(r"(urn:li:(?:activity|share|ugcPost):\d+)")


def _linkedin(row: dict[str, str], where: str) -> dict:
    link = _column(row, "Post Link", "Post link", "Update link") or ""
    match = _LINKEDIN_ACTIVITY.search(link)
    clicks = _number(row.get("Clicks"), where=f"{where}, Clicks")
    likes = _number(_column(row, "Likes", "Reactions"), where=f"{where}, Likes")
    comments = _number(row.get("Comments"), where=f"{where}, Comments")
    shares = _number(_column(row, "Shares", "Reposts"), where=f"{where}, Shares")
    follows = _number(_column(row, "Followers", "Follows"), where=f"{where}, Followers")
    return {
        "platform": "linkedin",
        "post_id": match.group(1) if match else link.strip(),
        "posted_at": _timestamp(
            _column(row, "Date", "Created date"),
            ("%m/%d/%Y", "%m/%d/%Y %H:%M", "%Y-%m-%d"),
            where=f"{where}, Date",
        ),
        "impressions": _number(row.get("Impressions"), where=f"{where}, Impressions"),
        "reach": None,  # LinkedIn's page export has no reach per post
        # LinkedIn's own engagement rate: (clicks + reactions + comments + reposts + follows) / impressions.
        "engagements": _sum((clicks, likes, comments, shares, follows)),
        "clicks": clicks,
        "deleted": None,
    }


def _x(row: dict[str, str], where: str) -> dict:
    posted = _column(row, "time", "Date")
    return {
        "platform": "x",
        "post_id": (_column(row, "Tweet id", "Post id") or "").strip(),
        "posted_at": _timestamp(
            posted, ("%Y-%m-%d %H:%M %z", "%a, %b %d, %Y", "%Y-%m-%d"), where=f"{where}, time"
        ),
        "impressions": _number(_column(row, "impressions", "Impressions"), where=f"{where}, impressions"),
        "reach": None,  # X exports impressions only
        "engagements": _number(_column(row, "engagements", "Engagements"), where=f"{where}, engagements"),
        "clicks": _number(_column(row, "url clicks", "URL Clicks"), where=f"{where}, url clicks"),
        "deleted": None,
    }


FORMATS = (
    ExportFormat("Meta Business Suite", ("Post ID", "Publish time"), _meta),
    ExportFormat("LinkedIn", ("Impressions", "Clicks"), _linkedin),
    ExportFormat("X (tweet activity)", ("Tweet id", "impressions", "engagements"), _x),
    ExportFormat("X (post analytics)", ("Post id", "Impressions", "Engagements"), _x),
)
#: A LinkedIn export is told apart by one of these (it has no id column).
_LINKEDIN_MARKERS = ("Post Link", "Post link", "Update link")


def detect(header: list[str]) -> ExportFormat | None:
    """The export format whose identifying columns the header has."""
    names = set(header)
    for export in FORMATS:
        if export.name == "LinkedIn" and not names & set(_LINKEDIN_MARKERS):
            continue
        if all(column in names for column in export.required):
            return export
    return None


def read_export(path: str | Path) -> tuple[str, list[dict]]:
    """Read one export file: (format name, canonical ``social_posts`` rows)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError(f"cannot read {path}: {error}") from None
    # LinkedIn's export puts a title line above the header: start at the first line naming a known format.
    for start, line in enumerate(lines[:5]):  # noqa: B007 - the header line found is used below
        header = [name.strip() for name in next(csv.reader([line]), [])]
        export = detect(header)
        if export is not None:
            break
    else:
        first = ", ".join(next(csv.reader(lines[:1]), [])[:6]) if lines else "nothing"
        raise SourceError(
            f"{path}: not a Meta Business Suite, LinkedIn or X post export (its header starts: {first}); "
            "export the per-post (content) report of the platform"
        )
    rows = []
    for number, record in enumerate(csv.DictReader(lines[start:]), start=start + 2):
        record = {(key or "").strip(): (value or "") for key, value in record.items()}
        if not any(value.strip() for value in record.values()):
            continue
        post = export.convert(record, f"{path}, line {number}")
        if not post["post_id"]:
            raise SourceError(f"{path}, line {number}: the post has no id ({export.name} export)")
        rows.append(post)
    return export.name, rows


def merge_posts(existing: list[dict], new: list[dict], *, mark_deleted: bool = False) -> list[dict]:
    """Posts keyed by (platform, post_id): a new export's numbers replace older ones.

    With ``mark_deleted``, posts of the same platform that the new export covers in time but no longer
    lists are marked deleted (the platforms drop deleted posts from their exports).
    """
    merged = {(p["platform"], p["post_id"]): dict(p) for p in existing}
    for post in new:
        merged[(post["platform"], post["post_id"])] = dict(post)
    if mark_deleted and new:
        platforms = {p["platform"] for p in new}
        times = [p["posted_at"] for p in new if p["posted_at"]]
        first, last = (min(times), max(times)) if times else (None, None)
        listed = {(p["platform"], p["post_id"]) for p in new}
        for key, post in merged.items():
            covered = first is not None and post.get("posted_at") and first <= post["posted_at"] <= last
            if key[0] in platforms and key not in listed and covered:
                post["deleted"] = "true"
    return sorted(merged.values(), key=lambda p: (p.get("posted_at") or "", p["platform"], p["post_id"]))


def read_posts_csv(path: Path) -> list[dict]:
    """The canonical ``social_posts.csv`` (empty when the file does not exist)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [{k: (v if v != "" else None) for k, v in row.items()} for row in csv.DictReader(handle)]


def write_posts_csv(path: Path, posts: list[dict]) -> None:
    """Write ``social_posts.csv`` (through a temporary file, so a reader never sees half of it)."""
    temporary = path.with_suffix(".csv.tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(POST_COLUMNS)
        for post in posts:
            writer.writerow(["" if post.get(c) is None else _cell(post.get(c)) for c in POST_COLUMNS])
    temporary.replace(path)


def _cell(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
