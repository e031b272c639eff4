//! Driving runs from outside one run: the `revleak watch` loop ([`watch`]) and
//! the analysts' SQL test cases of `revleak test` ([`sql_tests`]).

pub mod sql_tests;
pub mod watch;
