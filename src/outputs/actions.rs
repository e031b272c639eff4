//! Recovery actions: after the findings are settled, the SQL files of
//! `queries/actions/` turn them into the corrections each leak needs — draft
//! invoices and lines, commission adjustments and journal corrections in the
//! source systems' own shapes, and work lists for collections, customer
//! success, the deal desk and finance. Each file's id is its name; a
//! `-- shape: system/table` header makes its first columns exactly that
//! contract table's (names and types), so the rows import as they are. Every
//! row names the `finding_id` it settles. A file whose name starts with `_` is
//! a step the others read (`actions._short_deals`), computed once and not
//! published. revleak writes no source system:
//! the actions are published beside the findings (`actions/as_of=.../`).

use crate::error::{Error, Result, located};
use crate::outputs::manifest::ActionSummary;
use crate::reconcile::checks::{header_value, sql_files_by_id};
use crate::reconcile::layers::Layers;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, SchemaRef};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::prelude::SessionContext;
use revleak_contract::{self as contract, Table};
use rust_decimal::Decimal;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The schema the current run's findings are read from: `run.findings`.
const RUN_SCHEMA: &str = "run";
/// Where the actions are published, beside findings/ and summary/; also the
/// schema each action is registered under for the actions after it.
pub const OUTPUT: &str = "actions";
/// The partners' statements (`queries/statements/`): run the same way, one
/// dataset per file, each row naming its `partner_id`; published for the
/// partners' pages.
pub const STATEMENTS: &str = "statements";

/// An action file and its header.
#[derive(Debug, Clone)]
pub struct ActionFile {
    pub id: String,
    pub path: PathBuf,
    pub sql: String,
    pub title: String,
    /// The contract table whose columns lead each row (`-- shape:`).
    pub shape: Option<&'static Table>,
}

/// One action's rows, ready to publish.
#[derive(Debug, Clone)]
pub struct ActionOutput {
    pub file: ActionFile,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

/// Reads every `*.sql` of `dir`; a missing folder has no actions. Every
/// broken header is reported at once.
pub fn discover(dir: &Path) -> Result<Vec<ActionFile>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for (id, path, sql) in sql_files_by_id(dir, "action", &mut problems)? {
        let shape = match header_value(&sql, "shape") {
            None => None,
            Some(name) => match contract::table(&name) {
                Some(table) => Some(table),
                None => {
                    let line = sql
                        .lines()
                        .position(|l| l.trim_start().starts_with("-- shape:"))
                        .map_or(1, |i| i + 1);
                    problems.push(format!(
                        "{}:{line}:1: shape `{name}` is not a contract table (e.g. billing/invoices)",
                        path.display()
                    ));
                    continue;
                }
            },
        };
        files.push(ActionFile {
            title: header_value(&sql, "title").unwrap_or_else(|| id.replace('_', " ")),
            shape,
            id,
            path,
            sql,
        });
    }
    if !problems.is_empty() {
        return Err(Error::Queries(problems));
    }
    files.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(files)
}

/// The actions an action reads (`actions.<id>`), which run before it.
fn reads(file: &ActionFile, ids: &BTreeSet<String>, schema: &str) -> BTreeSet<String> {
    ids.iter()
        .filter(|id| *id != &file.id && file.sql.contains(&format!("{schema}.{id}")))
        .cloned()
        .collect()
}

