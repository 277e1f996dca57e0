//! `check = path`: a validator decides, for problems with several right answers.
use jouletrace::prelude::*;
use jouletrace::registry::{CheckOutcome, Registry};

mod validators {
    /// Any index at which the value sits is right.
    pub fn finds_value(input: &(Vec<i32>, i32), found: &Option<usize>) -> bool {
        let (xs, x) = input;
        match found {
            Some(i) => xs.get(*i) == Some(x),
            None => !xs.contains(x),
        }
    }
}

#[joule_cases(problem = "find")]
fn cases() -> Vec<Case<(Vec<i32>, i32), Option<usize>>> {
    vec![
        Case::new("repeated", (vec![7, 7, 7], 7), Some(0)),
        Case::new("absent", (vec![1, 2], 3), None),
    ]
}

#[joule_bench(problem = "find", check = validators::finds_value)]
fn last_position(xs: &[i32], x: i32) -> Option<usize> {
    xs.iter().rposition(|&y| y == x)
}

#[joule_bench(problem = "find", check = validators::finds_value)]
fn always_first(_xs: &[i32], _x: i32) -> Option<usize> {
    Some(0)
}

fn main() {
    let reg = Registry::collect().unwrap();
    let outcome = reg.find("find::last_position").unwrap().imp.check(&mut |_| {});
    assert_eq!(outcome, CheckOutcome::Passed { cases: 2 });
    match reg.find("find::always_first").unwrap().imp.check(&mut |_| {}) {
        CheckOutcome::WrongAnswer(m) => {
            assert_eq!(m.case, "absent");
            assert!(m.validator);
        }
        other => panic!("{other:?}"),
    }
}
