//! Whether a test's effect differs between two runs of it: two data sets
//! under one model (sims against real images: different examples, so each
//! set is resampled on its own, an unpaired bootstrap) or two models on one
//! data set (the same images through both, so one draw of example indices
//! serves both models, a paired bootstrap).
//!
//! A sweep's effect at a level is its change from the unperturbed mean, so
//! the difference at a level is run B's change minus run A's: it asks
//! whether the sensitivity differs, not whether one run scores higher
//! throughout. A property or class test's effect is the spread between its
//! best and worst group, and the difference is B's spread minus A's.
//!
//! A replicate's draws depend only on the seed, the replicate's index and
//! the sizes resampled (see `bootstrap`), so a paired comparison is the two
//! runs resampled with the same seed (it refuses runs of different sizes),
//! and an unpaired one uses a second seed derived from the first for run B.

use ndarray::{Array1, Array2, Axis};
use serde::Serialize;

use super::bootstrap::{grouped_means, paired_means, percentile_interval, simultaneous_intervals};
use super::{Estimate, Settings, Verdict, check_settings};
use crate::{Error, Result};

/// Each example's score behind one test's levels: what comparing two runs
/// of the test resamples.
#[derive(Clone, Debug, Default)]
pub enum ExampleScores {
    /// A sweep: examples x levels, and each example's unperturbed score.
    Paired {
        /// Examples x levels.
        scores: Array2<f64>,
        /// Each example's unperturbed score.
        reference: Array1<f64>,
    },
    /// A property or class test: the scores of each group's examples.
    Groups(Vec<Vec<f64>>),
    /// None kept (a result read back without its scores).
    #[default]
    None,
}

/// The difference at one level of a sweep.
#[derive(Clone, Debug, Serialize)]
pub struct LevelDifference {
    /// The difference of the changes from the unperturbed mean.
    pub value: f64,
    /// A grid's cell: its two values (the caller fills them in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<[f64; 2]>,
    /// Run B's change from its unperturbed mean minus run A's.
    pub difference: f64,
    /// Percentile 95% interval of this level alone.
    pub ci95: [f64; 2],
    /// 95% interval holding simultaneously over all levels (max-|t|), the
    /// one the verdict reads.
    pub simultaneous_ci95: [f64; 2],
}

/// How a test's effect differs between two runs, with its own verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Difference {
    /// The runs compared, A then B: the difference is B's effect minus A's.
    pub between: [String; 2],
    /// Paired over examples (the same images, two models) or not (two data sets).
    pub paired: bool,
    /// What is differenced: each level's change from the unperturbed mean
    /// (sweeps) or the spread between best and worst group.
    pub of: &'static str,
    /// Sweeps: the difference at every level.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<LevelDifference>,
    /// Sweeps: the difference of largest size, with its simultaneous
    /// interval; groups: the spreads' difference with its basic bootstrap interval.
    pub largest: Estimate,
    /// Sweeps: the level where the largest difference is.
    pub largest_at: Option<f64>,
    /// What the verdict reads, divided by `scale` (see [`DIFFERENCE_RULE`]).
    pub size: f64,
    /// What the size is divided by.
    pub scale: f64,
    /// The verdict.
    pub verdict: Verdict,
    /// How the verdict is decided, in words.
    pub verdict_rule: &'static str,
}

/// The rule of a difference's verdict, as written into every comparison.
pub const DIFFERENCE_RULE: &str = "difference = run B's effect minus run A's: for a sweep at each level (B's mean score change from its unperturbed \
mean) - (A's), for a property or class test B's best-minus-worst group spread - A's. Bootstrap over examples, paired (the same resampled \
examples for both runs) when two models see the same images, each run resampled on its own when the data sets differ. size = the largest \
|difference| among levels whose simultaneous 95% interval (max-|t| over levels) excludes 0, or |spread difference| when its 95% basic \
bootstrap interval (percentiles reflected about the estimate) excludes 0 (approximate: 8 to 13% false alarms at 5% nominal in null \
simulations, see docs/design.md); otherwise 0; divided by the scale. high: size >= 0.10; medium: size >= 0.02; low: otherwise.";

