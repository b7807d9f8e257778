"""Default plugin: the stock entities of DESIGN section 4."""

from .hookspecs import hookimpl
from .model import STOCK_ENTITIES


@hookimpl
def register_entities(register):
    for entity in STOCK_ENTITIES:
        register(entity)
