//! What every chart shares: the layout of title, plot area, axes and legend,
//! and the drawing of each. The legend sits to the right of the plot area, so
//! it can never hide data.

use super::axis::Ticks;
use super::svg::{Anchor, Font, Stroke, Svg, text_width};

/// Colours of successive series: Okabe and Ito's palette, distinguishable
/// with the common colour-vision deficiencies and in grey print.
pub(crate) const PALETTE: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

/// Colour of a series by its position.
pub(crate) fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

const AXIS_COLOUR: &str = "#333333";
const GRID_COLOUR: &str = "#e5e5e5";
const TICK_FONT: f64 = 11.0;
const LABEL_FONT: f64 = 12.0;
const TITLE_FONT: f64 = 14.0;
const LEGEND_ROW: f64 = 18.0;

/// A chart's size in pixels (SVG user units).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Size {
    pub width: f64,
    pub height: f64,
}

impl Default for Size {
    /// Wide enough for a legend beside the plot, and a 3:2-ish plot area.
    fn default() -> Self {
        Size {
            width: 640.0,
            height: 400.0,
        }
    }
}

/// One legend row: a line sample (over a shaded band when the series has
/// one) and its label.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub label: String,
    pub colour: &'static str,
    pub dash: Option<&'static str>,
    pub band: bool,
}

/// The plot area in pixels and the data ranges it shows.
pub(crate) struct Frame {
    pub left: f64,
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
    x: (f64, f64),
    y: Ticks,
}

impl Frame {
    /// Lays out a chart: room for the title, the y tick labels (measured),
    /// `x_labels` pixels below the axis for x tick labels, and the legend.
    pub fn new(
        size: Size,
        title: &str,
        x: (f64, f64),
        y: Ticks,
        x_labels: f64,
        legend: &[Entry],
    ) -> Self {
        let widest_tick = y
            .labels()
            .iter()
            .map(|l| text_width(l, TICK_FONT))
            .fold(0.0, f64::max);
        let legend_width = legend
            .iter()
            .map(|e| 34.0 + text_width(&e.label, TICK_FONT))
            .fold(0.0, f64::max);
        let left = 22.0 + LABEL_FONT + widest_tick;
        let top = if title.is_empty() {
            14.0
        } else {
            24.0 + TITLE_FONT
        };
        let right = size.width
            - 16.0
            - if legend.is_empty() {
                0.0
            } else {
                legend_width + 8.0
            };
        let bottom = size.height - 14.0 - LABEL_FONT - x_labels;
        // A chart too small for its labels still gets a (tiny) plot area.
        Frame {
            left,
            top,
            right: right.max(left + 10.0),
            bottom: bottom.max(top + 10.0),
            x,
            y,
        }
    }

    /// The pixel column of data value `v`, clamped to the plot area.
    pub fn x(&self, v: f64) -> f64 {
        scale(v, self.x, (self.left, self.right))
    }

    /// The pixel row of data value `v`, clamped to the plot area.
    pub fn y(&self, v: f64) -> f64 {
        scale(v, (self.y.low, self.y.high), (self.bottom, self.top))
    }

    pub fn title(&self, svg: &mut Svg, title: &str) {
        if !title.is_empty() {
            let centre = (self.left + self.right) / 2.0;
            svg.text(
                (centre, 10.0 + TITLE_FONT),
                title,
                Font {
                    bold: true,
                    ..Font::new(TITLE_FONT, Anchor::Middle)
                },
            );
        }
    }

    /// Horizontal grid lines, y ticks with their labels, the y label and the
    /// left and bottom axis lines.
    pub fn y_axis(&self, svg: &mut Svg, label: &str) {
        for (v, text) in self.y.values.iter().zip(self.y.labels()) {
            let y = self.y(*v);
            svg.line(
                (self.left, y),
                (self.right, y),
                Stroke::solid(GRID_COLOUR, 1.0),
            );
            svg.line(
                (self.left - 5.0, y),
                (self.left, y),
                Stroke::solid(AXIS_COLOUR, 1.0),
            );
            svg.text(
                (self.left - 8.0, y + TICK_FONT * 0.35),
                &text,
                Font::new(TICK_FONT, Anchor::End),
            );
        }
        let middle = (self.top + self.bottom) / 2.0;
        svg.text(
            (6.0 + LABEL_FONT, middle),
            label,
            Font {
                rotate: -90.0,
                ..Font::new(LABEL_FONT, Anchor::Middle)
            },
        );
        let axis = Stroke::solid(AXIS_COLOUR, 1.0);
        svg.line((self.left, self.top), (self.left, self.bottom), axis);
        svg.line((self.left, self.bottom), (self.right, self.bottom), axis);
    }

    /// The label under the x axis.
    pub fn x_label(&self, svg: &mut Svg, label: &str, size: Size) {
        svg.text(
            ((self.left + self.right) / 2.0, size.height - 10.0),
            label,
            Font::new(LABEL_FONT, Anchor::Middle),
        );
    }

    /// Numeric x ticks with their labels.
    pub fn x_ticks(&self, svg: &mut Svg, ticks: &Ticks) {
        for (v, text) in ticks.values.iter().zip(ticks.labels()) {
            let x = self.x(*v);
            svg.line(
                (x, self.bottom),
                (x, self.bottom + 5.0),
                Stroke::solid(AXIS_COLOUR, 1.0),
            );
            svg.text(
                (x, self.bottom + 8.0 + TICK_FONT),
                &text,
                Font::new(TICK_FONT, Anchor::Middle),
            );
        }
    }

    /// The legend, top-aligned to the right of the plot area.
    pub fn legend(&self, svg: &mut Svg, entries: &[Entry]) {
        let x = self.right + 14.0;
        for (i, entry) in entries.iter().enumerate() {
            let y = self.top + 6.0 + i as f64 * LEGEND_ROW;
            if entry.band {
                let corners = [
                    (x, y - 5.0),
                    (x + 24.0, y - 5.0),
                    (x + 24.0, y + 5.0),
                    (x, y + 5.0),
                ];
                svg.polygon(&corners, entry.colour, BAND_OPACITY);
            }
            svg.line(
                (x, y),
                (x + 24.0, y),
                Stroke {
                    colour: entry.colour,
                    width: 2.0,
                    dash: entry.dash,
                },
            );
            svg.text(
                (x + 30.0, y + TICK_FONT * 0.35),
                &entry.label,
                Font::new(TICK_FONT, Anchor::Start),
            );
        }
    }
}

/// Opacity of shaded interval bands.
pub(crate) const BAND_OPACITY: f64 = 0.2;

/// `v` from `domain` to `pixels`, clamped to the pixel range.
fn scale(v: f64, domain: (f64, f64), pixels: (f64, f64)) -> f64 {
    let span = domain.1 - domain.0;
    let t = if span > 0.0 {
        ((v - domain.0) / span).clamp(0.0, 1.0)
    } else {
        0.5
    };
    pixels.0 + t * (pixels.1 - pixels.0)
}
