//! revleak: finds channel revenue leakage by reconciling one nightly snapshot of
//! the vendor's channel systems (PRM, CRM, contracts, billing, provisioning, ERP,
//! commissions) with SQL checks run in Apache DataFusion.
//!
//! Stages, in the order data flows: [`snapshot`] (find and register the raw
//! tables), [`staging`] (map them to the canonical tables, checked against
//! [`contract`]), [`layers`] (as-of and data-quality layers, by the rules of
//! [`quality`]), [`graph`] (shared views and the [`checks`]), [`findings`]
//! (run-level columns, lifecycle), [`scorecard`] (the report's figures),
//! [`publish`] (atomic output, [`manifest`]), driven by [`run`] on the sessions
//! of [`engine`]. [`inspect`] shows the staging mapping without running the
//! checks; [`sql_tests`] runs the analysts' TOML cases.

pub mod actions;
pub mod alerts;
pub mod contract;
pub mod delivery;
pub mod dispositions;
pub mod engine;
pub mod error;
pub mod generate;
pub mod graph;

pub use error::{Error, Result};
pub mod app;
pub mod checks;
pub mod cli;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod config;
pub mod estimates;
pub mod findings;
pub mod inspect;
pub mod layers;
pub mod manifest;
pub mod plan_rules;
pub mod publish;
pub mod quality;
pub mod queries;
pub mod report;
pub mod run;
pub mod scorecard;
pub mod snapshot;
pub mod sql_tests;
pub mod staging;
pub mod udf;
pub mod watch;
