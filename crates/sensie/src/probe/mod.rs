//! The probe: several sensitivity tests over one model and one data set.
//!
//! A run streams batches through a two-stage pipeline. A producer thread
//! perturbs (in parallel, on a rayon pool of its own) and preprocesses the
//! next batch while the calling thread runs the model on the current one; a
//! channel of two batches joins them, and each batch goes back to the
//! producer to be filled again, so memory holds a few batches of images,
//! never examples x levels of them, and none is allocated per job. How the
//! cores are shared between the two is [`ThreadBudget`]'s choice. What is kept per example and level is its
//! score (a few bytes), which the paired statistics need.
//!
//! The unperturbed pass runs once and is shared: it is the reference of every
//! sweep, the level of any sweep at its perturbation's identity value, and
//! the data of the property and class tests.

mod config;
mod report;
mod results;
mod score;
mod threads;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel};

use ndarray::{Array4, ArrayView4, Axis, s};
use serde::Serialize;

pub use config::{OptionValue, ProbeConfig, PropertySpec, SweepSpec, Values};
pub use report::{
    EXAMPLE_STRETCH, EXAMPLES, chart, example_grid, example_rows, file_stem, group_grid,
    group_names, write_report, write_report_for,
};
pub use results::{Report, check_out, word, write_results};
use score::ScoreGrid;
pub use score::{Metric, Scored};
pub use threads::{ThreadBudget, sweep_engine};

use crate::data::name::Name;
use crate::data::{ClassMapping, Dataset, Labels};
use crate::engine::Engine;
use crate::model::{Layout, Model, OutputKind};
use crate::perturb::{self, Perturbation, perturb_batch_into};
use crate::preprocess::Preprocess;
use crate::stats::{self, Binning, Group, PairedScores, Settings, TestStats};
use crate::{Error, Result};

/// One perturbation sweep, ready to run.
pub struct Sweep {
    /// The test's name in results (the perturbation's, made unique).
    pub name: String,
    pub perturbation: Box<dyn Perturbation>,
    pub values: Vec<f64>,
    pub options: BTreeMap<String, String>,
}

/// One property test.
pub struct PropertyTest {
    pub column: String,
    pub binning: Binning,
}

/// The tests of one run.
#[derive(Default)]
pub struct Plan {
    pub sweeps: Vec<Sweep>,
    pub properties: Vec<PropertyTest>,
    pub classes: bool,
}

/// How a run goes.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub batch_size: usize,
    pub seed: u64,
    pub replicates: usize,
    pub threshold: Option<f64>,
    /// Set (by the progress callback, or another thread) to end the run
    /// after the batch in hand with [`Error::Cancelled`]: how Ctrl-C in a
    /// notebook stops a long run.
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            batch_size: 32,
            seed: 0,
            replicates: 2000,
            threshold: None,
            stop: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestKind {
    Perturbation,
    Property,
    Class,
}

/// The unperturbed pass, summarised.
#[derive(Clone, Debug, Serialize)]
pub struct Reference {
    pub n: usize,
    pub mean_score: f64,
    pub accuracy: Option<f64>,
}

/// One test's result, as written to results.json.
#[derive(Clone, Debug, Serialize)]
pub struct TestResult {
    pub name: String,
    pub kind: TestKind,
    pub parameter: String,
    pub unit: String,
    /// The parameter value that leaves the data unchanged (sweeps; null when infinite).
    pub identity: Option<f64>,
    pub options: BTreeMap<String, String>,
    pub metric: &'static str,
    /// Examples left out of a property test for having no value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<usize>,
    #[serde(flatten)]
    pub stats: TestStats,
    /// Regression only: mean squared error and mean signed error per level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub squared_error: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<Vec<f64>>,
    /// Property and class tests: the first few raw images of each group (a
    /// bin, a class; the first 20 groups), for the report's grids; empty for sweeps.
    #[serde(skip)]
    pub group_examples: Vec<Array4<f32>>,
    /// The names of those examples, group by group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shown: Vec<Vec<Name>>,
}

