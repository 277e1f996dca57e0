//! The n-body simulation of the Computer Language Benchmarks Game: the Sun and the four gas
//! giants, advanced `n` steps of 0.01 days with a symplectic Euler integrator. Its published
//! output for n = 1000 is the system's energy before (-0.169075164) and after (-0.169087605).
//!
//! Two implementations solve the problem `nbody`: [`simple`] keeps an array of body structs and
//! walks the pairs directly; [`soa`] keeps one array per coordinate and computes all pair
//! distances before touching any velocity.
//!
//! This crate registers its candidates itself, with `#[joule_bench]` on library functions. A
//! bench binary collects them only if it links this crate: the bench that runs them
//! (`examples/benches/nbody.rs`) names it in `jouletrace::main!(jouletrace_examples_nbody);`,
//! and the other example benches, which never name it, do not run n-body.

#![expect(
    clippy::needless_range_loop,
    reason = "coordinates indexed by axis read like the physics they implement"
)]

use jouletrace::prelude::*;

pub mod simple;
pub mod soa;

use std::f64::consts::PI;

pub const SOLAR_MASS: f64 = 4.0 * PI * PI;
pub const DAYS_PER_YEAR: f64 = 365.24;
/// The step of every `advance`, in days.
pub const DT: f64 = 0.01;

/// Position, velocity (per year) and mass of one body, in the benchmark's units.
#[derive(Clone, Copy, Debug)]
pub struct Body {
    pub pos: [f64; 3],
    pub vel: [f64; 3],
    pub mass: f64,
}

/// The benchmark's initial state: Sun, Jupiter, Saturn, Uranus, Neptune (heliocentric, before
/// the Sun's momentum is offset).
#[expect(
    clippy::excessive_precision,
    reason = "the constants are the benchmark's, digit for digit"
)]
pub fn initial_bodies() -> [Body; 5] {
    let body = |pos: [f64; 3], vel: [f64; 3], mass: f64| Body {
        pos,
        vel: vel.map(|v| v * DAYS_PER_YEAR),
        mass: mass * SOLAR_MASS,
    };
    [
        body([0.0; 3], [0.0; 3], 1.0),
        body(
            [
                4.84143144246472090e+00,
                -1.16032004402742839e+00,
                -1.03622044471123109e-01,
            ],
            [
                1.66007664274403694e-03,
                7.69901118419740425e-03,
                -6.90460016972063023e-05,
            ],
            9.54791938424326609e-04,
        ),
        body(
            [
                8.34336671824457987e+00,
                4.12479856412430479e+00,
                -4.03523417114321381e-01,
            ],
            [
                -2.76742510726862411e-03,
                4.99852801234917238e-03,
                2.30417297573763929e-05,
            ],
            2.85885980666130812e-04,
        ),
        body(
            [
                1.28943695621391310e+01,
                -1.51111514016986312e+01,
                -2.23307578892655734e-01,
            ],
            [
                2.96460137564761618e-03,
                2.37847173959480950e-03,
                -2.96589568540237556e-05,
            ],
            4.36624404335156298e-05,
        ),
        body(
            [
                1.53796971148509165e+01,
                -2.59193146099879641e+01,
                1.79258772950371181e-01,
            ],
            [
                2.68067772490389322e-03,
                1.62824170038242295e-03,
                -9.51592254519715870e-05,
            ],
            5.15138902046611451e-05,
        ),
    ]
}

/// The published outputs, as `(steps, energy before, energy after)`, each energy printed with
/// nine decimals (so exact to within 5e-10).
pub const PUBLISHED: &[(u32, f64, f64)] = &[(1000, -0.169075164, -0.169087605)];

#[joule_cases(problem = "nbody")]
fn cases() -> Vec<Case<u32, (f64, f64)>> {
    let mut cases = vec![
        // No step: the energy before is the energy after.
        Case::new("0", 0, (PUBLISHED[0].1, PUBLISHED[0].1)).check_only(),
    ];
    for &(steps, before, after) in PUBLISHED {
        cases.push(Case::new(steps.to_string(), steps, (before, after)).size(u64::from(steps)));
    }
    cases
}

/// The tolerance covers the published figures' rounding to nine decimals.
#[joule_bench(problem = "nbody", tolerance = 1e-9)]
pub fn nbody_simple(steps: u32) -> (f64, f64) {
    simple::run(steps)
}

#[joule_bench(problem = "nbody", tolerance = 1e-9)]
pub fn nbody_soa(steps: u32) -> (f64, f64) {
    soa::run(steps)
}
