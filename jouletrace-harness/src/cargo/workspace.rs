//! Which packages and bench targets take part, found through `cargo metadata`.

use std::path::{Path, PathBuf};

use cargo_metadata::{Metadata, MetadataCommand, Package, PackageId, TargetKind};
use serde_json::Value;

use super::{CargoError, Selection};
use crate::config::HostConfig;
use crate::engine::{self, RunContext};

/// The library bench files must depend on to be found.
pub(super) const LIBRARY: &str = "jouletrace";

/// The packages of a workspace that take part in a run.
pub struct Workspace {
    pub metadata: Metadata,
    pub target_dir: PathBuf,
    /// Packages that take part, in name order.
    pub packages: Vec<BenchPackage>,
}

/// A package that takes part, with its bench targets.
pub struct BenchPackage {
    pub id: PackageId,
    pub name: String,
    pub manifest_path: PathBuf,
    /// The directory of its Cargo.toml: workers run there, as `cargo bench` would run them.
    pub root: PathBuf,
    pub benches: Vec<String>,
    /// `[package.metadata.joule]`, or `Null`.
    pub joule_metadata: Value,
}

impl Workspace {
    pub fn root_manifest(&self) -> PathBuf {
        self.metadata
            .workspace_root
            .join("Cargo.toml")
            .into_std_path_buf()
    }

    /// `[workspace.metadata.joule]`, or `Null`.
    pub fn joule_metadata(&self) -> Value {
        self.metadata
            .workspace_metadata
            .get("joule")
            .cloned()
            .unwrap_or(Value::Null)
    }
}

/// Reads the workspace without resolving dependencies (fast, and works offline).
pub fn metadata(manifest_path: Option<&Path>) -> Result<Metadata, CargoError> {
    let mut cmd = MetadataCommand::new();
    cmd.no_deps();
    if let Ok(cargo) = std::env::var("CARGO") {
        cmd.cargo_path(cargo);
    }
    if let Some(p) = manifest_path {
        cmd.manifest_path(p);
    }
    cmd.exec().map_err(CargoError::Metadata)
}

/// The target directory: `--target-dir` or `CARGO_TARGET_DIR`, else cargo's.
pub fn target_dir(args_dir: Option<&Path>, metadata: &Metadata) -> PathBuf {
    args_dir.map_or_else(
        || metadata.target_directory.clone().into_std_path_buf(),
        Path::to_path_buf,
    )
}

/// The packages and bench targets `args` select. See the module documentation.
pub fn discover(args: &Selection) -> Result<Workspace, CargoError> {
    let metadata = metadata(args.manifest_path.as_deref())?;
    let members = metadata.workspace_packages();
    let selected: Vec<&Package> = if args.workspace {
        members.clone()
    } else if !args.packages.is_empty() {
        let mut chosen = Vec::new();
        for spec in &args.packages {
            let p = members
                .iter()
                .find(|p| p.name.as_str() == spec.as_str())
                .ok_or_else(|| CargoError::NoSuchPackage {
                    spec: spec.clone(),
                    workspace: metadata.workspace_root.clone().into_std_path_buf(),
                    members: members.iter().map(|p| p.name.to_string()).collect(),
                })?;
            chosen.push(*p);
        }
        chosen
    } else {
        match current_manifest(args.manifest_path.as_deref())
            .and_then(|m| members.iter().find(|p| p.manifest_path.as_std_path() == m))
        {
            Some(p) => vec![*p],
            None => metadata.workspace_default_packages(),
        }
    };

    let mut packages = Vec::new();
    let mut unmatched_benches: Vec<&String> = args.benches.iter().collect();
    for p in selected {
        if !p.dependencies.iter().any(|d| d.name == LIBRARY) {
            continue;
        }
        let benches: Vec<String> = p
            .targets
            .iter()
            .filter(|t| t.is_kind(TargetKind::Bench))
            .filter(|t| args.benches.is_empty() || args.benches.contains(&t.name))
            // As cargo does: a bench whose `required-features` are off is not built. Naming it
            // in `cargo bench --bench` would be an error, so it does not take part (a criterion
            // bench kept behind a feature, for instance, is not a JouleTrace harness).
            .filter(|t| {
                let on = enabled_features(p, args);
                t.required_features.iter().all(|f| on.contains(f))
            })
            .map(|t| t.name.clone())
            .collect();
        unmatched_benches.retain(|b| !benches.contains(b));
        if benches.is_empty() {
            continue;
        }
        let manifest_path = p.manifest_path.clone().into_std_path_buf();
        packages.push(BenchPackage {
            id: p.id.clone(),
            name: p.name.to_string(),
            root: manifest_path
                .parent()
                .map_or_else(PathBuf::new, Path::to_path_buf),
            manifest_path,
            benches,
            joule_metadata: p.metadata.get("joule").cloned().unwrap_or(Value::Null),
        });
    }
    if let Some(b) = unmatched_benches.first() {
        return Err(CargoError::NoSuchBench {
            bench: (*b).clone(),
        });
    }
    if packages.is_empty() {
        return Err(CargoError::NoBenches {
            workspace: metadata.workspace_root.clone().into_std_path_buf(),
        });
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    let target_dir = target_dir(args.target_dir.as_deref(), &metadata);
    Ok(Workspace {
        metadata,
        target_dir,
        packages,
    })
}

/// What a run of this workspace records: the command line, the workspace's commit, and the
/// compiler cargo builds it with — `$RUSTC` when cargo was given one, else `rustc` run in the
/// workspace root, where rustup honours its `rust-toolchain.toml` as it does for cargo.
pub fn run_context(ws: &Workspace, host: &HostConfig) -> RunContext {
    let root = ws.metadata.workspace_root.as_std_path();
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    RunContext {
        command_line: std::env::args().collect(),
        commit: engine::git_commit(root),
        rustc: engine::rustc_version(&rustc, root),
        ..RunContext::new(host)
    }
}

/// The manifest cargo would use: `--manifest-path`, else the nearest Cargo.toml above the
/// current directory.
fn current_manifest(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given {
        return std::fs::canonicalize(p).ok();
    }
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .map(|d| d.join("Cargo.toml"))
        .find(|m| m.is_file())
        .and_then(|m| std::fs::canonicalize(m).ok())
}

/// The features of `p` that `args` turn on: the requested ones (`feat` or `p/feat`), the
/// defaults unless `--no-default-features`, everything with `--all-features`, each with the
/// features it enables in turn.
fn enabled_features(p: &Package, args: &Selection) -> std::collections::BTreeSet<String> {
    if args.all_features {
        return p.features.keys().cloned().collect();
    }
    let prefix = format!("{}/", p.name);
    let mut todo: Vec<String> = args
        .features
        .iter()
        .flat_map(|f| f.split([' ', ',']))
        .filter(|f| !f.is_empty())
        .map(|f| f.strip_prefix(prefix.as_str()).unwrap_or(f).to_owned())
        .collect();
    if !args.no_default_features {
        todo.push("default".to_owned());
    }
    let mut on = std::collections::BTreeSet::new();
    while let Some(f) = todo.pop() {
        if let Some(implied) = p.features.get(&f) {
            todo.extend(implied.iter().filter(|i| !on.contains(*i)).cloned());
        }
        on.insert(f);
    }
    on
}
