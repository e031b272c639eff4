#!/usr/bin/env python3
"""Writes the real-shaped export fixtures under tests/exports/ from data/sample.

Run from the repository root:

    python3 tests/exports/make_exports.py

Each fixture folder gets a fresh `snapshot/` (only the raw tables that differ from
data/sample) and `replaces.txt` (the canonical sample files those raw tables replace).
The staging SQL overrides (`queries/staging/*.sql`) and `revleak.toml` beside them are
hand-written and only read here. The output is deterministic: no clock, no random
generator; row orders and times of day come from CRC32 of each row's key.

At the end the script proves the fixtures lossless: it reads every raw table back (the
CSV with two independent parsers), applies Python equivalents of the staging SQL, and
asserts the result equals the canonical sample table exactly (same types, decimals
compared exactly, rows compared after sorting by the primary key).
"""

import csv
import datetime as dt
import io
import shutil
import struct
import zlib
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

SAMPLE = Path("data/sample")
EXPORTS = Path("tests/exports")
CRM_CSV = EXPORTS / "crm_csv"
BILLING_CENTS = EXPORTS / "billing_cents"

# Primary keys of the canonical tables replaced here (docs/contract.md).
PK = {
    "crm/deals": ["deal_id"],
    "crm/deal_lines": ["deal_id", "line_no"],
    "billing/invoices": ["invoice_id"],
    "billing/invoice_lines": ["invoice_id", "line_no"],
    "billing/credit_notes": ["credit_note_id"],
    "billing/payments": ["payment_id"],
    "prm/partners": ["partner_id"],
    "commissions/payouts": ["payout_id"],
}

# crm_csv: the CRM's words for the contract's values, one to one.
STAGE_TO_CRM = {"open": "Negotiation", "closed_won": "Closed Won", "closed_lost": "Closed Lost"}
TYPE_TO_CRM = {"new": "New Business", "renewal": "Renewal", "expansion": "Upsell"}
CSV_HEADER = [
    "Opportunity ID",
    "Partner Account ID",
    "Account ID",
    "Stage",
    "Close Date",
    "Currency",
    "Type",
    "Renewal Of Subscription",
    "Description",
]
# Free text the staging view ignores; None = empty field. Cycled over the rows.
DESCRIPTIONS = [
    None,
    "Partner registered the deal; customer wants a 3-year term",
    None,
    'Quote sent as "Enterprise Bundle" (v2)',
    None,
    "Call notes:\nbudget approved; PO expected next week",
    None,
    None,
    'Müller GmbH asked for € pricing; see "Pricing FAQ", section 2',
    'Two-line note\r\nwith CRLF inside and a "quoted" word',
    None,
    "D00000000;P00001;C0000000;Closed Won;01.01.2025;USD;New Business;;not a row",
    None,
    '"',
    ";",
    "  leading spaces, trailing newline\n",
]

MONEY = pa.decimal128(18, 2)
WIDE = pa.decimal128(38, 10)
US = pa.timestamp("us")
MS = pa.timestamp("ms")


# ---------------------------------------------------------------- helpers


def crc(*parts) -> int:
    return zlib.crc32(":".join(str(p) for p in parts).encode())


def read_sample(table: str) -> pa.Table:
    return pq.read_table(SAMPLE / f"{table}.parquet")


def shuffled(rows, key, salt):
    """A fixed order unrelated to the sample's: by CRC32 of the key."""
    return sorted(rows, key=lambda r: (crc(salt, *(r[k] for k in key)), [r[k] for k in key]))


def exact(d: Decimal | None, scale: int) -> Decimal | None:
    """`d` at `scale` decimals; asserts nothing is rounded away."""
    if d is None:
        return None
    q = d.quantize(Decimal(1).scaleb(-scale))
    assert q == d, f"{d} does not fit {scale} decimals exactly"
    return q


def to_cents(d: Decimal | None) -> int | None:
    if d is None:
        return None
    c = d * 100
    assert c == c.to_integral_value(), f"{d} is not whole cents"
    return int(c)


