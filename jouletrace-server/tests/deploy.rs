//! The deployment files agree with the real CLI: every command line in the compose files parses
//! (`jouletrace-server <command> --help` exits 0 only if clap knows every flag before it), every
//! `JOULETRACE_*` variable they set is one the subcommand reads, the published port is the one
//! the API listens on, and the service guide names only flags and variables that exist.
//!
//! Why a static check: Docker cannot run in CI (no daemon, no registry), and a compose file that
//! drifted from the CLI fails only when someone deploys it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `jouletrace-server <args…> --help`: its exit status and output, with no `JOULETRACE_*`
/// variable from the test's own environment.
fn help(args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jouletrace-server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("JOULETRACE_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.args(args).arg("--help").output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Every `JOULETRACE_[A-Z_]+` word in `text`.
fn env_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("JOULETRACE_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()))
            .unwrap_or(tail.len());
        // `JOULETRACE_*` (a pattern in prose) names no variable.
        if end > "JOULETRACE_".len() {
            out.insert(tail[..end].trim_end_matches('_').to_owned());
        }
        rest = &tail[end..];
    }
    out
}

/// What the checks need of one compose service.
#[derive(Debug, Default)]
struct Service {
    image: Option<String>,
    command: Option<Vec<String>>,
    env: Vec<String>,
    ports: Vec<String>,
}

/// A small reader for our compose files' shape (services at two spaces, their keys at four,
/// `environment:` entries and `ports:` items at six, `command:` as a JSON-style flow list).
/// It is not a YAML parser; the tests assert it found the services they expect.
fn services(text: &str) -> BTreeMap<String, Service> {
    let mut out: BTreeMap<String, Service> = BTreeMap::new();
    let mut image_anchor = None;
    let (mut in_services, mut current, mut section) = (false, None::<String>, "");
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if indent == 0 {
            in_services = t == "services:";
            current = None;
        }
        if let Some(v) = t.strip_prefix("image: ") {
            if !in_services {
                image_anchor = Some(v.to_owned());
            } else if let Some(c) = &current {
                out.get_mut(c).unwrap().image = Some(v.to_owned());
            }
        }
        if !in_services {
            continue;
        }
        if indent == 2 && t.ends_with(':') {
            let name = t.trim_end_matches(':').to_owned();
            out.insert(name.clone(), Service::default());
            current = Some(name);
            section = "";
            continue;
        }
        let Some(svc) = current.as_ref().and_then(|c| out.get_mut(c)) else {
            continue;
        };
        if indent == 4 {
            section = "";
            if t == "<<: *image" {
                svc.image.clone_from(&image_anchor);
            } else if let Some(v) = t.strip_prefix("command: ") {
                if v.starts_with('[') {
                    svc.command = Some(serde_json::from_str(v).expect("a JSON-style command"));
                }
            } else if t == "environment:" {
                section = "environment";
            } else if t == "ports:" {
                section = "ports";
            }
        } else if indent >= 6 && section == "environment" {
            if let Some((k, _)) = t.split_once(':') {
                svc.env.push(k.trim().to_owned());
            }
        } else if indent >= 6 && section == "ports" {
            svc.ports
                .push(t.trim_start_matches("- ").trim_matches('"').to_owned());
        }
    }
    out
}

fn check_compose(file: &str, expect: &[&str]) -> BTreeMap<String, Service> {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let svcs = services(&text);
    for name in expect {
        let s = svcs
            .get(*name)
            .unwrap_or_else(|| panic!("{file}: no service {name}: {svcs:?}"));
        assert_eq!(
            s.image.as_deref(),
            Some("jouletrace-server:local"),
            "{file}: {name}"
        );
        let command = s
            .command
            .as_ref()
            .unwrap_or_else(|| panic!("{file}: {name} has no command"));
        let args: Vec<&str> = command.iter().map(String::as_str).collect();
        let (ok, text) = help(&args);
        assert!(
            ok,
            "{file}: {name}: `jouletrace-server {}` is refused:\n{text}",
            args.join(" ")
        );
        // The variables the subcommand reads are the ones its help lists.
        let (_, sub_help) = help(&args[..1]);
        let known = env_names(&sub_help);
        for var in &s.env {
            if var.starts_with("JOULETRACE_") {
                assert!(
                    known.contains(var),
                    "{file}: {name} sets {var}, which `jouletrace-server {}` does not read; it \
                     reads {known:?}",
                    args[0]
                );
            }
        }
        // The published port is the one the API listens on.
        if let Some(i) = args.iter().position(|a| *a == "--listen") {
            let port = args[i + 1].rsplit(':').next().unwrap();
            assert!(
                s.ports.iter().any(|p| p.ends_with(&format!(":{port}"))),
                "{file}: {name} listens on {port} but publishes {:?}",
                s.ports
            );
        }
    }
    svcs
}

