//! The HTML report: one self-contained page per run, rendered from the
//! published Parquet alone (read with polars), so it can never disagree with
//! what BI tools read; and, with `--partner-reports`, a statement per partner
//! ([`statement`]).
//!
//! - [`data`]: polars over the findings, resolved and summary partitions of
//!   this and earlier runs (summaries, the partner × check pivot, top
//!   findings, the trend);
//! - [`partner_figures`]: the partner figures the run published and the freshness in
//!   its manifest (tier, region, billed, forecast attainment, DSO);
//! - [`html`], [`svg`]: the run's page and its inline charts;
//! - [`page`]: what the page and the statements share (CSS, JS, CSP, cells).
//!
//! The page is deterministic: the same Parquet renders the same bytes (no
//! render time, every map sorted), so `revleak report` re-renders exactly what
//! the run wrote.

pub mod data;
pub mod html;
pub mod page;
pub mod partner_figures;
pub mod statement;
pub mod svg;

use crate::error::{Error, Result};
use chrono::NaiveDate;
use data::{Analysis, Current, History, Layout, Manifest, RunPoint, TOP_FINDINGS};
use html::{CheckMeta, Page};
use partner_figures::PublishedFigures;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What to render besides the main page.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Also write `partners/<partner_id>.html`, each restricted to one partner.
    pub partner_pages: bool,
    /// The statement datasets as the run's queries returned them, read
    /// instead of the `statements/` partition they are published as (the
    /// same rows, without writing them out and reading them back).
    pub statements: Option<std::sync::Arc<statement::Statements>>,
}

/// One file of the report partition, relative to `report/as_of=.../`.
#[derive(Debug, Clone)]
pub struct ReportFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

pub use data::partner_file_name;

/// Renders the report of `as_of` from the outputs under `out`. When `overlay`
/// is given (a run's staging root, laid out like `out`), its partitions take
/// precedence: a run renders its report before publishing anything.
pub fn build(
    out: &Path,
    overlay: Option<&Path>,
    as_of: NaiveDate,
    options: &ReportOptions,
) -> Result<Vec<ReportFile>> {
    let mut files = Vec::new();
    build_into(out, overlay, as_of, options, &mut |file| {
        files.push(file);
        Ok(())
    })?;
    Ok(files)
}

/// Partner statements rendered ahead of `sink`, per rendering thread: what
/// bounds the pages held in memory at once (10,000 statements are about
/// 500 MB of HTML).
const STATEMENTS_IN_FLIGHT: usize = 16;

