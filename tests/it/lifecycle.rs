//! Nightly operations over three runs into one output folder: findings are new,
//! then recurring or resolved (revenue recovered), dispositions apply and expire,
//! alerts list new findings at or above a severity, and the exit codes tell a
//! scheduler what happened.

use crate::common;

use crate::common::{Finding, Snap, dec, read_partition, run_with_options};
use revleak::config::Severity;
use revleak::run::RunOptions;
use std::collections::BTreeMap;
use std::path::Path;

/// A world of three direct USD deals; `invoiced` deals have an issued, paid invoice.
fn night(closed: &[(&str, &str, &str)], invoiced: &[&str]) -> Snap {
    let mut snap = Snap::new();
    snap.row("contracts/products", "sku=SKU1");
    for (deal, close, value) in closed {
        snap.row("crm/deals", &format!("deal_id={deal} close_date={close}"))
            .row(
                "crm/deal_lines",
                &format!("deal_id={deal} list_price={value} net_amount={value}"),
            );
        if invoiced.contains(deal) {
            snap.row(
                "billing/invoices",
                &format!(
                    "invoice_id=I{deal} deal_id={deal} invoice_date=2026-11-27 due_date=2026-12-27 total_amount={value}"
                ),
            )
            .row(
                "billing/invoice_lines",
                &format!("invoice_id=I{deal} unit_price={value} line_amount={value}"),
            );
        }
    }
    snap
}

fn run_night(
    snap: &Snap,
    out: &Path,
    as_of: &str,
    adjust: impl FnOnce(&mut RunOptions),
) -> revleak::run::RunReport {
    let snapshot = out.parent().unwrap().join(format!("snapshot-{as_of}"));
    snap.write(&snapshot);
    let mut opts = RunOptions::new(&snapshot, out);
    opts.queries = common::queries_dir();
    opts.sets = vec![format!("as_of={as_of}")];
    adjust(&mut opts);
    run_with_options(&opts).expect("the night's run succeeds")
}

fn missing_invoices(out: &Path, kind: &str, as_of: &str) -> BTreeMap<String, Finding> {
    read_partition(out, kind, as_of)
        .into_iter()
        .filter(|f| f.check_id == "missing_invoice")
        .map(|f| (f.entity_id.clone(), f))
        .collect()
}

fn day(iso: &str) -> i32 {
    common::date32(iso)
}

const D1: (&str, &str, &str) = ("D1", "2026-09-01", "1000.00");
const D2: (&str, &str, &str) = ("D2", "2026-09-02", "2000.00");
const D3: (&str, &str, &str) = ("D3", "2026-09-03", "3000.00");