def time_of_day(key, column: str, unit: str) -> dt.time:
    """A time of day that is never midnight, from the row's key: whole seconds mostly,
    sub-second parts for some, and the last representable instant of the day for a few."""
    h = crc(column, *key)
    if h % 37 == 0:
        return dt.time(23, 59, 59, 999999 if unit == "us" else 999000)
    seconds = 1 + h % 86399
    frac = 0
    if h % 5 == 0:
        frac = (h // 86399) % 1_000_000 if unit == "us" else ((h // 86399) % 1000) * 1000
    return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60, frac)


def stamp(d: dt.date | None, key, column: str, unit: str = "us") -> dt.datetime | None:
    return None if d is None else dt.datetime.combine(d, time_of_day(key, column, unit))


def write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def hadoop_crc(data: bytes, bytes_per_sum: int = 512) -> bytes:
    """What Hadoop's ChecksumFileSystem writes beside a file as `.<name>.crc`."""
    out = b"crc\x00" + struct.pack(">i", bytes_per_sum)
    for i in range(0, len(data), bytes_per_sum):
        out += struct.pack(">I", zlib.crc32(data[i : i + bytes_per_sum]))
    return out


def fresh(fixture: Path) -> Path:
    snapshot = fixture / "snapshot"
    if snapshot.exists():
        shutil.rmtree(snapshot)
    snapshot.mkdir(parents=True)
    return snapshot


def write_replaces(fixture: Path, tables: list[str]) -> None:
    (fixture / "replaces.txt").write_text("".join(f"{t}.parquet\n" for t in tables))


# ---------------------------------------------------------------- fixture 1: crm_csv


def write_crm_csv() -> None:
    snap = fresh(CRM_CSV)

    deals = read_sample("crm/deals").to_pylist()
    out = io.StringIO(newline="")
    w = csv.writer(
        out,
        delimiter=";",
        quotechar='"',
        doublequote=True,
        quoting=csv.QUOTE_MINIMAL,
        lineterminator="\r\n",
    )
    w.writerow(CSV_HEADER)
    for i, r in enumerate(shuffled(deals, ["deal_id"], "opportunities")):
        text = lambda v: "" if v is None else v  # noqa: E731
        w.writerow(
            [
                r["deal_id"],
                text(r["partner_id"]),
                r["customer_id"],
                STAGE_TO_CRM[r["stage"]],
                "" if r["close_date"] is None else r["close_date"].strftime("%d.%m.%Y"),
                r["currency"],
                TYPE_TO_CRM[r["deal_type"]],
                text(r["renewal_of_subscription_id"]),
                text(DESCRIPTIONS[i % len(DESCRIPTIONS)]),
            ]
        )
    path = snap / "crm" / "opportunities.csv"
    path.parent.mkdir(parents=True)
    # UTF-8 with a byte order mark, as spreadsheet-friendly CRM exports write it.
    path.write_bytes(out.getvalue().encode("utf-8-sig"))

    lines = read_sample("crm/deal_lines").to_pylist()
    lines = shuffled(lines, ["deal_id", "line_no"], "deal_lines")
    col = lambda name: [r[name] for r in lines]  # noqa: E731
    raw = pa.table(
        {
            "OpportunityId": pa.array(col("deal_id"), pa.string()),
            "LineNumber": pa.array(col("line_no"), pa.int64()),
            "ProductCode": pa.array(col("sku"), pa.string()),
            "Qty": pa.array(col("quantity"), pa.int64()),
            "UnitListPrice": pa.array([exact(v, 10) for v in col("list_price")], WIDE),
            "DiscountFraction": pa.array(
                [exact(v.scaleb(-2), 10) for v in col("discount_pct")], WIDE
            ),
            "NetAmount": pa.array([exact(v, 10) for v in col("net_amount")], WIDE),
            "TermMonths": pa.array(col("term_months"), pa.int64()),
        }
    )
    write_parquet(raw, snap / "crm" / "deal_lines.parquet")
    write_replaces(CRM_CSV, ["crm/deals", "crm/deal_lines"])


# ---------------------------------------------------------------- fixture 2: billing_cents


