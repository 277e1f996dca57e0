//! Energy inside criterion: a [`Measurement`](::criterion::measurement::Measurement) in joules.
//!
//! Existing criterion benches get joules per iteration by swapping the measurement; nothing else
//! in them changes:
//!
//! ```no_run
//! use criterion::{Criterion, criterion_group, criterion_main};
//! use jouletrace::criterion::JouleMeasurement;
//!
//! fn energy() -> Criterion<JouleMeasurement> {
//!     match JouleMeasurement::new() {
//!         Ok(m) => Criterion::default().with_measurement(m),
//!         Err(e) => {
//!             eprintln!("error: {e}");
//!             std::process::exit(2)
//!         }
//!     }
//! }
//!
//! fn bench(c: &mut Criterion<JouleMeasurement>) {
//!     c.bench_function("sum", |b| b.iter(|| (0..1000u64).sum::<u64>()));
//! }
//!
//! criterion_group! { name = benches; config = energy(); targets = bench }
//! criterion_main!(benches);
//! ```
//!
//! The meter is chosen as `cargo joule` chooses it (perf, then powercap, then the estimate;
//! `JOULETRACE_METER` forces one) and read in the benchmark's own process. That is what
//! criterion can offer, and it is much less than `cargo joule` does:
//!
//! - **no correctness gate**: a wrong implementation is measured like a right one;
//! - **no isolation**: no worker process, no pinning, no memory or time limits;
//! - **no domain-aware scheduling and no idle subtraction**: a package-wide RAPL counter also
//!   counts whatever else runs on the package, and idle power is included (figures are gross);
//! - **iterations are planned by wall time**: criterion sizes its samples from elapsed time,
//!   whatever the measurement.
//!
//! The first measurement prints these limits on stderr once, with the meter it uses, and says
//! ESTIMATED when the energy is the CPU-time estimate rather than a hardware counter.

mod format;
mod measurement;

pub use format::EnergyFormatter;
pub use measurement::{JouleMeasurement, SetupError};
