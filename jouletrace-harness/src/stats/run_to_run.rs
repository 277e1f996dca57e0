//! The machine's run-to-run variation: how far a whole run's figures move together from one run
//! to the next, which nothing inside one run can show.
//!
//! On the 2-core CI VM every candidate-case of a run moved together by −2.2% to +1.2% between
//! runs (the host's state over that minute), and intervals built from one run's samples alone
//! covered other runs' medians 0.55 of the time instead of 0.95. The history of earlier runs
//! shows that shift: with `m[run][key]` the median of candidate-case `key` in `run`,
//! `ln m = overall + a_run + b_key + e` is fitted by Tukey's median polish ([`median_polish`]),
//! robust to a candidate whose code changed between runs or a case added later, and the spread
//! of the run effects `a_run` is σ_run ([`run_sigma`]). Every per-case interval is then widened
//! by it in log space ([`widen`]). Pure functions; the history file is `engine::history`.
//! See docs/statistics.md, "Run-to-run variation".

use super::hierarchical::{normal_quantile, small_cluster_factor};
use super::summary::{MAD_NORMAL_SCALE, median};
use crate::energy::Backend;
use crate::results::Estimate;

/// Runs of history (this one included) from which a measured σ_run is used on its own.
pub const MIN_RUNS_ALONE: usize = 5;
/// Runs of history (this one included) from which a measured σ_run can raise the prior.
pub const MIN_RUNS_MEASURED: usize = 3;
/// The least measured σ_run: a handful of lucky runs must not claim that runs never move.
pub const SIGMA_FLOOR: f64 = 0.0025;

/// σ_run assumed for a meter when the history is too short to show it (fewer than
/// [`MIN_RUNS_ALONE`] runs, or history off):
/// - the estimate: 2.0%, the whole-run shifts measured on the 2-core CI VM (−2.2% to +1.2% over
///   ten runs of the examples, 2026-11-28): it charges CPU time, which moves with the host;
/// - RAPL (perf, powercap, MSR; the simulated package too): 1.0%, half of that: the counter is
///   hardware, but the work it counts still moves with frequency and temperature from one run to
///   the next; no quiet-hardware history has been taken yet, so this is a documented guess on the
///   safe side of "no widening";
/// - NVML: 2.0%, as the estimate: GPU clocks move more with temperature than a CPU's, and no
///   figure has been measured.
pub fn prior(meter: Backend) -> f64 {
    match meter {
        Backend::Estimate | Backend::Nvml => 0.02,
        Backend::Perf | Backend::Powercap | Backend::Msr => 0.01,
    }
}

/// Sweeps of the median polish; the effects settle within a few (Tukey used 2–4), the rest is
/// a cheap guard against a slowly converging table.
const SWEEPS: usize = 10;

/// The fit of a two-way table by median polish: `table[r][c] ≈ overall + rows[r] + cols[c]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Polish {
    pub overall: f64,
    /// One effect per row (run), centred so their median is 0.
    pub rows: Vec<f64>,
    /// One effect per column (candidate-case), centred so their median is 0.
    pub cols: Vec<f64>,
}

/// Tukey's median polish of a table with missing cells (`None`): alternately subtract each
/// row's median residual into its row effect and each column's into its column effect, and move
/// the medians of the effects into the overall term. A row or column with no present cell gets
/// effect 0. Non-finite cells count as missing.
pub fn median_polish(table: &[Vec<Option<f64>>]) -> Polish {
    let n_rows = table.len();
    let n_cols = table.iter().map(Vec::len).max().unwrap_or(0);
    let cell = |r: usize, c: usize| table[r].get(c).copied().flatten().filter(|v| v.is_finite());
    let mut resid: Vec<Vec<Option<f64>>> = (0..n_rows)
        .map(|r| (0..n_cols).map(|c| cell(r, c)).collect())
        .collect();
    let mut rows = vec![0.0; n_rows];
    let mut cols = vec![0.0; n_cols];
    let mut overall = 0.0;
    for _ in 0..SWEEPS {
        let mut moved = 0.0_f64;
        for (r, row) in resid.iter_mut().enumerate() {
            let present: Vec<f64> = row.iter().flatten().copied().collect();
            let Ok(m) = median(&present) else { continue };
            rows[r] += m;
            row.iter_mut().flatten().for_each(|v| *v -= m);
            moved = moved.max(m.abs());
        }
        if let Ok(m) = median(&cols) {
            overall += m;
            cols.iter_mut().for_each(|b| *b -= m);
        }
        for (c, col) in cols.iter_mut().enumerate() {
            let present: Vec<f64> = resid.iter().filter_map(|row| row[c]).collect();
            let Ok(m) = median(&present) else { continue };
            *col += m;
            resid.iter_mut().for_each(|row| {
                if let Some(v) = &mut row[c] {
                    *v -= m;
                }
            });
            moved = moved.max(m.abs());
        }
        if let Ok(m) = median(&rows) {
            overall += m;
            rows.iter_mut().for_each(|a| *a -= m);
        }
        if moved < 1e-12 {
            break;
        }
    }
    Polish {
        overall,
        rows,
        cols,
    }
}

