use jouletrace::prelude::*;

#[joule_bench(cases = [(2, 4)], timeout = "soon")]
fn square(x: i32) -> i32 {
    x * x
}

#[joule_bench(cases = [(2, 4)], timeout = 5)]
fn square_again(x: i32) -> i32 {
    x * x
}

fn main() {}
