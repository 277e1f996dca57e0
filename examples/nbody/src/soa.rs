//! The structure-of-arrays version: one array per coordinate, and each step in two passes over
//! the ten pairs (all distances and magnitudes first, then all velocity updates), which keeps
//! the inner loops free of dependencies between pairs.

use crate::{DT, SOLAR_MASS, initial_bodies};

const N: usize = 5;
const PAIRS: usize = N * (N - 1) / 2;

struct System {
    x: [[f64; N]; 3],
    v: [[f64; N]; 3],
    m: [f64; N],
    /// The pairs `(i, j)` with `i < j`, in a fixed order.
    pairs: [(usize, usize); PAIRS],
}

impl System {
    fn new() -> Self {
        let bodies = initial_bodies();
        let mut s = System {
            x: [[0.0; N]; 3],
            v: [[0.0; N]; 3],
            m: [0.0; N],
            pairs: [(0, 0); PAIRS],
        };
        for (i, b) in bodies.iter().enumerate() {
            for k in 0..3 {
                s.x[k][i] = b.pos[k];
                s.v[k][i] = b.vel[k];
            }
            s.m[i] = b.mass;
        }
        let mut p = 0;
        for i in 0..N {
            for j in i + 1..N {
                s.pairs[p] = (i, j);
                p += 1;
            }
        }
        for k in 0..3 {
            let momentum: f64 = (0..N).map(|i| s.v[k][i] * s.m[i]).sum();
            s.v[k][0] = -momentum / SOLAR_MASS;
        }
        s
    }

    fn energy(&self) -> f64 {
        let mut e = 0.0;
        for i in 0..N {
            let v2: f64 = (0..3).map(|k| self.v[k][i] * self.v[k][i]).sum();
            e += 0.5 * self.m[i] * v2;
        }
        for &(i, j) in &self.pairs {
            let d2: f64 = (0..3).map(|k| (self.x[k][i] - self.x[k][j]).powi(2)).sum();
            e -= self.m[i] * self.m[j] / d2.sqrt();
        }
        e
    }

    fn advance(&mut self, dt: f64) {
        let mut d = [[0.0; PAIRS]; 3];
        let mut mag = [0.0; PAIRS];
        for (p, &(i, j)) in self.pairs.iter().enumerate() {
            for k in 0..3 {
                d[k][p] = self.x[k][i] - self.x[k][j];
            }
        }
        for p in 0..PAIRS {
            let d2 = d[0][p] * d[0][p] + d[1][p] * d[1][p] + d[2][p] * d[2][p];
            mag[p] = dt / (d2 * d2.sqrt());
        }
        for (p, &(i, j)) in self.pairs.iter().enumerate() {
            let (mi, mj) = (self.m[i] * mag[p], self.m[j] * mag[p]);
            for k in 0..3 {
                self.v[k][i] -= d[k][p] * mj;
                self.v[k][j] += d[k][p] * mi;
            }
        }
        for k in 0..3 {
            for i in 0..N {
                self.x[k][i] += dt * self.v[k][i];
            }
        }
    }
}

/// Energy before and after `steps` steps.
pub fn run(steps: u32) -> (f64, f64) {
    let mut s = System::new();
    let before = s.energy();
    for _ in 0..steps {
        s.advance(DT);
    }
    (before, s.energy())
}
