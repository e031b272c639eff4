//! revleak: finds channel revenue leakage by reconciling one nightly snapshot of
//! the vendor's channel systems (PRM, CRM, contracts, billing, provisioning, ERP,
//! commissions) with SQL checks run in Apache DataFusion.
//!
//! Stages, in the order data flows: [`snapshot`] (load + validate against
//! [`contract`]), [`checks`] (staging views, data quality, checks), [`findings`]
//! (run-level columns), [`publish`] (atomic output), driven by [`run`].

pub mod contract;
pub mod dispositions;
pub mod error;
pub mod generate;

pub use error::{Error, Result};
pub mod app;
pub mod checks;
pub mod cli;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod config;
pub mod estimates;
pub mod findings;
pub mod plan_rules;
pub mod publish;
pub mod quality;
pub mod queries;
pub mod report;
pub mod run;
pub mod snapshot;
pub mod udf;
