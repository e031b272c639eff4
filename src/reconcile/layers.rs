//! The layers a run builds over the staging views before any check: the rows
//! that exist as of as_of (`existing.*`), the data-quality issues of each row
//! (`quality.row_issues`, from the rules of [`crate::reconcile::quality`]), the rows that
//! pass (`clean.*`) and those flagged (`flagged.*`), and the daily fx rates;
//! kept in memory, or as Parquet files on a cluster or under a memory limit.

use crate::engine::session::{Job, LAYERS, concurrency, joined, literal_plan, run_costliest_first};
use crate::error::{Error, Result};
use crate::ingest::snapshot::Snapshot;
use crate::ingest::staging::Staging;
use crate::reconcile::checks;
use crate::reconcile::quality;
use crate::storage::is_object_store;
use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::prelude::SessionContext;
use revleak_contract::TABLES;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Per input table: where it came from and what became of its rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TableStats {
    pub table: String,
    /// The raw file(s) its staging view reads.
    pub path: Option<String>,
    /// The staging view that builds it.
    pub staging: String,
    /// The raw tables (`system/name`) the staging view reads.
    pub raw_tables: Vec<String>,
    pub files: usize,
    pub bytes: u64,
    /// Rows its staging view returned (the canonical rows).
    pub rows_read: u64,
    /// Dated after as_of: not part of this run.
    pub rows_after_as_of: u64,
    pub rows_passed: u64,
    pub rows_flagged: u64,
    pub missing: bool,
}

/// What [`prepare`] leaves for the checks.
pub struct Prepared {
    /// Per input table: rows read, after as_of, passed and flagged.
    pub inputs: Vec<TableStats>,
    /// The shared views built so far (the daily rates) and their input tables.
    pub shared_deps: SharedDeps,
    /// The other shared view files, built with the checks by [`build_and_check`].
    pub pending_shared: Vec<PathBuf>,
}

