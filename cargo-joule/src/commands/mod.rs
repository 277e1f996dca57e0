//! One file per subcommand.

pub mod compare;
pub mod list;
pub mod measure;
pub mod merge;
pub mod report;
pub mod run;

use std::path::Path;

use anyhow::Context;

/// Writes `text` to `path` through a temporary file and a rename, so that an interrupted write
/// never leaves half a results file behind.
pub fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}
