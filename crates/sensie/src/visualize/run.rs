//! A visualisation as `sensie visualize` runs it: a [`VisualizeConfig`] in,
//! a [`VisualizeRun`] out. [`run`] chooses the examples, loads the model and
//! computes, writing nothing; [`write_run`] is the one place that writes a
//! run's pictures, page, JSON summary and optimised inputs.

use std::path::{Path, PathBuf};

use ndarray::{ArrayD, ArrayViewD, Axis};
use serde::Serialize;

use super::{
    Dreamed, FeatureMaps, Kernels, Layer, MaximizeOptions, Maximized, Parameterisation, Report,
    Target, ValueRange,
};
use crate::engine::{Engine, EngineOptions, Score};
use crate::model::Model;
use crate::runtime::Runtime;
use crate::{Error, Result};

/// How many examples are shown when none are chosen: the data's first ones.
pub const DEFAULT_EXAMPLES: usize = 4;

/// One visualisation to run.
#[derive(Clone, Debug)]
pub struct VisualizeConfig {
    /// The ONNX model.
    pub model: PathBuf,
    /// ONNX Runtime threads per operator (0: one per core).
    pub threads: usize,
    /// What to visualise, with its settings.
    pub kind: Kind,
}

/// The visualisations, each with what it needs.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A convolution's kernels: the one named by `layer` (node or output
    /// tensor), or the model's first.
    Kernels {
        /// The convolution; the first one when `None`.
        layer: Option<String>,
    },
    /// Every channel's activation map of `layer` for chosen examples.
    Features {
        /// The examples.
        examples: ExampleChoice,
        /// A tensor or node name, as `sensie inspect` lists them.
        layer: String,
    },
    /// Activation maximisation.
    Maximize(MaximizeConfig),
    /// Deep Dream.
    Dream(DreamConfig),
}

/// Examples chosen from a data file.
#[derive(Clone, Debug)]
pub struct ExampleChoice {
    /// A .npy of inputs in the model's own layout and value range, examples first.
    pub data: PathBuf,
    /// Which examples (0-based); the first [`DEFAULT_EXAMPLES`] (or fewer) when empty.
    pub indices: Vec<usize>,
}

/// What activation maximisation runs with; [`Default`] gives the command
/// line's defaults (those of [`MaximizeOptions::for_size`]).
#[derive(Clone, Debug)]
pub struct MaximizeConfig {
    /// The class, layer, channel or neuron maximised.
    pub target: Target,
    /// Adam steps.
    pub steps: usize,
    /// Independent starts, optimised together as one batch.
    pub restarts: usize,
    /// Adam's learning rate.
    pub learning_rate: f32,
    /// How images are represented.
    pub parameterisation: Parameterisation,
    /// The score a class target maximises.
    pub class_score: Score,
    /// Random shift per step, in pixels; `None`: the image size / 28, at least 1.
    pub jitter: Option<usize>,
    /// Random scale per step: a factor in [1 - scale, 1 + scale].
    pub scale: f32,
    /// Random rotation per step, up to this many degrees either way.
    pub rotate: f32,
    /// Strength of the L2 penalty.
    pub l2: f32,
    /// Strength of the total-variation penalty.
    pub tv: f32,
    /// Blur the images every this many steps (0: never)...
    pub blur_every: usize,
    /// ...with a Gaussian of this standard deviation, in pixels.
    pub blur_sigma: f32,
    /// Strength of the diversity term between restarts.
    pub diversity: f32,
    /// The layer whose Gram matrices diversity compares.
    pub diversity_layer: Option<String>,
    /// The model's input range as (low, high); `None`: the data's, else [0, 1].
    pub range: Option<(f32, f32)>,
    /// A .npy of real inputs (model layout): the default range, the starting
    /// value (the data's mean per band) and the Fourier colour decorrelation.
    pub data: Option<PathBuf>,
    /// Seed of the random draws.
    pub seed: u64,
}

impl MaximizeConfig {
    /// The defaults, maximising `target`.
    pub fn new(target: Target) -> MaximizeConfig {
        let options = MaximizeOptions::for_size(1, 1);
        let reg = options.regularisers;
        MaximizeConfig {
            target,
            steps: options.steps,
            restarts: options.restarts,
            learning_rate: options.learning_rate,
            parameterisation: options.parameterisation,
            class_score: options.class_score,
            jitter: None,
            scale: reg.scale,
            rotate: reg.rotate,
            l2: reg.l2,
            tv: reg.tv,
            blur_every: reg.blur_every,
            blur_sigma: reg.blur_sigma,
            diversity: options.diversity,
            diversity_layer: options.diversity_layer,
            range: None,
            data: None,
            seed: options.seed,
        }
    }

