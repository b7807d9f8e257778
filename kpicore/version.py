"""kpicore's version (``kpi --version``, the plugin scaffold's dependency), kept with pyproject.toml's."""

__version__ = "0.1.0"
