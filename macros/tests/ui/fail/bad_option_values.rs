use jouletrace::prelude::*;

#[joule_bench(
    cases = [(2, 4)],
    memory_limit_mb = "512",
    trials = 0,
    threshold = 5,
    tolerance = "tight",
    ignore = "flaky",
)]
fn square(x: i32) -> i32 {
    x * x
}

fn main() {}
