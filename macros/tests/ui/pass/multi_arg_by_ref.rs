//! Several parameters, some borrowed: the input is a tuple of owned values.
use jouletrace::prelude::*;
use jouletrace::registry::{CheckOutcome, Registry};

#[joule_cases(problem = "count")]
fn cases() -> Vec<Case<(Vec<i32>, String, i32), usize>> {
    vec![
        Case::new("none", (vec![1, 2], "x".to_owned(), 9), 0),
        Case::new("two", (vec![3, 9, 9], "xy".to_owned(), 9), 4),
    ]
}

/// `&[i32]` borrows the `Vec<i32>`, `&str` the `String`; `i32` is moved.
#[joule_bench(problem = "count")]
fn count_scaled(xs: &[i32], label: &str, needle: i32) -> usize {
    xs.iter().filter(|&&x| x == needle).count() * label.len()
}

#[joule_bench(problem = "count")]
fn count_by_value(xs: Vec<i32>, label: String, needle: i32) -> usize {
    xs.into_iter().filter(|&x| x == needle).count() * label.len()
}

fn main() {
    let reg = Registry::collect().unwrap();
    for id in ["count::count_scaled", "count::count_by_value"] {
        let outcome = reg.find(id).unwrap().imp.check(&mut |_| {});
        assert_eq!(outcome, CheckOutcome::Passed { cases: 2 }, "{id}");
    }
}
