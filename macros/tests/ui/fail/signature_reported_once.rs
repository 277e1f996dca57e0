use jouletrace::prelude::*;

#[joule_cases(problem = "find")]
fn cases() -> Vec<Case<(Vec<u32>, usize), Option<usize>>> {
    vec![Case::new("one", (vec![1, 2], 1), Some(0))]
}

// Issue 12: each mismatch is reported once, at the parameter that disagrees.
#[joule_bench(problem = "find")]
fn by_value(v: Vec<u32>, k: u64) -> Option<usize> {
    v.iter().position(|&x| u64::from(x) == k)
}

#[joule_bench(problem = "find")]
fn by_ref(v: &[u32], k: &u64) -> Option<usize> {
    v.iter().position(|&x| u64::from(x) == *k)
}

#[joule_bench(problem = "find")]
fn three(v: Vec<u32>, k: usize, _extra: bool) -> Option<usize> {
    v.iter().position(|&x| x as usize == k)
}

#[joule_bench(problem = "find")]
fn one(v: &Vec<i32>) -> Option<usize> {
    v.first().map(|_| 0)
}

fn main() {}
