//! What revleak is told: the checks' [`parameters`] (the `params` table the
//! SQL joins) and revleak's own [`settings`] (`revleak.toml` and `REVLEAK_*`
//! environment variables), whose keys are the one table in [`keys`].

pub mod keys;
pub mod parameters;
pub mod settings;

pub use keys::{
    ConfigFile, CsvTableConfig, DEFAULT_ALERT_MIN_SEVERITY, EngineChoice, KEYS, Severity,
    parse_engine, parse_severity, parse_size, parse_threads,
};
pub use parameters::*;
pub use settings::{CsvFormat, TextEncoding};
