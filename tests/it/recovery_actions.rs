//! Recovery actions (`actions/as_of=.../`) close the loop: on a generated
//! snapshot, the draft invoices and lines, the commission adjustments and the
//! journal corrections of one night are appended to a copy of the snapshot,
//! and the next night every finding they answer is resolved — but for the
//! kinds the checks' own rules say a later correction cannot close — and no
//! finding appears that the uncorrected snapshot would not give too, but for
//! those the corrections make true by design (docs/actions.md).

use crate::common::{self, Finding};
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Date32Type;
use revleak::outputs::findings::read_parquet;
use revleak::run::RunOptions;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const AS_OF: (i32, u32, u32) = (2026, 11, 26);
/// docs/checks.md defaults docs/actions.md's exceptions are stated with.
const INVOICE_GRACE_DAYS: i64 = 30;
const SALE_MATCH_WINDOW_DAYS: i64 = 30;

/// The action files appended to the snapshot, and the table each goes to.
const APPENDED: &[(&str, &str)] = &[
    ("draft_invoices", "billing/invoices"),
    ("draft_invoice_lines", "billing/invoice_lines"),
    ("commission_adjustments", "commissions/payouts"),
    ("erp_journal_corrections", "erp/revenue_postings"),
];

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(AS_OF.0, AS_OF.1, AS_OF.2).unwrap()
}

fn run(snapshot: &Path, out: &Path, day: NaiveDate) -> Vec<Finding> {
    let mut opts = RunOptions::new(snapshot, out);
    opts.queries = common::queries_dir();
    opts.as_of = Some(day);
    opts.report = false;
    common::run_with_options(&opts).unwrap();
    common::read_partition(out, "findings", &day.to_string())
}

fn action(out: &Path, id: &str) -> Vec<RecordBatch> {
    read_parquet(
        &out.join("actions")
            .join(format!("as_of={}", as_of()))
            .join(format!("{id}.parquet")),
    )
    .unwrap()
}

fn strings(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    let mut values = Vec::new();
    for b in batches {
        let c = datafusion::arrow::compute::cast(
            b.column(b.schema().index_of(column).unwrap()),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let c = c.as_string::<i32>();
        values.extend((0..c.len()).map(|i| c.is_valid(i).then(|| c.value(i).to_string())));
    }
    values
}

/// Appends an action's contract columns to a snapshot table: the table becomes
/// a folder of two part files, the original and the action's rows cast to the
/// original file's schema.
fn append(snapshot: &Path, table: &str, rows: &[RecordBatch]) {
    let file = snapshot.join(format!("{table}.parquet"));
    let original = read_parquet(&file).unwrap();
    let schema = original[0].schema();
    let folder = snapshot.join(table);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::rename(&file, folder.join("part-0.parquet")).unwrap();
    let mut converted = Vec::new();
    for batch in rows {
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                let column = batch.column(batch.schema().index_of(f.name()).unwrap());
                datafusion::arrow::compute::cast(column, f.data_type()).unwrap()
            })
            .collect();
        converted.push(RecordBatch::try_new(schema.clone(), columns).unwrap());
    }
    let out = std::fs::File::create(folder.join("part-1.parquet")).unwrap();
    let mut writer =
        datafusion::parquet::arrow::ArrowWriter::try_new(out, schema.clone(), None).unwrap();
    for batch in &converted {
        writer.write(batch).unwrap();
    }
    writer.close().unwrap();
}

/// Report lines naming no deal whose sale is further from as_of than the match
/// window: a draft dated as_of can never match them (docs/actions.md).
fn unmatchable_report_lines(snapshot: &Path) -> BTreeSet<String> {
    let rows = read_parquet(&snapshot.join("prm/partner_sales_reports.parquet")).unwrap();
    let mut lines = BTreeSet::new();
    for b in &rows {
        let ids = strings(std::slice::from_ref(b), "report_line_id");
        let deals = strings(std::slice::from_ref(b), "deal_id");
        let sale = b.column(b.schema().index_of("sale_date").unwrap());
        let sale = sale.as_primitive::<Date32Type>();
        for i in 0..b.num_rows() {
            let sale_date = sale.value_as_date(i).unwrap();
            if deals[i].is_none() && (as_of() - sale_date).num_days() > SALE_MATCH_WINDOW_DAYS {
                lines.insert(ids[i].clone().unwrap());
            }
        }
    }
    lines
}

