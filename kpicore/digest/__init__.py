"""Digest rendering: formats, charts, templates and the delivery ledger."""

from kpicore.digest.render import DigestSpec, Rendered, render

__all__ = ["DigestSpec", "Rendered", "render"]
