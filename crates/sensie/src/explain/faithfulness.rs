//! Deletion and insertion curves (Petsiuk et al. 2018, RISE): does the map
//! rank pixels by how much the model needs them?
//!
//! Pixels are ranked by the map (summed over channels for pixel methods;
//! most positive first, so a signed map's evidence *for* the class comes
//! first). Deletion fills the top-ranked pixels, all channels, with a
//! constant in growing fractions and records the target's probability: a
//! faithful map makes it fall fast (low area under the curve). Insertion
//! starts from the input blurred and puts the top-ranked pixels back: a
//! faithful map makes it rise fast (high area). The probability, not the
//! logit, is used so that the areas lie in [0, 1] and compare across
//! examples; a single sigmoid unit's probability is its output `p` for
//! class 1 and `1 - p` for class 0. Any other model with one score per
//! example (a regressor) is followed on the score its maps explain instead:
//! a softmax over one value is always 1, which made every area 1. A random
//! ranking (seeded) is reported beside the methods as the level a map must
//! beat.

use ndarray::{Array2, Array3, ArrayViewD, Axis};
use serde::Serialize;

use super::content_hash;
use super::image::gaussian_blur;
use super::{Attribution, ClassLayout, Geometry, MapKind, Targets, check, in_batches};
use crate::engine::{Engine, Score};
use crate::plot;
use crate::rng::{SeededRng, name_hash};
use crate::{Error, Result};

/// How the curves are drawn.
#[derive(Clone, Copy, Debug)]
pub struct CurveOptions {
    /// Points after the first: fractions 0, 1/steps, ..., 1 of the pixels.
    pub steps: usize,
    /// What deleted pixels become.
    pub fill: f32,
    /// The Gaussian blur (pixels) of insertion's starting image.
    pub blur_sigma: f32,
    /// Seed of the random ranking every method is compared with.
    pub seed: u64,
}

/// The curves of every method and of the random ranking.
#[derive(Clone, Debug, Serialize)]
pub struct Faithfulness {
    /// The fraction of pixels deleted or inserted at each point.
    pub fractions: Vec<f64>,
    /// What deleted pixels were set to.
    pub fill: f32,
    /// The Gaussian blur (pixels) of insertion's starting image.
    pub blur_sigma: f32,
    /// The score followed along the curves: `probability`, or for a model
    /// with one score per example that is not a sigmoid unit the one its
    /// maps explain (`logit`).
    pub score: &'static str,
    /// The methods', then `random`.
    pub methods: Vec<MethodCurves>,
}

/// One method's deletion and insertion curves.
#[derive(Clone, Debug, Serialize)]
pub struct MethodCurves {
    /// The method's name (`random` for the random ranking).
    pub method: String,
    /// Pixels deleted most important first: a faithful map drops the score fast.
    pub deletion: Curve,
    /// Pixels inserted into the blurred image most important first: a faithful
    /// map raises the score fast.
    pub insertion: Curve,
}

/// The target probability along one curve.
#[derive(Clone, Debug, Serialize)]
pub struct Curve {
    /// Per point, the mean over examples.
    pub mean: Vec<f64>,
    /// Per example, the area under its curve (trapezoid rule over [0, 1]).
    pub auc: Vec<f64>,
    /// The mean of [`Curve::auc`] over the examples.
    pub mean_auc: f64,
}