def write_billing_cents() -> None:
    snap = fresh(BILLING_CENTS)

    inv = read_sample("billing/invoices").to_pylist()
    k = lambda r: [r["invoice_id"]]  # noqa: E731
    write_parquet(
        pa.table(
            {
                "invoice_number": pa.array([r["invoice_id"] for r in inv], pa.string()),
                "deal_id": pa.array([r["deal_id"] for r in inv], pa.string()),
                "bill_to_partner_id": pa.array([r["partner_id"] for r in inv], pa.string()),
                "customer_id": pa.array([r["customer_id"] for r in inv], pa.string()),
                "created_at": pa.array(
                    [stamp(r["invoice_date"], k(r), "created_at") for r in inv], US
                ),
                "due_at": pa.array([stamp(r["due_date"], k(r), "due_at") for r in inv], US),
                "currency_code": pa.array([r["currency"] for r in inv], pa.string()),
                "status": pa.array([r["status"] for r in inv], pa.string()),
                "total_amount_cents": pa.array(
                    [to_cents(r["total_amount"]) for r in inv], pa.int64()
                ),
            }
        ),
        snap / "billing" / "invoices.parquet",
    )

    lines = read_sample("billing/invoice_lines").to_pylist()
    k = lambda r: [r["invoice_id"], r["line_no"]]  # noqa: E731
    write_parquet(
        pa.table(
            {
                "invoice_number": pa.array([r["invoice_id"] for r in lines], pa.string()),
                "line_number": pa.array([r["line_no"] for r in lines], pa.int64()),
                "sku": pa.array([r["sku"] for r in lines], pa.string()),
                "quantity": pa.array([r["quantity"] for r in lines], pa.int64()),
                "unit_price_cents": pa.array(
                    [to_cents(r["unit_price"]) for r in lines], pa.int64()
                ),
                "discount_pct": pa.array(
                    [r["discount_pct"] for r in lines], pa.decimal128(5, 2)
                ),
                "line_amount_cents": pa.array(
                    [to_cents(r["line_amount"]) for r in lines], pa.int64()
                ),
                "period_start_at": pa.array(
                    [stamp(r["service_start"], k(r), "period_start_at") for r in lines], US
                ),
                "period_end_at": pa.array(
                    [stamp(r["service_end"], k(r), "period_end_at") for r in lines], US
                ),
            }
        ),
        snap / "billing" / "invoice_lines.parquet",
    )

    cns = read_sample("billing/credit_notes").to_pylist()
    write_parquet(
        pa.table(
            {
                "credit_note_number": pa.array([r["credit_note_id"] for r in cns], pa.string()),
                "invoice_number": pa.array([r["invoice_id"] for r in cns], pa.string()),
                "issued_at": pa.array(
                    [stamp(r["issued_date"], [r["credit_note_id"]], "issued_at") for r in cns],
                    US,
                ),
                "amount_cents": pa.array([to_cents(r["amount"]) for r in cns], pa.int64()),
                "reason": pa.array([r["reason"] for r in cns], pa.string()),
            }
        ),
        snap / "billing" / "credit_notes.parquet",
    )

    pays = read_sample("billing/payments").to_pylist()
    write_parquet(
        pa.table(
            {
                "payment_id": pa.array([r["payment_id"] for r in pays], pa.string()),
                "invoice_number": pa.array([r["invoice_id"] for r in pays], pa.string()),
                "received_at": pa.array(
                    [stamp(r["payment_date"], [r["payment_id"]], "received_at") for r in pays],
                    US,
                ),
                "amount_cents": pa.array([to_cents(r["amount"]) for r in pays], pa.int64()),
                "currency_code": pa.array([r["currency"] for r in pays], pa.string()),
            }
        ),
        snap / "billing" / "payments.parquet",
    )

    # Partners as pandas writes them when its text columns are `category`: Parquet
    # dictionary-encoded, and Arrow dictionary types in the stored schema.
    partners = read_sample("prm/partners")
    df = partners.to_pandas()
    for name in ["partner_id", "name", "tier", "parent_partner_id", "region", "status"]:
        df[name] = df[name].astype("category")
    path = snap / "prm" / "partners.parquet"
    path.parent.mkdir(parents=True)
    df.to_parquet(path, engine="pyarrow", index=False)

    # Payouts as Spark writes a table: a folder of part files, _SUCCESS, hidden .crc files.
    pay = read_sample("commissions/payouts")
    rows = pay.to_pylist()
    raw = pa.table(
        {
            "payout_id": pay["payout_id"],
            "partner_id": pay["partner_id"],
            "deal_id": pay["deal_id"],
            "level": pay["level"],
            "rate_pct": pay["rate_pct"],
            "amount": pay["amount"],
            "currency": pay["currency"],
            "paid_at": pa.array(
                [stamp(r["payout_date"], [r["payout_id"]], "paid_at", "ms") for r in rows], MS
            ),
        }
    )
    folder = snap / "commissions" / "payouts"
    folder.mkdir(parents=True)
    split = 800
    for i, part in enumerate([raw.slice(0, split), raw.slice(split)]):
        name = f"part-{i:05d}.snappy.parquet"
        pq.write_table(part, folder / name, compression="snappy")
        (folder / f".{name}.crc").write_bytes(hadoop_crc((folder / name).read_bytes()))
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "._SUCCESS.crc").write_bytes(hadoop_crc(b""))

    write_replaces(
        BILLING_CENTS,
        [
            "billing/invoices",
            "billing/invoice_lines",
            "billing/credit_notes",
            "billing/payments",
            "prm/partners",
            "commissions/payouts",
        ],
    )