/// Turns specs into a runnable plan, refusing unknown perturbations,
/// options and impossible values before any model work.
pub fn plan(config: &ProbeConfig) -> Result<Plan> {
    let mut sweeps: Vec<Sweep> = Vec::new();
    for spec in &config.perturb {
        let options = spec.option_text();
        let perturbation = perturb::build(&spec.name, &options)?;
        let values = spec.levels()?;
        for &v in &values {
            perturbation.check(v)?;
        }
        let repeats = sweeps
            .iter()
            .filter(|s| s.perturbation.name() == spec.name)
            .count();
        let name = if repeats == 0 {
            spec.name.clone()
        } else {
            format!("{}#{}", spec.name, repeats + 1)
        };
        sweeps.push(Sweep {
            name,
            perturbation,
            values,
            options,
        });
    }
    let properties = config
        .property
        .iter()
        .map(|p| {
            Ok(PropertyTest {
                column: p.column.clone(),
                binning: Binning::parse(&p.bins)?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Plan {
        sweeps,
        properties,
        classes: config.classes,
    })
}

/// Everything `sensie probe` does: loads the model and data, runs the plan
/// and writes results.json and results.csv into `config.out` (the report
/// with its pictures follows from [`write_report`]).
pub fn execute(config: &ProbeConfig, progress: &mut dyn FnMut(usize, usize)) -> Result<Report> {
    if config.out.as_os_str().is_empty() {
        return Err(Error::invalid(
            "output directory",
            "none given (--out DIR, or out in the config)",
        ));
    }
    results::check_out(&config.out, config.force)?;
    let plan = plan(config)?;
    if plan.sweeps.is_empty() && plan.properties.is_empty() && !plan.classes {
        return Err(Error::invalid(
            "probe",
            "no test asked for: add --perturb, --property or --classes",
        ));
    }
    let mut model = Model::load(&config.model)?;
    if let Some(kind) = &config.output_kind {
        model.set_output_kind(kind.parse::<OutputKind>()?);
    }
    let model_names = model.class_names();
    let data = crate::data::load(&ClassMapping::names_for(&config.data, model_names))?;
    // Refuses an aspect-ratio change before any model work; the warning of a
    // large resize goes into the report.
    resize_warning(&model, &data, config)?;
    let mut engine = sweep_engine(model, config.batch_size, config.threads)?;
    let run_options = RunOptions {
        batch_size: config.batch_size,
        seed: config.seed,
        replicates: config.replicates,
        threshold: config.threshold,
        stop: None,
    };
    let (tests, accuracy) = run(
        &mut engine,
        &data,
        &config.preprocess,
        &plan,
        &run_options,
        progress,
    )?;
    let report = assemble(engine.model(), &data, config, &run_options, tests, accuracy)?;
    write_results(&config.out, &report)?;
    Ok(report)
}

/// A run's report with what the model and data say about it: the class
/// mapping used (and a warning when it was only the sorted order), a warning
/// when preprocessing resizes by more than a factor of 2, and a loud one when
/// the unperturbed accuracy is below chance. `sensie probe` and the Python
/// package build their reports here, so both write the same results.json.
pub fn assemble(
    model: &Model,
    data: &Dataset,
    config: &ProbeConfig,
    options: &RunOptions,
    tests: Vec<TestResult>,
    accuracy: Option<f64>,
) -> Result<Report> {
    let classes = ClassMapping::of(
        data.class_names.as_ref(),
        &config.data,
        model.class_names().as_ref(),
    );
    let mut report = Report::new(model, data, options, tests);
    report.warnings.extend(resize_warning(model, data, config)?);
    if let Some(classes) = classes.as_ref().filter(|c| c.source == "sorted") {
        report.warnings.push(classes.to_string());
    }
    let n_classes = report
        .model
        .outputs
        .first()
        .and_then(|o| o.shape.last().copied().flatten())
        .filter(|&k| k > 1);
    if let (Some(accuracy), Some(k)) = (accuracy, n_classes)
        && accuracy < 1.0 / k as f64
    {
        report.warnings.push(format!(
            "accuracy on the unperturbed images is {accuracy:.3}, below chance (1/{k} = {:.3}): the labels probably do not match the model's \
             classes (check --class-names) or its preprocessing (--scale, --mean, --std); every score is suspect",
            1.0 / k as f64
        ));
    }
    report.data.classes = classes;
    report.data.unperturbed_accuracy = accuracy;
    Ok(report)
}

/// The warning for a resize by more than a factor of 2 between the data's
/// images and the model's input; an error for a change of aspect ratio
/// that was not allowed.
fn resize_warning(model: &Model, data: &Dataset, config: &ProbeConfig) -> Result<Option<String>> {
    match model.info().image_size() {
        Some((_, h, w)) => config
            .preprocess
            .check_fit((data.images.dim().2, data.images.dim().3), (h, w)),
        None => Ok(None),
    }
}

/// A batch on its way to the model: the data set's own images, when the
/// preprocessing leaves them as they are (the unperturbed pass), or a buffer
/// the producer filled, which goes back to it for a later batch.
enum Input<'a> {
    Borrowed(ArrayView4<'a, f32>),
    Owned(Array4<f32>),
}

/// What the producer hands the model: a prepared batch and where it belongs.
struct Prepared<'a> {
    job: usize,
    input: Input<'a>,
}

/// One batch of work: the unperturbed pass (`sweep` none) or one level of a sweep.
#[derive(Clone, Copy)]
struct Job {
    sweep: Option<(usize, usize)>,
    start: usize,
    end: usize,
}

/// Per-example results of the unperturbed pass and of every sweep level.
struct Scores {
    reference: Vec<Scored>,
    /// Per sweep: examples x levels.
    sweeps: Vec<ScoreGrid>,
}

/// Runs every test of `plan` on `data`, returning the tests' results and,
/// for a classifier, the accuracy on the unperturbed images. `progress`
/// hears (batches done, batches in all).
pub fn run(
    engine: &mut Engine,
    data: &Dataset,
    preprocess: &Preprocess,
    plan: &Plan,
    options: &RunOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<TestResult>, Option<f64>)> {
    if data.is_empty() {
        return Err(Error::data(&data.path, "no examples to probe"));
    }
    if options.batch_size == 0 {
        return Err(Error::invalid(
            "batch size 0",
            "the batch size must be at least 1",
        ));
    }
    crate::limits::at_most(
        "replicates",
        options.replicates,
        crate::limits::MAX_REPLICATES,
    )?;
    if let Some(t) = options.threshold.filter(|t| !t.is_finite()) {
        return Err(Error::invalid(
            format!("threshold {t}"),
            "give a finite score (or leave it out for halfway between the best and worst level)",
        ));
    }
    let info = engine.model().info().clone();
    let layout = info.layout.ok_or_else(|| Error::UnsupportedModel {
        path: engine.model().path().to_path_buf(),
        reason: "its input is not a 4-D image (N x C x H x W or N x H x W x C)".into(),
    })?;
    let (_, channels, _, _) = data.images.dim();
    let size = info.image_size().map(|(c, h, w)| (c, (h, w)));
    if let Some((c, _)) = size
        && c != channels
    {
        return Err(Error::data(
            &data.path,
            format!("the images have {channels} band(s) but the model takes {c} channel(s)"),
        ));
    }
    preprocess.check(channels)?;
    for property in &plan.properties {
        data.metadata
            .as_ref()
            .ok_or_else(|| {
                Error::invalid(
                    format!("property '{}'", property.column),
                    "needs a metadata table (--metadata)",
                )
            })?
            .column(&property.column)?;
    }
    if plan.classes && !matches!(data.labels, Labels::Classes(_)) {
        return Err(Error::invalid(
            "class test",
            "the labels are regression targets, not classes",
        ));
    }

    let jobs = jobs(data.len(), plan, options.batch_size);
    let pass = Pass {
        data,
        preprocess,
        plan,
        seed: options.seed,
        layout,
        target: size.map(|s| s.1),
        stop: options.stop.as_deref(),
    };
    let budget = ThreadBudget::new(engine.options().threads);
    let (scores, metric) = stream(engine, &pass, &jobs, budget.producer, progress)?;

    let scale = match &data.labels {
        Labels::Targets(t) => target_scale(t),
        Labels::Classes(_) => 1.0,
    };
    let settings = Settings {
        replicates: options.replicates,
        seed: options.seed,
        threshold: options.threshold,
        scale,
    };
    let mut results = Vec::new();
    for (sweep, grid) in plan.sweeps.iter().zip(&scores.sweeps) {
        results.push(sweep_result(
            sweep,
            grid,
            &scores.reference,
            metric,
            &settings,
        )?);
    }
    for property in &plan.properties {
        results.push(property_result(
            property,
            data,
            &scores.reference,
            metric,
            &settings,
        )?);
    }
    if plan.classes {
        results.push(class_result(data, &scores.reference, metric, &settings)?);
    }
    let accuracy = matches!(data.labels, Labels::Classes(_)).then(|| {
        scores.reference.iter().filter(|s| s.correct).count() as f64 / scores.reference.len() as f64
    });
    Ok((results, accuracy))
}

/// The batches to run: the unperturbed pass, then every sweep level whose
/// value is not its perturbation's identity (those reuse the unperturbed pass).
fn jobs(n: usize, plan: &Plan, batch: usize) -> Vec<Job> {
    let batches = |sweep: Option<(usize, usize)>| {
        (0..n).step_by(batch).map(move |start| Job {
            sweep,
            start,
            end: (start + batch).min(n),
        })
    };
    let mut jobs: Vec<Job> = batches(None).collect();
    for (i, sweep) in plan.sweeps.iter().enumerate() {
        let identity = sweep.perturbation.parameter().identity;
        for (l, &value) in sweep.values.iter().enumerate() {
            if value != identity {
                jobs.extend(batches(Some((i, l))));
            }
        }
    }
    jobs
}

/// What every batch of a run shares: the data, the tests and how to prepare
/// a batch for the model (its layout and, when fixed, its height and width).
struct Pass<'a> {
    data: &'a Dataset,
    preprocess: &'a Preprocess,
    plan: &'a Plan,
    seed: u64,
    layout: Layout,
    target: Option<(usize, usize)>,
    stop: Option<&'a AtomicBool>,
}

impl<'a> Pass<'a> {
    /// Whether the preprocessing leaves raw images of this height and width
    /// exactly as they are (scale 1, no mean or std, the model's size and
    /// channels-first layout): then batches go to the model without a copy.
    fn as_is(&self, (_, _, h, w): (usize, usize, usize, usize)) -> bool {
        let p = self.preprocess;
        p.scale == 1.0
            && p.mean.iter().all(|&m| m == 0.0)
            && p.std.iter().all(|&s| s == 1.0)
            && self.layout == Layout::Nchw
            && self.target.is_none_or(|t| t == (h, w))
    }

    /// One batch perturbed (for a sweep level) and preprocessed. A sweep
    /// level is perturbed into a buffer from `spare` when one of the right
    /// shape is there.
    fn prepare(&self, job: &Job, spare: &mut Vec<Array4<f32>>) -> Result<Input<'a>> {
        let data: &'a Dataset = self.data;
        let raw = data.images.slice(s![job.start..job.end, .., .., ..]);
        let Some((sweep, level)) = job.sweep else {
            return Ok(if self.as_is(raw.dim()) {
                Input::Borrowed(raw)
            } else {
                Input::Owned(self.preprocess.apply(raw, self.target, self.layout)?)
            });
        };
        let sweep = &self.plan.sweeps[sweep];
        let mut buffer = match spare.pop() {
            Some(buffer) if buffer.dim() == raw.dim() => buffer,
            _ => Array4::zeros(raw.dim()),
        };
        perturb_batch_into(
            sweep.perturbation.as_ref(),
            raw,
            sweep.values[level],
            self.seed,
            job.start,
            buffer.view_mut(),
        )?;
        if self.as_is(raw.dim()) {
            return Ok(Input::Owned(buffer));
        }
        let prepared = self
            .preprocess
            .apply(buffer.view(), self.target, self.layout)?;
        spare.push(buffer);
        Ok(Input::Owned(prepared))
    }
}

