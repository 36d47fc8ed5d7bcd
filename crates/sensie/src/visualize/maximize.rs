//! Activation maximisation ("input optimisation"): train the input, not the
//! weights, to maximise a class score (Simonyan et al. 2014), one channel of
//! a layer or one neuron (Erhan et al. 2009; Olah et al. 2017).
//!
//! Each step renders the images from their parameterisation, applies a
//! random jitter, scale and rotation per restart, runs the engine's gradient
//! graph on the batch of restarts (one ONNX Runtime call), carries the
//! gradient back through the transform and the parameterisation, subtracts
//! the penalties' gradients, and takes an Adam step up. Adam, because it is
//! what Lucid uses with the Fourier parameterisation: each coefficient moves
//! by about the learning rate, whatever its frequency.
//!
//! The objective of a class is its logit by default, as in Simonyan et al.:
//! maximising the probability can succeed by lowering the other classes
//! instead of building evidence for this one. The objective of a channel is
//! its mean activation, of a neuron its value.

use ndarray::{Array1, Array2, Array3, Array4, ArrayD, ArrayView4, Axis, Zip};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use super::adam::Adam;
use super::diversity;
use super::fourier::{Images, Parameterisation};
use super::regularise::Regularisers;
use super::transform::Warp;
use super::{LARGE_TILE, Layer, Picture, Report, Table, ValueRange, image_picture, tiled};
use crate::autodiff::Standard;
use crate::engine::{Engine, GradientRequest, Score};
use crate::explain::classes::ClassLayout;
use crate::plot::{Axis as PlotAxis, LineChart, Series};
use crate::render::Labels;
use crate::{Error, Result};

/// What to maximise.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// A class's score ([`MaximizeOptions::class_score`]).
    Class(usize),
    /// The mean activation of a whole layer.
    Layer {
        /// The layer (tensor or node name).
        layer: String,
    },
    /// The mean activation of one channel of a layer (for a layer of
    /// units, one unit).
    Channel {
        /// The layer (tensor or node name).
        layer: String,
        /// The channel.
        channel: usize,
    },
    /// One neuron: a channel of a layer at one position of its maps.
    Neuron {
        /// The layer (tensor or node name).
        layer: String,
        /// The channel.
        channel: usize,
        /// The row in the layer's map.
        y: usize,
        /// The column in the layer's map.
        x: usize,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Class(k) => write!(f, "class {k}"),
            Target::Layer { layer } => write!(f, "layer {layer}"),
            Target::Channel { layer, channel } => write!(f, "channel {channel} of {layer}"),
            Target::Neuron {
                layer,
                channel,
                y,
                x,
            } => write!(f, "neuron ({channel}, {y}, {x}) of {layer}"),
        }
    }
}

/// How to optimise.
#[derive(Clone, Debug)]
pub struct MaximizeOptions {
    /// Optimisation steps.
    pub steps: usize,
    /// Independent starts, optimised together as one batch.
    pub restarts: usize,
    /// Adam's learning rate, in the units of the parameterisation (pixels in
    /// [0, 1] of the range, or Fourier coefficients).
    pub learning_rate: f32,
    /// What is optimised: pixels or Fourier coefficients.
    pub parameterisation: Parameterisation,
    /// Band mixing of the Fourier parameterisation (see
    /// [`super::colour_decorrelation`]); the identity when `None`.
    pub colour: Option<Array2<f32>>,
    /// The penalties and transforms that keep images readable.
    pub regularisers: Regularisers,
    /// Strength of the diversity term between restarts (0: none).
    pub diversity: f32,
    /// The layer whose Gram matrices are compared for diversity; `None`: the
    /// target's layer, or for a class the last convolutional layer.
    pub diversity_layer: Option<String>,
    /// The inputs the model expects; images never leave it.
    pub range: ValueRange,
    /// Per band, the value images start from and the L2 penalty pulls
    /// towards, in the model's units: the data's mean suits a model trained
    /// on dark skies or black backgrounds. `None`: the middle of the range.
    pub start: Option<Vec<f32>>,
    /// The score a class target maximises: [`Score::Logit`] or [`Score::Probability`].
    pub class_score: Score,
    /// Seed of the starting images and transforms.
    pub seed: u64,
}

