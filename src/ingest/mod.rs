//! Getting a snapshot in: the raw tables found in the snapshot folder
//! ([`snapshot`]) and the staging views that map them to the canonical tables,
//! checked against the contract on what they return ([`staging`]).

pub mod snapshot;
pub mod staging;
