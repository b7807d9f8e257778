"""Digest rendering: formats, charts, templates and the delivery ledger."""

from kpicore.digest.render import DigestSpec, Rendered, draw_charts, render, renderer

__all__ = ["DigestSpec", "Rendered", "draw_charts", "render", "renderer"]