/// Deletion and insertion curves for each named map.
pub fn curves(
    engine: &mut Engine,
    inputs: ArrayViewD<f32>,
    targets: &Targets,
    maps: &[(&str, &Attribution, MapKind)],
    options: CurveOptions,
) -> Result<Faithfulness> {
    check(engine, &inputs, targets)?;
    if options.steps == 0 {
        return Err(Error::invalid("0 curve steps", "at least 1 is needed"));
    }
    crate::limits::at_most("curve steps", options.steps, crate::limits::MAX_STEPS)?;
    let geometry = Geometry::of(engine.model(), "deletion and insertion curves")?;
    let per_pixel: Vec<Vec<Array2<f32>>> = maps
        .iter()
        .map(|(name, attribution, kind)| {
            kind.per_pixel(&geometry, attribution.map.view())
                .map_err(|e| match e {
                    Error::InvalidInput { what, reason } => Error::invalid(
                        format!("the {name} map: {what}"),
                        format!("{reason}, for the curves"),
                    ),
                    other => other,
                })
        })
        .collect::<Result<_>>()?;
    let pixels = geometry.height * geometry.width;
    let counts: Vec<usize> = (0..=options.steps)
        .map(|j| (j * pixels).div_ceil(options.steps).min(pixels))
        .collect();
    let fractions: Vec<f64> = counts.iter().map(|&c| c as f64 / pixels as f64).collect();
    let blurred: Vec<Array3<f32>> = inputs
        .axis_iter(Axis(0))
        .map(|x| gaussian_blur(geometry.chw(x), options.blur_sigma))
        .collect::<Result<_>>()?;

    let mut rankings: Vec<(String, Vec<Vec<usize>>)> = maps
        .iter()
        .zip(&per_pixel)
        .map(|((name, _, _), pixels)| (name.to_string(), pixels.iter().map(ranking).collect()))
        .collect();
    let random = inputs
        .outer_iter()
        .map(|x| {
            let mut stream = SeededRng::new(
                options.seed,
                &[name_hash("random ranking"), content_hash(x)],
            );
            let keys = Array2::from_shape_simple_fn((geometry.height, geometry.width), || {
                stream.uniform() as f32
            });
            ranking(&keys)
        })
        .collect();
    rankings.push(("random".into(), random));

    let one_score =
        ClassLayout::of(engine, &Score::Probability)? == ClassLayout::PerClass { width: 1 };
    let (score, score_name) = if one_score {
        let name = match targets.score {
            Score::Probability => "probability",
            Score::Logit => "logit",
            _ => "output",
        };
        (targets.score.clone(), name)
    } else {
        (Score::Probability, "probability")
    };
    let followed = Targets {
        classes: targets.classes.clone(),
        score,
    };
    let layout = followed.layout(engine)?;
    let points = options.steps + 1;
    let methods = rankings
        .iter()
        .map(|(name, order)| {
            // Variants 0..points are deletion, points..2 points insertion.
            let mut values = Array3::<f64>::zeros((inputs.shape()[0], 2, points));
            let fill = |e: usize, v: usize, mut row: ndarray::ArrayViewMutD<f32>| {
                let (insert, j) = (v >= points, v % points);
                let x = geometry.chw(inputs.index_axis(Axis(0), e));
                if insert {
                    geometry.chw(row.view_mut()).assign(&blurred[e]);
                } else {
                    row.assign(&inputs.index_axis(Axis(0), e));
                }
                let mut out = geometry.chw(row);
                for &p in &order[e][..counts[j]] {
                    let (y, col) = (p / geometry.width, p % geometry.width);
                    for c in 0..geometry.channels {
                        out[[c, y, col]] = if insert { x[[c, y, col]] } else { options.fill };
                    }
                }
            };
            in_batches(
                engine,
                inputs.view(),
                2 * points,
                fill,
                |engine, batch, pairs| {
                    let scores = engine.scores(batch, &followed.score)?;
                    for (s, &(e, v)) in followed
                        .pick(layout, &scores, pairs.iter().map(|&(e, _)| e))
                        .into_iter()
                        .zip(pairs)
                    {
                        values[[e, v / points, v % points]] = s as f64;
                    }
                    Ok(())
                },
            )?;
            let curve = |k: usize| summarise(values.index_axis(Axis(1), k).to_owned(), &fractions);
            Ok(MethodCurves {
                method: name.clone(),
                deletion: curve(0),
                insertion: curve(1),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Faithfulness {
        fractions,
        fill: options.fill,
        score: score_name,
        blur_sigma: options.blur_sigma,
        methods,
    })
}

/// Pixel indices (row-major) from the highest value down; ties keep
/// row-major order.
fn ranking(map: &Array2<f32>) -> Vec<usize> {
    let flat: Vec<f32> = map.iter().copied().collect();
    let mut order: Vec<usize> = (0..flat.len()).collect();
    order.sort_by(|&a, &b| flat[b].total_cmp(&flat[a]));
    order
}

/// Mean curve and per-example areas of an examples x points array whose
/// points lie at `fractions`.
fn summarise(values: Array2<f64>, fractions: &[f64]) -> Curve {
    let auc: Vec<f64> = values
        .rows()
        .into_iter()
        .map(|r| {
            plot::auc(
                &fractions
                    .iter()
                    .copied()
                    .zip(r.iter().copied())
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let mean_auc = auc.iter().sum::<f64>() / auc.len().max(1) as f64;
    let mean = values
        .mean_axis(Axis(0))
        .map_or_else(Vec::new, |m| m.to_vec());
    Curve {
        mean,
        auc,
        mean_auc,
    }
}
