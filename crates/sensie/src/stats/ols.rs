//! Least-squares slope of score against the parameter.
//!
//! Every example contributes one point (x, score) per level, so the fit over
//! all points equals the fit of the level means weighted by their counts:
//! slope = sum_g n_g (x_g - x_bar)(m_g - y_bar) / sum_g n_g (x_g - x_bar)^2,
//! with x_bar and y_bar weighted by n_g. Resampling examples and refitting
//! the means gives the bootstrap slope intervals; the "naive" interval below
//! treats every point as independent, as Sensie does, and is reported only to
//! show how much too narrow that is when the same examples recur at every
//! level.

use super::student;

/// The weighted least-squares slope of level means against the parameter
/// x, with what the fit shares between the level means and each bootstrap
/// replicate's: the weighted x terms, worked out once instead of per
/// replicate (the same operations, so the same slopes to the bit).
pub(super) struct Fit {
    total: f64,
    weights: Vec<f64>,
    /// w (x - x_bar) per level.
    weighted_dx: Vec<f64>,
    sxx: f64,
}

impl Fit {
    /// The fit for levels at `x` with `weights` (examples per level);
    /// `None` when the x values do not vary.
    pub(super) fn new(x: &[f64], weights: &[f64]) -> Option<Fit> {
        let total: f64 = weights.iter().sum();
        let x_bar = x.iter().zip(weights).map(|(x, w)| x * w).sum::<f64>() / total;
        let sxx: f64 = x
            .iter()
            .zip(weights)
            .map(|(x, w)| w * (x - x_bar).powi(2))
            .sum();
        (sxx > 0.0).then(|| Fit {
            total,
            weights: weights.to_vec(),
            weighted_dx: x
                .iter()
                .zip(weights)
                .map(|(x, w)| w * (x - x_bar))
                .collect(),
            sxx,
        })
    }

    /// The slope of `means` (one per level) against x.
    pub(super) fn slope(&self, means: &[f64]) -> f64 {
        let y_bar = means
            .iter()
            .zip(&self.weights)
            .map(|(y, w)| y * w)
            .sum::<f64>()
            / self.total;
        let sxy: f64 = self
            .weighted_dx
            .iter()
            .zip(means)
            .map(|(wdx, y)| wdx * (y - y_bar))
            .sum();
        sxy / self.sxx
    }
}

/// Standard normal quantiles for the 95% and 50% levels, where Student's t
/// critical values start from.
const Z95: f64 = 1.959_963_984_540_054;
const Z75: f64 = 0.674_489_750_196_081_7;

/// The textbook OLS intervals of a slope over individual points, treating
/// them as independent: b ± t se with Student's t of n - 2 degrees of freedom.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct NaiveIntervals {
    /// The 50% interval, [low, high].
    pub ci50: [f64; 2],
    /// The 95% interval, [low, high].
    pub ci95: [f64; 2],
}

/// The textbook OLS slope intervals over individual points `(x, y)`,
/// treating them as independent.
pub(super) fn naive_intervals<I: Iterator<Item = (f64, f64)>>(
    points: impl Fn() -> I,
) -> Option<NaiveIntervals> {
    let n = points().count() as f64;
    if n < 3.0 {
        return None;
    }
    let x_bar = points().map(|p| p.0).sum::<f64>() / n;
    let y_bar = points().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points().map(|p| (p.0 - x_bar).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let b = points().map(|p| (p.0 - x_bar) * (p.1 - y_bar)).sum::<f64>() / sxx;
    let residual: f64 = points()
        .map(|p| (p.1 - y_bar - b * (p.0 - x_bar)).powi(2))
        .sum();
    let se = (residual / (n - 2.0) / sxx).sqrt();
    let df = n as u64 - 2;
    let (t95, t50) = (
        student::critical(0.95, Z95, df),
        student::critical(0.5, Z75, df),
    );
    Some(NaiveIntervals {
        ci50: [b - t50 * se, b + t50 * se],
        ci95: [b - t95 * se, b + t95 * se],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slope(x: &[f64], means: &[f64], weights: &[f64]) -> Option<f64> {
        Fit::new(x, weights).map(|fit| fit.slope(means))
    }

    #[test]
    fn the_slope_is_the_closed_form_and_weights_act_as_repeated_points() {
        // y = 2 + 3x exactly.
        assert_eq!(
            slope(&[0.0, 1.0, 2.0], &[2.0, 5.0, 8.0], &[1.0, 1.0, 1.0]),
            Some(3.0)
        );
        // Points (0, 0) twice and (1, 1), (2, 1): closed form with x_bar = 0.75,
        // y_bar = 0.5: sxy = 2(0.375) + 0.125 + 0.625 = 1.5, sxx = 2(0.5625) + 0.0625 + 1.5625 = 2.75.
        let b = slope(&[0.0, 1.0, 2.0], &[0.0, 1.0, 1.0], &[2.0, 1.0, 1.0]).unwrap();
        assert!((b - 1.5 / 2.75).abs() < 1e-12);
        assert_eq!(slope(&[1.0, 1.0], &[0.0, 1.0], &[1.0, 1.0]), None);
    }

    #[test]
    fn naive_intervals_match_the_textbook_standard_error() {
        // x = 0..4, y = x + e with e = (0.1, -0.1, 0, 0.1, -0.1): sxx = 10,
        // sxy = 10 - 0.2, so b = 0.98; residuals 0.02 (x - 2) + e =
        // (0.06, -0.12, 0, 0.12, -0.06) sum to squares 0.036; se = sqrt(0.036 / 3 / 10).
        let e = [0.1, -0.1, 0.0, 0.1, -0.1];
        let points: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, i as f64 + e[i])).collect();
        let NaiveIntervals { ci50, ci95 } = naive_intervals(|| points.iter().copied()).unwrap();
        let se = (0.036f64 / 3.0 / 10.0).sqrt();
        // scipy.stats.t.ppf(0.975, 3) and t.ppf(0.75, 3): 5 points, 3 degrees of freedom.
        assert!((ci95[1] - ci95[0] - 2.0 * 3.1824463052837078 * se).abs() < 1e-9);
        assert!((ci50[1] - ci50[0] - 2.0 * 0.7648923284043444 * se).abs() < 1e-9);
        assert!(((ci50[0] + ci50[1]) / 2.0 - 0.98).abs() < 1e-12);
    }
}