# ---------------------------------------------------------------- staging, in Python


def nullif_empty(v):
    return None if v == "" else v


def stage_deals(raw: pa.Table) -> dict:
    """queries/staging/deals.sql over crm.opportunities (every column text)."""
    rows = raw.to_pylist()
    crm_stage = {v: k for k, v in STAGE_TO_CRM.items()}
    crm_type = {v: k for k, v in TYPE_TO_CRM.items()}

    def to_date(v):
        v = nullif_empty(v)
        return None if v is None else dt.datetime.strptime(v, "%d.%m.%Y").date()

    return {
        "deal_id": [r["Opportunity ID"] for r in rows],
        "partner_id": [nullif_empty(r["Partner Account ID"]) for r in rows],
        "customer_id": [r["Account ID"] for r in rows],
        "stage": [crm_stage.get(r["Stage"], r["Stage"]) for r in rows],
        "close_date": [to_date(r["Close Date"]) for r in rows],
        "currency": [r["Currency"] for r in rows],
        "deal_type": [crm_type.get(r["Type"], r["Type"]) for r in rows],
        "renewal_of_subscription_id": [
            nullif_empty(r["Renewal Of Subscription"]) for r in rows
        ],
    }


def stage_deal_lines(raw: pa.Table) -> dict:
    """queries/staging/deal_lines.sql over crm.deal_lines."""
    rows = raw.to_pylist()
    return {
        "deal_id": [r["OpportunityId"] for r in rows],
        "line_no": [r["LineNumber"] for r in rows],
        "sku": [r["ProductCode"] for r in rows],
        "quantity": [r["Qty"] for r in rows],
        "list_price": [exact(r["UnitListPrice"], 2) for r in rows],
        "discount_pct": [exact(r["DiscountFraction"] * 100, 2) for r in rows],
        "net_amount": [exact(r["NetAmount"], 2) for r in rows],
        "term_months": [r["TermMonths"] for r in rows],
    }


def cents(v):
    """cast(cast(v as decimal(20,0)) / 100 as decimal(18,2))"""
    return None if v is None else exact(Decimal(v).scaleb(-2), 2)


def day(v):
    """cast(v as date) of a timestamp without a time zone: the day it falls on."""
    return None if v is None else v.date()


def stage_invoices(raw: pa.Table) -> dict:
    rows = raw.to_pylist()
    return {
        "invoice_id": [r["invoice_number"] for r in rows],
        "deal_id": [r["deal_id"] for r in rows],
        "partner_id": [r["bill_to_partner_id"] for r in rows],
        "customer_id": [r["customer_id"] for r in rows],
        "invoice_date": [day(r["created_at"]) for r in rows],
        "due_date": [day(r["due_at"]) for r in rows],
        "currency": [r["currency_code"] for r in rows],
        "status": [r["status"] for r in rows],
        "total_amount": [cents(r["total_amount_cents"]) for r in rows],
    }


