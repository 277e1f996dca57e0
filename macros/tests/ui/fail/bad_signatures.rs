use jouletrace::prelude::*;

#[joule_bench(cases = [(2, 4)])]
fn generic<T: Copy>(x: T) -> T {
    x
}

#[joule_bench(cases = [(2, 4)])]
async fn later(x: i32) -> i32 {
    x * x
}

#[joule_bench(cases = [(vec![2, 1], ())])]
fn in_place(v: &mut Vec<i32>) {
    v.sort();
}

fn main() {}