    /// The optimisation's options for the model on `engine` (its image size
    /// sets the default jitter) and, when given, real inputs `data` in the
    /// model's layout (the default range, the start and the Fourier colour
    /// decorrelation). `self.data` is not read here: [`run`] reads it, the
    /// Python package passes arrays in memory.
    pub fn options(
        &self,
        engine: &mut Engine,
        data: Option<ArrayViewD<f32>>,
    ) -> Result<MaximizeOptions> {
        let (_, h, w) = Layer::input(engine)?.chw();
        let mut options = MaximizeOptions::for_size(h, w);
        options.steps = self.steps;
        options.restarts = self.restarts;
        options.learning_rate = self.learning_rate;
        options.parameterisation = self.parameterisation;
        options.class_score = self.class_score.clone();
        let reg = &mut options.regularisers;
        reg.jitter = self.jitter.unwrap_or(reg.jitter);
        (reg.scale, reg.rotate, reg.l2, reg.tv) = (self.scale, self.rotate, self.l2, self.tv);
        (reg.blur_every, reg.blur_sigma) = (self.blur_every, self.blur_sigma);
        options.diversity = self.diversity;
        options.diversity_layer = self.diversity_layer.clone();
        options.seed = self.seed;
        // A NaN pixel would make the start and the colour statistics NaN,
        // an infinite one the range: refused, as features and dream refuse.
        if let Some(data) = &data {
            super::finite(data.view())?;
        }
        options.range = range(self.range, data.clone())?;
        if let Some(data) = data {
            let images = Layer::input(engine)?.to_nchw(data)?;
            options.fit_to_data(images.view());
        }
        Ok(options)
    }
}

/// What Deep Dream runs with.
#[derive(Clone, Debug)]
pub struct DreamConfig {
    /// The images dreamed.
    pub examples: ExampleChoice,
    /// The layer amplified.
    pub layer: String,
    /// Scales worked at, coarse to fine.
    pub octaves: usize,
    /// Size ratio between octaves.
    pub octave_scale: f32,
    /// Gradient steps per octave.
    pub steps: usize,
    /// Mean change of a pixel per step, as a fraction of the value range.
    pub step_size: f32,
    /// Random shift per step, in pixels.
    pub jitter: usize,
    /// The model's input range as (low, high); `None`: the data's.
    pub range: Option<(f32, f32)>,
    /// Seed of the random draws.
    pub seed: u64,
}

/// A finished visualisation, as plain data (arrays as ndarray's `v`, `dim`
/// and `data`): what [`write_run`] writes.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VisualizeRun {
    /// A convolution's kernels.
    Kernels(Kernels),
    /// Feature maps of chosen examples.
    Features {
        /// The maps.
        maps: FeatureMaps,
        /// The examples, as the pictures name them ("example 5").
        examples: Vec<String>,
    },
    /// Optimised inputs.
    Maximize {
        /// What was maximised.
        target: Target,
        /// The inputs and how well they do.
        result: Maximized,
    },
    /// Dreamed images.
    Dream {
        /// The images and the layer's norms.
        dreamed: Dreamed,
        /// The examples, as the pictures name them ("example 0").
        examples: Vec<String>,
    },
}

impl VisualizeRun {
    /// The run's pictures, page and summary, ready to write.
    pub fn report(&self) -> Result<Report> {
        match self {
            VisualizeRun::Kernels(kernels) => kernels.report(),
            VisualizeRun::Features { maps, examples } => maps.report(examples),
            VisualizeRun::Maximize { target, result } => result.report(target),
            VisualizeRun::Dream { dreamed, examples } => dreamed.report(examples),
        }
    }
}

/// Runs `config`: chooses the examples, loads the model and computes,
/// writing nothing.
pub fn run(config: &VisualizeConfig) -> Result<VisualizeRun> {
    run_with_progress(config, &mut |_, _| {})
}

