//! Charts for papers and reports, written as SVG by hand and rasterised to
//! PNG from that same SVG.
//!
//! Each chart is a plain struct (fill its fields, call `svg()`), drawn with
//! one layout: title on top, y axis with nice ticks and faint grid lines,
//! legend to the right of the plot area, Okabe-Ito colours. The charts sensie
//! needs:
//! - [`LineChart`]: a score against a parameter with a shaded interval, more
//!   series on the same axis, reference lines (unperturbed level, threshold);
//! - [`BarChart`]: values sorted largest first, with error bars;
//! - [`curves_chart`]: deletion and insertion curves with their [`auc`];
//! - [`GridChart`]: a score over a grid of two parameters, with a contour.
//!
//! SVG is the primary output (scalable, editable, searchable text); PNG comes
//! from [`Rasteriser`].

mod axis;
mod bar;
mod curves;
mod frame;
mod heatmap;
mod line;
mod raster;
pub(crate) mod svg;

pub use axis::Axis;
pub use bar::{Bar, BarChart};
pub use curves::{auc, curves_chart};
pub use frame::Size;
pub use heatmap::GridChart;
pub use line::{LineChart, RefLine, Series};
pub use raster::Rasteriser;
pub(crate) use svg::escape;

/// The text of every `<text>` element of a parsed chart, in document order:
/// what the charts' tests read their labels from.
#[cfg(test)]
fn texts<'a>(doc: &'a roxmltree::Document) -> Vec<&'a str> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect()
}
