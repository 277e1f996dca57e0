//! `--help` is complete: every flag, every subcommand, and the exit statuses.

mod common;

use common::{cargo_joule, run};

#[test]
fn help_lists_every_flag_subcommand_and_exit_status() {
    let out = run(cargo_joule().arg("--help"));
    assert_eq!(out.code, 0, "{out}");
    let help = &out.stdout;
    let flags = [
        "--manifest-path",
        "--package",
        "-p,",
        "--workspace",
        "--bench",
        "--features",
        "--all-features",
        "--no-default-features",
        "--profile",
        "--target-dir",
        "--quiet",
        "--verbose",
        "--color",
        "--message-format",
        "--exact",
        "--skip",
        "--include-ignored",
        "--meter",
        "--cores",
        "--trials",
        "--max-trials",
        "--warmup",
        "--min-sample-time",
        "--target-ci",
        "--time-budget",
        "--timeout",
        "--memory-limit-mb",
        "--threshold",
        "--no-wait",
        "--save-baseline",
        "--baseline",
        "--force-compare",
        "--partition",
        "--export",
        "--no-measure",
        "--isolate-network",
        "[FILTER]...",
    ];
    for flag in flags {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    for sub in ["run", "list", "doctor", "compare", "report", "merge"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(sub)),
            "--help lacks {sub}"
        );
    }
    for status in [
        "0    every candidate",
        "1    a candidate failed",
        "2    usage or environment",
        "3    an energy regression",
        "130  interrupted",
    ] {
        assert!(
            help.contains(status),
            "--help lacks exit status `{status}`:\n{help}"
        );
    }
    assert!(help.contains("[workspace.metadata.joule]"));
    assert!(help.contains("[default: bench]"));
    assert!(help.contains("possible values: auto, perf, powercap, msr, estimate, nvml"));
}

#[test]
fn help_works_with_and_without_the_cargo_subcommand_argument() {
    let via_cargo = run(cargo_joule().arg("--help"));
    let direct = run(std::process::Command::new(env!("CARGO_BIN_EXE_cargo-joule")).arg("--help"));
    assert_eq!(via_cargo.stdout, direct.stdout);
    assert!(direct.stdout.contains("Usage: cargo joule"), "{direct}");
}

#[test]
fn subcommand_help() {
    for (sub, needle) in [
        ("run", "--save-baseline"),
        ("list", "--partition"),
        ("doctor", "--json"),
        ("compare", "<OLD>"),
        ("report", "[FILE]"),
        ("merge", "--output"),
    ] {
        let out = run(cargo_joule().args([sub, "--help"]));
        assert_eq!(out.code, 0, "{out}");
        assert!(
            out.stdout.contains(needle),
            "`{sub} --help` lacks {needle}:\n{out}"
        );
    }
    let merge = run(cargo_joule().args(["merge", "--help"]));
    assert!(
        merge.stdout.contains("3    an energy regression"),
        "{merge}"
    );
}

#[test]
fn version_exits_0_and_usage_errors_exit_2() {
    let v = run(cargo_joule().arg("--version"));
    assert_eq!(v.code, 0, "{v}");
    assert!(v.stdout.contains(env!("CARGO_PKG_VERSION")));
    for bad in [
        vec!["--no-such-flag"],
        vec!["--meter", "rapl"],
        vec!["--partition", "hash:4/3"],
        vec!["--color", "sometimes"],
        vec!["merge"],
    ] {
        let out = run(cargo_joule().args(&bad));
        assert_eq!(out.code, 2, "{bad:?}: {out}");
    }
    let out = run(cargo_joule().args(["--partition", "hash:4/3"]));
    assert!(out.stderr.contains("shard 4 of 3"), "{out}");
}