/// [`build`], handing each file to `sink` as soon as it is rendered: the
/// main page first, then the partners' statements, rendered on every core
/// and never all held at once.
pub fn build_into(
    out: &Path,
    overlay: Option<&Path>,
    as_of: NaiveDate,
    options: &ReportOptions,
    sink: &mut dyn FnMut(ReportFile) -> Result<()>,
) -> Result<()> {
    let layout = Layout {
        out: out.to_path_buf(),
        overlay: overlay.map(Path::to_path_buf),
    };
    let findings_dir = layout.partition("findings", as_of).ok_or_else(|| {
        Error::NotPublished(format!(
            "{}: no published findings as of {as_of} (findings/as_of={as_of}/ with _SUCCESS)",
            out.display()
        ))
    })?;
    let files = data::parquet_files(&findings_dir);
    if files.is_empty() {
        return Err(Error::NotPublished(format!(
            "{}: no Parquet file in the findings partition",
            findings_dir.display()
        )));
    }
    let manifest_path = layout
        .partition("runs", as_of)
        .map(|d| d.join("manifest.json"))
        .filter(|p| p.exists());
    let manifest_found = manifest_path.is_some();
    let manifest = match &manifest_path {
        Some(p) => Manifest::read(p)?,
        None => Manifest::default(),
    };
    let currency = manifest.currency();
    let findings_path = format!("findings/as_of={as_of}/");

    let started = std::time::Instant::now();
    let current = Current::load(&files, as_of, &findings_dir)?;
    let analysis = current.analyse(TOP_FINDINGS)?;
    let history = History::load(&layout, as_of)?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "report: findings and history read"
    );
    let figures = PublishedFigures::load(&layout, &manifest, as_of);
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "report: snapshot figures read"
    );
    let checks = check_meta(&manifest, &analysis);

    let mut warnings = Vec::new();
    let actions_dir = layout.partition(crate::outputs::actions::OUTPUT, as_of);
    let actions = match &actions_dir {
        Some(dir) => crate::outputs::actions::read_published(dir, &manifest.actions)
            .unwrap_or_else(|e| {
                warnings.push(format!("actions/as_of={as_of}/ could not be read: {e}"));
                Vec::new()
            }),
        None => Vec::new(),
    };
    // each partner's page states its own commission adjustments
    let adjustments = match (&actions_dir, options.partner_pages) {
        (Some(dir), true) => {
            crate::outputs::actions::read_commission_adjustments(dir).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    if let Some(summary) = data::summary_total(&layout, as_of) {
        match summary {
            Ok(s) => {
                let agrees = [analysis.all, analysis.total]
                    .iter()
                    .any(|t| t.findings == s.findings && t.leakage == s.leakage);
                if !agrees {
                    warnings.push(format!(
                        "summary/as_of={as_of}/ totals {} findings and {} {currency}, the findings partition {} and {}: one of them was changed after the run.",
                        s.findings,
                        crate::engine::udf::format_money(s.leakage),
                        analysis.all.findings,
                        crate::engine::udf::format_money(analysis.all.leakage)
                    ));
                }
            }
            Err(e) => warnings.push(format!("summary/as_of={as_of}/ could not be read: {e}")),
        }
    }
    if !manifest_found {
        warnings.push(format!(
            "runs/as_of={as_of}/manifest.json is missing: inputs, parameters and timings are not shown."
        ));
    }

    let names: BTreeMap<String, String> = figures
        .partners
        .iter()
        .map(|(id, p)| (id.clone(), p.name.clone()))
        .collect();
    // With partner pages: a statement for every partner (of the snapshot, or
    // with a statement row), read from the run's statements/ datasets.
    let loaded;
    let statements = match (
        options.partner_pages,
        &options.statements,
        layout.partition(crate::outputs::actions::STATEMENTS, as_of),
    ) {
        (true, Some(in_memory), _) => in_memory.as_ref(),
        (true, None, Some(dir)) => {
            loaded = statement::Statements::load(&dir)?;
            &loaded
        }
        (true, None, None) => {
            return Err(Error::NotPublished(format!(
                "{}: no partner statements as of {as_of} (statements/as_of={as_of}/): \
                 they are published by `revleak run --partner-reports` (or partner_reports = true \
                 in revleak.toml); run it for {as_of} to write them",
                out.display()
            )));
        }
        (false, ..) => {
            loaded = statement::Statements::default();
            &loaded
        }
    };
    let mut statement_partners: BTreeMap<String, String> = BTreeMap::new();
    // (without statements published, partner pages stopped above)
    if options.partner_pages {
        statement_partners.extend(names.iter().map(|(k, v)| (k.clone(), v.clone())));
        for p in statements.partners() {
            statement_partners.entry(p.clone()).or_default();
        }
    }
    let lookback_months: i64 = manifest
        .parameters
        .get("forecast_lookback_months")
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let recovered = History::recovered(&history.runs);
    let trend: Vec<RunPoint> = history.runs.values().cloned().collect();

    let page = Page {
        as_of,
        currency: currency.clone(),
        manifest: &manifest,
        manifest_found,
        analysis: &analysis,
        trend,
        has_resolved: history.has_resolved,
        recovered,
        figures: &figures,
        checks: &checks,
        partner_names: &names,
        findings_path: findings_path.clone(),
        actions: &actions,
        statement_links: !statement_partners.is_empty(),
        warnings,
    };
    sink(ReportFile {
        name: "index.html".into(),
        bytes: html::render(&page).into_bytes(),
    })?;
    drop(page);
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "report: page rendered"
    );

    let mut own_adjustments: BTreeMap<&str, Vec<crate::outputs::actions::CommissionAdjustment>> =
        BTreeMap::new();
    for a in &adjustments {
        own_adjustments
            .entry(a.partner_id.as_str())
            .or_default()
            .push(a.clone());
    }
    let partners: Vec<(&String, &String)> = statement_partners.iter().collect();
    let render_one = |(partner, name): (&String, &String)| {
        let page = statement::Statement {
            partner_id: partner,
            partner_name: if name.is_empty() { partner } else { name },
            as_of,
            reporting_currency: &currency,
            lookback_months,
            statements,
            adjustments: own_adjustments
                .get(partner.as_str())
                .map_or(&[], Vec::as_slice),
        };
        ReportFile {
            name: partner_file_name(partner),
            bytes: statement::render(&page).into_bytes(),
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || partners.len() < 2 {
        for partner in partners {
            sink(render_one(partner))?;
        }
    } else {
        // Each thread renders the next partner not yet taken; the pages reach
        // the sink here, in any order (each is its own file), through a
        // bounded channel, so rendering waits while the sink writes.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (pages, rendered) =
            std::sync::mpsc::sync_channel::<ReportFile>(STATEMENTS_IN_FLIGHT * threads);
        std::thread::scope(|scope| -> Result<()> {
            for _ in 0..threads {
                let pages = pages.clone();
                let (next, partners, render_one) = (&next, &partners, &render_one);
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(partner) = partners.get(i) else {
                            break;
                        };
                        // the receiver gone: the sink failed, stop rendering
                        if pages.send(render_one(*partner)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(pages);
            let mut failed = None;
            for file in rendered.iter() {
                if let Err(e) = sink(file) {
                    failed = Some(e);
                    break;
                }
            }
            // stops the renderers at their next page
            drop(rendered);
            failed.map_or(Ok(()), Err)
        })?;
    }
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        statements = statement_partners.len(),
        "report: statements rendered and written"
    );
    Ok(())
}

/// Title, description, owner and parameters of each check: from the check
/// files the manifest lists (parsed by [`crate::reconcile::checks::discover`]), else the
/// manifest's own title; checks found only in the findings last.
fn check_meta(manifest: &Manifest, analysis: &Analysis) -> Vec<CheckMeta> {
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for c in &manifest.checks {
        if let Some(parent) = Path::new(&c.path).parent() {
            dirs.insert(parent.to_path_buf());
        }
    }
    let mut files: BTreeMap<String, crate::reconcile::checks::CheckFile> = BTreeMap::new();
    for dir in &dirs {
        if let Ok(found) = crate::reconcile::checks::discover(dir) {
            for f in found {
                files.entry(f.id.clone()).or_insert(f);
            }
        }
    }
    let params_of = |sql: &str| -> Vec<(String, String)> {
        manifest
            .parameters
            .iter()
            .filter(|(name, _)| mentions(sql, name))
            .map(|(name, v)| (name.clone(), v.clone()))
            .collect()
    };
    let mut metas = Vec::new();
    for c in &manifest.checks {
        let meta = match files.get(&c.check_id) {
            Some(f) => CheckMeta {
                id: c.check_id.clone(),
                title: f.title.clone(),
                description: f.description.clone(),
                owner: f.owner.clone(),
                default_severity: f.default_severity.clone(),
                parameters: params_of(&f.sql),
                note: (!c.sha256.is_empty() && f.sha256 != c.sha256).then(|| {
                    format!(
                        "{} changed since the run; its current title and description are shown.",
                        c.path
                    )
                }),
                skipped: c.skipped.clone(),
                millis: Some(c.millis as u64),
            },
            None => CheckMeta {
                id: c.check_id.clone(),
                title: if c.title.is_empty() {
                    c.check_id.replace('_', " ")
                } else {
                    c.title.clone()
                },
                description: String::new(),
                owner: String::new(),
                default_severity: String::new(),
                parameters: Vec::new(),
                note: Some(format!(
                    "{} is no longer readable: its description and parameters are not shown.",
                    c.path
                )),
                skipped: c.skipped.clone(),
                millis: Some(c.millis as u64),
            },
        };
        metas.push(meta);
    }
    let mut extra: Vec<&String> = analysis
        .by_check
        .keys()
        .filter(|id| !manifest.checks.iter().any(|c| &c.check_id == *id))
        .collect();
    extra.sort_by_key(|id| {
        (
            id.as_str() != crate::reconcile::checks::DATA_QUALITY,
            id.to_string(),
        )
    });
    for id in extra {
        metas.push(CheckMeta {
            id: id.clone(),
            title: id.replace('_', " "),
            description: String::new(),
            owner: String::new(),
            default_severity: String::new(),
            parameters: Vec::new(),
            note: Some("Not listed in the run's manifest.".into()),
            skipped: None,
            millis: None,
        });
    }
    metas
}

/// Whether SQL names a parameter as a whole word.
fn mentions(sql: &str, name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    sql.match_indices(name).any(|(at, _)| {
        let before = sql[..at].chars().next_back();
        let after = sql[at + name.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_file_names_are_safe() {
        assert_eq!(partner_file_name("P00001"), "partners/P00001.html");
        assert_eq!(partner_file_name("../x y"), "partners/_x_y.html");
    }

    #[test]
    fn parameters_are_named_as_whole_words() {
        assert!(mentions("where x > p.amount_tolerance", "amount_tolerance"));
        assert!(!mentions("p.invoice_grace_days2", "invoice_grace_days"));
    }
}
