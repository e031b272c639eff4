//! Folders of a run's own under the system's temporary folder (text tables
//! converted to Parquet, a local copy of outputs kept in a bucket), each
//! removed when dropped, and those of killed runs removed by the next run.

use std::path::{Path, PathBuf};

/// A folder `<temp>/<prefix><pid>-<nanos>`, removed when dropped.
#[derive(Debug)]
pub struct WorkFolder(PathBuf);

impl WorkFolder {
    /// Makes the folder, after removing the folders of the same `prefix` left
    /// by processes that are gone. `purpose` names it in an error.
    pub fn create(prefix: &str, purpose: &str) -> std::result::Result<WorkFolder, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let temp = std::env::temp_dir();
        remove_abandoned(&temp, prefix);
        let dir = temp.join(format!("{prefix}{}-{nanos:08x}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("{}: cannot create {purpose}: {e}", dir.display()))?;
        Ok(WorkFolder(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the work folders of runs whose process is gone: a killed run
/// (SIGKILL, the machine's OOM killer) cannot remove its own, and a converted
/// 5 GB export would otherwise stay in the temporary folder night after night.
fn remove_abandoned(temp: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !process_is_running(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(target_os = "linux")]
fn process_is_running(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Elsewhere there is no cheap answer: a folder that may be in use stays.
#[cfg(not(target_os = "linux"))]
fn process_is_running(_: u32) -> bool {
    true
}
