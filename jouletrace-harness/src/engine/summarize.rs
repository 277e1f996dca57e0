//! From raw samples to the statistics and rankings in the results (all arithmetic is in
//! [`crate::stats`]; this module only picks the series and records what it found).

use super::background;
use crate::config::RunConfig;
use crate::results::{
    CaseMeasurement, CaseRanking, CaseStats, Estimate, MeterRecord, ProblemResult, RunToRun,
    Sample, Status, WithinRun,
};
use crate::stats::{self, BootstrapOptions, Summary};
use crate::units::{Joules, Watts};

/// A net power above this, per measured domain, is not something one core can draw.
const IMPLAUSIBLE_NET_W: f64 = 500.0;

fn options(config: &RunConfig) -> BootstrapOptions {
    BootstrapOptions::new(
        config.confidence_level,
        config.bootstrap_resamples,
        config.seed,
    )
}

pub use crate::results::per_call;

fn energy(s: &Sample, domain: &str, net: bool) -> Option<f64> {
    s.energy_in(domain, net)
}

/// Energy per call of each sample in `domain`, grouped by the worker process that took it
/// (ascending process index; processes without a value are left out).
pub fn per_call_grouped(samples: &[Sample], domain: &str, net: bool) -> Vec<Vec<f64>> {
    grouped(samples, |s| {
        energy(s, domain, net).map(|e| e / s.calls as f64)
    })
}

/// Any per-sample figure, grouped by process.
fn grouped(samples: &[Sample], value: impl Fn(&Sample) -> Option<f64>) -> Vec<Vec<f64>> {
    let mut groups: std::collections::BTreeMap<u32, Vec<f64>> = Default::default();
    for s in samples {
        if let Some(v) = value(s) {
            groups.entry(s.process).or_default().push(v);
        }
    }
    groups.into_values().collect()
}

/// Whether the confidence interval of the median energy per call (over processes, see
/// [`stats::hierarchical`]) is within the run's target.
pub fn within_target(values: &[Vec<f64>], config: &RunConfig) -> bool {
    stats::grouped_median_ci(values, &options(config))
        .ok()
        .filter(|e| e.point > 0.0)
        .and_then(|e| {
            stats::relative_half_width(
                &stats::Interval {
                    lower: e.lower,
                    upper: e.upper,
                },
                e.point,
            )
            .ok()
        })
        .is_some_and(|w| w <= config.target_ci)
}

fn ci(values: &[Vec<f64>], config: &RunConfig) -> Option<Estimate<f64>> {
    stats::grouped_median_ci(values, &options(config)).ok()
}

/// An estimate in a unit type as plain numbers (the inverse of [`map`]).
fn raw<T: Copy>(e: Estimate<T>, f: impl Fn(T) -> f64) -> Estimate<f64> {
    Estimate {
        point: f(e.point),
        lower: f(e.lower),
        upper: f(e.upper),
    }
}

fn map<T>(e: Estimate<f64>, f: impl Fn(f64) -> T) -> Estimate<T> {
    Estimate {
        point: f(e.point),
        lower: f(e.lower),
        upper: f(e.upper),
    }
}

/// The samples of `m` its statistics, ranking and baseline comparison use: the quiet ones while
/// at least `min_trials` remain (see [`background`]), and whether flagged ones had to be used.
pub fn used_samples(m: &CaseMeasurement, min_trials: u32) -> (Vec<Sample>, bool) {
    background::usable(&m.samples, min_trials)
}

/// Whether a measurement's figures are not to be trusted: its statistics had to include samples
/// flagged for background activity, or the machine was busy for much of it
/// ([`background::busy`]).
pub fn unreliable(m: &CaseMeasurement, min_trials: u32) -> bool {
    used_samples(m, min_trials).1 || background::busy(&m.samples)
}