/// Builds the as-of and data-quality layers and the daily rates over the
/// registered staging views.
pub async fn prepare(
    ctx: &SessionContext,
    snapshot: &Snapshot,
    staging: &Staging,
    queries: &Path,
    layers: &Layers,
) -> Result<Prepared> {
    let catalog = ctx.catalog("datafusion").expect("default catalog");
    for layer in LAYERS.iter().filter(|l| catalog.schema(l).is_none()) {
        catalog
            .register_schema(layer, Arc::new(MemorySchemaProvider::new()))
            .map_err(|e| Error::exec("registering schemas", e))?;
    }
    let started = Instant::now();

    // Independent queries of one stage run side by side when the CPU has room.
    let width = concurrency(ctx);
    // Every rule and check reads the rows that exist as of as_of many times:
    // read the snapshot once and keep them.
    let reads = TABLES.iter().map(|table| {
        let ctx = ctx.clone();
        let layers = layers.clone();
        Box::pin(async move {
            materialize_sql(
                &ctx,
                &format!("existing.{}", table.name),
                &quality::existing_sql(table),
                &layers,
            )
            .await
        }) as Job<Result<()>>
    });
    // The biggest files first, so that the stage does not end on one of them alone.
    let raw_bytes = |table: &revleak_contract::Table| -> u64 {
        staging.of(table).map_or(0, |s| {
            s.reads
                .iter()
                .filter_map(|r| snapshot.table(r))
                .map(|r| r.bytes)
                .sum()
        })
    };
    let bytes: Vec<usize> = TABLES.iter().map(|t| raw_bytes(t) as usize).collect();
    for done in run_costliest_first(reads.collect(), &bytes, width).await {
        done?;
    }
    tracing::debug!(
        ms = started.elapsed().as_millis(),
        "snapshot read as of as_of"
    );

    // The currency a payment or posting must be in needs only the existing
    // invoices and deals: built beside the steps up to the daily rates, which
    // are small and leave a core idle (one step after the other under a
    // memory limit).
    let invoice_currency = {
        let (ctx, layers) = (ctx.clone(), layers.clone());
        let build = async move {
            materialize_sql(
                &ctx,
                quality::INVOICE_CURRENCY,
                quality::INVOICE_CURRENCY_SQL,
                &layers,
            )
            .await
        };
        if width > 1 {
            tokio::spawn(build)
        } else {
            build.await?;
            tokio::spawn(async { Ok(()) })
        }
    };

    // Pass 1: fx_rates, which the daily rates need before any other table can be checked.
    let mut issues = RowIssues::new(layers.clone());
    let counted = count_duplicate_keys(ctx, layers, width).await?;
    let duplicates = match counted {
        true => quality::DuplicateKeys::Counted,
        false => quality::DuplicateKeys::Grouped,
    };
    for table in quality::first_pass() {
        issues
            .add(ctx, &quality::issues_sql(table, false, duplicates), table)
            .await?;
    }
    issues.register(ctx).await?;
    for table in quality::first_pass() {
        split_layers(ctx, table, layers).await?;
    }
    let shared_dir = queries.join("shared");
    let fx_path = shared_dir.join("fx_daily.sql");
    tracing::debug!(ms = started.elapsed().as_millis(), "fx_rates cleaned");
    let mut shared_deps = SharedDeps::new();
    materialize_file(ctx, "shared.fx_daily", &fx_path, &mut shared_deps, layers).await?;
    tracing::debug!(ms = started.elapsed().as_millis(), "daily rates built");
    materialize_sql(
        ctx,
        "quality.fx_first_rate",
        quality::FX_FIRST_RATE_SQL,
        layers,
    )
    .await?;
    joined(invoice_currency.await)?;
    register_partner_cycles(ctx).await?;

    // Pass 2: every other table. A table without rows has no issues: with the
    // rows in memory its rules are not run at all (a small snapshot, such as a
    // `revleak test` case, leaves most tables empty).
    let mut rows = Vec::new();
    for table in quality::second_pass() {
        rows.push(layer_rows(ctx, &format!("existing.{}", table.name)).await);
    }
    let mut planned = Vec::new();
    for (table, &table_rows) in quality::second_pass().zip(&rows) {
        if matches!(layers, Layers::Materialized) && table_rows == 0 {
            continue;
        }
        planned.push(
            RowIssues::plan(ctx, &quality::issues_sql(table, true, duplicates), table).await?,
        );
    }
    issues.add_all(planned, width).await?;
    issues.register(ctx).await?;
    tracing::debug!(ms = started.elapsed().as_millis(), "data-quality rules run");
    let splits = quality::second_pass().map(|table| {
        let ctx = ctx.clone();
        let layers = layers.clone();
        Box::pin(async move { split_layers(&ctx, table, &layers).await }) as Job<Result<()>>
    });
    for done in run_costliest_first(splits.collect(), &rows, width).await {
        done?;
    }
    tracing::debug!(
        ms = started.elapsed().as_millis(),
        "clean and flagged layers built"
    );
    // The other shared views are built beside the checks (see `build_and_check`).
    let pending: Vec<PathBuf> = sql_files(&shared_dir)?
        .into_iter()
        .filter(|p| *p != fx_path)
        .collect();
    // One query for every table (one job on a cluster), not two per table.
    let counts = count_all(ctx).await?;
    let mut stats = Vec::new();
    for table in TABLES {
        let staged = staging.of(table).expect("every contract table is staged");
        let raw: Vec<&crate::ingest::snapshot::RawTable> = staged
            .reads
            .iter()
            .filter_map(|r| snapshot.table(r))
            .collect();
        let (staged_rows, existing, passed) = counts.get(table.name).copied().unwrap_or((0, 0, 0));
        layers_nest(&table.qualified(), staged_rows, existing, passed)?;
        let path = match raw.as_slice() {
            [] => None,
            [one] => Some(one.location.display().to_string()),
            many => Some(
                many.iter()
                    .map(|r| r.location.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        stats.push(TableStats {
            table: table.qualified(),
            path,
            staging: staged.file.display().to_string(),
            raw_tables: staged.reads.clone(),
            files: raw.iter().map(|r| r.files.len()).sum(),
            bytes: raw.iter().map(|r| r.bytes).sum(),
            rows_read: staged_rows,
            rows_after_as_of: staged_rows.saturating_sub(existing),
            rows_passed: passed,
            rows_flagged: existing - passed,
            missing: staged.missing(),
        });
    }
    Ok(Prepared {
        inputs: stats,
        shared_deps,
        pending_shared: pending,
    })
}

/// How [`prepare`] keeps each layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layers {
    /// Computed once into memory: every later query reads the result.
    Materialized,
    /// Written once as Parquet under `dir` and read back. On a cluster (which can
    /// only scan files, and whose executors must all reach `dir`): the
    /// data-quality issues, clean rows and shared views; existing and flagged
    /// rows are views over them and the snapshot. The embedded engine under a
    /// memory limit (`embedded`) writes the existing, clean, flagged and shared
    /// rows and keeps the few data-quality issue rows in memory.
    Files { dir: PathBuf, embedded: bool },
}

/// With the existing rows in memory, counts each table's repeated primary keys
/// outside the engine ([`quality::duplicate_keys`], `width` tables at a time)
/// into [`quality::duplicate_keys_table`]; returns whether it did. Rows kept as
/// files (a cluster, a memory limit) are counted by the rules' own grouping,
/// which can spill.
pub(crate) async fn count_duplicate_keys(
    ctx: &SessionContext,
    layers: &Layers,
    width: usize,
) -> Result<bool> {
    if !matches!(layers, Layers::Materialized) {
        return Ok(false);
    }
    let mut jobs = Vec::new();
    let mut rows = Vec::new();
    for table in TABLES {
        let name = format!("existing.{}", table.name);
        let df = ctx
            .table(name.as_str())
            .await
            .map_err(|e| Error::exec(name.clone(), e))?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df
            .collect()
            .await
            .map_err(|e| Error::exec(name.clone(), e))?;
        rows.push(batches.iter().map(|b| b.num_rows()).sum());
        jobs.push(Box::pin(async move {
            let counted = tokio::task::spawn_blocking(move || {
                quality::duplicate_keys(&schema, &batches, table.primary_key)
            })
            .await
            .map_err(|e| {
                Error::exec(
                    name.clone(),
                    datafusion::error::DataFusionError::External(e.into()),
                )
            })?
            .map_err(|e| Error::exec(name.clone(), e))?;
            Ok((table, counted))
        })
            as Job<Result<(&'static revleak_contract::Table, RecordBatch)>>);
    }
    for done in run_costliest_first(jobs, &rows, width).await {
        let (table, counted) = done?;
        let name = quality::duplicate_keys_table(table);
        let _ = ctx.deregister_table(name.as_str());
        let memory =
            datafusion::datasource::MemTable::try_new(counted.schema(), vec![vec![counted]])
                .map_err(|e| Error::exec(name.clone(), e))?;
        ctx.register_table(name.as_str(), Arc::new(memory))
            .map_err(|e| Error::exec(name, e))?;
    }
    Ok(true)
}

/// `quality.row_issues` as it grows pass by pass: collected batches, or the
/// union of the rule queries.
pub(crate) struct RowIssues {
    layers: Layers,
    batches: Vec<RecordBatch>,
    queries: Vec<datafusion::dataframe::DataFrame>,
    passes: usize,
}

impl RowIssues {
    fn new(layers: Layers) -> RowIssues {
        RowIssues {
            layers,
            batches: Vec::new(),
            queries: Vec::new(),
            passes: 0,
        }
    }

    async fn add(
        &mut self,
        ctx: &SessionContext,
        rules: &str,
        table: &revleak_contract::Table,
    ) -> Result<()> {
        let planned = RowIssues::plan(ctx, rules, table).await?;
        self.add_all(vec![planned], 1).await
    }

    /// The rules of one table as a query of the row_issues shape, with the
    /// context its errors carry.
    async fn plan(
        ctx: &SessionContext,
        rules: &str,
        table: &revleak_contract::Table,
    ) -> Result<(String, datafusion::dataframe::DataFrame)> {
        let context = format!("data quality rules of {}", table.qualified());
        let sql = format!(
            "select arrow_cast(table_name, 'Utf8') as table_name, \
             arrow_cast(row_key, 'Utf8') as row_key, arrow_cast(problems, 'Utf8') as problems \
             from ({rules}) rules"
        );
        let df = ctx
            .sql(&sql)
            .await
            .map_err(|e| Error::exec(context.clone(), e))?;
        Ok((context, df))
    }

    /// Runs the planned rules (`width` tables at a time) or keeps them for the
    /// union a cluster writes.
    async fn add_all(
        &mut self,
        planned: Vec<(String, datafusion::dataframe::DataFrame)>,
        width: usize,
    ) -> Result<()> {
        if let Layers::Files {
            embedded: false, ..
        } = self.layers
        {
            self.queries.extend(planned.into_iter().map(|(_, df)| df));
            return Ok(());
        }
        let costs: Vec<usize> = planned
            .iter()
            .map(|(_, df)| rows_scanned(df.logical_plan()))
            .collect();
        let jobs = planned.into_iter().map(|(context, df)| {
            Box::pin(async move {
                let t = Instant::now();
                let found = df
                    .collect()
                    .await
                    .map_err(|e| Error::exec(context.clone(), e))?
                    .into_iter()
                    .map(|batch| {
                        RecordBatch::try_new(row_issues_schema(), batch.columns().to_vec())
                            .map_err(|e| Error::exec(context.clone(), e.into()))
                    })
                    .collect::<Result<Vec<_>>>();
                let ms = t.elapsed().as_millis() as u64;
                tracing::debug!(ms, "{context}");
                found
            }) as Job<Result<Vec<RecordBatch>>>
        });
        for found in run_costliest_first(jobs.collect(), &costs, width).await {
            self.batches.extend(found?);
        }
        Ok(())
    }

    async fn register(&mut self, ctx: &SessionContext) -> Result<()> {
        let context = || "quality.row_issues".to_string();
        let _ = ctx.deregister_table("quality.row_issues");
        match &self.layers {
            Layers::Materialized | Layers::Files { embedded: true, .. } => {
                let table = datafusion::datasource::MemTable::try_new(
                    row_issues_schema(),
                    vec![self.batches.clone()],
                )
                .map_err(|e| Error::exec(context(), e))?;
                ctx.register_table("quality.row_issues", Arc::new(table))
                    .map_err(|e| Error::exec(context(), e))?;
            }
            Layers::Files { .. } => {
                let mut queries = self.queries.iter().cloned();
                let first = queries.next().expect("the first pass has rules");
                let all = queries
                    .try_fold(first, |all, next| all.union(next))
                    .map_err(|e| Error::exec(context(), e))?;
                self.passes += 1;
                let name = format!("quality.row_issues_{}", self.passes);
                keep(ctx, &name, all, &context(), &self.layers).await?;
                let view = ctx
                    .table(name.as_str())
                    .await
                    .map_err(|e| Error::exec(context(), e))?
                    .into_view();
                ctx.register_table("quality.row_issues", view)
                    .map_err(|e| Error::exec(context(), e))?;
            }
        }
        Ok(())
    }
}

pub(crate) fn row_issues_schema() -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    Arc::new(Schema::new(vec![
        Field::new("table_name", DataType::Utf8, false),
        Field::new("row_key", DataType::Utf8, false),
        Field::new("problems", DataType::Utf8, true),
    ]))
}

/// `quality.partner_cycles`: the partners whose parent chain comes back to them.
/// The chains are walked here rather than by a recursive query, which a
/// cluster cannot run; the result is a literal table either way.
pub(crate) async fn register_partner_cycles(ctx: &SessionContext) -> Result<()> {
    let context = || "quality.partner_cycles".to_string();
    let edges = ctx
        .sql(
            "select arrow_cast(partner_id, 'Utf8') as partner_id, \
             arrow_cast(parent_partner_id, 'Utf8') as parent_partner_id \
             from existing.partners where partner_id is not null and parent_partner_id is not null",
        )
        .await
        .map_err(|e| Error::exec(context(), e))?
        .collect()
        .await
        .map_err(|e| Error::exec(context(), e))?;
    use datafusion::arrow::array::AsArray;
    let mut parents: Vec<(String, String)> = Vec::new();
    for batch in &edges {
        let child = batch.column(0).as_string::<i32>();
        let parent = batch.column(1).as_string::<i32>();
        for i in 0..batch.num_rows() {
            parents.push((child.value(i).to_string(), parent.value(i).to_string()));
        }
    }
    let cycles = quality::partners_in_cycles(&parents);
    let batch = RecordBatch::try_new(
        Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
            datafusion::arrow::datatypes::Field::new(
                "partner_id",
                datafusion::arrow::datatypes::DataType::Utf8,
                true,
            ),
        ])),
        vec![Arc::new(datafusion::arrow::array::StringArray::from(
            cycles,
        ))],
    )
    .map_err(|e| Error::exec(context(), e.into()))?;
    let plan = literal_plan(&batch).map_err(|e| Error::exec(context(), e))?;
    ctx.register_table(
        "quality.partner_cycles",
        datafusion::dataframe::DataFrame::new(ctx.state(), plan).into_view(),
    )
    .map_err(|e| Error::exec(context(), e))?;
    Ok(())
}

