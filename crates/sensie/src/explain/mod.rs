//! Attribution maps: which input pixels drove a decision.
//!
//! Every method is one file behind one trait, [`Method`], shaped like
//! Captum's `attribute(inputs, target, baselines, ...)`: a method holds its
//! own parameters (steps, window, baseline, layer) and attributes a batch of
//! inputs for a per-example target class. All of them run on the engine's
//! ONNX graphs (forward passes and the forward+backward graphs of
//! [`crate::autodiff`]), so there is no second engine and every ONNX model
//! the engine can differentiate can be explained.
//!
//! Conventions that decide whether the numbers match Captum:
//! the score explained is the target's logit unless the probability is asked
//! for; maps are float32 in the model's own input layout (pixel methods) or
//! N x H x W at the input's resolution (CAM methods); methods that evaluate
//! many variants of an example (Integrated Gradients' steps, SmoothGrad's
//! samples, occlusion's windows) run them in batches of the engine's batch
//! size, so memory is bounded by the batch, never by examples times variants.
//!
//! [`sanity`] and [`faithfulness`] then ask whether a map is any good.

pub mod blur_saliency;
pub(crate) mod classes;
pub mod faithfulness;
pub mod figures;
pub mod gradcam;
pub mod gradient;
pub mod guided_gradcam;
pub mod input_x_gradient;
pub mod integrated_gradients;
pub mod lrp;
pub mod occlusion;
pub mod report;
pub mod run;
pub mod saliency;
pub mod sanity;
pub mod smoothgrad;

mod image;

use ndarray::{Array2, ArrayD, ArrayViewD, ArrayViewMutD, Axis, IxDyn};

use crate::autodiff::{RuleSet, Standard};
use crate::engine::{Engine, GradientRequest, Gradients, Score};
use crate::{Error, Result};

use classes::ClassLayout;
pub use image::Geometry;
pub use integrated_gradients::{Baseline, Quadrature};
pub use run::{ExplainConfig, ExplainRun, run, run_with_progress};

/// What a map covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// One value per input element: N x C x H x W in the model's layout.
    Pixel,
    /// A class activation map: N x H x W at the input's resolution, plus the
    /// map at the layer's own resolution.
    Cam,
    /// One value per cell of a grid: N x ceil(H/cell) x ceil(W/cell).
    Grid {
        /// The cell's side, in pixels.
        cell: usize,
    },
}

impl MapKind {
    /// Each example's map as one value per pixel (H x W): pixel maps summed
    /// over channels, CAM maps as they are, grid maps with each value
    /// repeated over its cell. Checks the map's shape first.
    pub fn per_pixel(self, geometry: &Geometry, map: ArrayViewD<f32>) -> Result<Vec<Array2<f32>>> {
        let n = map.shape().first().copied().unwrap_or(0);
        let (h, w) = (geometry.height, geometry.width);
        let per_pixel = match self {
            MapKind::Pixel => {
                let full = match geometry.layout {
                    crate::model::Layout::Nchw => vec![n, geometry.channels, h, w],
                    crate::model::Layout::Nhwc => vec![n, h, w, geometry.channels],
                };
                let mut one_channel = full.clone();
                one_channel[geometry.channel_axis().index() + 1] = 1;
                if map.shape() != full.as_slice() && map.shape() != one_channel.as_slice() {
                    return Err(Error::invalid(
                        format!("a pixel map of shape {:?}", map.shape()),
                        format!("expected {full:?}"),
                    ));
                }
                return Ok(map.outer_iter().map(|m| geometry.pixel_sum(m)).collect());
            }
            MapKind::Cam => map.to_owned(),
            MapKind::Grid { cell } => {
                let want = [n, h.div_ceil(cell), w.div_ceil(cell)];
                if map.shape() != want {
                    return Err(Error::invalid(
                        format!("a grid map of shape {:?}", map.shape()),
                        format!("expected {want:?}"),
                    ));
                }
                blur_saliency::expand(map, cell, h, w)
            }
        };
        if per_pixel.shape() != [n, h, w] {
            return Err(Error::invalid(
                format!("a map of shape {:?}", per_pixel.shape()),
                format!("expected {:?}", [n, h, w]),
            ));
        }
        Ok(per_pixel
            .outer_iter()
            .map(|m| m.into_dimensionality().expect("checked 2-D").to_owned())
            .collect())
    }
}

