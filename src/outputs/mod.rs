//! What a run leaves behind: the settled findings ([`findings`], with
//! [`dispositions`] and [`alerts`], delivered by [`delivery`]), the recovery
//! [`actions`], the [`scorecard`] and [`report`], the [`manifest`], all written
//! through the atomic [`publish`] into the [`destination`]: a local folder, or
//! a [`bucket`] locked by a [`lease`].

pub mod actions;
pub mod alerts;
pub mod bucket;
pub mod delivery;
pub mod destination;
pub mod dispositions;
pub mod findings;
pub mod lease;
pub mod manifest;
pub mod publish;
pub mod report;
pub mod scorecard;