pub(crate) async fn materialize_sql(
    ctx: &SessionContext,
    name: &str,
    sql: &str,
    layers: &Layers,
) -> Result<()> {
    let df = ctx
        .sql(sql)
        .await
        .map_err(|e| Error::exec(name.to_string(), e))?;
    keep(ctx, name, df, name, layers).await
}

/// `clean.<table>` and `flagged.<table>`: in memory from one pass, or on a
/// cluster the clean rows written and the flagged ones a view.
pub(crate) async fn split_layers(
    ctx: &SessionContext,
    table: &revleak_contract::Table,
    layers: &Layers,
) -> Result<()> {
    if let Layers::Materialized = layers {
        return materialize_split(ctx, table).await;
    }
    for (layer, keep_flagged) in [("clean", false), ("flagged", true)] {
        let name = format!("{layer}.{}", table.name);
        let columns: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        let sql = format!(
            "select {} from ({}) split where {}{}",
            columns.join(", "),
            quality::split_sql(table),
            if keep_flagged { "" } else { "not " },
            quality::FLAGGED_COLUMN
        );
        materialize_sql(ctx, &name, &sql, layers).await?;
    }
    Ok(())
}

/// `clean.<table>` and `flagged.<table>` from the existing rows in memory: a
/// batch without a flagged row (most) goes to `clean` as it is, shared, not
/// copied; the others are divided ([`quality::FlaggedKeys`]).
pub(crate) async fn materialize_split(
    ctx: &SessionContext,
    table: &revleak_contract::Table,
) -> Result<()> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::compute::{filter_record_batch, not};
    let context = format!("clean.{0} and flagged.{0}", table.name);
    let failed = |e: datafusion::error::DataFusionError| Error::exec(context.clone(), e);
    let flagged_keys = ctx
        .sql(&format!(
            "select row_key from quality.row_issues where table_name = '{}'",
            table.qualified()
        ))
        .await
        .map_err(failed)?
        .collect()
        .await
        .map_err(failed)?;
    let flagged_keys = quality::FlaggedKeys::new(
        table,
        flagged_keys.iter().flat_map(|batch| {
            batch
                .column(0)
                .as_string::<i32>()
                .iter()
                .flatten()
                .map(str::to_string)
                .collect::<Vec<_>>()
        }),
    );
    let existing = ctx
        .table(format!("existing.{}", table.name).as_str())
        .await
        .map_err(failed)?;
    // the contract's columns, in its order, as the layers have always had them
    let existing_schema = existing.schema().as_arrow().clone();
    let columns_at = table
        .columns
        .iter()
        .map(|c| existing_schema.index_of(c.name))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| failed(e.into()))?;
    let schema = Arc::new(
        existing_schema
            .project(&columns_at)
            .map_err(|e| failed(e.into()))?,
    );
    let key_at = table
        .primary_key
        .iter()
        .map(|c| schema.index_of(c))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| failed(e.into()))?;
    let mut clean = Vec::new();
    let mut flagged = Vec::new();
    for partition in existing.collect_partitioned().await.map_err(failed)? {
        let (mut passed, mut bad) = (Vec::new(), Vec::new());
        for batch in partition {
            let batch = batch.project(&columns_at).map_err(|e| failed(e.into()))?;
            let keys: Vec<_> = key_at.iter().map(|&i| batch.column(i).clone()).collect();
            let divided = (|| match flagged_keys.flags(&keys)? {
                None => Ok::<_, datafusion::arrow::error::ArrowError>((batch.clone(), None)),
                Some(flag) => Ok((
                    filter_record_batch(&batch, &not(&flag)?)?,
                    Some(filter_record_batch(&batch, &flag)?),
                )),
            })();
            let (p, b) = divided.map_err(|e| failed(e.into()))?;
            passed.push(p);
            bad.extend(b);
        }
        clean.push(passed);
        flagged.push(bad);
    }
    let width = ctx.state().config().target_partitions();
    let (clean, flagged) = (
        checks::balanced(clean, width),
        checks::balanced(flagged, width),
    );
    for (layer, partitions) in [("clean", clean), ("flagged", flagged)] {
        let mem = datafusion::datasource::MemTable::try_new(schema.clone(), partitions)
            .map_err(failed)?;
        ctx.register_table(format!("{layer}.{}", table.name), Arc::new(mem))
            .map_err(failed)?;
    }
    Ok(())
}