def stage_invoice_lines(raw: pa.Table) -> dict:
    rows = raw.to_pylist()
    return {
        "invoice_id": [r["invoice_number"] for r in rows],
        "line_no": [r["line_number"] for r in rows],
        "sku": [r["sku"] for r in rows],
        "quantity": [r["quantity"] for r in rows],
        "unit_price": [cents(r["unit_price_cents"]) for r in rows],
        "discount_pct": [r["discount_pct"] for r in rows],
        "line_amount": [cents(r["line_amount_cents"]) for r in rows],
        "service_start": [day(r["period_start_at"]) for r in rows],
        "service_end": [day(r["period_end_at"]) for r in rows],
    }


def stage_credit_notes(raw: pa.Table) -> dict:
    rows = raw.to_pylist()
    return {
        "credit_note_id": [r["credit_note_number"] for r in rows],
        "invoice_id": [r["invoice_number"] for r in rows],
        "issued_date": [day(r["issued_at"]) for r in rows],
        "amount": [cents(r["amount_cents"]) for r in rows],
        "reason": [r["reason"] for r in rows],
    }


def stage_payments(raw: pa.Table) -> dict:
    rows = raw.to_pylist()
    return {
        "payment_id": [r["payment_id"] for r in rows],
        "invoice_id": [r["invoice_number"] for r in rows],
        "payment_date": [day(r["received_at"]) for r in rows],
        "amount": [cents(r["amount_cents"]) for r in rows],
        "currency": [r["currency_code"] for r in rows],
    }


def stage_partners(raw: pa.Table) -> dict:
    """cast(x as varchar) of each dictionary column: its plain text."""
    return {
        name: (
            pc.cast(raw[name], pa.string()).to_pylist()
            if pa.types.is_dictionary(raw[name].type)
            else raw[name].to_pylist()
        )
        for name in raw.column_names
    }


def stage_payouts(raw: pa.Table) -> dict:
    rows = raw.to_pylist()
    cols = {n: [r[n] for r in rows] for n in raw.column_names if n != "paid_at"}
    cols["payout_date"] = [day(r["paid_at"]) for r in rows]
    return cols


# ---------------------------------------------------------------- reading raw exports back


def read_csv_export(path: Path) -> pa.Table:
    """The CSV as revleak must read it: header row, `;`, `"` quotes doubled, every column
    text, an empty field null. Parsed twice, by Arrow and by Python's csv module, which
    must agree."""
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), f"{path}: no UTF-8 byte order mark"
    arrow = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding="utf8"),
        parse_options=pacsv.ParseOptions(
            delimiter=";", quote_char='"', double_quote=True, newlines_in_values=True
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in CSV_HEADER},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )
    assert arrow.column_names == CSV_HEADER, arrow.column_names
    records = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert records[0] == CSV_HEADER, records[0]
    python = [[nullif_empty(v) for v in rec] for rec in records[1:]]
    assert python == [list(r.values()) for r in arrow.to_pylist()], "CSV parsers disagree"
    return arrow


def read_part_folder(folder: Path) -> pa.Table:
    """Every `.parquet` file of the folder, skipping names starting with `_` or `.`."""
    parts = sorted(
        p for p in folder.iterdir() if not p.name.startswith(("_", ".")) and p.name.endswith(".parquet")
    )
    return pa.concat_tables([pq.read_table(p) for p in parts])


# ---------------------------------------------------------------- checks


def assert_same(table: str, staged: dict) -> None:
    expected = read_sample(table)
    got = pa.table(staged, schema=expected.schema)
    order = [(k, "ascending") for k in PK[table]]
    got, expected = got.sort_by(order), expected.sort_by(order)
    assert got.schema.equals(expected.schema), f"{table}: {got.schema} != {expected.schema}"
    assert got.num_rows == expected.num_rows, f"{table}: {got.num_rows} != {expected.num_rows}"
    for i, (a, b) in enumerate(zip(got.to_pylist(), expected.to_pylist())):
        for name in a:
            va, vb = a[name], b[name]
            # Decimals exactly: same value and same number of decimals.
            same = va == vb and (
                not isinstance(va, Decimal) or va.as_tuple().exponent == vb.as_tuple().exponent
            )
            assert same, f"{table} row {i} ({b}): {name} {va!r} != {vb!r}"
    assert got.equals(expected), table
    print(f"  {table}: {got.num_rows} rows equal the sample")


