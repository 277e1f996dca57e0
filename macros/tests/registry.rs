//! The expansions, collected: what a bench binary's harness sees of the candidates below.

use std::time::Duration;

use jouletrace::prelude::*;
use jouletrace::registry::{CandidateOptions, CheckOutcome, Mismatch, Registry};

#[joule_cases(problem = "sort")]
fn sort_cases() -> Vec<Case<Vec<u32>, Vec<u32>>> {
    vec![
        Case::new("empty", vec![], vec![]).check_only(),
        Case::new("small", vec![3, 1, 2], vec![1, 2, 3]),
        Case::new("dups", vec![2, 1, 2, 1], vec![1, 1, 2, 2]).size(4),
    ]
}

#[joule_bench(problem = "sort")]
fn insertion_sort(mut v: Vec<u32>) -> Vec<u32> {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && v[j - 1] > v[j] {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
    v
}

#[joule_bench(
    problem = "sort",
    timeout = "5s",
    memory_limit_mb = 512,
    trials = 10,
    warmup = 2,
    threshold = 0.03,
    ignore
)]
fn std_sort(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
}

#[joule_bench(problem = "sort", timeout = "500ms")]
fn forgets_the_last(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v.pop();
    v
}

/// Several arguments, one by reference: the input is `(Vec<i32>, usize)`.
mod nth {
    use jouletrace::prelude::*;

    #[joule_cases(problem = "nth")]
    pub(crate) fn cases() -> Vec<Case<(Vec<i32>, usize), i32>> {
        vec![
            Case::new("first", (vec![5, 6, 7], 0), 5),
            Case::new("last", (vec![5, 6, 7], 2), 7),
        ]
    }

    #[joule_bench(problem = "nth")]
    fn index(xs: &[i32], k: usize) -> i32 {
        xs[k]
    }

    #[joule_bench(problem = "nth")]
    fn panics_on_last(xs: &[i32], k: usize) -> i32 {
        assert!(k + 1 < xs.len(), "index {k} is the last one");
        xs[k]
    }

    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    /// Set by the test's window hooks while a measured window is open.
    pub(crate) static IN_WINDOW: AtomicBool = AtomicBool::new(false);
    pub(crate) static CALLS_INSIDE: AtomicU64 = AtomicU64::new(0);
    pub(crate) static CALLS_OUTSIDE: AtomicU64 = AtomicU64::new(0);

    /// Counts its calls, and whether each fell inside a measured window.
    #[joule_bench(problem = "nth")]
    fn counted(xs: &[i32], k: usize) -> i32 {
        if IN_WINDOW.load(Ordering::SeqCst) {
            CALLS_INSIDE.fetch_add(1, Ordering::SeqCst);
        } else {
            CALLS_OUTSIDE.fetch_add(1, Ordering::SeqCst);
        }
        xs[k]
    }
}

/// Candidates in another module find the problem through a glob import.
mod elsewhere {
    use super::nth::*;
    use jouletrace::prelude::*;

    #[joule_bench(problem = "nth")]
    fn by_get(xs: &[i32], k: usize) -> i32 {
        xs.iter()
            .copied()
            .skip(k)
            .find(|_| true)
            .expect("k is in range")
    }
}

#[joule_bench(cases = [(2, 4), (7, 49), (-3, 9)])]
fn square(x: i64) -> i64 {
    x * x
}

#[joule_bench(cases = [((&[1, 2, 3], 2), 6), ((&[], 5), 0)])]
fn scaled_len(xs: &[u8], k: usize) -> usize {
    xs.len() * k
}

fn halves() -> Vec<Case<f64, f64>> {
    vec![
        Case::new("one", 1.0, 0.5),
        Case::new("third", 1.0 / 3.0, 1.0 / 6.0),
    ]
}

#[joule_bench(cases = halves, tolerance = 1e-12)]
fn half_by_multiplication(x: f64) -> f64 {
    x * 0.5 + 1e-15
}

#[joule_bench(cases = halves)]
fn half_exact_only(x: f64) -> f64 {
    x * 0.5 + 1e-15
}