/// Close dates of the deals, to tell which billed deals become late invoices.
fn close_dates(snapshot: &Path) -> BTreeMap<String, NaiveDate> {
    let rows = read_parquet(&snapshot.join("crm/deals.parquet")).unwrap();
    let mut dates = BTreeMap::new();
    for b in &rows {
        let ids = strings(std::slice::from_ref(b), "deal_id");
        let close = b.column(b.schema().index_of("close_date").unwrap());
        let close = close.as_primitive::<Date32Type>();
        for (i, id) in ids.into_iter().enumerate() {
            if let (Some(id), true) = (id, close.is_valid(i)) {
                dates.insert(id, close.value_as_date(i).unwrap());
            }
        }
    }
    dates
}

fn key(f: &Finding) -> (String, String) {
    (f.check_id.clone(), f.entity_id.clone())
}

fn closes_the_loop(scale: f64, seed: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = common::generated(&tmp.path().join("snapshot"), scale, seed);
    let next_day = as_of().succ_opt().unwrap();

    // night 1, then the corrections appended to a copy of the snapshot
    let out = tmp.path().join("out");
    let first = run(&snapshot, &out, as_of());
    let corrected = tmp.path().join("corrected");
    common::copy_tree(&snapshot, &corrected);
    let mut acted_on = BTreeSet::new();
    for (id, table) in APPENDED {
        let rows = action(&out, id);
        acted_on.extend(strings(&rows, "finding_id").into_iter().flatten());
        append(&corrected, table, &rows);
    }
    let corrected_kinds = [
        "missing_invoice",
        "under_billing",
        "unreported_usage",
        "unbilled_partner_sale",
        "commission_overpayment",
        "commission_underpayment",
        "erp_posting_gap",
    ];
    let answered: Vec<&Finding> = first
        .iter()
        .filter(|f| corrected_kinds.contains(&f.check_id.as_str()))
        .collect();
    assert!(
        answered.len() > 20,
        "the snapshot plants leaks of every corrected kind: {}",
        answered.len()
    );
    for f in &answered {
        assert!(
            acted_on.contains(&f.finding_id),
            "every {} finding has an action: {} has none",
            f.check_id,
            f.entity_id
        );
    }

    // night 2, corrected (in the same output folder, so the lifecycle shows
    // what was resolved) and not corrected (what the day alone changes)
    let second = run(&corrected, &out, next_day);
    let baseline = run(&snapshot, &tmp.path().join("baseline"), next_day);

    let still_open: BTreeSet<(String, String)> = second
        .iter()
        .filter(|f| acted_on.contains(&f.finding_id))
        .map(key)
        .collect();
    let cannot_close: BTreeSet<(String, String)> = unmatchable_report_lines(&snapshot)
        .into_iter()
        .map(|line| ("unbilled_partner_sale".to_string(), line))
        .filter(|k| answered.iter().any(|f| key(f) == *k))
        .collect();
    assert_eq!(
        still_open, cannot_close,
        "every corrected finding is resolved, but a partner's sale no draft dated as_of can match"
    );
    let resolved: BTreeSet<(String, String)> =
        common::read_partition(&out, "resolved", &next_day.to_string())
            .iter()
            .map(key)
            .collect();
    for f in &answered {
        if !cannot_close.contains(&key(f)) {
            assert!(resolved.contains(&key(f)), "{f:?} is listed as resolved");
        }
    }

    let baseline_keys: BTreeSet<(String, String)> = baseline.iter().map(key).collect();
    let appeared: BTreeSet<(String, String)> = second
        .iter()
        .map(key)
        .filter(|k| !baseline_keys.contains(k))
        .collect();
    // by design: a deal never invoiced, billed now, was billed late
    let closes = close_dates(&snapshot);
    let billed_late: BTreeSet<(String, String)> = first
        .iter()
        .filter(|f| f.check_id == "missing_invoice")
        .filter(|f| (as_of() - closes[&f.entity_id]).num_days() > INVOICE_GRACE_DAYS)
        .map(|f| ("late_invoice".to_string(), f.entity_id.clone()))
        .collect();
    assert!(!billed_late.is_empty());
    assert_eq!(
        appeared, billed_late,
        "no finding appears but the late invoices of deals billed now"
    );
}

#[test]
fn the_corrections_close_the_loop_at_scale_0_2() {
    closes_the_loop(0.2, 7);
}

#[test]
fn the_corrections_close_the_loop_at_scale_1() {
    closes_the_loop(1.0, 42);
}

