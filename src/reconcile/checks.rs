//! Check discovery and execution: reads `queries/checks/*.sql` (the file name is the
//! check id, a `-- key: value` comment header holds its metadata), plans every check
//! and validates its output against the findings shape — reporting every broken file
//! at once as `path:line:col: message` — then runs them, adding the columns the
//! program owns (finding_id, check_id, default severity, currency).

use crate::error::{Error, Result, located};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use revleak_contract::{ENTITY_TYPES, Severity};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The check that runs first and whose rows gate what the others read.
pub const DATA_QUALITY: &str = "data_quality";

/// The columns a check's query returns, in any order. The program adds
/// finding_id, check_id and currency, and fills a null severity from the bands.
pub const CHECK_COLUMNS: &[(&str, ColumnKind)] = &[
    ("severity", ColumnKind::Text),
    ("partner_id", ColumnKind::Text),
    ("entity_type", ColumnKind::Text),
    ("entity_id", ColumnKind::Text),
    ("period", ColumnKind::Date),
    ("expected_amount", ColumnKind::Money),
    ("actual_amount", ColumnKind::Money),
    ("leakage_amount", ColumnKind::Money),
    ("detail", ColumnKind::Text),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Date,
    Money,
}

impl ColumnKind {
    fn accepts(self, dt: &DataType) -> bool {
        match self {
            ColumnKind::Text => matches!(
                dt,
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null
            ),
            ColumnKind::Date => matches!(dt, DataType::Date32 | DataType::Null),
            // Money is exact: decimals or integers, never floating point.
            ColumnKind::Money => matches!(
                dt,
                DataType::Decimal128(_, _)
                    | DataType::Decimal256(_, _)
                    | DataType::Int64
                    | DataType::Int32
                    | DataType::Null
            ),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ColumnKind::Text => "a string",
            ColumnKind::Date => "a date (Date32)",
            ColumnKind::Money => "an exact decimal (e.g. decimal(18, 2)), never a float",
        }
    }
}

/// The `-- severity:` of a check without one: each finding's severity comes from
/// its leakage (the bands of docs/checks.md).
pub const BY_LEAKAGE: &str = "by leakage";

/// A check file and its metadata header.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckFile {
    pub id: String,
    pub path: PathBuf,
    pub sql: String,
    pub title: String,
    pub description: String,
    pub default_severity: String,
    pub owner: String,
    pub sha256: String,
}

/// The `*.sql` files of `dir` as (id, path, text): the id is the file name,
/// of lowercase letters, digits and `_` (`what` names the kind of file in the
/// problem a bad name gives, e.g. "check").
pub(crate) fn sql_files_by_id(
    dir: &Path,
    what: &str,
    problems: &mut Vec<String>,
) -> Result<Vec<(String, PathBuf, String)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            problems.push(format!(
                "{}:1:1: {what} ids are file names of lowercase letters, digits and `_`",
                path.display()
            ));
            continue;
        }
        let sql = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        files.push((id, path, sql));
    }
    Ok(files)
}

/// Reads every `*.sql` in `dir`, `data_quality` first, then by id.
pub fn discover(dir: &Path) -> Result<Vec<CheckFile>> {
    let mut checks = Vec::new();
    let mut problems = Vec::new();
    for (id, path, sql) in sql_files_by_id(dir, "check", &mut problems)? {
        let check = CheckFile::parse(id, path, sql);
        if let Some(severity) = check.header_severity()
            && severity.parse::<Severity>().is_err()
        {
            let line = check
                .sql
                .lines()
                .position(|l| l.trim_start().starts_with("-- severity:"))
                .map_or(1, |i| i + 1);
            problems.push(format!(
                "{}:{line}:1: severity `{severity}` is not one of {} (omit the header for severity by leakage)",
                check.path.display(),
                Severity::names()
            ));
            continue;
        }
        checks.push(check);
    }
    if !problems.is_empty() {
        return Err(Error::Queries(problems));
    }
    checks.sort_by(|a, b| (a.id != DATA_QUALITY, &a.id).cmp(&(b.id != DATA_QUALITY, &b.id)));
    Ok(checks)
}

impl CheckFile {
    /// The `-- severity:` header: the severity of a finding whose SQL returns a
    /// null severity. None (no header, or `by leakage`): the leakage bands.
    pub fn header_severity(&self) -> Option<&str> {
        Some(self.default_severity.as_str()).filter(|s| *s != BY_LEAKAGE)
    }

