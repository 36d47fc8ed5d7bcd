//! Statistics of a sensitivity test: per-level summaries with intervals, a
//! unit-free effect size, a slope for comparison with Sensie, a threshold
//! crossing and a verdict.
//!
//! Sensie fitted a line to every (image, level) point as if independent, took
//! an absolute slope as its significance floor, binned properties off by one
//! and sorted classes before fitting. Here instead:
//! - a sweep is a *paired* design: the same examples appear at every level
//!   and in the unperturbed pass. Intervals come from a bootstrap over
//!   examples that resamples example indices once per replicate and reuses
//!   them at every level ([`paired`]);
//! - property bins and classes hold different examples: each group is
//!   resampled on its own ([`grouped`]);
//! - the verdict reads an effect in score units (probabilities are unit-free;
//!   regression errors are divided by a `scale` such as the targets' standard
//!   deviation), never a slope in the parameter's units, and it needs an
//!   interval that excludes zero *simultaneously* over all levels, so picking
//!   the worst level after the fact does not make noise significant. The rule
//!   is [`VERDICT_RULE`], written into every result.
//!
//! The slope of a straight line is kept for comparison with Sensie, with
//! bootstrap intervals that respect the pairing and, beside them, the naive
//! OLS intervals that do not.

mod bins;
mod bootstrap;
mod difference;
mod ols;
mod student;
mod threshold;

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::Serialize;

pub use bins::{Bin, Binning, bin};
pub use difference::{DIFFERENCE_RULE, Difference, ExampleScores, LevelDifference, difference};

use crate::{Error, Result};

/// Whether a larger score is better (a correct-class probability) or worse
/// (a regression error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A good score is high (a probability).
    HigherIsBetter,
    /// A good score is low (an error).
    LowerIsBetter,
}

/// How the statistics are computed.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Bootstrap replicates (2000 by default: percentile 95% limits then move
    /// by about 0.1 standard errors between seeds).
    pub replicates: usize,
    /// The bootstrap's seed.
    pub seed: u64,
    /// The score whose crossing is reported; halfway between the best and
    /// worst level means when `None`.
    pub threshold: Option<f64>,
    /// The score change that counts as 1 in the verdict: 1 for probabilities,
    /// e.g. the targets' standard deviation for regression errors.
    pub scale: f64,
}

/// Bootstrap replicates of every interval unless asked otherwise: enough
/// for 95% percentile intervals stable to about 0.01 of their width.
pub const DEFAULT_REPLICATES: usize = 2000;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            replicates: DEFAULT_REPLICATES,
            seed: 0,
            threshold: None,
            scale: 1.0,
        }
    }
}

/// One level of a test: a perturbation strength, a property bin or a class.
#[derive(Clone, Debug, Serialize)]
pub struct Level {
    /// The parameter value, bin centre or class index.
    pub value: f64,
    /// A class name or a discrete property's text value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A grid's cell: the values of its two perturbations, in the order applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<[f64; 2]>,
    /// A property bin's range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lo: Option<f64>,
    /// A property bin's upper edge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hi: Option<f64>,
    /// Examples at this level or in this group.
    pub n: usize,
    /// Their mean score.
    pub mean_score: f64,
    /// Sample standard deviation (n - 1 in the denominator); NaN (null) for one example.
    pub std_score: f64,
    /// Bootstrap percentile 95% interval of the mean score.
    pub score_ci95: [f64; 2],
    /// Fraction of examples classified correctly (none for regression).
    pub accuracy: Option<f64>,
}

/// A number with its 95% interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// The number.
    pub value: f64,
    /// Its 95% interval.
    pub ci95: [f64; 2],
}

/// How much the score moves, in score units.
#[derive(Clone, Debug, Serialize)]
pub struct Effect {
    /// Mean score at the last level minus at the first (ordered tests only).
    pub range_change: Option<Estimate>,
    /// Sweeps: the largest fall in quality (a lower probability, a higher
    /// error) from the unperturbed images, with a simultaneous 95% interval.
    pub largest_drop: Option<Estimate>,
    /// The level value where the largest drop occurs.
    pub largest_drop_at: Option<f64>,
    /// Mean score on the unperturbed images (sweeps).
    pub reference_mean: Option<f64>,
    /// Property and class tests: best minus worst group mean, with a
    /// simultaneous 95% interval.
    pub spread: Option<Estimate>,
    /// The effect the verdict reads, divided by `scale` (see [`VERDICT_RULE`]).
    pub size: f64,
    /// What the size is divided by (the targets' standard deviation for
    /// regression errors, else 1).
    pub scale: f64,
}

