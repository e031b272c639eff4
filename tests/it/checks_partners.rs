//! Partner and customer checks on tiny hand-made snapshots (as_of 2026-11-26).
//! The cases of forecast_variance, missed_renewal, unreported_usage and
//! unbilled_partner_sale are analysts' tests beside the SQL, in
//! `queries/tests/<check>.toml` (run by `revleak test` and `tests/it/sql_tests.rs`);
//! what stays here needs Rust: the run-level columns of a finding.

use crate::common::dec;
use crate::worlds::{only, world};

#[test]
fn unreported_usage_in_eur_reporting_uses_the_eur_price() {
    let mut s = world();
    s.row(
        "provisioning/activations",
        "activation_id=A1 partner_id=P1 quantity=2 activated_date=2026-03-01",
    );
    let findings = s.run_with(&["reporting_currency=EUR"]);
    let f = only(&findings, "unreported_usage");
    // the EUR price list: 2 × 90.00 = 180.00, and the finding's currency column
    // (filled by the program from the run's reporting_currency) says EUR
    assert_eq!(f.leakage, dec("180.00"));
    assert_eq!(f.currency, "EUR");
}
