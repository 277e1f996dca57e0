use jouletrace::prelude::*;

#[joule_cases(problem = "nth")]
fn cases() -> Vec<Case<(Vec<i32>, usize), i32>> {
    vec![Case::new("first", (vec![5, 6], 0), 5)]
}

// The input is a pair: the candidate must take two arguments.
#[joule_bench(problem = "nth")]
fn first(xs: &[i32]) -> i32 {
    xs[0]
}

fn main() {}
