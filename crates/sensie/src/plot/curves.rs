//! Deletion and insertion curves (Petsiuk et al. 2018): the score as the
//! most-attributed pixels are removed from, or added to, the input. The area
//! under each curve is the usual one-number summary, so it goes in the legend
//! where a reader compares methods.

use super::axis::Axis;
use super::line::{LineChart, Series};

/// Area under `points` by the trapezoid rule, over the points with finite
/// coordinates taken in order of x.
pub fn auc(points: &[(f64, f64)]) -> f64 {
    let mut finite: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    finite.sort_by(|a, b| a.0.total_cmp(&b.0));
    finite
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum()
}

/// A chart of curves over x in [0, 1] (unless `x` fixes another range), each
/// named with its area, e.g. "deletion, saliency (AUC 0.214)".
pub fn curves_chart(title: impl Into<String>, x: Axis, y: Axis, curves: Vec<Series>) -> LineChart {
    let x = if x.range.is_none() {
        x.with_range(0.0, 1.0)
    } else {
        x
    };
    let series = curves
        .into_iter()
        .map(|s| Series {
            name: format!("{} (AUC {:.3})", s.name, auc(&s.points)),
            ..s
        })
        .collect();
    LineChart {
        title: title.into(),
        x,
        y,
        series,
        ..LineChart::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_the_trapezoid_rule() {
        // y = x on [0, 1] has area 1/2; a falling step 1, 1, 0 at 0, 0.5, 1: 0.75.
        assert_eq!(auc(&[(0.0, 0.0), (1.0, 1.0)]), 0.5);
        assert_eq!(
            auc(&[(1.0, 0.0), (0.0, 1.0), (0.5, 1.0)]),
            0.75,
            "sorted by x first"
        );
        assert_eq!(auc(&[(0.0, 1.0), (0.5, f64::NAN), (1.0, 1.0)]), 1.0);
        assert_eq!(auc(&[]), 0.0);
    }

    #[test]
    fn legend_names_carry_the_area() {
        let deletion = Series::new("deletion", vec![(0.0, 1.0), (0.5, 0.2), (1.0, 0.0)]);
        let insertion = Series::new("insertion", vec![(0.0, 0.0), (0.5, 0.9), (1.0, 1.0)]);
        let chart = curves_chart(
            "Saliency",
            Axis::new("fraction of pixels"),
            Axis::new("score"),
            vec![deletion, insertion],
        );
        assert_eq!(chart.x.range, Some((0.0, 1.0)));
        assert_eq!(chart.series[0].name, "deletion (AUC 0.350)");
        assert_eq!(chart.series[1].name, "insertion (AUC 0.700)");
        let svg = chart.svg();
        assert!(svg.contains("deletion (AUC 0.350)"));
        roxmltree::Document::parse(&svg).unwrap();
    }
}
