//! Pictures and charts of explanations: per example and method, the input,
//! the map and the map over the input; the sanity check's rank correlations
//! against the layers randomised; the deletion and insertion curves.
//!
//! A pixel method's map is shown summed over channels (one value per pixel,
//! its sign kept), as Captum's visualiser does. Signed maps get the
//! diverging colour map centred on 0, unsigned ones (Grad-CAM, saliency)
//! viridis; each map is scaled to its own 99th percentile of |value| unless
//! the scale is shared, which puts every example of a method on one scale
//! so their strengths compare. The input is drawn with a stretch
//! (percentile by default; asinh for images spanning orders of magnitude)
//! and as a colour composite when it has several bands.

use image::RgbImage;
use ndarray::{Array2, ArrayView4};

use super::faithfulness::Faithfulness;
use super::sanity::Sanity;
use super::{Attribution, Geometry, MapKind};
use crate::Result;
use crate::plot::{self, LineChart, Series};
use crate::render::{self, Colouring, Composite, Grid, HeatScale, Labels, Overlay, Stretch};

/// How example pictures are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Drawing {
    /// The input's stretch.
    pub stretch: Stretch,
    /// One heat scale for all examples of a method.
    pub shared_scale: bool,
}

/// Percentile of |value| that a heat scale reaches (a few extreme pixels do
/// not wash out the rest).
const CLIP: f32 = 99.0;

/// Smallest side, in screen pixels, a tile is enlarged to (by a whole factor):
/// large enough to see a lens's arcs.
const TILE: usize = 224;

/// Height in screen pixels of the colour bar under each picture.
const BAR: u32 = 14;

/// One picture per example: the image, the map and the map over the image
/// side by side, above a colour bar of the heat scale (from its low end on
/// the left to its high end on the right), with the scale. Multi-band maps
/// are summed over bands (see [`MapKind::per_pixel`]). `images` are what
/// to show (N x C x H x W at the model's input size, e.g. the raw images
/// before preprocessing); `geometry` says how the maps are laid out. Each
/// panel has its heading drawn over it: "input", the method's name, and
/// "`method` over input".
pub fn example_pictures(
    method: &str,
    geometry: &Geometry,
    images: ArrayView4<f32>,
    attribution: &Attribution,
    kind: MapKind,
    how: &Drawing,
) -> Result<Vec<(RgbImage, HeatScale)>> {
    let maps: Vec<Array2<f32>> = kind.per_pixel(geometry, attribution.map.view())?;
    let shared = if how.shared_scale {
        Some(HeatScale::fit(
            maps.iter().flat_map(|m| m.iter().copied()),
            CLIP,
        )?)
    } else {
        None
    };
    let layout = Grid {
        columns: 3,
        padding: 2,
        upscale: TILE.div_ceil(geometry.height.min(geometry.width)).max(1) as u32,
        background: [255; 3],
    };
    let headings = Labels {
        columns: vec![
            "input".to_string(),
            method.to_string(),
            format!("{method} over input"),
        ],
        rows: Vec::new(),
    };
    images
        .outer_iter()
        .zip(&maps)
        .map(|(x, map)| {
            let scale = match shared {
                Some(s) => s,
                None => HeatScale::fit(map.iter().copied(), CLIP)?,
            };
            let picture = render::composite(
                x,
                &Composite {
                    bands: render::display_bands(x.dim().0),
                    colouring: Colouring::Stretch(how.stretch),
                },
            )?;
            let heat = render::heatmap(map.view(), &scale)?;
            let over = render::overlay(&picture, map.view(), &scale, &Overlay::default())?;
            Ok((
                with_colour_bar(
                    render::labelled(&[picture, heat, over], &layout, &headings)?.image,
                    &scale,
                ),
                scale,
            ))
        })
        .collect()
}

