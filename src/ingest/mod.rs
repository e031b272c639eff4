//! Getting a snapshot in: the raw tables found in the snapshot folder
//! ([`snapshot`], CSV files read by [`csv`], Excel workbooks by [`xlsx`]) and the staging views that map them to the canonical tables,
//! checked against the contract on what they return ([`staging`]); a value they
//! could not convert is traced back to its file ([`diagnostics`]).

pub mod csv;
pub mod diagnostics;
pub mod snapshot;
pub mod staging;
pub mod xlsx;
