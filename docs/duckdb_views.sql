-- Named views over revleak's published outputs, for DuckDB and the BI tools that
-- sit on it (`duckdb -init docs/duckdb_views.sql`, or paste into a notebook).
-- Paths are relative to the folder that holds `out/`: change `out/` to your --out.
-- as_of comes from the Hive folder (`as_of=YYYY-MM-DD/`), read as a date.

create or replace view findings as
select *
from read_parquet('out/findings/*/*.parquet', hive_partitioning = true, hive_types = {'as_of': date});

create or replace view summary as
select *
from read_parquet('out/summary/*/*.parquet', hive_partitioning = true, hive_types = {'as_of': date});

create or replace view resolved as
select *
from read_parquet('out/resolved/*/*.parquet', hive_partitioning = true, hive_types = {'as_of': date});

-- Per partner and run: name, tier, region, billed, forecast and still owed in the
-- reporting currency (the report's scorecard).
create or replace view partner_figures as
select *
from read_parquet('out/partner_figures/*/*.parquet', hive_partitioning = true, hive_types = {'as_of': date});

-- The latest run's findings, the ones a dashboard usually shows.
create or replace view latest_findings as
select *
from findings
where as_of = (select max(as_of) from findings);
