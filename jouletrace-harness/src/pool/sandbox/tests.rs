//! Unit tests of the sandbox's bookkeeping: levels, strictness, configuration. The layers
//! themselves are tested by running real processes in `tests/sandbox_escape.rs`.

use super::probe::Availability;
use super::*;

fn machine(missing: &[Layer]) -> Probe {
    let a = |layer: Layer| {
        if missing.contains(&layer) {
            Availability::Unavailable {
                reason: format!("{} refused in this test", layer.name()),
                remedy: Some(format!("enable {}", layer.name())),
            }
        } else {
            Availability::Available
        }
    };
    Probe {
        root: true,
        setuid: a(Layer::UnprivilegedUser),
        userns: Availability::NotNeeded("root".into()),
        net: a(Layer::NetworkNamespace),
        pid: a(Layer::PidNamespace),
        ipc: a(Layer::IpcNamespace),
        uts: a(Layer::UtsNamespace),
        mount: a(Layer::MountNamespace),
        landlock: a(Layer::Landlock),
        landlock_abi: if missing.contains(&Layer::Landlock) {
            0
        } else {
            6
        },
        seccomp: a(Layer::Seccomp),
        rlimits: a(Layer::Rlimits),
        cgroup: a(Layer::Cgroup),
    }
}

fn sandbox(mode: SandboxMode, missing: &[Layer]) -> Sandbox {
    Sandbox {
        policy: SandboxPolicy {
            mode,
            ..SandboxPolicy::default()
        },
        probe: machine(missing),
    }
}

#[test]
fn a_missing_layer_makes_the_level_partial_and_names_its_remedy() {
    let sb = sandbox(SandboxMode::Auto, &[Layer::Landlock]);
    let level = sb.level(true);
    assert_eq!(level.level, "partial");
    assert_eq!(level.applies_to, "untrusted targets");
    assert_eq!(
        level.summary(),
        "partial (auto, untrusted targets): missing landlock"
    );
    let ll = level
        .layers
        .iter()
        .find(|l| l.layer == Layer::Landlock)
        .unwrap();
    assert!(!ll.active);
    assert_eq!(ll.remedy.as_deref(), Some("enable landlock"));
    assert!(
        sb.check().is_ok(),
        "auto runs with what there is, and says so"
    );
}

#[test]
fn strict_refuses_a_missing_required_layer_but_not_the_optional_cgroup() {
    let err = sandbox(SandboxMode::Strict, &[Layer::Seccomp])
        .check()
        .unwrap_err()
        .to_string();
    assert!(err.contains("seccomp layer is unavailable"), "{err}");
    assert!(err.contains("remedy: enable seccomp"), "{err}");
    let sb = sandbox(SandboxMode::Strict, &[Layer::Cgroup]);
    assert!(sb.check().is_ok());
    assert_eq!(sb.level(false).level, "full");
    assert_eq!(
        sb.level(false).summary(),
        "full (strict, all workers): missing cgroup"
    );
}

#[test]
fn the_level_says_whom_the_sandbox_covers() {
    assert_eq!(sandbox(SandboxMode::Auto, &[]).level(false).level, "off");
    assert_eq!(sandbox(SandboxMode::Auto, &[]).level(true).level, "full");
    assert_eq!(
        sandbox(SandboxMode::On, &[]).level(false).applies_to,
        "all workers"
    );
    assert_eq!(sandbox(SandboxMode::Off, &[]).level(true).level, "off");
}

#[test]
fn off_refuses_untrusted_targets_and_auto_leaves_benches_alone() {
    let off = sandbox(SandboxMode::Off, &[]);
    assert!(matches!(
        off.applies(false, "python"),
        Err(SandboxError::UntrustedWithoutSandbox { .. })
    ));
    assert!(!off.applies(true, "bench").unwrap());
    let auto = sandbox(SandboxMode::Auto, &[]);
    assert!(!auto.applies(true, "bench").unwrap());
    assert!(auto.applies(false, "python").unwrap());
    assert!(
        sandbox(SandboxMode::On, &[])
            .applies(true, "bench")
            .unwrap()
    );
}

#[test]
fn the_level_round_trips_through_json() {
    let level = sandbox(SandboxMode::On, &[Layer::PidNamespace]).level(true);
    let text = serde_json::to_string(&level).unwrap();
    assert!(text.contains("\"layer\":\"pid_namespace\""), "{text}");
    assert_eq!(serde_json::from_str::<SandboxLevel>(&text).unwrap(), level);
}

#[test]
fn a_program_under_a_closed_directory_is_not_runnable_by_the_sandbox_user() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("prog");
    std::fs::write(&prog, "").unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let why = readable_by_other(&prog).unwrap_err();
    assert!(why.contains("others cannot enter it"), "{why}");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(readable_by_other(&prog).is_ok());
}

#[test]
fn sandbox_keys_are_read_from_every_source() {
    use crate::config::{Layer as ConfigLayer, Origin, layered};
    let env = ConfigLayer::from_env([
        ("JOULETRACE_SANDBOX".to_owned(), "strict".to_owned()),
        ("JOULETRACE_SANDBOX_UID".to_owned(), "1234".to_owned()),
        (
            "JOULETRACE_SANDBOX_MAX_PROCESSES".to_owned(),
            "32".to_owned(),
        ),
    ])
    .unwrap();
    let config = layered(&[&env]).unwrap();
    assert_eq!(config.sandbox.mode, SandboxMode::Strict);
    assert_eq!((config.sandbox.uid, config.sandbox.gid), (1234, 1234));
    assert_eq!(config.sandbox.max_processes, 32);
    let bad = ConfigLayer::from_table(
        &serde_json::json!({"sandbox": "maybe"}),
        Origin::workspace("Cargo.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("\"auto\", \"on\", \"strict\" or \"off\""),
        "{bad}"
    );
    let root = ConfigLayer::from_table(
        &serde_json::json!({"sandbox_uid": 0}),
        Origin::workspace("Cargo.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(root.contains("not 0"), "{root}");
}
