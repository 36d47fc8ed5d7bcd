//! A vertical colour bar with ticks, as an SVG to set beside a heat map or
//! an attribution overlay in a figure.

use super::axis::Axis;
use super::svg::{Anchor, Font, Stroke, Svg};
use crate::render::{Colormap, HeatScale};

/// Steps the gradient is drawn in; finer than the eye separates at figure size.
const STEPS: usize = 128;

/// A colour bar for values `low` to `high` on `map`.
#[derive(Clone, Debug, PartialEq)]
pub struct ColourBar {
    pub map: Colormap,
    pub low: f64,
    pub high: f64,
    /// The quantity shown, e.g. "attribution (logit / pixel)".
    pub label: String,
    /// Height of the bar in pixels; the width follows from the labels.
    pub height: f64,
}

impl ColourBar {
    /// The bar that explains a heat map drawn with `scale`.
    pub fn for_heat(scale: &HeatScale, label: impl Into<String>) -> Self {
        let (low, high) = scale.range();
        ColourBar {
            map: scale.colormap(),
            low: f64::from(low),
            high: f64::from(high),
            label: label.into(),
            height: 300.0,
        }
    }

    /// The bar as a standalone SVG document.
    pub fn svg(&self) -> String {
        const BAR_WIDTH: f64 = 18.0;
        const FONT: f64 = 11.0;
        let ticks = Axis::new("")
            .with_range(self.low, self.high)
            .ticks([], true);
        let labels = ticks.labels();
        let widest = labels
            .iter()
            .map(|l| super::svg::text_width(l, FONT))
            .fold(0.0, f64::max);
        let (top, bottom, left) = (10.0, self.height.max(40.0) - 10.0, 8.0);
        let width = left + BAR_WIDTH + 8.0 + widest + 10.0 + 14.0;
        let mut svg = Svg::new(width, self.height.max(40.0));
        let step = (bottom - top) / STEPS as f64;
        for k in 0..STEPS {
            // Top step is the high end; each overlaps the next to avoid seams.
            let t = 1.0 - (k as f32 + 0.5) / STEPS as f32;
            let [r, g, b] = self.map.rgb(t);
            let y = top + k as f64 * step;
            svg.rect(
                (left, y),
                (BAR_WIDTH, step + 0.5),
                &format!("#{r:02x}{g:02x}{b:02x}"),
                None,
            );
        }
        svg.rect(
            (left, top),
            (BAR_WIDTH, bottom - top),
            "none",
            Some(Stroke::solid("#333333", 1.0)),
        );
        let span = self.high - self.low;
        for (v, text) in ticks.values.iter().zip(&labels) {
            let t = if span > 0.0 {
                (v - self.low) / span
            } else {
                0.5
            };
            let y = bottom - t * (bottom - top);
            let x = left + BAR_WIDTH;
            svg.line((x, y), (x + 4.0, y), Stroke::solid("#333333", 1.0));
            svg.text(
                (x + 7.0, y + FONT * 0.35),
                text,
                Font::new(FONT, Anchor::Start),
            );
        }
        let middle = (top + bottom) / 2.0;
        svg.text(
            (width - 6.0, middle),
            &self.label,
            Font {
                rotate: -90.0,
                ..Font::new(12.0, Anchor::Middle)
            },
        );
        svg.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_heat_scale_gives_a_symmetric_diverging_bar() {
        let bar = ColourBar::for_heat(&HeatScale::Signed { limit: 2.0 }, "gradient");
        assert_eq!(
            (bar.map, bar.low, bar.high),
            (Colormap::Diverging, -2.0, 2.0)
        );
        let svg = bar.svg();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let fills: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect"))
            .filter_map(|n| n.attribute("fill"))
            .collect();
        // Background, the steps, the outline.
        assert_eq!(fills.len(), 1 + STEPS + 1);
        let [r, g, b] = Colormap::Diverging.rgb(1.0 - 0.5 / STEPS as f32);
        assert_eq!(
            fills[1],
            format!("#{r:02x}{g:02x}{b:02x}"),
            "the top step is the positive end"
        );
        let texts = crate::plot::texts(&doc);
        assert!(
            texts.contains(&"\u{2212}2")
                && texts.contains(&"0")
                && texts.contains(&"2")
                && texts.contains(&"gradient"),
            "{texts:?}"
        );
    }
}
