//! Ranking the candidates of one problem by median energy per call, with each one's ratio to
//! the best, a significance test between neighbours and a plain-language verdict.

use super::bootstrap::{BootstrapOptions, check_enough};
use super::compare::ratio_of_medians;
use super::error::StatsError;
use super::hierarchical::{grouped_ratio_of_medians, shape};
use super::mann_whitney::mann_whitney;
use super::rng::{derive_seed, stable_hash};
use super::summary::median;
use crate::results::{Estimate, RankEntry};

/// Why a ranking could not be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RankError {
    #[error("candidate `{candidate}`: {source}")]
    Candidate {
        candidate: String,
        #[source]
        source: StatsError,
    },
    #[error("ranking options: {0}")]
    Options(#[source] StatsError),
}

/// Orders candidates by median (lowest energy first; equal medians by name) and describes each.
///
/// Per entry:
/// - `rank`: 1 for the best, then 2, 3… (equal medians still get distinct ranks; the p-value
///   tells whether the order means anything);
/// - `ratio_to_best`: [`ratio_of_medians`] against the best, exactly 1 for the best itself.
///   Each pair resamples from its own stream, derived from `options.seed` and the two names,
///   so adding a candidate does not change the others' intervals;
/// - `significant_vs_next` / `p_value_vs_next`: two-sided Mann–Whitney test against the next
///   entry, significant when p < 1 − `options.level`; `None` for the last entry. The tests are
///   not corrected for multiplicity: they answer "is this step in the ranking real?", one
///   neighbouring pair at a time;
/// - `verdict`: e.g. `insertion_sort uses 2.31× the energy of std_sort (95% CI 2.25–2.38)`;
///   when an entry is not significantly different from the one ranked just above it, the
///   verdict adds `, not significantly different from X (p = 0.41)`.
///
/// Every candidate needs two finite samples at least, with a positive median unless it is the
/// only one; a candidate that fails is named in the error. No candidates, no entries.
pub fn rank<N: AsRef<str>, S: AsRef<[f64]>>(
    candidates: &[(N, S)],
    options: &BootstrapOptions,
) -> Result<Vec<RankEntry>, RankError> {
    let (names, medians) = validated(candidates, options)?;
    let named = |i: usize| named(names[i]);
    let samples = |i: usize| candidates[i].1.as_ref();
    entries(
        &names,
        &medians,
        options,
        |i, best, pair| ratio_of_medians(samples(i), samples(best), pair).map_err(named(i)),
        |a, b| {
            mann_whitney(samples(a), samples(b))
                .map(|t| t.p_value)
                .map_err(named(a))
        },
    )
}

/// [`rank`] over samples grouped by the worker process that took them (see
/// [`hierarchical`](super::hierarchical)): medians of all samples, ratio intervals from the
/// two-stage bootstrap, and the step between neighbours tested by that bootstrap (its
/// two-sided achieved significance of a ratio of 1) instead of Mann–Whitney, whose
/// independent-samples assumption processes break. When no candidate has more than one
/// process, this is exactly [`rank`] on the pooled samples.
pub fn rank_grouped<N: AsRef<str>, G: AsRef<[Vec<f64>]>>(
    candidates: &[(N, G)],
    options: &BootstrapOptions,
) -> Result<Vec<RankEntry>, RankError> {
    let pooled: Vec<(&str, Vec<f64>)> = candidates
        .iter()
        .map(|(n, g)| (n.as_ref(), g.as_ref().concat()))
        .collect();
    if candidates.iter().all(|(_, g)| shape(g.as_ref()).0 <= 1) {
        return rank(&pooled, options);
    }
    let (names, medians) = validated(&pooled, options)?;
    let named = |i: usize| named(names[i]);
    let groups = |i: usize| candidates[i].1.as_ref();
    entries(
        &names,
        &medians,
        options,
        |i, best, pair| {
            grouped_ratio_of_medians(groups(i), groups(best), pair)
                .map(|r| r.estimate)
                .map_err(named(i))
        },
        |a, b| {
            let stream = stable_hash(names[b]) ^ stable_hash(names[a]).rotate_left(1);
            let pair = options.with_seed(derive_seed(options.seed, stream));
            grouped_ratio_of_medians(groups(b), groups(a), &pair)
                .map(|r| r.p_equal)
                .map_err(named(a))
        },
    )
}

