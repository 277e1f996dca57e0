//! The direct version: an array of bodies, each pair visited once per step.

use crate::{Body, DT, SOLAR_MASS, initial_bodies};

/// Energy before and after `steps` steps.
pub fn run(steps: u32) -> (f64, f64) {
    let mut bodies = initial_bodies();
    offset_momentum(&mut bodies);
    let before = energy(&bodies);
    for _ in 0..steps {
        advance(&mut bodies, DT);
    }
    (before, energy(&bodies))
}

/// Gives the Sun the velocity that makes the system's total momentum zero.
pub fn offset_momentum(bodies: &mut [Body]) {
    let mut p = [0.0; 3];
    for b in bodies.iter() {
        for k in 0..3 {
            p[k] += b.vel[k] * b.mass;
        }
    }
    for k in 0..3 {
        bodies[0].vel[k] = -p[k] / SOLAR_MASS;
    }
}

/// Kinetic energy of every body minus the potential energy of every pair.
pub fn energy(bodies: &[Body]) -> f64 {
    let mut e = 0.0;
    for (i, a) in bodies.iter().enumerate() {
        e += 0.5 * a.mass * a.vel.iter().map(|v| v * v).sum::<f64>();
        for b in &bodies[i + 1..] {
            let d2: f64 = (0..3).map(|k| (a.pos[k] - b.pos[k]).powi(2)).sum();
            e -= a.mass * b.mass / d2.sqrt();
        }
    }
    e
}

/// One step: velocities from the pairwise gravity, then positions from the new velocities.
pub fn advance(bodies: &mut [Body], dt: f64) {
    for i in 0..bodies.len() {
        let (head, tail) = bodies.split_at_mut(i + 1);
        let a = &mut head[i];
        for b in tail.iter_mut() {
            let d = [
                a.pos[0] - b.pos[0],
                a.pos[1] - b.pos[1],
                a.pos[2] - b.pos[2],
            ];
            let d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            let mag = dt / (d2 * d2.sqrt());
            for k in 0..3 {
                a.vel[k] -= d[k] * b.mass * mag;
                b.vel[k] += d[k] * a.mass * mag;
            }
        }
    }
    for b in bodies.iter_mut() {
        for k in 0..3 {
            b.pos[k] += dt * b.vel[k];
        }
    }
}
