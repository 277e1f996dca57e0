use super::*;

/// One comparison: the expected JSON, the actual value as Python writes it (what a Python
/// candidate would return) and as a Rust candidate's result maps to [`Val`].
struct Pair {
    expected: &'static str,
    python: &'static str,
    actual: Val,
}

fn pair(expected: &'static str, python: &'static str, actual: impl ToVal) -> Pair {
    Pair {
        expected,
        python,
        actual: actual.to_val(),
    }
}

fn pairs() -> Vec<Pair> {
    use std::collections::HashMap;
    let map = |items: &[(&str, i64)]| -> HashMap<String, i64> {
        items.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    };
    vec![
        pair("9", "9", 9i64),
        pair("9", "10", 10u8),
        pair("9", "9.0", 9.0f64),
        pair("9.0", "9", 9i32),
        pair("1", "True", true),
        pair("true", "1", 1i64),
        pair("true", "True", true),
        pair("0.1", "0.1 + 1e-12", 0.1f64 + 1e-12),
        pair("0.1", "0.1 + 1e-6", 0.1f64 + 1e-6),
        pair("1e12", "1e12 + 1.0", 1e12f64 + 1.0),
        pair("1.5", "1.5", 1.5f32),
        pair("null", "None", ()),
        pair("null", "None", None::<i64>),
        pair("3", "3", Some(3i64)),
        pair("null", "0", 0i64),
        pair("0", "None", None::<i64>),
        pair("\"a\"", "'a'", 'a'),
        pair("\"abc\"", "'abc'", "abc".to_owned()),
        pair("\"abc\"", "'ABC'", "ABC".to_owned()),
        pair("[1, 2]", "[1, 2]", vec![1i64, 2]),
        pair("[1, 2]", "[1, 2, 3]", vec![1i64, 2, 3]),
        pair("[1, 2]", "(1, 2)", (1i64, 2i64)),
        pair("[1, 2.0]", "[1.0, 2]", vec![1.0f64, 2.0]),
        pair("[[1], []]", "[[1], []]", vec![vec![1i64], vec![]]),
        pair("[3, 1]", "(3, 1)", (3u32, 1u32)),
        pair("[\"a\", 1]", "('a', 1)", ("a".to_owned(), 1i64)),
        pair("[[1, 2]]", "[(1, 2)]", vec![(1i64, 2i64)]),
        pair("{\"a\": 1}", "{'a': 1}", map(&[("a", 1)])),
        pair("{\"a\": 1}", "{'a': 1, 'b': 2}", map(&[("a", 1), ("b", 2)])),
        pair("{\"a\": 1.0}", "{'a': 1}", map(&[("a", 1)])),
        pair("{}", "{}", map(&[])),
        pair("{}", "[]", Vec::<i64>::new()),
        pair("[]", "[]", Vec::<i64>::new()),
        pair("1", "[1]", vec![1i64]),
        pair("\"1\"", "1", 1i64),
    ]
}

fn rules() -> Vec<Comparison> {
    vec![
        Comparison::Predecessor {
            abs_tol: 1e-9,
            rel_tol: 1e-9,
        },
        Comparison::Lenient {
            abs_tol: 1e-9,
            rel_tol: 1e-9,
        },
        Comparison::Exact,
        Comparison::Tolerance {
            abs_tol: 1e-3,
            rel_tol: 0.0,
        },
    ]
}

#[test]
fn a_few_verdicts_by_hand() {
    let pred = &rules()[0];
    let eq =
        |e: &str, a: Val, rule: &Comparison| outputs_equal(&Val::from_json(e).unwrap(), &a, rule);
    assert!(eq("1", true.to_val(), pred), "bool counts as int");
    assert!(
        !eq("[3, 1]", (3i64, 1i64).to_val(), pred),
        "a tuple is not a list"
    );
    assert!(
        eq("[3, 1]", (3i64, 1i64).to_val(), &rules()[1]),
        "unless lenient"
    );
    assert!(!eq("1", 1.0f64.to_val(), &Comparison::Exact));
    let nan = Val::Float(f64::NAN);
    assert!(outputs_equal(&nan, &f64::NAN.to_val(), pred));
    assert!(!outputs_equal(
        &Val::Float(f64::INFINITY),
        &f64::MAX.to_val(),
        pred
    ));
}

/// The same pairs through `host.py`'s own `outputs_equal` (a Python candidate returning the
/// Python value) and through this module (a Rust candidate returning the Rust value): every
/// verdict under every mode must agree. Skipped, saying so, where no python3 runs.
#[test]
fn verdicts_match_the_python_hosts() {
    let pairs = pairs();
    let rules = rules();
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("host.py");
    std::fs::write(&host, crate::python::HOST_SCRIPT).unwrap();
    let rules_json = serde_json::to_string(&rules).unwrap();
    let mut script = format!(
        "import importlib.util, json, sys\n\
         spec = importlib.util.spec_from_file_location('host', {host:?})\n\
         host = importlib.util.module_from_spec(spec)\n\
         spec.loader.exec_module(host)\n\
         rules = json.loads({rules_json:?})\n\
         pairs = []\n",
        host = host.display().to_string(),
    );
    for p in &pairs {
        script.push_str(&format!(
            "pairs.append((json.loads({:?}), {}))\n",
            p.expected, p.python
        ));
    }
    script.push_str(
        "print(json.dumps([[host.outputs_equal(e, a, r) for r in rules] for e, a in pairs]))\n",
    );
    let out = match std::process::Command::new("python3")
        .args(["-I", "-S", "-c", &script])
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipped: python3 cannot run here ({e})");
            return;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let python: Vec<Vec<bool>> = serde_json::from_slice(&out.stdout).unwrap();
    let mut disagreements = Vec::new();
    for (p, verdicts) in pairs.iter().zip(&python) {
        let expected = Val::from_json(p.expected).unwrap();
        for (rule, py) in rules.iter().zip(verdicts) {
            let rust = outputs_equal(&expected, &p.actual, rule);
            if rust != *py {
                disagreements.push(format!(
                    "expected {} actual {} ({:?}) under {rule:?}: python {py}, rust {rust}",
                    p.expected, p.python, p.actual
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    // The table is worth having only if it tells the modes apart.
    let distinct: std::collections::BTreeSet<&Vec<bool>> = python.iter().collect();
    assert!(distinct.len() >= 4, "{distinct:?}");
}
