//! A minimal SVG writer: the few elements charts need, text escaped and
//! coordinates rounded to hundredths of a pixel, so files stay small and
//! byte-stable between runs. No element carries an `id`, so several charts
//! can be inlined in one HTML page without clashing.

/// Fonts in order of preference: DejaVu Sans is what the PNG rasteriser
/// finds on Debian; the others are what a reader's browser is likely to have.
pub(crate) const FONT: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

/// Approximate advance width of `text` at `size` px in DejaVu Sans or
/// Helvetica (about 0.6 em a character), used to make room for labels.
pub(crate) fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

/// How a line is drawn.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stroke<'a> {
    pub colour: &'a str,
    pub width: f64,
    /// An SVG dash pattern such as "6 4", or `None` for solid.
    pub dash: Option<&'a str>,
}

impl<'a> Stroke<'a> {
    pub fn solid(colour: &'a str, width: f64) -> Self {
        Stroke {
            colour,
            width,
            dash: None,
        }
    }

    fn attributes(&self) -> String {
        let dash = self
            .dash
            .map(|d| format!(r#" stroke-dasharray="{d}""#))
            .unwrap_or_default();
        format!(
            r#"stroke="{}" stroke-width="{}"{dash}"#,
            self.colour,
            num(self.width)
        )
    }
}

/// Where text sits relative to its point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

/// How text is drawn.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Font {
    pub size: f64,
    pub anchor: Anchor,
    /// Degrees, clockwise; -90 reads bottom to top.
    pub rotate: f64,
    pub bold: bool,
}

impl Font {
    pub fn new(size: f64, anchor: Anchor) -> Self {
        Font {
            size,
            anchor,
            rotate: 0.0,
            bold: false,
        }
    }
}

/// An SVG document being written.
pub(crate) struct Svg {
    out: String,
}

impl Svg {
    /// A `width` x `height` px document on a white background.
    pub fn new(width: f64, height: f64) -> Self {
        let (w, h) = (num(width), num(height));
        let mut svg = Svg {
            out: format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
                 font-family=\"{FONT}\" font-size=\"12\">\n"
            ),
        };
        svg.rect((0.0, 0.0), (width, height), "white", None);
        svg
    }

    /// A `width` x `height` px document with no background, its text in
    /// `colour`: labels drawn over a picture (the tile grids).
    pub fn transparent(width: f64, height: f64, colour: &str) -> Self {
        let (w, h) = (num(width), num(height));
        Svg {
            out: format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
                 font-family=\"{FONT}\" font-size=\"12\" fill=\"{colour}\">\n"
            ),
        }
    }

    pub fn line(&mut self, from: (f64, f64), to: (f64, f64), stroke: Stroke) {
        self.out.push_str(&format!(
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {}/>\n",
            num(from.0),
            num(from.1),
            num(to.0),
            num(to.1),
            stroke.attributes()
        ));
    }

    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: Stroke) {
        self.out.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke-linejoin=\"round\" {}/>\n",
            point_list(points),
            stroke.attributes()
        ));
    }

    pub fn polygon(&mut self, points: &[(f64, f64)], fill: &str, opacity: f64) {
        self.out.push_str(&format!(
            "<polygon points=\"{}\" fill=\"{fill}\" fill-opacity=\"{}\" stroke=\"none\"/>\n",
            point_list(points),
            num(opacity)
        ));
    }

    pub fn rect(&mut self, at: (f64, f64), size: (f64, f64), fill: &str, stroke: Option<Stroke>) {
        let stroke = stroke
            .map(|s| s.attributes())
            .unwrap_or_else(|| "stroke=\"none\"".into());
        self.out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" {stroke}/>\n",
            num(at.0),
            num(at.1),
            num(size.0.max(0.0)),
            num(size.1.max(0.0))
        ));
    }

    pub fn circle(&mut self, centre: (f64, f64), radius: f64, fill: &str) {
        self.out.push_str(&format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{fill}\"/>\n",
            num(centre.0),
            num(centre.1),
            num(radius)
        ));
    }

    /// `text` with its baseline at `at`.
    pub fn text(&mut self, at: (f64, f64), text: &str, font: Font) {
        let anchor = match font.anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        let (x, y) = (num(at.0), num(at.1));
        let rotate = if font.rotate == 0.0 {
            String::new()
        } else {
            format!(" transform=\"rotate({} {x} {y})\"", num(font.rotate))
        };
        let weight = if font.bold {
            " font-weight=\"bold\""
        } else {
            ""
        };
        self.out.push_str(&format!(
            "<text x=\"{x}\" y=\"{y}\" font-size=\"{}\" text-anchor=\"{anchor}\"{weight}{rotate}>{}</text>\n",
            num(font.size),
            escape(text)
        ));
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// A coordinate with at most two decimals and no trailing zeros.
fn num(v: f64) -> String {
    let s = format!("{:.2}", if v.is_finite() { v } else { 0.0 });
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

fn point_list(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` safe inside XML and HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_parse_and_text_is_escaped() {
        let mut svg = Svg::new(100.0, 50.0);
        svg.line(
            (0.0, 0.0),
            (10.5, 3.333),
            Stroke {
                colour: "black",
                width: 1.0,
                dash: Some("4 2"),
            },
        );
        svg.text(
            (5.0, 5.0),
            "a < b & \"c\"",
            Font {
                rotate: -90.0,
                ..Font::new(10.0, Anchor::Middle)
            },
        );
        let out = svg.finish();
        let doc = roxmltree::Document::parse(&out).unwrap();
        let text = doc.descendants().find(|n| n.has_tag_name("text")).unwrap();
        assert_eq!(text.text(), Some("a < b & \"c\""));
        assert_eq!(text.attribute("transform"), Some("rotate(-90 5 5)"));
        let line = doc.descendants().find(|n| n.has_tag_name("line")).unwrap();
        assert_eq!(line.attribute("y2"), Some("3.33"));
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(f64::NAN), "0");
    }
}
