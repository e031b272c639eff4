//! How the process gets its memory: glibc's malloc asked to back its large
//! blocks with transparent huge pages.
//!
//! A run allocates and frees gigabytes of Arrow buffers and hash tables. With
//! 4 KiB pages every fresh buffer is faulted in page by page (2.6 million page
//! faults and 5.5 s of kernel time in a 21 s scale-50 run), and probing a hash
//! table larger than the caches misses the TLB on most rows. Where the kernel
//! gives huge pages only to memory that asks for them (`madvise`, the common
//! default), glibc asks only when its `glibc.malloc.hugetlb=1` tunable is set,
//! and it reads tunables once, as the process starts. So the binary starts
//! itself again, once, with the tunable added to `GLIBC_TUNABLES`
//! (BENCHMARKS.md, scale 50: half the page faults and about 2 s less kernel
//! time in every round, the same peak memory; wall time a fifth less in a quiet
//! spell, unchanged in slow ones).

/// The glibc tunable that makes malloc `madvise` its blocks for huge pages.
pub const HUGE_PAGES_TUNABLE: &str = "glibc.malloc.hugetlb";

/// The environment variable glibc reads its tunables from.
const TUNABLES: &str = "GLIBC_TUNABLES";

/// What the process was started with, for the debug log: the tunables in
/// effect, or why huge pages were not asked for.
pub fn huge_pages_state() -> String {
    match std::env::var(TUNABLES) {
        Ok(tunables) if names_huge_pages(&tunables) => {
            format!("{TUNABLES}={tunables}")
        }
        _ => match kernel_wants_madvise() {
            Some(false) => "huge pages not asked for: the kernel gives them to every \
                            process or to none (/sys/kernel/mm/transparent_hugepage/enabled)"
                .to_string(),
            _ => "huge pages not asked for".to_string(),
        },
    }
}

/// Starts this binary again with [`HUGE_PAGES_TUNABLE`]`=1` added to
/// `GLIBC_TUNABLES`, and does not return when that succeeds (the process keeps
/// its id, arguments, environment and open files). Returns, having changed
/// nothing, when the tunable is already set (`glibc.malloc.hugetlb=0` turns
/// this off), when the kernel does not hand out huge pages on request only,
/// or when the binary cannot be started again.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn restart_with_huge_pages() {
    use std::os::unix::process::CommandExt;

    let tunables = match std::env::var(TUNABLES) {
        Ok(tunables) if names_huge_pages(&tunables) => return,
        Ok(tunables) if !tunables.is_empty() => format!("{tunables}:{HUGE_PAGES_TUNABLE}=1"),
        Ok(_) | Err(std::env::VarError::NotPresent) => format!("{HUGE_PAGES_TUNABLE}=1"),
        // not text: left as the caller set it
        Err(std::env::VarError::NotUnicode(_)) => return,
    };
    if kernel_wants_madvise() != Some(true) {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(name) = args.next() {
        command.arg0(name);
    }
    // `exec` returns only when the binary could not be started (deleted or
    // replaced since): this process then goes on as it is.
    let _ = command.args(args).env(TUNABLES, tunables).exec();
}

/// Elsewhere the allocator is not glibc's: nothing to ask.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn restart_with_huge_pages() {}

/// Whether `tunables` (a `GLIBC_TUNABLES` value) sets [`HUGE_PAGES_TUNABLE`],
/// to whatever value: the caller's choice, kept.
fn names_huge_pages(tunables: &str) -> bool {
    tunables.contains(&format!("{HUGE_PAGES_TUNABLE}="))
}

/// Whether the kernel gives transparent huge pages only to memory that asks
/// (`[madvise]`); `None` when it does not say.
fn kernel_wants_madvise() -> Option<bool> {
    std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .ok()
        .map(|mode| mode.contains("[madvise]"))
}
