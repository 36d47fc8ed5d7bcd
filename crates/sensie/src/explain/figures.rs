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
use ndarray::{Array2, ArrayView4, Ix2};

use super::faithfulness::Faithfulness;
use super::sanity::Sanity;
use super::{Attribution, Geometry, MapKind};
use crate::Result;
use crate::plot::{self, LineChart, Series};
use crate::render::{self, Colouring, Composite, Grid, HeatScale, Overlay, Stretch};

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

/// Smallest side, in screen pixels, a tile is enlarged to (by a whole factor).
const TILE: usize = 112;

/// One picture per example: the image, the map and the map over the image
/// side by side, with the heat scale the map was drawn on. `images` are what
/// to show (N x C x H x W at the model's input size, e.g. the raw images
/// before preprocessing); `geometry` says how the maps are laid out.
pub fn example_pictures(
    geometry: &Geometry,
    images: ArrayView4<f32>,
    attribution: &Attribution,
    kind: MapKind,
    how: &Drawing,
) -> Result<Vec<(RgbImage, HeatScale)>> {
    let maps: Vec<Array2<f32>> = attribution
        .map
        .outer_iter()
        .map(|m| match kind {
            MapKind::Pixel => geometry.pixel_sum(m),
            MapKind::Cam => m
                .into_dimensionality::<Ix2>()
                .expect("CAM maps are N x H x W")
                .to_owned(),
        })
        .collect();
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
                    bands: None,
                    colouring: Colouring::Stretch(how.stretch),
                },
            )?;
            let heat = render::heatmap(map.view(), &scale)?;
            let over = render::overlay(&picture, map.view(), &scale, &Overlay::default())?;
            Ok((render::grid(&[picture, heat, over], &layout)?, scale))
        })
        .collect()
}

/// The sanity check as a chart: each method's mean rank correlation (of
/// absolute values) with its trained-model maps against the number of
/// layers randomised, from 0 (the trained model, correlation 1).
pub fn sanity_chart(sanity: &Sanity) -> LineChart {
    let series = sanity
        .methods
        .iter()
        .map(|m| {
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
                ..Series::new(m.method.clone(), points)
            }
        })
        .collect();
    LineChart {
        title: "Model randomisation, cascading from the top layer".into(),
        x: plot::Axis::new("layers randomised"),
        y: plot::Axis::new("rank correlation with the trained model's maps (|map|)")
            .with_range(-0.2, 1.0),
        series,
        ..LineChart::default()
    }
}

/// Deletion and insertion charts: every method's mean curve, with its mean
/// area in the legend.
pub fn faithfulness_charts(curves: &Faithfulness) -> [LineChart; 2] {
    let chart =
        |title: &str,
         pick: fn(&super::faithfulness::MethodCurves) -> &super::faithfulness::Curve| {
            let series = curves
                .methods
                .iter()
                .map(|m| Series {
                    dashed: m.method == "random",
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
                plot::Axis::new("target probability").with_range(0.0, 1.0),
                series,
            )
        };
    [
        chart("Deletion (lower is better)", |m| &m.deletion),
        chart("Insertion (higher is better)", |m| &m.insertion),
    ]
}