/// The difference of a test's effect between runs `a` and `b` (named
/// `names`), at the sweep levels `values` (ignored for groups).
pub fn difference(
    a: &ExampleScores,
    b: &ExampleScores,
    values: &[f64],
    names: [String; 2],
    paired: bool,
    settings: &Settings,
) -> Result<Difference> {
    check_settings(settings)?;
    let seed_b = if paired {
        settings.seed
    } else {
        crate::rng::derive_seed(settings.seed, &[1])
    };
    let mismatch = |why: String| {
        Error::invalid(
            format!("comparison of '{}' with '{}'", names[0], names[1]),
            why,
        )
    };
    let (levels, largest, largest_at, size, of) = match (a, b) {
        (
            ExampleScores::Paired {
                scores: sa,
                reference: ra,
            },
            ExampleScores::Paired {
                scores: sb,
                reference: rb,
            },
        ) => {
            let count = values.len();
            if sa.ncols() != count || sb.ncols() != count || sa.nrows() == 0 || sb.nrows() == 0 {
                return Err(mismatch(format!(
                    "{} and {} levels against {count} values; both runs need every level and at least one example",
                    sa.ncols(),
                    sb.ncols()
                )));
            }
            if paired && sa.nrows() != sb.nrows() {
                return Err(mismatch(format!(
                    "a paired comparison needs the same examples, but the runs hold {} and {}",
                    sa.nrows(),
                    sb.nrows()
                )));
            }
            // Each run's changes from its unperturbed mean, in every replicate.
            let changes = |scores: &Array2<f64>, reference: &Array1<f64>, seed: u64| {
                let means = paired_means(
                    &[scores.view(), reference.view().insert_axis(Axis(1))],
                    settings.replicates,
                    seed,
                );
                let replicates = Array2::from_shape_fn((settings.replicates, count), |(r, l)| {
                    means[[r, l]] - means[[r, count]]
                });
                // Per example first, so a level that is the unperturbed pass
                // (a sweep's identity) changes by exactly 0, not by rounding.
                let estimate: Vec<f64> = scores
                    .columns()
                    .into_iter()
                    .map(|level| (&level - reference).mean().expect("at least one example"))
                    .collect();
                (estimate, replicates)
            };
            let (ea, xa) = changes(sa, ra, settings.seed);
            let (eb, xb) = changes(sb, rb, seed_b);
            let replicates = xb - xa;
            let estimate: Vec<f64> = eb.iter().zip(&ea).map(|(b, a)| b - a).collect();
            let band = simultaneous_intervals(replicates.view(), &estimate);
            let levels: Vec<LevelDifference> = (0..count)
                .map(|l| LevelDifference {
                    value: values[l],
                    values: None,
                    difference: estimate[l],
                    ci95: percentile_interval(&replicates.column(l).to_vec(), 0.95),
                    simultaneous_ci95: band[l],
                })
                .collect();
            let at = (0..count)
                .max_by(|&i, &j| estimate[i].abs().total_cmp(&estimate[j].abs()))
                .expect("at least one level");
            let size = levels
                .iter()
                .filter(|l| excludes_zero(l.simultaneous_ci95))
                .map(|l| l.difference.abs())
                .fold(0.0, f64::max);
            let largest = Estimate {
                value: estimate[at],
                ci95: band[at],
            };
            (
                levels,
                largest,
                Some(values[at]),
                size,
                "change from the unperturbed mean at each level",
            )
        }
        (ExampleScores::Groups(ga), ExampleScores::Groups(gb)) => {
            let sizes = |g: &[Vec<f64>]| g.iter().map(Vec::len).collect::<Vec<_>>();
            if paired && sizes(ga) != sizes(gb) {
                return Err(mismatch(
                    "a paired comparison needs the same groups of the same examples".into(),
                ));
            }
            let spreads = |groups: &[Vec<f64>], seed: u64| -> Result<Spreads> {
                // Groups too small to resample take no part, as in the test itself.
                let eligible: Vec<&[f64]> = groups
                    .iter()
                    .filter(|g| g.len() >= super::MIN_GROUP)
                    .map(Vec::as_slice)
                    .collect();
                if eligible.is_empty() {
                    return Err(mismatch(format!(
                        "a run has no group of {} or more examples to compare",
                        super::MIN_GROUP
                    )));
                }
                let means: Vec<f64> = eligible
                    .iter()
                    .map(|g| g.iter().sum::<f64>() / g.len() as f64)
                    .collect();
                let replicates = grouped_means(&eligible, settings.replicates, seed);
                Ok(Spreads {
                    value: spread(means.iter().copied()),
                    replicates: replicates
                        .axis_iter(Axis(0))
                        .map(|r| spread(r.iter().copied()))
                        .collect(),
                })
            };
            let (run_a, run_b) = (spreads(ga, settings.seed)?, spreads(gb, seed_b)?);
            let replicates: Vec<f64> = run_b
                .replicates
                .iter()
                .zip(&run_a.replicates)
                .map(|(b, a)| b - a)
                .collect();
            // The basic (reverse percentile) interval: a best-minus-worst
            // spread is biased upwards, the more so the fewer examples a
            // group holds, and its replicates by about as much again;
            // reflecting the percentiles about the estimate takes that
            // shift off once instead of adding it. Near a spread of zero the
            // max-minus-min is not smooth and neither interval holds its
            // level: in null simulations (numpy, 150 and 200 trials, 4
            // groups of 100 against 25 examples) 8% and 13% were flagged,
            // 11.5% with percentiles, against 5% nominal.
            let value = run_b.value - run_a.value;
            let [lo, hi] = percentile_interval(&replicates, 0.95);
            let largest = Estimate {
                value,
                ci95: [2.0 * value - hi, 2.0 * value - lo],
            };
            let size = if excludes_zero(largest.ci95) {
                largest.value.abs()
            } else {
                0.0
            };
            (
                Vec::new(),
                largest,
                None,
                size,
                "best minus worst group mean",
            )
        }
        _ => {
            return Err(mismatch(
                "the runs' tests are of different kinds, or their per-example scores were not kept"
                    .into(),
            ));
        }
    };
    let size = size / settings.scale;
    Ok(Difference {
        between: names,
        paired,
        of,
        levels,
        largest,
        largest_at,
        size,
        scale: settings.scale,
        verdict: Verdict::from_effect(size),
        verdict_rule: DIFFERENCE_RULE,
    })
}

