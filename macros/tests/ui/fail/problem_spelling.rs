use jouletrace::prelude::*;

#[joule_cases(problem = "fingerprint-eq")]
fn cases() -> Vec<Case<u64, bool>> {
    vec![Case::new("zero", 0, true)]
}

// Issue 12: `_` where the cases wrote `-`. Without an error the candidate silently became a
// one-candidate problem of its own.
#[joule_bench(problem = "fingerprint_eq")]
fn fingerprint_eq(x: u64) -> bool {
    x == 0
}

fn main() {}
