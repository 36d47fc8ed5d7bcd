//! Where the mean score first crosses a threshold.
//!
//! Levels are taken in the order tested. For a score where higher is better
//! (a probability), the crossing is where the mean first falls below the
//! threshold; for an error, where it first rises above. Between the last
//! level on the good side and the first on the bad side the parameter is
//! interpolated linearly; a curve that starts on the bad side crosses at the
//! first level.

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
    Some(x0 + (x1 - x0) * (m0 - threshold) / (m0 - m1))
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
        let errors = [1.0, 2.0, 5.0, 9.0];
        assert_eq!(
            crossing(&values, &errors, 3.5, Direction::LowerIsBetter),
            Some(15.0)
        );
    }
}