/// The rows of the in-memory table `name` (0 for files and views).
pub(crate) async fn layer_rows(ctx: &SessionContext, name: &str) -> usize {
    match ctx.table(name).await {
        Ok(df) => rows_scanned(df.logical_plan()),
        Err(_) => 0,
    }
}

/// A rough cost of a query: the rows of the in-memory tables it scans, each
/// time it scans them (0 for files and views, as on a cluster).
pub(crate) fn rows_scanned(plan: &datafusion::logical_expr::LogicalPlan) -> usize {
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::logical_expr::LogicalPlan;
    let mut rows = 0;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let provider = datafusion::datasource::source_as_provider(&scan.source).ok();
            if let Some(table) = provider.as_ref().and_then(|p| {
                (p.as_ref() as &dyn std::any::Any)
                    .downcast_ref::<datafusion::datasource::MemTable>()
            }) {
                for partition in &table.batches {
                    if let Ok(batches) = partition.try_read() {
                        rows += batches.iter().map(|b| b.num_rows()).sum::<usize>();
                    }
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    rows
}

pub(crate) async fn materialize_file(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
    deps: &mut SharedDeps,
    layers: &Layers,
) -> Result<()> {
    let df = plan_file(ctx, name, path, deps).await?;
    keep(ctx, name, df, &path.display().to_string(), layers).await
}

/// Plans the shared view `name` from `path` and records the tables it needs.
pub(crate) async fn plan_file(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
    deps: &mut SharedDeps,
) -> Result<datafusion::dataframe::DataFrame> {
    let sql = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let df = ctx
        .sql(&sql)
        .await
        .map_err(|e| Error::Queries(vec![crate::error::located(path, &e)]))?;
    let needs = input_tables(&checks::scanned_tables(df.logical_plan()), deps);
    deps.insert(name.to_string(), needs);
    Ok(df)
}

/// Registers a layer table under `name`: computed now into memory, or on a
/// cluster written as Parquet (issues, shared views) or kept as a view.
pub(crate) async fn keep(
    ctx: &SessionContext,
    name: &str,
    df: datafusion::dataframe::DataFrame,
    context: &str,
    layers: &Layers,
) -> Result<()> {
    let failed = |e| Error::exec(context.to_string(), e);
    match layers {
        Layers::Materialized => checks::materialize(ctx, name, df, context).await,
        // Written: what many queries read, and what keeps their plans shallow
        // enough to travel (a plan is sent nested, and its decoder stops at
        // 100 levels). The embedded engine (under a memory limit) writes the
        // as-of and flagged rows too: as views, every rule would filter the
        // snapshot again, and every query over flagged rows would sort its way
        // through the split of each table at once.
        Layers::Files { embedded, .. }
            if !["shared.", "quality.", "clean."]
                .iter()
                .chain(if *embedded {
                    &["existing.", "flagged."][..]
                } else {
                    &[]
                })
                .any(|p| name.starts_with(p)) =>
        {
            ctx.register_table(name, df.into_view())
                .map(|_| ())
                .map_err(failed)
        }
        Layers::Files { dir: root, .. } => {
            let dir = root.join(name);
            // A local folder must exist to be written as one; a bucket's
            // "folder" is the URL ending with `/` (the name has dots).
            let target = if is_object_store(&dir) {
                format!("{}/", dir.display())
            } else {
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                dir.to_str()
                    .expect("the work folder is a UTF-8 path")
                    .to_string()
            };
            let schema = df.schema().as_arrow().clone();
            // One writing task: Ballista runs the sink once per partition of its
            // stage, and a sink writes every input partition, so a layer built
            // from several partitions would be written several times over.
            let df = df
                .repartition(datafusion::logical_expr::Partitioning::RoundRobinBatch(1))
                .map_err(failed)?;
            write_verified(ctx, name, df, &dir, &target).await?;
            register_parquet_folder(ctx, name, &dir, &schema)
                .await
                .map_err(failed)
        }
    }
}

/// How many times a layer whose files do not hold the rows its query wrote is
/// written again before the run fails.
const LAYER_REWRITES: usize = 1;

/// Writes `df` as Parquet into `dir` (`target` as DataFusion is given it) and
/// checks the files hold exactly the rows the write reported. On a cluster a
/// task re-run after an executor is lost can leave a second file, or a file
/// cut off, beside the one that counts: the layer is then removed and written
/// again once, and if it still does not add up the run fails, naming it,
/// rather than reconcile duplicated or missing rows.
async fn write_verified(
    ctx: &SessionContext,
    name: &str,
    df: datafusion::dataframe::DataFrame,
    dir: &Path,
    target: &str,
) -> Result<()> {
    let failed = |e| Error::exec(name.to_string(), e);
    let mut attempt = 0;
    loop {
        let written = df
            .clone()
            .write_parquet(
                target,
                datafusion::dataframe::DataFrameWriteOptions::new(),
                None,
            )
            .await
            .map_err(failed)?;
        let reported: u64 = written
            .iter()
            .filter_map(|b| b.column_by_name("count"))
            .filter_map(|c| {
                c.as_any()
                    .downcast_ref::<datafusion::arrow::array::UInt64Array>()
            })
            .flat_map(|c| c.iter().flatten())
            .sum();
        let found = crate::storage::parquet_rows_under(ctx, dir).await;
        let problem = match found {
            Ok(found) if found == reported => return Ok(()),
            Ok(found) => format!(
                "its files hold {found} rows where the query wrote {reported} (a task run twice or cut off)"
            ),
            Err(e) => e.to_string(),
        };
        if attempt == LAYER_REWRITES {
            return Err(Error::Cluster(format!(
                "layer {name} at {}: {problem}, again after {LAYER_REWRITES} rewrite(s); nothing is published",
                dir.display()
            )));
        }
        attempt += 1;
        tracing::warn!(layer = name, "{problem}: written again");
        crate::storage::remove_work_folder(ctx, dir).await?;
        if !is_object_store(dir) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
    }
}

/// Registers the Parquet files of `dir` as the table `name`, with its schema
/// (a cluster's executors read the files at that path).
pub(crate) async fn register_parquet_folder(
    ctx: &SessionContext,
    name: &str,
    dir: &Path,
    schema: &datafusion::arrow::datatypes::Schema,
) -> std::result::Result<(), datafusion::error::DataFusionError> {
    let location = format!("{}/", dir.display());
    ctx.register_parquet(
        name,
        &location,
        datafusion::prelude::ParquetReadOptions {
            schema: Some(schema),
            ..Default::default()
        },
    )
    .await
}

/// For each materialized shared view, the contract tables it was built from:
/// Each layer of a table is a subset of the one before (staged ⊇ existing ⊇
/// clean): more rows in a later one means rows read twice (seen on a cluster
/// that lost an executor), which must fail the run rather than become findings.
fn layers_nest(table: &str, staged: u64, existing: u64, passed: u64) -> Result<()> {
    if passed > existing || existing > staged {
        return Err(Error::Invariant(format!(
            "{table}: {staged} staged rows, {existing} of them existing as of as_of and \
             {passed} passing the data-quality rules: a layer holds more rows than the one \
             it was taken from, so rows were read twice; nothing is published"
        )));
    }
    Ok(())
}

/// a check reading `shared.invoice_balances` needs billing/credit_notes too.
pub type SharedDeps = std::collections::HashMap<String, BTreeSet<String>>;

/// Rows of every `staging.*`, `existing.*` and `clean.*` table, by table name, in one query.
pub(crate) async fn count_all(
    ctx: &SessionContext,
) -> Result<std::collections::HashMap<String, (u64, u64, u64)>> {
    let sql = TABLES
        .iter()
        .map(|t| {
            format!(
                "select '{n}' as name, s.n as staged, e.n as existing, c.n as passed \
                 from (select count(*) as n from staging.{n}) s \
                 cross join (select count(*) as n from existing.{n}) e \
                 cross join (select count(*) as n from clean.{n}) c",
                n = t.name
            )
        })
        .collect::<Vec<_>>()
        .join(" union all ");
    let failed = |e| Error::exec("counting rows of the layers", e);
    let batches = ctx
        .sql(&sql)
        .await
        .map_err(failed)?
        .collect()
        .await
        .map_err(failed)?;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    let mut counts = std::collections::HashMap::new();
    for batch in &batches {
        let names = datafusion::arrow::compute::cast(
            batch.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .map_err(|e| failed(e.into()))?;
        let names = names.as_string::<i32>();
        let staged = batch.column(1).as_primitive::<Int64Type>();
        let existing = batch.column(2).as_primitive::<Int64Type>();
        let passed = batch.column(3).as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            counts.insert(
                names.value(i).to_string(),
                (
                    staged.value(i) as u64,
                    existing.value(i) as u64,
                    passed.value(i) as u64,
                ),
            );
        }
    }
    Ok(counts)
}

/// `*.sql` files of a folder, sorted; none when the folder does not exist.
pub fn sql_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("sql"))
        .collect();
    files.sort();
    Ok(files)
}

