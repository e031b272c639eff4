//! Getting a snapshot in: the raw tables found in the snapshot folder
//! ([`snapshot`]; text files opened by [`source`], read by [`csv`] and
//! [`jsonl`] and converted to Parquet by [`text`]; Excel workbooks read by [`xlsx`]) and the staging views that map them to the canonical tables,
//! checked against the contract on what they return ([`staging`]); a value they
//! could not convert is traced back to its file ([`diagnostics`]).

mod batches;
pub mod csv;
pub mod diagnostics;
pub mod jsonl;
pub mod snapshot;
pub mod source;
pub mod staging;
pub mod text;
pub mod xlsx;
