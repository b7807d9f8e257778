"""The demo digest `kpi demo` writes: ``digest.html``, ``digest.slack.json`` and ``digest.txt``.

Files are only written where absent or written by an earlier `kpi demo` (they carry
``MARKER``): a user's own file of that name is left alone, with a warning.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

#: The digest `kpi demo` defines in the kpi.toml it writes (and uses when kpi.toml has no [digests.weekly]).
DEMO_DIGEST_TOML = """
# A digest: `kpi digest send weekly` writes it into ./digests; add "slack:#kpis" or
# "email:you@example.com" (with an [email] table) to receive it. See docs/digests.md.
[digests.weekly]
title = "Weekly KPIs"
metrics = ["revenue", "new_customers", "churn_rate", "nps", "csat"]
breakdowns = { churn_rate = "region" }
period = "last-week"
trend = 12
insights = 3                           # the top insights shown (unusual values, trends, forecasts, ...)
schedule = "0 9 * * MON"
destinations = ["file:./digests"]
"""
DEMO_DIGEST = "weekly"
MARKER = "written by `kpi demo` (kpicore)"
FILES = {"html": "digest.html", "slack": "digest.slack.json", "text": "digest.txt"}


def demo_spec(config, registry):
    """``[digests.weekly]`` of kpi.toml, else the built-in demo definition."""
    import tomllib

    from ..digest.config import digest_spec, parse_digest

    if DEMO_DIGEST in config.digests:
        return digest_spec(config, DEMO_DIGEST, registry)
    raw = tomllib.loads(DEMO_DIGEST_TOML)["digests"][DEMO_DIGEST]
    return parse_digest(DEMO_DIGEST, raw, config, registry)


def _marked(fmt: str, body: str) -> str:
    if fmt == "html":
        doctype, _, rest = body.partition("\n")
        return f"{doctype}\n<!-- {MARKER}: kpi demo overwrites this file; rename it to keep it -->\n{rest}"
    if fmt == "slack":
        # The same shape as every Slack rendering; the marker (what protects files kpicore did not
        # write) is its generator.
        document = json.loads(body)
        document["generator"] = f"{document.get('generator', 'kpicore')}; {MARKER}"
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return f"{body.rstrip()}\n\n-- {MARKER}\n"


def write_demo_digest(
    config, period: str, results, registry, source_url: str, folder: Path, metrics: list[str] | None = None
) -> str:
    """Render the demo digest for ``period`` from ``source_url`` (reusing ``results`` already
    computed), write the files that are ours to write, and return the text version.

    The digest is kpi.toml's ``[digests.weekly]``, the one `kpi digest send weekly` delivers (`kpi demo
    --pack` lists the pack's metrics there); without one, the built-in definition with ``metrics``
    added."""
    from ..digest.render import standalone_html
    from ..digest.run import prepare_digest

    spec = demo_spec(config, registry)
    if metrics is not None and DEMO_DIGEST not in config.digests:
        spec.metrics = [*spec.metrics, *(m for m in metrics if m not in spec.metrics)]
    prepared = prepare_digest(
        config, spec, period=period, registry=registry, known=results, source_url=source_url
    )
    written, skipped = [], []
    for fmt, name in FILES.items():
        rendered = prepared.outgoing.rendered(fmt)
        body = standalone_html(rendered) if fmt == "html" else rendered.body
        path = folder / name
        if path.exists():
            try:
                ours = MARKER in path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                ours = False
            if not ours:
                skipped.append(name)
                continue
        path.write_text(_marked(fmt, body), encoding="utf-8")
        written.append(name)
    if written:
        click.echo(f"Wrote the weekly digest: {', '.join(written)}.", err=True)
    for name in skipped:
        click.echo(f"Warning: {name} exists and was not written by kpi demo: left it alone.", err=True)
    return prepared.outgoing.rendered("text").body
