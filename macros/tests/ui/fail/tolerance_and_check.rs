use jouletrace::prelude::*;

fn close_enough(_input: &f64, output: &f64) -> bool {
    output.is_finite()
}

#[joule_bench(cases = [(2.0, 4.0)], tolerance = 1e-9, check = close_enough)]
fn square(x: f64) -> f64 {
    x * x
}

fn main() {}
