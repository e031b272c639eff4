//! The query engine revleak runs on: DataFusion sessions and their settings
//! ([`session`]), the plan rules and row estimates that keep its plans lean
//! ([`plan_rules`], [`estimates`]), how the process asks for its memory
//! ([`memory`]), revleak's SQL functions ([`udf`]) and the
//! Ballista cluster ([`cluster`], with `--features cluster`; how its jobs are
//! watched: [`jobs`]; why a lost executor fails the jobs it ran: [`lost_executors`]).

#[cfg(feature = "cluster")]
pub mod cluster;
pub mod estimates;
pub mod jobs;
#[cfg(feature = "cluster")]
pub mod lost_executors;
pub mod memory;
pub mod plan_rules;
pub mod session;
pub mod udf;