/// A run of the sample into `out` with the repository's queries.
fn run_sample(out: &Path, queries: &Path) -> revleak::error::Result<revleak::run::RunReport> {
    let mut opts = RunOptions::new(common::sample_dir(), out);
    opts.queries = queries.to_path_buf();
    common::run_with_options(&opts)
}

fn finding_ids_of(out: &Path, action_id: &str) -> BTreeMap<String, Option<String>> {
    let rows = action(out, action_id);
    strings(&rows, "finding_id")
        .into_iter()
        .zip(strings(&rows, "disposition"))
        .map(|(id, d)| (id.unwrap(), d))
        .collect()
}

#[test]
fn a_false_positive_gets_no_action_and_an_accepted_finding_keeps_its_action_marked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_sample(&out, &common::queries_dir()).unwrap();
    let drafts = finding_ids_of(&out, "draft_invoices");
    let adjustments = finding_ids_of(&out, "commission_adjustments");
    assert!(drafts.len() >= 2 && !adjustments.is_empty());
    let mut ids = drafts.keys();
    let (wrong, recovering) = (ids.next().unwrap(), ids.next().unwrap());
    let explained = adjustments.keys().next().unwrap();
    std::fs::write(
        out.join("dispositions.csv"),
        format!(
            "finding_id,disposition,note,owner,until\n\
             {wrong},false_positive,billed under another deal,ana,\n\
             {recovering},accepted,draft sent to billing,bo,\n\
             {explained},explained,side agreement,cy,\n"
        ),
    )
    .unwrap();
    let report = run_sample(&out, &common::queries_dir()).unwrap();

    let drafts_after = finding_ids_of(&out, "draft_invoices");
    assert!(
        !drafts_after.contains_key(wrong),
        "a false positive gets no draft"
    );
    assert_eq!(drafts_after[recovering].as_deref(), Some("accepted"));
    assert_eq!(drafts_after.len(), drafts.len() - 1);
    let lines = finding_ids_of(&out, "draft_invoice_lines");
    assert!(!lines.contains_key(wrong) && lines.contains_key(recovering));
    assert!(!finding_ids_of(&out, "commission_adjustments").contains_key(explained));
    let summary = report
        .manifest
        .actions
        .iter()
        .find(|a| a.id == "draft_invoices")
        .unwrap();
    assert_eq!((summary.rows, summary.accepted), (drafts.len() - 1, 1));
}