impl serde::Serialize for MapKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            MapKind::Pixel => "pixel",
            MapKind::Cam => "cam",
            MapKind::Grid { .. } => "grid",
        })
    }
}

/// The result of one method on a batch.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Attribution {
    /// Pixel methods: the input's shape and layout. CAM methods: N x H x W.
    pub map: ArrayD<f32>,
    /// CAM methods: the map at the layer's resolution.
    pub layer: Option<LayerMap>,
    /// Integrated Gradients: how far the attributions are from summing to
    /// the score change they explain.
    pub completeness: Option<Completeness>,
    /// LRP: per example, the input relevance's sum over the target's logit.
    pub conservation: Option<Vec<f32>>,
}

impl Attribution {
    fn pixels(map: ArrayD<f32>) -> Attribution {
        Attribution {
            map,
            layer: None,
            completeness: None,
            conservation: None,
        }
    }
}

/// A class activation map at its layer's own resolution.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerMap {
    /// The tensor the map was computed from.
    pub name: String,
    /// N x h x w.
    pub map: ArrayD<f32>,
}

/// Integrated Gradients' completeness check, per example.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Completeness {
    /// `sum(attributions) - (f(x) - f(baseline))` (Captum's convergence delta).
    pub gap: Vec<f32>,
    /// `f(x) - f(baseline)`.
    pub score_change: Vec<f32>,
}

/// The class whose score is explained, per example, and which score.
#[derive(Clone, Debug)]
pub struct Targets {
    /// Per example, the class explained.
    pub classes: Vec<usize>,
    /// Which score of that class: logit (the default), probability or the
    /// output as it is.
    pub score: Score,
}

/// How targets are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    /// Each example's true label.
    Label,
    /// The class the model predicts for each example.
    Predicted,
    /// The same class for every example.
    Class(usize),
}

impl std::str::FromStr for TargetSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "label" => Ok(TargetSpec::Label),
            "predicted" => Ok(TargetSpec::Predicted),
            _ => s.parse().map(TargetSpec::Class).map_err(|_| {
                Error::invalid(
                    format!("target '{s}'"),
                    "expected label, predicted or a class index",
                )
            }),
        }
    }
}

impl std::fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            TargetSpec::Label => write!(f, "label"),
            TargetSpec::Predicted => write!(f, "predicted"),
            TargetSpec::Class(k) => write!(f, "{k}"),
        }
    }
}

/// Why scores with a NaN or infinite value cannot be explained, naming the
/// first such example by `name` (given its row) and what to check; `None`
/// when every score is finite.
pub fn non_finite_scores(
    scores: ndarray::ArrayView2<f32>,
    name: &dyn Fn(usize) -> String,
) -> Option<String> {
    let (example, value) = scores
        .rows()
        .into_iter()
        .enumerate()
        .find_map(|(i, r)| r.iter().find(|v| !v.is_finite()).map(|&v| (i, v)))?;
    Some(format!(
        "the model's score for {} is {value}, so it predicts no class and every map of it would be {value}; \
         check that example's pixels (extreme or saturated values) and the preprocessing (--scale, --mean, --std): \
         the model may expect other units",
        name(example)
    ))
}

