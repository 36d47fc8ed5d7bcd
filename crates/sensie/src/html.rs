//! Self-contained HTML reports: one file that opens offline, years later,
//! on any machine, and can be mailed to a collaborator.
//!
//! Everything the page shows is inside it: pictures as base64 PNG data URIs,
//! charts as inline SVG (vector, with searchable text), one CSS block, no
//! scripts and no external requests (even the favicon is an empty data URI),
//! so a browser has nothing to fetch and nothing to complain about. The
//! markup is also well-formed XML, which the tests check by parsing it.
//!
//! Build a [`Page`], add [`Section`]s with paragraphs, tables and
//! [`Figure`]s, then [`Page::write`] it. Text given to the builder is plain
//! text: it is escaped, never interpreted as markup.

use std::path::Path;

use base64::Engine;

use crate::plot::escape;
use crate::render::{RgbImage, encode_png};
use crate::{Error, Result};

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif; color: #222; max-width: 1100px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
caption { caption-side: bottom; text-align: left; color: #555; padding-top: 0.4em; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.3em 0.8em; text-align: left; }
th { border-bottom: 2px solid #999; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.figures { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: flex-start; margin: 1em 0; }
figure { margin: 0; }
figure img { min-width: 160px; max-width: 100%; height: auto; image-rendering: pixelated; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; max-width: 640px; margin-top: 0.3em; }
pre { background: #f6f6f6; padding: 0.6em 0.8em; overflow-x: auto; }
footer { margin-top: 3em; color: #888; font-size: 0.85em; }
";

/// A report page.
#[derive(Clone, Debug, Default)]
pub struct Page {
    title: String,
    sections: Vec<Section>,
}

/// A titled part of a page.
#[derive(Clone, Debug, Default)]
pub struct Section {
    title: String,
    blocks: Vec<Block>,
}

#[derive(Clone, Debug)]
enum Block {
    Paragraph(String),
    Code(String),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        caption: String,
    },
    Figures(Vec<Figure>),
}

/// A picture or chart with its caption, ready to embed.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Markup of the picture itself (an `img` or an `svg` element).
    body: String,
    caption: String,
}

impl Figure {
    /// A PNG, embedded as a data URI. Shown with crisp pixels when the
    /// browser enlarges it: data pictures should not be smoothed.
    pub fn png(bytes: &[u8], alt: &str, caption: impl Into<String>) -> Self {
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        Figure {
            body: format!(
                "<img src=\"data:image/png;base64,{data}\" alt=\"{}\"/>",
                escape(alt)
            ),
            caption: caption.into(),
        }
    }

    /// A rendered picture (from [`crate::render`]), encoded as PNG.
    pub fn picture(image: &RgbImage, alt: &str, caption: impl Into<String>) -> Result<Self> {
        Ok(Figure::png(&encode_png(image)?, alt, caption))
    }

    /// An SVG document (a chart from [`crate::plot`]) inlined in the page.
    /// An XML declaration before the `svg` element is dropped; anything else
    /// is refused, as it would break the page.
    pub fn svg(svg: &str, caption: impl Into<String>) -> Result<Self> {
        let mut body = svg.trim();
        if body.starts_with("<?xml") {
            body = body
                .split_once("?>")
                .map(|(_, rest)| rest.trim_start())
                .unwrap_or_default();
        }
        if !(body.starts_with("<svg") && body.ends_with("</svg>")) {
            return Err(Error::invalid(
                "figure",
                "expected an SVG document (<svg ...>...</svg>)",
            ));
        }
        Ok(Figure {
            body: body.to_string(),
            caption: caption.into(),
        })
    }

    fn html(&self) -> String {
        let caption = if self.caption.is_empty() {
            String::new()
        } else {
            format!("<figcaption>{}</figcaption>", escape(&self.caption))
        };
        format!("<figure>\n{}\n{caption}</figure>\n", self.body)
    }
}

impl Page {
    pub fn new(title: impl Into<String>) -> Self {
        Page {
            title: title.into(),
            sections: Vec::new(),
        }
    }

    /// A new section at the end of the page, to fill.
    pub fn section(&mut self, title: impl Into<String>) -> &mut Section {
        self.sections.push(Section {
            title: title.into(),
            blocks: Vec::new(),
        });
        let last = self.sections.len() - 1;
        &mut self.sections[last]
    }

    /// The page as an HTML5 document.
    pub fn html(&self) -> String {
        let title = escape(&self.title);
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
             <title>{title}</title>\n<link rel=\"icon\" href=\"data:,\"/>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
        );
        for section in &self.sections {
            out.push_str(&section.html());
        }
        out.push_str(&format!(
            "<footer>Made by sensie {}.</footer>\n</body>\n</html>\n",
            env!("CARGO_PKG_VERSION")
        ));
        out
    }

    /// The page written to `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::output::write_atomic(path, self.html().as_bytes())
    }
}

impl Section {
    pub fn paragraph(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    /// Preformatted text, e.g. the command that made the report.
    pub fn code(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Code(text.into()));
        self
    }

    /// A table; cells that read as numbers are right-aligned.
    pub fn table(
        &mut self,
        header: &[&str],
        rows: Vec<Vec<String>>,
        caption: impl Into<String>,
    ) -> &mut Self {
        let header = header.iter().map(|h| h.to_string()).collect();
        self.blocks.push(Block::Table {
            header,
            rows,
            caption: caption.into(),
        });
        self
    }

    pub fn figure(&mut self, figure: Figure) -> &mut Self {
        self.figures(vec![figure])
    }