/// Runs every file of `folders` (`queries/actions/` and `queries/statements/`,
/// each with the schema its outputs are named in) over the layers and the
/// run's settled findings (`run.findings`, with their dispositions), as one
/// graph. A file may read those of its folder before it
/// (`actions.draft_invoice_lines`); each runs once what it reads has, so one
/// folder's files keep the cores busy while the other's wait. Returns each
/// folder's outputs, in `folders`' order; every broken file is reported
/// together.
pub async fn run(
    ctx: &SessionContext,
    layers: &Layers,
    folders: &[(&[ActionFile], &str)],
    findings: &[RecordBatch],
) -> Result<Vec<Vec<ActionOutput>>> {
    let mut outputs: Vec<Vec<ActionOutput>> = folders.iter().map(|_| Vec::new()).collect();
    if folders.iter().all(|(files, _)| files.is_empty()) {
        return Ok(outputs);
    }
    let catalog = ctx.catalog("datafusion").expect("default catalog");
    let schemas = folders
        .iter()
        .filter(|(files, _)| !files.is_empty())
        .map(|(_, schema)| *schema);
    for name in std::iter::once(RUN_SCHEMA).chain(schemas) {
        if catalog.schema(name).is_none() {
            catalog
                .register_schema(name, Arc::new(MemorySchemaProvider::new()))
                .map_err(|e| Error::exec("registering the actions' schemas", e))?;
        }
    }
    // The actions join a few findings' rows to the layers: hash joins whose
    // build side is that handful of rows. Under a memory limit the engine
    // prefers sort-merge joins (they spill), which for a dozen joins would
    // split the pool into slices too small for any sort.
    // (sharing the run's catalogs: no default catalog of its own to replace them)
    let mut config = ctx
        .state()
        .config()
        .clone()
        .with_create_default_catalog_and_schema(false);
    config.options_mut().optimizer.prefer_hash_join = true;
    let state = datafusion::execution::SessionStateBuilder::new_from_existing(ctx.state())
        .with_config(config)
        .build();
    let ctx = &SessionContext::new_with_state(state);
    let findings_name = format!("{RUN_SCHEMA}.findings");
    register(
        ctx,
        layers,
        &findings_name,
        crate::outputs::findings::findings_schema(),
        findings,
    )
    .await?;

    // per folder: its files' ids, those done and those failed
    let ids: Vec<BTreeSet<String>> = folders
        .iter()
        .map(|(files, _)| files.iter().map(|f| f.id.clone()).collect())
        .collect();
    let mut done: Vec<HashSet<String>> = folders.iter().map(|_| HashSet::new()).collect();
    let mut failed: Vec<HashSet<String>> = folders.iter().map(|_| HashSet::new()).collect();
    let mut problems = Vec::new();
    // Each file starts once the files it reads are done, side by side up to
    // the engine's width as the checks do, each on a task of its own (polled
    // together in one task, their plans would take turns on one core).
    let width = crate::engine::session::concurrency(ctx).max(1);
    // ((folder, index in its files), file): problems are reported in that order
    let mut waiting: Vec<((usize, usize), &ActionFile)> = folders
        .iter()
        .enumerate()
        .flat_map(|(folder, (files, _))| {
            files
                .iter()
                .enumerate()
                .map(move |(index, file)| ((folder, index), file))
        })
        .collect();
    let mut file_problems: Vec<((usize, usize), String)> = Vec::new();
    let mut running = tokio::task::JoinSet::new();
    loop {
        let mut next = 0;
        while running.len() < width && next < waiting.len() {
            let ((folder, _), file) = waiting[next];
            let schema = folders[folder].1;
            if reads(file, &ids[folder], schema)
                .iter()
                .all(|r| done[folder].contains(r))
            {
                let (at, file) = waiting.remove(next);
                let (ctx, file, schema) = (ctx.clone(), file.clone(), schema.to_string());
                running.spawn(async move {
                    let result = run_one(&ctx, &file, &schema).await;
                    (at, file, result)
                });
            } else {
                next += 1;
            }
        }
        let Some(finished) = running.join_next().await else {
            break;
        };
        let ((folder, index), file, result) = crate::engine::session::joined(finished);
        match result {
            Ok(output) => {
                let name = format!("{}.{}", folders[folder].1, file.id);
                register(ctx, layers, &name, output.schema.clone(), &output.batches).await?;
                done[folder].insert(file.id.clone());
                outputs[folder].push(output);
            }
            Err(problem) => {
                failed[folder].insert(file.id.clone());
                file_problems.push(((folder, index), problem));
            }
        }
    }
    file_problems.sort_by_key(|(at, _)| *at);
    problems.extend(file_problems.into_iter().map(|(_, problem)| problem));
    // what never started reads a file that failed, or reads in a loop
    for ((folder, _), file) in waiting {
        let schema = folders[folder].1;
        let blocked: Vec<String> = reads(file, &ids[folder], schema)
            .into_iter()
            .filter(|r| !done[folder].contains(r))
            .collect();
        if blocked.iter().any(|b| failed[folder].contains(b)) {
            continue; // its input's own error is reported
        }
        problems.push(format!(
            "{}:1:1: reads {} in a loop",
            file.path.display(),
            blocked
                .iter()
                .map(|b| format!("{schema}.{b}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !problems.is_empty() {
        return Err(Error::Queries(problems));
    }
    for outputs in &mut outputs {
        // a file whose name starts with `_` is a step the others read, computed
        // once (SQL would repeat a shared CTE at each use), not an output
        outputs.retain(|o| !o.file.id.starts_with('_'));
        outputs.sort_by(|a, b| a.file.id.cmp(&b.file.id));
    }
    Ok(outputs)
}

/// Runs one action and conforms its rows: a shaped action's contract columns
/// first, cast to the contract's types; text as plain UTF-8 for every reader.
async fn run_one(
    ctx: &SessionContext,
    file: &ActionFile,
    schema: &str,
) -> std::result::Result<ActionOutput, String> {
    let at = |e: &datafusion::error::DataFusionError| located(&file.path, e);
    let started = std::time::Instant::now();
    let df = ctx.sql(&file.sql).await.map_err(|e| at(&e))?;
    let planned = started.elapsed();
    let found: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    // an action's rows name the finding they settle; a statement's, its partner
    let (key, what) = match schema {
        STATEMENTS => ("partner_id", "a statement's rows must name their partner"),
        _ => (
            "finding_id",
            "an action's rows must name the finding they settle",
        ),
    };
    if !found.iter().any(|c| c == key) {
        return Err(format!(
            "{}:1:1: {what}: no column {key}",
            file.path.display()
        ));
    }
    let mut leading: Vec<(String, Option<DataType>)> = Vec::new();
    if let Some(table) = file.shape {
        let missing: Vec<&str> = table
            .columns
            .iter()
            .map(|c| c.name)
            .filter(|c| !found.iter().any(|f| f == c))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "{}:1:1: shaped as {} but has no column {}",
                file.path.display(),
                table.qualified(),
                missing.join(", ")
            ));
        }
        for c in table.columns {
            leading.push((c.name.to_string(), Some(c.ty.arrow_type())));
        }
    }
    let others = found
        .iter()
        .filter(|c| !leading.iter().any(|(l, _)| l == *c))
        .map(|c| (c.clone(), None));
    let columns: Vec<(String, Option<DataType>)> =
        leading.clone().into_iter().chain(others).collect();
    let df_schema = df.schema().clone();
    let exprs = columns
        .iter()
        .map(|(name, ty)| {
            let column = datafusion::prelude::ident(name);
            let field_type = df_schema
                .field_with_unqualified_name(name)
                .map(|f| f.data_type().clone())
                .unwrap_or(DataType::Utf8);
            let target = match ty {
                Some(t) => t.clone(),
                None if matches!(field_type, DataType::Utf8View | DataType::LargeUtf8) => {
                    DataType::Utf8
                }
                // money as the contract's Decimal128(18, 2) whatever precision the
                // arithmetic left, rates as its Decimal128(18, 8)
                None if matches!(field_type, DataType::Decimal128(_, 2)) => {
                    DataType::Decimal128(18, 2)
                }
                None if matches!(field_type, DataType::Decimal128(_, s) if s > 2) => {
                    DataType::Decimal128(18, 8)
                }
                None => field_type,
            };
            datafusion::prelude::cast(column, target).alias(name)
        })
        .collect::<Vec<_>>();
    // rows in a stable order (by their first two columns: an id, a line), so
    // that two runs over the same snapshot publish the same files
    let order = columns
        .iter()
        .take(2)
        .map(|(name, _)| datafusion::prelude::ident(name).sort(true, true))
        .collect();
    let df = df
        .select(exprs)
        .and_then(|df| df.sort(order))
        .map_err(|e| at(&e))?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await.map_err(|e| at(&e))?;
    tracing::debug!(
        file = %file.path.display(),
        rows = batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
        plan_ms = planned.as_millis() as u64,
        ms = started.elapsed().as_millis() as u64,
        "action done"
    );
    // a contract column the contract requires must not be null: the row would
    // not import (and would be a data-quality finding on the next run)
    if let Some(table) = file.shape {
        for c in table.columns.iter().filter(|c| !c.nullable) {
            let index = schema.index_of(c.name).expect("selected above");
            let nulls: usize = batches.iter().map(|b| b.column(index).null_count()).sum();
            if nulls > 0 {
                return Err(format!(
                    "{}:1:1: {nulls} row(s) with a null {} (required in {})",
                    file.path.display(),
                    c.name,
                    table.qualified()
                ));
            }
        }
    }
    Ok(ActionOutput {
        file: file.clone(),
        schema,
        batches,
    })
}

/// Registers batches as a table: in memory, or (layers as files, which a
/// cluster's executors read) written as Parquet beside the layers.
async fn register(
    ctx: &SessionContext,
    layers: &Layers,
    name: &str,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<()> {
    let failed = |e| Error::exec(name.to_string(), e);
    let _ = ctx.deregister_table(name);
    match layers {
        Layers::Materialized => {
            let table = datafusion::datasource::MemTable::try_new(schema, vec![batches.to_vec()])
                .map_err(failed)?;
            ctx.register_table(name, Arc::new(table))
                .map(|_| ())
                .map_err(failed)
        }
        Layers::Files { dir: root, .. } => {
            let dir = root.join(name);
            crate::storage::work::put_work_file(
                ctx,
                &dir.join("part-0.parquet"),
                crate::storage::work::WorkFile::Bytes(parquet_bytes(&schema, batches)?),
            )
            .await?;
            crate::reconcile::layers::register_parquet_folder(ctx, name, &dir, &schema)
                .await
                .map_err(failed)
        }
    }
}

/// An action's rows as a Parquet file.
pub fn parquet_bytes(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let fail = |message: String| Error::Output {
        path: PathBuf::from(OUTPUT),
        message,
    };
    let mut bytes = Vec::new();
    let mut writer =
        datafusion::parquet::arrow::ArrowWriter::try_new(&mut bytes, schema.clone(), None)
            .map_err(|e| fail(e.to_string()))?;
    for batch in batches {
        writer.write(batch).map_err(|e| fail(e.to_string()))?;
    }
    writer.close().map_err(|e| fail(e.to_string()))?;
    Ok(bytes)
}

/// An action's rows as CSV with a header (what finance tools import): dates
/// ISO, amounts as plain decimals, nulls empty.
pub fn csv_bytes(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let fail = |message: String| Error::Output {
        path: PathBuf::from(OUTPUT),
        message,
    };
    let mut bytes = Vec::new();
    {
        let mut writer = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut bytes);
        if batches.is_empty() {
            writer
                .write(&RecordBatch::new_empty(schema.clone()))
                .map_err(|e| fail(e.to_string()))?;
        }
        for batch in batches {
            writer.write(batch).map_err(|e| fail(e.to_string()))?;
        }
    }
    Ok(bytes)
}

/// Rows, findings settled, amount and accepted rows of one action.
pub fn summarize(output: &ActionOutput) -> ActionSummary {
    summary_of(
        &output.file.id,
        &output.file.title,
        output.file.shape.map(|t| t.qualified()),
        &output.schema,
        &output.batches,
    )
}

/// The actions published in a partition (`actions/as_of=.../<id>.parquet`),
/// summarized from their Parquet files; titles and shapes from the manifest
/// when it names them.
pub fn read_published(dir: &Path, named: &[ActionSummary]) -> Result<Vec<ActionSummary>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("parquet"))
        .collect();
    files.sort();
    let mut summaries = Vec::new();
    for path in files {
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let batches = crate::outputs::findings::read_parquet(&path)?;
        let schema = batches.first().map_or_else(
            || Arc::new(datafusion::arrow::datatypes::Schema::empty()),
            RecordBatch::schema,
        );
        let known = named.iter().find(|a| a.id == id);
        let title = known.map_or_else(|| id.replace('_', " "), |a| a.title.clone());
        let shape = known.and_then(|a| a.shape.clone());
        summaries.push(summary_of(&id, &title, shape, &schema, &batches));
    }
    Ok(summaries)
}