impl Targets {
    /// Resolves `spec` for `inputs`: labels are checked against the number of
    /// classes, the predicted class is the argmax of the explained score (for
    /// a single sigmoid output, class 1 when its probability is at least
    /// 0.5: see `explain/classes.rs`).
    pub fn resolve(
        engine: &mut Engine,
        inputs: ArrayViewD<f32>,
        spec: TargetSpec,
        labels: Option<&[usize]>,
        score: Score,
    ) -> Result<Targets> {
        engine.check_input(&inputs)?;
        let n = inputs.shape()[0];
        let layout = ClassLayout::of(engine, &score)?;
        let classes = match spec {
            TargetSpec::Class(k) => vec![k; n],
            TargetSpec::Label => {
                let labels = labels.ok_or_else(|| {
                    Error::invalid(
                        "target 'label'",
                        "no labels were given; pass labels or choose predicted or a class",
                    )
                })?;
                if labels.len() != n {
                    return Err(Error::invalid(
                        "the labels",
                        format!("there are {} labels for {n} examples", labels.len()),
                    ));
                }
                labels.to_vec()
            }
            TargetSpec::Predicted => {
                let scores = engine.scores(inputs, &score)?;
                // The argmax of NaN scores is class 0 for every example: a
                // "prediction" the model never made.
                if let Some(why) = non_finite_scores(scores.view(), &|i| {
                    format!("example {i} (in the order explained)")
                }) {
                    return Err(Error::invalid("target 'predicted'", why));
                }
                scores
                    .rows()
                    .into_iter()
                    .map(|r| layout.predicted(r))
                    .collect()
            }
        };
        // A sigmoid unit's probability is the unit's own output; any other
        // single score's "probability" is a softmax over one value.
        if score == Score::Probability && layout == (ClassLayout::PerClass { width: 1 }) {
            return Err(Error::invalid(
                "score probability",
                "the model gives one score per example and its output kind is not sigmoid (a regressor, or a single unit \
                 read as a logit): a softmax over one value is always 1, so every map would be 0; explain its logit or its output instead",
            ));
        }
        layout.check(&classes)?;
        Ok(Targets { classes, score })
    }

    /// How the targets' classes are read from `engine`'s score tensor.
    fn layout(&self, engine: &mut Engine) -> Result<ClassLayout> {
        ClassLayout::of(engine, &self.score)
    }

    /// The target's score of each example, from a score array whose rows
    /// are the examples `rows` (read as `layout` says).
    fn pick(
        &self,
        layout: ClassLayout,
        scores: &Array2<f32>,
        rows: impl Iterator<Item = usize>,
    ) -> Vec<f32> {
        rows.zip(scores.rows())
            .map(|(example, row)| layout.score(row, self.classes[example]))
            .collect()
    }
}

/// An attribution method.
pub trait Method {
    /// The name used on the command line and for output files.
    fn name(&self) -> &str;
    /// What the map covers; most methods give one value per input element.
    fn kind(&self) -> MapKind {
        MapKind::Pixel
    }
    /// Attributes the target score of every example of `inputs` (examples
    /// first, in the model's layout).
    fn attribute(
        &self,
        engine: &mut Engine,
        inputs: ArrayViewD<f32>,
        targets: &Targets,
    ) -> Result<Attribution>;
}

/// Every method's name, in the order the command line lists them.
pub const METHODS: &[&str] = &[
    "gradient",
    "saliency",
    "gradient-x-input",
    "smoothgrad",
    "smoothgrad-squared",
    "smoothgrad-variance",
    "integrated-gradients",
    "deconvnet",
    "guided-backprop",
    "gradcam",
    "gradcam-negative",
    "guided-gradcam",
    "occlusion",
    "blur-saliency",
    "lrp",
];

/// The parameters methods are built from (the command line's flags).
#[derive(Clone, Debug)]
pub struct Options {
    /// Grad-CAM's layer; `None`: the last convolutional layer.
    pub layer: Option<String>,
    /// Integrated Gradients' steps.
    pub steps: usize,
    /// Integrated Gradients' quadrature rule.
    pub quadrature: Quadrature,
    /// Integrated Gradients' baseline.
    pub baseline: Baseline,
    /// SmoothGrad's samples.
    pub samples: usize,
    /// SmoothGrad's noise sigma as a fraction of each example's value range.
    pub noise: f32,
    /// Occlusion's square window and stride, in pixels, and its fill value.
    pub window: usize,
    /// Occlusion's stride (and blur saliency's grid cell), in pixels.
    pub stride: usize,
    /// What occluded pixels are set to.
    pub fill: f32,
    /// Seed of every random draw (SmoothGrad's noise, a noise baseline).
    pub seed: u64,
    /// LRP's composite and parameters.
    pub lrp: lrp::Lrp,
    /// Blur-perturbation saliency's blur and mask sigmas (pixels) and which
    /// logits it compares (its grid is `stride`).
    pub blur_sigma: f32,
    /// Blur saliency's mask sigma (pixels).
    pub mask_sigma: f32,
    /// Which logits blur saliency compares.
    pub blur_score: blur_saliency::Compared,
}

