//! docs/contract.md, printed from the contract's data by `revleak contract`.
//!
//! Everything a table section says — columns, types, keys, event date,
//! references, data-quality rules — is read from [`TABLES`], so the page cannot
//! drift from what a run checks; only the prose around it is written here.

use crate::{
    ColumnType, CurrencyOf, DealOf, ENTITY_TYPES, Existence, FINDING_COLUMNS, FxNeed, Severity,
    TABLES, Table,
};
use arrow_schema::DataType;
use std::fmt::Write;

/// The source systems, in the order their tables are listed, with what each is.
const SYSTEMS: &[(&str, &str)] = &[
    (
        "prm",
        "partner relationship management (the partner portal)",
    ),
    ("crm", "deals, their lines and partner forecasts"),
    ("contracts", "pricing, policy, plans, rates"),
    ("billing", "invoices, credits, payments, subscriptions"),
    ("provisioning", "what customers switched on"),
    ("erp", "the general ledger"),
    ("commissions", "what partners were paid"),
];

/// The other Arrow types a file may carry for a contract type (see [`ColumnType::accepts`]).
const ALTERNATIVES: &[DataType] = &[DataType::Utf8View, DataType::LargeUtf8, DataType::Int32];

const INTRO: &str = "\
# The data contract

<!-- Printed by `revleak contract` from crates/revleak-contract/src/lib.rs: do not edit.
Regenerate with `cargo run -q -- contract > docs/contract.md` (a test fails while they differ). -->

revleak reconciles one nightly snapshot of the channel systems: the partner portal (PRM), the
CRM, contracts, billing, provisioning, the ERP and commissions. This page is the contract the
snapshot's tables meet once staging has read them: every canonical table the checks read, its
columns with their types and nullability, its primary key, when a row exists for a run, what it
references, and the data-quality rules its rows must pass. It is printed from the contract crate
(`crates/revleak-contract`) that the run itself checks against, so the two cannot differ. What
each check does with these tables is in [checks.md](checks.md).

## A snapshot

A snapshot is a folder. Each system's tables are under `<snapshot>/<system>/`, one per table:
a Parquet file `<table>.parquet`, a folder `<table>/` of Parquet part files (large tables arrive
that way; names starting with `_` or `.`, such as Spark's `_SUCCESS` and `.crc` files, are not
data), or a CSV file `<table>.csv` with a header row (its columns are text until staging casts
them). An optional `<snapshot>/snapshot.json` says when the extract was taken:
`{\"as_of\": \"2026-11-26\"}`.

Exports never match the contract exactly: the **staging views** (`queries/staging/<table>.sql`)
map them to it, in SQL rather than Rust ([adapting-exports.md](adapting-exports.md)). A staging
view must return exactly the columns of its table below, with their types, and no null where the
table says a column is required. The shipped views are the identity, so a snapshot already in
this shape needs no other staging; `revleak inspect SNAPSHOT` shows every mismatch without
running the checks.

## Types

| type | Arrow / Parquet type | also accepted | note |
|---|---|---|---|
";

const TYPES_NOTES: &str = "
Money is exact: decimals, never floating point. A column whose *null* is `no` is required:
a null there is a data-quality finding. A table's primary key is unique in it.

Every document that belongs to a deal (its lines, invoices, invoice lines, payments, credit
notes, payouts, postings) carries the deal's currency. A document whose currency differs from
its deal's is a data-quality finding, never silently converted. Amounts are converted to the
reporting currency with `contracts/fx_rates`: the rate for a date is the latest `rate_date` on
or before it.
";

const DATA_QUALITY: &str = "
## Data-quality rules

Each table above lists the rules its rows must pass; they are derived from this contract and
apply to every row that exists for the run:

- **required**: a required column is not null;
- **not negative**: the quantities, prices and amounts listed are not negative (ERP postings and
  payouts may be: a negative row there is a reversal or a claw-back);
- **references**: a column naming a row of another table names one that exists as of as_of (a
  null reference is not checked);