fn summary_of(
    id: &str,
    title: &str,
    shape: Option<String>,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> ActionSummary {
    let mut findings = HashSet::new();
    let mut reporting_amount = Decimal::ZERO;
    let mut accepted = 0;
    let index = |name: &str| schema.index_of(name).ok();
    for batch in batches {
        if let Some(i) = index("finding_id") {
            let ids = datafusion::arrow::compute::cast(batch.column(i), &DataType::Utf8)
                .expect("text casts to text");
            let ids = ids.as_string::<i32>();
            for row in 0..ids.len() {
                if ids.is_valid(row) {
                    findings.insert(ids.value(row).to_string());
                }
            }
        }
        if let Some(i) = index("reporting_amount") {
            let amounts =
                datafusion::arrow::compute::cast(batch.column(i), &DataType::Decimal128(38, 2));
            if let Ok(amounts) = amounts {
                let amounts = amounts.as_primitive::<Decimal128Type>();
                for row in 0..amounts.len() {
                    if amounts.is_valid(row) {
                        reporting_amount += Decimal::from_i128_with_scale(amounts.value(row), 2);
                    }
                }
            }
        }
        if let Some(i) = index("disposition") {
            let d = datafusion::arrow::compute::cast(batch.column(i), &DataType::Utf8)
                .expect("text casts to text");
            let d = d.as_string::<i32>();
            accepted += (0..d.len())
                .filter(|&r| d.is_valid(r) && d.value(r) == "accepted")
                .count();
        }
    }
    ActionSummary {
        id: id.to_string(),
        title: title.to_string(),
        shape,
        rows: batches.iter().map(RecordBatch::num_rows).sum(),
        findings: findings.len(),
        reporting_amount,
        accepted,
    }
}

/// One row of `commission_adjustments`, as a partner's page states it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommissionAdjustment {
    pub partner_id: String,
    pub deal_id: String,
    pub level: i64,
    /// Negative: a claw-back; positive: a top-up (the payout currency).
    pub amount: Decimal,
    pub currency: String,
}

