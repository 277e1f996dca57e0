//! Inline `(input, expected)` pairs, by value and by `&'static` reference.
use jouletrace::prelude::*;
use jouletrace::registry::{CheckOutcome, Registry};

#[joule_bench(cases = [(2, 4), (7, 49)])]
fn square(x: u64) -> u64 {
    x * x
}

#[joule_bench(cases = [("hello", 5), ("", 0)], timeout = "2m")]
fn length(s: &str) -> usize {
    s.len()
}

#[joule_bench(cases = [((&[3, 1, 2], 2), 3), ((&[], 0), 0)])]
fn max_of_first(xs: &[u8], k: usize) -> u8 {
    xs.iter().take(k).copied().max().unwrap_or(0)
}

fn main() {
    let reg = Registry::collect().unwrap();
    let ids: Vec<String> = reg.candidates.iter().map(|c| c.id()).collect();
    assert_eq!(ids, ["length::length", "max_of_first::max_of_first", "square::square"]);
    for c in &reg.candidates {
        assert_eq!(c.imp.check(&mut |_| {}), CheckOutcome::Passed { cases: 2 }, "{}", c.id());
    }
    let names: Vec<String> = reg.find("length::length").unwrap().imp.cases().unwrap()
        .into_iter().map(|c| c.id).collect();
    assert_eq!(names, ["\"hello\"", "\"\""]);
    assert_eq!(
        reg.find("length::length").unwrap().options.timeout,
        Some(std::time::Duration::from_secs(120))
    );
}