- **deal currency**: a document's currency is its deal's;
- **fx rate**: the row's currency has a rate to the reporting currency on or before the date
  listed;
- **unique key**: the primary key appears once;
- **no loop** (partners): a partner's `parent_partner_id` chain does not lead back to itself.

A row that breaks a rule is **flagged**: it is one `data_quality` finding (entity `row`, id
`system/table:key`, every broken rule in its detail), and checks 1–14 never read it. How a
flagged row silences the checks that would have read it is in
[checks.md, 15. data_quality](checks.md#15-data_quality).
";

const FINDINGS: &str = "
## The findings shape

Every check returns rows of one shape; revleak adds `finding_id`, `check_id` and `currency`.
What each column means, and how the entity ids are built, is in
[checks.md, The findings shape](checks.md#the-findings-shape).

| column | type | null |
|---|---|---|
";

/// The whole page, as `revleak contract` prints it.
pub fn markdown() -> String {
    let mut out = String::from(INTRO);
    for ty in &ColumnType::ALL {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            short_name(*ty),
            ty.arrow_type(),
            alternatives(*ty),
            type_note(*ty)
        );
    }
    out.push_str(TYPES_NOTES);
    out.push_str("\n## Tables\n\n| table | what its rows are | primary key | event date |\n|---|---|---|---|\n");
    for table in TABLES {
        let _ = writeln!(
            out,
            "| [{q}](#{anchor}) | {about} | {key} | {date} |",
            q = table.qualified(),
            anchor = anchor(table),
            about = table.about,
            key = code_list(table.primary_key),
            date = match table.existence {
                Existence::Always => "—".to_string(),
                Existence::EventDate(column) => format!("`{column}`"),
                Existence::LineOf(header, _) => format!("its header's ({header})"),
            },
        );
    }
    for (system, what) in SYSTEMS {
        let _ = write!(out, "\n## {system}/ — {what}\n");
        for table in TABLES.iter().filter(|t| t.system == *system) {
            out.push_str(&table_section(table));
        }
    }
    out.push_str(DATA_QUALITY);
    out.push_str(FINDINGS);
    for column in FINDING_COLUMNS {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            column.name,
            short_name(column.ty),
            yes_no(column.nullable)
        );
    }
    let _ = write!(
        out,
        "\nSeverities, highest first: {}.\n\nEntity types: {}.\n",
        code_list(&Severity::ALL.map(Severity::as_str)),
        code_list(ENTITY_TYPES)
    );
    out
}

fn table_section(table: &Table) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "\n### {}\n\n{}.\n\n| column | type | null | meaning |\n|---|---|---|---|\n",
        table.qualified(),
        capitalized(table.about)
    );
    for column in table.columns {
        let key = if table.primary_key.contains(&column.name) {
            " (key)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "| `{}`{key} | {} | {} | {} |",
            column.name,
            short_name(column.ty),
            yes_no(column.nullable),
            column.meaning
        );
    }
    if !table.notes.is_empty() {
        let _ = write!(out, "\n{}\n", table.notes);
    }
    let _ = write!(
        out,
        "\n- **Primary key**: {}.\n- **Exists for a run**: {}.\n",
        code_list(table.primary_key),
        existence(table.existence)
    );
    if !table.references.is_empty() {
        let references: Vec<String> = table
            .references
            .iter()
            .map(|r| {
                let target = crate::table(r.target).expect("reference target in contract");
                format!(
                    "`{}` → [{}](#{}) `{}`",
                    r.column,
                    r.target,
                    anchor(target),
                    r.target_column
                )
            })
            .collect();
        let _ = writeln!(out, "- **References**: {}.", references.join("; "));
    }
    let _ = writeln!(out, "- **Data quality**:");
    for rule in rules(table) {
        let _ = writeln!(out, "  - {rule};");
    }
    let _ = writeln!(out, "  - the primary key appears once.");
    out
}

