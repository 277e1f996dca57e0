use jouletrace::prelude::*;

#[joule_cases(problem = "square")]
fn cases() -> Vec<Case<i32, i32>> {
    vec![Case::new("2", 2, 4)]
}

#[joule_bench(problem = "square", cases = [(2, 4)])]
fn square(x: i32) -> i32 {
    x * x
}

fn main() {}
