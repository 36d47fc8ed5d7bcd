//! A two-parameter surface: one cell per pair of values, coloured by a
//! score (viridis), cells marked where a change is significant, and the
//! contour where the score crosses a threshold.
//!
//! The axes are the values tested, one column or row each, labelled with
//! the value itself (grids are a few values a side, often unevenly spaced).
//! The contour is traced by marching squares between cell centres with
//! linear interpolation, so it passes between the cells that straddle the
//! threshold, where a linear surface would cross it.

use super::frame::Size;
use super::svg::{Anchor, Font, Stroke, Svg, text_width};
use crate::render::Colormap;

const TITLE_FONT: f64 = 16.0;
const LABEL_FONT: f64 = 14.0;
const TICK_FONT: f64 = 13.0;
const CONTOUR_COLOUR: &str = "#D55E00";
const BAR_STEPS: usize = 64;

/// A heat map of `values` (rows along `y`, columns along `x`); fill the
/// fields, then call [`GridChart::svg`].
#[derive(Clone, Debug, PartialEq)]
pub struct GridChart {
    pub title: String,
    pub x_label: String,
    pub x_values: Vec<f64>,
    pub y_label: String,
    pub y_values: Vec<f64>,
    /// `y_values.len()` rows of `x_values.len()` scores.
    pub values: Vec<Vec<f64>>,
    /// Cells drawn with a dot (same shape as `values`).
    pub marked: Vec<Vec<bool>>,
    /// What a dot means, for the legend.
    pub marked_label: String,
    /// The colour scale's ends.
    pub low: f64,
    pub high: f64,
    /// The score whose contour is drawn.
    pub contour: Option<f64>,
    /// The quantity coloured, for the colour bar.
    pub colour_label: String,
    pub size: Size,
}

/// Segments of the contour where `values` (rows x columns, at integer
/// positions) cross `level`, in (column, row) coordinates, by marching
/// squares with linear interpolation along each cell edge.
pub fn contour_segments(values: &[Vec<f64>], level: f64) -> Vec<[(f64, f64); 2]> {
    let mut segments = Vec::new();
    let rows = values.len();
    let columns = values.first().map_or(0, Vec::len);
    for r in 0..rows.saturating_sub(1) {
        for c in 0..columns.saturating_sub(1) {
            // Corners in order around the square, with their positions.
            let corners = [(c, r), (c + 1, r), (c + 1, r + 1), (c, r + 1)];
            let mut crossings = Vec::new();
            for k in 0..4 {
                let (a, b) = (corners[k], corners[(k + 1) % 4]);
                let (va, vb) = (values[a.1][a.0], values[b.1][b.0]);
                if (va >= level) != (vb >= level) {
                    let t = (level - va) / (vb - va);
                    crossings.push((
                        a.0 as f64 + t * (b.0 as f64 - a.0 as f64),
                        a.1 as f64 + t * (b.1 as f64 - a.1 as f64),
                    ));
                }
            }
            // Two crossings make a segment; four (a saddle) make two.
            for pair in crossings.chunks_exact(2) {
                segments.push([pair[0], pair[1]]);
            }
        }
    }
    segments
}

fn label(v: f64) -> String {
    let text = format!("{:.3}", v);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.replace('-', "\u{2212}")
    }
}

fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