/// Statistics of one measured case; flags outliers on the samples themselves. Statistics that
/// were already widened by a run-to-run σ (a merge of shards recomputes them) are widened by it
/// again.
pub fn case(m: &mut CaseMeasurement, domain: &str, estimated: bool, config: &RunConfig) {
    let run_to_run = m.stats.as_ref().and_then(|s| s.run_to_run.clone());
    let (used, contaminated) = used_samples(m, config.min_trials);
    let unreliable = contaminated || background::busy(&m.samples);
    let net = per_call(&used, domain, true);
    if net.len() != used.len() || net.len() < 2 {
        return;
    }
    if let Ok(classes) = stats::tukey(&net) {
        let mut classes = classes.iter();
        for s in m.samples.iter_mut() {
            s.outlier = false;
            if contaminated || !s.background_activity {
                s.outlier = classes.next().is_some_and(|c| c.is_outlier());
            }
        }
    }
    let gross = per_call_grouped(&used, domain, false);
    let power = |net: bool| grouped(&used, |s| energy(s, domain, net).map(|e| e / s.measured_s));
    let time = grouped(&used, |s| Some(s.measured_s / s.calls as f64));
    let net_groups = per_call_grouped(&used, domain, true);
    let (Some(e_net), Some(e_gross), Some(p_gross), Some(p_net), Some(t), Ok(summary)) = (
        ci(&net_groups, config),
        ci(&gross, config),
        ci(&power(false), config),
        ci(&power(true), config),
        ci(&time, config),
        Summary::of(&net),
    ) else {
        return;
    };
    let mut flags = Vec::new();
    if estimated {
        flags.push("estimated".to_owned());
    }
    if p_net.point < 0.0 {
        flags.push("negative_net_power".to_owned());
    }
    if p_net.point > IMPLAUSIBLE_NET_W {
        flags.push("net_power_above_plausible".to_owned());
    }
    if m.samples.iter().any(|s| s.background_activity) {
        flags.push("background_activity".to_owned());
    }
    if unreliable {
        flags.push("unreliable".to_owned());
    }
    m.stats = Some(CaseStats {
        domain: domain.to_owned(),
        energy_per_call_j: map(e_gross, Joules),
        net_energy_per_call_j: map(e_net, Joules),
        power_w: map(p_gross, Watts),
        net_power_w: map(p_net, Watts),
        time_per_call_s: t,
        mean_energy_per_call_j: Joules(summary.mean),
        stddev_energy_per_call_j: Joules(summary.std_dev.unwrap_or(0.0)),
        mad_energy_per_call_j: Joules(summary.mad),
        cv: summary.cv.unwrap_or(0.0),
        outliers: m.samples.iter().filter(|s| s.outlier).count() as u32,
        samples: used.len() as u32,
        processes: net_groups.len() as u32,
        flags,
        run_to_run: None,
        within_run: None,
    });
    if let (Some(stats), Some(r)) = (&mut m.stats, run_to_run) {
        widen(stats, r, config.confidence_level);
    }
}

/// Widens every interval of `stats` by the run-to-run σ `r` (log space,
/// [`stats::run_to_run::widen`]) and keeps the within-run intervals beside them. Idempotent: the
/// widening always starts from the within-run intervals.
pub fn widen(stats: &mut CaseStats, r: RunToRun, level: f64) {
    let within = stats.within_run.take().unwrap_or(WithinRun {
        energy_per_call_j: stats.energy_per_call_j,
        net_energy_per_call_j: stats.net_energy_per_call_j,
        power_w: stats.power_w,
        net_power_w: stats.net_power_w,
        time_per_call_s: stats.time_per_call_s,
    });
    let z = stats::run_to_run::z(level);
    let w = |e: Estimate<f64>| stats::run_to_run::widen(e, z, &[r.sigma]);
    let j = |e: Estimate<Joules>| map(w(raw(e, |x| x.0)), Joules);
    let p = |e: Estimate<Watts>| map(w(raw(e, |x| x.0)), Watts);
    stats.energy_per_call_j = j(within.energy_per_call_j);
    stats.net_energy_per_call_j = j(within.net_energy_per_call_j);
    stats.power_w = p(within.power_w);
    stats.net_power_w = p(within.net_power_w);
    stats.time_per_call_s = w(within.time_per_call_s);
    stats.within_run = Some(within);
    stats.run_to_run = Some(r);
}