def sql_mentions(fixture: Path, canonical: str, raw_table: str, columns) -> None:
    """The staging override reads `raw_table` and every raw column the Python mapping uses."""
    sql = (fixture / "queries" / "staging" / f"{canonical}.sql").read_text()
    assert f"from {raw_table}" in sql, f"{canonical}.sql does not read {raw_table}"
    for c in columns:
        name = f'"{c}"' if c != c.lower() or " " in c else c
        assert name in sql, f"{canonical}.sql does not use raw column {name}"


def verify() -> None:
    print("crm_csv:")
    snap = CRM_CSV / "snapshot"
    opp = read_csv_export(snap / "crm" / "opportunities.csv")
    text = (snap / "crm" / "opportunities.csv").read_bytes().decode("utf-8-sig")
    assert text.startswith(";".join(CSV_HEADER) + "\r\n"), "header row"
    desc = [d for d in opp["Description"].to_pylist() if d]
    assert any(";" in d for d in desc) and any('"' in d for d in desc)
    assert any("\n" in d for d in desc), "a Description with an embedded newline"
    assert '""' in text, "a doubled quote"
    sample_order = read_sample("crm/deals")["deal_id"].to_pylist()
    assert opp["Opportunity ID"].to_pylist() != sample_order, "CSV rows in the sample's order"
    assert set(opp["Stage"].to_pylist()) == set(STAGE_TO_CRM.values())
    assert set(opp["Type"].to_pylist()) == set(TYPE_TO_CRM.values())
    assert_same("crm/deals", stage_deals(opp))
    sql_mentions(CRM_CSV, "deals", "crm.opportunities", CSV_HEADER[:-1])

    lines = pq.read_table(snap / "crm" / "deal_lines.parquet")
    for c in ["UnitListPrice", "DiscountFraction", "NetAmount"]:
        assert lines.schema.field(c).type == WIDE, c
    for c in ["LineNumber", "Qty", "TermMonths"]:
        assert lines.schema.field(c).type == pa.int64(), c
    assert_same("crm/deal_lines", stage_deal_lines(lines))
    sql_mentions(CRM_CSV, "deal_lines", "crm.deal_lines", lines.column_names)
    toml = (CRM_CSV / "revleak.toml").read_text()
    assert '[csv."crm/opportunities"]' in toml and 'delimiter = ";"' in toml

    print("billing_cents:")
    snap = BILLING_CENTS / "snapshot"
    for table, fn in [
        ("invoices", stage_invoices),
        ("invoice_lines", stage_invoice_lines),
        ("credit_notes", stage_credit_notes),
        ("payments", stage_payments),
    ]:
        raw = pq.read_table(snap / "billing" / f"{table}.parquet")
        for f in raw.schema:
            assert not pa.types.is_date(f.type), f"{table}.{f.name} is still a date"
            if f.name.endswith("_cents"):
                assert f.type == pa.int64(), f"{table}.{f.name}"
            if pa.types.is_timestamp(f.type):
                assert f.type == US, f"{table}.{f.name}: {f.type}"
                times = [v.time() for v in raw[f.name].drop_null().to_pylist()]
                assert times and dt.time(0) not in times, f"{table}.{f.name} at midnight"
        assert not any(f.type == MONEY for f in raw.schema), f"{table} has a money column left"
        assert_same(f"billing/{table}", fn(raw))
        sql_mentions(BILLING_CENTS, table, f"billing.{table}", raw.column_names)

    partners = pq.read_table(snap / "prm" / "partners.parquet")
    strings = ["partner_id", "name", "tier", "parent_partner_id", "region", "status"]
    for c in strings:
        t = partners.schema.field(c).type
        assert pa.types.is_dictionary(t) and t.value_type == pa.string(), f"partners.{c}: {t}"
    meta = pq.ParquetFile(snap / "prm" / "partners.parquet").metadata
    for i in range(meta.num_columns):
        column = meta.row_group(0).column(i)
        if column.path_in_schema in strings:
            assert column.has_dictionary_page, f"partners.{column.path_in_schema} not dictionary-encoded"
    assert b"pandas" in pq.read_schema(snap / "prm" / "partners.parquet").metadata
    assert_same("prm/partners", stage_partners(partners))
    sql_mentions(BILLING_CENTS, "partners", "prm.partners", partners.column_names)

    folder = snap / "commissions" / "payouts"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "._SUCCESS.crc",
        ".part-00000.snappy.parquet.crc",
        ".part-00001.snappy.parquet.crc",
        "_SUCCESS",
        "part-00000.snappy.parquet",
        "part-00001.snappy.parquet",
    ], names
    assert (folder / "_SUCCESS").stat().st_size == 0
    parts = [pq.read_table(folder / n) for n in names if n.startswith("part-")]
    assert all(p.num_rows > 0 for p in parts)
    payouts = read_part_folder(folder)
    assert payouts.schema.field("paid_at").type == MS
    assert dt.time(0) not in [v.time() for v in payouts["paid_at"].to_pylist()]
    assert_same("commissions/payouts", stage_payouts(payouts))
    sql_mentions(BILLING_CENTS, "payouts", "commissions.payouts", payouts.column_names)

    # Each fixture overrides exactly the staging views of the tables it replaces, and
    # replaces.txt names canonical sample files.
    for fixture in [CRM_CSV, BILLING_CENTS]:
        replaced = (fixture / "replaces.txt").read_text().split()
        assert all((SAMPLE / r).exists() for r in replaced), replaced
        overrides = sorted(p.stem for p in (fixture / "queries" / "staging").glob("*.sql"))
        assert overrides == sorted(Path(r).name.removesuffix(".parquet") for r in replaced)

    size = sum(p.stat().st_size for p in EXPORTS.rglob("*") if p.is_file())
    assert size < 1_000_000, f"fixtures take {size} bytes"
    print(f"all fixtures lossless; tests/exports holds {size} bytes")


