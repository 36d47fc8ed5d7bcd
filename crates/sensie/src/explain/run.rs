//! A whole `sensie explain` run as a value: the examples chosen and
//! prepared, every method's maps, and the sanity and faithfulness checks
//! when asked for. Nothing is written here; [`super::report::write_run`]
//! writes a run as the command line does, and the Python package hands
//! the same value to a notebook.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use ndarray::{Array4, ArrayD, ArrayViewD, Axis};

use super::blur_saliency::Compared;
use super::faithfulness::{self, CurveOptions, Faithfulness};
use super::lrp::Lrp;
use super::report::{MethodSummary, Summary};
use super::sanity::{self, Sanity};
use super::{
    Attribution, Baseline, ClassLayout, Geometry, Options, Quadrature, TargetSpec, Targets,
};
use crate::autodiff::Composite;
use crate::data::name::Name;
use crate::data::{self, ClassMapping, DataSpec, Labels};
use crate::engine::{Engine, EngineOptions, Score};
use crate::model::{Layout, Model};
use crate::preprocess::Preprocess;
use crate::runtime::Runtime;
use crate::{Error, Result, ResultExt};

/// `sensie explain`'s inputs: the model, the data and which examples of it,
/// and how to explain them.
#[derive(Clone, Debug, Default)]
pub struct ExplainConfig {
    /// The model to explain.
    pub model: PathBuf,
    /// Where the examples come from.
    pub data: DataSpec,
    /// How raw images become the model's input.
    pub preprocess: Preprocess,
    /// Positions in the data file of the examples to explain.
    pub indices: Option<Vec<usize>>,
    /// Or the first N examples kept (`None` and no indices: all).
    pub limit: Option<usize>,
    /// The methods and their parameters.
    pub settings: Settings,
}

/// How examples are explained: the methods and their parameters, the
/// target, the checks, and the engine's batch size and threads (the
/// command line's flags of the same names).
#[derive(Clone, Debug)]
pub struct Settings {
    /// The methods, by name (`gradient`, `integrated-gradients`, `gradcam`, ...; [`super::METHODS`] lists them).
    pub methods: Vec<String>,
    /// `None`: label when the data has labels, else predicted.
    pub target: Option<TargetSpec>,
    /// logit or probability; blur-saliency's all or target (the logit).
    pub score: String,
    /// Grad-CAM's layer; `None`: the last convolutional layer.
    pub layer: Option<String>,
    /// Integrated Gradients' steps.
    pub steps: usize,
    /// Integrated Gradients' quadrature rule.
    pub rule: Quadrature,
    /// Integrated Gradients' baseline.
    pub baseline: BaselineSpec,
    /// SmoothGrad's samples.
    pub samples: usize,
    /// SmoothGrad's noise sigma as a fraction of each example's value range.
    pub noise: f32,
    /// Occlusion's square window, in pixels.
    pub window: usize,
    /// Occlusion's stride (and blur saliency's grid cell), in pixels.
    pub stride: usize,
    /// What occluded and deleted pixels are set to.
    pub fill: f32,
    /// LRP's composite and parameters.
    pub lrp: Lrp,
    /// Blur saliency's blur sigma, in pixels.
    pub blur_sigma: f32,
    /// Blur saliency's mask sigma, in pixels.
    pub mask_sigma: f32,
    /// Seed of every random draw.
    pub seed: u64,
    /// Run the sanity check (cascading model randomisation).
    pub sanity: bool,
    /// Run the deletion and insertion curves.
    pub faithfulness: bool,
    /// Points of each curve after the first.
    pub curve_steps: usize,
    /// Examples per model pass.
    pub batch_size: usize,
    /// ONNX Runtime threads; 0 lets sensie choose.
    pub threads: usize,
    /// When set, the run stops after the batch in hand with
    /// [`Error::Cancelled`] (see [`Engine::stop_when`]).
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for Settings {
    /// The command line's defaults: Integrated Gradients, the label (or the
    /// prediction) explained by its logit, the methods' parameters of
    /// [`Options::default`], 20-point curves, batches of 32.
    fn default() -> Self {
        let options = Options::default();
        Settings {
            methods: vec!["integrated-gradients".into()],
            target: None,
            score: "logit".into(),
            layer: options.layer,
            steps: options.steps,
            rule: options.quadrature,
            baseline: BaselineSpec::Named("zeros".into()),
            samples: options.samples,
            noise: options.noise,
            window: options.window,
            stride: options.stride,
            fill: options.fill,
            lrp: options.lrp,
            blur_sigma: options.blur_sigma,
            mask_sigma: options.mask_sigma,
            seed: options.seed,
            sanity: false,
            faithfulness: false,
            curve_steps: 20,
            batch_size: crate::engine::DEFAULT_BATCH_SIZE,
            threads: 0,
            stop: None,
        }
    }
}

/// Integrated Gradients' baseline as the user gave it.
#[derive(Clone, Debug)]
pub enum BaselineSpec {
    /// `zeros`, `noise`, `blur`, `blur:SIGMA`, or a `.npy` file.
    Named(String),
    /// Values: one example's shape, or one per example of the data.
    Array(ArrayD<f32>),
}

/// The examples to explain, prepared for the model.
#[derive(Clone, Debug)]
pub struct Examples {
    /// The model's inputs, in its layout and scaling.
    pub inputs: ArrayD<f32>,
    /// What the pictures show, N x C x H x W at the model's size.
    pub display: Array4<f32>,
    /// The examples' labels, when known.
    pub labels: Option<Vec<usize>>,
    /// The examples' names, as outputs write them.
    pub names: Vec<Name>,
    /// The examples' positions in the data.
    pub indices: Vec<usize>,
    /// How many examples the data holds (a baseline may give one for each).
    pub total: usize,
    /// The lowest and highest value of every example the data holds, as
    /// the model reads them: the z^B rule's box when none is given (the
    /// data's range, not the chosen examples', so that an example's LRP map
    /// does not change with the others explained beside it). Read from a
    /// file, only a run with that rule pays for it; otherwise the chosen
    /// examples' range.
    pub range: (f32, f32),
    /// The data's file, or a name standing for it.
    pub data: PathBuf,
}

/// A finished run: what `sensie explain` writes, as values. It serialises
/// as plain data (arrays as ndarray's `v`, `dim` and `data`), for the Python
/// package and sharded runs to carry.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExplainRun {
    /// explain.json.
    pub summary: Summary,
    /// Each method's maps, in the order of `summary.methods`.
    pub attributions: Vec<Attribution>,
    /// sanity.json, when asked for.
    pub sanity: Option<Sanity>,
    /// faithfulness.json, when asked for.
    pub faithfulness: Option<Faithfulness>,
    /// Where the channels, rows and columns of an example are in the maps.
    pub geometry: Geometry,
    /// What the pictures show, N x C x H x W.
    pub display: Array4<f32>,
    /// What the user should hear about the data (left-out examples, the
    /// class mapping, a large resize), as the command line prints it.
    pub notes: Vec<String>,
}

