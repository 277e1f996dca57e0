use jouletrace::prelude::*;

type Cases = Vec<Case<u32, u32>>;

#[joule_cases(problem = "aliased")]
fn aliased() -> Cases {
    vec![]
}

#[joule_cases(problem = "with_argument")]
fn with_argument(n: u32) -> Vec<Case<u32, u32>> {
    vec![Case::new("n", n, n)]
}

#[joule_cases(problem = "has spaces", size = 3)]
fn spaced() -> Vec<Case<u32, u32>> {
    vec![]
}

fn main() {}