impl Default for Options {
    /// Captum's defaults where it has them (50 Gauss-Legendre steps, zero
    /// baseline), Smilkov et al.'s for SmoothGrad (50 samples, 15% noise).
    fn default() -> Self {
        Options {
            layer: None,
            steps: 50,
            quadrature: Quadrature::GaussLegendre,
            baseline: Baseline::Zeros,
            samples: 50,
            noise: 0.15,
            window: 4,
            stride: 2,
            fill: 0.0,
            seed: 0,
            lrp: lrp::Lrp {
                composite: crate::autodiff::Composite::Epsilon,
                epsilon: 1e-6,
                gamma: 0.25,
                bounds: None,
            },
            blur_sigma: 3.0,
            mask_sigma: 5.0,
            blur_score: blur_saliency::Compared::All,
        }
    }
}

/// The method called `name`, configured by `options`.
pub fn build(name: &str, options: &Options) -> Result<Box<dyn Method>> {
    use smoothgrad::Variant;
    Ok(match name {
        "gradient" => Box::new(gradient::Gradient::plain()),
        "deconvnet" => Box::new(gradient::Gradient::deconvnet()),
        "guided-backprop" => Box::new(gradient::Gradient::guided_backprop()),
        "saliency" => Box::new(saliency::Saliency),
        "gradient-x-input" => Box::new(input_x_gradient::InputXGradient),
        "smoothgrad" | "smoothgrad-squared" | "smoothgrad-variance" => {
            let variant = match name {
                "smoothgrad" => Variant::Mean,
                "smoothgrad-squared" => Variant::Squared,
                _ => Variant::Variance,
            };
            Box::new(smoothgrad::SmoothGrad::new(
                options.samples,
                options.noise,
                variant,
                options.seed,
            )?)
        }
        "integrated-gradients" => Box::new(integrated_gradients::IntegratedGradients::new(
            options.steps,
            options.quadrature,
            options.baseline.clone(),
        )?),
        "gradcam" => Box::new(gradcam::GradCam {
            layer: options.layer.clone(),
            negative: false,
        }),
        "gradcam-negative" => Box::new(gradcam::GradCam {
            layer: options.layer.clone(),
            negative: true,
        }),
        "guided-gradcam" => Box::new(guided_gradcam::GuidedGradCam {
            layer: options.layer.clone(),
        }),
        "occlusion" => Box::new(occlusion::Occlusion::new(
            options.window,
            options.stride,
            options.fill,
        )?),
        "blur-saliency" => Box::new(blur_saliency::BlurSaliency::new(
            options.blur_sigma,
            options.mask_sigma,
            options.stride,
            options.blur_score,
        )?),
        "lrp" => Box::new(options.lrp.clone()),
        other => return Err(Error::unknown("method", other, METHODS.iter().copied())),
    })
}

/// Checks that `inputs` fit the model and that there is one target per
/// example, each a class the model scores, before any array arithmetic
/// relies on them.
fn check(engine: &mut Engine, inputs: &ArrayViewD<f32>, targets: &Targets) -> Result<()> {
    engine.check_input(inputs)?;
    let n = inputs.shape()[0];
    if targets.classes.len() != n {
        return Err(Error::invalid(
            "the targets",
            format!(
                "there are {} targets for {n} examples",
                targets.classes.len()
            ),
        ));
    }
    targets.layout(engine)?.check(&targets.classes)
}