def verify_with_datafusion() -> None:
    """When the `datafusion` Python package is installed (optional: not needed to write
    or verify the fixtures), also runs each staging override in DataFusion itself, over
    the raw tables registered as `<system>.<name>` the way revleak must register them
    (the CSV with its header as an all-text schema, quoted newlines allowed), and
    compares with the sample: strings as Utf8/Utf8View/LargeUtf8, every other type exact."""
    try:
        import datafusion
    except ImportError:
        print("datafusion (Python) not installed: staging SQL checked by its Python equivalents only")
        return
    text_types = (pa.string(), pa.large_string(), pa.string_view())
    for fixture in [CRM_CSV, BILLING_CENTS]:
        config = datafusion.SessionConfig().set(
            "datafusion.sql_parser.parse_float_as_decimal", "true"
        )
        ctx = datafusion.SessionContext(config)
        snap = fixture / "snapshot"
        for system in sorted(p.name for p in snap.iterdir()):
            ctx.sql(f"create schema {system}").collect()
        for path in sorted(snap.glob("*/*")):
            name = f"{path.parent.name}.{path.name.split('.')[0]}"
            if path.suffix == ".csv":
                header = next(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig")), delimiter=";"))
                options = datafusion.CsvReadOptions(
                    has_header=True,
                    delimiter=";",
                    schema=pa.schema([(h, pa.string()) for h in header]),
                    newlines_in_values=True,
                )
                ctx.register_csv(name, str(path), options=options)
            else:
                ctx.register_parquet(name, str(path), file_extension=".parquet")
        for line in (fixture / "replaces.txt").read_text().split():
            table = line.removesuffix(".parquet")
            sql = (fixture / "queries" / "staging" / f"{Path(table).name}.sql").read_text()
            got = ctx.sql(sql).to_arrow_table()
            expected = read_sample(table)
            assert got.column_names == expected.column_names, f"{table}: {got.column_names}"
            for f in got.schema:
                want = expected.schema.field(f.name).type
                ok = f.type in text_types if want == pa.string() else f.type == want
                assert ok, f"{table}.{f.name}: DataFusion gives {f.type}, the contract wants {want}"
            assert_same(table, {n: got[n].cast(expected.schema.field(n).type).to_pylist() for n in got.column_names})
    print(f"staging SQL also checked in DataFusion {datafusion.__version__}")


def main() -> None:
    assert SAMPLE.is_dir(), "run from the repository root (data/sample not found)"
    write_crm_csv()
    write_billing_cents()
    verify()
    verify_with_datafusion()


if __name__ == "__main__":
    main()
