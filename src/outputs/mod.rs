//! What a run leaves behind: the settled findings ([`findings`], with
//! [`dispositions`] and [`alerts`], delivered by [`delivery`]), the recovery
//! [`actions`], the [`scorecard`] and [`report`], the [`manifest`], all written
//! through the atomic [`publish`].

pub mod actions;
pub mod alerts;
pub mod delivery;
pub mod dispositions;
pub mod findings;
pub mod manifest;
pub mod publish;
pub mod report;
pub mod scorecard;