/// [`run`], with `progress` hearing (steps done, steps in all) of an
/// optimisation (maximize and dream run for minutes on large models).
pub fn run_with_progress(
    config: &VisualizeConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<VisualizeRun> {
    match &config.kind {
        Kind::Kernels { layer } => {
            let model = Model::load(&config.model)?;
            Ok(VisualizeRun::Kernels(super::kernels(
                &model,
                layer.as_deref(),
            )?))
        }
        Kind::Features { examples, layer } => {
            let chosen = examples.load()?;
            let mut engine = engine(config, chosen.x.shape()[0])?;
            let maps = super::feature_maps(&mut engine, chosen.x.view(), layer)
                .map_err(|e| in_data(e, &examples.data))?;
            Ok(VisualizeRun::Features {
                maps,
                examples: chosen.labels,
            })
        }
        Kind::Maximize(settings) => maximize(config, settings, progress),
        Kind::Dream(settings) => dream(config, settings, progress),
    }
}

/// Writes `run` into `dir` (created if needed): its pictures (PNG), the
/// page (NAME.html), the summary (NAME.json) and, for optimised inputs,
/// `inputs.npy`. Returns the paths written.
pub fn write_run(run: &VisualizeRun, dir: &Path) -> Result<Vec<PathBuf>> {
    run.report()?.write(dir)
}

fn engine(config: &VisualizeConfig, batch_size: usize) -> Result<Engine> {
    Engine::new(
        Runtime::new()?,
        Model::load(&config.model)?,
        EngineOptions {
            batch_size: batch_size.max(1),
            threads: config.threads,
        },
    )
}

fn maximize(
    config: &VisualizeConfig,
    settings: &MaximizeConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<VisualizeRun> {
    let mut engine = engine(config, settings.restarts)?;
    // A given range is checked before the data is read.
    range(settings.range, None)?;
    let data = settings
        .data
        .as_ref()
        .map(|path| crate::data::read_array(path))
        .transpose()?;
    let options = settings
        .options(&mut engine, data.as_ref().map(|d| d.view()))
        .map_err(|e| match &settings.data {
            Some(path) => in_data(e, path),
            None => e,
        })?;
    let result = super::maximize_with_progress(&mut engine, &settings.target, &options, progress)?;
    Ok(VisualizeRun::Maximize {
        target: settings.target.clone(),
        result,
    })
}

fn dream(
    config: &VisualizeConfig,
    settings: &DreamConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<VisualizeRun> {
    let Chosen { data, x, labels } = settings.examples.load()?;
    let mut engine = engine(config, x.shape()[0])?;
    let options = super::DreamOptions {
        octaves: settings.octaves,
        octave_scale: settings.octave_scale,
        steps: settings.steps,
        step_size: settings.step_size,
        jitter: settings.jitter,
        range: range(settings.range, Some(data.view()))?,
        seed: settings.seed,
    };
    let dreamed =
        super::dream_with_progress(&mut engine, x.view(), &settings.layer, &options, progress)
            .map_err(|e| in_data(e, &settings.examples.data))?;
    Ok(VisualizeRun::Dream {
        dreamed,
        examples: labels,
    })
}

/// Examples chosen from a data file, labelled by their index in it.
struct Chosen {
    /// The whole data set.
    data: ArrayD<f32>,
    /// The chosen examples.
    x: ArrayD<f32>,
    labels: Vec<String>,
}

impl ExampleChoice {
    /// The whole data set and the chosen examples; images holding NaN or
    /// infinite values are refused (their maps would be NaN).
    fn load(&self) -> Result<Chosen> {
        let data = crate::data::read_array(&self.data)?;
        let n = data.shape().first().copied().unwrap_or(0);
        let indices = if self.indices.is_empty() {
            (0..n.min(DEFAULT_EXAMPLES)).collect()
        } else {
            self.indices.clone()
        };
        if indices.is_empty() {
            return Err(Error::Data {
                path: self.data.clone(),
                reason: "holds no examples".into(),
            });
        }
        crate::data::distinct_indices(&indices)?;
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(Error::InvalidInput {
                what: format!("{}: example {bad}", self.data.display()),
                reason: format!("the data has {n} examples (0 to {})", n.saturating_sub(1)),
            });
        }
        let x = data.select(Axis(0), &indices);
        if let Some((row, _)) = crate::data::first_non_finite(x.view()) {
            return Err(Error::Data {
                path: self.data.clone(),
                reason: format!(
                    "example {} has NaN or infinite values; choose other examples (--indices)",
                    indices[row]
                ),
            });
        }
        let labels = indices.iter().map(|i| format!("example {i}")).collect();
        Ok(Chosen { data, x, labels })
    }
}

/// The value range: given, else the data's, else [0, 1].
fn range(given: Option<(f32, f32)>, data: Option<ArrayViewD<f32>>) -> Result<ValueRange> {
    match (given, data) {
        (Some((low, high)), _) => ValueRange::new(low, high),
        (None, Some(data)) => ValueRange::of_data(data),
        (None, None) => Ok(ValueRange::default()),
    }
}

/// Names the data file in an error about the data's shape.
fn in_data(e: Error, path: &Path) -> Error {
    match e {
        Error::InvalidInput { what, reason } if what.contains("of shape") => Error::InvalidInput {
            what: format!("{}: {what}", path.display()),
            reason,
        },
        other => other,
    }
}