/// The published commission adjustments of a partition, if any.
pub fn read_commission_adjustments(dir: &Path) -> Result<Vec<CommissionAdjustment>> {
    let path = dir.join("commission_adjustments.parquet");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut rows = Vec::new();
    for batch in crate::outputs::findings::read_parquet(&path)? {
        let text = |name: &str| -> Result<Vec<Option<String>>> {
            let i = batch.schema().index_of(name).map_err(|e| Error::Output {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let column = datafusion::arrow::compute::cast(batch.column(i), &DataType::Utf8)
                .map_err(|e| Error::Output {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            let column = column.as_string::<i32>();
            Ok((0..column.len())
                .map(|r| column.is_valid(r).then(|| column.value(r).to_string()))
                .collect())
        };
        let (partners, deals, levels, amounts, currencies) = (
            text("partner_id")?,
            text("deal_id")?,
            text("level")?,
            text("amount")?,
            text("currency")?,
        );
        for r in 0..batch.num_rows() {
            rows.push(CommissionAdjustment {
                partner_id: partners[r].clone().unwrap_or_default(),
                deal_id: deals[r].clone().unwrap_or_default(),
                level: levels[r]
                    .as_deref()
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0),
                amount: amounts[r]
                    .as_deref()
                    .and_then(|a| a.parse().ok())
                    .unwrap_or_default(),
                currency: currencies[r].clone().unwrap_or_default(),
            });
        }
    }
    Ok(rows)
}