/// The scores a run may explain: [`Settings::score`].
pub const SCORES: [&str; 4] = ["logit", "probability", "all", "target"];

/// What the progress callback hears before the sanity check and the curves
/// (each method is announced by its name).
pub const SANITY_STEP: &str = "sanity check";
/// What the progress callback hears before the deletion and insertion curves.
pub const FAITHFULNESS_STEP: &str = "deletion and insertion curves";

/// Runs `sensie explain`: loads the model and the data, chooses and
/// prepares the examples, and explains them.
pub fn run(config: &ExplainConfig) -> Result<ExplainRun> {
    run_with_progress(config, &mut |_| {})
}

/// [`run`], with `progress` hearing each step's name as it starts.
pub fn run_with_progress(
    config: &ExplainConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<ExplainRun> {
    let model = Model::load(&config.model)?;
    let (examples, notes) = load_examples(config, &model)?;
    let mut run = run_on(Runtime::new()?, model, examples, &config.settings, progress)?;
    run.notes.splice(0..0, notes);
    Ok(run)
}

/// Reads the chosen examples of `config.data` and prepares them for
/// `model` as `sensie probe` does; returns them with notes for the user.
pub fn load_examples(config: &ExplainConfig, model: &Model) -> Result<(Examples, Vec<String>)> {
    let geometry = Geometry::of(model, "sensie explain")?;
    let model_names = model.class_names();
    let data::Images {
        images,
        labels,
        ids,
        positions,
        skipped,
        total,
        class_names,
    } = data::load_images(&ClassMapping::names_for(&config.data, model_names.clone()))?;
    let mut notes = Vec::new();
    if let Some(mapping) =
        ClassMapping::of(class_names.as_ref(), &config.data, model_names.as_ref())
    {
        notes.push(format!("note: {mapping}"));
    }
    // `rows` index the examples kept; `indices` are the same examples' positions in the data file.
    let rows = select(
        &positions,
        total,
        config.indices.as_deref(),
        config.limit,
        &config.data.path,
    )?;
    if !skipped.is_empty() {
        notes.push(format!(
            "note: {} example(s) with NaN or infinite pixels were left out",
            skipped.len()
        ));
    }
    if let Some(warning) = config.preprocess.check_fit(
        (images.dim().2, images.dim().3),
        (geometry.height, geometry.width),
    )? {
        notes.push(format!("WARNING: {warning}"));
    }
    let raw = images.select(Axis(0), &rows);
    let size = Some((geometry.height, geometry.width));
    let inputs = config
        .preprocess
        .apply(raw.view(), size, geometry.layout)?
        .into_dyn();
    // The whole data's range costs a pass over every image: only when the
    // z^B rule will use it as its box.
    let lrp = &config.settings.lrp;
    let mut range = widen((f32::INFINITY, f32::NEG_INFINITY), inputs.view());
    if config.settings.methods.iter().any(|m| m == "lrp")
        && lrp.bounds.is_none()
        && matches!(lrp.composite, Composite::EpsilonGammaBox)
    {
        for chunk in images.axis_chunks_iter(Axis(0), 256) {
            let read = config.preprocess.apply(chunk, size, geometry.layout)?;
            range = widen(range, read.view().into_dyn());
        }
    }
    // The raw images at the model's size, for the pictures.
    let display = Preprocess {
        fit: config.preprocess.fit,
        ..Preprocess::default()
    }
    .apply(raw.view(), size, Layout::Nchw)?;
    let labels = match labels {
        Some(Labels::Classes(classes)) => Some(rows.iter().map(|&r| classes[r]).collect()),
        // A chosen class or the prediction needs no labels: continuous ones
        // (a regressor's targets) only stand in the way of the label target.
        Some(Labels::Targets(_))
            if matches!(
                config.settings.target,
                Some(TargetSpec::Predicted | TargetSpec::Class(_))
            ) =>
        {
            None
        }
        Some(Labels::Targets(_)) => {
            return Err(Error::data(
                &config.data.path,
                "its labels are continuous (regression targets), not classes, so no label can be explained: \
                 pass --target predicted, or --target K for class or output K",
            ));
        }
        None => None,
    };
    let examples = Examples {
        inputs,
        display,
        labels,
        names: rows.iter().map(|&r| Name::of(&ids[r])).collect(),
        indices: rows.iter().map(|&r| positions[r]).collect(),
        total,
        range,
        data: config.data.path.clone(),
    };
    Ok((examples, notes))
}

/// `range` widened to hold the finite values of `values`.
fn widen(range: (f32, f32), values: ArrayViewD<f32>) -> (f32, f32) {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold(range, |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// Explains `examples` (already prepared for `model`) as `settings` ask,
/// on an engine of `runtime`.
pub fn run_on(
    runtime: Runtime,
    model: Model,
    examples: Examples,
    settings: &Settings,
    progress: &mut dyn FnMut(&str),
) -> Result<ExplainRun> {
    distinct_methods(&settings.methods)?;
    let geometry = Geometry::of(&model, "sensie explain")?;
    let model_path = model.path().to_path_buf();
    let mut engine = Engine::new(
        runtime,
        model,
        EngineOptions {
            batch_size: settings.batch_size,
            threads: settings.threads,
        },
    )?;
    if let Some(stop) = &settings.stop {
        engine.stop_when(stop.clone());
    }
    let inputs = examples.inputs.view();
    let score = match settings.score.as_str() {
        "probability" => Score::Probability,
        "logit" | "all" | "target" => Score::Logit,
        other => {
            return Err(Error::Unknown {
                what: "score".into(),
                name: other.into(),
                valid: SCORES.map(String::from).to_vec(),
            });
        }
    };
    // A NaN or infinite score, whatever the target, makes every map of it
    // NaN: refused here, naming the example in the data.
    if let Some(why) =
        super::non_finite_scores(engine.scores(inputs.view(), &Score::Logit)?.view(), &|i| {
            crate::data::name::describe(examples.indices[i], &examples.names[i].id)
        })
    {
        return Err(Error::data(&examples.data, why));
    }
    let spec = settings.target.unwrap_or(if examples.labels.is_some() {
        TargetSpec::Label
    } else {
        TargetSpec::Predicted
    });
    let targets = Targets::resolve(
        &mut engine,
        inputs.view(),
        spec,
        examples.labels.as_deref(),
        score,
    )
    .with_context(|| examples.data.display().to_string())?;
    let options = Options {
        layer: settings.layer.clone(),
        steps: settings.steps,
        quadrature: settings.rule,
        baseline: baseline(&settings.baseline, &engine, &examples, settings.seed)?,
        samples: settings.samples,
        noise: settings.noise,
        window: settings.window,
        stride: settings.stride,
        fill: settings.fill,
        seed: settings.seed,
        lrp: Lrp {
            // The whole data's range, unless it is one value (blank
            // cut-outs): then none, and the rule falls back to a box around
            // the inputs, as it does for inputs with no data behind them.
            bounds: settings
                .lrp
                .bounds
                .or(Some(examples.range).filter(|(low, high)| low < high)),
            ..settings.lrp.clone()
        },
        blur_sigma: settings.blur_sigma,
        mask_sigma: settings.mask_sigma,
        blur_score: if settings.score == "target" {
            Compared::Target
        } else {
            Compared::All
        },
    };
    let methods = settings
        .methods
        .iter()
        .map(|m| super::build(m, &options))
        .collect::<Result<Vec<_>>>()?;

    let mut attributions = Vec::new();
    let mut summaries = Vec::new();
    for method in &methods {
        progress(method.name());
        let start = Instant::now();
        let attribution = method.attribute(&mut engine, inputs.view(), &targets)?;
        summaries.push(MethodSummary::of(
            method.name(),
            method.kind(),
            &attribution,
            start.elapsed().as_secs_f64(),
        ));
        attributions.push(attribution);
    }
    let summary = Summary {
        model: model_path,
        data: examples.data.clone(),
        names: examples.names.clone(),
        examples: examples.indices.clone(),
        labels: examples.labels.clone(),
        predicted: Targets::resolve(
            &mut engine,
            inputs.view(),
            TargetSpec::Predicted,
            None,
            Score::Logit,
        )?
        .classes,
        targets: targets.classes.clone(),
        target: spec.to_string(),
        score: if settings.score == "probability" {
            "probability"
        } else {
            "logit"
        }
        .to_string(),
        binary: ClassLayout::of(&mut engine, &targets.score)?.describe(),
        layout: engine.model().info().layout,
        methods: summaries,
    };

    let sanity = if settings.sanity {
        progress(SANITY_STEP);
        Some(sanity::cascading_randomisation(
            &engine,
            inputs.view(),
            &targets,
            &methods,
            &attributions,
            settings.seed,
        )?)
    } else {
        None
    };
    let faithfulness = if settings.faithfulness {
        progress(FAITHFULNESS_STEP);
        let curve_options = CurveOptions {
            steps: settings.curve_steps,
            fill: settings.fill,
            blur_sigma: geometry.default_blur(),
            seed: settings.seed,
        };
        let maps: Vec<_> = methods
            .iter()
            .zip(&attributions)
            .map(|(m, a)| (m.name(), a, m.kind()))
            .collect();
        Some(faithfulness::curves(
            &mut engine,
            inputs.view(),
            &targets,
            &maps,
            curve_options,
        )?)
    } else {
        None
    };
    Ok(ExplainRun {
        summary,
        attributions,
        sanity,
        faithfulness,
        geometry,
        display: examples.display,
        notes: Vec::new(),
    })
}

/// The rows of the kept examples to explain: those at `indices` (positions
/// in the data file, checked against the examples kept), the first `limit`
/// kept, or all.
fn select(
    positions: &[usize],
    total: usize,
    indices: Option<&[usize]>,
    limit: Option<usize>,
    data: &Path,
) -> Result<Vec<usize>> {
    if let Some(list) = indices {
        crate::data::distinct_indices(list)?;
    }
    let chosen: Vec<usize> = match (indices, limit) {
        (Some(list), _) => list
            .iter()
            .map(|&i| {
                positions.binary_search(&i).map_err(|_| {
                    let reason = if i < total {
                        format!(
                            "example {i} of {} was left out (--only or --skip-bad); choose another",
                            data.display()
                        )
                    } else {
                        format!(
                            "{} has {total} examples (indices 0 to {})",
                            data.display(),
                            total.saturating_sub(1)
                        )
                    };
                    Error::invalid(format!("example index {i}"), reason)
                })
            })
            .collect::<Result<_>>()?,
        (None, Some(n)) => (0..n.min(positions.len())).collect(),
        (None, None) => (0..positions.len()).collect(),
    };
    if chosen.is_empty() {
        return Err(Error::invalid(
            "the examples to explain",
            "none were chosen",
        ));
    }
    Ok(chosen)
}

/// Refuses a method listed twice (`gradient,gradient`): it would be run
/// twice, listed twice in explain.json and written to one file, as if it
/// were two methods, with nothing said.
fn distinct_methods(methods: &[String]) -> Result<()> {
    match methods
        .iter()
        .enumerate()
        .find(|(i, m)| methods[..*i].contains(m))
    {
        Some((i, method)) => Err(Error::invalid(
            format!("method '{method}'"),
            format!(
                "it is given twice (method {} of {}); list each method once",
                i + 1,
                methods.len()
            ),
        )),
        None => Ok(()),
    }
}

/// The baseline `spec` names, for the examples explained.
fn baseline(
    spec: &BaselineSpec,
    engine: &Engine,
    examples: &Examples,
    seed: u64,
) -> Result<Baseline> {
    let (values, source) = match spec {
        BaselineSpec::Named(text) => match text.as_str() {
            "zeros" => return Ok(Baseline::Zeros),
            "noise" => return Ok(Baseline::Noise { seed }),
            "blur" => {
                let sigma = Geometry::of(engine.model(), "a blurred baseline")?.default_blur();
                return Ok(Baseline::Blur { sigma });
            }
            _ if text.starts_with("blur:") => {
                // A blur of sigma 0 is the input itself: a path of no
                // length, every map 0.
                let sigma = text["blur:".len()..]
                    .parse::<f32>()
                    .ok()
                    .filter(|v| *v > 0.0 && v.is_finite());
                let sigma = sigma.ok_or_else(|| {
                    Error::invalid(
                        format!("--baseline {text}"),
                        "blur:SIGMA needs a positive sigma in pixels (e.g. blur:2, or blur for the model's default); \
                         a blur of sigma 0 leaves the input as it is, so there is no path to integrate and every map would be 0",
                    )
                })?;
                return Ok(Baseline::Blur { sigma });
            }
            file => (data::read_array(Path::new(file))?, Some(file)),
        },
        BaselineSpec::Array(values) => (values.clone(), None),
    };
    // One baseline per example of the data: keep the chosen ones.
    let example_rank = engine.model().info().input.shape.len() - 1;
    let total = examples.total;
    let baseline = if values.ndim() == example_rank + 1 && values.shape()[0] == total && total > 1 {
        Baseline::Array(values.select(Axis(0), &examples.indices))
    } else {
        Baseline::Array(values)
    };
    // Checked now, before any method runs, with the file named.
    baseline
        .for_inputs(engine, examples.inputs.view())
        .map_err(|e| match (e, source) {
            (Error::InvalidInput { what, reason }, Some(file)) => Error::Data {
                path: file.into(),
                reason: format!("{what}: {reason}"),
            },
            (other, _) => other,
        })?;
    Ok(baseline)
}

impl Examples {
    /// Examples already in a model's input layout and scaling (a batch in
    /// memory, named `data`), with a label each when given: those at
    /// `indices`, or all. The pictures show them as they are.
    pub fn from_inputs(
        inputs: ArrayViewD<f32>,
        layout: Layout,
        labels: Option<Vec<usize>>,
        indices: Option<&[usize]>,
        data: &str,
    ) -> Result<Examples> {
        let batch = inputs
            .view()
            .into_dimensionality::<ndarray::Ix4>()
            .map_err(|_| {
                Error::invalid(
                    format!("inputs of shape {:?}", inputs.shape()),
                    "expected a batch of images, N x C x H x W or N x H x W x C",
                )
            })?;
        let total = batch.dim().0;
        if let Some(labels) = &labels
            && labels.len() != total
        {
            return Err(Error::invalid(
                format!("{} labels", labels.len()),
                format!("expected one per example ({total})"),
            ));
        }
        let all: Vec<usize> = (0..total).collect();
        let rows = select(&all, total, indices, None, Path::new(data))?;
        let chosen = batch.select(Axis(0), &rows);
        if let Some((row, count)) = crate::data::first_non_finite(chosen.view().into_dyn()) {
            return Err(Error::data(
                data,
                format!(
                    "example {} holds {count} NaN or infinite value(s): its maps would be NaN or, where ReLU \
                     passes no gradient through NaN, silently zero; fix or leave out that example",
                    rows[row]
                ),
            ));
        }
        let display = match layout {
            Layout::Nchw => chosen.clone(),
            Layout::Nhwc => chosen
                .view()
                .permuted_axes([0, 3, 1, 2])
                .as_standard_layout()
                .into_owned(),
        };
        Ok(Examples {
            inputs: chosen.into_dyn(),
            display,
            labels: labels.map(|l| rows.iter().map(|&r| l[r]).collect()),
            names: rows.iter().map(|r| Name::of(&r.to_string())).collect(),
            indices: rows,
            total,
            range: widen((f32::INFINITY, f32::NEG_INFINITY), inputs.view()),
            data: PathBuf::from(data),
        })
    }
}
