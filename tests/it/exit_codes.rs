//! The binary's contract with schedulers: exit 0 when the run completed, 1 when
//! --fail-on findings exist, 2 when the run failed; JSON logs are JSON.

use crate::common;

fn revleak(args: &[&str]) -> std::process::Output {
    common::revleak_command()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

#[test]
fn exit_codes_follow_the_run_and_the_fail_on_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out = out.to_str().unwrap();
    let sample = common::sample_dir();
    let sample = sample.to_str().unwrap();

    let plain = revleak(&["run", sample, "--out", out, "-q"]);
    assert_eq!(plain.status.code(), Some(0));

    // The sample has critical findings.
    let failing = revleak(&["run", sample, "--out", out, "-q", "--fail-on", "critical"]);
    assert_eq!(failing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failing.stdout).contains("--fail-on critical"));
    assert!(
        out_has(out, "findings/as_of=2026-11-26/_SUCCESS"),
        "exit 1 still publishes"
    );

    // Re-run of the same as_of: they all recur against... nothing earlier, so still new.
    // A later as_of: every finding recurs, so --fail-on-new finds nothing.
    let later = revleak(&[
        "run",
        sample,
        "--out",
        out,
        "-q",
        "--as-of",
        "2026-11-27",
        "--fail-on",
        "critical",
        "--fail-on-new",
    ]);
    assert_eq!(
        later.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&later.stderr)
    );

    let bad = revleak(&["run", "/nonexistent/snapshot", "--out", out, "-q"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent/snapshot"));

    let bad_severity = revleak(&["run", sample, "--out", out, "--fail-on", "severe"]);
    assert_eq!(bad_severity.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_severity.stderr).contains("severity `severe`"));
}

fn out_has(out: &str, rel: &str) -> bool {
    std::path::Path::new(out).join(rel).exists()
}

#[test]
fn json_logs_are_one_json_object_per_line_with_check_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let sample = common::sample_dir();
    let run = revleak(&[
        "run",
        sample.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--log-format",
        "json",
        "--output",
        "json",
    ]);
    assert_eq!(run.status.code(), Some(0));
    let stderr = String::from_utf8(run.stderr).unwrap();
    let mut check_lines = 0;
    for line in stderr.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
        assert!(
            value["level"].is_string()
                && value["message"].is_string()
                && value["timestamp"].is_string()
        );
        if value["message"] == "check done" {
            assert!(
                value["check_id"].is_string()
                    && value["rows"].is_number()
                    && value["ms"].is_number()
            );
            check_lines += 1;
        }
    }
    assert_eq!(check_lines, 15);
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["manifest"]["findings"], 45);
    assert_eq!(summary["manifest"]["as_of"], "2026-11-26");
}

#[test]
fn json_errors_are_logged_as_json_too() {
    let run = revleak(&["run", "/nonexistent/snapshot", "--log-format", "json"]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8(run.stderr).unwrap();
    let last: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "ERROR");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/snapshot")
    );
}

#[test]
fn config_prints_the_effective_configuration_and_rejects_unknown_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("revleak.toml");
    std::fs::write(
        &config,
        "fail_on = \"high\"\n[parameters]\ninvoice_grace_days = 45\n",
    )
    .unwrap();
    let shown = common::revleak_command()
        .args([
            "config",
            "--config",
            config.to_str().unwrap(),
            "--set",
            "amount_tolerance=2.00",
        ])
        .env("REVLEAK_PAYMENT_GRACE_DAYS", "20")
        .output()
        .unwrap();
    assert_eq!(shown.status.code(), Some(0));
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(text.contains("fail_on = \"high\""), "{text}");
    assert!(text.contains("invoice_grace_days = \"45\""), "{text}");
    assert!(text.contains("payment_grace_days = \"20\""), "{text}");
    assert!(text.contains("amount_tolerance = \"2.00\""), "{text}");
    assert!(text.contains("posting_grace_days = \"5\""), "{text}");

    std::fs::write(&config, "fail_onn = \"high\"\n").unwrap();
    let rejected = revleak(&["config", "--config", config.to_str().unwrap()]);
    assert_eq!(rejected.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&rejected.stderr).contains("fail_onn"));
}
