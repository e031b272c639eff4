"""Reads revleak's outputs from S3 the way a BI user does, with one real reader.

    python read_outputs_s3.py READER DUCKDB_VIEWS_SQL

READER is pandas, pandas-s3fs, pyarrow, duckdb or polars. Reads `s3://bucket/revleak`, what
`revleak run SNAPSHOT --out s3://bucket/revleak` published, with the server and credentials
from the standard variables: AWS_ENDPOINT_URL (a local or non-AWS server), AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION, and AWS_ALLOW_HTTP=true for polars on an http:// endpoint.
The lines marked `# README` are the README's "Reading the outputs", verbatim
(tests/it/object_store_readers.rs checks that the README holds them). Prints the JSON object
read_outputs.py prints for a local folder (column types, per as_of the rows and the exact
leakage sum); tests/it/object_store_readers.rs compares the two.

Runs in the readers venv of tests/servers/servers.sh install: the system python's pandas,
pyarrow and polars (tests/readers/requirements.txt) plus tests/readers/requirements-s3.txt.
"""

import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from read_outputs import (  # noqa: E402
    PLAIN_ROWS,
    TABLES,
    describe_arrow,
    describe_duckdb,
    describe_pandas,
    describe_polars,
)

NOT_INSTALLED = "the S3 readers venv lacks it: `bash .ci/run` (or `bash tests/servers/servers.sh install`) installs it"


def read_pandas(table):
    """pandas hands an s3:// path without storage_options to pyarrow's own S3 filesystem."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    if table == "findings":
        frame = pd.read_parquet("s3://bucket/revleak/findings", partitioning=ds.partitioning(pa.schema([("as_of", pa.date32())]), flavor="hive"))  # README
    else:
        frame = pd.read_parquet(f"s3://bucket/revleak/{table}", partitioning=ds.partitioning(pa.schema([("as_of", pa.date32())]), flavor="hive"))
    PLAIN_ROWS[table] = len(pd.read_parquet(f"s3://bucket/revleak/{table}"))
    return describe_pandas(frame, table)


def read_pandas_s3fs(table):
    """pandas with storage_options reads through fsspec's s3fs."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        import s3fs  # noqa: F401
    except ImportError:
        raise SystemExit(f"s3fs: {NOT_INSTALLED}")
    if table == "findings":
        frame = pd.read_parquet("s3://bucket/revleak/findings", partitioning=ds.partitioning(pa.schema([("as_of", pa.date32())]), flavor="hive"), storage_options={"endpoint_url": os.environ.get("AWS_ENDPOINT_URL")})  # README
    else:
        frame = pd.read_parquet(f"s3://bucket/revleak/{table}", partitioning=ds.partitioning(pa.schema([("as_of", pa.date32())]), flavor="hive"), storage_options={"endpoint_url": os.environ.get("AWS_ENDPOINT_URL")})
    PLAIN_ROWS[table] = len(pd.read_parquet(f"s3://bucket/revleak/{table}", storage_options={"endpoint_url": os.environ.get("AWS_ENDPOINT_URL")}))
    return describe_pandas(frame, table)


def read_pyarrow(table):
    import pyarrow as pa
    import pyarrow.dataset as ds

    if table == "findings":
        data = ds.dataset("s3://bucket/revleak/findings", format="parquet", partitioning=ds.partitioning(pa.schema([("as_of", pa.date32())]), flavor="hive")).to_table()  # README
    else:
        data = ds.dataset(f"s3://bucket/revleak/{table}", format="parquet", partitioning=ds.partitioning(pa.schema([("as_of", pa.date32())]), flavor="hive")).to_table()
    PLAIN_ROWS[table] = ds.dataset(f"s3://bucket/revleak/{table}", format="parquet", partitioning="hive").to_table().num_rows
    return describe_arrow(data, table)


DUCKDB_READY = False


def load_httpfs(duckdb):
    """DuckDB loads its httpfs extension by itself on the first s3:// path, downloading it once
    from DuckDB's extension site. The tests run offline: the venv has DuckDB 1.5.5 and the
    same extension from PyPI (duckdb-extension-httpfs), loaded here from its file."""
    try:
        import duckdb_extension_httpfs
    except ImportError:
        raise SystemExit(f"duckdb-extension-httpfs: {NOT_INSTALLED}")
    folder = pathlib.Path(duckdb_extension_httpfs.__file__).parent
    files = sorted(folder.glob(f"extensions/v{duckdb.__version__}/*/httpfs.duckdb_extension")) or sorted(
        folder.glob("extensions/*/httpfs.duckdb_extension")
    )
    if not files:
        raise SystemExit(f"no httpfs.duckdb_extension under {folder}: {NOT_INSTALLED}")
    duckdb.execute(f"LOAD '{files[0]}'")


def read_duckdb(table):
    global DUCKDB_READY
    import duckdb

    if not DUCKDB_READY:
        load_httpfs(duckdb)
        # httpfs takes the keys and region from the AWS_* variables, the endpoint only from a setting.
        host = os.environ["AWS_ENDPOINT_URL"].split("://")[1]  # README
        duckdb.sql(f"SET s3_endpoint='{host}'; SET s3_url_style='path'; SET s3_use_ssl=false")  # README
        DUCKDB_READY = True
    if table == "findings":
        relation = duckdb.sql("select * from read_parquet('s3://bucket/revleak/findings/*/*.parquet', hive_partitioning = true)")  # README
    else:
        relation = duckdb.sql(f"select * from read_parquet('s3://bucket/revleak/{table}/*/*.parquet', hive_partitioning = true)")
    types, groups = describe_duckdb(relation, table)
    # docs/duckdb_views.sql says to change `out/` to your --out: a bucket too.
    with open(VIEWS) as sql:
        duckdb.execute(sql.read().replace("'out/", "'s3://bucket/revleak/"))
    (from_view,) = duckdb.execute(f"select count(*) from {table}").fetchone()
    if from_view != sum(g["rows"] for g in groups.values()):
        raise SystemExit(f"view {table} has {from_view} rows, read_parquet {groups}")
    return types, groups


def read_polars(table):
    import polars as pl

    if table == "findings":
        frame = pl.scan_parquet("s3://bucket/revleak/findings/", hive_partitioning=True).collect()  # README
    else:
        frame = pl.scan_parquet(f"s3://bucket/revleak/{table}/", hive_partitioning=True).collect()
    return describe_polars(frame, table)


READERS = {
    "pandas": read_pandas,
    "pandas-s3fs": read_pandas_s3fs,
    "pyarrow": read_pyarrow,
    "duckdb": read_duckdb,
    "polars": read_polars,
}
VIEWS = None


def main():
    global VIEWS
    reader, VIEWS = sys.argv[1], sys.argv[2]
    if not os.environ.get("AWS_ENDPOINT_URL"):
        raise SystemExit("AWS_ENDPOINT_URL is not set: the tests read from a local S3 server")
    result = {}
    for table in TABLES:
        types, groups = READERS[reader](table)
        result[table] = {"types": types, "as_of": groups, "plain_rows": PLAIN_ROWS.get(table)}
    if reader == "pandas-s3fs" and "s3fs" not in sys.modules:
        raise SystemExit("pandas did not read through s3fs")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
