//! The HTML report: every section from the published Parquet, totals equal to
//! the findings' own, escaping, partner pages that show no other partner,
//! deterministic re-rendering by `revleak report`, the trend, size at 100,000
//! findings and a real (headless) browser: no console error, no request,
//! sorting works.

use crate::common;

use datafusion::arrow::array::{
    ArrayRef, AsArray, Date32Array, Decimal128Array, RecordBatch, StringArray, new_null_array,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use revleak::engine::udf::format_money;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const AS_OF: &str = "2026-11-26";

fn report_dir(out: &Path, as_of: &str) -> PathBuf {
    out.join("report").join(format!("as_of={as_of}"))
}

fn index(out: &Path, as_of: &str) -> String {
    let path = report_dir(out, as_of).join("index.html");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs the binary; panics with its stderr when it fails.
fn revleak(args: &[&str]) -> String {
    let output = common::revleak_command()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("REVLEAK_LOG", "off")
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "revleak {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `revleak run SNAPSHOT --out OUT --queries Q --partner-reports`.
fn run_with_partner_pages(snapshot: &Path, out: &Path) {
    let queries = common::queries_dir();
    revleak(&[
        "run",
        snapshot.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--queries",
        queries.to_str().unwrap(),
        "--partner-reports",
    ]);
}

/// The value of the first `attr="..."` of the element with `id`.
fn attribute_of(html: &str, id: &str, attr: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element #{id}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    let tag = &html[start..end];
    let key = format!("{attr}=\"");
    let from = tag
        .find(&key)
        .unwrap_or_else(|| panic!("#{id} has no {attr}"))
        + key.len();
    tag[from..from + tag[from..].find('"').unwrap()].to_string()
}

/// Text as the page writes it: escaped by maud, like every value it splices.
fn escaped(text: &str) -> String {
    maud::html! { (text) }.into_string()
}

fn text_of(html: &str, id: &str) -> String {
    let at = html.find(&format!("id=\"{id}\"")).unwrap();
    let from = at + html[at..].find('>').unwrap() + 1;
    html[from..from + html[from..].find('<').unwrap()].to_string()
}

#[test]
fn the_sample_report_has_every_section_and_the_parquet_totals() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    common::run_pipeline(&common::sample_dir(), &out, &common::queries_dir(), &[]).unwrap();
    let html = index(&out, AS_OF);

    for section in [
        "headline",
        "charts",
        "trend",
        "scorecard",
        "checks",
        "data-quality",
        "run",
    ] {
        assert!(
            html.contains(&format!("<section id=\"{section}\">")),
            "section {section}"
        );
    }
    for text in [
        "Total leakage found",
        "Recoverable now",
        "At risk",
        "Signals",
        "critical: ",
        "By check",
        "By partner (top",
        "Partner × check",
        "Partner scorecard",
        "Forecast attainment %",
        "DSO (days)",
        "Leakage % of billed",
        "Rows read",
        "Flagged rows",
        "Query files",
        "Timings",
        "Parameters",
        "invoice_grace_days",
        "Inputs: 19 tables",
    ] {
        assert!(html.contains(text), "the page shows {text}");
    }
    // Self-contained: a CSP that allows no request, nothing loaded from anywhere.
    assert!(html.contains(revleak::outputs::report::page::CSP));
    for external in ["src=\"http", "href=\"http", "url(", "@import", "src=\"//"] {
        assert!(!html.contains(external), "no {external}");
    }

    // Totals read independently from the findings Parquet.
    let findings = common::read_findings(&out);
    assert!(!findings.is_empty());
    let total: Decimal = findings.iter().map(|f| f.leakage).sum();
    assert_eq!(
        attribute_of(&html, "total-leakage", "data-v"),
        total.to_string()
    );
    assert_eq!(
        text_of(&html, "total-leakage"),
        format!("{} USD", format_money(total))
    );
    let mut by_check: BTreeMap<&str, (usize, Decimal)> = BTreeMap::new();
    for f in &findings {
        let e = by_check.entry(f.check_id.as_str()).or_default();
        e.0 += 1;
        e.1 += f.leakage;
    }
    for (check, (n, leakage)) in &by_check {
        assert!(html.contains(&format!("id=\"check-{check}\"")), "{check}");
        assert!(
            html.contains(&format!(
                "<dt>Findings</dt><dd>{n} · leakage {} USD",
                format_money(*leakage)
            )),
            "{check}: {n} findings, {leakage}"
        );
    }
    let recoverable: Decimal = findings
        .iter()
        .filter(|f| {
            revleak::outputs::report::data::Bucket::of(&f.check_id)
                == revleak::outputs::report::data::Bucket::Recoverable
        })
        .map(|f| f.leakage)
        .sum();
    assert!(recoverable > Decimal::ZERO);
    assert!(html.contains(&format!(
        "<div class=\"k\"><a href=\"#actions\" title=\"the corrections ready to import\">Recoverable now</a></div><div class=\"v\" data-v=\"{recoverable}\">{} USD</div>",
        format_money(recoverable)
    )));
    // Titles and descriptions come from the check files.
    let checks =
        revleak::reconcile::checks::discover(&common::queries_dir().join("checks")).unwrap();
    for c in &checks {
        let title = escaped(&c.title);
        assert!(html.contains(&title), "title of {}", c.id);
    }
    // The first run: no trend yet, and it says so.
    assert!(html.contains("The trend appears once two or more runs exist"));
}

#[test]
fn partner_names_are_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = tmp.path().join("snapshot");
    let mut snap = common::Snap::new();
    snap.row(
        "prm/partners",
        "partner_id=P1 name=<script>alert(1)</script>",
    )
    .row("contracts/products", "sku=SKU1")
    .row(
        "crm/deals",
        "deal_id=D1 partner_id=P1 close_date=2026-06-01",
    )
    .row(
        "crm/deal_lines",
        "deal_id=D1 list_price=1000.00 net_amount=1000.00",
    );
    snap.write(&snapshot);
    let out = tmp.path().join("out");
    run_with_partner_pages(&snapshot, &out);
    let findings = common::read_findings(&out);
    assert!(
        findings
            .iter()
            .any(|f| f.check_id == "missing_invoice" && f.partner_id.as_deref() == Some("P1")),
        "{findings:?}"
    );
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
    let pages = [
        index(&out, AS_OF),
        std::fs::read_to_string(report_dir(&out, AS_OF).join("partners/P1.html")).unwrap(),
    ];
    for html in pages {
        assert!(!html.contains("<script>alert"));
        assert!(html.contains(escaped), "the name shows, as text");
    }
}

/// Whether `needle` occurs in `haystack` as a whole word or number (not as
/// part of a longer one: `Apex 1` is not in `Apex 12`).
fn occurs(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

fn partners_of(snapshot: &Path) -> Vec<(String, String)> {
    let file = std::fs::File::open(snapshot.join("prm/partners.parquet")).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut partners = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let ids = batch
            .column_by_name("partner_id")
            .unwrap()
            .as_string::<i32>();
        let names = batch.column_by_name("name").unwrap().as_string::<i32>();
        for i in 0..batch.num_rows() {
            partners.push((ids.value(i).to_string(), names.value(i).to_string()));
        }
    }
    partners
}

#[test]
fn a_partner_page_shows_no_other_partner() {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = common::generated(&tmp.path().join("snapshot"), 0.02, 3);
    let out = tmp.path().join("out");
    run_with_partner_pages(&snapshot, &out);

    let partners = partners_of(&snapshot);
    let findings = common::read_findings(&out);
    let mut with_findings: Vec<&str> = findings
        .iter()
        .filter_map(|f| f.partner_id.as_deref())
        .collect();
    with_findings.sort();
    with_findings.dedup();
    assert!(with_findings.len() >= 5, "{with_findings:?}");

    let dir = report_dir(&out, AS_OF).join("partners");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    let ids: Vec<String> = pages
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for partner in &with_findings {
        assert!(
            ids.iter().any(|i| i == partner),
            "{partner} has a statement"
        );
    }
    assert_eq!(
        ids.len(),
        partners.len(),
        "a statement for every partner of the snapshot"
    );

    for (page, id) in pages.iter().zip(&ids) {
        let html = std::fs::read_to_string(page).unwrap();
        assert!(occurs(&html, id), "{id}'s page names it");
        // the vendor's audit stays internal: no severities, check ids, owners or thresholds
        for internal in [
            "Total leakage",
            "severity",
            "missing_invoice",
            "commission_overpayment",
            "billing operations",
            "50000",
        ] {
            assert!(!html.contains(internal), "{id}'s page shows {internal}");
        }
        for (other, name) in partners.iter().filter(|(p, _)| p != id) {
            assert!(!occurs(&html, other), "{id}'s page names {other}");
            assert!(
                !occurs(&html, name) && !occurs(&html, &escaped(name)),
                "{id}'s page names {other} ({name})"
            );
        }
    }
}

#[test]
fn revleak_report_re_renders_the_same_page() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    common::run_pipeline(&common::sample_dir(), &out, &common::queries_dir(), &[]).unwrap();
    let written = index(&out, AS_OF);

    let stdout = revleak(&["report", out.to_str().unwrap()]);
    assert!(
        stdout.contains(
            &report_dir(&out, AS_OF)
                .join("index.html")
                .display()
                .to_string()
        ),
        "{stdout}"
    );
    assert_eq!(index(&out, AS_OF), written, "byte for byte");
    assert!(report_dir(&out, AS_OF).join("_SUCCESS").exists());

    // statements are published by runs with --partner-reports: without them
    // the report says how to get them and changes nothing
    let args = [
        "report",
        out.to_str().unwrap(),
        "--as-of",
        AS_OF,
        "--partner-reports",
    ];
    let refused = common::revleak(&args, &out);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("revleak run --partner-reports"),
        "{}",
        refused.stderr
    );
    assert_eq!(index(&out, AS_OF), written);
    assert!(!report_dir(&out, AS_OF).join("partners").exists());

    run_with_partner_pages(&common::sample_dir(), &out);
    let statements = report_dir(&out, AS_OF).join("partners/P00001.html");
    let statement = std::fs::read_to_string(&statements).unwrap();
    std::fs::remove_dir_all(report_dir(&out, AS_OF).join("partners")).unwrap();
    revleak(&args);
    assert_eq!(
        std::fs::read_to_string(&statements).unwrap(),
        statement,
        "the statement re-rendered from statements/, byte for byte"
    );
    // Nothing left behind.
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("_tmp") || n.starts_with("_old") || n.ends_with(".lock"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_trend_appears_once_two_runs_exist() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    common::run_pipeline(
        &common::sample_dir(),
        &out,
        &common::queries_dir(),
        &["as_of=2026-11-20"],
    )
    .unwrap();
    let first = index(&out, "2026-11-20");
    assert!(first.contains("The trend appears once two or more runs exist"));
    assert!(!first.contains("Leakage per run"));

    common::run_pipeline(&common::sample_dir(), &out, &common::queries_dir(), &[]).unwrap();
    let html = index(&out, AS_OF);
    assert!(!html.contains("The trend appears once two or more runs exist"));
    let trend = &html[html.find("<section id=\"trend\">").unwrap()..];
    let trend = &trend[..trend.find("</section>").unwrap()];
    assert!(trend.contains("Leakage per run"));
    assert!(trend.contains("Findings per run"));
    assert!(trend.contains("<polyline"));
    assert!(trend.contains("2026-11-20") && trend.contains(AS_OF));
    // Each run's total, from its own partition.
    for as_of in ["2026-11-20", AS_OF] {
        let partition = out.join("findings").join(format!("as_of={as_of}"));
        let total: Decimal = read_leakage(&partition.join("part-0.parquet"));
        assert!(
            trend.contains(&format!("data-v=\"{total}\">{}</td>", format_money(total))),
            "{as_of}: {total}"
        );
    }
    // The earlier page is left as it was rendered.
    assert_eq!(index(&out, "2026-11-20"), first);
}

