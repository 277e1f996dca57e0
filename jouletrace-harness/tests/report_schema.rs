//! The results schema: files round-trip, other major versions are refused with a clear message,
//! older and newer minor versions load.

use jouletrace::results::{LoadError, RunResults, SCHEMA_MAJOR};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/results");

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture exists")
}

#[test]
fn fixtures_round_trip_without_losing_a_field() {
    for name in ["measured.json", "estimated.json"] {
        let text = fixture_text(name);
        let results = RunResults::from_json(&text, name).expect("fixture loads");
        let again = RunResults::from_json(&results.to_json(), "re-serialized").unwrap();
        assert_eq!(
            results, again,
            "{name}: load → save → load changed the results"
        );
        // Comparing the JSON values too catches fields the file has and the types ignore. The
        // fixtures are schema 1.0 files: fields added since (1.1's lock and check times, the
        // sample's worker process) are written with their defaults, so the file must be
        // contained in what is written, not equal to it.
        let original: Value = serde_json::from_str(&text).unwrap();
        let written: Value = serde_json::from_str(&results.to_json()).unwrap();
        assert_contained(&original, &written, name);
    }
}

/// Every field of `original`, at every depth, is in `written` with the same value.
fn assert_contained(original: &Value, written: &Value, at: &str) {
    match (original, written) {
        (Value::Object(o), Value::Object(w)) => {
            for (key, value) in o {
                let Some(found) = w.get(key) else {
                    panic!("{at}.{key}: dropped or renamed on writing");
                };
                assert_contained(value, found, &format!("{at}.{key}"));
            }
        }
        (Value::Array(o), Value::Array(w)) => {
            assert_eq!(o.len(), w.len(), "{at}: array length changed");
            for (i, (a, b)) in o.iter().zip(w).enumerate() {
                assert_contained(a, b, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(original, written, "{at}: value changed on writing"),
    }
}

#[test]
fn load_names_the_file_and_round_trips_through_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let results = RunResults::from_json(&fixture_text("measured.json"), "measured").unwrap();
    std::fs::write(&path, results.to_json()).unwrap();
    assert_eq!(RunResults::load(&path).unwrap(), results);

    let missing = dir.path().join("nope.json");
    let err = RunResults::load(&missing).unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }));
    assert!(err.to_string().contains("nope.json"), "{err}");
}

#[test]
fn an_unknown_major_version_is_refused_with_a_clear_message() {
    let mut value: Value = serde_json::from_str(&fixture_text("measured.json")).unwrap();
    value["schema_version"] = Value::from(format!("{}.0", SCHEMA_MAJOR + 1));
    let err = RunResults::from_json(&value.to_string(), "target/joule/results.json").unwrap_err();
    assert!(
        matches!(err, LoadError::UnsupportedVersion { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("target/joule/results.json"), "{message}");
    assert!(
        message.contains(&format!("{}.0", SCHEMA_MAJOR + 1)),
        "{message}"
    );
    assert!(message.contains(&format!("{SCHEMA_MAJOR}.x")), "{message}");
    assert!(message.contains("re-run"), "no remedy in: {message}");
}

#[test]
fn a_file_without_a_version_is_not_taken_for_results() {
    let err = RunResults::from_json(r#"{"problems": []}"#, "x.json").unwrap_err();
    assert!(matches!(err, LoadError::Malformed { .. }));
    assert!(err.to_string().contains("schema_version"), "{err}");
}

/// Removes `key` from every object in the tree.
fn strip(value: &mut Value, key: &str) {
    match value {
        Value::Object(map) => {
            map.remove(key);
            map.values_mut().for_each(|v| strip(v, key));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| strip(v, key)),
        _ => {}
    }
}

#[test]
fn an_older_minor_version_without_optional_fields_loads() {
    let mut value: Value = serde_json::from_str(&fixture_text("measured.json")).unwrap();
    value["schema_version"] = Value::from(format!("{SCHEMA_MAJOR}.0"));
    // Everything a 1.0 reader must tolerate missing: `#[serde(default)]` fields and options.
    for key in [
        "idle",
        "baseline",
        "rankings",
        "flags",
        "outlier",
        "incomplete_reason",
        "binaries",
        "partition",
        "rejected",
        "warnings",
    ] {
        strip(&mut value, key);
    }
    let results = RunResults::from_json(&value.to_string(), "old.json").expect("older file loads");
    assert!(results.idle.is_empty());
    assert!(results.baseline.is_none());
    assert!(results.problems.iter().all(|p| p.rankings.is_empty()));
    // And every view still renders it (ranking falls back to point estimates).
    use jouletrace::report::{Format, Html, Terminal};
    let text = Terminal::new(false).render(&results).unwrap();
    assert!(text.contains("std_sort"), "{text}");
    Html.render(&results).unwrap();
}

#[test]
fn a_newer_minor_version_with_unknown_fields_loads() {
    let mut value: Value = serde_json::from_str(&fixture_text("estimated.json")).unwrap();
    value["schema_version"] = Value::from(format!("{SCHEMA_MAJOR}.99"));
    value["run"]["added_in_a_later_minor"] = Value::from("ignored by this reader");
    let results =
        RunResults::from_json(&value.to_string(), "newer.json").expect("newer minor loads");
    assert!(results.is_estimated());
}