fn factor_cases() -> Vec<Case<u64, (u64, u64)>> {
    vec![Case::new("12", 12, (3, 4)), Case::new("35", 35, (5, 7))]
}

fn is_factorisation(n: &u64, f: &(u64, u64)) -> bool {
    f.0 > 1 && f.1 > 1 && f.0 * f.1 == *n
}

/// Returns (2, 6) for 12, not the (3, 4) of the case: the validator accepts it.
#[joule_bench(cases = factor_cases, check = is_factorisation)]
fn smallest_factor(n: u64) -> (u64, u64) {
    let p = (2..n).find(|p| n % p == 0).unwrap_or(n);
    (p, n / p)
}

#[joule_bench(cases = factor_cases, check = is_factorisation)]
fn trivial_factor(n: u64) -> (u64, u64) {
    (1, n)
}

fn registry() -> Registry {
    Registry::collect().expect("the registrations above are consistent")
}

fn check(id: &str) -> CheckOutcome {
    let reg = registry();
    let c = reg
        .find(id)
        .unwrap_or_else(|| panic!("`{id}` is registered"));
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = c.imp.check(&mut |_| {});
    std::panic::set_hook(prev);
    out
}

#[test]
fn every_candidate_is_registered_under_problem_and_name() {
    let ids: Vec<String> = registry().candidates.iter().map(|c| c.id()).collect();
    assert_eq!(
        ids,
        [
            "half_by_multiplication::half_by_multiplication",
            "half_exact_only::half_exact_only",
            "nth::by_get",
            "nth::counted",
            "nth::index",
            "nth::panics_on_last",
            "scaled_len::scaled_len",
            "smallest_factor::smallest_factor",
            "sort::forgets_the_last",
            "sort::insertion_sort",
            "sort::std_sort",
            "square::square",
            "trivial_factor::trivial_factor",
        ]
    );
    let problems: Vec<&str> = registry().problems.iter().map(|p| p.problem).collect();
    assert_eq!(problems, ["nth", "sort"]);
}

#[test]
fn entries_know_where_they_were_written() {
    let reg = registry();
    let c = reg.find("nth::by_get").unwrap();
    assert_eq!(c.module_path, "registry::elsewhere");
    assert!(c.file.ends_with("registry.rs"), "{}", c.file);
    let source = include_str!("registry.rs");
    let line = source.lines().nth(c.line as usize - 1).unwrap();
    assert!(line.contains("fn by_get"), "line {} is `{line}`", c.line);
    let p = reg.problems.iter().find(|p| p.problem == "sort").unwrap();
    assert_eq!(p.function, "sort_cases");
    let line = source.lines().nth(p.line as usize - 1).unwrap();
    assert!(
        line.contains("fn sort_cases"),
        "line {} is `{line}`",
        p.line
    );
}

#[test]
fn options_are_carried_as_written() {
    let reg = registry();
    assert_eq!(
        reg.find("sort::std_sort").unwrap().options,
        CandidateOptions {
            timeout: Some(Duration::from_secs(5)),
            memory_limit_mb: Some(512),
            trials: Some(10),
            warmup: Some(2),
            threshold: Some(0.03),
            ignore: true,
        }
    );
    assert_eq!(
        reg.find("sort::insertion_sort").unwrap().options,
        CandidateOptions::DEFAULT
    );
    assert_eq!(
        reg.find("sort::forgets_the_last").unwrap().options.timeout,
        Some(Duration::from_millis(500))
    );
}

#[test]
fn shared_cases_check_every_candidate() {
    assert_eq!(
        check("sort::insertion_sort"),
        CheckOutcome::Passed { cases: 3 }
    );
    assert_eq!(check("sort::std_sort"), CheckOutcome::Passed { cases: 3 });
    assert_eq!(
        check("sort::forgets_the_last"),
        CheckOutcome::WrongAnswer(Mismatch {
            case: "small".into(),
            expected: "[1, 2, 3]".into(),
            actual: "[1, 2]".into(),
            validator: false,
        })
    );
    let cases = registry()
        .find("sort::std_sort")
        .unwrap()
        .imp
        .cases()
        .unwrap();
    let described: Vec<_> = cases
        .iter()
        .map(|c| (c.id.as_str(), c.size, c.measured))
        .collect();
    assert_eq!(
        described,
        [
            ("empty", None, false),
            ("small", None, true),
            ("dups", Some(4), true)
        ]
    );
}

