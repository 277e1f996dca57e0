//! A small, steady bench for the calibration tests (`tests/e2e/calibration.rs`): two candidates
//! of one problem, two cases, each call a few microseconds of plain arithmetic, so that what
//! varies between runs is the machine and the process, not the work.

use jouletrace::__private::{CandidateEntry, CandidateOptions, cmp_eq, typed};
use jouletrace::Case;
use std::hint::black_box;

fn cases() -> Vec<Case<u64, u64>> {
    let sum = |n: u64| n * (n - 1) / 2;
    vec![
        Case::new("small", 2_000, sum(2_000)).size(2_000),
        Case::new("large", 20_000, sum(20_000)).size(20_000),
    ]
}

/// Adds one by one, each value through `black_box` so the loop is not folded.
fn loop_sum(n: u64) -> u64 {
    (0..n).map(black_box).sum()
}

/// Adds pairs: about half the work per value of `loop_sum`.
fn pair_sum(n: u64) -> u64 {
    let pairs = (0..n / 2)
        .map(|i| black_box(2 * i) + (2 * i + 1))
        .sum::<u64>();
    pairs + if n % 2 == 1 { n - 1 } else { 0 }
}

macro_rules! register {
    ($name:ident) => {
        jouletrace::__private::inventory::submit! {
            CandidateEntry {
                problem: "sum",
                name: stringify!($name),
                module_path: module_path!(),
                file: file!(),
                line: line!(),
                options: CandidateOptions::DEFAULT,
                imp: &typed(cases, $name, cmp_eq, false),
            }
        }
    };
}

register!(loop_sum);
register!(pair_sum);

jouletrace::main!();
