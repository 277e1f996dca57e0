//! `tolerance` compares floats, and tuples and vectors of them, approximately.
use jouletrace::prelude::*;
use jouletrace::registry::{CheckOutcome, Registry};

#[joule_cases(problem = "mean")]
fn cases() -> Vec<Case<Vec<f64>, (f64, f64)>> {
    vec![Case::new("thirds", vec![0.1, 0.2, 0.3], (0.2, 0.6))]
}

#[joule_bench(problem = "mean", tolerance = 1e-12)]
fn mean_and_sum(xs: &[f64]) -> (f64, f64) {
    let sum: f64 = xs.iter().sum();
    (sum / xs.len() as f64, sum)
}

#[joule_bench(problem = "mean", tolerance = 0)]
fn exact(xs: &[f64]) -> (f64, f64) {
    let sum: f64 = xs.iter().sum();
    (sum / xs.len() as f64, sum)
}

fn main() {
    let reg = Registry::collect().unwrap();
    let outcome = reg.find("mean::mean_and_sum").unwrap().imp.check(&mut |_| {});
    assert_eq!(outcome, CheckOutcome::Passed { cases: 1 });
    // 0.1 + 0.2 + 0.3 is 0.6000000000000001 in binary floating point.
    let outcome = reg.find("mean::exact").unwrap().imp.check(&mut |_| {});
    assert!(matches!(outcome, CheckOutcome::WrongAnswer(_)), "{outcome:?}");
}
