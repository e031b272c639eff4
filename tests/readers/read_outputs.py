"""Reads revleak's published outputs the way a BI user does, with one real reader.

    python3 read_outputs.py READER DUCKDB_VIEWS_SQL

READER is pandas, pyarrow, duckdb, polars or spark. Run from the folder that holds
`out/`: the lines marked `# README` are the README's "Reading the outputs",
verbatim (tests/it/bi_reader.rs checks that the README holds them). Prints one JSON object: for each of findings, summary,
resolved and partner_figures, the column types in a vocabulary shared by all readers (decimal(P,S),
date, string, int64, ...), and per as_of the rows, the sum of leakage_amount (billed for
partner_figures; an exact decimal string) and, for summary, the sum of its findings column. The Rust
test (tests/it/bi_reader.rs) compares them with what the runs wrote.
"""

import decimal
import json
import sys

TABLES = ["findings", "summary", "resolved", "partner_figures"]
# The money column each table's rows are summed by.
AMOUNT = {"findings": "leakage_amount", "summary": "leakage_amount", "resolved": "leakage_amount", "partner_figures": "billed"}


def decimal_sum(values):
    """The exact sum of a money column, nulls left out."""
    return str(sum((v for v in values if v is not None and v == v), decimal.Decimal("0.00")))
# Rows read with the reader's plain default call (pandas, pyarrow), per table.
PLAIN_ROWS = {}


def read_pandas(table):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    # pandas/pyarrow infer a Hive key as a string: the partitioning schema says it is a date.
    if table == "findings":
        frame = pd.read_parquet("out/findings", partitioning=ds.partitioning(pa.schema([("as_of", pa.date32())]), flavor="hive"))  # README
    else:
        frame = pd.read_parquet(f"out/{table}", partitioning=ds.partitioning(pa.schema([("as_of", pa.date32())]), flavor="hive"))
    # The first thing most analysts type, with no argument at all, must read too
    # (as_of then comes back as a category of strings).
    plain = pd.read_parquet(f"out/{table}")
    PLAIN_ROWS[table] = len(plain)
    return describe_pandas(frame, table)


def describe_pandas(frame, table):
    """The column types and the per-as_of groups of a pandas frame of `table`."""
    types = {}
    for name in frame.columns:
        values = frame[name].dropna()
        if len(values) == 0:
            types[name] = "unknown"
            continue
        first = values.iloc[0]
        if isinstance(first, decimal.Decimal):
            # pandas keeps Decimal objects; every value must have the scale of 2
            scales = {-v.as_tuple().exponent for v in values}
            types[name] = "decimal(18,2)" if scales == {2} else f"decimal scales {sorted(scales)}"
        elif type(first).__name__ == "date":
            types[name] = "date"
        elif isinstance(first, str):
            types[name] = "string"
        elif str(frame[name].dtype) == "int64":
            types[name] = "int64"
        else:
            types[name] = f"{type(first).__name__}/{frame[name].dtype}"
    groups = {}
    for as_of, rows in frame.groupby("as_of"):
        groups[str(as_of)] = {
            "rows": len(rows),
            "leakage": decimal_sum(rows[AMOUNT[table]]),
            "findings": int(rows["findings"].sum()) if "findings" in rows else None,
        }
    return types, groups


def read_pyarrow(table):
    import pyarrow as pa
    import pyarrow.dataset as ds

    if table == "findings":
        data = ds.dataset("out/findings", format="parquet", partitioning=ds.partitioning(pa.schema([("as_of", pa.date32())]), flavor="hive")).to_table()  # README
    else:
        data = ds.dataset(f"out/{table}", format="parquet", partitioning=ds.partitioning(pa.schema([("as_of", pa.date32())]), flavor="hive")).to_table()
    PLAIN_ROWS[table] = ds.dataset(f"out/{table}", format="parquet", partitioning="hive").to_table().num_rows
    return describe_arrow(data, table)


def describe_arrow(data, table):
    """The column types and the per-as_of groups of a pyarrow table of `table`."""
    import pyarrow.compute as pc

    types = {f.name: arrow_type(f.type) for f in data.schema}
    groups = {}
    for as_of in pc.unique(data["as_of"]).to_pylist():
        rows = data.filter(pc.equal(data["as_of"], as_of))
        groups[str(as_of)] = {
            "rows": rows.num_rows,
            "leakage": decimal_sum(rows[AMOUNT[table]].to_pylist()),
            "findings": pc.sum(rows["findings"]).as_py() if "findings" in rows.column_names else None,
        }
    return types, groups