/// An error about the candidate `name`.
fn named(name: &str) -> impl Fn(StatsError) -> RankError + '_ {
    move |source| RankError::Candidate {
        candidate: name.to_owned(),
        source,
    }
}

/// Checks the options and each candidate's samples; their names and medians.
fn validated<'a, N: AsRef<str>, S: AsRef<[f64]>>(
    candidates: &'a [(N, S)],
    options: &BootstrapOptions,
) -> Result<(Vec<&'a str>, Vec<f64>), RankError> {
    options.check().map_err(RankError::Options)?;
    let names: Vec<&str> = candidates.iter().map(|c| c.0.as_ref()).collect();
    let mut medians = Vec::with_capacity(candidates.len());
    for (name, samples) in names.iter().zip(candidates.iter().map(|c| c.1.as_ref())) {
        let m = median(samples).map_err(named(name))?;
        check_enough(samples).map_err(named(name))?;
        medians.push(m);
    }
    Ok((names, medians))
}

/// The ranking itself, given how to get a ratio to the best (`ratio(i, best, options)`) and the
/// p-value of the step between two neighbours (`p(upper, lower)`).
fn entries(
    names: &[&str],
    medians: &[f64],
    options: &BootstrapOptions,
    ratio: impl Fn(usize, usize, &BootstrapOptions) -> Result<Estimate<f64>, RankError>,
    p: impl Fn(usize, usize) -> Result<f64, RankError>,
) -> Result<Vec<RankEntry>, RankError> {
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&x, &y| {
        medians[x]
            .total_cmp(&medians[y])
            .then_with(|| names[x].cmp(names[y]))
    });
    let name = |i: usize| names[i];

    let Some(&best) = order.first() else {
        return Ok(Vec::new());
    };
    let mut ratios = Vec::with_capacity(order.len());
    for &i in &order {
        ratios.push(if i == best {
            Estimate {
                point: 1.0,
                lower: 1.0,
                upper: 1.0,
            }
        } else {
            let stream = stable_hash(name(i)) ^ stable_hash(name(best)).rotate_left(1);
            let pair = options.with_seed(derive_seed(options.seed, stream));
            ratio(i, best, &pair)?
        });
    }
    let mut p_next = Vec::with_capacity(order.len());
    for pair in order.windows(2) {
        p_next.push(Some(p(pair[0], pair[1])?));
    }
    p_next.push(None);

    let alpha = 1.0 - options.level;
    let level = format_level(options.level);
    let entries = order
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let ratio = ratios[k];
            let mut verdict = if order.len() == 1 {
                format!("{} is the only measured candidate", name(i))
            } else if k == 0 {
                format!("{} uses the least energy", name(i))
            } else {
                format!(
                    "{} uses {:.2}× the energy of {} ({level} CI {:.2}–{:.2})",
                    name(i),
                    ratio.point,
                    name(best),
                    ratio.lower,
                    ratio.upper
                )
            };
            // The step that matters for this entry is the one from the entry just above it
            // (or, for the best, to the one just below).
            let neighbour = if k == 0 {
                order.get(1).map(|&j| (j, p_next[0]))
            } else {
                Some((order[k - 1], p_next[k - 1]))
            };
            if let Some((j, Some(p))) = neighbour
                && p >= alpha
            {
                let joint = if k == 0 { ", but is" } else { "," };
                verdict.push_str(&format!(
                    "{joint} not significantly different from {} ({})",
                    name(j),
                    format_p(p)
                ));
            }
            RankEntry {
                rank: k as u32 + 1,
                candidate: name(i).to_owned(),
                ratio_to_best: ratio,
                significant_vs_next: p_next[k].map(|p| p < alpha),
                p_value_vs_next: p_next[k],
                verdict,
            }
        })
        .collect();
    Ok(entries)
}

/// `0.95` → `95%`, `0.999` → `99.9%`.
pub fn format_level(level: f64) -> String {
    let pct = format!("{:.2}", level * 100.0);
    let pct = pct.trim_end_matches('0').trim_end_matches('.');
    format!("{pct}%")
}

