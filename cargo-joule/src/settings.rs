//! Resolving the command line, the manifests and the environment into one `RunConfig` (the run's
//! settings) and one `HostConfig` (where this machine's sysfs and run lock are).

use jouletrace::config::{
    ConfigError, HostConfig, Layer, Origin, RunConfig, host_layered, layered,
};

use crate::cli::{MeasureArgs, SelectArgs};
use jouletrace::cargo::Workspace;

/// The flags of `args` as a configuration layer.
pub fn flag_layer(args: &MeasureArgs) -> Result<Layer, ConfigError> {
    let mut layer = Layer::new();
    let pairs = [
        ("meter", "--meter", &args.meter),
        ("cores", "--cores", &args.cores),
        ("trials", "--trials", &args.trials),
        ("max_trials", "--max-trials", &args.max_trials),
        ("warmup", "--warmup", &args.warmup),
        (
            "min_sample_time",
            "--min-sample-time",
            &args.min_sample_time,
        ),
        ("target_ci", "--target-ci", &args.target_ci),
        ("time_budget", "--time-budget", &args.time_budget),
        ("timeout", "--timeout", &args.timeout),
        (
            "memory_limit_mb",
            "--memory-limit-mb",
            &args.memory_limit_mb,
        ),
        ("threshold", "--threshold", &args.threshold),
        ("lock_path", "--lock-path", &args.lock_path),
    ];
    for (key, flag, value) in pairs {
        if let Some(v) = value {
            layer.set_flag(key, v, flag)?;
        }
    }
    if args.no_wait {
        layer.set_flag("wait_for_lock", "false", "--no-wait")?;
    }
    if args.no_history {
        layer.set_flag("history", "false", "--no-history")?;
    }
    if args.isolate_network {
        layer.set_flag("isolate_network", "true", "--isolate-network")?;
    }
    Ok(layer)
}

/// Defaults < `[workspace.metadata.joule]` < `[package.metadata.joule]` of the packages taking
/// part < `JOULETRACE_*` < flags; then the selection flags, which only the command line sets.
pub fn resolve(
    ws: &Workspace,
    measure: &MeasureArgs,
    select: &SelectArgs,
) -> Result<(RunConfig, HostConfig), ConfigError> {
    let workspace = Layer::from_table(&ws.joule_metadata(), Origin::workspace(ws.root_manifest()))?;
    let packages = ws
        .packages
        .iter()
        .map(|p| Layer::from_table(&p.joule_metadata, Origin::package(&p.manifest_path)))
        .collect::<Result<Vec<_>, _>>()?;
    let packages = Layer::combine(packages)?;
    let env = Layer::from_env(std::env::vars())?;
    let flags = flag_layer(measure)?;
    let layers = [&workspace, &packages, &env, &flags];
    let mut config = layered(&layers)?;
    config.measure = !measure.no_measure;
    apply_selection(&mut config, select);
    Ok((config, host_layered(&layers)))
}

pub fn apply_selection(config: &mut RunConfig, select: &SelectArgs) {
    config.filters = select.filters.clone();
    config.skip = select.skip.clone();
    config.exact = select.exact;
    config.include_ignored = select.include_ignored;
    config.partition = select.partition;
}
