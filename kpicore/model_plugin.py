"""Default plugin: the stock entities, the canonical tables the stock metrics read."""

from .hookspecs import hookimpl
from .model import STOCK_ENTITIES


@hookimpl
def register_entities(register):
    for entity in STOCK_ENTITIES:
        register(entity)
