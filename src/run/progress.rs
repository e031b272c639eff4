//! The run's progress bars: shown on a terminal only, so that a scheduler's log
//! stays clean.

/// A progress bar on stderr, or a hidden one (when stderr is not a terminal, or
/// with --quiet): log lines then stay clean for schedulers.
pub fn progress_bar(shown: bool, len: Option<u64>, what: &str) -> indicatif::ProgressBar {
    if !shown {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => indicatif::ProgressBar::new(n).with_style(
            indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        ),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_prefix(what.to_string());
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
