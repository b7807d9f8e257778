"""Files as exported, end to end: CSV and .xlsx folders read by the rules of docs/configuration.md
("Files as exported"), through the real CLI. Values are worked out by hand in the comments.

2026-W47 is Monday 16 to Sunday 22 November 2026; no kpi.toml, so times are read in UTC.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

# A US CRM export (month first, AM/PM) with name, email and phone columns, a row exported twice and a
# customer whose region changed between two exports.
CUSTOMERS = [
    ["customer_id", "name", "email", "phone", "region", "plan", "signup_at", "churned_at"],
    ["1", "Ann Lee", "ann@example.com", "+1 555 010 1234", "north", "basic", "11/17/2026 9:30 AM", ""],
    ["2", "Bob Ray", "bob@example.com", "+1 555 010 2345", "south", "pro", "11/18/2026 2:05 PM", ""],
    ["3", "Cy Doe", "cy@example.com", "+1 555 010 3456", "north", "basic", "11/19/2026 10:00 AM", ""],
    ["3", "Cy Doe", "cy@example.com", "+1 555 010 3456", "south", "basic", "11/19/2026 10:00 AM", ""],
    ["4", "Di Poe", "di@example.com", "+1 555 010 4567", "north", "pro", "11/20/2026 11:45 PM", ""],
    ["4", "Di Poe", "di@example.com", "+1 555 010 4567", "north", "pro", "11/20/2026 11:45 PM", ""],
    ["5", "Ed Fox", "ed@example.com", "+1 555 010 5678", "south", "basic", "10/02/2026 8:00 AM", ""],
    ["6", "Flo Kim", "flo@example.com", "+1 555 010 6789", "south", "pro", "sometime", ""],
]
# A European till export: D.M.Y H:M, amounts "1.234,50 €", a refund in parentheses, one amount that is not
# one and one ISO time in a D.M.Y column (both left out, never guessed).
ORDERS = [
    ["order_id", "customer_id", "ordered_at", "amount"],
    ["101", "1", "17.11.2026 14:05", "1.234,50 €"],
    ["102", "2", "18.11.2026 09:00", "30,00 €"],
    ["103", "3", "19.11.2026 10:00", "(10,00) €"],
    ["104", "4", "20.11.2026 18:30", "44,00"],
    ["105", "4", "21.11.2026 12:00", "n/a"],
    ["106", "1", "2026-11-21", "5,00 €"],
    ["107", "2", "09.11.2026 10:00", "100,00 €"],
]


def write_csv(path, rows):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def write_xlsx(path, rows, *, epoch_1904=False):
    """An .xlsx file of ``rows`` (text stays text, as exports write it; datetimes become date cells)."""
    from openpyxl import Workbook
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    workbook = Workbook()
    if epoch_1904:
        workbook.epoch = CALENDAR_MAC_1904
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)


@pytest.fixture(params=["csv", "xlsx"])
def exported(request, tmp_path):
    """The folder of the two exports, as CSV or as .xlsx."""
    folder = tmp_path / "exports"
    folder.mkdir()
    write = write_csv if request.param == "csv" else write_xlsx
    write(folder / f"customers.{request.param}", CUSTOMERS)
    write(folder / f"orders.{request.param}", ORDERS)
    return folder


def compute_json(run_kpi, folder, *args):
    code, out, err = run_kpi(
        "compute", *args, "--period", "2026-W47", "--source", str(folder), "--format", "json"
    )
    assert code == 0, err
    return {result["metric"]: result for result in json.loads(out)}


def test_times_amounts_duplicates_and_left_out_values(run_kpi, exported):
    results = compute_json(run_kpi, exported, "new_customers", "revenue")
    # Rules "time text", "duplicates": customers 1-4 signed up in W47 (4 counted once, 3 once); 5 in
    # October; 6's 'sometime' is not a time.
    new = results["new_customers"]
    assert new["value"] == 4
    assert new["left_out"] == [
        {"entity": "customers", "column": "signup_at", "count": 1, "reason": "not a time"}
    ]
    assert new["duplicates"] == [
        {"entity": "customers", "kind": "rows", "count": 1},
        {"entity": "customers", "kind": "ids", "count": 1},
    ]
    # Rule "amounts": 1234.50 + 30.00 - 10.00 + 44.00 = 1298.50 in W47; 100.00 the week before.
    revenue = results["revenue"]
    assert (revenue["value"], revenue["previous"]) == (1298.5, 100.0)
    assert revenue["left_out"] == [
        {"entity": "orders", "column": "amount", "count": 1, "reason": "not a number"},
        {
            "entity": "orders",
            "column": "ordered_at",
            "count": 1,
            "reason": "another format than the column's",
        },
    ]
    assert revenue["duplicates"] == []  # orders has no repeated row
    assert revenue["warnings"][0]["count"] == 1  # order 105: in W47, no amount (warnings kept as they were)


def test_the_table_says_what_was_left_out_and_counted_once(run_kpi, exported):
    code, out, err = run_kpi(
        "compute", "new_customers", "revenue", "--period", "2026-W47", "--source", str(exported), "--wide"
    )
    assert code == 0, err
    # Rule "what still does not parse": the based-on cell.
    assert "4 customers, 1 left out, 2 duplicates" in out
    assert "4 orders, 2 left out" in out
    assert "__unparsed" not in out


def test_the_last_row_of_an_id_wins_in_segments(run_kpi, exported):
    # Rule "duplicates": customer 3 moved to south in the later row, so order 103 (-10.00) is south's:
    # north = 1234.50 + 44.00, south = 30.00 - 10.00.
    revenue = compute_json(run_kpi, exported, "revenue", "--by", "region")["revenue"]
    assert {s["segment"]: s["value"] for s in revenue["segments"]} == {"north": 1278.5, "south": 20.0}


def test_personal_columns_are_not_segments(run_kpi, exported):
    # Rule "personal data": name, email and phone are not dimensions; region and plan are.
    code, out, err = run_kpi(
        "compute", "revenue", "--period", "2026-W47", "--source", str(exported), "--by", "email"
    )
    assert code == 2 and out == ""
    assert err.strip() == (
        "Error: 'email' is not a dimension (it looks like personal data; declare it in [entities.customers] "
        "dimensions to use it). Dimensions: region, plan"
    )
    by_plan = compute_json(run_kpi, exported, "revenue", "--by", "plan")["revenue"]
    # plan: basic = 1234.50 (1) - 10.00 (3); pro = 30.00 (2) + 44.00 (4).
    assert {s["segment"]: s["value"] for s in by_plan["segments"]} == {"basic": 1224.5, "pro": 74.0}


def test_declared_personal_dimension_is_used_as_written(run_kpi, exported, tmp_path):
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{exported}"\n[entities.customers]\ndimensions = ["name"]\n'
    )
    code, out, err = run_kpi("compute", "revenue", "--period", "2026-W47", "--by", "name", "--format", "json")
    assert code == 0, err
    segments = {s["segment"]: s["value"] for s in json.loads(out)[0]["segments"]}
    assert segments["Ann Lee"] == 1234.5


def test_a_missing_column_stops_only_the_metrics_that_read_it(run_kpi, tmp_path):
    # Rule "a column a metric does not need": customers.csv without churned_at.
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "customers.csv", [row[:7] for row in CUSTOMERS])
    write_csv(folder / "orders.csv", ORDERS)
    results = compute_json(run_kpi, folder, "revenue", "new_customers", "churn_rate")
    assert results["revenue"]["value"] == 1298.5
    assert results["new_customers"]["value"] == 4
    churn = results["churn_rate"]
    assert churn["status"] == "unavailable"
    assert "column customers.churned_at not found" in churn["reason"]
    assert "__unparsed" not in churn["reason"] and "signup_at__" not in churn["reason"]
    _, out, _ = run_kpi("check", "--source", str(folder))
    assert "no column churned_at: the metrics that read it are unavailable" in out


def test_one_entity_in_two_files_is_an_error_naming_both(run_kpi, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "orders.csv", ORDERS)
    write_xlsx(folder / "orders.xlsx", ORDERS)
    code, _, err = run_kpi("compute", "revenue", "--period", "2026-W47", "--source", str(folder))
    assert code == 2
    assert "orders.csv and orders.xlsx" in err


@pytest.mark.parametrize("epoch_1904", [False, True])
def test_xlsx_date_cells_and_serial_days_in_both_date_systems(run_kpi, tmp_path, epoch_1904):
    # Rule "Excel": date cells read in the workbook's date system; a plain number in a time column is a
    # serial day (46343.5 is 2026-11-17 12:00 in the 1900 system, 2030-11-18 12:00 in the 1904 one).
    folder = tmp_path / "exports"
    folder.mkdir()
    write_xlsx(
        folder / "orders.xlsx",
        [
            ["order_id", "customer_id", "ordered_at", "amount"],
            [1, 1, dt.datetime(2026, 11, 17, 14, 5), 12.5],
            [2, 1, dt.datetime(2026, 11, 18, 9, 0), "7,50 €"],
            [3, 1, 46343.5, 1.0],
        ],
        epoch_1904=epoch_1904,
    )
    revenue = compute_json(run_kpi, folder, "revenue")["revenue"]
    # 12.50 + 7.50 (+ 1.00 for the serial day in the 1900 system only).
    assert revenue["value"] == (20.0 if epoch_1904 else 21.0)


def test_a_named_sheet_and_the_formats_override(run_kpi, tmp_path):
    from openpyxl import Workbook

    folder = tmp_path / "exports"
    folder.mkdir()
    workbook = Workbook()
    workbook.active.title = "Notes"
    workbook.active.append(["nothing to read here"])
    sheet = workbook.create_sheet("Sales")
    for row in [
        ["order_id", "customer_id", "ordered_at", "amount"],
        [1, 1, "11.05.2026 10:00", "10.00"],  # formats: month first, so 5 November (W45), not 11 May
        [2, 1, "11.17.2026 10:00", "1,000.00"],
    ]:
        sheet.append(row)
    workbook.save(folder / "orders.xlsx")
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{folder}"\n[entities.orders]\nsheet = "Sales"\n'
        'formats = { ordered_at = "%m.%d.%Y %H:%M" }\n'
    )
    code, out, err = run_kpi("compute", "revenue", "--period", "2026-W47", "--format", "json")
    assert code == 0, err
    assert json.loads(out)[0]["value"] == 1000.0
    code, out, err = run_kpi("compute", "revenue", "--period", "2026-W45", "--format", "json")
    assert json.loads(out)[0]["value"] == 10.0


def test_fa_bn_ml_digits_and_a_solar_hijri_column(run_kpi, tmp_path):
    # Rules "digits" and "time text" with calendar = "persian": ۱۴۰۵/۰۸/۲۶ is 17 November 2026.
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(
        folder / "orders.csv",
        [
            ["order_id", "customer_id", "ordered_at", "amount"],
            ["1", "1", "۱۴۰۵/۰۸/۲۶ ۱۰:۳۰", "۱٬۲۳۴٫۵۰ ریال"],
            ["2", "1", "১৪০৫/০৮/২৭", "১০.০০"],
            ["3", "1", "൧൪൦൫/൦൮/൨൮", "൫.൦൦"],
        ],
    )
    (tmp_path / "kpi.toml").write_text(f'calendar = "persian"\n[source]\nurl = "{folder}"\n')
    code, out, err = run_kpi("compute", "revenue", "--period", "2026-W47", "--format", "json")
    assert code == 0, err
    result = json.loads(out)[0]
    # 1234.50 + 10.00 + 5.00, on 17, 18 and 19 November.
    assert (result["value"], result["n"], result["left_out"]) == (1249.5, 3, [])


def test_marketing_spend_is_never_deduplicated(run_kpi, tmp_path):
    # Rule "duplicates": two equal spends on one day are real.
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(
        folder / "marketing_spend.csv",
        [["spent_on", "channel", "amount"], ["17.11.2026", "ads", "50,00"], ["17.11.2026", "ads", "50,00"]],
    )
    write_csv(folder / "customers.csv", CUSTOMERS[:3])
    cac = compute_json(run_kpi, folder, "cac")["cac"]
    # (50.00 + 50.00) / 2 customers signed up in W47 = 50.00.
    assert cac["value"] == 50.0
    assert cac["duplicates"] == []


def test_check_data_names_column_count_examples_lines_and_duplicates(run_kpi, exported):
    # Rule "what still does not parse": kpi check --data says how each column was read, what was left
    # out (with line numbers: the header is line 1) and the rows counted once.
    code, out, err = run_kpi("check", "--data", "--source", str(exported))
    assert code == 1, out + err
    suffix = exported.glob("customers.*").__next__().suffix
    assert (
        f"  customers (customers{suffix}): 6 row(s) read; 1 identical row(s) counted once (line 7); 1 row(s) "
        "replaced by a later row with the same id (the last wins; ids: 3)"
    ) in out
    assert (
        "  customers.signup_at: read month first (decided by the column's values); 1 value(s) left out of "
        "the metrics that read it (1 not a time; e.g. line 9: 'sometime')"
    ) in out
    assert (
        "  orders.ordered_at: read day first (decided by the column's values); 1 value(s) left out of the "
        "metrics that read it (1 another format than the column's; e.g. line 7: '2026-11-21')"
    ) in out
    assert "  orders.amount: read decimal ',' (decided by the column's values); 1 value(s) left out" in out
    assert "line 6: 'n/a'" in out


def test_check_data_says_when_the_locale_decided(run_kpi, tmp_path):
    # Rule "time text": no value over 12 in the first two fields, so the locale (de: day first) decides.
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(
        folder / "orders.csv",
        [["order_id", "customer_id", "ordered_at", "amount"], ["1", "1", "05.11.2026", "1.234"]],
    )
    (tmp_path / "kpi.toml").write_text(f'locale = "de"\n[source]\nurl = "{folder}"\n')
    code, out, err = run_kpi("check", "--data")
    assert code == 0, out + err
    assert (
        "  orders.ordered_at: read day first (no value shows whether the day or the month comes first, so "
        "the locale de's order); every value read"
    ) in out
    # '1.234' shows no decimal separator either: de's is ',', so it is 1234.
    code, out, err = run_kpi("compute", "revenue", "--period", "2026-W45", "--format", "json")
    assert json.loads(out)[0]["value"] == 1234.0


def test_check_data_reports_duplicate_ids_of_a_database(run_kpi, tmp_path):
    # Rule "duplicates" on SQL sources: reported, left as the database has them.
    import sqlite3

    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE orders (order_id, customer_id, ordered_at, amount)")
        connection.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [
                (7, 1, "2026-11-17 10:00:00", 5),
                (7, 1, "2026-11-17 10:00:00", 5),
                (8, 1, "2026-11-18 10:00:00", 3),
            ],
        )
    _, out, _ = run_kpi("check", "--data", "--source", str(database))
    assert (
        "  orders.order_id: 1 id(s) held by more than one row (e.g. 7); the metrics count every row as the "
        "database has it"
    ) in out
    revenue = compute_json(run_kpi, database, "revenue")["revenue"]
    assert revenue["value"] == 13.0 and revenue["duplicates"] == []


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "4 customers, 1 left out, 2 duplicates"),
        ("fa", "۱ کنار گذاشته شد، ۲ تکراری"),
        ("bn", "১টি বাদ, ২টি ডুপ্লিকেট"),
        ("ml", "൧ ഒഴിവാക്കി, ൨ ആവർത്തനങ്ങൾ"),
        ("ig", "a hapụrụ 1, 2 ugboro abụọ"),
    ],
)
def test_the_based_on_cell_in_five_languages(run_kpi, tmp_path, locale, expected):
    # Rule "what still does not parse": plural forms from the catalogs (ml: one ആവർത്തനം, two ആവർത്തനങ്ങൾ).
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "customers.csv", CUSTOMERS)
    (tmp_path / "kpi.toml").write_text(
        f'locale = "{locale}"\ndigits = "native"\n[source]\nurl = "{folder}"\n'
    )
    code, out, err = run_kpi("compute", "new_customers", "--period", "2026-W47", "--wide")
    assert code == 0, err
    assert expected in out


@pytest.mark.parametrize(
    ("top", "says"),
    [
        (
            "",
            [
                "'email' is not a dimension (it looks like personal data; declare it in [entities.customers] "
                "dimensions to use it). Dimensions: region, plan"
            ],
        ),
        ('locale = "fa_IR"\n', ["«email» بُعد نیست (به داده‌های شخصی می‌ماند؛", "بُعدها: region، plan"]),
    ],
)
def test_chat_refuses_a_breakdown_by_personal_data_in_its_language(tmp_path, demo_database, top, says):
    # Rule "personal data": `/kpi churn_rate by email` gets the CLI's sentence, in the chat's language.
    from kpicore.chat.answers import Asker
    from kpicore.config import load_config
    from tests.chat_support import kpi_folder
    from tests.support.answerers import CountingAnswerer

    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "customers.csv", CUSTOMERS)
    write_csv(folder / "orders.csv", ORDERS)
    answerer = CountingAnswerer(
        load_config(kpi_folder(tmp_path, demo_database, source=str(folder), top=top) / "kpi.toml")
    )
    try:
        reply = answerer.reply("churn_rate 2026-W47 by email", Asker("U1", "C1", "general"))
    finally:
        answerer.close()
    text = json.dumps(reply.message, ensure_ascii=False)
    assert all(part in text for part in says), text
    assert "ann@example.com" not in text and answerer.computes == 0


def test_the_new_keys_are_known_to_kpi_check(run_kpi, exported, tmp_path):
    # Rule "Excel" (and "time text", "amounts"): formats, decimal and sheet pass the key check; a typo does not.
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{exported}"\n[entities.orders]\ndecimal = ","\nsheet = "Sheet"\n'
        'formats = { ordered_at = "%d.%m.%Y %H:%M" }\n'
    )
    code, out, err = run_kpi("check")
    assert code == 0, out + err
    (tmp_path / "kpi.toml").write_text(f'[source]\nurl = "{exported}"\n[entities.orders]\ndecimals = ","\n')
    code, out, err = run_kpi("check")
    assert code != 0 and "unknown key 'decimals'" in out + err


def test_a_clean_file_reads_the_same_by_the_fast_path(run_kpi, tmp_path):
    # Rule "cost": a file already clean (ISO text, plain amounts, no repeats) is typed by DuckDB directly;
    # the same rows with one repeated (the general path) give the same figures. 12.50 + 7.25 - 3.00.
    rows = [
        ["order_id", "customer_id", "ordered_at", "amount"],
        ["1", "1", "2026-11-17 10:00:00", "12.50"],
        ["2", "1", "2026-11-18T09:30:00+01:00", "7.25"],
        ["3", "2", "2026-11-19", "-3.00"],
    ]
    clean, repeated = tmp_path / "clean", tmp_path / "repeated"
    clean.mkdir()
    repeated.mkdir()
    write_csv(clean / "orders.csv", rows)
    write_csv(repeated / "orders.csv", [*rows, rows[1]])
    fast = compute_json(run_kpi, clean, "revenue")["revenue"]
    general = compute_json(run_kpi, repeated, "revenue")["revenue"]
    assert fast["value"] == general["value"] == 16.75
    assert (fast["n"], fast["duplicates"]) == (3, [])
    assert general["duplicates"] == [{"entity": "orders", "kind": "rows", "count": 1}]


def test_a_dimension_named_in_kpi_toml_is_used_as_written(run_kpi, tmp_path):
    # Rule "personal data": 51 regions are too many for a default segment, but [insights] dimensions
    # names region, so a breakdown by it is used as written (a 51st region never breaks a digest).
    folder = tmp_path / "exports"
    folder.mkdir()
    customers = [["customer_id", "region", "signup_at"]]
    customers += [[str(i), f"region {i:02d}", "2026-11-17 10:00:00"] for i in range(51)]
    write_csv(folder / "customers.csv", customers)
    write_csv(folder / "orders.csv", [ORDERS[0], ["1", "7", "2026-11-17 10:00:00", "5.00"]])
    code, _, err = run_kpi(
        "compute", "revenue", "--period", "2026-W47", "--source", str(folder), "--by", "region"
    )
    assert code == 2
    assert "'region' is not a dimension (it has more than 50 values;" in err
    (tmp_path / "kpi.toml").write_text(f'[source]\nurl = "{folder}"\n[insights]\ndimensions = ["region"]\n')
    code, out, err = run_kpi(
        "compute", "revenue", "--period", "2026-W47", "--by", "region", "--format", "json"
    )
    assert code == 0, err
    assert json.loads(out)[0]["segments"][0] == {
        "segment": "region 07",
        "value": 5.0,
        "previous": 0.0,
        "delta": 5.0,
        "n": 1,
    }