/// `p = 0.41`, `p = 0.004`, `p < 0.001`.
pub fn format_p(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".to_owned()
    } else if p < 0.01 {
        format!("p = {p:.3}")
    } else {
        format!("p = {p:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn around(center: f64, n: u32, spread: f64) -> Vec<f64> {
        (0..n)
            .map(|i| center * (1.0 - spread + 2.0 * spread * f64::from(i) / f64::from(n - 1)))
            .collect()
    }

    #[test]
    fn ranks_by_median_with_verdicts() {
        let candidates = vec![
            ("insertion_sort", around(2.31, 25, 0.01)),
            ("std_sort", around(1.0, 25, 0.01)),
            ("merge_sort", around(1.2, 25, 0.01)),
        ];
        let entries = rank(&candidates, &BootstrapOptions::default()).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.candidate.as_str()).collect();
        assert_eq!(names, ["std_sort", "merge_sort", "insertion_sort"]);
        assert_eq!(
            entries.iter().map(|e| e.rank).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(entries[0].verdict, "std_sort uses the least energy");
        assert_eq!(entries[0].ratio_to_best.point, 1.0);
        let e = &entries[2];
        assert!((e.ratio_to_best.point - 2.31).abs() < 1e-9);
        assert!(
            e.verdict
                .starts_with("insertion_sort uses 2.31× the energy of std_sort (95% CI 2."),
            "{}",
            e.verdict
        );
        assert_eq!(entries[0].significant_vs_next, Some(true));
        assert_eq!(entries[1].significant_vs_next, Some(true));
        assert_eq!(entries[2].significant_vs_next, None);
        assert!(entries[0].p_value_vs_next.unwrap() < 1e-6);
    }

    #[test]
    fn verdict_format_is_exact() {
        let candidates = [
            ("std_sort", vec![1.0, 1.0, 1.0, 1.0]),
            ("insertion_sort", vec![2.31, 2.31, 2.31, 2.31]),
        ];
        let entries = rank(&candidates, &BootstrapOptions::default()).unwrap();
        assert_eq!(
            entries[1].verdict,
            "insertion_sort uses 2.31× the energy of std_sort (95% CI 2.31–2.31)"
        );
    }

    #[test]
    fn not_significant_neighbours_are_said_so() {
        // Interleaved samples: medians differ slightly, ranks do not.
        let a = vec![1.00, 1.02, 1.04, 1.06, 1.08];
        let b = vec![1.01, 1.03, 1.05, 1.07, 1.09];
        let entries = rank(&[("a", a), ("b", b)], &BootstrapOptions::default()).unwrap();
        assert_eq!(entries[0].significant_vs_next, Some(false));
        // Exact p for this interleaving: U = 10 of 25, two-sided 0.69…
        assert_eq!(
            entries[0].verdict,
            "a uses the least energy, but is not significantly different from b (p = 0.69)"
        );
        assert!(
            entries[1]
                .verdict
                .ends_with(", not significantly different from a (p = 0.69)"),
            "{}",
            entries[1].verdict
        );
    }

    #[test]
    fn single_and_empty() {
        let one = rank(&[("only", vec![1.0, 2.0])], &BootstrapOptions::default()).unwrap();
        assert_eq!(one[0].verdict, "only is the only measured candidate");
        assert_eq!(
            (one[0].significant_vs_next, one[0].p_value_vs_next),
            (None, None)
        );
        let none: Vec<(&str, Vec<f64>)> = Vec::new();
        assert!(
            rank(&none, &BootstrapOptions::default())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn errors_name_the_candidate() {
        let err = rank(
            &[("good", vec![1.0, 2.0]), ("short", vec![1.0])],
            &BootstrapOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            RankError::Candidate {
                candidate: "short".into(),
                source: StatsError::TooFew { needed: 2, got: 1 }
            }
        );
        assert!(err.to_string().starts_with("candidate `short`: "));
    }

    #[test]
    fn seeds_do_not_depend_on_other_candidates() {
        let o = BootstrapOptions::default();
        let a = ("a", around(1.0, 20, 0.05));
        let b = ("b", around(1.5, 20, 0.05));
        let c = ("c", around(3.0, 20, 0.05));
        let two = rank(&[a.clone(), b.clone()], &o).unwrap();
        let three = rank(&[a, b, c], &o).unwrap();
        assert_eq!(two[1].ratio_to_best, three[1].ratio_to_best);
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(format_level(0.95), "95%");
        assert_eq!(format_level(0.999), "99.9%");
        assert_eq!(format_p(0.4123), "p = 0.41");
        assert_eq!(format_p(0.0042), "p = 0.004");
        assert_eq!(format_p(0.0001), "p < 0.001");
    }
}
