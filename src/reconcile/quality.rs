//! The as-of and data-quality layers between the staging views and the checks.
//!
//! For every contract table this module builds, from [`revleak_contract`] alone:
//! - `existing.<table>`: the staging rows that exist for the run (event date on or
//!   before as_of, or null; lines whose header is not dated after as_of);
//! - the data-quality rules of docs/checks.md over those rows, gathered in the
//!   `quality.row_issues` table (one row per bad row key, its problems listed);
//! - `clean.<table>`: the existing rows that pass every rule, materialized once,
//!   which is what checks 1–14 read; `flagged.<table>`: the rows that do not, so
//!   a check can stay silent on an entity a bad row touches. Both come from one
//!   pass over the existing rows: [`FlaggedKeys`] when they are in memory,
//!   [`split_sql`] when they are files.

use revleak_contract::{CurrencyOf, DealOf, Existence, TABLES, Table};

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
            let header_table = revleak_contract::table(header).expect("header table in contract");
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

/// Where [`issues_sql`] finds primary keys that appear more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateKeys {
    /// Counted by the query itself (a grouping over every existing row).
    Grouped,
    /// Already counted into [`duplicate_keys_table`] (see [`duplicate_keys`]).
    Counted,
}

/// `quality.duplicate_keys_<table>`: the table's repeated primary keys as
/// [`duplicate_keys`] counts them, when they are counted outside the rules.
pub fn duplicate_keys_table(table: &Table) -> String {
    format!("quality.duplicate_keys_{}", table.name)
}