impl MaximizeOptions {
    /// Defaults for images of `h` x `w`: 256 Adam steps at Lucid's rate
    /// 0.05 in the decorrelated Fourier space, 4 restarts, Lucid's
    /// transformation robustness ([`Regularisers::for_size`]).
    pub fn for_size(h: usize, w: usize) -> MaximizeOptions {
        MaximizeOptions {
            steps: 256,
            restarts: 4,
            learning_rate: 0.05,
            parameterisation: Parameterisation::default(),
            colour: None,
            regularisers: Regularisers::for_size(h, w),
            diversity: 0.0,
            diversity_layer: None,
            range: ValueRange::default(),
            start: None,
            class_score: Score::Logit,
            seed: 0,
        }
    }

    /// Takes from real inputs (N x C x H x W, in [`MaximizeOptions::range`])
    /// where images start (each band's mean) and the Fourier colour
    /// decorrelation.
    pub fn fit_to_data(&mut self, images: ArrayView4<f32>) {
        let means = images
            .axis_iter(Axis(1))
            .map(|band| band.mean().unwrap_or(0.0))
            .collect();
        self.start = Some(means);
        self.colour = Some(super::colour_decorrelation(images, self.range));
    }
}

/// Optimised inputs and how well they do.
#[derive(Clone, Debug, Serialize)]
pub struct Maximized {
    /// The inputs, one per restart, in the model's input layout and value range.
    pub inputs: ArrayD<f32>,
    /// The same, N x C x H x W.
    pub images: Array4<f32>,
    /// Per restart, the objective at the optimised input (no transform).
    pub objective: Vec<f32>,
    /// Per step and restart, the objective at that step's transformed input.
    pub history: Vec<Vec<f32>>,
    /// Per restart, the model's class probabilities at the optimised input.
    pub probabilities: Vec<Vec<f32>>,
    /// The restarts' mean pairwise similarity at the last step (with diversity).
    pub similarity: Option<f32>,
}

/// Optimises `options.restarts` inputs to maximise `target`.
pub fn maximize(
    engine: &mut Engine,
    target: &Target,
    options: &MaximizeOptions,
) -> Result<Maximized> {
    maximize_with_progress(engine, target, options, &mut |_, _| {})
}

