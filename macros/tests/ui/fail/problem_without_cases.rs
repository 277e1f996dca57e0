use jouletrace::prelude::*;

#[joule_bench(problem = "sort")]
fn std_sort(mut v: Vec<u32>) -> Vec<u32> {
    v.sort();
    v
}

fn main() {}