#[test]
fn several_arguments_by_reference_and_by_value() {
    assert_eq!(check("nth::index"), CheckOutcome::Passed { cases: 2 });
    assert_eq!(check("nth::by_get"), CheckOutcome::Passed { cases: 2 });
    assert_eq!(
        check("nth::panics_on_last"),
        CheckOutcome::Panic {
            case: "last".into(),
            message: "index 2 is the last one".into()
        }
    );
}

fn case_ids(id: &str) -> Vec<String> {
    let reg = registry();
    let cases = reg.find(id).unwrap().imp.cases().unwrap();
    cases.into_iter().map(|c| c.id).collect()
}

#[test]
fn inline_cases_are_named_by_their_input() {
    assert_eq!(check("square::square"), CheckOutcome::Passed { cases: 3 });
    assert_eq!(case_ids("square::square"), ["2", "7", "-3"]);
    assert_eq!(
        check("scaled_len::scaled_len"),
        CheckOutcome::Passed { cases: 2 }
    );
    assert_eq!(
        case_ids("scaled_len::scaled_len"),
        ["(&[1, 2, 3], 2)", "(&[], 5)"]
    );
}

#[test]
fn tolerance_accepts_rounding_and_exact_comparison_does_not() {
    assert_eq!(
        check("half_by_multiplication::half_by_multiplication"),
        CheckOutcome::Passed { cases: 2 }
    );
    match check("half_exact_only::half_exact_only") {
        CheckOutcome::WrongAnswer(m) => assert_eq!(m.case, "one"),
        other => panic!("expected a wrong answer, got {other:?}"),
    }
}

#[test]
fn a_validator_accepts_any_right_answer() {
    assert_eq!(
        check("smallest_factor::smallest_factor"),
        CheckOutcome::Passed { cases: 2 }
    );
    assert_eq!(
        check("trivial_factor::trivial_factor"),
        CheckOutcome::WrongAnswer(Mismatch {
            case: "12".into(),
            expected: "<accepted by the custom validator>".into(),
            actual: "(1, 12)".into(),
            validator: true,
        })
    );
}

#[test]
fn prepared_cases_call_the_candidate_exactly_inside_the_windows() {
    use std::sync::atomic::Ordering;
    /// Opens and closes "windows" as the worker's meter reads would, and counts them.
    struct Windows {
        opened: u32,
        closed: u32,
    }
    impl jouletrace::registry::WindowHooks for Windows {
        fn open(&mut self) {
            assert_eq!(self.opened, self.closed, "windows never nest");
            self.opened += 1;
            nth::IN_WINDOW.store(true, Ordering::SeqCst);
        }
        fn close(&mut self) {
            nth::IN_WINDOW.store(false, Ordering::SeqCst);
            self.closed += 1;
        }
    }
    let reg = registry();
    let mut prepared = reg
        .find("nth::counted")
        .unwrap()
        .imp
        .prepare("last")
        .unwrap();
    let mut hooks = Windows {
        opened: 0,
        closed: 0,
    };
    let before = nth::CALLS_INSIDE.load(Ordering::SeqCst);
    let outside = nth::CALLS_OUTSIDE.load(Ordering::SeqCst);
    prepared.run(3, 2, &mut hooks);
    assert_eq!(
        nth::CALLS_INSIDE.load(Ordering::SeqCst) - before,
        3,
        "every requested call is made, inside a window"
    );
    assert_eq!(
        nth::CALLS_OUTSIDE.load(Ordering::SeqCst),
        outside,
        "no call outside a window"
    );
    assert!(hooks.opened >= 1 && hooks.opened == hooks.closed);
}