/// The rules of [`DATA_QUALITY`] that apply to one table, but the unique key
/// (every table has it, so the caller ends the list with it).
fn rules(table: &Table) -> Vec<String> {
    let mut rules = Vec::new();
    let required: Vec<&str> = table
        .columns
        .iter()
        .filter(|c| !c.nullable)
        .map(|c| c.name)
        .collect();
    rules.push(format!("required, never null: {}", code_list(&required)));
    if !table.non_negative.is_empty() {
        rules.push(format!("not negative: {}", code_list(table.non_negative)));
    }
    for r in table.references {
        rules.push(format!(
            "`{}`, when not null, names a row of {} that exists",
            r.column, r.target
        ));
    }
    if let Some((currency, deal_of)) = table.deal_currency {
        rules.push(match deal_of {
            DealOf::Deal(column) => {
                format!("`{currency}` is the currency of the deal `{column}` names")
            }
            DealOf::Invoice(column) => format!(
                "`{currency}` is the currency of the deal of the invoice `{column}` names \
                 (the invoice's own currency when it names no deal)"
            ),
        });
    }
    if let Some(need) = table.fx_need {
        rules.push(fx_rule(need));
    }
    if table.qualified() == "prm/partners" {
        // The one rule of src/reconcile/quality.rs that is code, not data.
        rules.push(
            "the `parent_partner_id` chain does not loop back to the partner (a loop has no \
             top, so its level-2 commissions cannot be decided)"
                .to_string(),
        );
    }
    rules
}

fn fx_rule(need: FxNeed) -> String {
    let currency = match need.currency {
        CurrencyOf::Own(column) => format!("`{column}`"),
        CurrencyOf::Invoice(column) => format!("the currency of the invoice `{column}` names"),
    };
    format!(
        "{currency} has an fx rate on or before `{}`",
        need.date_sql.replace("p.as_of", "as_of")
    )
}

fn existence(existence: Existence) -> String {
    match existence {
        Existence::Always => "always (reference data, or about months to come)".to_string(),
        Existence::EventDate(column) => {
            format!("when `{column}` is null or on or before as_of (its event date)")
        }
        Existence::LineOf(header, key) => {
            format!("when its header row in {header} (same `{key}`) is not dated after as_of")
        }
    }
}

/// The name this page and the error messages use for a type: `money`, not its Arrow type.
fn short_name(ty: ColumnType) -> &'static str {
    let described = ty.describe();
    described.split(' ').next().unwrap_or(described)
}

fn alternatives(ty: ColumnType) -> String {
    let names: Vec<String> = ALTERNATIVES
        .iter()
        .filter(|other| **other != ty.arrow_type() && ty.accepts(other))
        .map(ToString::to_string)
        .collect();
    if names.is_empty() {
        "—".to_string()
    } else {
        names.join(", ")
    }
}

fn type_note(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::String => "text; codes and ids; currencies as ISO 4217 codes",
        ColumnType::Date => "a day, no time",
        ColumnType::Int => "counts, line numbers, levels",
        ColumnType::Money => "an amount in the row's currency, to the cent",
        ColumnType::Pct => "a percentage: 12.50 = 12.5 %",
        ColumnType::Rate => "an exchange rate",
        ColumnType::Bool => "true or false",
    }
}

/// The GitHub anchor of a table's heading (`### prm/partners` → `prmpartners`).
fn anchor(table: &Table) -> String {
    format!("{}{}", table.system, table.name)
}

fn code_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn yes_no(nullable: bool) -> &'static str {
    if nullable { "yes" } else { "no" }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_under_a_listed_system() {
        for table in TABLES {
            assert!(
                SYSTEMS.iter().any(|(system, _)| *system == table.system),
                "{} has no entry in SYSTEMS",
                table.qualified()
            );
        }
    }

    #[test]
    fn every_table_says_what_its_rows_are() {
        for table in TABLES {
            assert!(
                !table.about.is_empty(),
                "{} has no about",
                table.qualified()
            );
        }
    }
}