/// Fills each measured case's statistics and the problem's per-case rankings.
pub fn problem(
    p: &mut ProblemResult,
    primary: Option<&str>,
    meter: Option<&MeterRecord>,
    config: &RunConfig,
) {
    let Some(domain) = primary else { return };
    let estimated = meter.is_some_and(|m| m.estimated);
    for c in &mut p.candidates {
        for m in &mut c.measurements {
            let d = m
                .primary_domain
                .clone()
                .unwrap_or_else(|| domain.to_owned());
            case(m, &d, estimated, config);
        }
    }
    p.rankings.clear();
    for case in p.cases.iter().filter(|c| c.measured) {
        // Rank on net energy; if an idle subtraction left a median at or below zero, the ratios
        // would be meaningless, so fall back to gross (the stats flags say why).
        let series = |net: bool| -> Vec<(String, Vec<Vec<f64>>)> {
            p.candidates
                .iter()
                .filter(|c| c.status == Status::Passed)
                .filter_map(|c| {
                    let m = c
                        .measurements
                        .iter()
                        .find(|m| m.case == case.id && m.failure.is_none() && m.stats.is_some())?;
                    let d = m.primary_domain.as_deref().unwrap_or(domain);
                    let (used, _) = used_samples(m, config.min_trials);
                    Some((c.name.clone(), per_call_grouped(&used, d, net)))
                })
                .collect()
        };
        let net = series(true);
        if net.is_empty() {
            continue;
        }
        let ranked = stats::rank_grouped(&net, &options(config))
            .or_else(|_| stats::rank_grouped(&series(false), &options(config)));
        if let Ok(entries) = ranked {
            p.rankings.push(CaseRanking {
                case: case.id.clone(),
                entries,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::Backend;
    use crate::results::RunToRunSource;

    fn stats() -> CaseStats {
        let e = |p: f64| Estimate {
            point: p,
            lower: p * 0.99,
            upper: p * 1.02,
        };
        let j = |p: f64| map(e(p), Joules);
        let w = |p: f64| map(e(p), Watts);
        CaseStats {
            domain: "package-0".into(),
            energy_per_call_j: j(2.0),
            net_energy_per_call_j: j(1.0),
            power_w: w(20.0),
            net_power_w: Estimate {
                point: Watts(0.5),
                lower: Watts(-0.1),
                upper: Watts(0.8),
            },
            time_per_call_s: e(0.1),
            mean_energy_per_call_j: Joules(1.0),
            stddev_energy_per_call_j: Joules(0.01),
            mad_energy_per_call_j: Joules(0.01),
            cv: 0.01,
            outliers: 0,
            samples: 12,
            processes: 4,
            flags: vec![],
            run_to_run: None,
            within_run: None,
        }
    }

    fn r2r(sigma: f64) -> RunToRun {
        RunToRun {
            sigma,
            source: RunToRunSource::Prior,
            runs: 1,
            meter: Backend::Estimate,
        }
    }

    #[test]
    fn widening_keeps_the_within_run_intervals_and_is_idempotent() {
        let before = stats();
        let mut s = before.clone();
        widen(&mut s, r2r(0.02), 0.95);
        let within = s.within_run.clone().unwrap();
        assert_eq!(within.net_energy_per_call_j, before.net_energy_per_call_j);
        assert_eq!(within.net_power_w, before.net_power_w);
        assert_eq!(s.run_to_run, Some(r2r(0.02)));
        let z = stats::run_to_run::z(0.95);
        let n = s.net_energy_per_call_j;
        assert_eq!(n.point, Joules(1.0));
        let d = (1.02f64).ln();
        assert!((n.upper.0.ln() - (d * d + (z * 0.02).powi(2)).sqrt()).abs() < 1e-12);
        // Every interval is wider, points unmoved; the net power's negative bound additively.
        for (a, b) in [
            (
                s.energy_per_call_j.lower.0,
                before.energy_per_call_j.lower.0,
            ),
            (s.power_w.lower.0, before.power_w.lower.0),
            (s.net_power_w.lower.0, before.net_power_w.lower.0),
            (s.time_per_call_s.lower, before.time_per_call_s.lower),
        ] {
            assert!(a < b, "{a} {b}");
        }
        assert_eq!(s.time_per_call_s.point, 0.1);
        // Again, or with another σ: from the within-run intervals, never widened twice.
        let once = s.clone();
        widen(&mut s, r2r(0.02), 0.95);
        assert_eq!(s, once);
        widen(&mut s, r2r(0.0), 0.95);
        assert_eq!(s.net_energy_per_call_j, before.net_energy_per_call_j);
    }
}
