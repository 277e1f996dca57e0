use super::*;

/// One comparison: the expected JSON, the actual value as Python writes it (what a Python
/// candidate would return) and, where Rust has such a value, as a Rust candidate's result
/// maps to [`Val`].
struct Pair {
    expected: &'static str,
    python: &'static str,
    rust: Option<Val>,
}

fn pair(expected: &'static str, python: &'static str, actual: impl ToVal) -> Pair {
    Pair {
        expected,
        python,
        rust: Some(actual.to_val()),
    }
}

/// A pair only Python can return.
fn py(expected: &'static str, python: &'static str) -> Pair {
    Pair {
        expected,
        python,
        rust: None,
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
        // Integers of any size stay exact, on both sides.
        pair(
            "354224848179261915075",
            "354224848179261915075",
            354_224_848_179_261_915_075u128,
        ),
        pair(
            "354224848179261915075",
            "354224848179261915076",
            354_224_848_179_261_915_076u128,
        ),
        pair(
            "354224848179261915075",
            "354224848179261915075.0",
            354_224_848_179_261_915_075f64,
        ),
        py(
            "123456789012345678901234567890",
            "123456789012345678901234567891",
        ),
        py(
            "-123456789012345678901234567890",
            "-123456789012345678901234567890",
        ),
        py("[1e300]", "[10**400]"),
        py("1e308", "10**400"),
        // Floats' edges.
        py("1e308", "float('inf')"),
        py("[0.5]", "[float('nan')]"),
        py("-0.0", "0.0"),
        py("0", "-0.0"),
        // What JSON cannot express: tuples, sets, bytes, other keys, other types.
        py("[[3, 1], [2, 0]]", "[divmod(7, 2), divmod(4, 2)]"),
        py("[1, 2]", "{1, 2}"),
        py("[1, 2]", "frozenset({1, 2})"),
        py("\"ab\"", "b'ab'"),
        py("{\"0\": \"a\"}", "{0: 'a'}"),
        py("{\"true\": 1, \"null\": 2}", "{True: 1, None: 2}"),
        py("{\"1.5\": 1, \"NaN\": 2}", "{1.5: 1, float('nan'): 2}"),
        py("{\"1\": 1}", "{1: 1, '1': 2}"),
        py("{\"1\": 2}", "{1: 1, '1': 2}"),
        py("{\"(1, 2)\": 1}", "{(1, 2): 1}"),
        py("[1, 2]", "collections.deque([1, 2])"),
        py("[0, 1, 2]", "range(3)"),
        py("[1, 2]", "collections.namedtuple('P', 'x y')(1, 2)"),
        py("{\"a\": 2}", "collections.Counter('aa')"),
        py("{\"a\": 2}", "collections.OrderedDict(a=2)"),
        py("1", "enum.IntEnum('C', 'A').A"),
        py("[1.0]", "[type('F', (float,), {})(1.0)]"),
        py("\"a\"", "type('S', (str,), {})('a')"),
        py("0.5", "fractions.Fraction(1, 2)"),
        py("1", "decimal.Decimal(1)"),
        py("[1, 0]", "[1+0j]"),
        py("\"x\"", "object()"),
        py("\"a\"", "'a\\ud800'"),
        py("{\"a\": [1, {\"b\": null}]}", "{'a': [1, {'b': None}]}"),
        py("{\"a\": [1, {\"b\": null}]}", "{'a': (1, {'b': None})}"),
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
    // What cannot be represented equals nothing, under every rule, itself included.
    let other = Val::Other {
        type_name: "AlwaysEqual".into(),
        repr: "<AlwaysEqual>".into(),
    };
    for rule in rules() {
        assert!(!outputs_equal(&other, &other, &rule));
        assert!(!outputs_equal(&Val::from_json("1").unwrap(), &other, &rule));
    }
}

#[test]
fn json_is_read_as_python_reads_it() {
    assert_eq!(
        Val::from_json("[354224848179261915075, -0, 1.0, 1e2, \"\\u00e9\"]").unwrap(),
        Val::List(vec![
            Val::Int(Int::parse("354224848179261915075").unwrap()),
            Val::Int(Int::from(0i128)),
            Val::Float(1.0),
            Val::Float(100.0),
            Val::Str("é".into()),
        ])
    );
    // A repeated key keeps its place and its last value.
    assert_eq!(
        Val::from_json(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap(),
        Val::Dict(vec![
            (Val::Str("a".into()), Val::Int(Int::from(3i128))),
            (Val::Str("b".into()), Val::Int(Int::from(2i128))),
        ])
    );
    assert!(Val::from_json("[1,").is_err());
}

#[test]
fn values_render_as_python_repr() {
    let shown = |json: &str| render::python_repr(&Val::from_json(json).unwrap());
    assert_eq!(
        shown(r#"[null, true, 1, 1.0, 0.1, 1e16, 1e-5, 1e15, 0.0001, -2.5e-7, "it's"]"#),
        r#"[None, True, 1, 1.0, 0.1, 1e+16, 1e-05, 1000000000000000.0, 0.0001, -2.5e-07, "it's"]"#
    );
    assert_eq!(
        shown(r#"{"a": ["x\ny", "\u0007"]}"#),
        r#"{'a': ['x\ny', '\x07']}"#
    );
    assert_eq!(
        render::python_repr(&(1i64,).to_val()),
        "(1,)",
        "a one-tuple keeps its comma"
    );
    let long = format!("[{}]", vec!["1"; 5000].join(", "));
    let text = shown(&long);
    assert!(text.len() < render::MAX_SHOWN + 100, "{}", text.len());
    assert!(text.ends_with("characters)"), "{text}");
}

#[test]
fn malformed_tokens_are_errors_not_panics() {
    use serde_json::json;
    for tokens in [
        vec![],
        vec![json!(["l", 2]), json!(1)],
        vec![json!(["zz"])],
        vec![json!(["l", 1_000_000_000u64])],
        vec![json!(1), json!(2)],
        vec![json!(["f", "one"])],
        vec![json!({"a": 1})],
    ] {
        assert!(wire::decode(&tokens).is_err(), "{tokens:?}");
    }
}

/// The same pairs through the comparison the Python host ran in the candidate's process until
/// protocol 3 (`compare/reference.py`, verbatim), through this module on what the host now
/// reports (`host.py`'s `encode`, decoded by [`wire::decode`]), and through this module on the
/// Rust value a Rust candidate would return: every verdict under every mode must agree.
/// Skipped, saying so, where no python3 runs.
#[test]
fn verdicts_match_the_in_process_comparison() {
    let pairs = pairs();
    let rules = rules();
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("host.py");
    let reference = dir.path().join("reference.py");
    std::fs::write(&host, crate::python::HOST_SCRIPT).unwrap();
    std::fs::write(&reference, include_str!("reference.py")).unwrap();
    let rules_json = serde_json::to_string(&rules).unwrap();
    let mut script = format!(
        "import importlib.util, json, sys, collections, enum, fractions, decimal\n\
         def load(name, path):\n    \
             spec = importlib.util.spec_from_file_location(name, path)\n    \
             module = importlib.util.module_from_spec(spec)\n    \
             spec.loader.exec_module(module)\n    \
             return module\n\
         host = load('host', {host:?})\n\
         reference = load('reference', {reference:?})\n\
         rules = json.loads({rules_json:?})\n\
         def verdict(e, a, r):\n    \
             try:\n        \
                 return bool(reference.outputs_equal(e, a, r))\n    \
             except Exception:\n        \
                 return False  # the old check failed the case when comparing raised\n\
         pairs = []\n",
        host = host.display().to_string(),
        reference = reference.display().to_string(),
    );
    for p in &pairs {
        script.push_str(&format!(
            "pairs.append((json.loads({:?}), {}))\n",
            p.expected, p.python
        ));
    }
    script.push_str(
        "print(json.dumps([[[verdict(e, a, r) for r in rules], host.encode(a)] for e, a in pairs]))\n",
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
    let python: Vec<(Vec<bool>, Vec<serde_json::Value>)> =
        serde_json::from_slice(&out.stdout).unwrap();
    let mut disagreements = Vec::new();
    for (p, (verdicts, tokens)) in pairs.iter().zip(&python) {
        let expected = Val::from_json(p.expected).unwrap();
        let reported = wire::decode(tokens).unwrap();
        for (rule, old) in rules.iter().zip(verdicts) {
            let new = outputs_equal(&expected, &reported, rule);
            if new != *old {
                disagreements.push(format!(
                    "expected {} actual {} ({reported:?}) under {rule:?}: in-process {old}, \
                     orchestrator {new}",
                    p.expected, p.python
                ));
            }
            if let Some(rust) = &p.rust {
                let from_rust = outputs_equal(&expected, rust, rule);
                if from_rust != *old {
                    disagreements.push(format!(
                        "expected {} Rust actual {rust:?} under {rule:?}: python {old}, rust \
                         {from_rust}",
                        p.expected
                    ));
                }
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    // The table is worth having only if it tells the modes apart.
    let distinct: std::collections::BTreeSet<&Vec<bool>> = python.iter().map(|(v, _)| v).collect();
    assert!(distinct.len() >= 5, "{distinct:?}");
}
