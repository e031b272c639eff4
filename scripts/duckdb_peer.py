#!/usr/bin/env python3
"""DuckDB peer for scripts/bench.sh: runs revleak's check SQL in DuckDB, where it parses.

Usage: duckdb_peer.py SNAPSHOT [--queries DIR] [--threads N] [--json FILE]

What it does, so the comparison stays honest:
  * every <system>/<table>.parquet (or <system>/<table>/*.parquet) becomes a view
    <system>.<table>; queries/staging/*.sql become views staging.<table>;
  * existing.<table> and clean.<table> are views over staging.<table> WITHOUT the as_of
    filter and WITHOUT revleak's data-quality rules, flagged.<table> and
    quality.row_issues are empty: DuckDB does less work than revleak here;
  * `params` is the one-row table of docs/checks.md's defaults (as_of from snapshot.json);
  * fmt_money(x) is a macro (thousands separators, 2 decimals, through a double);
  * queries/shared/*.sql are materialized as tables (as revleak does), in passes
    until their inputs exist; each check is run and its rows fetched, and timed.
Checks that fail in DuckDB are reported as not portable, with the error.
"""

import argparse
import glob
import json
import os
import sys
import time

import duckdb

PARAMS = [
    # name, SQL type, default (docs/checks.md); days are integer: DuckDB adds integers,
    # not bigints, to dates (revleak: Int64)
    ("reporting_currency", "varchar", "'USD'"),
    ("fx_base_currency", "varchar", "'USD'"),
    ("amount_tolerance", "decimal(18, 2)", "1.00"),
    ("forecast_variance_pct", "decimal(5, 2)", "10"),
    ("forecast_min_shortfall", "decimal(18, 2)", "1000.00"),
    ("forecast_lookback_months", "integer", "12"),
    ("invoice_grace_days", "integer", "30"),
    ("payment_grace_days", "integer", "15"),
    ("posting_grace_days", "integer", "5"),
    ("renewal_grace_days", "integer", "15"),
    ("renewal_lookback_days", "integer", "180"),
    ("sale_match_window_days", "integer", "30"),
    ("severity_critical", "decimal(18, 2)", "50000.00"),
    ("severity_high", "decimal(18, 2)", "10000.00"),
    ("severity_medium", "decimal(18, 2)", "1000.00"),
]


def first_line(error):
    return str(error).strip().splitlines()[0][:300]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("snapshot")
    ap.add_argument("--queries", default="queries")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the timings here as JSON")
    args = ap.parse_args()

    started = time.perf_counter()
    con = duckdb.connect(":memory:")
    con.execute(f"set threads = {args.threads}")

    as_of = "2026-11-26"
    meta = os.path.join(args.snapshot, "snapshot.json")
    if os.path.exists(meta):
        with open(meta) as f:
            as_of = json.load(f).get("as_of", as_of)

    # Raw tables: <system>.<table> views over the Parquet files.
    raw = []
    for system in sorted(os.listdir(args.snapshot)):
        sdir = os.path.join(args.snapshot, system)
        if not os.path.isdir(sdir):
            continue
        con.execute(f"create schema if not exists {system}")
        for entry in sorted(os.listdir(sdir)):
            path = os.path.join(sdir, entry)
            if entry.endswith(".parquet"):
                name, files = entry[: -len(".parquet")], path
            elif os.path.isdir(path):
                name, files = entry, os.path.join(path, "*.parquet")
            else:
                continue
            con.execute(
                f"create view {system}.{name} as select * from read_parquet('{files}')"
            )
            raw.append((system, name))

    for schema in ["staging", "existing", "clean", "flagged", "quality", "shared"]:
        con.execute(f"create schema if not exists {schema}")
    cols = ", ".join(f"cast({v} as {t}) as {n}" for n, t, v in PARAMS)
    con.execute(f"create table params as select date '{as_of}' as as_of, {cols}")
    con.execute(
        "create macro fmt_money(x) as format('{:,.2f}', cast(x as double))"
    )
    con.execute(
        "create table quality.row_issues (table_name varchar, row_key varchar, problems varchar)"
    )

    not_portable = {}
    for system, name in raw:
        staging = os.path.join(args.queries, "staging", f"{name}.sql")
        sql = open(staging).read() if os.path.exists(staging) else f"select * from {system}.{name}"
        try:
            con.execute(f"create view staging.{name} as {sql}")
        except duckdb.Error as e:
            not_portable[f"staging/{name}"] = first_line(e)
            con.execute(f"create view staging.{name} as select * from {system}.{name}")
        con.execute(f"create view existing.{name} as select * from staging.{name}")
        con.execute(f"create view clean.{name} as select * from staging.{name}")
        con.execute(f"create view flagged.{name} as select * from staging.{name} where false")
    setup_ms = (time.perf_counter() - started) * 1000

    # Shared views, materialized, in passes until no progress.
    t = time.perf_counter()
    pending = sorted(glob.glob(os.path.join(args.queries, "shared", "*.sql")))
    shared_ms = {}
    while pending:
        waiting, errors = [], {}
        for path in pending:
            name = os.path.basename(path)[: -len(".sql")]
            s = time.perf_counter()
            try:
                con.execute(f"create table shared.{name} as {open(path).read()}")
                shared_ms[name] = (time.perf_counter() - s) * 1000
            except duckdb.Error as e:
                waiting.append(path)
                errors[name] = first_line(e)
        if len(waiting) == len(pending):
            for name, err in errors.items():
                not_portable[f"shared/{name}"] = err
            break
        pending = waiting
    shared_total_ms = (time.perf_counter() - t) * 1000

    checks = {}
    for path in sorted(glob.glob(os.path.join(args.queries, "checks", "*.sql"))):
        check_id = os.path.basename(path)[: -len(".sql")]
        sql = open(path).read()
        s = time.perf_counter()
        try:
            rows = len(con.execute(sql).fetchall())
            checks[check_id] = {"ms": (time.perf_counter() - s) * 1000, "rows": rows}
        except duckdb.Error as e:
            not_portable[f"checks/{check_id}"] = first_line(e)
    total_ms = (time.perf_counter() - started) * 1000

    result = {
        "duckdb": duckdb.__version__,
        "threads": args.threads,
        "setup_ms": setup_ms,
        "shared_ms": shared_ms,
        "shared_total_ms": shared_total_ms,
        "checks": checks,
        "checks_total_ms": sum(c["ms"] for c in checks.values()),
        "total_ms": total_ms,
        "not_portable": not_portable,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(f"duckdb {duckdb.__version__}, {args.threads} threads, {args.snapshot}")
    print(f"  setup (views, params)      {setup_ms:9.1f} ms")
    print(f"  shared views materialized  {shared_total_ms:9.1f} ms ({len(shared_ms)} of them)")
    for check_id, c in checks.items():
        print(f"  {check_id:<26} {c['ms']:9.1f} ms  {c['rows']} rows")
    print(f"  checks total               {result['checks_total_ms']:9.1f} ms")
    print(f"  total                      {total_ms:9.1f} ms")
    for what, err in not_portable.items():
        print(f"  not portable: {what}: {err}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