/// The data-quality rules of one table, as one query of (row_key, problem),
/// except the missing-fx-rate rule when `with_fx` is false (fx_rates itself is
/// cleaned before the daily rates exist).
///
/// Almost every row passes every rule, so each rule's query is shaped to carry
/// as little as it can until the few failing rows are known:
/// - the rules on a row's own values (required, non-negative) are tested in one
///   pass over the rows;
/// - a reference is an anti join (`not exists`): it returns only the rows whose
///   target is missing;
/// - the currency and fx-rate rules join only the columns they compare, and
///   keep only the rows that differ.
///
/// A row matching several rows of a lookup (a duplicated key there) is tested
/// against each, as a plain join would; the problems are de-duplicated per row
/// key at the end. Where a rule reads `params`, it is joined before the lookups:
/// joined after them, the conditions on its columns would be pushed into that
/// join and tested row by row as a nested-loop join filter.
pub fn issues_sql(table: &Table, with_fx: bool, duplicates: DuplicateKeys) -> String {
    let t = format!("existing.{}", table.name);
    let key = row_key_sql(table, "r");
    // (condition, problem text): the row has the problem when the condition holds.
    let mut own_rules: Vec<(String, String)> = Vec::new();
    for col in table.columns.iter().filter(|c| !c.nullable) {
        own_rules.push((
            format!("r.{c} is null", c = col.name),
            format!("'required {c} is null'", c = col.name),
        ));
    }
    for col in table.non_negative {
        own_rules.push((
            format!("r.{col} < 0"),
            format!("concat('negative {col} ', cast(r.{col} as varchar))"),
        ));
    }
    let mut rules = Vec::new();
    if !own_rules.is_empty() {
        let problems: Vec<String> = own_rules
            .iter()
            .map(|(when, problem)| format!("case when {when} then {problem} end"))
            .collect();
        let any: Vec<String> = own_rules
            .iter()
            .map(|(when, _)| format!("({when})"))
            .collect();
        rules.push(format!(
            "select row_key, problem from (\
             select {key} as row_key, unnest(make_array({problems})) as problem \
             from {t} r where {any}) per_row \
             where problem is not null",
            problems = problems.join(", "),
            any = any.join(" or "),
        ));
    }
    for reference in table.references {
        let target =
            revleak_contract::table(reference.target).expect("reference target in contract");
        rules.push(format!(
            "select {key} as row_key, \
             concat('{col} ', r.{col}, ' does not exist in {name}') as problem \
             from {t} r where r.{col} is not null and not exists (\
             select 1 from existing.{table} x where x.{tcol} = r.{col})",
            col = reference.column,
            name = reference.target,
            table = target.name,
            tcol = reference.target_column,
        ));
    }
    if let Some((currency, deal_of)) = table.deal_currency {
        rules.push(match deal_of {
            DealOf::Deal(col) => format!(
                "select {key} as row_key, \
                 concat('currency ', r.{currency}, ' differs from deal ', d.deal_id, ' currency ', d.currency) as problem \
                 from {t} r join existing.deals d on d.deal_id = r.{col} \
                 where r.{currency} <> d.currency"
            ),
            DealOf::Invoice(col) => format!(
                "select {key} as row_key, \
                 concat('currency ', r.{currency}, ' differs from invoice ', c.invoice_id, \
                 case when c.deal_id is null then ' currency ' else concat(' deal ', c.deal_id, ' currency ') end, \
                 c.currency) as problem \
                 from {t} r join {INVOICE_CURRENCY} c on c.invoice_id = r.{col} \
                 where r.{currency} <> c.currency"
            ),
        });
    }
    if let (Some(need), true) = (table.fx_need, with_fx) {
        // A row without its invoice has no currency to look a rate up for.
        let (currency_sql, invoice_join) = match need.currency {
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
        // One row per currency: its first rate's date.
        rules.push(format!(
            "select {key} as row_key, \
             concat('no fx rate from ', {currency_sql}, ' to ', p.reporting_currency, ' on or before ', cast({date_sql} as varchar)) as problem \
             from {t} r cross join params p {invoice_join} \
             left join quality.fx_first_rate f on f.currency = {currency_sql} \
             where {currency_sql} is not null and {date_sql} is not null \
             and (f.first_date is null or f.first_date > {date_sql})"
        ));
    }
    rules.push(match duplicates {
        DuplicateKeys::Grouped => {
            let pk_cols: Vec<String> =
                table.primary_key.iter().map(|c| format!("r.{c}")).collect();
            format!(
                "select {key} as row_key, concat('primary key appears ', cast(count(*) as varchar), ' times') as problem \
                 from {t} r group by {} having count(*) > 1",
                pk_cols.join(", ")
            )
        }
        DuplicateKeys::Counted => format!(
            "select {key} as row_key, concat('primary key appears ', cast(r.{APPEARANCES} as varchar), ' times') as problem \
             from {counted} r",
            counted = duplicate_keys_table(table)
        ),
    });
    if table.name == "partners" {
        // A distributor chain that loops back (or a partner that is its own
        // parent) has no top: level-2 commissions cannot be decided.
        rules.push(format!(
            "select {key} as row_key, 'parent_partner_id chain loops back to this partner' as problem \
             from {t} r join quality.partner_cycles c on c.partner_id = r.partner_id"
        ));
    }
    format!(
        "select '{q}' as table_name, row_key, array_to_string(array_sort(array_agg(distinct problem)), '; ') as problems \
         from ({rules}) issues group by row_key",
        q = table.qualified(),
        rules = rules.join("\nunion all\n")
    )
}

/// The count column of [`duplicate_keys`].
pub const APPEARANCES: &str = "appearances";

/// The values of `key` (column names of `batches`) that appear in more than one
/// row, with how many times: the key columns, then [`APPEARANCES`] (Int64). Two
/// null keys are the same key, as in SQL's `group by`.
///
/// A grouping in the engine does the same, but it copies every key into its
/// group table: for the half-million-row tables of scale 10, about 100 ms each,
/// a third of the data-quality rules' time. Here each key is hashed once
/// (vectorized); only rows that share a hash, which is rare, are compared.
pub fn duplicate_keys(
    schema: &datafusion::arrow::datatypes::SchemaRef,
    batches: &[datafusion::arrow::array::RecordBatch],
    key: &[&str],
) -> std::result::Result<datafusion::arrow::array::RecordBatch, datafusion::error::DataFusionError>
{
    use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
    use datafusion::common::hash_utils::{RandomState, create_hashes};

    let indices = key
        .iter()
        .map(|name| schema.index_of(name))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let keys_of = |batch: &RecordBatch| -> Vec<ArrayRef> {
        indices.iter().map(|&i| batch.column(i).clone()).collect()
    };
    // Every row's hash, batch by batch.
    let hasher = RandomState::default();
    let mut hashes: Vec<Vec<u64>> = Vec::with_capacity(batches.len());
    for batch in batches {
        let mut of_batch = vec![0; batch.num_rows()];
        create_hashes(keys_of(batch), &hasher, &mut of_batch)?;
        hashes.push(of_batch);
    }
    // Rather than sorting every hash: a bitmap of the hashes met (a few MB),
    // and one of those met again. A row whose bit was met again has a repeated
    // key, or shares its bit with another row's hash (about 1 row in 16).
    let rows: usize = hashes.iter().map(Vec::len).sum();
    let bits = (rows.max(1) * 16).next_power_of_two().max(64);
    let position = |hash: u64| {
        let bit = hash as usize & (bits - 1);
        (bit / 64, 1u64 << (bit % 64))
    };
    let mut seen = vec![0u64; bits / 64];
    let mut met_again = vec![0u64; bits / 64];
    for hash in hashes.iter().flatten() {
        let (word, mask) = position(*hash);
        met_again[word] |= seen[word] & mask;
        seen[word] |= mask;
    }
    // (hash, batch, row) of those rows, first ones included, sorted so that
    // equal hashes sit together
    let mut hashed: Vec<(u64, u32, u32)> = Vec::new();
    for (b, of_batch) in hashes.iter().enumerate() {
        hashed.extend(of_batch.iter().enumerate().filter_map(|(r, hash)| {
            let (word, mask) = position(*hash);
            (met_again[word] & mask != 0).then_some((*hash, b as u32, r as u32))
        }));
    }
    hashed.sort_unstable();

    let converter = RowConverter::new(
        indices
            .iter()
            .map(|&i| SortField::new(schema.field(i).data_type().clone()))
            .collect(),
    )?;
    let mut repeated: Vec<(OwnedRow, i64)> = Vec::new();
    for same_hash in hashed
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|run| run.len() > 1)
    {
        // the exact keys of the rows sharing this hash, counted
        let mut exact: Vec<OwnedRow> = Vec::with_capacity(same_hash.len());
        for &(_, b, r) in same_hash {
            let one_row: Vec<ArrayRef> = keys_of(&batches[b as usize])
                .iter()
                .map(|column| column.slice(r as usize, 1))
                .collect();
            exact.push(converter.convert_columns(&one_row)?.row(0).owned());
        }
        exact.sort_unstable();
        for same_key in exact.chunk_by(|a, b| a == b).filter(|run| run.len() > 1) {
            repeated.push((same_key[0].clone(), same_key.len() as i64));
        }
    }
    // one order whatever the hashing
    repeated.sort_unstable();
    let mut columns = converter.convert_rows(repeated.iter().map(|(row, _)| row.row()))?;
    columns.push(std::sync::Arc::new(Int64Array::from_iter_values(
        repeated.iter().map(|(_, n)| *n),
    )));
    let mut fields: Vec<Field> = indices
        .iter()
        .map(|&i| schema.field(i).clone().with_nullable(true))
        .collect();
    fields.push(Field::new(APPEARANCES, DataType::Int64, false));
    Ok(RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        columns,
    )?)
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

