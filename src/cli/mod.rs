//! The command line: the arguments ([`args`]), what each subcommand does
//! ([`app`]), `revleak inspect` ([`inspect`]) and where a run's SQL comes from
//! ([`queries`]).

pub mod app;
pub mod args;
pub mod inspect;
pub mod queries;