/// `picture` with a bar of `scale`'s colours under it, low end left.
fn with_colour_bar(picture: RgbImage, scale: &HeatScale) -> RgbImage {
    let (w, h) = picture.dimensions();
    let (low, high) = scale.range();
    let gap = 4;
    let mut out = RgbImage::from_pixel(w, h + gap + BAR, image::Rgb([255; 3]));
    image::imageops::replace(&mut out, &picture, 0, 0);
    for x in 0..w {
        let value = low + (high - low) * x as f32 / (w.max(2) - 1) as f32;
        let colour = image::Rgb(scale.rgb(value));
        for y in h + gap..h + gap + BAR {
            out.put_pixel(x, y, colour);
        }
    }
    out
}

/// The sanity check as a chart: each method's mean rank correlation (of
/// absolute values) with its trained-model maps against the number of
/// layers randomised, from 0 (the trained model, correlation 1).
pub(crate) fn sanity_chart(sanity: &Sanity) -> LineChart {
    let series = sanity
        .methods
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let points = std::iter::once((0.0, 1.0))
                .chain(
                    m.mean_spearman_abs
                        .iter()
                        .enumerate()
                        .map(|(i, r)| ((i + 1) as f64, r.unwrap_or(f64::NAN))),
                )
                .collect();
            Series {
                markers: true,
                dashed: i % 2 == 1,
                ..Series::new(m.method.clone(), points)
            }
        })
        .collect();
    LineChart {
        title: "Model randomisation, cascading from the top layer".into(),
        x: plot::Axis::new(layers_label(&sanity.layers)),
        y: plot::Axis::new("rank correlation with the trained model's maps (|map|)")
            .with_range(-0.2, 1.0),
        series,
        ..LineChart::default()
    }
}

/// Longest x label the chart's width shows whole, in characters.
const LABEL_CHARS: usize = 80;

/// The sanity chart's x label: which layer each step randomised, top down,
/// by short names (`/conv1/Conv` -> `conv1`); the first few and the last
/// when all would not fit (sanity.json and the page's text list them all).
fn layers_label(layers: &[String]) -> String {
    let short = |l: &str| -> String {
        let parts: Vec<&str> = l.trim_start_matches('/').split('/').collect();
        if parts.len() > 1 {
            parts[..parts.len() - 1].join("/")
        } else {
            l.to_string()
        }
    };
    let named: Vec<String> = layers
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{} {}", i + 1, short(l)))
        .collect();
    let label = |shown: &[String]| format!("layers randomised, from the top: {}", shown.join(", "));
    let mut head = named.len();
    let mut text = label(&named);
    while text.chars().count() > LABEL_CHARS && head > 1 {
        head -= 1;
        let shown: Vec<String> = named[..head]
            .iter()
            .cloned()
            .chain(["...".to_string(), named[named.len() - 1].clone()])
            .collect();
        text = label(&shown);
    }
    text
}

/// Deletion and insertion charts: every method's mean curve, with its mean
/// area in the legend.
pub(crate) fn faithfulness_charts(curves: &Faithfulness) -> [LineChart; 2] {
    let chart =
        |title: &str,
         pick: fn(&super::faithfulness::MethodCurves) -> &super::faithfulness::Curve| {
            let series = curves
                .methods
                .iter()
                .enumerate()
                // Every other method dashed, with markers: methods whose curves coincide
                // (gradient x input and Integrated Gradients often do) stay visible.
                .map(|(i, m)| Series {
                    dashed: m.method == "random" || i % 2 == 1,
                    markers: m.method != "random",
                    ..Series::new(
                        m.method.clone(),
                        curves
                            .fractions
                            .iter()
                            .copied()
                            .zip(pick(m).mean.iter().copied())
                            .collect(),
                    )
                })
                .collect();
            plot::curves_chart(
                title,
                plot::Axis::new("fraction of pixels"),
                if curves.score == "probability" {
                    plot::Axis::new("target probability").with_range(0.0, 1.0)
                } else {
                    plot::Axis::new(format!("target {}", curves.score))
                },
                series,
            )
        };
    [
        chart("Deletion (lower is better)", |m| &m.deletion),
        chart("Insertion (higher is better)", |m| &m.insertion),
    ]
}
