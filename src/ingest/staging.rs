//! Staging: one SQL view per canonical table of the data contract,
//! `queries/staging/<table>.sql` (identity over `<system>.<table>` when the file
//! is absent), mapping the raw tables of the snapshot to the contract. The
//! contract is checked here, on what each view returns — not on the raw files,
//! whose columns only staging reads — and each view is registered as
//! `staging.<table>` with exactly the contract's columns and types.

use crate::error::{Error, Result};
use crate::ingest::snapshot::Snapshot;
use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{cast, ident};
use datafusion::prelude::SessionContext;
use revleak_contract::{ColumnType, TABLES, Table};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How one canonical table is built.
#[derive(Debug, Clone)]
pub struct StagedTable {
    pub table: &'static Table,
    /// The staging file (it may be absent: then the view is the identity).
    pub file: PathBuf,
    /// Whether `file` exists.
    pub from_file: bool,
    /// The raw tables the view reads (`system/name`) that the snapshot holds.
    pub reads: Vec<String>,
    /// The raw tables it reads that the snapshot lacks: the canonical table is
    /// then missing (empty, and the checks that need it are skipped), which
    /// only a table declared in `absent_tables` may be.
    pub absent: Vec<String>,
}

impl StagedTable {
    pub fn missing(&self) -> bool {
        !self.absent.is_empty()
    }

    /// The raw files the view reads, for messages.
    fn raw_files(&self, snapshot: &Snapshot) -> String {
        let files: Vec<String> = self
            .reads
            .iter()
            .filter_map(|name| snapshot.table(name))
            .map(|t| t.location.display().to_string())
            .collect();
        if files.is_empty() {
            "no raw table".to_string()
        } else {
            files.join(", ")
        }
    }
}

/// The staging of every canonical table.
#[derive(Debug, Clone, Default)]
pub struct Staging {
    pub tables: Vec<StagedTable>,
}

impl Staging {
    pub fn of(&self, table: &Table) -> Option<&StagedTable> {
        self.tables
            .iter()
            .find(|s| s.table.qualified() == table.qualified())
    }

    /// Canonical tables none of whose rows can be read: after [`register`],
    /// only tables declared in `absent_tables`.
    pub fn missing(&self) -> impl Iterator<Item = &StagedTable> {
        self.tables.iter().filter(|s| s.missing())
    }

    /// Tables declared in `absent_tables` whose raw input the snapshot holds
    /// all the same: they are read, and the declaration is stale.
    pub fn declared_but_present<'a>(
        &'a self,
        absent_tables: &'a [String],
    ) -> impl Iterator<Item = &'a StagedTable> {
        self.tables
            .iter()
            .filter(|s| !s.missing() && absent_tables.contains(&s.table.qualified()))
    }

    /// Raw tables of the snapshot that no staging view reads: their rows are
    /// not reconciled.
    pub fn unread<'a>(&self, snapshot: &'a Snapshot) -> Vec<&'a crate::ingest::snapshot::RawTable> {
        snapshot
            .raw
            .iter()
            .filter(|raw| {
                !self
                    .tables
                    .iter()
                    .any(|s| s.reads.contains(&raw.qualified()))
            })
            .collect()
    }

    /// Turns a query failure caused by a raw value that staging could not
    /// convert into an error naming the staging file, the raw file, row and
    /// column, and the value (when the engine's message quotes it). Any other
    /// error is returned as it is.
    pub fn explain(&self, snapshot: &Snapshot, error: Error) -> Error {
        let Error::Execution { context, source } = &error else {
            return error;
        };
        let message = source.strip_backtrace().trim().replace('\n', " ");
        let lower = message.to_ascii_lowercase();
        let conversion = [
            "cast",
            "pars",
            "invalid",
            "overflow",
            "convert",
            "out of range",
        ]
        .iter()
        .any(|w| lower.contains(w));
        if !conversion {
            return error;
        }
        // The layer that failed names its table (`existing.deals`); otherwise
        // any staged table whose raw rows hold the value.
        let named = self.tables.iter().find(|s| {
            ["staging.", "existing.", "clean.", "flagged."]
                .iter()
                .any(|layer| context.contains(&format!("{layer}{}", s.table.name)))
        });
        let value = quoted_value(&message);
        let located = value.as_deref().and_then(|v| {
            named
                .into_iter()
                .chain(self.tables.iter())
                .find_map(|s| snapshot.locate_value(&s.reads, v).map(|at| (s, at)))
        });
        let (staged, place) = match (located, named) {
            (Some((staged, at)), _) => (
                staged,
                format!(
                    "value `{}` of column `{}` at {}",
                    value.as_deref().unwrap_or_default(),
                    at.column,
                    at.at
                ),
            ),
            (None, Some(staged)) => (
                staged,
                match &value {
                    Some(v) => format!("value `{v}` of {}", staged.raw_files(snapshot)),
                    None => format!("a value of {}", staged.raw_files(snapshot)),
                },
            ),
            (None, None) => return error,
        };
        Error::Staging(vec![format!(
            "{}: {place} cannot be converted for {}: {message} (fix the value in the export or map it in the staging SQL: revleak never turns it into a null or drops the row)",
            staged.file.display(),
            staged.table.qualified(),
        )])
    }
}