/// The least-squares slope of score against the parameter.
#[derive(Clone, Debug, Serialize)]
pub struct Slope {
    /// The slope, in score units per parameter unit.
    pub value: f64,
    /// Bootstrap intervals over examples (paired for sweeps).
    pub ci50: [f64; 2],
    /// Its bootstrap 95% interval.
    pub ci95: [f64; 2],
    /// Textbook OLS intervals treating every (example, level) as independent,
    /// as Sensie did: too narrow for sweeps; for comparison only.
    pub naive_ci50: Option<[f64; 2]>,
    /// Its textbook OLS 95% interval.
    pub naive_ci95: Option<[f64; 2]>,
}

/// Where the mean score first crosses `score` (see the `threshold` module).
#[derive(Clone, Debug, Serialize)]
pub struct Threshold {
    /// The score whose crossing is sought.
    pub score: f64,
    /// The parameter value at the crossing; none when the curve never crosses.
    pub value: Option<f64>,
    /// Bootstrap 95% interval of the crossing among replicates that cross.
    pub ci95: Option<[f64; 2]>,
    /// Fraction of bootstrap replicates whose curve crosses.
    pub crossed_fraction: f64,
}

/// How sensitive the model is to a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The effect is significant and at least the high threshold.
    High,
    /// The effect is significant and at least the medium threshold.
    Medium,
    /// No significant effect as large as the medium threshold.
    Low,
}

/// An effect of at least this many score units (after `scale`) is `high`...
pub const HIGH: f64 = 0.10;
/// ...and of at least this many, `medium`.
pub const MEDIUM: f64 = 0.02;

/// The fewest examples a group needs to take part in a property, class or
/// comparison verdict. A bootstrap of a group of n examples sees only the
/// n-ary resamples of its scores: for n = 2 its interval is the two
/// scores' range, far narrower than the group mean's real uncertainty.
/// Measured with a metadata column that is a random permutation (so no real
/// effect) on the MNIST CNN, 10 equal bins, 30 permutations each: groups of
/// 2 gave verdict high 30 times in 30, groups of 4 four times, of 5 once,
/// of 10 never. Smaller groups are still reported, level by level, but take
/// no part in a property's threshold or range change either.
pub const MIN_GROUP: usize = 5;

/// The verdict rule, as written into every result.
pub const VERDICT_RULE: &str = "effect = for a perturbation sweep, the largest |mean score at a level - mean score on the unperturbed images| among \
levels whose 95% simultaneous interval (paired bootstrap over examples, max-|t| over levels) excludes 0; for a property or class test, \
the best minus the worst mean among groups of at least 5 examples when its 95% simultaneous lower bound is above 0; otherwise 0. The effect is in score units \
(probabilities are unit-free; regression errors are divided by the scale). high: effect >= 0.10; medium: effect >= 0.02; low: otherwise.";

impl Verdict {
    /// The verdict for an effect already in scaled score units.
    pub fn from_effect(size: f64) -> Verdict {
        if size >= HIGH {
            Verdict::High
        } else if size >= MEDIUM {
            Verdict::Medium
        } else {
            Verdict::Low
        }
    }
}

/// Everything reported for one test.
#[derive(Clone, Debug, Serialize)]
pub struct TestStats {
    /// Whether a good score is high or low.
    pub direction: Direction,
    /// Per level or group.
    pub levels: Vec<Level>,
    /// The effect the verdict reads.
    pub effect: Effect,
    /// The slope along a sweep.
    pub slope: Option<Slope>,
    /// Where the mean score crosses the threshold.
    pub threshold: Option<Threshold>,
    /// The verdict.
    pub verdict: Verdict,
    /// How the verdict is decided, in words.
    pub verdict_rule: &'static str,
}

/// The scores of a sweep: every example at every level, and unperturbed.
pub struct PairedScores<'a> {
    /// The parameter value of each level, in the order tested.
    pub values: &'a [f64],
    /// Examples x levels.
    pub scores: ArrayView2<'a, f64>,
    /// Examples x levels: whether the prediction was right (classifiers).
    pub correct: Option<ArrayView2<'a, bool>>,
    /// Each example's score on the unperturbed image.
    pub reference: ArrayView1<'a, f64>,
}