fn excludes_zero([lo, hi]: [f64; 2]) -> bool {
    lo > 0.0 || hi < 0.0
}

fn spread(values: impl Iterator<Item = f64> + Clone) -> f64 {
    values.clone().fold(f64::NEG_INFINITY, f64::max) - values.fold(f64::INFINITY, f64::min)
}

/// A run's best-minus-worst group spread and its bootstrap replicates.
struct Spreads {
    value: f64,
    replicates: Vec<f64>,
}

#[cfg(test)]
mod tests {
    //! References: the difference of means is computed directly, and the
    //! bootstrap's 95% percentile interval is checked against the normal
    //! approximation d +- 1.96 se with the analytic standard error of a
    //! bootstrap mean (population variance / n; unpaired: the two runs'
    //! variances add; paired: the variance of the per-example differences).
    //! With 4000 replicates the interval's half-width carries about 1%
    //! Monte Carlo error, and these near-normal scores about 1% skew, so
    //! half-widths must agree within 5%.
    use ndarray::{Array1, Array2};

    use super::*;
    use crate::rng::SeededRng;

    fn settings() -> Settings {
        Settings {
            replicates: 4000,
            seed: 7,
            threshold: None,
            scale: 1.0,
        }
    }

    /// A one-level sweep: reference scores and the level's scores, whose
    /// per-example change is `change(i)`.
    fn sweep(n: usize, seed: u64, change: impl Fn(usize, &mut SeededRng) -> f64) -> ExampleScores {
        let mut rng = SeededRng::new(seed, &[]);
        let reference = Array1::from_shape_fn(n, |_| 0.5 + 0.2 * rng.normal());
        let scores = Array2::from_shape_fn((n, 1), |(i, _)| reference[i] + change(i, &mut rng));
        ExampleScores::Paired { scores, reference }
    }

    fn changes(s: &ExampleScores) -> Vec<f64> {
        let ExampleScores::Paired { scores, reference } = s else {
            unreachable!()
        };
        (0..reference.len())
            .map(|i| scores[[i, 0]] - reference[i])
            .collect()
    }

    fn mean_var(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        (m, v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n)
    }

    fn names() -> [String; 2] {
        ["sims".into(), "real".into()]
    }

    #[test]
    fn unpaired_sets_match_the_analytic_difference_and_its_standard_error() {
        let a = sweep(400, 1, |_, r| -0.1 + 0.2 * r.normal());
        let b = sweep(300, 2, |_, r| -0.3 + 0.1 * r.normal());
        let d = difference(&a, &b, &[1.0], names(), false, &settings()).unwrap();
        let ((ma, va), (mb, vb)) = (mean_var(&changes(&a)), mean_var(&changes(&b)));
        let level = &d.levels[0];
        assert!((level.difference - (mb - ma)).abs() < 1e-12);
        let se = (va / 400.0 + vb / 300.0).sqrt();
        let half = (level.ci95[1] - level.ci95[0]) / 2.0;
        assert!(
            (half / (1.96 * se) - 1.0).abs() < 0.05,
            "{half} vs {}",
            1.96 * se
        );
        // About -0.2 with a se near 0.013: a high verdict.
        assert_eq!(d.verdict, Verdict::High);
        assert!((d.size - (mb - ma).abs()).abs() < 1e-12 && !d.paired);
    }

