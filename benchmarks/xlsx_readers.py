"""Which .xlsx reader kpicore uses: python-calamine against openpyxl on one 100 k-row sheet.

Writes an orders sheet (order_id, customer_id, ordered_at as a date cell, amount as text such as
"1.234,50 €") with openpyxl, then reads every cell of it as Python values with each reader, three times,
and prints the median of each and their ratio (docs/performance.md, "Files as exported").

    .venv/bin/python benchmarks/xlsx_readers.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path


def write_sheet(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("orders")
    sheet.append(["order_id", "customer_id", "ordered_at", "amount"])
    start = dt.datetime(2026, 1, 1)
    for i in range(rows):
        euros, cents = divmod(i * 37 % 250_000, 100)
        sheet.append([i + 1, i % 9_973, start + dt.timedelta(minutes=i * 5), f"{euros:,}.{cents:02d} €"])
    workbook.save(path)


def read_calamine(path: Path) -> int:
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_path(str(path))
    return len(workbook.get_sheet_by_name(workbook.sheet_names[0]).to_python())


def read_openpyxl(path: Path) -> int:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    count = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    return count


def median_seconds(read, path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        read(path)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.xlsx"
        write_sheet(path, args.rows)
        assert read_calamine(path) == read_openpyxl(path) == args.rows + 1
        calamine = median_seconds(read_calamine, path, args.repeat)
        openpyxl = median_seconds(read_openpyxl, path, args.repeat)
    print(f"{args.rows:,} rows, median of {args.repeat}:")
    print(f"  python-calamine  {calamine:6.2f} s")
    print(f"  openpyxl         {openpyxl:6.2f} s  ({openpyxl / calamine:.1f} x calamine)")


if __name__ == "__main__":
    main()
