//! Bootstrap resampling over examples, and the intervals built from it.
//!
//! Paired designs (the same examples at every level) resample example
//! indices once per replicate and reuse them at every level and for the
//! unperturbed reference, so the correlation between levels carries into
//! every difference. Grouped designs (different examples per group) resample
//! within each group. Replicate `b` draws from its own seeded stream, so the
//! result does not depend on the number of threads.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::rng::SeededRng;

/// Replicate means of each column of `parts` (blocks of columns over the
/// same examples, examples x columns each, read in place) under the paired
/// bootstrap: replicates x all columns, in order. Each replicate's draws
/// become a row of counts (how often each example was drawn), so a block of
/// replicates is one matrix product per part, counts x part.
pub(super) fn paired_means(parts: &[ArrayView2<f64>], replicates: usize, seed: u64) -> Array2<f64> {
    let n = parts.first().map_or(0, |p| p.nrows());
    // Up to 32 replicates a block, fewer for large data (8 MiB of counts at most).
    let per_block = ((1 << 20) / n.max(1)).clamp(1, 32);
    let blocks: Vec<Array2<f64>> = (0..replicates.div_ceil(per_block))
        .into_par_iter()
        .map(|block| {
            let first = block * per_block;
            let count = per_block.min(replicates - first);
            let mut counts = Array2::<f64>::zeros((count, n));
            for (j, mut row) in counts.axis_iter_mut(Axis(0)).enumerate() {
                let mut rng = SeededRng::new(seed, &[(first + j) as u64]);
                for _ in 0..n {
                    row[rng.below(n)] += 1.0;
                }
            }
            let means: Vec<Array2<f64>> = parts
                .iter()
                .map(|part| counts.dot(part) / n as f64)
                .collect();
            let views: Vec<_> = means.iter().map(|m| m.view()).collect();
            ndarray::concatenate(Axis(1), &views).expect("parts with the same examples")
        })
        .collect();
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    ndarray::concatenate(Axis(0), &views).expect("blocks of the same width")
}

/// Replicate means of each group, each resampled within itself: replicates x groups.
pub(super) fn grouped_means(groups: &[&[f64]], replicates: usize, seed: u64) -> Array2<f64> {
    let means: Vec<Vec<f64>> = (0..replicates)
        .into_par_iter()
        .map(|b| {
            let mut rng = SeededRng::new(seed, &[b as u64]);
            groups
                .iter()
                .map(|g| (0..g.len()).map(|_| g[rng.below(g.len())]).sum::<f64>() / g.len() as f64)
                .collect()
        })
        .collect();
    to_array(means, groups.len())
}

fn to_array(rows: Vec<Vec<f64>>, columns: usize) -> Array2<f64> {
    let replicates = rows.len();
    Array2::from_shape_vec((replicates, columns), rows.into_iter().flatten().collect())
        .expect("rectangular")
}

/// The `q` quantile (0..=1) of `values`, linearly interpolated between order
/// statistics (Hyndman & Fan's type 7, numpy's default). NaN when empty.
pub(super) fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile_sorted(&sorted, q)
}

pub(super) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
    let (a, b, t) = (sorted[lo], sorted[hi], position - lo as f64);
    // An infinite order statistic (replicates crossing a threshold at
    // Poisson noise's infinite gain): inf - inf would make it NaN.
    if (a.is_infinite() || b.is_infinite()) && (t == 0.0 || a == b) {
        return a;
    }
    a + t * (b - a)
}

/// The central percentile interval holding `level` (e.g. 0.95) of `values`.
pub(super) fn percentile_interval(values: &[f64], level: f64) -> [f64; 2] {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    [
        quantile_sorted(&sorted, tail),
        quantile_sorted(&sorted, 1.0 - tail),
    ]
}

/// Simultaneous 95% intervals for several estimates at once (the max-|t|
/// method, e.g. Efron & Tibshirani 1993, and Westfall & Young 1993): with
/// replicates x estimates in `replicates` and the point estimates in
/// `estimates`, the half-width of estimate j is q se_j, where se_j is its
/// bootstrap standard error and q the 95% quantile over replicates of
/// max_j |replicate_j - estimate_j| / se_j. All intervals cover their targets
/// together with probability about 95%, so picking the most extreme level
/// after the fact does not inflate false alarms. An estimate whose replicates
/// never vary has se 0 and a zero-width interval.
pub(super) fn simultaneous_intervals(
    replicates: ArrayView2<f64>,
    estimates: &[f64],
) -> Vec<[f64; 2]> {
    let se = column_std(replicates);
    let max_t: Vec<f64> = replicates
        .axis_iter(Axis(0))
        .map(|row| {
            row.iter()
                .zip(estimates)
                .zip(&se)
                .filter(|(_, s)| **s > 0.0)
                .map(|((r, e), s)| (r - e).abs() / s)
                .fold(0.0, f64::max)
        })
        .collect();
    let q = quantile(&max_t, 0.95);
    estimates
        .iter()
        .zip(&se)
        .map(|(e, s)| [e - q * s, e + q * s])
        .collect()
}