def arrow_type(t):
    import pyarrow as pa

    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_date32(t):
        return "date"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_dictionary(t):
        return f"dictionary<{arrow_type(t.value_type)}>"
    return str(t)


def read_duckdb(table):
    import duckdb

    if table == "findings":
        relation = duckdb.sql("select * from read_parquet('out/findings/*/*.parquet', hive_partitioning = true)")  # README
    else:
        relation = duckdb.sql(f"select * from read_parquet('out/{table}/*/*.parquet', hive_partitioning = true)")
    types, groups = describe_duckdb(relation, table)
    # The views a BI tool or analyst starts with (docs/duckdb_views.sql) give the same table.
    con = duckdb.connect()
    with open(VIEWS) as sql:
        con.execute(sql.read())
    (from_view,) = con.execute(f"select count(*) from {table}").fetchone()
    if from_view != sum(g["rows"] for g in groups.values()):
        raise SystemExit(f"view {table} has {from_view} rows, read_parquet {groups}")
    return types, groups


def describe_duckdb(relation, table):
    """The column types and the per-as_of groups of a DuckDB relation of `table`."""
    duck = {"BIGINT": "int64", "DATE": "date", "VARCHAR": "string"}
    types = {}
    for name, kind in zip(relation.columns, relation.types):
        kind = str(kind)
        types[name] = duck.get(kind, kind.replace("DECIMAL", "decimal").replace(", ", ","))
    findings_sum = "sum(findings)::bigint" if "findings" in relation.columns else "null"
    rows = relation.query(
        "t", f"select as_of::varchar, count(*), coalesce(sum({AMOUNT[table]}), 0)::decimal(38,2)::varchar, {findings_sum} from t group by all"
    ).fetchall()
    groups = {a: {"rows": n, "leakage": s, "findings": f} for a, n, s, f in rows}
    return types, groups


def read_polars(table):
    import polars as pl

    if table == "findings":
        frame = pl.scan_parquet("out/findings/", hive_partitioning=True).collect()  # README
    else:
        frame = pl.scan_parquet(f"out/{table}/", hive_partitioning=True).collect()
    return describe_polars(frame, table)


def describe_polars(frame, table):
    """The column types and the per-as_of groups of a polars frame of `table`."""
    import polars as pl

    types = {}
    for name, kind in frame.schema.items():
        if isinstance(kind, pl.Decimal):
            types[name] = f"decimal({kind.precision},{kind.scale})"
        else:
            types[name] = {pl.Date: "date", pl.String: "string", pl.Int64: "int64"}.get(kind, str(kind))
    groups = {}
    for (as_of,), rows in frame.group_by("as_of"):
        groups[str(as_of)] = {
            "rows": rows.height,
            "leakage": decimal_sum(rows[AMOUNT[table]].to_list()),
            "findings": int(rows["findings"].sum()) if "findings" in rows.columns else None,
        }
    return types, groups


SPARK = None


def read_spark(table):
    global SPARK
    if SPARK is None:
        from pyspark.sql import SparkSession

        SPARK = (
            SparkSession.builder.master("local[1]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .getOrCreate()
        )
    spark = SPARK

    if table == "findings":
        frame = spark.read.parquet("out/findings")  # README
    else:
        frame = spark.read.parquet(f"out/{table}")
    spark_types = {"date": "date", "string": "string", "bigint": "int64"}
    types = {}
    for name, kind in frame.dtypes:
        types[name] = spark_types.get(kind, kind.replace(", ", ","))
    groups = {}
    for row in frame.collect():
        key = str(row["as_of"])
        g = groups.setdefault(key, {"rows": 0, "leakage": decimal.Decimal("0.00"), "findings": None})
        g["rows"] += 1
        if row[AMOUNT[table]] is not None:
            g["leakage"] += row[AMOUNT[table]]
        if "findings" in frame.columns:
            g["findings"] = (g["findings"] or 0) + row["findings"]
    for g in groups.values():
        g["leakage"] = str(g["leakage"])
    return types, groups


READERS = {
    "pandas": read_pandas,
    "pyarrow": read_pyarrow,
    "duckdb": read_duckdb,
    "polars": read_polars,
    "spark": read_spark,
}
VIEWS = None


def main():
    global VIEWS
    reader, VIEWS = sys.argv[1], sys.argv[2]
    result = {}
    for table in TABLES:
        types, groups = READERS[reader](table)
        result[table] = {"types": types, "as_of": groups, "plain_rows": PLAIN_ROWS.get(table)}
    if SPARK is not None:
        SPARK.stop()
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