    #[test]
    fn paired_models_resample_the_same_examples() {
        // Model B's change is model A's plus 0.05 plus a little noise: the
        // paired interval is as narrow as the noise, and an exact shift
        // gives a zero-width interval, which unpaired resampling would not.
        let a = sweep(500, 3, |_, r| -0.2 + 0.3 * r.normal());
        let ExampleScores::Paired { scores, reference } = &a else {
            unreachable!()
        };
        let mut rng = SeededRng::new(4, &[]);
        let noise: Vec<f64> = (0..500).map(|_| 0.02 * rng.normal()).collect();
        let b = ExampleScores::Paired {
            scores: Array2::from_shape_fn((500, 1), |(i, _)| scores[[i, 0]] + 0.05 + noise[i]),
            reference: reference.clone(),
        };
        let d = difference(&a, &b, &[1.0], names(), true, &settings()).unwrap();
        let (m, v) = mean_var(&noise);
        let level = &d.levels[0];
        assert!((level.difference - (0.05 + m)).abs() < 1e-12);
        let half = (level.ci95[1] - level.ci95[0]) / 2.0;
        let se = (v / 500.0).sqrt();
        assert!(
            (half / (1.96 * se) - 1.0).abs() < 0.05,
            "{half} vs {}",
            1.96 * se
        );

        let shifted = ExampleScores::Paired {
            scores: scores + 0.05,
            reference: reference.clone(),
        };
        let exact = difference(&a, &shifted, &[1.0], names(), true, &settings()).unwrap();
        let [lo, hi] = exact.levels[0].ci95;
        assert!((lo - 0.05).abs() < 1e-12 && (hi - 0.05).abs() < 1e-12);
        let unpaired = difference(&a, &shifted, &[1.0], names(), false, &settings()).unwrap();
        assert!(unpaired.levels[0].ci95[1] - unpaired.levels[0].ci95[0] > 0.05);

        let fewer = sweep(499, 5, |_, _| 0.0);
        let err = difference(&a, &fewer, &[1.0], names(), true, &settings())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'sims'") && err.contains("500") && err.contains("499"),
            "{err}"
        );
    }

    #[test]
    fn group_spreads_differ_by_the_analytic_amount() {
        // Two groups each, far apart, so best and worst never swap in a
        // replicate: the spread is group 1 minus group 0 throughout.
        let mut rng = SeededRng::new(6, &[]);
        let mut group = |n: usize, mean: f64| -> Vec<f64> {
            (0..n).map(|_| mean + 0.1 * rng.normal()).collect()
        };
        let a = vec![group(200, 0.2), group(150, 0.8)];
        let b = vec![group(180, 0.3), group(220, 0.6)];
        let d = difference(
            &ExampleScores::Groups(a.clone()),
            &ExampleScores::Groups(b.clone()),
            &[],
            names(),
            false,
            &settings(),
        )
        .unwrap();
        let stats: Vec<(f64, f64, f64)> = a
            .iter()
            .chain(&b)
            .map(|g| {
                let (m, v) = mean_var(g);
                (m, v, g.len() as f64)
            })
            .collect();
        let expected = (stats[3].0 - stats[2].0) - (stats[1].0 - stats[0].0);
        assert!((d.largest.value - expected).abs() < 1e-12);
        let se = stats.iter().map(|(_, v, n)| v / n).sum::<f64>().sqrt();
        let half = (d.largest.ci95[1] - d.largest.ci95[0]) / 2.0;
        assert!(
            (half / (1.96 * se) - 1.0).abs() < 0.05,
            "{half} vs {}",
            1.96 * se
        );
        assert_eq!(d.verdict, Verdict::High);
        assert!(d.levels.is_empty());
    }

    #[test]
    fn sets_of_the_same_population_rarely_differ_in_spread() {
        // Four groups of one population, 100 examples each in set A and 25
        // in set B: the spreads differ only by noise and by B's larger
        // upward bias. Numpy simulations of this design flag 8 to 13% (see
        // the interval's comment); at most 10 of 40 may be (P = 0.96 at
        // 13%), while intervals half as wide flag 36% (simulated).
        let settings = Settings {
            replicates: 1000,
            ..settings()
        };
        let mut rng = SeededRng::new(11, &[]);
        let mut flagged = 0;
        for _ in 0..40 {
            let mut groups = |n: usize| -> Vec<Vec<f64>> {
                (0..4)
                    .map(|_| (0..n).map(|_| 0.7 + 0.3 * rng.normal()).collect())
                    .collect()
            };
            let (a, b) = (groups(100), groups(25));
            let d = difference(
                &ExampleScores::Groups(a),
                &ExampleScores::Groups(b),
                &[],
                names(),
                false,
                &settings,
            )
            .unwrap();
            flagged += usize::from(d.size > 0.0);
        }
        assert!(flagged <= 10, "{flagged} of 40 flagged");
    }
}