/// σ_run from the run effects of a median polish of log medians: 1.4826 × MAD of the effects
/// (a standard deviation for normal shifts, unmoved by one odd run), times the small-sample
/// factor of [`small_cluster_factor`] with G = the number of runs (the same t/z correction the
/// process-level intervals get: a spread estimated from a few runs is itself uncertain).
/// `None` with fewer than two runs.
pub fn run_sigma(run_effects: &[f64], level: f64) -> Option<f64> {
    if run_effects.len() < 2 {
        return None;
    }
    let mad = super::summary::mad(run_effects).ok()?;
    Some(MAD_NORMAL_SCALE * mad * small_cluster_factor(run_effects.len(), level))
}

/// Where σ_run came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigmaSource {
    /// Measured from this many runs of history (this one included).
    History,
    /// The meter's prior: too little history, or a measured figure below it.
    Prior,
}

/// The σ_run a run uses: measured alone from [`MIN_RUNS_ALONE`] runs on (never below
/// [`SIGMA_FLOOR`]); from [`MIN_RUNS_MEASURED`] runs, the larger of the prior and the measured
/// figure; with less, the prior. `runs` counts this run.
pub fn choose_sigma(prior: f64, measured: Option<f64>, runs: usize) -> (f64, SigmaSource) {
    match measured {
        Some(s) if runs >= MIN_RUNS_ALONE => (s.max(SIGMA_FLOOR), SigmaSource::History),
        Some(s) if runs >= MIN_RUNS_MEASURED && s > prior => (s, SigmaSource::History),
        _ => (prior, SigmaSource::Prior),
    }
}

/// The two-sided `level` point of a normal: the z of "z · σ_run".
pub fn z(level: f64) -> f64 {
    normal_quantile((1.0 + level) / 2.0)
}

