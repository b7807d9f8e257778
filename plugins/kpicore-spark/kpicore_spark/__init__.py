"""kpicore on Apache Spark: a connector for ``sc://`` (Spark Connect) and ``spark-local://`` URLs and the
``spark`` dialect, registered through kpicore's hooks like any plugin (docs/spark.md).

Nothing heavy is imported here: PySpark loads only when a Spark source is opened.
"""

from __future__ import annotations

from kpicore.hookspecs import hookimpl


@hookimpl
def register_connectors(register):
    from .connector import SparkConnector

    register(SparkConnector())


@hookimpl
def register_dialects(register):
    from .dialect import SparkDialect

    register(SparkDialect)


@hookimpl
def register_settings(register):
    from .connector import ENTITY_OPTIONS

    register("entities.spark", ENTITY_OPTIONS)


@hookimpl
def register_commands(cli):
    from .commands import spark

    cli.add_command(spark)
