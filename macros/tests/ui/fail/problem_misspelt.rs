use jouletrace::prelude::*;

#[joule_cases(problem = "sort")]
fn cases() -> Vec<Case<Vec<u32>, Vec<u32>>> {
    vec![Case::new("small", vec![2, 1], vec![1, 2])]
}

// Issue 12: a misspelt problem is "no cases for this problem", without rustc suggesting to
// write another problem's hidden type into the attribute.
#[joule_bench(problem = "sorted")]
fn std_sort(mut v: Vec<u32>) -> Vec<u32> {
    v.sort();
    v
}

fn main() {}