impl GridChart {
    /// The chart as a standalone SVG document.
    pub fn svg(&self) -> String {
        let (width, height) = (self.size.width, self.size.height);
        let widest_y = self
            .y_values
            .iter()
            .map(|&v| text_width(&label(v), TICK_FONT))
            .fold(0.0, f64::max);
        let (left, top) = (22.0 + LABEL_FONT + widest_y, 24.0 + TITLE_FONT);
        let right = width - 110.0;
        let bottom = height - 14.0 - LABEL_FONT - 22.0 - 22.0;
        let (columns, rows) = (self.x_values.len().max(1), self.y_values.len().max(1));
        let (cell_w, cell_h) = (
            (right - left) / columns as f64,
            (bottom - top) / rows as f64,
        );
        // Row 0 (the first y value) at the bottom, as on any y axis.
        let x_of = |c: f64| left + (c + 0.5) * cell_w;
        let y_of = |r: f64| bottom - (r + 0.5) * cell_h;
        let span = self.high - self.low;
        let position = |v: f64| {
            if span > 0.0 {
                ((v - self.low) / span) as f32
            } else {
                0.5
            }
        };

        let mut svg = Svg::new(width, height);
        svg.text(
            (width / 2.0, 10.0 + TITLE_FONT),
            &self.title,
            Font::new(TITLE_FONT, Anchor::Middle),
        );
        for (r, row) in self.values.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let colour = hex(Colormap::Viridis.rgb(position(v)));
                svg.rect(
                    (left + c as f64 * cell_w, bottom - (r + 1) as f64 * cell_h),
                    (cell_w + 0.5, cell_h + 0.5),
                    &colour,
                    None,
                );
                if self.marked.get(r).and_then(|m| m.get(c)).copied() == Some(true) {
                    let centre = (x_of(c as f64), y_of(r as f64));
                    svg.circle(centre, 5.0, "#ffffff");
                    svg.circle(centre, 3.0, "#000000");
                }
            }
        }
        if let Some(level) = self.contour {
            for [a, b] in contour_segments(&self.values, level) {
                svg.line(
                    (x_of(a.0), y_of(a.1)),
                    (x_of(b.0), y_of(b.1)),
                    Stroke::solid(CONTOUR_COLOUR, 2.5),
                );
            }
        }
        svg.rect(
            (left, top),
            (right - left, bottom - top),
            "none",
            Some(Stroke::solid("#333333", 1.0)),
        );
        for (c, &v) in self.x_values.iter().enumerate() {
            svg.text(
                (x_of(c as f64), bottom + 6.0 + TICK_FONT),
                &label(v),
                Font::new(TICK_FONT, Anchor::Middle),
            );
        }
        for (r, &v) in self.y_values.iter().enumerate() {
            svg.text(
                (left - 6.0, y_of(r as f64) + TICK_FONT * 0.35),
                &label(v),
                Font::new(TICK_FONT, Anchor::End),
            );
        }
        svg.text(
            ((left + right) / 2.0, bottom + 14.0 + TICK_FONT + LABEL_FONT),
            &self.x_label,
            Font::new(LABEL_FONT, Anchor::Middle),
        );
        svg.text(
            (8.0 + LABEL_FONT, (top + bottom) / 2.0),
            &self.y_label,
            Font {
                rotate: -90.0,
                ..Font::new(LABEL_FONT, Anchor::Middle)
            },
        );
        // The legend under the axis label: the dots and the contour.
        let legend_y = height - 10.0;
        svg.circle((left + 6.0, legend_y - 4.0), 5.0, "#333333");
        svg.circle((left + 6.0, legend_y - 4.0), 3.0, "#000000");
        svg.text(
            (left + 16.0, legend_y),
            &self.marked_label,
            Font::new(TICK_FONT, Anchor::Start),
        );
        if let Some(level) = self.contour {
            let x = left + 40.0 + text_width(&self.marked_label, TICK_FONT);
            svg.line(
                (x, legend_y - 4.0),
                (x + 24.0, legend_y - 4.0),
                Stroke::solid(CONTOUR_COLOUR, 2.5),
            );
            svg.text(
                (x + 30.0, legend_y),
                &format!("score {}", label(level)),
                Font::new(TICK_FONT, Anchor::Start),
            );
        }
        self.colour_bar(&mut svg, right + 24.0, top, bottom);
        svg.finish()
    }

    /// The colour bar at `x`, from `bottom` (low) to `top` (high), with the
    /// ends and the middle labelled.
    fn colour_bar(&self, svg: &mut Svg, x: f64, top: f64, bottom: f64) {
        const WIDTH: f64 = 16.0;
        let step = (bottom - top) / BAR_STEPS as f64;
        for k in 0..BAR_STEPS {
            let t = 1.0 - (k as f32 + 0.5) / BAR_STEPS as f32;
            svg.rect(
                (x, top + k as f64 * step),
                (WIDTH, step + 0.5),
                &hex(Colormap::Viridis.rgb(t)),
                None,
            );
        }
        svg.rect(
            (x, top),
            (WIDTH, bottom - top),
            "none",
            Some(Stroke::solid("#333333", 1.0)),
        );
        for (t, v) in [
            (0.0, self.low),
            (0.5, (self.low + self.high) / 2.0),
            (1.0, self.high),
        ] {
            let y = bottom - t * (bottom - top);
            svg.text(
                (x + WIDTH + 4.0, y + TICK_FONT * 0.35),
                &label(v),
                Font::new(TICK_FONT - 1.0, Anchor::Start),
            );
        }
        svg.text(
            (x + WIDTH + 62.0, (top + bottom) / 2.0),
            &self.colour_label,
            Font {
                rotate: -90.0,
                ..Font::new(12.0, Anchor::Middle)
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contour_of_a_linear_surface_lies_on_its_analytic_line() {
        // f(c, r) = c + 2 r on a 4 x 5 grid: linear interpolation is exact,
        // so every segment's ends satisfy c + 2 r = 3.5 to rounding.
        let values: Vec<Vec<f64>> = (0..4)
            .map(|r| (0..5).map(|c| c as f64 + 2.0 * r as f64).collect())
            .collect();
        let segments = contour_segments(&values, 3.5);
        assert!(!segments.is_empty());
        for [a, b] in &segments {
            for (c, r) in [a, b] {
                assert!((c + 2.0 * r - 3.5).abs() < 1e-12, "{c} {r}");
            }
        }
        // The line runs from (3.5, 0) to (0, 1.75): its length is covered once.
        let length: f64 = segments
            .iter()
            .map(|[a, b]| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt())
            .sum();
        assert!((length - (3.5f64.powi(2) + 1.75f64.powi(2)).sqrt()).abs() < 1e-9);
        assert!(contour_segments(&values, 100.0).is_empty());
    }

    #[test]
    fn cells_marks_and_labels_are_drawn() {
        let chart = GridChart {
            title: "grid".into(),
            x_label: "angle (degrees)".into(),
            x_values: vec![0.0, 45.0, 90.0],
            y_label: "sigma (pixels)".into(),
            y_values: vec![0.0, 1.5],
            values: vec![vec![0.9, 0.8, 0.7], vec![0.6, 0.5, 0.2]],
            marked: vec![vec![false, true, true], vec![true, true, true]],
            marked_label: "significant".into(),
            low: 0.0,
            high: 1.0,
            contour: Some(0.55),
            colour_label: "mean score".into(),
            size: Size {
                width: 700.0,
                height: 500.0,
            },
        };
        let svg = chart.svg();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let texts = crate::plot::texts(&doc);
        for t in [
            "45",
            "1.5",
            "angle (degrees)",
            "sigma (pixels)",
            "score 0.55",
        ] {
            assert!(texts.contains(&t), "{t} in {texts:?}");
        }
        let dots = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("fill") == Some("#000000"))
            .count();
        assert_eq!(dots, 5 + 1, "five marked cells and the legend's dot");
        let contour = doc
            .descendants()
            .filter(|n| n.has_tag_name("line") && n.attribute("stroke") == Some(CONTOUR_COLOUR))
            .count();
        assert!(contour >= 2, "contour segments and the legend's line");
    }
}
