//! "Did you mean": the closest known name to a mistyped one, for unknown configuration keys and
//! unknown `JOULETRACE_*` environment variables.

use super::KEYS;

/// `JOULETRACE_*` variables that are not settings but are read by JouleTrace all the same
/// (test roots, the worker protocol). An unknown `JOULETRACE_*` variable is warned about; these
/// are not unknown.
pub const OTHER_ENV_VARS: &[&str] = &[
    crate::sysfs::SYSFS_ROOT_ENV,
    crate::sysfs::PROC_ROOT_ENV,
    crate::energy::msr::DEV_ROOT_ENV,
    crate::protocol::PROTOCOL_FD_ENV,
    "JOULETRACE_RUSTC_VERSION",
    // The build of Rust submissions (rust_source): which tools, and the support library's
    // source; not settings of a run.
    "JOULETRACE_RUSTC",
    "JOULETRACE_LINKER",
    "JOULETRACE_CARGO",
    "JOULETRACE_SUPPORT_SOURCE",
    "JOULETRACE_SUPPORT_TARGET_DIR",
    "JOULETRACE_TEST_DENIED_ROOT",
    // The service, its agents, the Python host and the sandbox (jouletrace-server, python/,
    // pool/sandbox): set around `cargo joule` and bench binaries, not typos.
    "JOULETRACE_AGENT_CPUS",
    "JOULETRACE_AGENT_NAME",
    "JOULETRACE_AGENT_SLOTS",
    "JOULETRACE_API_KEYS",
    "JOULETRACE_API_KEYS_FILE",
    "JOULETRACE_CORS_ORIGINS",
    "JOULETRACE_DATA_DIR",
    "JOULETRACE_DRAIN_TIMEOUT",
    "JOULETRACE_JOB",
    "JOULETRACE_KEY_CONCURRENCY",
    "JOULETRACE_LEASE_TTL",
    "JOULETRACE_LISTEN",
    "JOULETRACE_LOG",
    "JOULETRACE_MAX_ATTEMPTS",
    "JOULETRACE_MAX_BATCH_JOBS",
    "JOULETRACE_MAX_BODY_BYTES",
    "JOULETRACE_MAX_QUEUE",
    "JOULETRACE_MAX_TEST_CASES",
    "JOULETRACE_NO_AGENT",
    "JOULETRACE_PYTHON",
    "JOULETRACE_QUEUE",
    "JOULETRACE_QUEUE_NAMESPACE",
    "JOULETRACE_RATE_LIMIT",
    "JOULETRACE_REQUEST_TIMEOUT",
    "JOULETRACE_RETENTION",
    "JOULETRACE_SANDBOX",
    "JOULETRACE_SANDBOX_DIR",
    "JOULETRACE_SANDBOX_MAX_PROCESSES",
    "JOULETRACE_SANDBOX_UID",
    "JOULETRACE_SERVER_RUNNER",
    "JOULETRACE_SERVER_SCRIPTED_MS",
    "JOULETRACE_TEST_API_KEY",
];

/// The candidate closest to `word` by edit distance (case-insensitive), when it is close
/// enough to be a plausible typo: at most a third of the word's length in edits, and at
/// least one.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The variable name of each setting: `trials` → `JOULETRACE_TRIALS`.
pub fn env_var(key: &str) -> String {
    format!("JOULETRACE_{}", key.to_ascii_uppercase())
}

/// A warning for each `JOULETRACE_*` variable in `vars` that JouleTrace does not read, naming
/// the closest known one. Such a variable is ignored, so a typo (`JOULETRACE_TRAILS=10`) would
/// otherwise change nothing without a word.
pub fn unknown_env_vars(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let known: Vec<String> = KEYS
        .iter()
        .map(|k| env_var(k))
        .chain(OTHER_ENV_VARS.iter().map(|v| (*v).to_owned()))
        .collect();
    let mut unknown: Vec<String> = vars
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("JOULETRACE_") && !known.contains(k))
        .collect();
    unknown.sort();
    unknown
        .into_iter()
        .map(|var| {
            let hint = match closest(&var, known.iter().map(String::as_str)) {
                Some(k) => format!("; did you mean {k}?"),
                None => format!(
                    "; the settings are {}",
                    KEYS.iter()
                        .map(|k| env_var(k))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            format!("environment variable {var} is not a JouleTrace setting and is ignored{hint}")
        })
        .collect()
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("trails", "trials"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("warmup", "warmup"), 0);
    }

    #[test]
    fn typos_find_their_key_and_nonsense_finds_none() {
        assert_eq!(closest("trails", KEYS.iter().copied()), Some("trials"));
        assert_eq!(closest("warm_up", KEYS.iter().copied()), Some("warmup"));
        assert_eq!(closest("colour", KEYS.iter().copied()), None);
    }

    #[test]
    fn unknown_jouletrace_variables_are_named_with_the_closest_known_one() {
        let warnings = unknown_env_vars([
            ("JOULETRACE_TRAILS".to_owned(), "10".to_owned()),
            ("JOULETRACE_TRIALS".to_owned(), "10".to_owned()),
            ("JOULETRACE_SYSFS_ROOT".to_owned(), "/tmp".to_owned()),
            ("JOULETRACE_ZZZZZZZZZZZZZZZZZZZZ".to_owned(), "x".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
        ]);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("JOULETRACE_TRAILS")
                && warnings[0].ends_with("did you mean JOULETRACE_TRIALS?"),
            "{warnings:?}"
        );
        assert!(
            warnings[1].contains("the settings are JOULETRACE_METER"),
            "{warnings:?}"
        );
    }
}