/// Runs the jobs through the producer/consumer pipeline and scores every
/// example. The producer perturbs on `producer_threads` threads of its own
/// pool; the batches it has filled come back to it once the model has run
/// them, so a sweep allocates a few batches, not one per job.
fn stream(
    engine: &mut Engine,
    pass: &Pass,
    jobs: &[Job],
    producer_threads: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Scores, Metric)> {
    let (data, plan) = (pass.data, pass.plan);
    let n = data.len();
    let mut scores = Scores {
        reference: vec![Scored::default(); n],
        sweeps: plan
            .sweeps
            .iter()
            .map(|s| ScoreGrid::new(n, s.values.len(), matches!(data.labels, Labels::Targets(_))))
            .collect(),
    };
    let mut metric: Option<Metric> = None;
    let kind = engine.model().info().output_kind;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(producer_threads)
        .thread_name(|i| format!("sensie-producer-{i}"))
        .build()
        .map_err(|e| Error::runtime("starting the perturbation threads", e))?;
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = sync_channel::<Result<Prepared>>(2);
        let (spare_tx, spare_rx) = channel::<Array4<f32>>();
        scope.spawn(move || {
            pool.install(move || {
                let mut spare = Vec::new();
                for (index, job) in jobs.iter().enumerate() {
                    spare.extend(spare_rx.try_iter());
                    let prepared = pass
                        .prepare(job, &mut spare)
                        .map(|input| Prepared { job: index, input });
                    let failed = prepared.is_err();
                    if tx.send(prepared).is_err() || failed {
                        break;
                    }
                }
            })
        });
        for (done, message) in rx.into_iter().enumerate() {
            let Prepared { job, input } = message?;
            let job = jobs[job];
            let outputs = match &input {
                Input::Borrowed(view) => engine.predict(view.view().into_dyn())?,
                Input::Owned(batch) => engine.predict(batch.view().into_dyn())?,
            };
            if let Input::Owned(batch) = input {
                // The producer may have finished: then the buffer is just dropped.
                let _ = spare_tx.send(batch);
            }
            let metric = match metric {
                Some(m) => m,
                None => {
                    let m = Metric::new(&data.labels, kind, outputs.ncols())?;
                    if let Metric::Classifier(_) = m {
                        // One output scores two classes (0 and 1).
                        data.check_classes(outputs.ncols().max(2))?;
                    }
                    *metric.insert(m)
                }
            };
            metric.check(outputs.view(), job.start)?;
            for (row, example) in outputs.axis_iter(Axis(0)).zip(job.start..job.end) {
                let scored = metric.score(row, &data.labels, example);
                if !scored.score.is_finite() {
                    return Err(non_finite_score(pass, &job, example, scored.score));
                }
                match job.sweep {
                    None => scores.reference[example] = scored,
                    Some((sweep, level)) => scores.sweeps[sweep].set(example, level, scored),
                }
            }
            progress(done + 1, jobs.len());
            if pass.stop.is_some_and(|stop| stop.load(Ordering::Relaxed)) {
                return Err(Error::Cancelled);
            }
        }
        Ok(())
    })?;
    for (sweep, grid) in plan.sweeps.iter().zip(scores.sweeps.iter_mut()) {
        let identity = sweep.perturbation.parameter().identity;
        for (l, _) in sweep
            .values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v == identity)
        {
            grid.set_level(l, &scores.reference);
        }
    }
    Ok((scores, metric.expect("at least one batch ran")))
}

