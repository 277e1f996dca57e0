//! What a generated glue binary calls at run time (`rust_source::codegen` writes the calls):
//! the cases of a candidate, read from the job file, its inputs converted to the argument types
//! and its expected output paired with the comparison rule — all when the cases are loaded,
//! before any measured window — and the comparison of an output.
//!
//! The job file is the one [`Target::for_job`](crate::engine::Target::for_job) names in
//! `JOULETRACE_JOB`, so one binary serves any case set: a second case set of the same
//! candidates needs no rebuild.
//!
//! Inputs are spread as for Python candidates: a JSON array is the argument list (`[[3, 1, 2]]`
//! for one `Vec` argument), an object gives arguments by parameter name, anything else is the
//! single argument. An input that does not fit the parameters is a failure of that case
//! ([`unfit`], a panic in the check), never of the binary.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::compare::{ToVal, Val, outputs_equal};
use crate::Case;
use crate::engine::JOB_ENV;
use crate::job::{Comparison, Job};

/// A case's input: the arguments, or why the JSON does not fit the parameters. The error is
/// `'static` (leaked once per case and process) so the input stays plain data when the
/// arguments are, and is copied like a `#[joule_bench]` input would be.
pub type Input<A> = Result<A, &'static str>;

/// The cases of one candidate, as its cases function returns them.
pub type Cases<A, T> = Vec<Case<Input<A>, Output<T>>>;

/// A candidate's result, or a case's expected output: the one type a case's output has.
///
/// The call wraps the candidate's return value in [`Output::Actual`] (a move, no conversion);
/// the comparison converts it to a [`Val`] after the call, outside any measured window.
pub enum Output<T> {
    Actual(T),
    Expected(Box<Expected>),
}

/// A case's expected output and the candidate's comparison rule.
pub struct Expected {
    json: String,
    value: Val,
    rule: Arc<Comparison>,
}

impl<T: fmt::Debug> fmt::Debug for Output<T> {
    /// The actual value as Rust shows it; the expected one as the JSON it was given as.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Output::Actual(v) => fmt::Debug::fmt(v, f),
            Output::Expected(e) => f.write_str(&e.json),
        }
    }
}

/// The comparison a glue candidate registers: `actual` against the case's expected output,
/// under the candidate's rule.
pub fn compare<I, T: ToVal>(_: &I, actual: &Output<T>, expected: &Output<T>) -> bool {
    match (actual, expected) {
        (Output::Actual(a), Output::Expected(e)) => outputs_equal(&e.value, &a.to_val(), &e.rule),
        _ => false,
    }
}

/// The call of a case whose input did not fit: a panic with the reason, which the check
/// reports as the case's failure.
pub fn unfit<T>(reason: &str) -> Output<T> {
    panic!("{reason}")
}

/// The job this process was given, read once.
fn job() -> Result<&'static Job, String> {
    static JOB: OnceLock<Result<Job, String>> = OnceLock::new();
    JOB.get_or_init(|| {
        let path = std::env::var_os(JOB_ENV).ok_or_else(|| {
            format!("{JOB_ENV} is not set: this binary reads its cases from a job file")
        })?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read the job file {}: {e}", path.to_string_lossy()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("the job file {} is not a job: {e}", path.to_string_lossy()))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The cases of candidate `id` (`problem::name`), from the job file: `A` is the tuple of the
/// entry function's owned argument types, `params` its parameter names (for inputs given as
/// an object), `signature` how messages show the function. Panics (a failure of the cases,
/// reported by the check) when the job cannot be read or does not name the candidate.
pub fn cases<A: DeserializeOwned, T>(id: &str, params: &[&str], signature: &str) -> Cases<A, T> {
    match load(id, params, signature) {
        Ok(cases) => cases,
        Err(message) => panic!("{message}"),
    }
}

fn load<A: DeserializeOwned, T>(
    id: &str,
    params: &[&str],
    signature: &str,
) -> Result<Cases<A, T>, String> {
    let job = job()?;
    let candidate = job
        .candidates
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| format!("the job file has no candidate `{id}`"))?;
    let rule = Arc::new(job.comparison_for(candidate).clone());
    let Some(cases) = job.cases.get(&candidate.problem) else {
        return Ok(Vec::new());
    };
    cases
        .iter()
        .map(|c| {
            let input = arguments::<A>(c.inputs.get(), params).map_err(|why| {
                &*Box::leak(
                    format!(
                        "case `{}`: the inputs {} do not fit `{signature}`: {why}",
                        c.id,
                        shorten(c.inputs.get())
                    )
                    .into_boxed_str(),
                )
            });
            let value = Val::from_json(c.expected.get())
                .map_err(|e| format!("case `{}`: unreadable expected output: {e}", c.id))?;
            let expected = Output::Expected(Box::new(Expected {
                json: c.expected.get().to_owned(),
                value,
                rule: Arc::clone(&rule),
            }));
            let mut case = Case::new(c.id.clone(), input, expected);
            if let Some(size) = c.size {
                case = case.size(size);
            }
            if !c.measured {
                case = case.check_only();
            }
            Ok(case)
        })
        .collect()
}

/// The argument list of one case as JSON text (the spreading rule), then converted to `A`.
fn arguments<A: DeserializeOwned>(inputs: &str, params: &[&str]) -> Result<A, String> {
    let list = spread(inputs, params)?;
    if params.is_empty() {
        // `()` reads from `null`, not from an empty list.
        return serde_json::from_str("null").map_err(|e| e.to_string());
    }
    serde_json::from_str(&list).map_err(|e| e.to_string())
}

/// The inputs as a JSON array of arguments: an array as it is, an object's values in parameter
/// order (every parameter named, no other key), anything else as the one argument.
fn spread(inputs: &str, params: &[&str]) -> Result<String, String> {
    let arity = params.len();
    let trimmed = inputs.trim_start();
    let list = if trimmed.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(inputs).map_err(|e| e.to_string())?;
        if items.len() != arity {
            return Err(format!(
                "{} argument(s) given, the function takes {arity}",
                items.len()
            ));
        }
        return Ok(inputs.to_owned());
    } else if trimmed.starts_with('{') {
        let mut named: HashMap<String, &RawValue> =
            serde_json::from_str(inputs).map_err(|e| e.to_string())?;
        let mut values = Vec::with_capacity(arity);
        for p in params {
            values.push(
                named
                    .remove(*p)
                    .ok_or_else(|| format!("no argument named `{p}`"))?
                    .get(),
            );
        }
        if let Some(extra) = named.keys().min() {
            return Err(format!("no parameter named `{extra}`"));
        }
        values
    } else {
        if arity != 1 {
            return Err(format!(
                "one argument given, the function takes {arity} (give a list of arguments)"
            ));
        }
        vec![inputs]
    };
    Ok(format!("[{}]", list.join(",")))
}

