use jouletrace::prelude::*;

#[joule_cases(problem = "sort")]
fn cases() -> Vec<Case<Vec<u32>, Vec<u32>>> {
    vec![Case::new("small", vec![2, 1], vec![1, 2])]
}

// The cases hold `Vec<u32>`: the parameter type is the mistake.
#[joule_bench(problem = "sort")]
fn sorts_signed(mut v: Vec<i32>) -> Vec<u32> {
    v.sort();
    v.into_iter().map(|x| x as u32).collect()
}

// The cases expect `Vec<u32>` back: the return type is the mistake.
#[joule_bench(problem = "sort")]
fn returns_signed(mut v: Vec<u32>) -> Vec<i64> {
    v.sort();
    v.into_iter().map(i64::from).collect()
}

fn main() {}