#[test]
fn three_nights_track_new_recurring_and_resolved_findings_and_recovered_revenue() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");

    // Night 1: D1 and D2 were never invoiced.
    let first = run_night(&night(&[D1, D2], &[]), &out, "2026-11-26", |_| {});
    let n1 = missing_invoices(&out, "findings", "2026-11-26");
    assert_eq!(n1.keys().collect::<Vec<_>>(), ["D1", "D2"]);
    assert!(
        n1.values()
            .all(|f| f.status == "new" && f.first_seen == day("2026-11-26"))
    );
    assert_eq!(first.manifest.lifecycle.previous_as_of, None);
    assert!(
        !out.join("resolved").exists(),
        "nothing can be resolved on the first night"
    );

    // Night 2: D1 is invoiced (recovered), D2 still is not.
    let second = run_night(&night(&[D1, D2], &["D1"]), &out, "2026-11-27", |_| {});
    let n2 = missing_invoices(&out, "findings", "2026-11-27");
    assert_eq!(n2.keys().collect::<Vec<_>>(), ["D2"]);
    assert_eq!(n2["D2"].status, "recurring");
    assert_eq!(
        n2["D2"].first_seen,
        day("2026-11-26"),
        "first_seen carries over"
    );
    assert_eq!(
        n2["D2"].finding_id, n1["D2"].finding_id,
        "finding_id is stable"
    );
    let resolved2 = missing_invoices(&out, "resolved", "2026-11-27");
    assert_eq!(resolved2.keys().collect::<Vec<_>>(), ["D1"]);
    assert_eq!(resolved2["D1"].leakage, dec("1000.00"));
    assert_eq!(resolved2["D1"].status, "resolved");
    let l2 = &second.manifest.lifecycle;
    assert_eq!(
        l2.previous_as_of,
        Some(chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap())
    );
    assert_eq!(l2.resolved, 1);
    assert_eq!(l2.resolved_leakage, dec("1000.00"));
    assert_eq!(l2.recovered_to_date, dec("1000.00"));
    // D1 was invoiced 87 days after close: a new late_invoice signal.
    assert_eq!(l2.new, 1);
    assert_eq!(l2.recurring, 1);

    // Night 3: D3 appears, D2 still open; D1's late_invoice signal recurs.
    let third = run_night(&night(&[D1, D2, D3], &["D1"]), &out, "2026-11-28", |_| {});
    let n3 = missing_invoices(&out, "findings", "2026-11-28");
    assert_eq!(n3.keys().collect::<Vec<_>>(), ["D2", "D3"]);
    assert_eq!(n3["D2"].status, "recurring");
    assert_eq!(n3["D3"].status, "new");
    assert_eq!(n3["D3"].first_seen, day("2026-11-28"));
    let l3 = &third.manifest.lifecycle;
    assert_eq!((l3.new, l3.recurring, l3.resolved), (1, 2, 0));
    assert_eq!(l3.new_leakage, dec("3000.00"));
    assert_eq!(
        l3.recovered_to_date,
        dec("1000.00"),
        "recovered revenue accumulates"
    );

    // Re-running night 2 compares with night 1 again, and history stays intact.
    let rerun = run_night(&night(&[D1, D2], &["D1"]), &out, "2026-11-27", |_| {});
    assert_eq!(rerun.manifest.lifecycle.resolved_leakage, dec("1000.00"));
    assert_eq!(missing_invoices(&out, "findings", "2026-11-28").len(), 2);
    assert_eq!(missing_invoices(&out, "findings", "2026-11-26").len(), 2);
}

#[test]
fn a_live_disposition_leaves_totals_and_alerts_and_an_expired_one_stops_applying() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let first = run_night(&night(&[D1, D2], &[]), &out, "2026-11-26", |o| {
        o.alert_min_severity = Severity::Medium
    });
    assert_eq!(first.manifest.alerts, 2, "both 1,000+ findings are medium");
    let n1 = missing_invoices(&out, "findings", "2026-11-26");
    let d2 = &n1["D2"].finding_id;
    std::fs::write(
        out.join("dispositions.csv"),
        format!(
            "finding_id,disposition,note,owner,until\n\
             {d2},accepted,\"rebilled on INV-9, see ticket 12\",ana,2026-11-27\n\
             0000000000000000,false_positive,gone,bo,\n"
        ),
    )
    .unwrap();

    let second = run_night(&night(&[D1, D2, D3], &[]), &out, "2026-11-27", |o| {
        o.alert_min_severity = Severity::Medium;
        o.fail_on = Some(Severity::Medium);
    });
    let n2 = missing_invoices(&out, "findings", "2026-11-27");
    assert_eq!(n2["D2"].disposition.as_deref(), Some("accepted"));
    assert_eq!(n2["D1"].disposition, None);
    let m = &second.manifest;
    assert_eq!(m.dispositions.applied, 1);
    assert_eq!(m.dispositions.excluded_leakage, dec("2000.00"));
    assert_eq!(m.dispositions.unmatched, ["0000000000000000"]);
    assert_eq!(
        m.open_leakage,
        dec("4000.00"),
        "D1 + D3, not the accepted D2"
    );
    assert_eq!(m.alerts, 1, "only D3 is new");
    assert_eq!(
        m.failing_findings, 2,
        "D1 and D3; D2 has a live disposition"
    );
    let alerts = std::fs::read_to_string(out.join("alerts/as_of=2026-11-27/alerts.jsonl")).unwrap();
    let alert: serde_json::Value = serde_json::from_str(alerts.lines().next().unwrap()).unwrap();
    assert_eq!(alert["check_id"], "missing_invoice");
    assert_eq!(alert["entity_id"], "D3");
    assert_eq!(alert["leakage_amount"], "3000.00");
    assert_eq!(alert["severity"], "medium");
    assert!(alert["detail"].as_str().unwrap().contains("D3"));
    assert_eq!(alert["finding_id"], n2["D3"].finding_id.as_str());

    // The decision's `until` was 2026-11-27: on the 28th it no longer applies.
    let third = run_night(&night(&[D1, D2, D3], &[]), &out, "2026-11-28", |o| {
        o.fail_on = Some(Severity::Medium);
    });
    let n3 = missing_invoices(&out, "findings", "2026-11-28");
    assert_eq!(n3["D2"].disposition, None);
    assert_eq!(third.manifest.dispositions.expired, 1);
    assert_eq!(third.manifest.failing_findings, 3);
    assert_eq!(third.manifest.open_leakage, dec("6000.00"));
}

