//! The one error type of the library: a variant per stage, each message naming
//! the file, table, column or query it is about.

use datafusion::error::DataFusionError;
use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Arguments, `revleak.toml`, `--set` values.
    #[error("{0}")]
    Config(String),

    /// The snapshot cannot be read (unreadable or malformed file, a table present twice).
    #[error("{}", .0.join("\n"))]
    Snapshot(Vec<String>),

    /// What a staging view returns does not meet the contract, a raw value
    /// cannot be converted, or a raw table it reads is missing (and not
    /// declared in `absent_tables`): each line names the staging file and the
    /// raw file or table.
    #[error("{}", .0.join("\n"))]
    Staging(Vec<String>),

    /// Check or staging SQL files that fail to parse, plan or return the findings shape,
    /// one line each as `path:line:col: message`.
    #[error("{}", .0.join("\n"))]
    Queries(Vec<String>),

    /// A query failed while running.
    #[error("{context}: {source}")]
    Execution {
        context: String,
        #[source]
        source: datafusion::error::DataFusionError,
    },

    /// Object storage: a store that cannot be built or reached, a missing
    /// bucket, refused credentials; the message names the URL and the cause
    /// (never a secret).
    #[error("{0}")]
    Storage(String),

    /// Reading or writing files.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An output file cannot be written or read back (Parquet, JSON lines,
    /// the report's datasets).
    #[error("{}: {message}", path.display())]
    Output { path: PathBuf, message: String },

    /// The output folder lacks what a command reads: no published run, or a
    /// partition missing or empty.
    #[error("{0}")]
    NotPublished(String),

    /// Another run holds the output folder's lock: nothing was published.
    #[error("{0}")]
    Lock(String),

    /// `revleak test` files that cannot be read as cases, or a case whose
    /// snapshot cannot be written.
    #[error("{}", .0.join("\n"))]
    SqlTests(Vec<String>),

    /// The process cannot listen for the signals that stop `revleak watch`.
    #[error("{0}")]
    Signal(String),

    /// A run's result breaks an invariant checked before anything is published
    /// (a finding reported twice, a summary that differs from the findings):
    /// a wrong number is never published, the run fails instead.
    #[error("{0}")]
    Invariant(String),

    /// A Ballista scheduler or executor (`revleak cluster ...`).
    #[error("cluster: {0}")]
    Cluster(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn exec(context: impl Into<String>, source: datafusion::error::DataFusionError) -> Self {
        Error::Execution {
            context: context.into(),
            source,
        }
    }
}

/// Formats a DataFusion error as `path:line:col: message` (line 1 col 1 when
/// DataFusion gives no position).
pub fn located(path: &Path, err: &DataFusionError) -> String {
    let message = err.strip_backtrace().trim().replace('\n', " ");
    let (line, col) = position(err).unwrap_or((1, 1));
    format!("{}:{line}:{col}: {message}", path.display())
}

fn position(err: &DataFusionError) -> Option<(u64, u64)> {
    if let Some(span) = err.diagnostic().and_then(|d| d.span)
        && span.start.line > 0
    {
        return Some((span.start.line, span.start.column));
    }
    // sqlparser: "... at Line: 3, Column: 14"
    let text = err.to_string();
    let at = text.rfind("Line: ")?;
    let rest = &text[at + 6..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let col: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((line.trim().parse().ok()?, col.parse().ok()?))
}
