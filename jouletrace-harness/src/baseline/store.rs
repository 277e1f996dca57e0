//! Where baselines live: `<target-dir>/joule/baselines/NAME.json`, one results file each.
//!
//! The target directory is the natural home: CI caches and restores it, `cargo clean` removes it
//! together with the binaries whose numbers it holds, and it is already ignored by version
//! control. A baseline is an ordinary results file, so one can be restored from any saved
//! `results.json` (a CI artifact, say) by copying it into place.

use std::path::{Path, PathBuf};

use crate::results::{LoadError, RunResults};

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error(
        "bad baseline name `{name}`: use letters, digits, `-`, `_` and `.` (not first), at most 100 \
         characters"
    )]
    BadName { name: String },
    #[error(
        "no baseline `{name}` at {path}{}; save one with `cargo joule --save-baseline {name}`, or \
         copy a results.json there",
        if available.is_empty() { String::new() } else { format!(" (saved baselines: {})", available.join(", ")) }
    )]
    NotFound {
        name: String,
        path: PathBuf,
        available: Vec<String>,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot write baseline {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `<target-dir>/joule/baselines`.
pub fn baseline_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("joule").join("baselines")
}

/// The file of baseline `name`, after checking that the name is a plain file name.
pub fn baseline_path(target_dir: &Path, name: &str) -> Result<PathBuf, BaselineError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(BaselineError::BadName { name: name.into() });
    }
    Ok(baseline_dir(target_dir).join(format!("{name}.json")))
}

/// Saves `results` as baseline `name`, replacing any previous one atomically (a reader never sees
/// half a file, even when the run is interrupted while saving).
pub fn save(target_dir: &Path, name: &str, results: &RunResults) -> Result<PathBuf, BaselineError> {
    let path = baseline_path(target_dir, name)?;
    let write_err = |source| BaselineError::Write {
        path: path.clone(),
        source,
    };
    let dir = baseline_dir(target_dir);
    std::fs::create_dir_all(&dir).map_err(write_err)?;
    let tmp = dir.join(format!(".{name}.json.tmp{}", std::process::id()));
    let mut saved = results.clone();
    // The comparison belongs to the run that made it, not to the baseline it becomes.
    saved.baseline = None;
    std::fs::write(&tmp, saved.to_json()).map_err(write_err)?;
    std::fs::rename(&tmp, &path).map_err(write_err)?;
    Ok(path)
}

/// Loads baseline `name`.
pub fn load(target_dir: &Path, name: &str) -> Result<(RunResults, PathBuf), BaselineError> {
    let path = baseline_path(target_dir, name)?;
    if !path.exists() {
        return Err(BaselineError::NotFound {
            name: name.into(),
            available: available(target_dir),
            path,
        });
    }
    Ok((RunResults::load(&path)?, path))
}

/// The names of the saved baselines, sorted.
pub fn available(target_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(baseline_dir(target_dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".json")?;
            (!stem.starts_with('.')).then(|| stem.to_owned())
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_file_names() {
        let t = Path::new("/t");
        assert_eq!(
            baseline_path(t, "main").unwrap(),
            Path::new("/t/joule/baselines/main.json")
        );
        assert!(baseline_path(t, "v1.2_rc-3").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "white space"] {
            assert!(
                matches!(baseline_path(t, bad), Err(BaselineError::BadName { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn missing_baseline_lists_the_saved_ones_and_the_remedy() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(baseline_dir(dir.path())).unwrap();
        std::fs::write(baseline_dir(dir.path()).join("main.json"), "{}").unwrap();
        let msg = load(dir.path(), "nightly").unwrap_err().to_string();
        assert!(msg.contains("nightly.json"), "{msg}");
        assert!(msg.contains("saved baselines: main"), "{msg}");
        assert!(msg.contains("--save-baseline nightly"), "{msg}");
    }
}
