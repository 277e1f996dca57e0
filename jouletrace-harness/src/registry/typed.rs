//! The bridge from a typed candidate (`fn(I) -> O` with `Case<I, O>`) to the object-safe
//! [`ErasedCandidate`] the worker drives. The macros build a [`Typed`] in a `static` through the
//! `const fn`s [`typed`] and [`for_problem`].

use std::fmt::Debug;
use std::hint::black_box;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{ApproxEq, Problem};
use crate::Case;

/// The longest `Debug` rendering kept for an expected or actual value.
const MAX_SHOWN: usize = 2048;

/// A candidate whose types have been erased, as the worker process sees it.
pub trait ErasedCandidate {
    /// The candidate's cases: id, size, and whether it is measured.
    fn cases(&self) -> Result<Vec<CaseInfo>, String>;

    /// Runs every case and compares, stopping at the first failure. `event` hears of each case
    /// before it starts, so that a crash or timeout can be attributed to it.
    fn check(&self, event: &mut dyn FnMut(CheckEvent<'_>)) -> CheckOutcome;

    /// Builds the state for measuring case `case`: from then on inputs are cloned from it.
    fn prepare(&self, case: &str) -> Result<Box<dyn PreparedCase>, String>;
}

/// A case made ready for measured calls.
pub trait PreparedCase {
    /// Makes `calls` calls in batches of at most `batch` fresh inputs. For each batch, the inputs
    /// are cloned first, then `hooks.open()`, the calls, `hooks.close()`: cloning stays outside
    /// the measured window, while dropping each call's input and output stays inside it (freeing
    /// what a call allocated is part of its cost). Inputs without drop glue are copied inside a
    /// single window instead (see the implementation for why).
    fn run(&mut self, calls: u64, batch: u64, hooks: &mut dyn WindowHooks);

    /// Clones `n` inputs, calls `during` while holding them, then drops them: lets the worker
    /// see how much memory a batch of inputs takes.
    fn hold_clones(&mut self, n: u64, during: &mut dyn FnMut());
}

/// Called right around each batch of measured calls.
pub trait WindowHooks {
    fn open(&mut self);
    fn close(&mut self);
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaseInfo {
    pub id: String,
    pub size: Option<u64>,
    pub measured: bool,
}

pub enum CheckEvent<'a> {
    CaseStarted(&'a str),
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mismatch {
    pub case: String,
    pub expected: String,
    pub actual: String,
    /// Set when a custom `check = …` validator rejected the output (there is no single expected value).
    pub validator: bool,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CheckOutcome {
    Passed { cases: usize },
    WrongAnswer(Mismatch),
    Panic { case: String, message: String },
}

pub struct Typed<I, O> {
    cases: fn() -> Vec<Case<I, O>>,
    call: fn(I) -> O,
    /// `(input, actual, expected) -> equal`.
    compare: fn(&I, &O, &O) -> bool,
    show: fn(&O) -> String,
    /// Set for custom validators, which ignore `expected`.
    validator: bool,
    /// For candidates that only borrow their input: the same call on a shared input, so that
    /// measuring needs no fresh inputs at all (see [`Typed::borrowing`]).
    call_ref: Option<fn(&I) -> O>,
}

fn show_debug<O: Debug>(o: &O) -> String {
    truncate(format!("{o:?}"))
}

/// Cuts a rendering to [`MAX_SHOWN`] bytes on a character boundary, saying how much was cut.
pub fn truncate(mut s: String) -> String {
    if s.len() > MAX_SHOWN {
        let total = s.len();
        let mut cut = MAX_SHOWN;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str(&format!("… [truncated, {total} bytes in all]"));
    }
    s
}

/// Outputs compare with `PartialEq`.
pub fn cmp_eq<I, O: PartialEq>(_: &I, actual: &O, expected: &O) -> bool {
    actual == expected
}

/// Outputs compare within `tol` (see [`ApproxEq`]).
pub fn cmp_tolerance<O: ApproxEq>(actual: &O, expected: &O, tol: f64) -> bool {
    actual.approx_eq(expected, tol)
}

/// A candidate with its own cases.
pub const fn typed<I: Clone + 'static, O: Debug + 'static>(
    cases: fn() -> Vec<Case<I, O>>,
    call: fn(I) -> O,
    compare: fn(&I, &O, &O) -> bool,
    validator: bool,
) -> Typed<I, O> {
    Typed {
        cases,
        call,
        compare,
        show: show_debug::<O>,
        validator,
        call_ref: None,
    }
}

/// A candidate of problem `P`, whose cases come from `P`'s `#[joule_cases]` function.
pub const fn for_problem<P: Problem>(
    call: fn(P::Input) -> P::Output,
    compare: fn(&P::Input, &P::Output, &P::Output) -> bool,
    validator: bool,
) -> Typed<P::Input, P::Output>
where
    P::Input: Clone + 'static,
    P::Output: Debug + 'static,
{
    typed(P::cases, call, compare, validator)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

impl<I, O> Typed<I, O> {
    /// Adds the call on a borrowed input, for a candidate whose parameters are all references:
    /// measured calls then share one input, with nothing cloned and nothing dropped per call.
    /// Checks still use the by-value call, which the borrowing one must agree with.
    pub const fn borrowing(mut self, call_ref: fn(&I) -> O) -> Self {
        self.call_ref = Some(call_ref);
        self
    }
}

impl<I: Clone + 'static, O: Debug + 'static> Typed<I, O> {
    fn load_cases(&self) -> Result<Vec<Case<I, O>>, String> {
        catch_unwind(self.cases)
            .map_err(|p| format!("the cases function panicked: {}", panic_message(&*p)))
    }
}

impl<I: Clone + 'static, O: Debug + 'static> ErasedCandidate for Typed<I, O> {
    fn cases(&self) -> Result<Vec<CaseInfo>, String> {
        Ok(self
            .load_cases()?
            .iter()
            .map(|c| CaseInfo {
                id: c.id.clone(),
                size: c.size,
                measured: c.measure,
            })
            .collect())
    }

    fn check(&self, event: &mut dyn FnMut(CheckEvent<'_>)) -> CheckOutcome {
        let cases = match self.load_cases() {
            Ok(c) => c,
            Err(message) => {
                return CheckOutcome::Panic {
                    case: "<cases>".into(),
                    message,
                };
            }
        };
        let n = cases.len();
        for case in cases {
            event(CheckEvent::CaseStarted(&case.id));
            let input = case.input.clone();
            let call = self.call;
            let actual = match catch_unwind(AssertUnwindSafe(|| call(input))) {
                Ok(out) => out,
                Err(p) => {
                    return CheckOutcome::Panic {
                        case: case.id,
                        message: panic_message(&*p),
                    };
                }
            };
            let compare = self.compare;
            let ok = catch_unwind(AssertUnwindSafe(|| {
                compare(&case.input, &actual, &case.expected)
            }));
            match ok {
                Ok(true) => {}
                Ok(false) => {
                    return CheckOutcome::WrongAnswer(Mismatch {
                        expected: if self.validator {
                            "<accepted by the custom validator>".into()
                        } else {
                            (self.show)(&case.expected)
                        },
                        actual: (self.show)(&actual),
                        case: case.id,
                        validator: self.validator,
                    });
                }
                Err(p) => {
                    return CheckOutcome::Panic {
                        case: case.id,
                        message: format!("the output comparison panicked: {}", panic_message(&*p)),
                    };
                }
            }
        }
        CheckOutcome::Passed { cases: n }
    }

    fn prepare(&self, case: &str) -> Result<Box<dyn PreparedCase>, String> {
        let found = self
            .load_cases()?
            .into_iter()
            .find(|c| c.id == case)
            .ok_or_else(|| format!("no case named `{case}`"))?;
        Ok(Box::new(Prepared {
            input: found.input,
            call: self.call,
            call_ref: self.call_ref,
        }))
    }
}

struct Prepared<I, O> {
    input: I,
    call: fn(I) -> O,
    call_ref: Option<fn(&I) -> O>,
}

impl<I: Clone, O> PreparedCase for Prepared<I, O> {
    fn run(&mut self, calls: u64, batch: u64, hooks: &mut dyn WindowHooks) {
        if let Some(call_ref) = self.call_ref {
            // The candidate only borrows: every call reads the same input, as its callers would.
            let input = &self.input;
            hooks.open();
            for _ in 0..calls {
                black_box(call_ref(black_box(input)));
            }
            hooks.close();
            return;
        }
        if !std::mem::needs_drop::<I>() {
            // Plain data (no heap, no drop glue): a fresh input is a copy of a few bytes, cheaper
            // than the loop itself, so it happens inside one window. Batching would spend far
            // more time filling memory than calling, for the nanosecond functions that need the
            // most calls.
            let call = self.call;
            let input = &self.input;
            hooks.open();
            for _ in 0..calls {
                black_box(call(black_box(input.clone())));
            }
            hooks.close();
            return;
        }
        let batch = batch.max(1);
        let mut remaining = calls;
        let mut inputs: Vec<I> = Vec::with_capacity(batch.min(calls) as usize);
        while remaining > 0 {
            let n = remaining.min(batch);
            inputs.extend((0..n).map(|_| self.input.clone()));
            let call = self.call;
            hooks.open();
            for input in inputs.drain(..) {
                black_box(call(black_box(input)));
            }
            hooks.close();
            remaining -= n;
        }
    }

    fn hold_clones(&mut self, n: u64, during: &mut dyn FnMut()) {
        let held: Vec<I> = (0..n).map(|_| self.input.clone()).collect();
        during();
        drop(black_box(held));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cases() -> Vec<Case<(Vec<i32>, usize), i32>> {
        vec![
            Case::new("first", (vec![5, 6, 7], 0), 5),
            Case::new("last", (vec![5, 6, 7], 2), 7).size(3),
        ]
    }
    fn nth(xs: &[i32], k: usize) -> i32 {
        xs[k]
    }
    fn wrong(xs: &[i32], _k: usize) -> i32 {
        xs[0]
    }
    fn panics(_xs: &[i32], k: usize) -> i32 {
        if k == 2 {
            panic!("boom at {k}");
        }
        5
    }

    static GOOD: Typed<(Vec<i32>, usize), i32> = typed(cases, |(a, k)| nth(&a, k), cmp_eq, false);
    static WRONG: Typed<(Vec<i32>, usize), i32> =
        typed(cases, |(a, k)| wrong(&a, k), cmp_eq, false);
    static PANICS: Typed<(Vec<i32>, usize), i32> =
        typed(cases, |(a, k)| panics(&a, k), cmp_eq, false);

    #[test]
    fn a_correct_candidate_passes_and_reports_each_case() {
        let mut seen = vec![];
        let out = GOOD.check(&mut |CheckEvent::CaseStarted(c)| seen.push(c.to_owned()));
        assert_eq!(out, CheckOutcome::Passed { cases: 2 });
        assert_eq!(seen, ["first", "last"]);
        assert_eq!(GOOD.cases().unwrap()[1].size, Some(3));
    }

    #[test]
    fn a_wrong_answer_names_the_case_and_both_values() {
        let out = WRONG.check(&mut |_| {});
        assert_eq!(
            out,
            CheckOutcome::WrongAnswer(Mismatch {
                case: "last".into(),
                expected: "7".into(),
                actual: "5".into(),
                validator: false
            })
        );
    }

    #[test]
    fn a_panic_is_caught_with_its_message() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let out = PANICS.check(&mut |_| {});
        std::panic::set_hook(prev);
        assert_eq!(
            out,
            CheckOutcome::Panic {
                case: "last".into(),
                message: "boom at 2".into()
            }
        );
    }

    #[test]
    fn prepared_runs_open_and_close_around_each_batch() {
        struct Count(u32, u32);
        impl WindowHooks for Count {
            fn open(&mut self) {
                self.0 += 1;
            }
            fn close(&mut self) {
                self.1 += 1;
            }
        }
        let mut p = GOOD.prepare("last").unwrap();
        let mut c = Count(0, 0);
        p.run(10, 4, &mut c);
        assert_eq!((c.0, c.1), (3, 3), "inputs owning heap memory are batched");
        static PLAIN: Typed<u64, u64> =
            typed(|| vec![Case::new("a", 3, 9)], |x| x * x, cmp_eq, false);
        let mut c = Count(0, 0);
        PLAIN.prepare("a").unwrap().run(10, 4, &mut c);
        assert_eq!((c.0, c.1), (1, 1), "plain data is copied inside one window");
        static BORROWS: Typed<(Vec<i32>, usize), i32> =
            typed(cases, |(a, k)| nth(&a, k), cmp_eq, false).borrowing(|(a, k)| nth(a, *k));
        let mut c = Count(0, 0);
        BORROWS.prepare("last").unwrap().run(10, 4, &mut c);
        assert_eq!(
            (c.0, c.1),
            (1, 1),
            "a borrowing candidate needs no fresh inputs"
        );
        assert!(GOOD.prepare("nope").is_err());
    }

    #[test]
    fn long_renderings_are_truncated_with_a_marker() {
        let s = truncate("é".repeat(3000));
        assert!(s.len() < 2200);
        assert!(s.ends_with("[truncated, 6000 bytes in all]"));
    }
}
