"""A table that fits its width: the columns that matter stay whole, the lesser ones fold away.

Each column says how readily it gives way (``fold``: 0 never, higher first) and, for each row, what it
carried that a reader must not lose when it is folded (a left-out count, a missed target): those notes go on
lines under the table. Rich draws what is left, at the console's width (a terminal's, ``COLUMNS`` or 80 on a
pipe); ``wide`` keeps every column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class Column:
    """One column: its header, its cells (one per row) and, per row, the note it leaves when folded."""

    header: str
    justify: Literal["left", "center", "right"] = "left"
    fold: int = 0
    wrap: bool = False
    cells: list[str] = field(default_factory=list)
    notes: list[str | None] = field(default_factory=list)

    def width(self) -> int:
        """The column's own width in terminal cells (its widest cell or header)."""
        from rich.cells import cell_len

        return max([cell_len(self.header), *(cell_len(cell) for cell in self.cells)])


def fitting(columns: list[Column], width: int | None) -> tuple[list[Column], list[Column]]:
    """``(shown, folded)``: the columns that fit in ``width`` cells (all with ``width`` None), folding those
    with the highest ``fold`` first; a column with ``fold`` 0 is always shown."""
    shown = list(columns)
    folded: list[Column] = []
    if width is None:
        return shown, folded
    for column in sorted((c for c in columns if c.fold), key=lambda c: -c.fold):
        if table_width(shown) <= width:
            break
        shown.remove(column)
        folded.append(column)
    return shown, folded


def table_width(columns: list[Column]) -> int:
    """The width rich draws a table of ``columns`` at: each cell padded by one on both sides, a rule
    between columns and one at each edge."""
    return sum(column.width() + 3 for column in columns) + 1


@dataclass
class FittedTable:
    """The columns to draw, the notes of the folded ones, and the rows' styles."""

    columns: list[Column]
    folded: list[Column]
    styles: list[str | None]

    def notes(self) -> list[str]:
        """What the folded columns carried that matters, row by row, in the table's order."""
        rows = len(self.styles)
        return [
            note
            for row in range(rows)
            for column in self.folded
            if row < len(column.notes) and (note := column.notes[row])
        ]


def fit(columns: list[Column], styles: list[str | None], width: int | None) -> FittedTable:
    """The table of ``columns`` fitted to ``width`` (None: every column)."""
    shown, folded = fitting(columns, width)
    return FittedTable(shown, folded, styles)


def draw(table: FittedTable, console, title: str | None = None) -> None:
    """Print ``table`` on ``console``: only a ``wrap`` column (the metric's name) wraps, when even the
    fitted table is wider than the console; numbers never do."""
    from rich.table import Table

    drawn = Table(title=title, title_justify="left")
    for column in table.columns:
        drawn.add_column(column.header, justify=column.justify, no_wrap=not column.wrap)
    for row, style in enumerate(table.styles):
        drawn.add_row(*(column.cells[row] for column in table.columns), style=style)
    console.print(drawn)
