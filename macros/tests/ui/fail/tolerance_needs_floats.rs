use jouletrace::prelude::*;

#[joule_bench(cases = [("a", 1)], tolerance = 1e-9)]
fn length(s: &str) -> usize {
    s.len()
}

fn main() {}