/// Widens an interval by independent relative spreads `sigmas` (σ_run of one or both sides),
/// each taken to `z`: in log space, each side's distance d from the point becomes
/// √(d² + Σ(z·σ)²), so a skewed interval stays skewed and the bounds stay positive. A point or
/// bound at or below zero (a net energy within the idle power's noise) has no logarithm: that
/// side is widened additively instead, √(d² + Σ(z·σ·|point|)²).
pub fn widen(e: Estimate<f64>, z: f64, sigmas: &[f64]) -> Estimate<f64> {
    let extra2: f64 = sigmas.iter().map(|s| (z * s).powi(2)).sum();
    if extra2 == 0.0 || !e.point.is_finite() {
        return e;
    }
    let log_side = |bound: f64| -> Option<f64> {
        (e.point > 0.0 && bound > 0.0).then(|| {
            let d = (e.point / bound).ln().abs();
            (d * d + extra2).sqrt()
        })
    };
    let additive = |bound: f64| {
        let d = (e.point - bound).abs();
        (d * d + extra2 * e.point * e.point).sqrt()
    };
    let lower = match log_side(e.lower) {
        Some(d) => e.point * (-d).exp(),
        None => e.point - additive(e.lower),
    };
    let upper = match log_side(e.upper) {
        Some(d) => e.point * d.exp(),
        None => e.point + additive(e.upper),
    };
    Estimate {
        point: e.point,
        lower: lower.min(e.lower),
        upper: upper.max(e.upper),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(point: f64, lower: f64, upper: f64) -> Estimate<f64> {
        Estimate {
            point,
            lower,
            upper,
        }
    }

    /// A table `overall + row + col` exactly, some cells missing and one cell wild.
    #[test]
    fn median_polish_recovers_additive_effects_despite_gaps_and_a_wild_cell() {
        let rows = [0.02, -0.01, 0.0, 0.015, -0.02, 0.005];
        let cols = [1.0, -2.0, 0.5, 3.0, -0.7];
        let mut table: Vec<Vec<Option<f64>>> = rows
            .iter()
            .map(|a| cols.iter().map(|b| Some(-6.0 + a + b)).collect())
            .collect();
        table[1][3] = None;
        table[4][0] = None;
        table[2][2] = Some(-6.0 + 0.5 + 0.4); // a candidate whose code changed in that run
        let p = median_polish(&table);
        // The row effects are recovered up to one common constant.
        let shift = p.rows[0] - rows[0];
        for (got, want) in p.rows.iter().zip(rows) {
            assert!((got - shift - want).abs() < 1e-9, "{:?}", p.rows);
        }
        for (r, a) in p.rows.iter().enumerate() {
            for (c, b) in p.cols.iter().enumerate() {
                if let Some(v) = table[r][c]
                    && (r, c) != (2, 2)
                {
                    assert!((p.overall + a + b - v).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn median_polish_of_an_empty_or_missing_table_is_zero() {
        assert_eq!(
            median_polish(&[]),
            Polish {
                overall: 0.0,
                rows: vec![],
                cols: vec![]
            }
        );
        let p = median_polish(&[vec![None, Some(f64::NAN)], vec![None, None]]);
        assert_eq!(p.rows, [0.0, 0.0]);
        assert_eq!(p.cols, [0.0, 0.0]);
    }

    #[test]
    fn run_sigma_is_a_scaled_mad_with_the_small_sample_factor() {
        assert_eq!(run_sigma(&[0.01], 0.95), None);
        let effects = [-0.02, -0.01, 0.0, 0.01, 0.02];
        // MAD 0.01 → 0.014826, × √(5/4)·t(4)/z = 1.5838.
        let s = run_sigma(&effects, 0.95).unwrap();
        let factor = small_cluster_factor(5, 0.95);
        assert!((factor - 1.584).abs() < 0.01, "{factor}");
        assert!((s - 0.014826 * factor).abs() < 1e-9, "{s}");
        // One wild run does not move it much.
        let wild = [-0.02, -0.01, 0.0, 0.01, 0.5];
        assert!((run_sigma(&wild, 0.95).unwrap() - s).abs() < 1e-9);
    }

    #[test]
    fn sigma_uses_history_alone_from_five_runs_and_the_prior_below() {
        let prior = 0.02;
        assert_eq!(choose_sigma(prior, None, 1), (0.02, SigmaSource::Prior));
        assert_eq!(
            choose_sigma(prior, Some(0.05), 2),
            (0.02, SigmaSource::Prior)
        );
        assert_eq!(
            choose_sigma(prior, Some(0.01), 4),
            (0.02, SigmaSource::Prior)
        );
        assert_eq!(
            choose_sigma(prior, Some(0.03), 3),
            (0.03, SigmaSource::History)
        );
        assert_eq!(
            choose_sigma(prior, Some(0.01), 5),
            (0.01, SigmaSource::History)
        );
        // A handful of lucky runs: the floor.
        assert_eq!(
            choose_sigma(prior, Some(0.0), 12),
            (SIGMA_FLOOR, SigmaSource::History)
        );
    }

    #[test]
    fn widening_is_in_log_space_and_keeps_skew() {
        let z = z(0.95);
        assert!((z - 1.959964).abs() < 1e-5);
        let e = est(100.0, 98.0, 103.0);
        let w = widen(e, z, &[0.02]);
        let (dl, du) = ((100.0_f64 / 98.0).ln(), (103.0_f64 / 100.0).ln());
        let extra = (z * 0.02).powi(2);
        assert!((w.lower - 100.0 * (-(dl * dl + extra).sqrt()).exp()).abs() < 1e-9);
        assert!((w.upper - 100.0 * (du * du + extra).sqrt().exp()).abs() < 1e-9);
        assert_eq!(w.point, 100.0);
        assert!(w.lower > 0.0 && w.lower < 98.0 && w.upper > 103.0);
        // The upper side stays the wider one.
        assert!(w.upper - 100.0 > 100.0 - w.lower);
        // A zero-width interval becomes ±z·σ in log space.
        let w = widen(est(1.0, 1.0, 1.0), z, &[0.02]);
        assert!((w.upper.ln() - z * 0.02).abs() < 1e-12);
        assert!((w.lower.ln() + z * 0.02).abs() < 1e-12);
        // Two sides' σ add in quadrature.
        let both = widen(est(1.0, 1.0, 1.0), z, &[0.02, 0.02]);
        assert!((both.upper.ln() - z * 0.02 * 2f64.sqrt()).abs() < 1e-12);
        // No σ: unchanged.
        assert_eq!(widen(e, z, &[]), e);
        assert_eq!(widen(e, z, &[0.0]), e);
    }

    #[test]
    fn non_positive_medians_and_bounds_widen_additively() {
        let z = 2.0;
        // A negative bound beside a positive point: that side additive, the other in log space.
        let w = widen(est(1.0, -0.5, 1.2), z, &[0.1]);
        assert!((w.lower - (1.0 - (1.5f64.powi(2) + 0.04).sqrt())).abs() < 1e-12);
        let du = 1.2f64.ln();
        assert!((w.upper - (du * du + 0.04).sqrt().exp()).abs() < 1e-12);
        // A negative point: both sides additive, by z·σ·|point|.
        let w = widen(est(-2.0, -2.5, -1.0), z, &[0.1]);
        assert!((w.lower - (-2.0 - (0.25f64 + 0.16).sqrt())).abs() < 1e-12);
        assert!((w.upper - (-2.0 + (1.0f64 + 0.16).sqrt())).abs() < 1e-12);
        // A zero point has no scale to widen by.
        assert_eq!(widen(est(0.0, -1.0, 1.0), z, &[0.1]), est(0.0, -1.0, 1.0));
        // Never narrower, and the point never moves.
        for e in [est(5.0, 4.0, 6.0), est(-1.0, -3.0, 2.0), est(0.1, 0.0, 0.2)] {
            let w = widen(e, z, &[0.03]);
            assert!(w.lower <= e.lower && w.upper >= e.upper && w.point == e.point);
        }
    }
}