fn shorten(text: &str) -> String {
    super::compare::render::cut(text.to_owned(), 120)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_spread_as_for_python() {
        let two = ["nums", "k"];
        let a: (Vec<i64>, i64) = arguments("[[3, 1, 2], 2]", &two).unwrap();
        assert_eq!(a, (vec![3, 1, 2], 2));
        let a: (Vec<i64>, i64) = arguments(r#"{"k": 2, "nums": [3]}"#, &two).unwrap();
        assert_eq!(a, (vec![3], 2));
        let a: (i64,) = arguments("7", &["n"]).unwrap();
        assert_eq!(a, (7,));
        let a: (Vec<u8>,) = arguments("[[1, 2]]", &["v"]).unwrap();
        assert_eq!(a, (vec![1, 2],));
        let a: () = arguments("[]", &[]).unwrap();
        assert_eq!(a, ());
        let a: (String, Option<char>, (bool, f64)) =
            arguments(r#"["s", null, [true, 2]]"#, &["a", "b", "c"]).unwrap();
        assert_eq!(a, ("s".into(), None, (true, 2.0)));
        let big: (u128,) = arguments("[354224848179261915075]", &["n"]).unwrap();
        assert_eq!(big.0, 354224848179261915075);
    }

    #[test]
    fn inputs_that_do_not_fit_say_why() {
        let two = ["nums", "k"];
        let e = arguments::<(Vec<i64>, i64)>("[3, 1, 2]", &two).unwrap_err();
        assert_eq!(e, "3 argument(s) given, the function takes 2");
        let e = arguments::<(Vec<i64>, i64)>(r#"{"nums": [1]}"#, &two).unwrap_err();
        assert_eq!(e, "no argument named `k`");
        let e = arguments::<(Vec<i64>, i64)>(r#"{"nums": [1], "k": 1, "z": 0}"#, &two).unwrap_err();
        assert_eq!(e, "no parameter named `z`");
        let e = arguments::<(i64,)>("[1.5]", &["n"]).unwrap_err();
        assert!(e.contains("invalid type: floating point `1.5`"), "{e}");
        let e = arguments::<(u8,)>("[300]", &["n"]).unwrap_err();
        assert!(e.contains("300"), "{e}");
        let e = arguments::<(i64, i64)>("5", &two).unwrap_err();
        assert!(e.starts_with("one argument given"), "{e}");
    }

    #[test]
    fn outputs_show_as_rust_and_json_and_compare_by_the_rule() {
        let expected: Output<Vec<i64>> = Output::Expected(Box::new(Expected {
            json: "[1, 2]".into(),
            value: Val::from_json("[1, 2]").unwrap(),
            rule: Arc::new(Comparison::default()),
        }));
        assert_eq!(format!("{expected:?}"), "[1, 2]");
        let good = Output::Actual(vec![1i64, 2]);
        let bad = Output::Actual(vec![2i64, 1]);
        assert_eq!(format!("{bad:?}"), "[2, 1]");
        assert!(compare(&(), &good, &expected));
        assert!(!compare(&(), &bad, &expected));
        assert!(
            !compare(&(), &good, &good),
            "an actual value is never an expected one"
        );
    }
}
