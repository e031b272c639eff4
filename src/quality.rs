//! The as-of and data-quality layers between the staging views and the checks.
//!
//! For every contract table this module builds, from [`crate::contract`] alone:
//! - `existing.<table>`: the staging rows that exist for the run (event date on or
//!   before as_of, or null; lines whose header is not dated after as_of);
//! - the data-quality rules of checks.md over those rows, gathered in the
//!   `quality.row_issues` table (one row per bad row key, its problems listed);
//! - `clean.<table>`: the existing rows that pass every rule, materialized once,
//!   which is what checks 1–14 read; `flagged.<table>`: the rows that do not, so
//!   a check can stay silent on an entity a bad row touches. Both come from one
//!   pass over the existing rows ([`split_sql`]).

use crate::contract::{CurrencyOf, DealOf, Existence, TABLES, Table};

/// The SQL expression of a row's `system/table:key` entity id over alias `r`.
pub fn row_key_sql(table: &Table, alias: &str) -> String {
    let mut parts = vec![format!("'{}'", table.qualified())];
    for col in table.primary_key {
        parts.push("':'".into());
        parts.push(format!("coalesce(cast({alias}.{col} as varchar), '')"));
    }
    format!("concat({})", parts.join(", "))
}

/// `existing.<table>`: rows that exist as of `p.as_of`.
pub fn existing_sql(table: &Table) -> String {
    let staging = format!("staging.{}", table.name);
    match table.existence {
        Existence::Always => format!("select * from {staging}"),
        Existence::EventDate(col) => format!(
            "select r.* from {staging} r cross join params p where r.{col} is null or r.{col} <= p.as_of"
        ),
        Existence::LineOf(header, key) => {
            let header_table = crate::contract::table(header).expect("header table in contract");
            let Existence::EventDate(date) = header_table.existence else {
                unreachable!("headers are dated")
            };
            format!(
                "select r.* from {staging} r where not exists (\
                 select 1 from staging.{h} h cross join params p \
                 where h.{key} = r.{key} and h.{date} > p.as_of)",
                h = header_table.name
            )
        }
    }
}

/// The data-quality rules of one table, as one query of (row_key, problem),
/// except the missing-fx-rate rule when `with_fx` is false (fx_rates itself is
/// cleaned before the daily rates exist).
pub fn issues_sql(table: &Table, with_fx: bool) -> Option<String> {
    let t = format!("existing.{}", table.name);
    let key = row_key_sql(table, "r");
    let mut rules = Vec::new();
    for col in table.columns.iter().filter(|c| !c.nullable) {
        rules.push(format!(
            "select {key} as row_key, 'required {c} is null' as problem from {t} r where r.{c} is null",
            c = col.name
        ));
    }
    let pk_cols: Vec<String> = table.primary_key.iter().map(|c| format!("r.{c}")).collect();
    rules.push(format!(
        "select {key} as row_key, concat('primary key appears ', cast(count(*) as varchar), ' times') as problem \
         from {t} r group by {} having count(*) > 1",
        pk_cols.join(", ")
    ));
    for col in table.non_negative {
        rules.push(format!(
            "select {key} as row_key, concat('negative {col} ', cast(r.{col} as varchar)) as problem from {t} r where r.{col} < 0"
        ));
    }
    for reference in table.references {
        let target =
            crate::contract::table(reference.target).expect("reference target in contract");
        rules.push(format!(
            "select {key} as row_key, concat('{col} ', r.{col}, ' does not exist in {target}') as problem \
             from {t} r where r.{col} is not null and not exists \
             (select 1 from existing.{tname} x where x.{tcol} = r.{col})",
            col = reference.column,
            target = reference.target,
            tname = target.name,
            tcol = reference.target_column
        ));
    }
    if let Some((currency, deal_of)) = table.deal_currency {
        rules.push(match deal_of {
            DealOf::Deal(col) => format!(
                "select {key} as row_key, concat('currency ', r.{currency}, ' differs from deal ', d.deal_id, ' currency ', d.currency) as problem \
                 from {t} r join existing.deals d on d.deal_id = r.{col} where r.{currency} <> d.currency"
            ),
            DealOf::Invoice(col) => format!(
                "select {key} as row_key, concat('currency ', r.{currency}, ' differs from invoice ', i.invoice_id, \
                 case when d.deal_id is null then ' currency ' else concat(' deal ', d.deal_id, ' currency ') end, \
                 coalesce(d.currency, i.currency)) as problem \
                 from {t} r join existing.invoices i on i.invoice_id = r.{col} \
                 left join existing.deals d on d.deal_id = i.deal_id \
                 where r.{currency} <> coalesce(d.currency, i.currency)"
            ),
        });
    }
    if let (Some(need), true) = (table.fx_need, with_fx) {
        let (currency_sql, join) = match need.currency {
            CurrencyOf::Own(col) => (format!("r.{col}"), String::new()),
            CurrencyOf::Invoice(col) => (
                "i.currency".to_string(),
                format!("join existing.invoices i on i.invoice_id = r.{col}"),
            ),
        };
        let date_sql = need.date_sql.replace("end_date", "r.end_date");
        let date_sql = if date_sql.contains("r.") {
            date_sql
        } else {
            format!("r.{date_sql}")
        };
        rules.push(format!(
            "select row_key, concat('no fx rate from ', need_currency, ' to ', reporting_currency, ' on or before ', cast(need_date as varchar)) as problem \
             from (select {key} as row_key, {currency_sql} as need_currency, {date_sql} as need_date, p.reporting_currency \
                   from {t} r {join} cross join params p) n \
             where n.need_currency is not null and n.need_date is not null \
             and not exists (select 1 from quality.fx_first_rate f where f.currency = n.need_currency and f.first_date <= n.need_date)"
        ));
    }
    if table.name == "partners" {
        // A distributor chain that loops back (or a partner that is its own
        // parent) has no top: level-2 commissions cannot be decided.
        rules.push(format!(
            "select {key} as row_key, 'parent_partner_id chain loops back to this partner' as problem \
             from {t} r join quality.partner_cycles c on c.partner_id = r.partner_id"
        ));
    }
    Some(format!(
        "select '{q}' as table_name, row_key, array_to_string(array_sort(array_agg(distinct problem)), '; ') as problems \
         from ({rules}) issues group by row_key",
        q = table.qualified(),
        rules = rules.join("\nunion all\n")
    ))
}

