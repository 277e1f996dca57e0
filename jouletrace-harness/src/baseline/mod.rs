//! Baselines: saved runs, and the comparison of a run against one.
//!
//! A baseline is a results file kept under `<target-dir>/joule/baselines/NAME.json`
//! ([`store`]). Comparing a run with it ([`compare()`]) gives, per candidate and measured case, the
//! relative change of energy per call with a bootstrap confidence interval
//! ([`crate::stats::relative_change`]), and a verdict against the candidate's threshold
//! ([`crate::stats::change_verdict`]): *regressed* only when the whole interval lies above the
//! threshold, *improved* only when it lies wholly below its negative, *unchanged* otherwise.
//!
//! Runs whose numbers are not comparable (another meter or primary domain, another CPU model,
//! estimated against measured) are refused with the reason, unless the caller forces it; a forced
//! comparison is marked in the result.

mod compare;
pub mod store;

pub use compare::{CompareError, CompareOptions, compare, energy_per_call, incompatibilities};
pub use store::{BaselineError, baseline_dir, baseline_path, load, save};
