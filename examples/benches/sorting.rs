//! Sorting `u32`s: insertion sort and merge sort against the standard library's stable and
//! unstable sorts. The algorithms live in `jouletrace_examples::sorting`; this file registers
//! thin by-value wrappers as the candidates.

use jouletrace::prelude::*;
use jouletrace_examples::{data, sorting};

#[joule_cases(problem = "sort")]
fn cases() -> Vec<Case<Vec<u32>, Vec<u32>>> {
    let mut cases = vec![
        Case::new("empty", vec![], vec![]).check_only(),
        Case::new("one", vec![7], vec![7]).check_only(),
        Case::new("sorted", vec![1, 2, 3, 4], vec![1, 2, 3, 4]).check_only(),
        Case::new("reversed", vec![5, 4, 3, 2, 1], vec![1, 2, 3, 4, 5]).check_only(),
        Case::new("duplicates", vec![3, 1, 3, 0, 1, 3], vec![0, 1, 1, 3, 3, 3]).check_only(),
        Case::new(
            "extremes",
            vec![u32::MAX, 0, u32::MAX, 1],
            vec![0, 1, u32::MAX, u32::MAX],
        )
        .check_only(),
    ];
    // Measured inputs: the expected order comes from counting, which shares no code with the
    // candidates (and agrees with the literal cases above).
    for n in [100, 1_000, 10_000] {
        let input = data::random_u32s(n, 0x5EED + n as u64);
        let expected = sorting::sorted_by_counting(&input);
        cases.push(Case::new(format!("random-{n}"), input, expected).size(n as u64));
    }
    cases
}

#[joule_bench(problem = "sort")]
fn insertion_sort(mut v: Vec<u32>) -> Vec<u32> {
    sorting::insertion_sort(&mut v);
    v
}

#[joule_bench(problem = "sort")]
fn merge_sort(mut v: Vec<u32>) -> Vec<u32> {
    sorting::merge_sort(&mut v);
    v
}

#[joule_bench(problem = "sort")]
fn std_sort_unstable(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
}

#[joule_bench(problem = "sort")]
fn std_sort_stable(mut v: Vec<u32>) -> Vec<u32> {
    v.sort();
    v
}

jouletrace::main!();