#[test]
fn compose_files_match_the_cli() {
    let main = check_compose("docker-compose.yml", &["api", "agent"]);
    assert!(main.contains_key("redis"));
    // The API node runs no agent; the agent serves no HTTP.
    assert!(
        main["api"]
            .command
            .as_ref()
            .unwrap()
            .contains(&"--no-agent".to_owned())
    );
    assert_eq!(main["agent"].command.as_ref().unwrap()[0], "agent");
    check_compose("deploy/fleet/agent.compose.yml", &["agent"]);
}

#[test]
fn dockerfiles_install_the_binary_where_the_entrypoint_looks() {
    for file in [
        "deploy/fleet/Dockerfile",
        "deploy/fleet/Dockerfile.prebuilt",
    ] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let entry = text
            .lines()
            .find_map(|l| l.strip_prefix("ENTRYPOINT "))
            .unwrap_or_else(|| panic!("{file}: no ENTRYPOINT"));
        let entry: Vec<String> = serde_json::from_str(entry).unwrap();
        let copied = text
            .lines()
            .filter(|l| l.starts_with("COPY "))
            .any(|l| l.ends_with(&format!(" {}", entry[0])));
        assert!(copied, "{file}: nothing is copied to {}", entry[0]);
    }
}

/// The service guides name only options and variables the binary has.
#[test]
fn the_service_guides_name_real_flags_and_variables() {
    let (_, serve) = help(&["serve"]);
    let (_, agent) = help(&["agent"]);
    let known_env: BTreeSet<String> = env_names(&serve)
        .union(&env_names(&agent))
        .cloned()
        .collect();
    // Read by the binary outside clap (logging, the engine's configuration layer).
    let outside_clap = [
        "JOULETRACE_LOG",
        "JOULETRACE_PYTHON",
        "JOULETRACE_SERVER_RUNNER",
        "JOULETRACE_SERVER_SCRIPTED_MS",
        "JOULETRACE_TASK_ID",
    ];
    // Set in the shell for the compose files' `${…}` substitutions, not read by the binary.
    let mut compose_vars = BTreeSet::new();
    for file in ["docker-compose.yml", "deploy/fleet/agent.compose.yml"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        for piece in text.split("${").skip(1) {
            compose_vars.extend(env_names(piece.split([':', '}']).next().unwrap_or("")));
        }
    }
    for doc in ["docs/service-fleet.md"] {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        for var in env_names(&text) {
            assert!(
                known_env.contains(&var)
                    || outside_clap.contains(&var.as_str())
                    || compose_vars.contains(&var),
                "{doc} names {var}, which neither `serve` nor `agent` reads"
            );
        }
        for code in code_pieces(&text) {
            let words: Vec<&str> = code.split_whitespace().collect();
            let (sub, from) = match words.iter().position(|w| *w == "agent" || *w == "serve") {
                Some(i) if words[i] == "agent" => (agent.clone(), i + 1),
                Some(i) => (serve.clone(), i + 1),
                // A lone option (a table's first column): an option of either.
                None if code.starts_with("--") => (format!("{serve}{agent}"), 0),
                None => continue,
            };
            for flag in words[from..]
                .iter()
                .map(|w| w.split(['=', ',', ')', '`']).next().unwrap_or(w))
                .filter(|w| w.starts_with("--") && w.len() > 2)
            {
                assert!(
                    sub.contains(&format!("{flag} ")) || sub.contains(&format!("{flag}\n")),
                    "{doc}: `{flag}` in {code:?} is not an option of that subcommand"
                );
            }
        }
    }
}

/// The code of a markdown text: each inline code span, and each command of a fenced block (lines
/// ending in `\\` joined with the next).
fn code_pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            let l = line.trim();
            match l.strip_suffix('\\') {
                Some(head) => pending.push_str(head),
                None => {
                    pending.push_str(l);
                    out.push(std::mem::take(&mut pending));
                }
            }
        } else {
            out.extend(line.split('`').skip(1).step_by(2).map(str::to_owned));
        }
    }
    out
}