/// Which rows of a table have a data-quality issue: the row keys of
/// `quality.row_issues` for the table, matched against each row's key built as
/// [`row_key_sql`] builds it (the key columns cast to text as SQL casts them,
/// null as empty), without the engine: no row is copied to compute its key.
pub struct FlaggedKeys {
    prefix: String,
    keys: std::collections::HashSet<String>,
}

impl FlaggedKeys {
    pub fn new(table: &Table, row_keys: impl IntoIterator<Item = String>) -> FlaggedKeys {
        FlaggedKeys {
            prefix: table.qualified(),
            keys: row_keys.into_iter().collect(),
        }
    }

    /// The flag of each row of `key_columns` (the primary key columns, in order),
    /// or `None` when no row is flagged, which is most batches.
    pub fn flags(
        &self,
        key_columns: &[datafusion::arrow::array::ArrayRef],
    ) -> std::result::Result<
        Option<datafusion::arrow::array::BooleanArray>,
        datafusion::arrow::error::ArrowError,
    > {
        use datafusion::arrow::array::{Array, AsArray, BooleanArray};
        use datafusion::arrow::compute::cast;
        use datafusion::arrow::datatypes::DataType;
        if self.keys.is_empty() {
            return Ok(None);
        }
        let as_text = key_columns
            .iter()
            .map(|column| cast(column, &DataType::Utf8))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let texts: Vec<_> = as_text.iter().map(|c| c.as_string::<i32>()).collect();
        let rows = key_columns.first().map_or(0, |c| c.len());
        let mut key = String::new();
        let mut any = false;
        let flags: BooleanArray = (0..rows)
            .map(|row| {
                key.clear();
                key.push_str(&self.prefix);
                for text in &texts {
                    key.push(':');
                    if text.is_valid(row) {
                        key.push_str(text.value(row));
                    }
                }
                let flagged = self.keys.contains(key.as_str());
                any |= flagged;
                Some(flagged)
            })
            .collect();
        Ok(any.then_some(flags))
    }
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
/// `quality.invoice_currency`: the currency a row billed against an invoice must
/// be in: its deal's when the deal exists, else the invoice's own. Built once
/// for every table whose currency rule goes through an invoice, rather than
/// joining invoices and deals again for each of them.
pub const INVOICE_CURRENCY: &str = "quality.invoice_currency";

pub const INVOICE_CURRENCY_SQL: &str = "select i.invoice_id, d.deal_id, coalesce(d.currency, i.currency) as currency \
     from existing.invoices i left join existing.deals d on d.deal_id = i.deal_id";

pub const FX_FIRST_RATE_SQL: &str =
    "select currency, min(rate_date) as first_date from shared.fx_daily group by currency";

#[cfg(test)]
mod duplicate_key_tests {
    use super::{APPEARANCES, duplicate_keys};
    use datafusion::arrow::array::{
        Array, ArrayRef, AsArray, Int32Array, RecordBatch, StringArray,
    };
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema, SchemaRef};
    use std::sync::Arc;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("deal_id", DataType::Utf8, true),
            Field::new("line_no", DataType::Int32, true),
            Field::new("note", DataType::Utf8, true),
        ]))
    }

    fn batch(ids: &[Option<&str>], lines: &[Option<i32>]) -> RecordBatch {
        let notes: Vec<Option<&str>> = ids.iter().map(|_| Some("x")).collect();
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(StringArray::from(ids.to_vec())) as ArrayRef,
                Arc::new(Int32Array::from(lines.to_vec())),
                Arc::new(StringArray::from(notes)),
            ],
        )
        .unwrap()
    }

    /// (deal_id, line_no, appearances) of the result, in its order.
    fn counted(found: &RecordBatch) -> Vec<(Option<String>, Option<i32>, i64)> {
        let ids = found.column(0).as_string::<i32>();
        let lines = found.column(1).as_primitive::<Int32Type>();
        let n = found
            .column_by_name(APPEARANCES)
            .unwrap()
            .as_primitive::<Int64Type>();
        (0..found.num_rows())
            .map(|i| {
                (
                    ids.is_valid(i).then(|| ids.value(i).to_string()),
                    lines.is_valid(i).then(|| lines.value(i)),
                    n.value(i),
                )
            })
            .collect()
    }

    #[test]
    fn keys_repeated_across_batches_are_counted_once_each() {
        let batches = [
            batch(
                &[Some("D1"), Some("D2"), Some("D1")],
                &[Some(1), Some(1), Some(1)],
            ),
            batch(
                &[Some("D1"), Some("D2"), Some("D3")],
                &[Some(1), Some(2), Some(1)],
            ),
        ];
        let found = duplicate_keys(&schema(), &batches, &["deal_id", "line_no"]).unwrap();
        // D2:1 and D2:2 differ in the second key column: not repeated
        assert_eq!(counted(&found), vec![(Some("D1".into()), Some(1), 3)]);
        assert_eq!(found.schema().field(0).data_type(), &DataType::Utf8);
    }

    #[test]
    fn null_keys_are_one_key_as_in_group_by() {
        let batches = [batch(
            &[None, None, Some("D1"), None],
            &[Some(1), Some(1), None, None],
        )];
        let found = duplicate_keys(&schema(), &batches, &["deal_id", "line_no"]).unwrap();
        assert_eq!(counted(&found), vec![(None, Some(1), 2)]);
    }

    #[test]
    fn many_keys_sharing_bitmap_bits_are_told_apart() {
        // 20,000 keys: about one row in 16 shares its bitmap bit with another
        // key's, and must still be compared by its key, not its bit
        let names: Vec<String> = (0..20_000).map(|i| format!("D{i}")).collect();
        let mut ids: Vec<Option<&str>> = names.iter().map(|n| Some(n.as_str())).collect();
        ids.extend([Some("D42"), Some("D19999"), Some("D42")]);
        let lines = vec![Some(1); ids.len()];
        let (first, second) = ids.split_at(10_000);
        let batches = [
            batch(first, &lines[..first.len()]),
            batch(second, &lines[first.len()..]),
        ];
        let found = duplicate_keys(&schema(), &batches, &["deal_id", "line_no"]).unwrap();
        assert_eq!(
            counted(&found),
            vec![
                (Some("D19999".into()), Some(1), 2),
                (Some("D42".into()), Some(1), 3)
            ]
        );
    }

    #[test]
    fn unique_keys_give_no_row_and_an_unknown_column_is_an_error() {
        let batches = [batch(&[Some("D1"), Some("D2")], &[Some(1), Some(1)])];
        let found = duplicate_keys(&schema(), &batches, &["deal_id"]).unwrap();
        assert_eq!(found.num_rows(), 0);
        assert_eq!(found.num_columns(), 2);
        assert!(duplicate_keys(&schema(), &batches, &["no_such_column"]).is_err());
    }
}

