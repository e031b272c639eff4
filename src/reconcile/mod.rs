//! Reconciling the canonical tables: the as-of and data-quality layers
//! ([`layers`], by the rules of [`quality`]), then the shared views and the
//! checks over them ([`graph`], [`checks`]).

pub mod checks;
pub mod graph;
pub mod layers;
pub mod quality;
