//! revleak: finds channel revenue leakage by reconciling one nightly snapshot of
//! the vendor's channel systems (PRM, CRM, contracts, billing, provisioning, ERP,
//! commissions) with SQL checks run in Apache DataFusion.
//!
//! The folders are the stages, in the order data flows, and each only reaches
//! down the list (`tests/it/architecture.rs` holds them to it):
//!
//! - [`cli`]: arguments, subcommand dispatch, `inspect`, the queries folder;
//! - [`ops`]: what drives runs from outside: the `watch` loop and `revleak test`;
//! - [`run`]: one run, as a page of stage calls;
//! - [`outputs`]: findings and their lifecycle, dispositions, alerts, actions,
//!   the manifest, the atomic publish, the scorecard and the HTML report;
//! - [`reconcile`]: the as-of and data-quality layers, the shared views, the checks;
//! - [`ingest`]: the snapshot's raw tables and the staging views over them,
//!   checked against the contract (`revleak_contract`);
//! - [`engine`]: DataFusion sessions, plan rules, estimates, functions, the cluster;
//! - [`storage`]: where a snapshot's files are read from: a local folder or an
//!   object store (S3, GCS, Azure);
//! - [`config`]: parameters and settings; [`error`]: the one error type.

pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod ingest;
pub mod ops;
pub mod outputs;
pub mod reconcile;
pub mod run;
pub mod storage;

pub use error::{Error, Result};