/// One group of a property or class test.
pub struct Group<'a> {
    /// The group's value (a bin's centre, a class index).
    pub value: f64,
    /// Its label (a text value, a class name).
    pub label: Option<String>,
    /// A bin's range.
    pub range: Option<(f64, f64)>,
    /// Its examples' scores.
    pub scores: &'a [f64],
    /// Whether each was right (classifiers).
    pub correct: Option<&'a [bool]>,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n as f64
}

fn std(values: &[f64]) -> f64 {
    let m = mean(values.iter().copied());
    (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() as f64 - 1.0)).sqrt()
}

fn accuracy(correct: impl Iterator<Item = bool>) -> f64 {
    mean(correct.map(|c| if c { 1.0 } else { 0.0 }))
}

/// Refuses settings every test's statistics would refuse (too few
/// bootstrap replicates, a scale that is not a positive number), so that a
/// run can check them before it measures anything.
pub fn check_settings(settings: &Settings) -> Result<()> {
    if settings.replicates < 100 {
        return Err(Error::invalid(
            "bootstrap replicates",
            format!(
                "{} is too few for 95% intervals; use at least 100",
                settings.replicates
            ),
        ));
    }
    if !(settings.scale > 0.0 && settings.scale.is_finite()) {
        return Err(Error::invalid(
            "verdict scale",
            format!("{} must be a positive number", settings.scale),
        ));
    }
    Ok(())
}

fn check_finite<'a>(what: &str, values: impl Iterator<Item = &'a f64>) -> Result<()> {
    match values.enumerate().find(|(_, v)| !v.is_finite()) {
        Some((i, v)) => Err(Error::invalid(
            what,
            format!("score {i} is {v}; the model produced a non-finite score"),
        )),
        None => Ok(()),
    }
}

/// Statistics of a perturbation sweep (a paired design).
pub fn paired(
    input: &PairedScores,
    direction: Direction,
    settings: &Settings,
) -> Result<TestStats> {
    paired_with_band(input, direction, settings).map(|(stats, _)| stats)
}

/// [`paired`] with each level's simultaneous 95% interval of the change
/// from the unperturbed mean (the band the verdict reads): a grid marks the
/// cells whose interval excludes zero.
pub fn paired_with_band(
    input: &PairedScores,
    direction: Direction,
    settings: &Settings,
) -> Result<(TestStats, Vec<[f64; 2]>)> {
    check_settings(settings)?;
    let (n, levels) = input.scores.dim();
    if n == 0 || levels == 0 || input.values.len() != levels || input.reference.len() != n {
        return Err(Error::invalid(
            "paired scores",
            format!(
                "{n} examples x {levels} levels with {} values and {} reference scores; all must agree and be non-zero",
                input.values.len(),
                input.reference.len()
            ),
        ));
    }
    check_finite("scores", input.scores.iter().chain(input.reference.iter()))?;
    // The reference's replicate means are the last column.
    let replicates = bootstrap::paired_means(
        &[input.scores, input.reference.insert_axis(Axis(1))],
        settings.replicates,
        settings.seed,
    );
    let means: Vec<f64> = (0..levels)
        .map(|l| mean(input.scores.column(l).iter().copied()))
        .collect();
    let reference = mean(input.reference.iter().copied());

    let summaries = (0..levels)
        .map(|l| {
            let column = input.scores.column(l).to_vec();
            Level {
                value: input.values[l],
                label: None,
                values: None,
                lo: None,
                hi: None,
                n,
                mean_score: means[l],
                std_score: std(&column),
                score_ci95: bootstrap::percentile_interval(&replicates.column(l).to_vec(), 0.95),
                accuracy: input.correct.map(|c| accuracy(c.column(l).iter().copied())),
            }
        })
        .collect();

    // Changes from the unperturbed mean, and their simultaneous band.
    let changes: Vec<f64> = means.iter().map(|m| m - reference).collect();
    let change_replicates = Array2::from_shape_fn((settings.replicates, levels), |(b, l)| {
        replicates[[b, l]] - replicates[[b, levels]]
    });
    // Fewer examples than a group needs (MIN_GROUP) cannot be resampled:
    // one digit's replicates are all that digit, an interval of zero width
    // that made any change "significant" and the seed alone set the effect.
    // Such a sweep's intervals are unbounded, so no level counts.
    let band = if n < MIN_GROUP {
        vec![[f64::NEG_INFINITY, f64::INFINITY]; levels]
    } else {
        bootstrap::simultaneous_intervals(change_replicates.view(), &changes)
    };
    let size = changes
        .iter()
        .zip(&band)
        .filter(|(_, [lo, hi])| *lo > 0.0 || *hi < 0.0)
        .map(|(c, _)| c.abs())
        .fold(0.0, f64::max)
        / settings.scale;
    // A drop is a change for the worse: lower probability, higher error.
    let worse = |c: f64| {
        if direction == Direction::HigherIsBetter {
            -c
        } else {
            c
        }
    };
    // Each level's drop with its simultaneous interval.
    let drops: Vec<Estimate> = changes
        .iter()
        .zip(&band)
        .map(|(&c, &[lo, hi])| {
            let (a, b) = (worse(lo), worse(hi));
            Estimate {
                value: worse(c),
                ci95: [a.min(b), a.max(b)],
            }
        })
        .collect();
    let worst = (0..levels)
        .max_by(|&a, &b| drops[a].value.total_cmp(&drops[b].value))
        .expect("at least one level");
    let largest_drop = Estimate {
        value: drops[worst].value,
        ci95: [
            drops
                .iter()
                .map(|d| d.ci95[0])
                .fold(f64::NEG_INFINITY, f64::max),
            drops
                .iter()
                .map(|d| d.ci95[1])
                .fold(f64::NEG_INFINITY, f64::max),
        ],
    };

    let (scores, values) = (input.scores, input.values);
    let points = || (0..levels).flat_map(move |l| (0..n).map(move |i| (values[l], scores[[i, l]])));
    let weights = vec![1.0; levels];
    let stats = TestStats {
        direction,
        levels: summaries,
        effect: Effect {
            range_change: Some(range_change(&means, replicates.view())),
            largest_drop: Some(largest_drop),
            largest_drop_at: Some(input.values[worst]),
            reference_mean: Some(reference),
            spread: None,
            size,
            scale: settings.scale,
        },
        slope: fit_slope(input.values, &means, &weights, replicates.view(), points),
        threshold: Some(find_threshold(
            input.values,
            &means,
            replicates.view(),
            direction,
            settings,
        )),
        verdict: Verdict::from_effect(size),
        verdict_rule: VERDICT_RULE,
    };
    Ok((stats, band))
}

