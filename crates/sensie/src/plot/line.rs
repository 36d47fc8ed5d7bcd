//! Line charts: a score against a perturbation parameter with its interval
//! as a shaded band, other series (accuracy) on the same axis, and reference
//! lines for the unperturbed level and a threshold.

use super::axis::Axis;
use super::frame::{BAND_OPACITY, Entry, Frame, Size, colour};
use super::svg::{Stroke, Svg};

/// Dash patterns: dashed series, the vertical and horizontal reference lines.
const DASHED: &str = "6 4";
const REFERENCE_X: &str = "6 3";
const REFERENCE_Y: &str = "2 3";
const REFERENCE_COLOUR: &str = "#555555";

/// One line of a chart.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// The legend label.
    pub name: String,
    /// (x, y) in drawing order; a non-finite value breaks the line.
    pub points: Vec<(f64, f64)>,
    /// (x, lower, upper), e.g. a 95% interval, shaded behind the line;
    /// empty for none.
    pub band: Vec<(f64, f64, f64)>,
    pub dashed: bool,
    /// A dot at every point, for sparse or irregular x values.
    pub markers: bool,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            ..Series::default()
        }
    }

    /// This series with an interval band.
    pub fn with_band(self, band: Vec<(f64, f64, f64)>) -> Self {
        Series { band, ..self }
    }
}

/// A labelled reference line across the plot.
#[derive(Clone, Debug, PartialEq)]
pub enum RefLine {
    /// Vertical, e.g. the unperturbed parameter value.
    AtX { x: f64, label: String },
    /// Horizontal, e.g. a score threshold.
    AtY { y: f64, label: String },
}

/// A line chart; fill the fields, then call [`LineChart::svg`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub lines: Vec<RefLine>,
    pub size: Size,
}

impl LineChart {
    /// The chart as a standalone SVG document.
    pub fn svg(&self) -> String {
        let xs = self.series.iter().flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.0)
                .chain(s.band.iter().map(|b| b.0))
        });
        let ref_x = self.lines.iter().filter_map(|l| match l {
            RefLine::AtX { x, .. } => Some(*x),
            RefLine::AtY { .. } => None,
        });
        let x_ticks = self.x.ticks(xs.chain(ref_x), true);
        let ys = self.series.iter().flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.1)
                .chain(s.band.iter().flat_map(|b| [b.1, b.2]))
        });
        let ref_y = self.lines.iter().filter_map(|l| match l {
            RefLine::AtY { y, .. } => Some(*y),
            RefLine::AtX { .. } => None,
        });
        let y_ticks = self.y.ticks(ys.chain(ref_y), false);
        let legend = self.legend();
        let frame = Frame::new(
            self.size,
            &self.title,
            (x_ticks.low, x_ticks.high),
            y_ticks,
            22.0,
            &legend,
        );

        let mut svg = Svg::new(self.size.width, self.size.height);
        frame.title(&mut svg, &self.title);
        frame.y_axis(&mut svg, &self.y.label);
        frame.x_ticks(&mut svg, &x_ticks);
        frame.x_label(&mut svg, &self.x.label, self.size);
        for (i, series) in self.series.iter().enumerate() {
            draw_band(&mut svg, &frame, &series.band, colour(i));
        }
        for line in &self.lines {
            let stroke = |dash| Stroke {
                colour: REFERENCE_COLOUR,
                width: 1.2,
                dash: Some(dash),
            };
            match line {
                RefLine::AtX { x, .. } if x.is_finite() => {
                    let px = frame.x(*x);
                    svg.line((px, frame.top), (px, frame.bottom), stroke(REFERENCE_X));
                }
                RefLine::AtY { y, .. } if y.is_finite() => {
                    let py = frame.y(*y);
                    svg.line((frame.left, py), (frame.right, py), stroke(REFERENCE_Y));
                }
                _ => {}
            }
        }
        for (i, series) in self.series.iter().enumerate() {
            let stroke = Stroke {
                colour: colour(i),
                width: 2.0,
                dash: series.dashed.then_some(DASHED),
            };
            for run in finite_runs(&series.points) {
                let pixels: Vec<(f64, f64)> = run
                    .iter()
                    .map(|(x, y)| (frame.x(*x), frame.y(*y)))
                    .collect();
                svg.polyline(&pixels, stroke);
                if series.markers {
                    for p in &pixels {
                        svg.circle(*p, 3.0, colour(i));
                    }
                }
            }
        }
        frame.legend(&mut svg, &legend);
        svg.finish()
    }

    fn legend(&self) -> Vec<Entry> {
        let series = self.series.iter().enumerate().map(|(i, s)| Entry {
            label: s.name.clone(),
            colour: colour(i),
            dash: s.dashed.then_some(DASHED),
            band: !s.band.is_empty(),
        });
        let lines = self.lines.iter().map(|l| {
            let (label, dash) = match l {
                RefLine::AtX { label, .. } => (label, REFERENCE_X),
                RefLine::AtY { label, .. } => (label, REFERENCE_Y),
            };
            Entry {
                label: label.clone(),
                colour: REFERENCE_COLOUR,
                dash: Some(dash),
                band: false,
            }
        });
        series
            .chain(lines)
            .filter(|e| !e.label.is_empty())
            .collect()
    }
}

