//! Bar charts sorted by value with error bars: per-class sensitivity, where
//! the order of the bars is the finding (which classes suffer most).

use super::axis::Axis;
use super::frame::{Frame, Size, colour};
use super::svg::{Anchor, Font, Stroke, Svg, text_width};

const TICK_FONT: f64 = 11.0;

/// One bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    /// (lower, upper) ends of the error bar in data units, e.g. a 95%
    /// interval; `None` for none.
    pub interval: Option<(f64, f64)>,
}

/// A bar chart; the bars are drawn from the largest value to the smallest
/// (non-finite values last, without a bar) unless `in_given_order`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarChart {
    pub title: String,
    /// The label under the categories, e.g. "class".
    pub x_label: String,
    pub y: Axis,
    pub bars: Vec<Bar>,
    pub size: Size,
    /// Draw the bars as given instead of sorted, e.g. in the order of the
    /// example rows shown beside the chart.
    pub in_given_order: bool,
}

impl BarChart {
    /// The chart as a standalone SVG document.
    pub fn svg(&self) -> String {
        let mut bars: Vec<&Bar> = self.bars.iter().collect();
        if !self.in_given_order {
            bars.sort_by(|a, b| match (a.value.is_finite(), b.value.is_finite()) {
                (true, true) => b.value.total_cmp(&a.value),
                (finite_a, finite_b) => finite_b.cmp(&finite_a),
            });
        }
        let values = bars.iter().flat_map(|b| {
            let (lo, hi) = b.interval.unwrap_or((b.value, b.value));
            [b.value, lo, hi]
        });
        // Bars grow from 0, so 0 is always on the axis.
        let y_ticks = self.y.ticks(values.chain([0.0]), false);
        let widest = bars
            .iter()
            .map(|b| text_width(&b.label, TICK_FONT))
            .fold(0.0, f64::max);
        let n = bars.len().max(1) as f64;
        // A first guess at the cell width decides whether labels must slant.
        let cell_guess = (self.size.width - 120.0) / n;
        let slanted = widest > cell_guess * 0.9;
        let label_room = if slanted { widest * 0.71 + 12.0 } else { 22.0 };
        let frame = Frame::new(self.size, &self.title, (0.0, n), y_ticks, label_room, &[]);

        let mut svg = Svg::new(self.size.width, self.size.height);
        frame.title(&mut svg, &self.title);
        frame.y_axis(&mut svg, &self.y.label);
        frame.x_label(&mut svg, &self.x_label, self.size);
        let cell = (frame.right - frame.left) / n;
        let zero = frame.y(0.0);
        for (i, bar) in bars.iter().enumerate() {
            let centre = frame.x(i as f64 + 0.5);
            if bar.value.is_finite() {
                let top = frame.y(bar.value);
                svg.rect(
                    (centre - cell * 0.35, top.min(zero)),
                    (cell * 0.7, (top - zero).abs()),
                    colour(0),
                    None,
                );
            }
            if let Some((lo, hi)) = bar
                .interval
                .filter(|(lo, hi)| lo.is_finite() && hi.is_finite())
            {
                let whisker = Stroke::solid("#222222", 1.2);
                let cap = (cell * 0.12).min(6.0);
                let (y_lo, y_hi) = (frame.y(lo), frame.y(hi));
                svg.line((centre, y_lo), (centre, y_hi), whisker);
                svg.line((centre - cap, y_lo), (centre + cap, y_lo), whisker);
                svg.line((centre - cap, y_hi), (centre + cap, y_hi), whisker);
            }
            let font = Font::new(
                TICK_FONT,
                if slanted { Anchor::End } else { Anchor::Middle },
            );
            let at = (centre, frame.bottom + 8.0 + TICK_FONT);
            svg.text(
                at,
                &bar.label,
                if slanted {
                    Font {
                        rotate: -45.0,
                        ..font
                    }
                } else {
                    font
                },
            );
        }
        // A zero line when bars go below it.
        if frame.y(0.0) < frame.bottom {
            svg.line(
                (frame.left, zero),
                (frame.right, zero),
                Stroke::solid("#333333", 1.0),
            );
        }
        svg.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_chart() -> BarChart {
        let bars = [
            ("cat", 0.12, 0.05),
            ("ship", 0.31, 0.04),
            ("dog", -0.02, 0.03),
            ("truck", 0.2, 0.06),
        ]
        .into_iter()
        .map(|(l, v, e)| Bar {
            label: l.into(),
            value: v,
            interval: Some((v - e, v + e)),
        })
        .collect();
        BarChart {
            title: "Class sensitivity".into(),
            x_label: "class".into(),
            y: Axis::new("change in mean score"),
            bars,
            size: Size::default(),
            in_given_order: false,
        }
    }

    #[test]
    fn bars_in_given_order_keep_it() {
        // cat, ship, dog, truck left to right (sorted would be ship first).
        let svg = BarChart {
            in_given_order: true,
            ..class_chart()
        }
        .svg();
        let at = |label: &str| svg.find(&format!(">{label}<")).unwrap();
        assert!(at("cat") < at("ship") && at("ship") < at("dog") && at("dog") < at("truck"));
        let sorted = class_chart().svg();
        let at = |label: &str| sorted.find(&format!(">{label}<")).unwrap();
        assert!(at("ship") < at("truck") && at("truck") < at("cat"));
    }

    #[test]
    fn bars_are_sorted_with_error_bars_and_labels() {
        let svg = class_chart().svg();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let rects: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect"))
            .skip(1)
            .collect();
        assert_eq!(rects.len(), 4, "one rect per bar after the background");
        let texts = crate::plot::texts(&doc);
        let order: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| ["cat", "ship", "dog", "truck"].contains(t))
            .collect();
        assert_eq!(order, ["ship", "truck", "cat", "dog"]);
        let whiskers = doc
            .descendants()
            .filter(|n| n.has_tag_name("line") && n.attribute("stroke") == Some("#222222"))
            .count();
        assert_eq!(whiskers, 12, "a stem and two caps per bar");
        // The tallest bar is the first and the negative one hangs below zero.
        let height = |r: &roxmltree::Node| r.attribute("height").unwrap().parse::<f64>().unwrap();
        assert!(height(&rects[0]) > height(&rects[1]) && height(&rects[1]) > height(&rects[2]));
    }

    #[test]
    fn long_labels_slant_and_missing_values_draw_no_bar() {
        let bars = (0..20)
            .map(|i| Bar {
                label: format!("a long class name {i}"),
                value: if i == 3 { f64::NAN } else { i as f64 },
                interval: None,
            })
            .collect();
        let svg = BarChart {
            bars,
            ..BarChart::default()
        }
        .svg();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(
            doc.descendants().filter(|n| n.has_tag_name("rect")).count(),
            1 + 19
        );
        assert!(doc.descendants().any(|n| {
            n.attribute("transform")
                .is_some_and(|t| t.starts_with("rotate(-45"))
        }));
    }
}