/// Statistics of a property test (`ordered`: groups along the property's
/// axis, with a slope and threshold) or a class test (not ordered: class
/// order means nothing, so only the spread between classes is reported).
pub fn grouped(
    groups: &[Group],
    direction: Direction,
    settings: &Settings,
    ordered: bool,
) -> Result<TestStats> {
    check_settings(settings)?;
    if groups.is_empty() || groups.iter().any(|g| g.scores.is_empty()) {
        return Err(Error::invalid(
            "groups",
            "every group must hold at least one example",
        ));
    }
    check_finite("scores", groups.iter().flat_map(|g| g.scores.iter()))?;
    let samples: Vec<&[f64]> = groups.iter().map(|g| g.scores).collect();
    let replicates = bootstrap::grouped_means(&samples, settings.replicates, settings.seed);
    let means: Vec<f64> = groups
        .iter()
        .map(|g| mean(g.scores.iter().copied()))
        .collect();
    let summaries = groups
        .iter()
        .enumerate()
        .map(|(j, g)| Level {
            value: g.value,
            label: g.label.clone(),
            values: None,
            lo: g.range.map(|r| r.0),
            hi: g.range.map(|r| r.1),
            n: g.scores.len(),
            mean_score: means[j],
            std_score: std(g.scores),
            score_ci95: bootstrap::percentile_interval(&replicates.column(j).to_vec(), 0.95),
            accuracy: g.correct.map(|c| accuracy(c.iter().copied())),
        })
        .collect();

    // Groups too small to resample take no part in the simultaneous band.
    let eligible: Vec<usize> = (0..groups.len())
        .filter(|&j| groups[j].scores.len() >= MIN_GROUP)
        .collect();
    let spread = (!eligible.is_empty()).then(|| {
        let band = bootstrap::simultaneous_intervals(
            replicates.select(Axis(1), &eligible).view(),
            &eligible.iter().map(|&j| means[j]).collect::<Vec<_>>(),
        );
        let pick = |f: fn(&[f64; 2]) -> f64, max: bool| {
            band.iter().map(f).fold(
                if max {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                },
                |a, b| if max { a.max(b) } else { a.min(b) },
            )
        };
        let estimates: Vec<f64> = eligible.iter().map(|&j| means[j]).collect();
        let value = estimates.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            - estimates.iter().copied().fold(f64::INFINITY, f64::min);
        let lower = (pick(|b| b[0], true) - pick(|b| b[1], false)).max(0.0);
        let upper = pick(|b| b[1], true) - pick(|b| b[0], false);
        Estimate {
            value,
            ci95: [lower, upper],
        }
    });
    let size = spread.filter(|s| s.ci95[0] > 0.0).map_or(0.0, |s| s.value) / settings.scale;

    let (slope, threshold, range) = if ordered {
        let values: Vec<f64> = groups.iter().map(|g| g.value).collect();
        let weights: Vec<f64> = groups.iter().map(|g| g.scores.len() as f64).collect();
        let points = || {
            groups
                .iter()
                .flat_map(|g| g.scores.iter().map(|&s| (g.value, s)))
        };
        // The threshold and the range change read the groups large enough
        // to resample, as the verdict does: a group of one has the same
        // mean in every replicate, which would make their intervals points.
        let kept = |of: &[f64]| -> Vec<f64> { eligible.iter().map(|&j| of[j]).collect() };
        let kept_replicates = replicates
            .select(Axis(1), &eligible)
            .as_standard_layout()
            .into_owned();
        let (kept_values, kept_means) = (kept(&values), kept(&means));
        let enough = eligible.len() >= 2;
        (
            fit_slope(&values, &means, &weights, replicates.view(), points),
            enough.then(|| {
                find_threshold(
                    &kept_values,
                    &kept_means,
                    kept_replicates.view(),
                    direction,
                    settings,
                )
            }),
            enough.then(|| range_change(&kept_means, kept_replicates.view())),
        )
    } else {
        (None, None, None)
    };
    Ok(TestStats {
        direction,
        levels: summaries,
        effect: Effect {
            range_change: range,
            largest_drop: None,
            largest_drop_at: None,
            reference_mean: None,
            spread,
            size,
            scale: settings.scale,
        },
        slope,
        threshold,
        verdict: Verdict::from_effect(size),
        verdict_rule: VERDICT_RULE,
    })
}

