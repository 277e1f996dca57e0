//! The user guide (`docs/guide/`) against the real CLI and config parser, so that it cannot
//! drift: every `cargo joule` flag it shows exists, its configuration table lists exactly the
//! keys the parser accepts, its TOML examples parse, its environment variables are read by the
//! code, and its exit statuses are the CLI's. (Its Rust blocks are compiled as doc tests of
//! `jouletrace-examples`.)

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{cargo_joule, run};
use jouletrace::config::{KEYS, Layer, Origin};

const SUBCOMMANDS: [&str; 6] = ["run", "list", "doctor", "compare", "report", "merge"];

fn guide_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/guide")
}

/// Every chapter, as (file name, text).
fn chapters() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(guide_dir())
        .expect("docs/guide exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(out.len() >= 8, "the index and seven chapters");
    out
}

/// Fenced blocks of one language, with `\` continuations joined.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Inside a fence: whether it is of `lang`, and its text so far.
    let mut open: Option<(bool, String)> = None;
    for line in text.lines() {
        match (line.trim_start().strip_prefix("```"), open.as_mut()) {
            (Some(_), Some((wanted, body))) => {
                if *wanted {
                    out.push(body.replace("\\\n", " "));
                }
                open = None;
            }
            (Some(info), None) => {
                open = Some((info.split(',').next() == Some(lang), String::new()));
            }
            (None, Some((_, body))) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

fn help(sub: Option<&str>) -> String {
    let mut cmd = cargo_joule();
    if let Some(s) = sub {
        cmd.arg(s);
    }
    let out = run(cmd.arg("--help"));
    assert_eq!(out.code, 0, "{out}");
    out.stdout
}

/// Whether `flag` is an option in `help` (as `--flag <VALUE>`, `--flag,`, `-p, --package`…).
fn help_has(help: &str, flag: &str) -> bool {
    [" ", "\n", ",", "...", "="]
        .iter()
        .any(|end| help.contains(&format!("{flag}{end}")))
}

/// The `cargo joule …` invocations in shell blocks and inline code, split into words and cut at
/// shell operators and comments.
fn invocations(text: &str) -> Vec<Vec<String>> {
    let mut sources: Vec<String> = blocks(text, "sh");
    sources.extend(text.split('`').skip(1).step_by(2).map(str::to_owned));
    let mut out = Vec::new();
    for source in sources {
        for line in source.lines() {
            let mut rest = line;
            while let Some(at) = rest.find("cargo joule") {
                rest = &rest[at + "cargo joule".len()..];
                let end = ["|", ";", "&&", "#", ")", "\""]
                    .iter()
                    .filter_map(|op| rest.find(op))
                    .min()
                    .unwrap_or(rest.len());
                out.push(rest[..end].split_whitespace().map(str::to_owned).collect());
            }
        }
    }
    out
}

#[test]
fn every_cargo_joule_flag_in_the_guide_exists() {
    let main_help = help(None);
    let sub_helps: Vec<(&str, String)> = SUBCOMMANDS.iter().map(|s| (*s, help(Some(s)))).collect();
    let mut checked = 0;
    for (file, text) in chapters() {
        for words in invocations(&text) {
            let (help_text, what) = match words.first() {
                Some(w) if SUBCOMMANDS.contains(&w.as_str()) => (
                    &sub_helps.iter().find(|(s, _)| s == w).unwrap().1,
                    format!("cargo joule {w}"),
                ),
                _ => (&main_help, "cargo joule".to_owned()),
            };
            for word in words.iter().filter(|w| w.starts_with('-')) {
                let flag = word.split('=').next().unwrap();
                assert!(
                    help_has(help_text, flag),
                    "{file}: `{what}` has no flag {flag} (in `cargo joule {}`)",
                    words.join(" ")
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked > 30,
        "only {checked} flags found: is the extraction broken?"
    );
}

/// Flags named on their own in the guide's prose and tables (`--no-wait`): each belongs to
/// some `cargo joule` command, or is one of the few cargo or criterion flags the guide names.
#[test]
fn every_flag_named_in_prose_exists() {
    let mut all_help = help(None);
    for s in SUBCOMMANDS {
        all_help.push_str(&help(Some(s)));
    }
    // Flags of other programs the guide names: cargo's and criterion's.
    let others = [
        "--features",
        "--warm-up-time",
        "--measurement-time",
        "--test",
        "--bench",
        "--doc",
    ];
    for (file, text) in chapters() {
        for span in text.split('`').skip(1).step_by(2) {
            let Some(first) = span.split_whitespace().next() else {
                continue;
            };
            if !first.starts_with("--") || first.len() < 3 {
                continue;
            }
            let flag = first.split('=').next().unwrap();
            assert!(
                help_has(&all_help, flag) || others.contains(&flag),
                "{file}: `{span}` names {flag}, which no cargo joule command has"
            );
        }
    }
}

/// The rows of the reference's configuration table: (key, flag column).
fn config_rows() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(guide_dir().join("06-reference.md")).unwrap();
    let section = text
        .split("## Configuration keys")
        .nth(1)
        .expect("the reference has a configuration section")
        .split("\n## ")
        .next()
        .unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_owned(), cells[2].to_owned())
        })
        .collect()
}

#[test]
fn the_config_table_lists_exactly_the_parsers_keys() {
    let rows = config_rows();
    let listed: BTreeSet<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    let parser: BTreeSet<&str> = KEYS.iter().copied().collect();
    assert_eq!(
        listed, parser,
        "docs/guide/06-reference.md against config::KEYS"
    );
    assert_eq!(listed.len(), rows.len(), "a key is listed twice");
    let main_help = help(None);
    for (key, flag_cell) in &rows {
        for flag in flag_cell.split('`').skip(1).step_by(2) {
            assert!(help_has(&main_help, flag), "key {key}: no flag {flag}");
        }
    }
}

#[test]
fn toml_examples_are_accepted_by_the_config_parser() {
    let mut parsed = 0;
    for (file, text) in chapters() {
        for block in blocks(&text, "toml") {
            let doc: toml::Table = toml::from_str(&block)
                .unwrap_or_else(|e| panic!("{file}: a toml block does not parse: {e}\n{block}"));
            for (outer, origin) in [
                ("workspace", Origin::workspace(file.clone())),
                ("package", Origin::package(file.clone())),
            ] {
                let Some(joule) = doc
                    .get(outer)
                    .and_then(|t| t.get("metadata"))
                    .and_then(|t| t.get("joule"))
                else {
                    continue;
                };
                let value = serde_json::to_value(joule).unwrap();
                Layer::from_table(&value, origin)
                    .unwrap_or_else(|e| panic!("{file}: the parser refuses the example: {e}"));
                parsed += 1;
            }
        }
    }
    assert!(parsed >= 1, "no [*.metadata.joule] example found");
}

#[test]
fn environment_variables_named_exist() {
    let known = [
        jouletrace::sysfs::SYSFS_ROOT_ENV,
        jouletrace::sysfs::PROC_ROOT_ENV,
        jouletrace::energy::msr::DEV_ROOT_ENV,
        "JOULETRACE_METER",
        "JOULETRACE_ESTIMATE_WATTS_PER_CORE",
    ];
    for (file, text) in chapters() {
        for (at, _) in text.match_indices("JOULETRACE_") {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if text[at + name.len()..].starts_with('<') || name == "JOULETRACE_" {
                continue; // the pattern `JOULETRACE_<KEY>`
            }
            let key = name["JOULETRACE_".len()..].to_ascii_lowercase();
            assert!(
                known.contains(&name.as_str()) || KEYS.contains(&key.as_str()),
                "{file}: {name} is not read by JouleTrace"
            );
        }
    }
}

#[test]
fn exit_statuses_are_the_clis() {
    let text = std::fs::read_to_string(guide_dir().join("06-reference.md")).unwrap();
    let section = text.split("## Exit statuses").nth(1).unwrap();
    let guide: BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(' ').next())
        .filter(|s| s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty())
        .map(str::to_owned)
        .collect();
    let main_help = help(None);
    let cli: BTreeSet<String> = main_help
        .split("Exit status:")
        .nth(1)
        .expect("--help lists exit statuses")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| s.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect();
    assert_eq!(guide, cli);
}