#[test]
fn each_action_is_published_as_parquet_and_csv_and_the_report_links_them_with_their_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let report = run_sample(&out, &common::queries_dir()).unwrap();
    let dir = out.join("actions").join(format!("as_of={}", as_of()));
    let page = std::fs::read_to_string(
        out.join("report")
            .join(format!("as_of={}", as_of()))
            .join("index.html"),
    )
    .unwrap();
    assert!(
        page.contains(r##"<a href="#actions""##),
        "Recoverable now links to the actions"
    );
    assert_eq!(report.manifest.actions.len(), 8);
    for summary in &report.manifest.actions {
        let rows = action(&out, &summary.id);
        let n: usize = rows.iter().map(RecordBatch::num_rows).sum();
        let amount: rust_decimal::Decimal = strings(&rows, "reporting_amount")
            .into_iter()
            .flatten()
            .map(|a| common::dec(&a))
            .sum();
        assert!(
            n > 0,
            "the sample plants a leak for every action: {}",
            summary.id
        );
        assert_eq!((summary.rows, summary.reporting_amount), (n, amount));
        // the CSV holds the same rows under the same header
        let csv = std::fs::read_to_string(dir.join(format!("{}.csv", summary.id))).unwrap();
        let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let columns: Vec<String> = rows[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(header, columns);
        assert_eq!(reader.records().count(), n);
        // and the report shows it with its counts, amount and both files
        let row = format!(
            "<td class=\"num\">{n}</td><td class=\"num\">{}</td><td class=\"num\">{} USD</td>",
            summary.findings,
            revleak::engine::udf::format_money(amount)
        );
        assert!(page.contains(&row), "{} in the report: {row}", summary.id);
        for ext in ["csv", "parquet"] {
            let link = format!("../../actions/as_of={}/{}.{ext}", as_of(), summary.id);
            assert!(page.contains(&format!("href=\"{link}\"")), "{link}");
        }
    }
    // the shaped files lead with exactly the contract table's columns
    for (id, table) in APPENDED {
        let contract = revleak_contract::table(table).unwrap();
        let rows = action(&out, id);
        let schema = rows[0].schema();
        for (i, c) in contract.columns.iter().enumerate() {
            assert_eq!(schema.field(i).name(), c.name, "{id}");
            assert_eq!(
                schema.field(i).data_type(),
                &c.ty.arrow_type(),
                "{id}.{}",
                c.name
            );
        }
        assert!(schema.index_of("finding_id").is_ok());
    }

    // `revleak report` re-renders the block from the published files
    let start = page.find("<div id=\"actions\"").unwrap();
    let block = &page[start..start + page[start..].find("</table>").unwrap()];
    let rerendered = common::revleak(&["report", out.to_str().unwrap()], tmp.path());
    assert_eq!(rerendered.code, 0, "{}", rerendered.stderr);
    let again = std::fs::read_to_string(
        out.join("report")
            .join(format!("as_of={}", as_of()))
            .join("index.html"),
    )
    .unwrap();
    assert!(again.contains(block));
}

#[test]
fn broken_action_files_are_reported_together_and_no_actions_skips_them() {
    let tmp = tempfile::tempdir().unwrap();
    let queries = tmp.path().join("queries");
    common::copy_tree(&common::queries_dir(), &queries);
    let drafts = queries.join("actions/draft_invoices.sql");
    let text = std::fs::read_to_string(&drafts).unwrap();
    std::fs::write(&drafts, text.replace("as due_date,", "as due_on,")).unwrap();
    std::fs::write(
        queries.join("actions/dunning.sql"),
        "select finding_id frm run.findings",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let message = run_sample(&out, &queries).unwrap_err().to_string();
    assert!(
        message.contains(
            "draft_invoices.sql:1:1: shaped as billing/invoices but has no column due_date"
        ),
        "{message}"
    );
    assert!(message.contains("dunning.sql:1:"), "{message}");
    assert!(!out.join("actions").exists() && !out.join("findings").exists());

    let mut opts = RunOptions::new(common::sample_dir(), &out);
    opts.queries = queries.clone();
    opts.actions = false;
    let report = common::run_with_options(&opts).unwrap();
    assert!(report.manifest.actions.is_empty());
    assert!(out.join("findings").exists() && !out.join("actions").exists());
}

#[test]
fn each_partners_statement_states_the_commission_adjustments_the_vendor_will_make() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut opts = RunOptions::new(common::sample_dir(), &out);
    opts.queries = common::queries_dir();
    opts.partner_reports = true;
    common::run_with_options(&opts).unwrap();
    let rows = action(&out, "commission_adjustments");
    let partners = strings(&rows, "partner_id");
    let deals = strings(&rows, "deal_id");
    let amounts = strings(&rows, "amount");
    let currencies = strings(&rows, "currency");
    let mut by_partner: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, p) in partners.iter().enumerate() {
        by_partner.entry(p.clone().unwrap()).or_default().push(i);
    }
    assert!(by_partner.len() >= 2, "the sample adjusts several partners");
    let pages = out.join(format!("report/as_of={}/partners", as_of()));
    for (partner, own) in &by_partner {
        let page = std::fs::read_to_string(pages.join(format!("{partner}.html"))).unwrap();
        let start = page
            .find("<p id=\"net-adjustment\">")
            .unwrap_or_else(|| panic!("{partner}'s statement states its adjustment"));
        let net_text = &page[start..start + page[start..].find("</p>").unwrap()];
        let mut net: BTreeMap<String, rust_decimal::Decimal> = BTreeMap::new();
        for &i in own {
            let amount = common::dec(amounts[i].as_deref().unwrap());
            *net.entry(currencies[i].clone().unwrap()).or_default() += amount;
            // the adjusted deal is one of its commission lines
            let row = format!("<tr><td>{}</td>", deals[i].as_deref().unwrap());
            assert!(page.contains(&row), "{partner}: {row}");
        }
        for (currency, amount) in net {
            let shown = format!(
                "<b>{} {currency}</b>",
                revleak::engine::udf::format_money(amount)
            );
            assert!(
                net_text.contains(&shown),
                "{partner}: net {shown} in {net_text}"
            );
        }
    }
    // a partner the vendor does not adjust is told nothing of it
    let unadjusted = std::fs::read_dir(&pages)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| !by_partner.contains_key(&p.file_stem().unwrap().to_string_lossy().to_string()))
        .unwrap();
    assert!(
        !std::fs::read_to_string(unadjusted)
            .unwrap()
            .contains("net-adjustment")
    );
}
