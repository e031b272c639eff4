//! Delivery of a run's new alerts to a webhook (`--alert-webhook URL`, or the
//! environment variable `alert_webhook_env` names): one JSON POST per run (in
//! batches of [`BATCH`] alerts), with a `text` field that Slack- and Teams-style
//! incoming webhooks display. The alerts to deliver are published with the run
//! (`alerts/as_of=.../pending.jsonl`) before any request is made; a delivery that
//! succeeds marks the partition (`_delivered`), one that fails (after retries)
//! leaves it pending for the next run and is reported, never failing the run.
//! The URL is a secret: it is never logged or written.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// The alerts still to deliver, in the alerts partition of a run.
pub const PENDING: &str = "pending.jsonl";
/// Marks an alerts partition whose pending alerts were delivered.
pub const DELIVERED: &str = "_delivered";
/// Alerts per request.
pub const BATCH: usize = 100;
const ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(10);

/// A webhook URL, never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook(String);

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Webhook(<secret>)")
    }
}

impl Webhook {
    pub fn new(url: &str, source: &str) -> Result<Webhook> {
        let url = url.trim();
        if url.starts_with("https://") || url.starts_with("http://") {
            Ok(Webhook(url.to_string()))
        } else {
            Err(Error::Config(format!(
                "{source}: the alert webhook must be an http:// or https:// URL"
            )))
        }
    }
}

/// What became of a run's delivery, in its manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DeliveryOutcome {
    /// Alerts to deliver: this run's new ones and those earlier runs could not.
    pub alerts: usize,
    pub delivered: bool,
    /// Why not (the URL left out), retried on the next run.
    pub error: Option<String>,
}

/// The alerts earlier runs could not deliver: those of the latest alerts
/// partition at or before `as_of` that is pending and not marked delivered.
pub fn carried_over(out: &Path, as_of: chrono::NaiveDate) -> Result<Vec<serde_json::Value>> {
    let Some((_, dir)) = crate::outputs::publish::partitions(&out.join("alerts"))
        .into_iter()
        .rfind(|(d, _)| *d <= as_of)
    else {
        return Ok(Vec::new());
    };
    if dir.join(DELIVERED).exists() {
        return Ok(Vec::new());
    }
    Ok(crate::outputs::publish::read_jsonl(&dir.join(PENDING))?.unwrap_or_default())
}

/// Marks the published alerts partition of `as_of` delivered.
pub fn mark_delivered(out: &Path, as_of: chrono::NaiveDate) -> Result<()> {
    crate::outputs::publish::replace_published(out, "alerts", as_of, DELIVERED, b"").map(|_| ())
}

/// The request body of one batch: the alerts, and a line a chat shows.
pub fn body(
    alerts: &[serde_json::Value],
    run_id: &str,
    as_of: chrono::NaiveDate,
) -> serde_json::Value {
    let lines: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "• [{}] {} {} {}: {} {}",
                a["severity"].as_str().unwrap_or_default(),
                a["check_id"].as_str().unwrap_or_default(),
                a["entity_type"].as_str().unwrap_or_default(),
                a["entity_id"].as_str().unwrap_or_default(),
                a["leakage_amount"].as_str().unwrap_or_default(),
                a["currency"].as_str().unwrap_or_default()
            )
        })
        .collect();
    serde_json::json!({
        "text": format!(
            "revleak: {} new alert(s) as of {as_of} (run {run_id})\n{}",
            alerts.len(),
            lines.join("\n")
        ),
        "run_id": run_id,
        "as_of": as_of.to_string(),
        "alerts": alerts,
    })
}

/// POSTs `alerts` in batches, each tried [`ATTEMPTS`] times with a doubling
/// pause; Ok when every batch was accepted (a 2xx answer).
pub async fn deliver(
    webhook: &Webhook,
    alerts: &[serde_json::Value],
    run_id: &str,
    as_of: chrono::NaiveDate,
) -> std::result::Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| e.without_url().to_string())?;
    for batch in alerts.chunks(BATCH) {
        let body = serde_json::to_vec(&body(batch, run_id, as_of)).expect("a body serializes");
        let mut pause = Duration::from_millis(500);
        let mut last_error = String::new();
        for attempt in 1..=ATTEMPTS {
            let sent = client
                .post(&webhook.0)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(answer) if answer.status().is_success() => {
                    last_error.clear();
                    break;
                }
                Ok(answer) => last_error = format!("the webhook answered {}", answer.status()),
                Err(e) => last_error = e.without_url().to_string(),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        if !last_error.is_empty() {
            return Err(format!("{last_error} (after {ATTEMPTS} attempts)"));
        }
    }
    Ok(())
}
