use jouletrace::prelude::*;

#[joule_bench(timeout = "1s")]
fn square(x: i32) -> i32 {
    x * x
}

fn main() {}