#[cfg(test)]
mod flagged_key_tests {
    use super::{FlaggedKeys, row_key_sql};
    use datafusion::arrow::array::{
        ArrayRef, AsArray, Date32Array, Int32Array, RecordBatch, StringArray,
    };
    use datafusion::prelude::SessionContext;
    use std::sync::Arc;

    /// The keys SQL builds with [`row_key_sql`] for the rows of `batch`.
    async fn sql_keys(table: &revleak_contract::Table, batch: &RecordBatch) -> Vec<String> {
        let ctx = SessionContext::new();
        ctx.register_batch("rows", batch.clone()).unwrap();
        let sql = format!("select {} as k from rows r", row_key_sql(table, "r"));
        let found = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        found
            .iter()
            .flat_map(|b| {
                let keys = datafusion::arrow::compute::cast(
                    b.column(0),
                    &datafusion::arrow::datatypes::DataType::Utf8,
                )
                .unwrap();
                keys.as_string::<i32>()
                    .iter()
                    .map(|k| k.unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_date_or_number_in_the_key_is_written_as_sql_writes_it() {
        let forecasts = revleak_contract::table("crm/forecasts").unwrap();
        assert_eq!(forecasts.primary_key, ["partner_id", "period"]);
        let day = |y, m, d| {
            let date = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
            (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![Some("P1"), None, Some("P:2")])),
            Arc::new(Date32Array::from(vec![
                Some(day(2026, 10, 1)),
                Some(day(2026, 11, 1)),
                None,
            ])),
        ];
        let batch = RecordBatch::try_from_iter(vec![
            ("partner_id", columns[0].clone()),
            ("period", columns[1].clone()),
        ])
        .unwrap();
        let keys = sql_keys(forecasts, &batch).await;
        assert_eq!(keys[0], "crm/forecasts:P1:2026-10-01");
        assert_eq!(keys[2], "crm/forecasts:P:2:", "a null is empty");

        let flags = FlaggedKeys::new(forecasts, keys[1..].to_vec())
            .flags(&columns)
            .unwrap()
            .expect("two rows flagged");
        let flags: Vec<bool> = flags.iter().map(|f| f.unwrap()).collect();
        assert_eq!(flags, [false, true, true]);

        let unrelated = FlaggedKeys::new(forecasts, ["crm/forecasts:P9:2026-10-01".to_string()]);
        assert!(
            unrelated.flags(&columns).unwrap().is_none(),
            "no row flagged"
        );
    }

    #[tokio::test]
    async fn a_line_number_key_matches_the_sql_key() {
        let lines = revleak_contract::table("crm/deal_lines").unwrap();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["D1", "D1", "D10"])),
            Arc::new(Int32Array::from(vec![1, 10, 1])),
        ];
        let batch = RecordBatch::try_from_iter(vec![
            (lines.primary_key[0], columns[0].clone()),
            (lines.primary_key[1], columns[1].clone()),
        ])
        .unwrap();
        let keys = sql_keys(lines, &batch).await;
        assert_eq!(keys[1], "crm/deal_lines:D1:10");
        let flags = FlaggedKeys::new(lines, [keys[1].clone()])
            .flags(&columns)
            .unwrap()
            .expect("one row flagged");
        assert_eq!(flags.true_count(), 1);
        assert!(flags.value(1));
    }
}