    /// Figures side by side, wrapping on narrow screens (e.g. an image, its
    /// saliency map and its Grad-CAM).
    pub fn figures(&mut self, figures: Vec<Figure>) -> &mut Self {
        self.blocks.push(Block::Figures(figures));
        self
    }

    fn html(&self) -> String {
        let mut out = format!("<section>\n<h2>{}</h2>\n", escape(&self.title));
        for block in &self.blocks {
            match block {
                Block::Paragraph(text) => out.push_str(&format!("<p>{}</p>\n", escape(text))),
                Block::Code(text) => out.push_str(&format!("<pre>{}</pre>\n", escape(text))),
                Block::Table {
                    header,
                    rows,
                    caption,
                } => out.push_str(&table(header, rows, caption)),
                Block::Figures(figures) => {
                    out.push_str("<div class=\"figures\">\n");
                    for figure in figures {
                        out.push_str(&figure.html());
                    }
                    out.push_str("</div>\n");
                }
            }
        }
        out.push_str("</section>\n");
        out
    }
}

fn table(header: &[String], rows: &[Vec<String>], caption: &str) -> String {
    let mut out = String::from("<table>\n");
    if !caption.is_empty() {
        out.push_str(&format!("<caption>{}</caption>\n", escape(caption)));
    }
    let heads: String = header
        .iter()
        .map(|h| format!("<th>{}</th>", escape(h)))
        .collect();
    out.push_str(&format!("<thead><tr>{heads}</tr></thead>\n<tbody>\n"));
    for row in rows {
        let cells: String = row
            .iter()
            .map(|c| {
                let class = if is_number(c) { " class=\"num\"" } else { "" };
                format!("<td{class}>{}</td>", escape(c))
            })
            .collect();
        out.push_str(&format!("<tr>{cells}</tr>\n"));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// Whether a cell reads as a number (a true minus sign and a trailing % allowed).
fn is_number(cell: &str) -> bool {
    let plain = cell.trim().trim_end_matches('%').replace('\u{2212}', "-");
    !plain.is_empty() && plain.parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;
    use crate::plot::{Axis, LineChart, Series};

    /// The page as XML (the doctype is a DTD to an XML parser).
    fn parse(html: &str) -> roxmltree::Document<'_> {
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        roxmltree::Document::parse_with_options(html, options).unwrap()
    }

    fn page() -> Page {
        let mut page = Page::new("Probe <rotation> & friends");
        let chart = LineChart {
            x: Axis::new("rotation (deg)"),
            y: Axis::new("score"),
            series: vec![Series::new("mean score", vec![(0.0, 0.9), (90.0, 0.4)])],
            ..LineChart::default()
        };
        let digit = RgbImage::from_pixel(4, 4, Rgb([10, 20, 30]));
        page.section("Summary")
            .paragraph("Rotation lowers the score by 0.5 over 0 to 90 degrees.")
            .table(
                &["parameter", "effect", "verdict"],
                vec![vec![
                    "rotation".into(),
                    "\u{2212}0.50".into(),
                    "high".into(),
                ]],
                "Effect is the change in mean score.",
            )
            .code("sensie probe model.onnx --perturb rotation");
        page.section("Curves")
            .figure(Figure::svg(&chart.svg(), "Mean score against rotation.").unwrap())
            .figures(vec![
                Figure::picture(&digit, "digit", "Input").unwrap(),
                Figure::png(&encode_png(&digit).unwrap(), "map", "Saliency"),
            ]);
        page
    }

    #[test]
    fn the_page_is_well_formed_and_embeds_its_figures() {
        let html = page().html();
        assert!(html.starts_with("<!DOCTYPE html>"));
        let doc = parse(&html);
        let count = |tag: &str| doc.descendants().filter(|n| n.has_tag_name(tag)).count();
        assert_eq!(count("section"), 2);
        assert_eq!(count("figure"), 3);
        assert_eq!(count("img"), 2);
        assert_eq!(count("svg"), 1);
        assert_eq!(count("script"), 0);
        let title = doc.descendants().find(|n| n.has_tag_name("title")).unwrap();
        assert_eq!(title.text(), Some("Probe <rotation> & friends"));
        // The embedded PNG decodes back to the picture.
        let src = doc
            .descendants()
            .find(|n| n.has_tag_name("img"))
            .unwrap()
            .attribute("src")
            .unwrap();
        let data = src.strip_prefix("data:image/png;base64,").unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        assert_eq!(
            image::load_from_memory(&png)
                .unwrap()
                .to_rgb8()
                .get_pixel(3, 3)
                .0,
            [10, 20, 30]
        );
        // Numbers are right-aligned, words are not.
        let cells: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("td")).collect();
        assert_eq!(cells[1].attribute("class"), Some("num"));
        assert_eq!(cells[2].attribute("class"), None);
    }

    #[test]
    fn nothing_is_fetched_from_elsewhere() {
        let html = page().html();
        let doc = parse(&html);
        for node in doc.descendants() {
            for attr in ["src", "href"] {
                if let Some(url) = node.attribute(attr) {
                    assert!(url.starts_with("data:"), "{attr}={url}");
                }
            }
        }
        // The only URL in the text is the SVG namespace, which is a name, not a fetch.
        assert_eq!(
            html.matches("http").count(),
            html.matches("http://www.w3.org/2000/svg").count()
        );
    }

    #[test]
    fn svg_figures_must_be_svg_and_pages_write_to_disk() {
        assert!(Figure::svg("<p>no</p>", "").is_err());
        let with_prolog = Figure::svg(
            "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>",
            "",
        )
        .unwrap();
        assert!(with_prolog.body.starts_with("<svg"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html");
        page().write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), page().html());
        assert!(page().write(&dir.path().join("no/such/dir.html")).is_err());
    }
}