/// The first `'...'` in an engine message: the value a cast or parse rejected.
fn quoted_value(message: &str) -> Option<String> {
    let start = message.find('\'')? + 1;
    let len = message[start..].find('\'')?;
    Some(message[start..start + len].to_string())
}

/// Plans every staging view, checks what it returns against the contract and
/// registers it as `staging.<table>`. Every problem of every view is reported
/// at once, a missing export among them: only the canonical tables of
/// `absent_tables` may lack their raw input.
pub async fn register(
    ctx: &SessionContext,
    snapshot: &Snapshot,
    dir: &Path,
    absent_tables: &[String],
) -> Result<Staging> {
    let (staging, problems) = plan(ctx, snapshot, dir, absent_tables).await?;
    if problems.is_empty() {
        Ok(staging)
    } else {
        Err(Error::Staging(problems))
    }
}

/// [`register`], returning the problems beside the views that are fine (those
/// are registered): what `revleak inspect` lists.
pub async fn plan(
    ctx: &SessionContext,
    snapshot: &Snapshot,
    dir: &Path,
    absent_tables: &[String],
) -> Result<(Staging, Vec<String>)> {
    let catalog = ctx.catalog("datafusion").expect("default catalog");
    if catalog.schema("staging").is_none() {
        catalog
            .register_schema(
                "staging",
                Arc::new(datafusion::catalog::MemorySchemaProvider::new()),
            )
            .map_err(|e| Error::exec("registering schemas", e))?;
    }
    let systems = snapshot.systems();
    let mut problems = Vec::new();
    let mut staging = Staging::default();
    for table in TABLES {
        let file = dir.join(format!("{}.sql", table.name));
        let from_file = file.exists();
        let sql = if from_file {
            std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?
        } else {
            format!("select * from {}", table.raw_name())
        };
        let (reads, absent) = match raw_tables_named(ctx, &sql, &systems) {
            Ok(names) => names
                .into_iter()
                .partition::<Vec<String>, _>(|name| snapshot.table(name).is_some()),
            Err(e) => {
                problems.push(crate::error::located(&file, &e));
                continue;
            }
        };
        let staged = StagedTable {
            table,
            file: file.clone(),
            from_file,
            reads,
            absent,
        };
        if staged.missing() && !absent_tables.contains(&table.qualified()) {
            problems.push(missing_export(&staged, &snapshot.root));
        }
        let view = if staged.missing() {
            // An empty relation in the plan, not an in-memory table: it runs on a
            // cluster too.
            let empty = RecordBatch::new_empty(table.nullable_schema());
            let plan = crate::engine::session::literal_plan(&empty)
                .map_err(|e| Error::exec(table.raw_name(), e))?;
            Some(datafusion::dataframe::DataFrame::new(ctx.state(), plan))
        } else {
            match ctx.sql(&sql).await {
                Err(e) => {
                    problems.push(format!(
                        "{} (reads {})",
                        crate::error::located(&file, &e),
                        staged.raw_files(snapshot)
                    ));
                    None
                }
                Ok(df) => match conform(table, df) {
                    Ok(df) => Some(df),
                    Err(mismatches) => {
                        let header =
                            format!("{} (reads {})", file.display(), staged.raw_files(snapshot));
                        problems.extend(mismatches.into_iter().map(|m| format!("{header}: {m}")));
                        None
                    }
                },
            }
        };
        if let Some(df) = view {
            ctx.register_table(format!("staging.{}", table.name), df.into_view())
                .map_err(|e| Error::exec(file.display().to_string(), e))?;
        }
        staging.tables.push(staged);
    }
    Ok((staging, problems))
}

