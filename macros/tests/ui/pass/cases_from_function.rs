//! `cases = path`: a candidate with its own cases, from a function in another module.
use jouletrace::prelude::*;
use jouletrace::registry::{CheckOutcome, Registry};

mod data {
    use jouletrace::Case;

    pub fn gcd_cases() -> Vec<Case<(u64, u64), u64>> {
        vec![Case::new("12,18", (12, 18), 6), Case::new("coprime", (7, 9), 1).size(2)]
    }
}

#[joule_bench(cases = data::gcd_cases, ignore, warmup = 0)]
fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn main() {
    let reg = Registry::collect().unwrap();
    let c = reg.find("gcd::gcd").unwrap();
    assert!(c.options.ignore);
    assert_eq!(c.options.warmup, Some(0));
    assert_eq!(c.imp.check(&mut |_| {}), CheckOutcome::Passed { cases: 2 });
}
