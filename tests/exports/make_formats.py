#!/usr/bin/env python3
"""Writes the raw-format fixtures of issue 32 under tests/exports/ from data/sample.

Run from the repository root:

    python3 tests/exports/make_formats.py

Like make_exports.py: each fixture folder gets a fresh `snapshot/` and `replaces.txt`;
its `queries/staging/*.sql` and `revleak.toml` are hand-written. Deterministic (rows in
the sample's order, no clock). Every value is written from the canonical table without
loss (decimals as their exact text), so the staging SQL gives the canonical rows back.

- billing_gz: billing/payments.csv.gz, a gzip CSV with export column names.
- erp_jsonl: erp/revenue_postings.jsonl, JSON lines as an API writes them: the amount a
  nested object {"value": <number as written>, "currency": ...}, and a `memo` key only on
  some lines (a missing key is null).
- prm_folder: prm/partner_sales_reports/, one CSV per partner, the partner id only in the
  file name (P00001.csv), recovered from the `_file` column.
- prm_cp1252: prm/partners.csv saved by Excel on Windows (Windows-1252), with a
  `Legal Name` column holding names like `Müller GmbH` (not used by staging).
"""

import csv
import gzip
import io
import shutil
from pathlib import Path

import pyarrow.parquet as pq

SAMPLE = Path("data/sample")
EXPORTS = Path("tests/exports")


def rows(table):
    t = pq.read_table(SAMPLE / f"{table}.parquet")
    return t.column_names, t.to_pylist()


def text(value):
    return "" if value is None else str(value)


def fresh(name, replaces):
    folder = EXPORTS / name
    shutil.rmtree(folder / "snapshot", ignore_errors=True)
    (folder / "snapshot").mkdir(parents=True)
    (folder / "replaces.txt").write_text("".join(f"{r}\n" for r in replaces))
    return folder / "snapshot"


def csv_text(header, records):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(records)
    return out.getvalue()


def billing_gz():
    snapshot = fresh("billing_gz", ["billing/payments.parquet"])
    _, payments = rows("billing/payments")
    body = csv_text(
        ["Payment Ref", "Invoice No", "Paid On", "Amount", "Currency"],
        [
            [p["payment_id"], p["invoice_id"], text(p["payment_date"]), text(p["amount"]), p["currency"]]
            for p in payments
        ],
    )
    (snapshot / "billing").mkdir()
    # mtime=0: the same bytes on every run
    (snapshot / "billing/payments.csv.gz").write_bytes(gzip.compress(body.encode(), mtime=0))


def erp_jsonl():
    snapshot = fresh("erp_jsonl", ["erp/revenue_postings.parquet"])
    _, postings = rows("erp/revenue_postings")
    lines = []
    for i, p in enumerate(postings):
        line = (
            f'{{"id": "{p["posting_id"]}", "invoice": "{p["invoice_id"]}", '
            f'"posted_on": "{p["posting_date"]}", '
            f'"amount": {{"value": {p["amount"]}, "currency": "{p["currency"]}"}}'
        )
        if i % 7 == 0:
            line += f', "memo": "batch {i // 7}"'
        lines.append(line + "}\n")
    (snapshot / "erp").mkdir()
    (snapshot / "erp/revenue_postings.jsonl").write_text("".join(lines))


def prm_folder():
    snapshot = fresh("prm_folder", ["prm/partner_sales_reports.parquet"])
    columns, reports = rows("prm/partner_sales_reports")
    header = [c for c in columns if c != "partner_id"]
    by_partner = {}
    for r in reports:
        by_partner.setdefault(r["partner_id"], []).append([text(r[c]) for c in header])
    folder = snapshot / "prm/partner_sales_reports"
    folder.mkdir(parents=True)
    for partner, records in sorted(by_partner.items()):
        (folder / f"{partner}.csv").write_text(csv_text(header, records))


def prm_cp1252():
    snapshot = fresh("prm_cp1252", ["prm/partners.parquet"])
    columns, partners = rows("prm/partners")
    legal = ["Müller GmbH", "Société Générale Intégration", "Øresund Partners ApS"]
    body = csv_text(
        columns + ["Legal Name"],
        [[text(p[c]) for c in columns] + [legal[i % len(legal)]] for i, p in enumerate(partners)],
    )
    (snapshot / "prm").mkdir()
    # Excel on Windows: Windows-1252 and CRLF
    (snapshot / "prm/partners.csv").write_bytes(body.replace("\n", "\r\n").encode("cp1252"))


if __name__ == "__main__":
    billing_gz()
    erp_jsonl()
    prm_folder()
    prm_cp1252()