#[test]
fn chapters_link_to_files_that_exist() {
    for (file, text) in chapters() {
        for (at, _) in text.match_indices("](") {
            let target: String = text[at + 2..].chars().take_while(|c| *c != ')').collect();
            if target.starts_with("http") {
                continue;
            }
            let path = target.split('#').next().unwrap();
            if path.is_empty() {
                continue;
            }
            assert!(
                guide_dir().join(path).exists(),
                "{file}: link to {target} leads nowhere"
            );
        }
    }
}

/// Every Markdown page users read: the README, docs/ and the guide.
fn all_docs() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = vec![(
        "README.md".to_owned(),
        std::fs::read_to_string(root.join("README.md")).unwrap(),
    )];
    for dir in ["docs", "docs/guide"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "md") {
                let name = p.strip_prefix(&root).unwrap().display().to_string();
                out.push((name, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out
}

/// Issue 12: docs that contradicted the code or each other.
#[test]
fn the_docs_agree_with_the_code_and_with_each_other() {
    for (file, text) in all_docs() {
        // The guide says JouleTrace is not on crates.io: no page may show a registry version.
        for line in text.lines() {
            let l = line.replace(' ', "");
            assert!(
                !l.starts_with("jouletrace=\"") && !l.contains("jouletrace={version"),
                "{file}: a crates.io dependency on jouletrace: {line}"
            );
            // Installs are reproducible: the lock file the repository ships is used.
            if line.contains("cargo install") && !line.contains("cargo install`") {
                assert!(
                    line.contains("--locked"),
                    "{file}: install without --locked: {line}"
                );
                // Not on crates.io: every install names the path it installs from.
                assert!(
                    line.contains("--path"),
                    "{file}: install from crates.io: {line}"
                );
            }
        }
        assert!(
            !text.contains("example.invalid"),
            "{file}: a placeholder URL that does not resolve"
        );
        // The flag that runs ignored candidates is --include-ignored; a bare `--ignored` is only
        // right as libtest's own flag.
        assert!(
            !text.contains("(`--ignored`)"),
            "{file}: `--ignored` as the way to run ignored candidates"
        );
    }
    let benches = all_docs()
        .into_iter()
        .find(|(f, _)| f.ends_with("writing-benches.md"))
        .unwrap()
        .1;
    assert!(benches.contains("`--include-ignored`"));
    assert!(help(None).contains("--include-ignored"));
}