/// Gradients of each example's target score (`sign` = -1 negates the seed;
/// a sigmoid unit's class 0 is seeded -1 already: see `explain/classes.rs`) with
/// respect to the tensors `wrt`, under `rules`.
fn gradients(
    engine: &mut Engine,
    inputs: ArrayViewD<f32>,
    classes: &[usize],
    score: &Score,
    sign: f32,
    rules: &dyn RuleSet,
    wrt: Vec<String>,
) -> Result<Gradients> {
    let seed = ClassLayout::of(engine, score)?.seed(classes)? * sign;
    engine.gradients(
        inputs,
        seed.view(),
        &GradientRequest {
            score: score.clone(),
            rules,
            wrt,
        },
    )
}

/// The gradient of each example's target score with respect to the input.
fn input_gradient(
    engine: &mut Engine,
    inputs: ArrayViewD<f32>,
    targets: &Targets,
    rules: &dyn RuleSet,
) -> Result<ArrayD<f32>> {
    check(engine, &inputs, targets)?;
    let input = engine.model().info().input.name.clone();
    Ok(gradients(
        engine,
        inputs,
        &targets.classes,
        &targets.score,
        1.0,
        rules,
        vec![input],
    )?
    .grads
    .remove(0))
}

/// Runs `variants` variants of every example through the engine, a batch
/// of the engine's batch size at a time. `fill(example, variant, row)`
/// writes one variant; `take(engine, batch, pairs)` runs a batch whose rows
/// are the (example, variant) pairs in `pairs`. Memory: one batch.
fn in_batches(
    engine: &mut Engine,
    inputs: ArrayViewD<f32>,
    variants: usize,
    mut fill: impl FnMut(usize, usize, ArrayViewMutD<f32>),
    mut take: impl FnMut(&mut Engine, ArrayViewD<f32>, &[(usize, usize)]) -> Result<()>,
) -> Result<()> {
    let n = inputs.shape().first().copied().unwrap_or(0);
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|e| (0..variants).map(move |v| (e, v)))
        .collect();
    let mut dims = inputs.shape().to_vec();
    for chunk in pairs.chunks(engine.options().batch_size) {
        dims[0] = chunk.len();
        let mut batch = ArrayD::zeros(IxDyn(&dims));
        for (row, &(e, v)) in batch.axis_iter_mut(Axis(0)).zip(chunk) {
            fill(e, v, row);
        }
        take(engine, batch.view(), chunk)?;
    }
    Ok(())
}

/// Gradients of the target score with respect to the input for `variants`
/// variants of every example (written by `fill` as in [`in_batches`]);
/// `visit(example, variant, gradient)` sees each row's gradient.
fn variant_gradients(
    engine: &mut Engine,
    inputs: ArrayViewD<f32>,
    targets: &Targets,
    variants: usize,
    fill: impl FnMut(usize, usize, ArrayViewMutD<f32>),
    mut visit: impl FnMut(usize, usize, ArrayViewD<f32>),
) -> Result<()> {
    check(engine, &inputs, targets)?;
    let input = engine.model().info().input.name.clone();
    in_batches(engine, inputs, variants, fill, |engine, batch, pairs| {
        let classes: Vec<usize> = pairs.iter().map(|&(e, _)| targets.classes[e]).collect();
        let grads = gradients(
            engine,
            batch,
            &classes,
            &targets.score,
            1.0,
            &Standard,
            vec![input.clone()],
        )?
        .grads
        .remove(0);
        for (g, &(e, v)) in grads.axis_iter(Axis(0)).zip(pairs) {
            visit(e, v, g);
        }
        Ok(())
    })
}

/// A number standing for an example's values, to seed its random draws: a
/// map then depends on the seed and the example, not on the example's
/// position or the batch it came in.
fn content_hash(values: ArrayViewD<f32>) -> u64 {
    values.iter().fold(0, |h, v| {
        crate::rng::derive_seed(h, &[u64::from(v.to_bits())])
    })
}
