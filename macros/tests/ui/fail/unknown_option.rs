use jouletrace::prelude::*;

#[joule_cases(problem = "sort")]
fn cases() -> Vec<Case<Vec<u32>, Vec<u32>>> {
    vec![Case::new("small", vec![2, 1], vec![1, 2])]
}

#[joule_bench(problem = "sort", timeut = "5s")]
fn std_sort(mut v: Vec<u32>) -> Vec<u32> {
    v.sort();
    v
}

fn main() {}
