"""Digests: their kpi.toml tables (``config``), headlines, rendering through the templates (``render``) and runs."""

from kpicore.digest.render import DigestSpec, Rendered, draw_charts, render, renderer

__all__ = ["DigestSpec", "Rendered", "draw_charts", "render", "renderer"]