/// The shaded band: upper bounds left to right, lower bounds back, one
/// polygon per run of finite values.
fn draw_band(svg: &mut Svg, frame: &Frame, band: &[(f64, f64, f64)], colour: &str) {
    let runs = band.split(|(x, lo, hi)| !(x.is_finite() && lo.is_finite() && hi.is_finite()));
    for run in runs.filter(|r| r.len() > 1) {
        let upper = run.iter().map(|(x, _, hi)| (frame.x(*x), frame.y(*hi)));
        let lower = run
            .iter()
            .rev()
            .map(|(x, lo, _)| (frame.x(*x), frame.y(*lo)));
        svg.polygon(
            &upper.chain(lower).collect::<Vec<_>>(),
            colour,
            BAND_OPACITY,
        );
    }
}

/// `points` split where a coordinate is not finite.
fn finite_runs(points: &[(f64, f64)]) -> impl Iterator<Item = &[(f64, f64)]> {
    points
        .split(|(x, y)| !(x.is_finite() && y.is_finite()))
        .filter(|run| !run.is_empty())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn probe_chart() -> LineChart {
        let levels = [0.0, 45.0, 90.0, 135.0, 180.0];
        let score: Vec<(f64, f64)> = levels.iter().map(|&x| (x, 0.95 - x / 400.0)).collect();
        let band = levels
            .iter()
            .map(|&x| (x, 0.9 - x / 400.0, 1.0 - x / 400.0))
            .collect();
        LineChart {
            title: "Correct-class score under rotation".into(),
            x: Axis::new("rotation (deg)"),
            y: Axis::new("score").with_range(0.0, 1.0),
            series: vec![
                Series::new("mean score (95% interval)", score).with_band(band),
                Series {
                    dashed: true,
                    markers: true,
                    ..Series::new(
                        "accuracy",
                        levels.iter().map(|&x| (x, 0.9 - x / 300.0)).collect(),
                    )
                },
            ],
            lines: vec![
                RefLine::AtX {
                    x: 0.0,
                    label: "unperturbed".into(),
                },
                RefLine::AtY {
                    y: 0.5,
                    label: "threshold 0.5".into(),
                },
            ],
            size: Size::default(),
        }
    }

    #[test]
    fn a_probe_chart_has_its_points_band_lines_and_legend() {
        let svg = probe_chart().svg();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let polylines: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .collect();
        assert_eq!(polylines.len(), 2);
        for p in &polylines {
            assert_eq!(p.attribute("points").unwrap().split(' ').count(), 5);
        }
        let bands: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("polygon"))
            .collect();
        assert_eq!(bands.len(), 2, "the band and its legend swatch");
        assert_eq!(bands[0].attribute("points").unwrap().split(' ').count(), 10);
        assert_eq!(
            doc.descendants()
                .filter(|n| n.has_tag_name("circle"))
                .count(),
            5,
            "accuracy markers"
        );
        let texts = crate::plot::texts(&doc);
        for expected in [
            "rotation (deg)",
            "score",
            "unperturbed",
            "threshold 0.5",
            "accuracy",
            "0.0",
            "1.0",
            "150",
        ] {
            assert!(
                texts.contains(&expected),
                "{expected} missing from {texts:?}"
            );
        }
    }

    #[test]
    fn points_map_to_the_plot_area_and_gaps_break_lines() {
        let chart = LineChart {
            x: Axis::new("x").with_range(0.0, 1.0),
            y: Axis::new("y").with_range(0.0, 1.0),
            series: vec![Series::new(
                "s",
                vec![
                    (0.0, 0.0),
                    (1.0, 1.0),
                    (f64::NAN, 0.5),
                    (0.5, 0.5),
                    (0.6, 0.6),
                ],
            )],
            ..LineChart::default()
        };
        let svg = chart.svg();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let lines: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .collect();
        assert_eq!(lines.len(), 2);
        // (0, 0) is the bottom-left corner of the plot area, (1, 1) the
        // top-right: where the axis lines (the long dark lines) meet and end.
        let coordinate =
            |l: &roxmltree::Node, a: &str| l.attribute(a).unwrap().parse::<f64>().unwrap();
        let axes: Vec<_> = doc
            .descendants()
            .filter(|l| l.has_tag_name("line") && l.attribute("stroke") == Some("#333333"))
            .filter(|l| {
                (coordinate(l, "x2") - coordinate(l, "x1")).abs()
                    + (coordinate(l, "y2") - coordinate(l, "y1")).abs()
                    > 20.0
            })
            .collect();
        let left = axes
            .iter()
            .find(|l| l.attribute("x1") == l.attribute("x2"))
            .unwrap();
        let bottom = axes
            .iter()
            .find(|l| l.attribute("y1") == l.attribute("y2"))
            .unwrap();
        let first: Vec<&str> = lines[0].attribute("points").unwrap().split(' ').collect();
        assert_eq!(
            first[0],
            format!(
                "{},{}",
                left.attribute("x1").unwrap(),
                bottom.attribute("y1").unwrap()
            )
        );
        assert_eq!(
            first[1],
            format!(
                "{},{}",
                bottom.attribute("x2").unwrap(),
                left.attribute("y1").unwrap()
            )
        );
    }
}