#[test]
fn a_malformed_dispositions_file_fails_the_run_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let file = tmp.path().join("decisions.csv");
    std::fs::write(&file, "finding_id,disposition\nabc,accepted\ndef,maybe\n").unwrap();
    let snapshot = tmp.path().join("snapshot");
    night(&[D1], &[]).write(&snapshot);
    let mut opts = RunOptions::new(&snapshot, &out);
    opts.queries = common::queries_dir();
    opts.dispositions = Some(file.clone());
    let err = run_with_options(&opts).unwrap_err().to_string();
    assert!(
        err.contains(&format!("{}:3: disposition `maybe`", file.display())),
        "{err}"
    );
    assert!(!out.join("findings").exists(), "nothing is published");
}

/// The deals of the day's missing_invoice alerts.
fn alert_ids(out: &Path, as_of: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(out.join(format!("alerts/as_of={as_of}/alerts.jsonl"))).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|alert| alert["check_id"] == "missing_invoice")
        .map(|alert| alert["entity_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_finding_alerts_once_however_often_a_day_is_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let medium = |o: &mut RunOptions| o.alert_min_severity = Severity::Medium;

    // Hourly runs of one day: the first alerts D1 and D2, the others nothing.
    let first = run_night(&night(&[D1, D2], &[]), &out, "2026-11-26", medium);
    assert_eq!(first.manifest.alerts, 2);
    let mut run_ids = vec![first.manifest.run_id.clone()];
    for _ in 0..2 {
        let again = run_night(&night(&[D1, D2], &[]), &out, "2026-11-26", medium);
        assert_eq!(
            again.manifest.alerts, 0,
            "a re-run of the day alerts nothing"
        );
        assert!(alert_ids(&out, "2026-11-26").is_empty());
        run_ids.push(again.manifest.run_id.clone());
    }
    // A new finding later that day alerts alone.
    let later = run_night(&night(&[D1, D2, D3], &[]), &out, "2026-11-26", medium);
    assert_eq!(alert_ids(&out, "2026-11-26"), ["D3"]);
    assert_eq!(later.manifest.alerts, 1);
    // The published partition is the latest run's; its manifest lists the day's others.
    let earlier = &later.manifest.earlier_runs_of_the_day;
    assert_eq!(
        earlier.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>(),
        run_ids
    );
    assert_eq!(
        earlier.iter().map(|r| r.alerts).collect::<Vec<_>>(),
        [2, 0, 0]
    );
    // The report lists the day's runs, this one last.
    let page = std::fs::read_to_string(out.join("report/as_of=2026-11-26/index.html")).unwrap();
    let table = &page[page
        .find("id=\"runs-of-the-day\"")
        .expect("the runs of the day")..];
    let table = &table[..table.find("</table>").unwrap()];
    let mut at = 0;
    for id in run_ids.iter().chain([&later.manifest.run_id]) {
        let found = table[at..]
            .find(id.as_str())
            .unwrap_or_else(|| panic!("{id} in order"));
        at += found + id.len();
    }

    // The next day: D2 invoiced (resolved), D1 and D3 recurring: no missing
    // invoice alert (D2's invoice, 87 days after its close, is a new late_invoice).
    let next = run_night(&night(&[D1, D2, D3], &["D2"]), &out, "2026-11-27", medium);
    assert!(alert_ids(&out, "2026-11-27").is_empty());
    assert!(
        next.manifest.earlier_runs_of_the_day.is_empty(),
        "a new day"
    );
    // D2 comes back (its invoice gone): it alerts again.
    let back = run_night(&night(&[D1, D2, D3], &[]), &out, "2026-11-28", medium);
    assert_eq!(alert_ids(&out, "2026-11-28"), ["D2"]);
    assert_eq!(back.manifest.alerts, 1, "and nothing else");
    // D1's leakage grows past the high band (10,000): it alerts again, as high.
    let big = ("D1", "2026-09-01", "15000.00");
    run_night(&night(&[big, D2, D3], &[]), &out, "2026-11-29", medium);
    assert_eq!(alert_ids(&out, "2026-11-29"), ["D1"]);
}

#[test]
fn an_output_folder_of_an_earlier_version_raises_no_alert_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let medium = |o: &mut RunOptions| o.alert_min_severity = Severity::Medium;
    run_night(&night(&[D1, D2], &[]), &out, "2026-11-26", medium);
    // An earlier revleak kept no record of its alerts.
    std::fs::remove_file(out.join("alerts/as_of=2026-11-26/alerted.jsonl")).unwrap();
    let next = run_night(&night(&[D1, D2, D3], &[]), &out, "2026-11-27", medium);
    assert_eq!(
        alert_ids(&out, "2026-11-27"),
        ["D3"],
        "D1 and D2 were alerted then"
    );
    assert_eq!(next.manifest.alerts, 1);
}