/// Last minus first level mean, with the percentile interval of the same
/// difference over replicates (paired or not, as the replicates were drawn).
fn range_change(means: &[f64], replicates: ArrayView2<f64>) -> Estimate {
    let last = means.len() - 1;
    let differences: Vec<f64> = replicates
        .axis_iter(Axis(0))
        .map(|r| r[last] - r[0])
        .collect();
    Estimate {
        value: means[last] - means[0],
        ci95: bootstrap::percentile_interval(&differences, 0.95),
    }
}

/// `points()` iterates over every (parameter, score) pair, for the naive
/// intervals, without holding them all.
fn fit_slope<I: Iterator<Item = (f64, f64)>>(
    values: &[f64],
    means: &[f64],
    weights: &[f64],
    replicates: ArrayView2<f64>,
    points: impl Fn() -> I,
) -> Option<Slope> {
    let fit = ols::Fit::new(values, weights)?;
    let value = fit.slope(means);
    let slopes: Vec<f64> = replicates
        .axis_iter(Axis(0))
        .map(|r| fit.slope(&r.as_slice().expect("standard layout")[..values.len()]))
        .collect();
    let naive = ols::naive_intervals(points);
    Some(Slope {
        value,
        ci50: bootstrap::percentile_interval(&slopes, 0.50),
        ci95: bootstrap::percentile_interval(&slopes, 0.95),
        naive_ci50: naive.map(|n| n.ci50),
        naive_ci95: naive.map(|n| n.ci95),
    })
}