/// The sample standard deviation (ddof 1) of every column: ndarray's
/// `std(1.0)` (Welford's one-pass update) with the same operations on each
/// column in the same order, so the same bits, but a row at a time, the
/// columns' independent updates side by side instead of one strided walk
/// per column (which was most of the statistics' time on a small sweep).
fn column_std(m: ArrayView2<f64>) -> Vec<f64> {
    let (rows, columns) = m.dim();
    let mut mean = vec![0.0f64; columns];
    let mut sum_sq = vec![0.0f64; columns];
    for (i, row) in m.axis_iter(Axis(0)).enumerate() {
        let count = (i + 1) as f64;
        for ((&x, mean), sum_sq) in row.iter().zip(&mut mean).zip(&mut sum_sq) {
            let delta = x - *mean;
            *mean += delta / count;
            *sum_sq = (x - *mean).mul_add(delta, *sum_sq);
        }
    }
    let dof = rows as f64 - 1.0;
    sum_sq.iter().map(|s| (s / dof).sqrt()).collect()
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::*;

    #[test]
    fn quantiles_match_numpy_linear_interpolation() {
        // numpy.quantile([1, 2, 4, 8], [0.25, 0.5, 0.9]) = [1.75, 3.0, 6.8]
        let values = [8.0, 1.0, 4.0, 2.0];
        for (q, expected) in [(0.25, 1.75), (0.5, 3.0), (0.9, 6.8), (0.0, 1.0), (1.0, 8.0)] {
            assert!((quantile(&values, q) - expected).abs() < 1e-12, "{q}");
        }
    }

    #[test]
    fn quantiles_reach_infinite_values_without_nan() {
        let crossings = [27.0, 150.0, f64::INFINITY, f64::INFINITY];
        assert_eq!(quantile(&crossings, 1.0), f64::INFINITY);
        assert_eq!(quantile(&crossings, 0.9), f64::INFINITY);
        assert_eq!(quantile(&crossings, 0.5), f64::INFINITY);
        assert_eq!(quantile(&crossings, 1.0 / 3.0), 150.0);
        assert_eq!(quantile(&crossings, 0.0), 27.0);
    }

    #[test]
    fn a_constant_resamples_to_itself() {
        let rows = Array2::from_elem((20, 3), 0.7);
        let means = paired_means(&[rows.view()], 200, 1);
        assert!(means.iter().all(|&m| (m - 0.7).abs() < 1e-12));
        let interval = percentile_interval(&means.column(0).to_vec(), 0.95);
        assert!((interval[0] - 0.7).abs() < 1e-12 && (interval[1] - 0.7).abs() < 1e-12);
        let band = simultaneous_intervals(means.view(), &[0.7, 0.7, 0.7]);
        assert!(
            band.iter()
                .all(|[lo, hi]| (lo - 0.7).abs() < 1e-12 && (hi - 0.7).abs() < 1e-12)
        );
    }

    #[test]
    fn paired_replicates_reuse_the_same_examples_at_every_level() {
        // Column 1 is column 0 plus 1 for every example: a paired resample
        // keeps the difference of means exactly 1 in every replicate.
        let rows = Array2::from_shape_fn((50, 2), |(i, j)| (i * i % 17) as f64 + j as f64);
        let means = paired_means(&[rows.view()], 100, 3);
        assert!(
            means
                .axis_iter(Axis(0))
                .all(|r| (r[1] - r[0] - 1.0).abs() < 1e-9)
        );
        assert!(means.column(0).std(1.0) > 0.1);
    }

    #[test]
    fn column_std_is_ndarrays_to_the_bit() {
        let m = Array2::from_shape_fn((2000, 7), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1000) as f64 / 997.0 + 1e-3 * j as f64
        });
        let ours = column_std(m.view());
        for (j, column) in m.axis_iter(Axis(1)).enumerate() {
            assert_eq!(ours[j].to_bits(), column.std(1.0).to_bits(), "column {j}");
        }
    }

    #[test]
    fn simultaneous_intervals_are_wider_than_one_at_a_time() {
        // Five independent standard normal estimates: one-at-a-time 95%
        // half-width is 1.96 se; jointly the max of 5 |z| needs about 2.57 se.
        let mut rng = SeededRng::new(9, &[]);
        let replicates = Array2::from_shape_fn((4000, 5), |_| rng.normal());
        let band = simultaneous_intervals(replicates.view(), &[0.0; 5]);
        for [lo, hi] in band {
            assert!(
                (hi - 2.57).abs() < 0.1 && (lo + 2.57).abs() < 0.1,
                "{lo} {hi}"
            );
        }
        let single = simultaneous_intervals(array![[1.0], [-1.0]].view(), &[0.0]);
        assert!(single[0][1] > 0.0);
    }
}