/// A webhook receiver on 127.0.0.1: every request body it was sent, in order.
struct Receiver {
    port: u16,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(port: u16) -> Receiver {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (b, s) = (bodies.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                b.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                let mut stream = stream;
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .unwrap();
            }
        });
        Receiver {
            port,
            bodies,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// The deals of the missing_invoice alerts of each request.
    fn requests(&self) -> Vec<Vec<String>> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|body| {
                body["alerts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|a| a["check_id"] == "missing_invoice")
                    .map(|a| a["entity_id"].as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn alerts_reach_a_webhook_once_and_again_after_it_was_down() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let receiver = Receiver::start(0);
    let port = receiver.port;
    let url = receiver.url();
    let hook = |o: &mut RunOptions| {
        o.alert_min_severity = Severity::Medium;
        o.alert_webhook = Some(revleak::outputs::delivery::Webhook::new(&url, "test").unwrap());
    };

    let first = run_night(&night(&[D1, D2], &[]), &out, "2026-11-26", hook);
    assert_eq!(receiver.requests(), [["D1", "D2"]]);
    let body = receiver.bodies.lock().unwrap()[0].clone();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("revleak: 2 new alert(s) as of 2026-11-26"),
        "{body}"
    );
    assert!(first.manifest.alert_delivery.as_ref().unwrap().delivered);
    // A re-run of the day has nothing new to send.
    run_night(&night(&[D1, D2], &[]), &out, "2026-11-26", hook);
    assert_eq!(receiver.requests().len(), 1);

    // The receiver is down: the run still publishes, says so, and keeps D3 pending.
    drop(receiver);
    let down = run_night(&night(&[D1, D2, D3], &[]), &out, "2026-11-27", hook);
    let delivery = down.manifest.alert_delivery.clone().unwrap();
    assert!(
        !delivery.delivered && delivery.error.is_some(),
        "{delivery:?}"
    );
    assert!(
        down.manifest
            .warnings
            .iter()
            .any(|w| w.contains("not delivered") && !w.contains("127.0.0.1")),
        "{:?}",
        down.manifest.warnings
    );
    assert!(findings_published(&out, "2026-11-27"));

    // Back up: the next run sends D3 with its own new alert.
    let receiver = Receiver::start(port);
    let d4 = ("D4", "2026-09-04", "4000.00");
    let back = run_night(&night(&[D1, D2, D3, d4], &[]), &out, "2026-11-28", hook);
    assert_eq!(receiver.requests(), [["D3", "D4"]]);
    assert!(back.manifest.alert_delivery.unwrap().delivered);
}

fn findings_published(out: &Path, as_of: &str) -> bool {
    out.join(format!("findings/as_of={as_of}/_SUCCESS"))
        .exists()
}