/// The contract tables behind the tables a query scans, through shared views.
pub(crate) fn input_tables(scanned: &BTreeSet<String>, deps: &SharedDeps) -> BTreeSet<String> {
    let mut needs = BTreeSet::new();
    // flagged.* only keeps a check silent where a bad row touches an entity:
    // an absent table flags nothing, so it is not a need.
    for table in scanned.iter().filter(|t| !t.starts_with("flagged.")) {
        match deps.get(table) {
            Some(inner) => needs.extend(inner.iter().cloned()),
            None => needs.extend(contract_table_of(table)),
        }
    }
    needs
}

/// Maps a scanned table name to the contract table it stands for, if any.
pub(crate) fn contract_table_of(scanned: &str) -> Option<String> {
    let (schema, name) = scanned.split_once('.')?;
    let layer_or_system = LAYERS.contains(&schema) || TABLES.iter().any(|t| t.system == schema);
    if !layer_or_system {
        return None;
    }
    TABLES
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.qualified())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_with_more_rows_than_the_one_it_was_taken_from_fails_the_run() {
        assert!(layers_nest("billing/invoices", 10, 8, 8).is_ok());
        assert!(layers_nest("billing/invoices", 0, 0, 0).is_ok());
        for (staged, existing, passed) in [(10, 8, 9), (10, 11, 8)] {
            let e = layers_nest("billing/invoices", staged, existing, passed).unwrap_err();
            assert!(matches!(e, Error::Invariant(_)), "{e}");
            assert!(e.to_string().starts_with("billing/invoices: "), "{e}");
        }
    }

    /// A layer folder holding a stray file beside the write (what a task re-run
    /// after an executor was lost leaves) is found out and written again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_layer_whose_files_do_not_add_up_is_written_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(tmp.path())
            .unwrap()
            .join("clean.invoices");
        std::fs::create_dir_all(&dir).unwrap();
        let ctx = SessionContext::new();
        let df = ctx
            .sql("select * from (values (1), (2), (3)) as t(n)")
            .await
            .unwrap();
        // A complete file of an earlier attempt: 3 rows too many.
        df.clone()
            .write_parquet(
                dir.join("stray.parquet").to_str().unwrap(),
                datafusion::dataframe::DataFrameWriteOptions::new().with_single_file_output(true),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            crate::storage::parquet_rows_under(&ctx, &dir)
                .await
                .unwrap(),
            3
        );
        write_verified(&ctx, "clean.invoices", df, &dir, dir.to_str().unwrap())
            .await
            .unwrap();
        assert_eq!(
            crate::storage::parquet_rows_under(&ctx, &dir)
                .await
                .unwrap(),
            3
        );
        assert!(
            !dir.join("stray.parquet").exists(),
            "the stray file went with the rewrite"
        );
        // A file cut off by a killed writer is found out too.
        std::fs::write(dir.join("cut.parquet"), b"PAR1 not a whole file").unwrap();
        let cut = crate::storage::parquet_rows_under(&ctx, &dir)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            cut.contains("cut.parquet") && cut.contains("not a whole Parquet file"),
            "{cut}"
        );
    }
}