fn find_threshold(
    values: &[f64],
    means: &[f64],
    replicates: ArrayView2<f64>,
    direction: Direction,
    settings: &Settings,
) -> Threshold {
    let best = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let worst = means.iter().copied().fold(f64::INFINITY, f64::min);
    let score = settings.threshold.unwrap_or((best + worst) / 2.0);
    let value = threshold::crossing(values, means, score, direction);
    let crossings: Vec<f64> = replicates
        .axis_iter(Axis(0))
        .filter_map(|r| {
            threshold::crossing(
                values,
                &r.as_slice().expect("standard layout")[..values.len()],
                score,
                direction,
            )
        })
        .collect();
    Threshold {
        score,
        value,
        ci95: (value.is_some() && !crossings.is_empty())
            .then(|| bootstrap::percentile_interval(&crossings, 0.95)),
        crossed_fraction: crossings.len() as f64 / replicates.nrows() as f64,
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2};

    use super::*;
    use crate::rng::SeededRng;

    fn settings() -> Settings {
        Settings {
            replicates: 1000,
            seed: 11,
            ..Settings::default()
        }
    }

    fn sweep(values: &[f64], scores: &Array2<f64>, reference: &Array1<f64>) -> TestStats {
        let input = PairedScores {
            values,
            scores: scores.view(),
            correct: None,
            reference: reference.view(),
        };
        paired(&input, Direction::HigherIsBetter, &settings()).unwrap()
    }

    #[test]
    fn identical_scores_at_every_level_are_low_with_degenerate_intervals() {
        let values = [0.0, 1.0, 2.0, 3.0];
        let per_example = Array1::from_shape_fn(40, |i| (i % 7) as f64 / 7.0);
        let scores = Array2::from_shape_fn((40, 4), |(i, _)| per_example[i]);
        let stats = sweep(&values, &scores, &per_example);
        assert_eq!(stats.verdict, Verdict::Low);
        assert_eq!(stats.effect.size, 0.0);
        let drop = stats.effect.largest_drop.unwrap();
        assert!(
            drop.value.abs() < 1e-12 && drop.ci95[0].abs() < 1e-12 && drop.ci95[1].abs() < 1e-12
        );
        let slope = stats.slope.unwrap();
        assert!(
            slope.value.abs() < 1e-12 && slope.ci95[0].abs() < 1e-12 && slope.ci95[1].abs() < 1e-12
        );
    }

    #[test]
    fn a_sweep_on_too_few_examples_to_resample_finds_no_change() {
        // One digit whose score falls from 0.52 to 0.17 under noise: every
        // replicate draws that digit, so the interval had zero width and
        // the verdict was high at any seed. Four examples are still too few;
        // five are enough to count a large, consistent drop.
        for n in 1..MIN_GROUP {
            let reference = Array1::from_elem(n, 0.52);
            let scores =
                Array2::from_shape_fn((n, 2), |(i, l)| 0.52 - 0.35 * l as f64 + 0.001 * i as f64);
            let stats = sweep(&[0.0, 0.1], &scores, &reference);
            assert_eq!(
                (stats.verdict, stats.effect.size),
                (Verdict::Low, 0.0),
                "{n} examples"
            );
        }
        let n = MIN_GROUP;
        let reference = Array1::from_elem(n, 0.52);
        let scores =
            Array2::from_shape_fn((n, 2), |(i, l)| 0.52 - 0.35 * l as f64 + 0.001 * i as f64);
        assert_eq!(
            sweep(&[0.0, 0.1], &scores, &reference).verdict,
            Verdict::High
        );
    }

    #[test]
    fn pure_noise_sweeps_are_rarely_called_significant() {
        // 40 sweeps of 10 levels x 150 examples whose scores are fresh
        // uniform noise at every level: no level differs from the reference in
        // truth. With a simultaneous 95% band, at most ~5% of sweeps should
        // find any effect; one-at-a-time intervals would flag ~40%.
        let values: Vec<f64> = (0..10).map(f64::from).collect();
        let flagged = (0..40)
            .filter(|&seed| {
                let mut rng = SeededRng::new(seed, &[]);
                let reference = Array1::from_shape_fn(150, |_| rng.uniform());
                let scores = Array2::from_shape_fn((150, 10), |_| rng.uniform());
                sweep(&values, &scores, &reference).effect.size > 0.0
            })
            .count();
        assert!(flagged <= 5, "{flagged} of 40 noise sweeps flagged");
    }

    #[test]
    fn a_real_drop_is_high_and_its_threshold_is_found() {
        // Scores fall linearly from 0.9 to 0.1 over 0..8 with small per-example
        // noise; the halfway score 0.5 is crossed at 4.
        let values: Vec<f64> = (0..9).map(f64::from).collect();
        let mut rng = SeededRng::new(5, &[]);
        let offsets = Array1::from_shape_fn(200, |_| 0.05 * rng.normal());
        let scores = Array2::from_shape_fn((200, 9), |(i, l)| 0.9 - 0.1 * l as f64 + offsets[i]);
        let reference = Array1::from_shape_fn(200, |i| 0.9 + offsets[i]);
        let stats = sweep(&values, &scores, &reference);
        assert_eq!(stats.verdict, Verdict::High);
        let drop = stats.effect.largest_drop.unwrap();
        assert!((drop.value - 0.8).abs() < 1e-9 && stats.effect.largest_drop_at == Some(8.0));
        // The same offsets recur at every level, so the paired intervals of
        // the drop and the slope are exact: every replicate agrees.
        assert!((drop.ci95[1] - drop.ci95[0]).abs() < 1e-9);
        let slope = stats.slope.unwrap();
        assert!((slope.value + 0.1).abs() < 1e-9 && (slope.ci95[1] - slope.ci95[0]) < 1e-9);
        // The naive interval, blind to the pairing, is wider here.
        let naive = slope.naive_ci95.unwrap();
        assert!(naive[1] - naive[0] > 1e-3);
        let threshold = stats.threshold.unwrap();
        assert!((threshold.value.unwrap() - 4.0).abs() < 1e-6 && threshold.crossed_fraction == 1.0);
        let range = stats.effect.range_change.unwrap();
        assert!((range.value + 0.8).abs() < 1e-9);
    }

    #[test]
    fn level_intervals_cover_a_known_mean_about_95_percent_of_the_time() {
        // 200 samples of 60 standard normals: the percentile bootstrap's
        // coverage of the true mean 0 should be near 95%; with 200 trials,
        // coverage within [0.88, 0.99] fails for a correct method with
        // probability well below 1%.
        let covered = (0..200)
            .filter(|&seed| {
                let mut rng = SeededRng::new(1000 + seed, &[]);
                let scores = Array2::from_shape_fn((60, 1), |_| rng.normal());
                let reference = Array1::zeros(60);
                let [lo, hi] = sweep(&[0.0], &scores, &reference).levels[0].score_ci95;
                lo <= 0.0 && 0.0 <= hi
            })
            .count();
        assert!((176..=198).contains(&covered), "{covered} of 200");
    }

    #[test]
    fn lower_is_better_scores_drop_when_errors_grow() {
        let values = [0.0, 1.0];
        let scores =
            Array2::from_shape_fn((50, 2), |(i, l)| (i % 5) as f64 * 0.01 + l as f64 * 0.5);
        let reference = Array1::from_shape_fn(50, |i| (i % 5) as f64 * 0.01);
        let input = PairedScores {
            values: &values,
            scores: scores.view(),
            correct: None,
            reference: reference.view(),
        };
        let stats = paired(
            &input,
            Direction::LowerIsBetter,
            &Settings {
                scale: 2.0,
                ..settings()
            },
        )
        .unwrap();
        assert!((stats.effect.largest_drop.unwrap().value - 0.5).abs() < 1e-12);
        // 0.5 error units over a scale of 2: an effect of 0.25, high.
        assert!((stats.effect.size - 0.25).abs() < 1e-12 && stats.verdict == Verdict::High);
    }

    /// One group per sample, at values 0, 1, 2...
    fn groups(samples: &[Vec<f64>]) -> Vec<Group<'_>> {
        samples
            .iter()
            .enumerate()
            .map(|(j, s)| Group {
                value: j as f64,
                label: None,
                range: None,
                scores: s,
                correct: None,
            })
            .collect()
    }

    #[test]
    fn groups_with_the_same_distribution_are_low_and_different_ones_are_not() {
        let draw = |seed: u64, shift: f64| -> Vec<f64> {
            let mut rng = SeededRng::new(seed, &[]);
            (0..100).map(|_| (rng.uniform() + shift).min(1.0)).collect()
        };
        let flat: Vec<Vec<f64>> = (0..5).map(|g| draw(g, 0.0)).collect();
        let stats = grouped(&groups(&flat), Direction::HigherIsBetter, &settings(), true).unwrap();
        assert_eq!(stats.verdict, Verdict::Low);
        assert!(stats.effect.spread.unwrap().ci95[0] == 0.0);
        let shifted: Vec<Vec<f64>> = (0..5)
            .map(|g| draw(g, if g == 2 { -0.5 } else { 0.0 }))
            .collect();
        let stats = grouped(
            &groups(&shifted),
            Direction::HigherIsBetter,
            &settings(),
            false,
        )
        .unwrap();
        assert_eq!(stats.verdict, Verdict::High);
        assert!(
            stats.slope.is_none()
                && stats.threshold.is_none()
                && stats.effect.range_change.is_none()
        );
    }

    #[test]
    fn groups_too_small_to_resample_take_no_part_in_the_verdict() {
        // The rule written into every result names the same size.
        assert!(VERDICT_RULE.contains(&format!("groups of at least {MIN_GROUP} examples")));
        // No real effect: ten groups of two scores from one distribution.
        // With groups of two in the band, such data was called high.
        for seed in 0..30 {
            let mut rng = SeededRng::new(seed, &[]);
            let samples: Vec<Vec<f64>> = (0..10)
                .map(|_| vec![rng.uniform(), rng.uniform()])
                .collect();
            let stats = grouped(
                &groups(&samples),
                Direction::HigherIsBetter,
                &settings(),
                true,
            )
            .unwrap();
            assert_eq!(
                (stats.verdict, stats.effect.spread),
                (Verdict::Low, None),
                "seed {seed}"
            );
        }
        // Two groups far apart: four examples each are still too few, five
        // are enough.
        let apart = |n: usize| -> Vec<Vec<f64>> {
            vec![
                (0..n).map(|i| 0.9 + 0.01 * i as f64).collect(),
                (0..n).map(|i| 0.1 + 0.01 * i as f64).collect(),
            ]
        };
        let four = apart(MIN_GROUP - 1);
        let stats = grouped(
            &groups(&four),
            Direction::HigherIsBetter,
            &settings(),
            false,
        )
        .unwrap();
        assert_eq!((stats.verdict, stats.levels[0].n), (Verdict::Low, 4));
        let five = apart(MIN_GROUP);
        let stats = grouped(
            &groups(&five),
            Direction::HigherIsBetter,
            &settings(),
            false,
        )
        .unwrap();
        assert_eq!(stats.verdict, Verdict::High);

        // Along a property's axis, a last group of one example is reported
        // but the range change and the threshold are between the others.
        let mut ordered = apart(MIN_GROUP);
        ordered.push(vec![0.0]);
        let along = |samples: &[Vec<f64>]| {
            grouped(
                &groups(samples),
                Direction::HigherIsBetter,
                &settings(),
                true,
            )
            .unwrap()
        };
        let stats = along(&ordered);
        let means = [
            mean(ordered[0].iter().copied()),
            mean(ordered[1].iter().copied()),
        ];
        let range = stats.effect.range_change.unwrap();
        assert!(
            (range.value - (means[1] - means[0])).abs() < 1e-12,
            "{range:?}"
        );
        let threshold = stats.threshold.unwrap();
        assert!((threshold.score - (means[0] + means[1]) / 2.0).abs() < 1e-12);
        assert!(
            threshold.value.is_some_and(|v| v > 0.0 && v < 1.0),
            "{threshold:?}"
        );
        assert_eq!(stats.levels.len(), 3);
        // One group large enough: nothing to cross or compare.
        let stats = along(&ordered[1..]);
        assert!(stats.threshold.is_none() && stats.effect.range_change.is_none());
    }

    #[test]
    fn grouped_slope_weights_each_example_once() {
        // Two bins: x = 0 with scores (1, 1, 1), x = 1 with (0): OLS over the
        // four points has slope -1 whatever the weights of the means.
        let (a, b) = ([1.0, 1.0, 1.0], [0.0, 0.0]);
        let groups = [
            Group {
                value: 0.0,
                label: None,
                range: Some((-0.5, 0.5)),
                scores: &a,
                correct: Some(&[true, true, false]),
            },
            Group {
                value: 1.0,
                label: None,
                range: Some((0.5, 1.5)),
                scores: &b,
                correct: Some(&[false, false]),
            },
        ];
        let stats = grouped(&groups, Direction::HigherIsBetter, &settings(), true).unwrap();
        assert_eq!(stats.slope.unwrap().value, -1.0);
        assert!((stats.levels[0].accuracy.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            (stats.levels[1].lo, stats.levels[1].hi),
            (Some(0.5), Some(1.5))
        );
    }

    #[test]
    fn bad_inputs_are_refused() {
        let scores = Array2::from_elem((3, 2), f64::NAN);
        let reference = Array1::zeros(3);
        let input = PairedScores {
            values: &[0.0, 1.0],
            scores: scores.view(),
            correct: None,
            reference: reference.view(),
        };
        assert!(
            paired(&input, Direction::HigherIsBetter, &settings())
                .unwrap_err()
                .to_string()
                .contains("NaN")
        );
        let input = PairedScores {
            values: &[0.0],
            ..input
        };
        assert!(paired(&input, Direction::HigherIsBetter, &settings()).is_err());
        assert!(grouped(&[], Direction::HigherIsBetter, &settings(), false).is_err());
    }
}