/// The boolean column [`split_sql`] adds: whether the row's key has an issue.
pub const FLAGGED_COLUMN: &str = "__flagged";

/// The existing rows of a table, each with [`FLAGGED_COLUMN`]: whether its key
/// has an issue. One pass (one lookup per row) builds both data-quality layers:
/// - `clean.<table>`: the rows that are not flagged, which checks 1–14 read;
/// - `flagged.<table>`: the rows that are. Checks use it to stay silent on
///   entities a bad row touches (a deal whose only invoice is a duplicate is not
///   a missing invoice), so one bad row never cascades.
///
/// `quality.row_issues` holds one row per table and key, so the left join keeps
/// each existing row once.
pub fn split_sql(table: &Table) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("k.{}", c.name))
        .collect();
    format!(
        "select {columns}, q.row_key is not null as {FLAGGED_COLUMN} \
         from (select r.*, {key} as row_key from existing.{name} r) k \
         left join (select row_key from quality.row_issues where table_name = '{q}') q \
         on q.row_key = k.row_key",
        columns = columns.join(", "),
        name = table.name,
        q = table.qualified(),
        key = row_key_sql(table, "r")
    )
}

/// Tables cleaned in the first pass, before `shared.fx_daily` can be built.
pub fn first_pass() -> impl Iterator<Item = &'static Table> {
    TABLES.iter().filter(|t| t.name == "fx_rates")
}

pub fn second_pass() -> impl Iterator<Item = &'static Table> {
    TABLES.iter().filter(|t| t.name != "fx_rates")
}

/// `quality.partner_cycles`: the partners whose parent chain (through
/// `parent_partner_id`, over every existing row, duplicates included) comes back
/// to them within 64 steps: a loop has no top, so level-2 commissions cannot be
/// decided. Partners that only lead into someone else's loop are not flagged.
pub fn partners_in_cycles(parent_of: &[(String, String)]) -> Vec<String> {
    use std::collections::{BTreeSet, HashMap, HashSet};
    const MAX_DEPTH: usize = 64;
    let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
    for (child, parent) in parent_of {
        parents
            .entry(child.as_str())
            .or_default()
            .push(parent.as_str());
    }
    let mut in_cycle = BTreeSet::new();
    for &start in parents.keys() {
        // Breadth first up the chains: the first time `start` is met again is
        // its shortest loop.
        let mut seen: HashSet<&str> = HashSet::new();
        let mut frontier: Vec<&str> = parents[start].clone();
        for _ in 0..MAX_DEPTH {
            if frontier.contains(&start) {
                in_cycle.insert(start.to_string());
                break;
            }
            let mut next = Vec::new();
            for node in frontier {
                if seen.insert(node) {
                    next.extend(parents.get(node).into_iter().flatten().copied());
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
    }
    in_cycle.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::partners_in_cycles;

    fn edges(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(c, p)| (c.to_string(), p.to_string()))
            .collect()
    }

    #[test]
    fn loops_are_found_and_chains_into_them_are_not() {
        // A -> B -> C -> A loops; D hangs below the loop; E is its own parent;
        // F -> G is a plain chain.
        let found = partners_in_cycles(&edges(&[
            ("A", "B"),
            ("B", "C"),
            ("C", "A"),
            ("D", "A"),
            ("E", "E"),
            ("F", "G"),
        ]));
        assert_eq!(found, vec!["A", "B", "C", "E"]);
    }

    #[test]
    fn a_duplicate_key_with_a_second_parent_can_close_a_loop() {
        // Two rows for P1: one under P2, one top-level row pointing at P3, and
        // P3 under P1: the chain P1 -> P3 -> P1 exists through the duplicate.
        let found = partners_in_cycles(&edges(&[("P1", "P2"), ("P1", "P3"), ("P3", "P1")]));
        assert_eq!(found, vec!["P1", "P3"]);
    }

    #[test]
    fn loops_longer_than_64_steps_are_not_followed() {
        let long: Vec<(String, String)> = (0..70)
            .map(|i| (format!("L{i}"), format!("L{}", (i + 1) % 70)))
            .collect();
        assert!(partners_in_cycles(&long).is_empty());
        let short: Vec<(String, String)> = (0..64)
            .map(|i| (format!("S{i}"), format!("S{}", (i + 1) % 64)))
            .collect();
        assert_eq!(partners_in_cycles(&short).len(), 64);
    }
}

/// `quality.fx_first_rate`: per currency the first day a rate exists, so the
/// missing-rate rule holds for any date, even one past the daily table's end.
pub const FX_FIRST_RATE_SQL: &str =
    "select currency, min(rate_date) as first_date from shared.fx_daily group by currency";