/// The problem of a canonical table whose raw input the snapshot lacks and
/// which `absent_tables` does not declare: a night without an export must not
/// look like a clean one.
fn missing_export(staged: &StagedTable, snapshot_dir: &Path) -> String {
    let file = if staged.from_file {
        staged.file.display().to_string()
    } else {
        format!("{} (absent: identity)", staged.file.display())
    };
    let table = staged.table.qualified();
    format!(
        "{file}: reads {}, which the snapshot {} does not hold, so {table} cannot be built (if this deployment has no such export, declare it in revleak.toml: absent_tables = [\"{table}\"])",
        staged.absent.join(", "),
        snapshot_dir.display(),
    )
}

/// Checks a view's columns against the contract; returns the view narrowed to
/// the contract's columns, in its order, with the accepted variants (Int32,
/// the other string encodings) cast to the canonical type.
fn conform(
    table: &Table,
    df: datafusion::dataframe::DataFrame,
) -> std::result::Result<datafusion::dataframe::DataFrame, Vec<String>> {
    let schema = df.schema().clone();
    let mut mismatches = Vec::new();
    let mut columns = Vec::new();
    for column in table.columns {
        let found = schema
            .fields()
            .iter()
            .find(|f| f.name() == column.name)
            .map(|f| f.data_type().clone());
        match found {
            None => mismatches.push(format!(
                "column `{}` is missing, expected {} — return every contract column of {}",
                column.name,
                column.ty.describe(),
                table.qualified()
            )),
            Some(found) if !column.ty.accepts(&found) => mismatches.push(format!(
                "column `{}` is {found}, expected {} — cast it: cast({} as {}){}",
                column.name,
                column.ty.describe(),
                column.name,
                sql_type(column.ty),
                if found.is_floating() && is_decimal(column.ty) {
                    " (and prefer an export that writes it as decimal or text: a float does not hold money exactly)"
                } else {
                    ""
                }
            )),
            Some(found) => {
                let canonical = column.ty.arrow_type();
                let expr = if found == canonical {
                    ident(column.name)
                } else {
                    cast(ident(column.name), canonical).alias(column.name)
                };
                columns.push(expr);
            }
        }
    }
    if !mismatches.is_empty() {
        return Err(mismatches);
    }
    df.select(columns).map_err(|e| vec![e.strip_backtrace()])
}

fn is_decimal(ty: ColumnType) -> bool {
    matches!(ty, ColumnType::Money | ColumnType::Pct | ColumnType::Rate)
}

/// The SQL type a contract type is cast to.
pub fn sql_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::String => "varchar",
        ColumnType::Date => "date",
        ColumnType::Int => "bigint",
        ColumnType::Money => "decimal(18, 2)",
        ColumnType::Pct => "decimal(5, 2)",
        ColumnType::Rate => "decimal(18, 8)",
        ColumnType::Bool => "boolean",
    }
}

/// The raw tables (`system/name`) a staging query names: references into a
/// system of the snapshot or of the contract.
fn raw_tables_named(
    ctx: &SessionContext,
    sql: &str,
    systems: &[String],
) -> std::result::Result<Vec<String>, DataFusionError> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state.sql_to_statement(sql, &dialect)?;
    let mut names: Vec<String> = state
        .resolve_table_references(&statement)?
        .iter()
        .filter_map(|t| {
            let schema = t.schema()?;
            systems
                .iter()
                .any(|s| s == schema)
                .then(|| format!("{schema}/{}", t.table()))
        })
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rejected_value_is_read_from_the_engine_message() {
        assert_eq!(
            quoted_value(
                "Arrow error: Cast error: Cannot cast string '2025-13-01' to value of Date32 type"
            ),
            Some("2025-13-01".to_string())
        );
        assert_eq!(quoted_value("no value here"), None);
    }

    #[test]
    fn every_contract_type_has_a_cast_that_gives_it() {
        let ctx = SessionContext::new();
        for ty in ColumnType::ALL {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let df = rt
                .block_on(ctx.sql(&format!("select cast(null as {}) as x", sql_type(ty))))
                .unwrap();
            let found = df.schema().field(0).data_type();
            assert!(ty.accepts(found), "{ty:?}: cast gives {found}");
        }
    }
}
