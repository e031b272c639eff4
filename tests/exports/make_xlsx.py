#!/usr/bin/env python3
"""Writes the Excel export fixture tests/exports/pos_xlsx/ from data/sample.

Run from the repository root:

    python3 tests/exports/make_xlsx.py

A distributor's point-of-sale report as partners send it: a workbook
`prm/pos_q3.xlsx` with the report on a sheet `POS Q3` (the distributor's column
names, quantities and prices as numbers shown with `#,##0.00`, dates as Excel dates
shown `mm/dd/yyyy`, an empty cell where no deal was registered) and a `Read me` sheet
of notes. It replaces data/sample's prm/partner_sales_reports. `broken/pos_q3.xlsx` is
the same workbook with one `#DIV/0!` cell, for the error test.

The staging SQL and revleak.toml beside the snapshot are hand-written. The script
needs pyarrow and openpyxl (tests/readers/requirements.txt). Afterwards it reads the
workbook back with openpyxl and checks every cell against the sample: lossless.
"""

import datetime as dt
import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq

SAMPLE = Path("data/sample")
FIXTURE = Path("tests/exports/pos_xlsx")
SHEET = "POS Q3"
# The distributor's column names for the contract's, in the sample's order.
COLUMNS = {
    "report_line_id": "Line Ref",
    "partner_id": "Reseller ID",
    "deal_id": "Deal Reg #",
    "customer_id": "End Customer",
    "sku": "Part Number",
    "quantity": "Qty",
    "unit_price": "Unit Price",
    "currency": "Currency",
    "sale_date": "Invoice Date",
    "reported_date": "Report Date",
}
# A fixed creation time, so that the workbook's properties do not change per run.
CREATED = dt.datetime(2025, 10, 1, 9, 0, 0)


def workbook(rows, broken=False):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append(list(COLUMNS.values()))
    for row in rows:
        sheet.append(
            [
                # prices as the float Excel keeps: the reader must give back 152.1
                float(row[c]) if isinstance(row[c], Decimal) else row[c]
                for c in COLUMNS
            ]
        )
    for r in range(2, sheet.max_row + 1):
        sheet.cell(r, 7).number_format = "#,##0.00"
        sheet.cell(r, 9).number_format = "mm/dd/yyyy"
        sheet.cell(r, 10).number_format = "mm/dd/yyyy"
    if broken:
        # the unit price of the sixth report line: a formula that divided by zero
        sheet.cell(7, 7).value = "#DIV/0!"
    notes = book.create_sheet("Read me")
    notes.append(["Note"])
    notes.append(["Quarterly POS report: one line per end-customer sale, prices in the sale currency."])
    book.properties.created = CREATED
    return book


def save(book, path):
    """Saves the workbook with every zip entry dated CREATED: the same bytes each run."""
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w") as target:
        for entry in source.infolist():
            dated = zipfile.ZipInfo(entry.filename, date_time=CREATED.timetuple()[:6])
            dated.compress_type = zipfile.ZIP_DEFLATED
            data = source.read(entry.filename)
            if entry.filename == "docProps/core.xml":
                # openpyxl stamps the save time as `modified`, whatever was set
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2025-10-01T09:00:00Z", data)
            target.writestr(dated, data)


def main():
    table = pq.read_table(SAMPLE / "prm/partner_sales_reports.parquet")
    assert table.column_names == list(COLUMNS), table.column_names
    rows = table.to_pylist()
    (FIXTURE / "snapshot/prm").mkdir(parents=True, exist_ok=True)
    (FIXTURE / "broken").mkdir(parents=True, exist_ok=True)
    good = FIXTURE / "snapshot/prm/pos_q3.xlsx"
    save(workbook(rows), good)
    save(workbook(rows, broken=True), FIXTURE / "broken/pos_q3.xlsx")
    (FIXTURE / "replaces.txt").write_text("prm/partner_sales_reports.parquet\n")

    # lossless: every cell read back is the sample's value
    sheet = openpyxl.load_workbook(good)[SHEET]
    back = list(sheet.iter_rows(values_only=True))
    assert list(back[0]) == list(COLUMNS.values())
    assert len(back) - 1 == len(rows)
    for got, want in zip(back[1:], rows):
        for value, column in zip(got, COLUMNS):
            expected = want[column]
            if isinstance(expected, Decimal):
                # the float's shortest decimal text (what revleak reads) is the price
                assert Decimal(repr(value)) == expected, (value, expected)
            elif isinstance(expected, dt.date):
                assert value == dt.datetime.combine(expected, dt.time()), (value, expected)
            else:
                assert value == expected, (column, value, expected)
    print(f"{good}: {len(rows)} rows, lossless")


if __name__ == "__main__":
    main()
