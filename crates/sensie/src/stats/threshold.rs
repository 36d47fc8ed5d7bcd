//! Where the mean score first crosses a threshold.
//!
//! Levels are taken in the order tested. For a score where higher is better
//! (a probability), the crossing is where the mean first falls below the
//! threshold; for an error, where it first rises above. Between the last
//! level on the good side and the first on the bad side the parameter is
//! interpolated linearly; a curve that starts on the bad side crosses at the
//! first level. Next to an infinite level (Poisson noise's identity, an
//! infinite gain) the interpolation is linear in the reciprocal, the noise's
//! variance, so the crossing lies between the finite level and infinity
//! instead of being NaN.

use super::Direction;

/// The parameter value of the first crossing of `threshold`, if any.
pub(super) fn crossing(
    values: &[f64],
    means: &[f64],
    threshold: f64,
    direction: Direction,
) -> Option<f64> {
    let bad = |m: f64| match direction {
        Direction::HigherIsBetter => m < threshold,
        Direction::LowerIsBetter => m > threshold,
    };
    let first = means.iter().position(|&m| bad(m))?;
    if first == 0 {
        return Some(values[0]);
    }
    let (x0, x1, m0, m1) = (
        values[first - 1],
        values[first],
        means[first - 1],
        means[first],
    );
    let along = (m0 - threshold) / (m0 - m1);
    if x0.is_infinite() || x1.is_infinite() {
        return Some(1.0 / (1.0 / x0 + (1.0 / x1 - 1.0 / x0) * along));
    }
    Some(x0 + (x1 - x0) * along)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_between_the_levels_either_side() {
        let values = [0.0, 10.0, 20.0, 30.0];
        let means = [0.9, 0.8, 0.4, 0.1];
        // 0.5 lies a quarter of the way from 0.8 (x=10) to 0.4 (x=20).
        assert_eq!(
            crossing(&values, &means, 0.5, Direction::HigherIsBetter),
            Some(17.5)
        );
        assert_eq!(
            crossing(&values, &means, 0.05, Direction::HigherIsBetter),
            None
        );
        assert_eq!(
            crossing(&values, &means, 0.95, Direction::HigherIsBetter),
            Some(0.0)
        );
        // From an infinite gain (no noise) to 100: 0.7 lies a quarter of
        // the way from 0.9 to 0.1, a variance (1 / gain) of 0.25 / 100.
        let gains = [f64::INFINITY, 100.0, 10.0];
        let means = [0.9, 0.1, 0.0];
        let at = crossing(&gains, &means, 0.7, Direction::HigherIsBetter).unwrap();
        assert!((at - 400.0).abs() < 1e-9, "{at}");
        let errors = [1.0, 2.0, 5.0, 9.0];
        assert_eq!(
            crossing(&values, &errors, 3.5, Direction::LowerIsBetter),
            Some(15.0)
        );
    }
}