/// [`maximize`], telling `progress` (steps done, steps in all) after each step.
pub fn maximize_with_progress(
    engine: &mut Engine,
    target: &Target,
    options: &MaximizeOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Maximized> {
    let input = Layer::input(engine)?;
    let (c, h, w) = input.chw();
    check(options, c)?;
    super::regularise::check_jitter(options.regularisers.jitter, h, w)?;
    let n = options.restarts;
    let (score, seed, constant) = objective_seed(engine, target, n, options)?;
    let diversity = diversity_layer(engine, target, options)?;
    let mut wrt = vec![input.tensor.clone()];
    wrt.extend(diversity.iter().map(|l| l.tensor.clone()));
    let request = GradientRequest {
        score,
        rules: &Standard,
        wrt,
    };

    let mut rng = Pcg64Mcg::seed_from_u64(options.seed);
    let centre = start(options, c)?;
    let mut images = Images::new(
        options.parameterisation,
        n,
        (c, h, w),
        options.range,
        options.colour.clone(),
        &centre,
        &mut rng,
    );
    let mut adam = Adam::new(options.learning_rate, images.params.shape());
    let reg = &options.regularisers;
    let mut history = Vec::with_capacity(options.steps);
    let mut similarity = None;
    for step in 0..options.steps {
        progress(step, options.steps);
        let x = images.render();
        let warps: Vec<Warp> = (0..n)
            .map(|_| Warp::random(&mut rng, (h, w), reg.jitter, reg.scale, reg.rotate))
            .collect();
        let warped = per_image(&x, |i, image| warps[i].apply(image));
        let fed = input.to_stored(warped.view());
        let out = engine.gradients(fed.view(), seed.view(), &request)?;
        history.push(objective_values(&out.scores, &seed, constant));
        let mut grad = input.to_nchw(out.grads[0].view())?;
        if let Some(layer) = &diversity {
            let activations = layer.to_nchw(out.values[1].view())?;
            let (sim, d_sim) = diversity::similarity(activations.view());
            similarity = Some(sim);
            let div_seed = layer.to_stored((d_sim * -options.diversity).view());
            let div_request = GradientRequest {
                score: Score::Tensor(layer.tensor.clone()),
                rules: &Standard,
                wrt: vec![input.tensor.clone()],
            };
            grad += &input.to_nchw(
                engine
                    .gradients(fed.view(), div_seed.view(), &div_request)?
                    .grads[0]
                    .view(),
            )?;
        }
        let mut grad = per_image(&grad, |i, g| warps[i].adjoint(g));
        let unit = (&x - options.range.low) / options.range.width();
        let (_, penalty) = reg.penalty(unit.view(), &centre);
        grad.scaled_add(-1.0 / options.range.width(), &penalty);
        let step_grad = images.backward(grad.view());
        adam.ascend(&mut images.params, step_grad.view());
        images.project();
        if reg.blur_every > 0 && (step + 1) % reg.blur_every == 0 && step + 1 < options.steps {
            images.blur(reg.blur_sigma);
        }
    }

    let images = images.render();
    let inputs = input.to_stored(images.view());
    let out = engine.gradients(inputs.view(), seed.view(), &request)?;
    let objective = objective_values(&out.scores, &seed, constant);
    let probabilities = class_probabilities(engine, &inputs, &input.tensor)?;
    Ok(Maximized {
        inputs,
        images,
        objective,
        history,
        probabilities,
        similarity,
    })
}

impl Maximized {
    /// The objective against the step, a line per restart.
    fn history_chart(&self, target: &Target) -> String {
        let series = (0..self.objective.len())
            .map(|r| {
                Series::new(
                    format!("restart {r}"),
                    self.history
                        .iter()
                        .enumerate()
                        .map(|(step, o)| (step as f64, f64::from(o[r])))
                        .collect(),
                )
            })
            .collect();
        let chart = LineChart {
            title: format!("Maximising {target}"),
            x: PlotAxis::new("step"),
            y: PlotAxis::new("objective"),
            series,
            ..LineChart::default()
        };
        chart.svg()
    }

    /// The restarts side by side, and a page with their numbers.
    pub fn report(&self, target: &Target) -> Result<Report> {
        let tiles = self
            .images
            .outer_iter()
            .map(image_picture)
            .collect::<Result<Vec<_>>>()?;
        let headings = (1..=tiles.len()).map(|k| format!("restart {k}")).collect();
        let laid_out = tiled(
            &tiles,
            tiles.len(),
            LARGE_TILE,
            &Labels {
                columns: headings,
                rows: Vec::new(),
            },
        )?;
        let caption = format!(
            "{} restarts maximising {target}, each stretched between its own extremes.",
            tiles.len()
        );
        let picture = Picture::new("maximize.png", laid_out, None, caption);
        let rows = self
            .objective
            .iter()
            .zip(&self.probabilities)
            .enumerate()
            .map(|(r, (objective, p))| {
                let (best, pb) = p
                    .iter()
                    .enumerate()
                    .fold((0, f32::MIN), |a, (k, &v)| if v > a.1 { (k, v) } else { a });
                let mut row = vec![
                    r.to_string(),
                    format!("{objective:.4}"),
                    format!("{best} ({pb:.4})"),
                ];
                if let Target::Class(k) = target {
                    row.push(format!("{:.4}", p.get(*k).copied().unwrap_or(f32::NAN)));
                }
                row
            })
            .collect();
        let mut header = vec!["restart", "objective", "predicted class (probability)"];
        if let Target::Class(_) = target {
            header.push("probability of the target");
        }
        let objective = match target {
            Target::Class(_) => "the class score",
            Target::Layer { .. } => "the layer's mean activation",
            Target::Channel { .. } => "the channel's mean activation",
            Target::Neuron { .. } => "the neuron's activation",
        };
        Ok(Report {
            name: "maximize",
            title: format!("Maximising {target}"),
            text: format!(
                "Inputs optimised to maximise {target}, in {} steps from {} restarts; the objective is {objective} at the optimised input, without the random transforms of the optimisation. inputs.npy holds them in the model's layout and value range.",
                self.history.len(),
                self.objective.len()
            ),
            pictures: vec![picture],
            charts: vec![(
                self.history_chart(target),
                "The objective at each step's randomly transformed input, per restart.".to_string(),
            )],
            table: Some(Table {
                header,
                rows,
                caption: String::new(),
            }),
            summary: serde_json::json!({
                "target": target.to_string(),
                "result": {
                    "objective": self.objective,
                    "history": self.history,
                    "probabilities": self.probabilities,
                    "similarity": self.similarity,
                },
            }),
            inputs: Some(self.inputs.clone()),
        })
    }
}

fn check(options: &MaximizeOptions, bands: usize) -> Result<()> {
    if let Some(colour) = &options.colour
        && colour.dim() != (bands, bands)
    {
        return Err(Error::invalid(
            format!("a {:?} colour matrix", colour.dim()),
            format!("the model's input has {bands} bands"),
        ));
    }
    let reg = &options.regularisers;
    if !((0.0..1.0).contains(&reg.scale) && reg.rotate >= 0.0 && reg.rotate.is_finite()) {
        return Err(Error::invalid(
            format!("random scale {} and rotation {}", reg.scale, reg.rotate),
            "the scale must be in [0, 1) (a factor in [1 - s, 1 + s]) and the rotation a non-negative number of degrees",
        ));
    }
    // A NaN or negative strength would not regularise: NaN spreads through
    // the gradient into every pixel, a negative penalty rewards the noise it
    // should suppress, a negative sigma or decay means nothing.
    let decay = match options.parameterisation {
        Parameterisation::Fourier { decay } => decay,
        Parameterisation::Pixel => 0.0,
    };
    for (what, value) in [
        ("L2 penalty", reg.l2),
        ("total-variation penalty", reg.tv),
        ("blur sigma", reg.blur_sigma),
        ("diversity", options.diversity),
        ("Fourier decay", decay),
    ] {
        if !(value >= 0.0 && value.is_finite()) {
            return Err(Error::invalid(
                format!("{what} {value}"),
                "it must be a finite number, 0 or more",
            ));
        }
    }
    if options.restarts == 0 {
        return Err(Error::invalid(
            "0 restarts",
            "at least one restart is needed",
        ));
    }
    crate::limits::at_most("restarts", options.restarts, crate::limits::MAX_RESTARTS)?;
    crate::limits::at_most("steps", options.steps, crate::limits::MAX_STEPS)?;
    if !(options.learning_rate > 0.0 && options.learning_rate.is_finite()) {
        return Err(Error::invalid(
            format!("learning rate {}", options.learning_rate),
            "it must be positive",
        ));
    }
    if !matches!(options.class_score, Score::Logit | Score::Probability) {
        return Err(Error::invalid(
            format!("class score {:?}", options.class_score),
            "maximise a class's logit or its probability",
        ));
    }
    if options.diversity != 0.0 && options.restarts < 2 {
        return Err(Error::invalid(
            "diversity with 1 restart",
            "diversity compares restarts; use at least 2",
        ));
    }
    Ok(())
}

/// Per band, where images start, in units of the range; kept off the range's
/// ends, which the Fourier parameterisation's sigmoid reaches only at infinity.
fn start(options: &MaximizeOptions, bands: usize) -> Result<Vec<f32>> {
    let range = options.range;
    match &options.start {
        None => Ok(vec![0.5; bands]),
        Some(values) if values.len() == bands => Ok(values
            .iter()
            .map(|v| ((v - range.low) / range.width()).clamp(0.02, 0.98))
            .collect()),
        Some(values) => Err(Error::invalid(
            format!("{} start values", values.len()),
            format!("the model's input has {bands} bands"),
        )),
    }
}

/// The score tensor, the seed (one row per restart) and the constant
/// whose sum with the seed's weighted sum of the scores is the objective
/// (1 for class 0 of a sigmoid unit's probability, 1 - p; else 0).
fn objective_seed(
    engine: &mut Engine,
    target: &Target,
    n: usize,
    options: &MaximizeOptions,
) -> Result<(Score, ArrayD<f32>, f32)> {
    let (layer, channel, position) = match target {
        // A single sigmoid output scores classes 1 (itself) and 0 (its
        // complement), as explain and probe read it.
        Target::Class(k) => {
            let layout = ClassLayout::of(engine, &options.class_score)?;
            // Checked here, not by the seed, whose message names an example
            // (there is none: every restart maximises the same class).
            if *k >= layout.classes() {
                return Err(Error::invalid(format!("class {k}"), layout.out_of_range()));
            }
            let seed = layout.seed(&vec![*k; n])?.into_dyn();
            let constant = layout.score(Array1::zeros(layout.width()).view(), *k);
            return Ok((options.class_score.clone(), seed, constant));
        }
        Target::Layer { layer } => (layer, None, None),
        Target::Channel { layer, channel } => (layer, Some(*channel), None),
        Target::Neuron {
            layer,
            channel,
            y,
            x,
        } => (layer, Some(*channel), Some((*y, *x))),
    };
    let layer = Layer::find(engine, layer)?;
    let (c, h, w) = layer.chw();
    let mut seed = Array4::<f32>::zeros((n, c, h, w));
    match (channel, position) {
        (None, _) => seed.fill(1.0 / (c * h * w) as f32),
        (Some(channel), None) => {
            layer.check(channel, None)?;
            seed.slice_mut(ndarray::s![.., channel, .., ..])
                .fill(1.0 / (h * w) as f32);
        }
        (Some(channel), Some((y, x))) => {
            layer.check(channel, Some((y, x)))?;
            seed.slice_mut(ndarray::s![.., channel, y, x]).fill(1.0);
        }
    }
    Ok((
        Score::Tensor(layer.tensor.clone()),
        layer.to_stored(seed.view()),
        0.0,
    ))
}

/// The layer compared for diversity, when diversity is asked for.
fn diversity_layer(
    engine: &mut Engine,
    target: &Target,
    options: &MaximizeOptions,
) -> Result<Option<Layer>> {
    if options.diversity == 0.0 {
        return Ok(None);
    }
    let name = match (&options.diversity_layer, target) {
        (Some(name), _) => name.clone(),
        (None, Target::Layer { layer } | Target::Channel { layer, .. } | Target::Neuron { layer, .. }) => layer.clone(),
        (None, Target::Class(_)) => super::conv_outputs(engine.model()).pop().ok_or_else(|| {
            Error::invalid("diversity for a class", "the model has no convolutional layer to compare restarts at; name a layer for diversity")
        })?,
    };
    Layer::find(engine, &name).map(Some)
}

/// Per row, `sum(seed * scores) + constant`.
fn objective_values(scores: &Array2<f32>, seed: &ArrayD<f32>, constant: f32) -> Vec<f32> {
    let seed = seed
        .to_shape(scores.raw_dim())
        .expect("the seed has the score's size");
    Zip::from(scores.rows())
        .and(seed.rows())
        .map_collect(|s, k| s.dot(&k) + constant)
        .to_vec()
}

/// The model's class probabilities for some inputs: for a single sigmoid
/// output, those of its two classes, 1 - p and p.
fn class_probabilities(
    engine: &mut Engine,
    inputs: &ArrayD<f32>,
    input: &str,
) -> Result<Vec<Vec<f32>>> {
    let k = engine.score_width()?;
    let zeros = Array2::<f32>::zeros((inputs.shape()[0], k));
    let request = GradientRequest {
        score: Score::Probability,
        rules: &Standard,
        wrt: vec![input.to_string()],
    };
    let out = engine.gradients(inputs.view(), zeros.view(), &request)?;
    let layout = ClassLayout::of(engine, &Score::Probability)?;
    let classes = layout.classes();
    Ok(out
        .scores
        .rows()
        .into_iter()
        .map(|r| (0..classes).map(|c| layout.score(r, c)).collect())
        .collect())
}

/// `f(i, image)` for every image of a batch.
pub(crate) fn per_image(
    x: &Array4<f32>,
    mut f: impl FnMut(usize, ndarray::ArrayView3<f32>) -> Array3<f32>,
) -> Array4<f32> {
    let mut out = Array4::zeros(x.raw_dim());
    for (i, (image, mut dst)) in x.outer_iter().zip(out.outer_iter_mut()).enumerate() {
        dst.assign(&f(i, image));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objective_is_the_seeded_sum_per_row() {
        let scores = ndarray::arr2(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        let seed = ndarray::arr2(&[[0.0f32, 1.0, 0.0], [0.5, 0.0, 0.5]]).into_dyn();
        assert_eq!(objective_values(&scores, &seed, 0.0), vec![2.0, 5.0]);
        assert_eq!(objective_values(&scores, &seed, 1.0), vec![3.0, 6.0]);
    }

    #[test]
    fn restarts_and_steps_past_their_limits_are_refused() {
        // Restarts run as one batch: 100,000 of them asked for over 12 GB,
        // and only the CLI's parser stopped it.
        let options = MaximizeOptions::for_size(28, 28);
        check(&options, 1).unwrap();
        let many = MaximizeOptions {
            restarts: crate::limits::MAX_RESTARTS + 1,
            ..options.clone()
        };
        let err = check(&many, 1).unwrap_err().to_string();
        assert!(
            err.contains("restarts 1025") && err.contains("at most 1024"),
            "{err}"
        );
        let long = MaximizeOptions {
            steps: crate::limits::MAX_STEPS + 1,
            ..options
        };
        assert!(check(&long, 1).unwrap_err().to_string().contains("at most"));
    }
}
