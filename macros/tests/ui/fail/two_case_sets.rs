use jouletrace::prelude::*;

#[joule_cases(problem = "sort")]
fn small_cases() -> Vec<Case<Vec<u32>, Vec<u32>>> {
    vec![Case::new("small", vec![2, 1], vec![1, 2])]
}

#[joule_cases(problem = "sort")]
fn large_cases() -> Vec<Case<Vec<u32>, Vec<u32>>> {
    vec![Case::new("large", (0..1000).rev().collect(), (0..1000).collect())]
}

fn main() {}
