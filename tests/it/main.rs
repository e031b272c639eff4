//! revleak's integration tests, one module per topic, in one test binary: each
//! test binary links DataFusion and polars, so one binary instead of twenty
//! keeps `cargo test` from spending its time linking.

mod common;
#[path = "common/worlds.rs"]
mod worlds;

mod architecture;
mod bi_reader;
mod checks_billing;
mod checks_partners;
mod cli;
mod cluster;
mod cookbook;
mod data_quality;
mod end_to_end;
mod engine_settings;
mod exit_codes;
mod exports;
mod formats;
mod lifecycle;
mod object_store;
mod object_store_out;
mod object_store_readers;
mod partner_statements;
mod properties;
mod recovery_actions;
mod report;
mod robustness_data;
mod robustness_input;
mod robustness_process;
mod robustness_queries;
mod sql_tests;
mod watch;