/// A model score that is NaN or infinite, with the example's file (or index)
/// named and what to check: such a score would poison every statistic.
fn non_finite_score(pass: &Pass, job: &Job, example: usize, score: f64) -> Error {
    let id = &pass.data.ids[example];
    let named = if *id == example.to_string() {
        format!("example {example}")
    } else {
        format!("example {example} ('{id}')")
    };
    let at = match job.sweep {
        None => "on the unperturbed image".to_string(),
        Some((sweep, level)) => {
            let sweep = &pass.plan.sweeps[sweep];
            format!(
                "at {} = {}",
                sweep.perturbation.parameter().name,
                sweep.values[level]
            )
        }
    };
    Error::data(
        &pass.data.path,
        format!(
            "the model's score for {named} is {score} {at}; check that example's pixels (extreme or saturated values) \
             and its scaling (--scale, --mean, --std: the model may expect other units)"
        ),
    )
}

/// The verdict's scale for regression: the standard deviation of the targets
/// (1 when they do not vary), so an effect reads as a fraction of their spread.
fn target_scale(targets: &[f32]) -> f64 {
    let n = targets.len() as f64;
    let mean = targets.iter().map(|&t| f64::from(t)).sum::<f64>() / n;
    let var = targets
        .iter()
        .map(|&t| (f64::from(t) - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0).max(1.0);
    if var > 0.0 { var.sqrt() } else { 1.0 }
}

/// Per-level mean squared error and bias of a regression test's levels (or
/// groups) of errors; none for classifiers.
fn regression_extras<L: IntoIterator<Item = f64>>(
    metric: Metric,
    levels: impl Iterator<Item = L>,
) -> (Option<Vec<f64>>, Option<Vec<f64>>) {
    if !matches!(metric, Metric::Regressor) {
        return (None, None);
    }
    let (squared, bias): (Vec<f64>, Vec<f64>) = levels
        .map(|errors| {
            let (mut n, mut sum, mut sum_sq) = (0usize, 0.0, 0.0);
            for e in errors {
                (n, sum, sum_sq) = (n + 1, sum + e, sum_sq + e * e);
            }
            (sum_sq / n as f64, sum / n as f64)
        })
        .unzip();
    (Some(squared), Some(bias))
}

fn sweep_result(
    sweep: &Sweep,
    grid: &ScoreGrid,
    reference: &[Scored],
    metric: Metric,
    settings: &Settings,
) -> Result<TestResult> {
    let reference_scores = ndarray::Array1::from_iter(reference.iter().map(|s| s.score));
    let input = PairedScores {
        values: &sweep.values,
        scores: grid.score.view(),
        correct: matches!(metric, Metric::Classifier(_)).then_some(grid.correct.view()),
        reference: reference_scores.view(),
    };
    let stats = stats::paired(&input, metric.direction(), settings)?;
    let errors = grid
        .error
        .iter()
        .flat_map(|e| e.axis_iter(Axis(1)))
        .map(|level| level.into_iter().copied());
    let (squared_error, bias) = regression_extras(metric, errors);
    let parameter = sweep.perturbation.parameter();
    Ok(TestResult {
        name: sweep.name.clone(),
        kind: TestKind::Perturbation,
        parameter: parameter.name.to_string(),
        unit: parameter.unit.to_string(),
        identity: parameter.identity.is_finite().then_some(parameter.identity),
        options: sweep.options.clone(),
        metric: metric.name(),
        missing: None,
        stats,
        squared_error,
        bias,
        group_examples: Vec::new(),
        shown: Vec::new(),
    })
}

/// A group of examples from the unperturbed pass: value, label, range, members.
type Members = (f64, Option<String>, Option<(f64, f64)>, Vec<usize>);

/// A test's statistics with its regression extras (squared error, bias) per level.
type WithExtras = (TestStats, Option<Vec<f64>>, Option<Vec<f64>>);

/// Statistics of groups of examples from the unperturbed pass, with the
/// regression extras per group.
fn grouped_stats(
    groups: &[Members],
    ordered: bool,
    reference: &[Scored],
    metric: Metric,
    settings: &Settings,
) -> Result<WithExtras> {
    let scores: Vec<Vec<f64>> = groups
        .iter()
        .map(|g| g.3.iter().map(|&i| reference[i].score).collect())
        .collect();
    let correct: Vec<Vec<bool>> = groups
        .iter()
        .map(|g| g.3.iter().map(|&i| reference[i].correct).collect())
        .collect();
    let classifier = matches!(metric, Metric::Classifier(_));
    let input: Vec<Group> = groups
        .iter()
        .enumerate()
        .map(|(j, g)| Group {
            value: g.0,
            label: g.1.clone(),
            range: g.2,
            scores: &scores[j],
            correct: classifier.then_some(correct[j].as_slice()),
        })
        .collect();
    let stats = stats::grouped(&input, metric.direction(), settings, ordered)?;
    let errors = groups
        .iter()
        .map(|g| g.3.iter().map(|&i| reference[i].error));
    let (squared_error, bias) = regression_extras(metric, errors);
    Ok((stats, squared_error, bias))
}

fn property_result(
    property: &PropertyTest,
    data: &Dataset,
    reference: &[Scored],
    metric: Metric,
    settings: &Settings,
) -> Result<TestResult> {
    let metadata = data.metadata.as_ref().expect("checked before the run");
    let bins = stats::bin(&metadata.column(&property.column)?, property.binning)?;
    let binned: usize = bins.iter().map(|b| b.members.len()).sum();
    let groups: Vec<Members> = bins
        .into_iter()
        .map(|b| {
            (
                b.value,
                b.label,
                (b.lo != b.hi).then_some((b.lo, b.hi)),
                b.members,
            )
        })
        .collect();
    let (stats, squared_error, bias) = grouped_stats(&groups, true, reference, metric, settings)?;
    Ok(TestResult {
        name: format!("property:{}", property.column),
        kind: TestKind::Property,
        parameter: property.column.clone(),
        unit: "metadata value".into(),
        identity: None,
        options: BTreeMap::from([("bins".to_string(), property.binning.to_string())]),
        metric: metric.name(),
        missing: Some(data.len() - binned),
        stats,
        squared_error,
        bias,
        group_examples: first_of_each(data, &groups),
        shown: names_of_each(data, &groups),
    })
}

fn class_result(
    data: &Dataset,
    reference: &[Scored],
    metric: Metric,
    settings: &Settings,
) -> Result<TestResult> {
    let Labels::Classes(classes) = &data.labels else {
        unreachable!("checked before the run")
    };
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &c) in classes.iter().enumerate() {
        members.entry(c).or_default().push(i);
    }
    let groups: Vec<Members> = members
        .into_iter()
        .map(|(c, m)| {
            (
                c as f64,
                data.class_names
                    .as_ref()
                    .and_then(|names| names.get(c).cloned()),
                None,
                m,
            )
        })
        .collect();
    let (stats, squared_error, bias) = grouped_stats(&groups, false, reference, metric, settings)?;
    Ok(TestResult {
        name: "classes".into(),
        kind: TestKind::Class,
        parameter: "class".into(),
        unit: "class index".into(),
        identity: None,
        options: BTreeMap::new(),
        metric: metric.name(),
        missing: None,
        stats,
        squared_error,
        bias,
        group_examples: first_of_each(data, &groups),
        shown: names_of_each(data, &groups),
    })
}

/// At most this many groups (bins, classes) get a row of example images:
/// a class test of a thousand-class model would otherwise copy 4000 images
/// and draw a picture no one can read.
const GROUP_ROWS: usize = 20;

/// The first [`EXAMPLES`] of each of the first [`GROUP_ROWS`] groups, in
/// the data set's order.
fn shown_of_each(groups: &[Members]) -> impl Iterator<Item = &[usize]> {
    groups
        .iter()
        .take(GROUP_ROWS)
        .map(|g| &g.3[..g.3.len().min(EXAMPLES)])
}

/// The raw images of [`shown_of_each`].
fn first_of_each(data: &Dataset, groups: &[Members]) -> Vec<Array4<f32>> {
    shown_of_each(groups)
        .map(|members| data.images.select(Axis(0), members))
        .collect()
}

/// The names of [`shown_of_each`].
fn names_of_each(data: &Dataset, groups: &[Members]) -> Vec<Vec<Name>> {
    shown_of_each(groups)
        .map(|members| members.iter().map(|&i| Name::of(&data.ids[i])).collect())
        .collect()
}
