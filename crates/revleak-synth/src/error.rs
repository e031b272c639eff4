//! The generator's errors: a file it cannot write, or options or rows it cannot
//! make a snapshot of.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Options or generated rows that cannot make a snapshot (a bug or a bad scale).
    #[error("generate: {0}")]
    Invalid(String),

    /// Creating or writing a file or folder.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Writing a Parquet file.
    #[error("{}: {message}", path.display())]
    Output { path: PathBuf, message: String },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