fn read_leakage(path: &Path) -> Decimal {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut total = Decimal::ZERO;
    for batch in reader {
        let batch = batch.unwrap();
        let c = batch.column_by_name("leakage_amount").unwrap();
        let c = c.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
        for i in 0..batch.num_rows() {
            total += Decimal::from_i128_with_scale(c.value(i), 2);
        }
    }
    total
}

/// A findings partition of `n` rows written directly, in the published schema.
fn write_findings(out: &Path, as_of: &str, n: usize) -> Decimal {
    let checks = [
        "missing_invoice",
        "under_billing",
        "payment_gap",
        "missed_renewal",
        "late_invoice",
        "data_quality",
        "stale_pricing",
        "unexplained_credit",
    ];
    let severities = ["critical", "high", "medium", "low", "info"];
    let schema = revleak::outputs::findings::findings_schema();
    let day = common::date32(as_of);
    let mut total = Decimal::ZERO;
    let leakage: Vec<i128> = (0..n)
        .map(|i| {
            let cents = ((i * 7919) % 5_000_000) as i128;
            total += Decimal::from_i128_with_scale(cents, 2);
            cents
        })
        .collect();
    let text = |f: &dyn Fn(usize) -> String| -> ArrayRef {
        Arc::new(StringArray::from((0..n).map(f).collect::<Vec<_>>()))
    };
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| -> ArrayRef {
            match field.name().as_str() {
                "finding_id" => text(&|i| format!("F{i:08}")),
                "check_id" => text(&|i| checks[i % checks.len()].to_string()),
                "severity" => text(&|i| severities[i % severities.len()].to_string()),
                "partner_id" => text(&|i| format!("P{:05}", i % 2000)),
                "entity_type" => text(&|_| "deal".to_string()),
                "entity_id" => text(&|i| format!("D{i:08}")),
                "currency" => text(&|_| "USD".to_string()),
                "detail" => text(&|i| {
                    format!("Deal D{i:08} closed won and was never invoiced: a long sentence with the figures in it.")
                }),
                "run_id" => text(&|_| "big".to_string()),
                "status" => text(&|i| if i % 3 == 0 { "new" } else { "recurring" }.to_string()),
                "leakage_amount" | "expected_amount" => Arc::new(
                    Decimal128Array::from(leakage.clone())
                        .with_precision_and_scale(18, 2)
                        .unwrap(),
                ),
                "as_of" | "first_seen" | "period" => {
                    Arc::new(Date32Array::from(vec![day; n]))
                }
                _ if field.is_nullable() => new_null_array(field.data_type(), n),
                other => match field.data_type() {
                    DataType::Utf8 => text(&|_| "x".to_string()),
                    DataType::Date32 => Arc::new(Date32Array::from(vec![day; n])),
                    t => panic!("{other}: {t}"),
                },
            }
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let dir = out.join("findings").join(format!("as_of={as_of}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut writer = ArrowWriter::try_new(
        std::fs::File::create(dir.join("part-0.parquet")).unwrap(),
        schema,
        None,
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    std::fs::write(dir.join("_SUCCESS"), b"").unwrap();
    total
}

#[test]
fn at_100_000_findings_the_page_stays_small() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let total = write_findings(&out, AS_OF, 100_000);
    let runs = out.join("runs").join(format!("as_of={AS_OF}"));
    std::fs::create_dir_all(&runs).unwrap();
    std::fs::write(
        runs.join("manifest.json"),
        format!(r#"{{"run_id": "big", "as_of": "{AS_OF}", "reporting_currency": "USD"}}"#),
    )
    .unwrap();
    std::fs::write(runs.join("_SUCCESS"), b"").unwrap();

    let started = Instant::now();
    let files = revleak::outputs::report::build(
        &out,
        None,
        chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
        &revleak::outputs::report::ReportOptions::default(),
    )
    .unwrap();
    let elapsed = started.elapsed();
    let html = String::from_utf8(files[0].bytes.clone()).unwrap();
    assert!(
        html.len() < 5 * 1024 * 1024,
        "{} bytes for 100,000 findings",
        html.len()
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    assert_eq!(
        attribute_of(&html, "total-leakage", "data-v"),
        total.to_string()
    );
    assert!(html.contains("100,000 findings"));
    // Tables are capped, with a note of how many more are in the Parquet.
    assert!(html.contains("Showing the top 100 by leakage; 12,400 more are in"));
    assert!(html.contains("Showing the 1,000 partners with the most leakage of 2,000"));
}

// ------------------------------------------------------------------ browser

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(dir) = std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .find(|d| d.join(name).is_file())
        {
            return dir.join(name);
        }
    }
    panic!(
        "chromium is not on PATH: the browser test needs it (`apt-get install -y chromium`; .ci/run installs it)"
    );
}

/// Runs headless chromium with the test flags and a fresh profile; returns
/// stdout and stderr. Killed after two minutes.
fn headless(args: &[String], profile: &Path) -> (String, String) {
    let mut command = Command::new(chromium());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("chromium starts");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish in two minutes: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (out.join().unwrap(), err.join().unwrap())
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn in_a_headless_browser_the_page_sorts_without_errors_or_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    common::run_pipeline(&common::sample_dir(), &out, &common::queries_dir(), &[]).unwrap();
    let page = report_dir(&out, AS_OF).join("index.html");
    let url = format!("file://{}#selftest", page.display());

    let (dom, log) = headless(
        &[
            "--virtual-time-budget=5000".into(),
            "--dump-dom".into(),
            url,
        ],
        &tmp.path().join("profile-dom"),
    );
    let start = dom.find("<pre id=\"selftest-result\">").unwrap_or_else(|| {
        panic!(
            "the self-test did not run; DOM:\n{}\nlog:\n{log}",
            &dom[..dom.len().min(2000)]
        )
    }) + "<pre id=\"selftest-result\">".len();
    let json = unescape(&dom[start..start + dom[start..].find("</pre>").unwrap()]);
    let result: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        result["errors"],
        serde_json::json!([]),
        "console errors: {json}"
    );
    assert_eq!(result["resources"], 0, "network requests: {json}");
    assert_eq!(
        result["overflow"],
        serde_json::json!([]),
        "figures wider than their card: {json}"
    );
    let sort = &result["sort"];
    assert_eq!(sort["table"], "scorecard-table", "{json}");
    assert_eq!(sort["column"], "Leakage", "{json}");
    assert!(sort["rows"].as_u64().unwrap() >= 2, "{json}");
    assert_eq!(sort["first"], "descending", "{json}");
    assert_eq!(sort["firstOrdered"], true, "{json}");
    assert_eq!(sort["second"], "ascending", "{json}");
    assert_eq!(sort["secondOrdered"], true, "{json}");
    assert_eq!(sort["changed"], true, "{json}");
    let filter = &result["filter"];
    assert!(filter["visible"].as_u64().unwrap() >= 1, "{json}");
    assert!(
        filter["visible"].as_u64().unwrap() < filter["rows"].as_u64().unwrap(),
        "{json}"
    );
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE"))
        .filter(|l| {
            let l = l.to_lowercase();
            ["error", "uncaught", "refused", "violates", "blocked"]
                .iter()
                .any(|word| l.contains(word))
        })
        .collect();
    assert!(console.is_empty(), "console errors: {console:#?}");

    let screenshot = tmp.path().join("report.png");
    headless(
        &[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,2000".into(),
            "--hide-scrollbars".into(),
            format!("file://{}", page.display()),
        ],
        &tmp.path().join("profile-shot"),
    );
    let png = std::fs::read(&screenshot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    assert!(png.len() > 20_000, "{} bytes", png.len());
    if let Some(keep) = std::env::var_os("REVLEAK_REPORT_SCREENSHOT") {
        std::fs::copy(&screenshot, keep).unwrap();
    }
}

/// The page's self-test result in a headless browser `width` pixels wide.
fn selftest_at(page: &Path, width: u32, profile: &Path) -> serde_json::Value {
    let url = format!("file://{}#selftest", page.display());
    let (dom, log) = headless(
        &[
            "--virtual-time-budget=5000".into(),
            format!("--window-size={width},900"),
            "--dump-dom".into(),
            url,
        ],
        profile,
    );
    let marker = "<pre id=\"selftest-result\">";
    let start = dom
        .find(marker)
        .unwrap_or_else(|| panic!("the self-test did not run; log:\n{log}"))
        + marker.len();
    serde_json::from_str(&unescape(
        &dom[start..start + dom[start..].find("</pre>").unwrap()],
    ))
    .unwrap()
}

#[test]
fn an_eight_digit_headline_fits_its_card_in_a_narrow_window() {
    // one won deal of 12,345,678.90 never invoiced: a missing_invoice of eight digits
    let mut snap = crate::worlds::world();
    crate::worlds::deal(
        &mut snap,
        "D-BIG",
        "partner_id=P1 close_date=2026-01-15",
        "12345678.90",
    );
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = tmp.path().join("snapshot");
    snap.write(&snapshot);
    let out = tmp.path().join("out");
    common::run_pipeline(&snapshot, &out, &common::queries_dir(), &[]).unwrap();
    let page = report_dir(&out, AS_OF).join("index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        text_of(&html, "total-leakage").starts_with("12,345,678.90"),
        "{}",
        text_of(&html, "total-leakage")
    );
    for width in [700, 1400] {
        let result = selftest_at(&page, width, &tmp.path().join(format!("profile-{width}")));
        assert_eq!(
            result["overflow"],
            serde_json::json!([]),
            "figures wider than their card at {width} px: {result}"
        );
    }
}

#[test]
fn a_partner_statement_in_a_headless_browser_sorts_without_errors_requests_or_overflow() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_with_partner_pages(&common::sample_dir(), &out);
    let page = report_dir(&out, AS_OF).join("partners/P00001.html");
    for width in [700, 1400] {
        let result = selftest_at(&page, width, &tmp.path().join(format!("profile-{width}")));
        let json = result.to_string();
        assert_eq!(result["errors"], serde_json::json!([]), "{width}px: {json}");
        assert_eq!(result["resources"], 0, "{width}px: {json}");
        assert_eq!(
            result["overflow"],
            serde_json::json!([]),
            "{width}px: {json}"
        );
        let sort = &result["sort"];
        assert!(sort["rows"].as_u64().unwrap() >= 2, "{json}");
        assert_eq!(sort["firstOrdered"], true, "{json}");
        assert_eq!(sort["secondOrdered"], true, "{json}");
    }
}

/// Statements are rendered on several threads and handed over as they are
/// rendered: every partner's page arrives once, and a sink that fails stops
/// the rendering with its error instead of hanging or being ignored.
#[test]
fn statements_reach_the_sink_once_each_and_a_failing_sink_stops_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_with_partner_pages(&common::sample_dir(), &out);
    let as_of = chrono::NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").unwrap();
    let options = revleak::outputs::report::ReportOptions {
        partner_pages: true,
        ..Default::default()
    };
    let files = revleak::outputs::report::build(&out, None, as_of, &options).unwrap();
    let names: std::collections::BTreeSet<&str> = files.iter().map(|f| f.name.as_str()).collect();
    let published = std::fs::read_dir(report_dir(&out, AS_OF).join("partners"))
        .unwrap()
        .count();
    assert_eq!(names.len(), files.len(), "a page handed over twice");
    assert_eq!(
        files.len(),
        published + 1,
        "the main page and every statement"
    );
    assert!(published > 3, "{published} statements");

    let mut taken = 0;
    let failed = revleak::outputs::report::build_into(&out, None, as_of, &options, &mut |_| {
        taken += 1;
        match taken {
            3 => Err(revleak::Error::Storage("the disk is full".into())),
            _ => Ok(()),
        }
    });
    let message = failed.unwrap_err().to_string();
    assert_eq!(message, "the disk is full");
    assert_eq!(taken, 3, "no page is handed over after the sink failed");
}