    pub fn parse(id: String, path: PathBuf, sql: String) -> CheckFile {
        let meta = |key: &str| header_value(&sql, key);
        CheckFile {
            title: meta("title").unwrap_or_else(|| id.replace('_', " ")),
            description: meta("description").unwrap_or_default(),
            default_severity: meta("severity").unwrap_or_else(|| BY_LEAKAGE.into()),
            owner: meta("owner").unwrap_or_default(),
            sha256: sha256_hex(sql.as_bytes()),
            id,
            path,
            sql,
        }
    }
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `-- key: value` from the comment block at the top of a file; continuation lines
/// (`--   more text`) extend the previous value.
pub(crate) fn header_value(sql: &str, key: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in sql.lines() {
        let Some(comment) = line.trim_start().strip_prefix("--") else {
            if line.trim().is_empty() {
                continue;
            }
            break;
        };
        let comment = comment.trim();
        if let Some((k, v)) = comment
            .split_once(':')
            .filter(|(k, _)| !k.contains(' ') && !k.is_empty())
        {
            if value.is_some() {
                break;
            }
            if k == key {
                value = Some(v.trim().to_string());
            }
        } else if let Some(v) = value.as_mut() {
            if comment.is_empty() {
                break;
            }
            v.push(' ');
            v.push_str(comment);
        }
    }
    value
}

/// Plans a check and validates its output columns. Errors are `path:line:col: message`.
pub async fn plan(
    ctx: &SessionContext,
    check: &CheckFile,
) -> std::result::Result<DataFrame, Vec<String>> {
    let df = ctx
        .sql(&check.sql)
        .await
        .map_err(|e| vec![located(&check.path, &e)])?;
    let schema = df.schema();
    let mut problems = Vec::new();
    for (name, kind) in CHECK_COLUMNS {
        match schema.fields().iter().find(|f| f.name() == name) {
            None => problems.push(format!(
                "{}:1:1: the check does not return column `{name}` ({})",
                check.path.display(),
                kind.describe()
            )),
            Some(f) if !kind.accepts(f.data_type()) => problems.push(format!(
                "{}:1:1: column `{name}` is {}, expected {}",
                check.path.display(),
                f.data_type(),
                kind.describe()
            )),
            Some(_) => {}
        }
    }
    for f in schema.fields() {
        if !CHECK_COLUMNS.iter().any(|(n, _)| n == f.name()) {
            problems.push(format!(
                "{}:1:1: unexpected column `{}`: a check returns exactly {}",
                check.path.display(),
                f.name(),
                CHECK_COLUMNS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(df)
    } else {
        Err(problems)
    }
}

/// Names of the tables a plan scans (`clean.deals`, `shared.fx_daily`, ...).
pub fn scanned_tables(plan: &LogicalPlan) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let _ = plan.apply_with_subqueries(|node| {
        match node {
            LogicalPlan::TableScan(scan) => {
                names.insert(scan.table_name.to_string());
            }
            // A layer registered as a view is inlined under its name: it counts
            // as one table, as a materialized layer does.
            LogicalPlan::SubqueryAlias(alias) if is_layer_table(&alias.alias) => {
                names.insert(alias.alias.to_string());
                return Ok(TreeNodeRecursion::Jump);
            }
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    });
    names
}

fn is_layer_table(name: &datafusion::common::TableReference) -> bool {
    name.schema()
        .is_some_and(|schema| crate::engine::session::LAYERS.contains(&schema))
}

/// Runs a planned check and returns its findings in the findings shape (without
/// run-level columns), sorted by entity; with `explain` also the executed
/// physical plan annotated with its metrics (output rows, elapsed compute, spills): what `EXPLAIN ANALYZE`
/// prints, taken from the very run that produced the findings.
pub async fn execute_explained(
    ctx: &SessionContext,
    check: &CheckFile,
    df: DataFrame,
    explain: bool,
) -> Result<(Vec<RecordBatch>, Option<String>)> {
    let view = format!("check_output_{}", check.id);
    ctx.register_table(view.as_str(), df.into_view())
        .map_err(|e| Error::exec(check.path.display().to_string(), e))?;
    let sql = format!(
        "select
            arrow_cast(left(encode(sha256(concat('{id}', '|', c.entity_type, '|', c.entity_id)), 'hex'), 16), 'Utf8') as finding_id,
            arrow_cast('{id}', 'Utf8') as check_id,
            arrow_cast(coalesce(cast(c.severity as varchar),{header}
                case
                    when cast(c.leakage_amount as decimal(18, 2)) >= p.severity_critical then 'critical'
                    when cast(c.leakage_amount as decimal(18, 2)) >= p.severity_high then 'high'
                    when cast(c.leakage_amount as decimal(18, 2)) >= p.severity_medium then 'medium'
                    when cast(c.leakage_amount as decimal(18, 2)) > 0 then 'low'
                    else 'info'
                end), 'Utf8') as severity,
            arrow_cast(c.partner_id, 'Utf8') as partner_id,
            arrow_cast(c.entity_type, 'Utf8') as entity_type,
            arrow_cast(c.entity_id, 'Utf8') as entity_id,
            cast(c.period as date) as period,
            cast(c.expected_amount as decimal(18, 2)) as expected_amount,
            cast(c.actual_amount as decimal(18, 2)) as actual_amount,
            cast(c.leakage_amount as decimal(18, 2)) as leakage_amount,
            arrow_cast(p.reporting_currency, 'Utf8') as currency,
            arrow_cast(c.detail, 'Utf8') as detail
        from {view} c cross join params p
        order by entity_type, entity_id",
        id = check.id,
        header = check
            .header_severity()
            .map(|s| format!(" '{s}',"))
            .unwrap_or_default()
    );
    let result = async {
        let df = ctx.sql(&sql).await?;
        if !explain {
            return Ok((df.collect().await?, None));
        }
        let task = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await?;
        let batches = datafusion::physical_plan::collect(Arc::clone(&plan), task).await?;
        let shown = datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(
            plan.as_ref(),
        )
        .indent(false)
        .to_string();
        Ok::<_, DataFusionError>((batches, Some(shown)))
    }
    .await;
    let _ = ctx.deregister_table(view.as_str());
    let (batches, plan) = result.map_err(|e| Error::Execution {
        context: format!("{}: while running", check.path.display()),
        source: e,
    })?;
    validate_rows(check, &batches)?;
    Ok((batches, plan))
}

/// Values the findings shape constrains: non-null required columns, known
/// severities and entity types, one finding per entity.
fn validate_rows(check: &CheckFile, batches: &[RecordBatch]) -> Result<()> {
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for batch in batches {
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .expect("wrapper returns every column")
                .clone()
        };
        for name in [
            "severity",
            "entity_type",
            "entity_id",
            "leakage_amount",
            "detail",
        ] {
            let c = col(name);
            if c.null_count() > 0 {
                problems.push(format!(
                    "{}: returned a null `{name}` in {} row(s)",
                    check.path.display(),
                    c.null_count()
                ));
            }
        }
        let severity = col("severity");
        let entity_type = col("entity_type");
        let entity_id = col("entity_id");
        let (severity, entity_type, entity_id) = (
            severity.as_string::<i32>(),
            entity_type.as_string::<i32>(),
            entity_id.as_string::<i32>(),
        );
        for i in 0..batch.num_rows() {
            if severity.is_valid(i) && severity.value(i).parse::<Severity>().is_err() {
                problems.push(format!(
                    "{}: severity `{}` is not one of {}",
                    check.path.display(),
                    severity.value(i),
                    Severity::names()
                ));
            }
            if entity_type.is_valid(i) && !ENTITY_TYPES.contains(&entity_type.value(i)) {
                problems.push(format!(
                    "{}: entity_type `{}` is not one of {}",
                    check.path.display(),
                    entity_type.value(i),
                    ENTITY_TYPES.join(", ")
                ));
            }
            if entity_type.is_valid(i)
                && entity_id.is_valid(i)
                && !seen.insert((
                    entity_type.value(i).to_string(),
                    entity_id.value(i).to_string(),
                ))
            {
                problems.push(format!(
                    "{}: more than one finding for {} {}",
                    check.path.display(),
                    entity_type.value(i),
                    entity_id.value(i)
                ));
            }
            if problems.len() >= 20 {
                break;
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        problems.dedup();
        Err(Error::Queries(problems))
    }
}

/// Registers a DataFrame's result as an in-memory table, computed once.
pub async fn materialize(
    ctx: &SessionContext,
    name: &str,
    df: DataFrame,
    context: &str,
) -> Result<()> {
    let started = std::time::Instant::now();
    let schema = Arc::new(df.schema().as_arrow().clone());
    let partitions = df
        .collect_partitioned()
        .await
        .map_err(|e| Error::exec(context.to_string(), e))?;
    let partitions = balanced(partitions, ctx.state().config().target_partitions());
    tracing::debug!(
        layer = name,
        rows = partitions
            .iter()
            .flatten()
            .map(RecordBatch::num_rows)
            .sum::<usize>(),
        ms = started.elapsed().as_millis() as u64,
        "layer built"
    );
    let table = datafusion::datasource::MemTable::try_new(schema, partitions)
        .map_err(|e| Error::exec(context.to_string(), e))?;
    ctx.register_table(name, Arc::new(table))
        .map_err(|e| Error::exec(context.to_string(), e))?;
    Ok(())
}

/// The batches of a query's partitions dealt into `n` partitions of about as
/// many rows each. A query's output can sit almost all in one partition (a
/// small Parquet file is read by one task), and a table kept like that is
/// scanned by one thread in every query that reads it.
pub fn balanced(partitions: Vec<Vec<RecordBatch>>, n: usize) -> Vec<Vec<RecordBatch>> {
    const ROWS_PER_BATCH: usize = 8192;
    let n = n.max(1);
    let mut dealt: Vec<(usize, Vec<RecordBatch>)> = (0..n).map(|_| (0, Vec::new())).collect();
    for batch in partitions.into_iter().flatten() {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let len = ROWS_PER_BATCH.min(batch.num_rows() - offset);
            let (rows, into) = dealt
                .iter_mut()
                .min_by_key(|(rows, _)| *rows)
                .expect("at least one partition");
            *rows += len;
            into.push(batch.slice(offset, len));
            offset += len;
        }
    }
    dealt.into_iter().map(|(_, batches)| batches).collect()
}
