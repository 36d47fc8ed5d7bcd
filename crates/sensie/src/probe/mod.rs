//! The probe: several sensitivity tests over one model and one data set.
//!
//! A run's batches go to workers, one per core ([`ThreadBudget`]): each
//! perturbs and preprocesses a batch on its own thread and runs it through
//! an ONNX Runtime session of its own, and the calling thread scores the
//! results in order. A model that runs one batch at a time (a Python
//! function) gets a producer thread instead, perturbing the next batch while
//! the model runs the current one. Each batch buffer is filled again once
//! the model has run it, so memory holds a few batches of images, never
//! examples x levels of them, and none is allocated per job. What is kept
//! per example and level is its score (a few bytes), which the paired
//! statistics need.
//!
//! The unperturbed pass runs once and is shared: it is the reference of every
//! sweep, the level of any sweep at its perturbation's identity value, and
//! the data of the property and class tests.
//!
//! Measuring and summarising are two steps with a value between them:
//! [`run`] returns a [`ProbeRun`] (every example's scores, for the whole run
//! or one [`Shard`] of it) and writes nothing; [`report`] computes the
//! statistics from a whole run. `sensie probe` saves the run in `scores/`
//! as it goes (`--resume` continues from it), and [`merge`] joins the shards'
//! runs into the whole one.

mod compare;
mod config;
mod fingerprint;
mod grid;
mod report;
mod results;
mod resume;
mod score;
mod scores;
mod shard;
mod stream;
mod threads;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use ndarray::{Array4, ArrayView4, Axis, s};
use serde::Serialize;

pub use compare::{
    Arm, COMPARISON_OUTPUTS, Compared, Comparison, Differences, RunLevels, RunSummary,
    TestComparison, arms, compare_dirs, compare_reports, execute_comparison, overlay_chart,
    write_comparison, write_comparison_report,
};
pub use config::{
    GridSpec, NamedData, NamedModel, OptionValue, ProbeConfig, PropertySpec, SweepSpec, Values,
    in_order,
};
pub use grid::{Grid, GridAxes, GridSummary};
pub use report::{
    EXAMPLE_STRETCH, chart, example_grid, example_rows, file_stem, file_stems, group_grid,
    group_names, write_report,
};
pub use results::{DataSummary, ModelSummary, Report, check_out, write_results};
use resume::Checkpoint;
pub use score::{Metric, ScoreGrid, Scored};
use scores::test_file;
pub use scores::{GivenPaths, ProbeRun, SCORES, SweepScores};
pub use shard::Shard;
pub use threads::{ThreadBudget, sweep_engine};

/// The batch size of a probe unless its config says otherwise (the engine's).
pub use crate::engine::DEFAULT_BATCH_SIZE;

use crate::data::name::Name;
use crate::data::{ClassMapping, Dataset, Labels};
use crate::model::{Layout, Model, OutputKind};
use crate::output::OutputDir;
use crate::perturb::{self, Perturbation, perturb_batch_into};
use crate::predictor::{Described, Predictor};
use crate::preprocess::Preprocess;
use crate::stats::{self, Binning, ExampleScores, Group, PairedScores, Settings, TestStats};
use crate::{Error, Result};

/// How many examples the example grids show: the first ones of the data set,
/// so the choice is deterministic and the same in every test.
pub const EXAMPLES: usize = 4;

/// A plain enum's name as results.json spells it ("perturbation", "high"):
/// the report's page and results.csv write the same words.
pub fn word(value: impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// One perturbation sweep, ready to run.
pub struct Sweep {
    /// The test's name in results (the perturbation's, made unique).
    pub name: String,
    /// The perturbation applied at each level.
    pub perturbation: Box<dyn Perturbation>,
    /// The parameter's value at each level.
    pub values: Vec<f64>,
    /// The perturbation's options, for results.json.
    pub options: BTreeMap<String, String>,
}

/// One property test.
pub struct PropertyTest {
    /// The test's name: `property:COLUMN`, with `#2`, `#3`, ... for the
    /// same column tested again (binned otherwise, say), as sweeps are.
    pub name: String,
    /// The metadata column.
    pub column: String,
    /// How its values become groups.
    pub binning: Binning,
}

/// The tests of one run.
#[derive(Default)]
pub struct Plan {
    /// The perturbation sweeps.
    pub sweeps: Vec<Sweep>,
    /// The property tests.
    pub properties: Vec<PropertyTest>,
    /// Whether to run a class test.
    pub classes: bool,
    /// Two-perturbation grids, each run as a sweep over its cells.
    pub grids: Vec<Grid>,
}

impl Plan {
    /// The sweeps, then the grids' sweeps: what the runner streams, indexed
    /// as its jobs, score grids and saved scores are.
    fn all_sweeps(&self) -> impl Iterator<Item = &Sweep> {
        self.sweeps
            .iter()
            .chain(self.grids.iter().map(|g| &g.sweep))
    }

    fn sweep(&self, index: usize) -> &Sweep {
        self.all_sweeps().nth(index).expect("a job's sweep")
    }

    /// The threads of running this plan in batches of `batch_size` with
    /// `--threads` = `threads` (0: choose): a worker per core, and for a
    /// model that runs one batch at a time a producer of every core, or of
    /// one when there is no batch work to divide (a perturbation that cannot
    /// divide its work, or batches of one image).
    pub fn thread_budget(&self, threads: usize, batch_size: usize) -> ThreadBudget {
        ThreadBudget::new(
            threads,
            batch_size > 1 && self.all_sweeps().all(|s| s.perturbation.parallel()),
        )
    }
}

/// How a run goes.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Examples per model pass.
    pub batch_size: usize,
    /// Seed of the bootstrap and of random perturbations.
    pub seed: u64,
    /// Bootstrap replicates.
    pub replicates: usize,
    /// The verdict's high threshold, in score units; the default when `None`.
    pub threshold: Option<f64>,
    /// Set (by the progress callback, or another thread) to end the run
    /// after the batch in hand with [`Error::Cancelled`]: how Ctrl-C in a
    /// notebook stops a long run.
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            batch_size: DEFAULT_BATCH_SIZE,
            seed: 0,
            replicates: stats::DEFAULT_REPLICATES,
            threshold: None,
            stop: None,
        }
    }
}

/// The kinds of test a probe runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestKind {
    /// A perturbation swept over levels.
    Perturbation,
    /// The examples grouped by a metadata column.
    Property,
    /// The examples grouped by class.
    Class,
    /// Two perturbations over a grid of levels.
    Grid,
}

/// The unperturbed pass, summarised.
#[derive(Clone, Debug, Serialize)]
pub struct Reference {
    /// Examples scored.
    pub n: usize,
    /// Their mean score.
    pub mean_score: f64,
    /// Their accuracy (classifiers).
    pub accuracy: Option<f64>,
}

/// One test's result, as written to results.json.
#[derive(Clone, Debug, Serialize)]
pub struct TestResult {
    /// The test's name.
    pub name: String,
    /// What kind of test it is.
    pub kind: TestKind,
    /// The parameter varied (the column, for property tests).
    pub parameter: String,
    /// The parameter's unit.
    pub unit: String,
    /// The parameter value that leaves the data unchanged (sweeps; null when infinite).
    pub identity: Option<f64>,
    /// The perturbation's options.
    pub options: BTreeMap<String, String>,
    /// What a score is (correct-class probability, absolute error).
    pub metric: &'static str,
    /// Examples left out of a property test for having no value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<usize>,
    /// The statistics.
    #[serde(flatten)]
    pub stats: TestStats,
    /// Regression only: mean squared error and mean signed error per level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub squared_error: Option<Vec<f64>>,
    /// Regression only: the mean signed error per level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<Vec<f64>>,
    /// Property and class tests: the first few raw images of each group (a
    /// bin, a class; the first 20 groups), for the report's grids; empty for sweeps.
    #[serde(skip)]
    pub group_examples: Vec<Array4<f32>>,
    /// Perturbation sweeps: per level, the first few examples (up to
    /// [`EXAMPLES`]) as the run perturbed them, for the report's grid;
    /// empty for other tests.
    #[serde(skip)]
    pub level_examples: Vec<Array4<f32>>,
    /// The names of those examples, group by group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shown: Vec<Vec<Name>>,
    /// Every example's score behind the levels, for comparing this test
    /// between data sets or models ([`stats::difference`]).
    #[serde(skip)]
    pub scores: ExampleScores,
    /// Grid tests: the axes, and each cell's mean and significance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid: Option<GridSummary>,
}

/// Turns specs into a runnable plan, refusing unknown perturbations,
/// options and impossible values before any model work.
pub fn plan(config: &ProbeConfig) -> Result<Plan> {
    // As `--threads` is on the command line: a config's `threads = 4000`
    // started 4000 threads for a 50-image run.
    crate::limits::at_most("threads", config.threads, crate::limits::MAX_THREADS)?;
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
        sweeps.push(Sweep {
            name: numbered(spec.name.clone(), repeats),
            perturbation,
            values,
            options,
        });
    }
    let mut properties: Vec<PropertyTest> = Vec::new();
    for p in &config.property {
        let repeats = properties.iter().filter(|q| q.column == p.column).count();
        properties.push(PropertyTest {
            name: numbered(format!("property:{}", p.column), repeats),
            column: p.column.clone(),
            binning: Binning::parse(&p.bins)?,
        });
    }
    let mut grids: Vec<Grid> = Vec::new();
    for spec in &config.grid {
        spec.check()?;
        let base = format!("grid:{},{}", spec.perturb[0].name, spec.perturb[1].name);
        let repeats = grids
            .iter()
            .filter(|g| g.sweep.name.split('#').next() == Some(base.as_str()))
            .count();
        grids.push(Grid::build(spec, numbered(base, repeats))?);
    }
    Ok(Plan {
        sweeps,
        properties,
        classes: config.classes,
        grids,
    })
}

/// A test's name: `base`, or `base#k` when `repeats` tests of the same
/// thing come before it, so that every test of a run is named apart.
fn numbered(base: String, repeats: usize) -> String {
    if repeats == 0 {
        base
    } else {
        format!("{base}#{}", repeats + 1)
    }
}

/// A probe made ready to run: its tests checked, the model and the data
/// loaded, and the run's fingerprint.
struct Setup {
    plan: Plan,
    model: Model,
    data: Dataset,
    fingerprint: String,
    /// The sweep's engine, made while the data was read, for a setup that
    /// will measure.
    engine: Option<threads::EngineStart>,
}

impl Setup {
    /// Refuses unknown perturbations, options, impossible values and a
    /// change of aspect ratio before any model work. `measuring`: start
    /// making the engine as soon as the model is loaded.
    fn open(config: &ProbeConfig, measuring: bool) -> Result<Setup> {
        let plan = plan(config)?;
        if plan.all_sweeps().next().is_none() && plan.properties.is_empty() && !plan.classes {
            return Err(Error::invalid(
                "probe",
                "no test asked for: add --perturb, --grid, --property or --classes",
            ));
        }
        let mut model = Model::load(&config.model)?;
        if let Some(kind) = &config.output_kind {
            model.set_output_kind(kind.parse::<OutputKind>()?);
        }
        let engine = measuring.then(|| {
            let budget = plan.thread_budget(config.threads, config.batch_size);
            threads::EngineStart::spawn(model.clone(), config.batch_size, budget)
        });
        let model_names = model.class_names();
        let data = crate::data::load(&ClassMapping::names_for(&config.data, model_names))?;
        // The warning of a large resize goes into the report.
        resize_warning(&model, &data, config)?;
        // What the statistics would refuse (too few bootstrap replicates,
        // a property column that cannot be binned) is refused here, before
        // the first batch: found only after measuring, it cost a whole
        // run, and every shard of a sharded one succeeded only for `sensie
        // merge` to refuse them all.
        stats::check_settings(&stats_settings(&data, &run_options(config)))?;
        if let Some(metadata) = &data.metadata {
            for property in &plan.properties {
                metadata.groups(&property.column, property.binning)?;
            }
        }
        let fingerprint = fingerprint::fingerprint(config, &data)?;
        Ok(Setup {
            plan,
            model,
            data,
            fingerprint,
            engine,
        })
    }

    /// The examples `config` asks for: its shard's slice, or every example.
    fn slice(&self, config: &ProbeConfig) -> Range<usize> {
        match config.shard {
            Some(shard) => shard.slice(self.data.len(), config.batch_size),
            None => 0..self.data.len(),
        }
    }

    /// Measures `config`'s examples (its shard, or all), saving partial
    /// scores in `checkpoint`'s directory as it goes when given.
    fn measure(
        &mut self,
        config: &ProbeConfig,
        checkpoint: Option<&mut Checkpoint>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<ProbeRun> {
        let slice = self.slice(config);
        let mut engine = match self.engine.take() {
            Some(start) => start.engine()?,
            // A copy: the engine owns its model, and the report reads this one after.
            None => sweep_engine(
                self.model.clone(),
                config.batch_size,
                self.plan.thread_budget(config.threads, config.batch_size),
            )?,
        };
        let options = run_options(config);
        let measured = measure(
            &mut engine,
            &self.data,
            &config.preprocess,
            &self.plan,
            &options,
            Span {
                slice: slice.clone(),
                chunk: config.chunk,
            },
            checkpoint,
            progress,
        )?;
        let mut kept = config.clone();
        kept.resolve_paths(&std::env::current_dir().map_err(|e| Error::io(".", e))?);
        Ok(ProbeRun {
            given: GivenPaths::of(config),
            config: kept,
            fingerprint: self.fingerprint.clone(),
            examples: self.data.len(),
            start: slice.start,
            end: slice.end,
            positions: self.data.positions[slice].to_vec(),
            metric: measured.metric,
            reference: measured.reference,
            sweeps: self
                .plan
                .all_sweeps()
                .zip(measured.sweeps)
                .zip(measured.shown)
                .map(|((s, grid), shown)| SweepScores {
                    name: s.name.clone(),
                    values: s.values.clone(),
                    grid,
                    shown,
                })
                .collect(),
        })
    }
}

/// The settings of a run that the measurement and statistics read.
fn run_options(config: &ProbeConfig) -> RunOptions {
    RunOptions {
        batch_size: config.batch_size,
        seed: config.seed,
        replicates: config.replicates,
        threshold: config.threshold,
        stop: None,
    }
}

/// Runs `config` (its shard, or every example) and returns the scores it
/// measured, writing nothing; [`report`] turns them into results.
pub fn run(config: &ProbeConfig, progress: &mut dyn FnMut(usize, usize)) -> Result<ProbeRun> {
    Setup::open(config, true)?.measure(config, None, progress)
}

/// The results of a whole run's scores: reads the model and data `run` was
/// made from (refusing them if they changed since), computes every test's
/// statistics and assembles the report, as `sensie probe` writes it.
pub fn report(run: &ProbeRun) -> Result<Report> {
    if !run.is_whole() {
        return Err(Error::invalid(
            "probe scores",
            format!(
                "they hold examples {}..{} of {}, one shard: merge every shard first (sensie merge)",
                run.start, run.end, run.examples
            ),
        ));
    }
    let setup = Setup::open(&run.config, false)?;
    if setup.fingerprint != run.fingerprint {
        return Err(Error::data(
            &run.config.data.path,
            format!(
                "the model, data or metadata differ from those the scores were measured on (fingerprint {} against {}): \
                 rerun the probe, or restore the files",
                setup.fingerprint, run.fingerprint
            ),
        ));
    }
    report_of(&setup.model, &setup.data, &setup.plan, run)
}

/// [`report`] with the model, data and plan at hand.
fn report_of(model: &Model, data: &Dataset, plan: &Plan, run: &ProbeRun) -> Result<Report> {
    let options = run_options(&run.config);
    let sweeps: Vec<Measurements> = run
        .sweeps
        .iter()
        .map(|s| Measurements {
            grid: &s.grid,
            shown: &s.shown,
        })
        .collect();
    let (tests, accuracy) = statistics(
        data,
        plan,
        &run.reference_scores(),
        &sweeps,
        run.metric,
        &options,
    )?;
    let mut report = assemble(model, data, &run.config, &options, tests, accuracy)?;
    // Named as the run was given them, not as a merge found them.
    report.model.path = run.given.model.clone();
    report.data.path = run.given.data.clone();
    Ok(report)
}

/// Checks that `config` names an output directory.
fn check_named_out(config: &ProbeConfig) -> Result<()> {
    if config.out.as_os_str().is_empty() {
        return Err(Error::invalid(
            "output directory",
            "none given (--out DIR, or out in the config)",
        ));
    }
    Ok(())
}

/// Measures `config`'s examples into `config.out`: partial scores as the run
/// goes (read back with `resume`), then `scores/` whole. A resumed run whose
/// scores are already whole measures nothing again.
fn measure_into(
    config: &ProbeConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(ProbeRun, Setup)> {
    check_named_out(config)?;
    let mut setup = Setup::open(config, true)?;
    let slice = setup.slice(config);
    // Finished scores, when there are some, are this run's or refused: a
    // scores/ that cannot be read is an error, never "nothing to resume",
    // or another run's results would be replaced without --force.
    if config.resume && config.out.join(SCORES).join("run.json").exists() {
        let done = ProbeRun::load(&config.out).map_err(|e| unresumable(&config.out, e))?;
        if done.fingerprint != setup.fingerprint
            || (done.start, done.end) != (slice.start, slice.end)
        {
            return Err(Error::data(
                &config.out,
                format!(
                    "holds the finished scores of another run or shard (fingerprint {}, examples {}..{}; this run is {} on {}..{}): \
                     pass --force instead of --resume to replace them, or choose another --out",
                    done.fingerprint,
                    done.start,
                    done.end,
                    setup.fingerprint,
                    slice.start,
                    slice.end
                ),
            ));
        }
        return Ok((done, setup));
    }
    let mut checkpoint = Checkpoint::open(&config.out, &setup.fingerprint, &slice, config.resume)?;
    let run = match setup.measure(config, Some(&mut checkpoint), progress) {
        Ok(run) => run,
        Err(error) => {
            checkpoint.abandon();
            return Err(error);
        }
    };
    run.save(&config.out)?;
    checkpoint.finish()?;
    Ok((run, setup))
}

/// Why the finished scores in `out` cannot be resumed: the file and what
/// is wrong with it, and what to do instead.
fn unresumable(out: &Path, error: Error) -> Error {
    let cause = match &error {
        // The cause only: what the reader suggests (run the probe again)
        // is said below for a resumed run.
        Error::Data { path, reason } => format!(
            "{}: {}",
            path.display(),
            reason.split("; ").next().unwrap_or(reason)
        ),
        other => other.to_string(),
    };
    // --force replaces a scores/ an earlier run listed or stamped; any
    // other it refuses as the user's, so it is not the way out then.
    let forcible = crate::output::listed(out, SCORES) || stamped_scores(&out.join(SCORES));
    let instead = if forcible {
        "pass --force instead of --resume to replace them and start over"
    } else {
        "no sensie run there listed or stamped them, so --force would not replace them either: move the folder \
         scores away"
    };
    Error::data(
        out,
        format!("its scores cannot be resumed ({cause}): {instead}, or choose another --out"),
    )
}

/// The entries `sensie probe` (and `sensie merge`) writes into its output
/// directory under fixed names: what a forced run may replace only when an
/// earlier run wrote them (see [`crate::output`]).
pub const OUTPUTS: [&str; 6] = [
    SCORES,
    "results.json",
    "results.csv",
    "report.html",
    "plots",
    "examples",
];

/// Whether `out` holds scores a `--resume` can continue from: an
/// interrupted run's (`scores/partial/run.json`) or a finished one's
/// (`scores/run.json`), readable or not (an unreadable one is refused when
/// the run reads it, naming the file).
pub fn resumable(out: &Path) -> bool {
    let scores = out.join(SCORES);
    scores.join("run.json").exists() || scores.join("partial").join("run.json").exists()
}

/// Makes `config.out` ready for `sensie probe` reading `inputs`, writing
/// `folders` (a comparison run's per-arm folders) besides [`OUTPUTS`].
/// `--resume` continues only a run that left scores there ([`resumable`]);
/// with none there is nothing to continue, and the run is a fresh one, so
/// a folder that is not empty is refused unless forced, as without
/// `--resume`. A forced run replaces only what an earlier sensie run
/// wrote: a same-named entry of the user's is refused by name, never
/// overwritten, and a `scores/` folder is sensie's only when it holds
/// sensie's stamp.
pub fn prepare_out(config: &ProbeConfig, inputs: &[&Path], folders: &[&str]) -> Result<OutputDir> {
    if config.resume && resumable(&config.out) {
        return crate::output::resume(&config.out, inputs, &[SCORES]);
    }
    let names: Vec<&str> = OUTPUTS
        .iter()
        .copied()
        .chain(folders.iter().copied())
        .collect();
    crate::output::prepare(&config.out, config.force, inputs)?.claim(&names, stamped_scores)
}

/// Whether the entry at `path` of an output directory, though no manifest
/// lists it, is sensie's own: a `scores/` folder holding the stamp of a
/// finished or interrupted run (a run killed before it could write its
/// manifest leaves one). The `ours` of [`OutputDir::claim`] for probe and
/// merge outputs.
pub fn stamped_scores(path: &Path) -> bool {
    path.file_name() == Some(SCORES.as_ref()) && resume::stamped(path)
}

/// Everything `sensie probe` does: loads the model and data, runs the plan
/// and writes `scores/`, results.json and results.csv into `config.out`
/// (the report with its pictures follows from [`write_report`]).
pub fn execute(config: &ProbeConfig, progress: &mut dyn FnMut(usize, usize)) -> Result<Report> {
    check_named_out(config)?;
    if let Some(shard) = config.shard {
        return Err(Error::invalid(
            format!("shard {shard}"),
            "a shard has no results of its own: run it with execute_part, then merge the parts",
        ));
    }
    if !config.resume {
        results::check_out(&config.out, config.force)?;
    }
    let (run, setup) = measure_into(config, progress)?;
    let report = report_of(&setup.model, &setup.data, &setup.plan, &run)?;
    write_results(&config.out, &report)?;
    Ok(report)
}

/// `sensie probe --shard K/N`: measures the shard's examples and writes its
/// scores into `config.out` (a part for [`merge`]).
pub fn execute_part(
    config: &ProbeConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ProbeRun> {
    Ok(measure_into(config, progress)?.0)
}

/// `sensie merge`: joins the scores of a run's parts (the output
/// directories of its shards), checks they make one whole run, and writes
/// its scores, results.json and results.csv into `out`. Returns the report,
/// which holds the example images [`write_report`] draws.
pub fn merge(parts: &[PathBuf], out: &Path) -> Result<Report> {
    let parts = parts
        .iter()
        .map(|dir| Ok((dir.clone(), ProbeRun::load(dir)?)))
        .collect::<Result<Vec<_>>>()?;
    let mut run = ProbeRun::join(parts)?;
    // Stored whole, as a measured run stores its own (its parts' are).
    run.config.out = out.to_path_buf();
    run.config
        .resolve_paths(&std::env::current_dir().map_err(|e| Error::io(".", e))?);
    run.config.shard = None;
    let report = report(&run)?;
    run.save(out)?;
    write_results(out, &report)?;
    Ok(report)
}

/// A run's report with what the model and data say about it: the class
/// mapping used (and a warning when it was only the sorted order), a warning
/// when preprocessing resizes by more than a factor of 2, and a loud one when
/// the unperturbed accuracy is below chance. `sensie probe` and the Python
/// package build their reports here, so both write the same results.json.
pub fn assemble(
    model: &dyn Described,
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
    let small: Vec<String> = report.tests.iter().filter_map(small_groups).collect();
    report.warnings.extend(small);
    let single: Vec<String> = report.tests.iter().filter_map(one_group).collect();
    report.warnings.extend(single);
    let missing: Vec<String> = report.tests.iter().filter_map(left_out).collect();
    report.warnings.extend(missing);
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

/// The warning for a property or class test with groups too small to
/// resample ([`stats::MIN_GROUP`]): they are reported but take no part in
/// its verdict (nor in a property's threshold and range change); for a
/// sweep on fewer examples than that, no level counts.
fn small_groups(test: &TestResult) -> Option<String> {
    let (part, remedy) = match test.kind {
        TestKind::Property => (
            "the verdict, threshold or range change",
            // A text column's groups are its values: no binning merges them.
            if test.stats.levels.iter().any(|l| l.label.is_some()) {
                format!(
                    "; column '{}' is text, one group per distinct value: test a column whose values several examples share",
                    test.parameter
                )
            } else {
                format!(
                    "; fewer bins (--property {}=qK) make larger groups",
                    test.parameter
                )
            },
        ),
        TestKind::Class => ("the verdict", String::new()),
        TestKind::Perturbation | TestKind::Grid => {
            let n = test.stats.levels.first().map_or(0, |l| l.n);
            return (n < stats::MIN_GROUP).then(|| {
                format!(
                    "{}: {n} example(s), fewer than {}, too few to resample: the intervals are unbounded and no level counts as a change, \
                     so its verdict is no finding; probe more examples",
                    test.name,
                    stats::MIN_GROUP
                )
            });
        }
    };
    let levels = &test.stats.levels;
    let small = levels.iter().filter(|l| l.n < stats::MIN_GROUP).count();
    // With every group too small the verdict rests on nothing: "low" would
    // read as "no effect".
    let nothing = if small == levels.len() {
        ", so its verdict is no finding"
    } else {
        ""
    };
    (small > 0).then(|| {
        format!(
            "{}: {small} of {} groups hold fewer than {} examples, too few to resample: they are reported but take no part \
             in {part}{nothing}{remedy}",
            test.name,
            levels.len(),
            stats::MIN_GROUP
        )
    })
}

/// The warning for a property test that left examples out for having no
/// value in its column: a count only in results.json went unseen, and a
/// column of missing-value markers tests fewer examples than the run holds.
fn left_out(test: &TestResult) -> Option<String> {
    let missing = test.missing.filter(|&m| m > 0)?;
    let tested: usize = test.stats.levels.iter().map(|l| l.n).sum();
    Some(format!(
        "{}: {missing} of {} examples have no value in column '{}' (an empty cell, NaN, NA, N/A, null, None or --) and are left out of it",
        test.name,
        missing + tested,
        test.parameter
    ))
}

/// The warning for a property or class test whose examples all fall in one
/// group: it compares nothing, and its verdict ("low") is no finding.
fn one_group(test: &TestResult) -> Option<String> {
    let remedy = match test.kind {
        TestKind::Property => "choose a column whose values differ, or more bins",
        TestKind::Class => "the labels hold one class",
        TestKind::Perturbation | TestKind::Grid => return None,
    };
    (test.stats.levels.len() < 2).then(|| {
        format!(
            "{}: every example falls in one group, so it compares nothing and its verdict is no finding; {remedy}",
            test.name
        )
    })
}

/// The warning for a resize by more than a factor of 2 between the data's
/// images and the model's input; an error for a change of aspect ratio
/// that was not allowed.
fn resize_warning(
    model: &dyn Described,
    data: &Dataset,
    config: &ProbeConfig,
) -> Result<Option<String>> {
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
    /// A sweep's batch holding any of the first [`EXAMPLES`] examples:
    /// those examples as perturbed, before preprocessing, for the report.
    shown: Option<Array4<f32>>,
}

/// One batch of work: the unperturbed pass (`sweep` none) or one level of a sweep.
#[derive(Clone, Copy)]
struct Job {
    sweep: Option<(usize, usize)>,
    start: usize,
    end: usize,
    /// The unit (an index into the units being run) this batch is the last of.
    completes: Option<usize>,
}

/// One test (the unperturbed pass, `None`, or a sweep) on one chunk of
/// examples: the piece of work whose scores are saved as partial scores.
struct Unit {
    test: Option<usize>,
    examples: Range<usize>,
}

/// The examples a measurement covers (a shard's, or all), and how many
/// examples a unit holds (rounded up to whole batches; 0: all of them).
struct Span {
    slice: Range<usize>,
    chunk: usize,
}

/// Per-example results of the unperturbed pass and of every sweep level,
/// for the examples of a [`Span`] (row 0 is its first example).
struct Measured {
    /// Examples x 1.
    reference: ScoreGrid,
    /// Per sweep: examples x levels.
    sweeps: Vec<ScoreGrid>,
    /// Per sweep: the example grid's images ([`shown_levels`]).
    shown: Vec<Vec<Array4<f32>>>,
    metric: Metric,
}

/// What the statistics read of one sweep: its scores, and the images its
/// example grid shows.
struct Measurements<'a> {
    grid: &'a ScoreGrid,
    shown: &'a [Array4<f32>],
}

impl Measured {
    fn grid(&mut self, test: Option<usize>) -> &mut ScoreGrid {
        match test {
            None => &mut self.reference,
            Some(i) => &mut self.sweeps[i],
        }
    }
}

/// Runs every test of `plan` on `data`, returning the tests' results and,
/// for a classifier, the accuracy on the unperturbed images. `engine` is
/// the ONNX engine or any other [`Predictor`]; `progress` hears (batches
/// done, batches in all).
pub fn run_plan(
    engine: &mut dyn Predictor,
    data: &Dataset,
    preprocess: &Preprocess,
    plan: &Plan,
    options: &RunOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<TestResult>, Option<f64>)> {
    let span = Span {
        slice: 0..data.len(),
        chunk: 0,
    };
    let measured = measure(
        engine, data, preprocess, plan, options, span, None, progress,
    )?;
    let sweeps: Vec<Measurements> = measured
        .sweeps
        .iter()
        .zip(&measured.shown)
        .map(|(grid, shown)| Measurements { grid, shown })
        .collect();
    statistics(
        data,
        plan,
        &measured.reference.level(0),
        &sweeps,
        measured.metric,
        options,
    )
}

/// Scores the examples of `span` under every test of `plan`, restoring the
/// units `checkpoint` saved earlier and saving each unit it completes.
#[allow(clippy::too_many_arguments)]
fn measure(
    engine: &mut dyn Predictor,
    data: &Dataset,
    preprocess: &Preprocess,
    plan: &Plan,
    options: &RunOptions,
    span: Span,
    mut checkpoint: Option<&mut Checkpoint>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Measured> {
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
    // A threshold no score can reach is crossed at the first level or never,
    // whatever the perturbation does: 2 for 0.2 would report a model that
    // fails unperturbed.
    let (highest, score) = match data.labels {
        Labels::Classes(_) => (1.0, "the correct class's probability, from 0 to 1"),
        Labels::Targets(_) => (f64::INFINITY, "an absolute error, 0 or more"),
    };
    if let Some(t) = options.threshold.filter(|t| !(0.0..=highest).contains(t)) {
        return Err(Error::invalid(
            format!("threshold {t}"),
            format!("the score is {score}; give a threshold in that range"),
        ));
    }
    let info = engine.info().clone();
    let layout = info.layout.ok_or_else(|| Error::UnsupportedModel {
        path: engine.path().to_path_buf(),
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
            .groups(&property.column, property.binning)?;
    }
    if plan.classes && !matches!(data.labels, Labels::Classes(_)) {
        return Err(Error::invalid(
            "class test",
            "the labels are regression targets, not classes",
        ));
    }

    let first = span.slice.start;
    let regression = matches!(data.labels, Labels::Targets(_));
    let n = span.slice.len();
    let kind = info.output_kind;
    let mut measured = Measured {
        reference: ScoreGrid::new(n, 1, regression),
        sweeps: plan
            .all_sweeps()
            .map(|s| ScoreGrid::new(n, s.values.len(), regression))
            .collect(),
        shown: shown_room(data, plan, &span.slice),
        // Replaced by the first batch's metric, which also checks the
        // model's output width; a run restored whole was checked before.
        metric: Metric::new(&data.labels, data.task, kind, 1, &|i| data.example(i))?,
    };
    let mut todo = Vec::new();
    for unit in units(plan, &span, options.batch_size) {
        let rows = unit.examples.start - first..unit.examples.end - first;
        let saved = checkpoint
            .as_deref_mut()
            .and_then(|c| c.take(&test_file(unit.test), unit.examples.start));
        match saved {
            Some(saved) => {
                resume::restore(&saved, measured.grid(unit.test), rows)?;
                reshow(&mut measured.shown, &unit, data, plan, options.seed, first)?;
            }
            None => todo.push(unit),
        }
    }
    let jobs = jobs(&todo, plan, options.batch_size);
    let pass = Pass {
        data,
        preprocess,
        plan,
        seed: options.seed,
        layout,
        target: size.map(|s| s.1),
        stop: options.stop.as_deref(),
    };
    let budget = plan.thread_budget(engine.threads(), options.batch_size.min(n));
    let saving = checkpoint.map(|c| (&*c, todo.as_slice()));
    stream::stream(
        engine,
        &pass,
        &jobs,
        budget,
        &mut measured,
        first,
        saving,
        progress,
    )?;
    let reference = measured.reference.level(0);
    for (sweep, grid) in plan.all_sweeps().zip(measured.sweeps.iter_mut()) {
        let identity = sweep.perturbation.parameter().identity;
        for (l, _) in sweep
            .values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v == identity)
        {
            grid.set_level(l, &reference);
        }
    }
    Ok(measured)
}

/// Room for the images of the report's example grids that the examples
/// of `slice` hold: per sweep (the grids' cells have none) and level, those
/// of the data set's first [`EXAMPLES`] examples that lie in `slice`. The
/// identity value's are the raw images (the run reuses the unperturbed pass
/// there); the producer copies the others out of the batches it perturbs
/// for the model ([`Pass::prepare`]), so a report draws the images the
/// model saw and perturbs nothing again. A shard after the first examples
/// holds none.
fn shown_room(data: &Dataset, plan: &Plan, slice: &Range<usize>) -> Vec<Vec<Array4<f32>>> {
    let rows = slice.start.min(EXAMPLES)..slice.end.min(EXAMPLES);
    let raw = data.images.slice(s![rows.clone(), .., .., ..]);
    let levels = |sweep: &Sweep| -> Vec<Array4<f32>> {
        if rows.is_empty() {
            return Vec::new();
        }
        let identity = sweep.perturbation.parameter().identity;
        sweep
            .values
            .iter()
            .map(|&v| {
                if v == identity {
                    raw.to_owned()
                } else {
                    Array4::zeros(raw.dim())
                }
            })
            .collect()
    };
    let mut shown: Vec<_> = plan.sweeps.iter().map(levels).collect();
    shown.extend(plan.grids.iter().map(|_| Vec::new()));
    shown
}

/// The example images of a unit that a resumed run restored from its
/// partial scores instead of measuring: perturbed again, as the producer
/// perturbs them (the run's seed, each example's own index).
fn reshow(
    shown: &mut [Vec<Array4<f32>>],
    unit: &Unit,
    data: &Dataset,
    plan: &Plan,
    seed: u64,
    first: usize,
) -> Result<()> {
    let Some(i) = unit.test.filter(|&i| i < plan.sweeps.len()) else {
        return Ok(());
    };
    let rows = unit.examples.start..unit.examples.end.min(EXAMPLES);
    if rows.is_empty() {
        return Ok(());
    }
    let sweep = &plan.sweeps[i];
    let identity = sweep.perturbation.parameter().identity;
    let raw = data.images.slice(s![rows.clone(), .., .., ..]);
    for (level, &v) in sweep.values.iter().enumerate() {
        if v != identity {
            let images =
                perturb::perturb_batch(sweep.perturbation.as_ref(), raw, v, seed, rows.start)?;
            shown[i][level]
                .slice_mut(s![rows.start - first..rows.end - first, .., .., ..])
                .assign(&images);
        }
    }
    Ok(())
}

/// Every test's statistics from the scores of every example: the sweeps'
/// from their grids, the property and class tests' from the unperturbed
/// pass; and a classifier's accuracy on the unperturbed images.
fn statistics(
    data: &Dataset,
    plan: &Plan,
    reference: &[Scored],
    sweeps: &[Measurements],
    metric: Metric,
    options: &RunOptions,
) -> Result<(Vec<TestResult>, Option<f64>)> {
    let settings = stats_settings(data, options);
    let mut results = Vec::new();
    let mut grids = sweeps.iter();
    for (sweep, measured) in plan.sweeps.iter().zip(grids.by_ref()) {
        let (mut result, _) = sweep_result(sweep, measured.grid, reference, metric, &settings)?;
        result.level_examples = measured.shown.to_vec();
        results.push(result);
    }
    for (grid, cells) in plan.grids.iter().zip(grids) {
        let (result, band) = sweep_result(&grid.sweep, cells.grid, reference, metric, &settings)?;
        results.push(grid::grid_result(
            &grid.axes,
            result,
            &band,
            options.threshold,
        ));
    }
    for property in &plan.properties {
        results.push(property_result(
            property, data, reference, metric, &settings,
        )?);
    }
    if plan.classes {
        results.push(class_result(data, reference, metric, &settings)?);
    }
    let accuracy = matches!(data.labels, Labels::Classes(_))
        .then(|| reference.iter().filter(|s| s.correct).count() as f64 / reference.len() as f64);
    Ok((results, accuracy))
}

/// The statistics' settings of a run on `data`: a regression's verdicts
/// are on the scale of its targets.
fn stats_settings(data: &Dataset, options: &RunOptions) -> Settings {
    let scale = match &data.labels {
        Labels::Targets(t) => target_scale(t),
        Labels::Classes(_) => 1.0,
    };
    Settings {
        replicates: options.replicates,
        seed: options.seed,
        threshold: options.threshold,
        scale,
    }
}

/// The units of work of `span`: the unperturbed pass on each chunk, then
/// each sweep on each chunk.
fn units(plan: &Plan, span: &Span, batch: usize) -> Vec<Unit> {
    let chunk = match span.chunk {
        0 => span.slice.len(),
        c => c.div_ceil(batch) * batch,
    };
    let chunks: Vec<Range<usize>> = span
        .slice
        .clone()
        .step_by(chunk)
        .map(|start| start..(start + chunk).min(span.slice.end))
        .collect();
    std::iter::once(None)
        .chain((0..plan.all_sweeps().count()).map(Some))
        .flat_map(|test| {
            chunks.iter().map(move |examples| Unit {
                test,
                examples: examples.clone(),
            })
        })
        .collect()
}

/// The batches of `units`: the unperturbed pass, or every level of a sweep
/// whose value is not its perturbation's identity (those reuse the
/// unperturbed pass). A unit's last batch is marked as completing it.
fn jobs(units: &[Unit], plan: &Plan, batch: usize) -> Vec<Job> {
    let mut jobs: Vec<Job> = Vec::new();
    for (index, unit) in units.iter().enumerate() {
        let batches = |sweep: Option<(usize, usize)>| {
            let end = unit.examples.end;
            unit.examples.clone().step_by(batch).map(move |start| Job {
                sweep,
                start,
                end: (start + batch).min(end),
                completes: None,
            })
        };
        let before = jobs.len();
        match unit.test {
            None => jobs.extend(batches(None)),
            Some(i) => {
                let sweep = plan.sweep(i);
                let identity = sweep.perturbation.parameter().identity;
                for (l, &value) in sweep.values.iter().enumerate() {
                    if value != identity {
                        jobs.extend(batches(Some((i, l))));
                    }
                }
            }
        }
        if jobs.len() > before
            && let Some(last) = jobs.last_mut()
        {
            last.completes = Some(index);
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
    /// Also returns the images of the report's example grid the batch
    /// holds (see [`Prepared::shown`]).
    fn prepare(
        &self,
        job: &Job,
        spare: &mut Vec<Array4<f32>>,
    ) -> Result<(Input<'a>, Option<Array4<f32>>)> {
        let data: &'a Dataset = self.data;
        let raw = data.images.slice(s![job.start..job.end, .., .., ..]);
        let Some((index, level)) = job.sweep else {
            return Ok((
                if self.as_is(raw.dim()) {
                    Input::Borrowed(raw)
                } else {
                    Input::Owned(self.preprocess.apply(raw, self.target, self.layout)?)
                },
                None,
            ));
        };
        let sweep = self.plan.sweep(index);
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
        let shown = (index < self.plan.sweeps.len() && job.start < EXAMPLES).then(|| {
            buffer
                .slice(s![..job.end.min(EXAMPLES) - job.start, .., .., ..])
                .to_owned()
        });
        if self.as_is(raw.dim()) {
            return Ok((Input::Owned(buffer), shown));
        }
        let prepared = self
            .preprocess
            .apply(buffer.view(), self.target, self.layout)?;
        spare.push(buffer);
        Ok((Input::Owned(prepared), shown))
    }
}

/// A level's value as people write it: `45`, `0.1`, but `1e300`, not three
/// hundred digits, in messages, captions and the grid's column heads.
pub(crate) fn value_text(value: f64) -> String {
    let size = value.abs();
    if size == 0.0 || !size.is_finite() || (1e-4..1e15).contains(&size) {
        value.to_string()
    } else {
        format!("{value:e}")
    }
}

/// A model score that is NaN or infinite, with the example's file (or index)
/// named and what to check: such a score would poison every statistic.
fn non_finite_score(pass: &Pass, job: &Job, example: usize, score: f64) -> Error {
    let named = crate::data::name::describe(pass.data.positions[example], &pass.data.ids[example]);
    let (at, strength) = match job.sweep {
        None => ("on the unperturbed image".to_string(), String::new()),
        Some((sweep, level)) => {
            let sweep = pass.plan.sweep(sweep);
            let at = format!(
                "at {} = {}",
                sweep.perturbation.parameter().name,
                value_text(sweep.values[level])
            );
            // A strength (or fill) that pushes pixels past what float32 or
            // the model holds is as likely as the data.
            let strength = format!(
                ", and whether {} {at} pushes its pixels past what the model takes (a sweep or option value too extreme)",
                sweep.perturbation.name()
            );
            (at, strength)
        }
    };
    Error::data(
        &pass.data.path,
        format!(
            "the model's score for {named} is {score} {at}; check that example's pixels (extreme or saturated values) \
             and its scaling (--scale, --mean, --std: the model may expect other units){strength}"
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
) -> RegressionExtras {
    if !matches!(metric, Metric::Regressor) {
        return RegressionExtras {
            squared_error: None,
            bias: None,
        };
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
    RegressionExtras {
        squared_error: Some(squared),
        bias: Some(bias),
    }
}

fn sweep_result(
    sweep: &Sweep,
    grid: &ScoreGrid,
    reference: &[Scored],
    metric: Metric,
    settings: &Settings,
) -> Result<(TestResult, Vec<[f64; 2]>)> {
    let reference_scores = ndarray::Array1::from_iter(reference.iter().map(|s| s.score));
    let input = PairedScores {
        values: &sweep.values,
        scores: grid.score.view(),
        correct: matches!(metric, Metric::Classifier(_)).then_some(grid.correct.view()),
        reference: reference_scores.view(),
    };
    let (stats, band) = stats::paired_with_band(&input, metric.direction(), settings)?;
    let errors = grid
        .error
        .iter()
        .flat_map(|e| e.axis_iter(Axis(1)))
        .map(|level| level.into_iter().copied());
    let RegressionExtras {
        squared_error,
        bias,
    } = regression_extras(metric, errors);
    let parameter = sweep.perturbation.parameter();
    let result = TestResult {
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
        level_examples: Vec::new(),
        shown: Vec::new(),
        scores: ExampleScores::Paired {
            scores: grid.score.clone(),
            reference: reference_scores,
        },
        grid: None,
    };
    Ok((result, band))
}

/// A group of examples from the unperturbed pass (a property's bin, a class).
struct Members {
    /// Its value: a bin's centre, a discrete value, a class index.
    value: f64,
    /// Its name, when it has one (a class name, a text value).
    label: Option<String>,
    /// A bin's range, (low, high).
    range: Option<(f64, f64)>,
    /// The examples in it, by index.
    members: Vec<usize>,
}

/// A regression test's mean squared error and mean signed error (bias) per
/// level or group; none for classifiers.
struct RegressionExtras {
    squared_error: Option<Vec<f64>>,
    bias: Option<Vec<f64>>,
}

/// A group test's statistics, its regression extras, and the scores of each
/// group's examples.
struct GroupedStats {
    stats: TestStats,
    extras: RegressionExtras,
    scores: ExampleScores,
}

/// Statistics of groups of examples from the unperturbed pass, with the
/// regression extras per group.
fn grouped_stats(
    groups: &[Members],
    ordered: bool,
    reference: &[Scored],
    metric: Metric,
    settings: &Settings,
) -> Result<GroupedStats> {
    let scores: Vec<Vec<f64>> = groups
        .iter()
        .map(|g| g.members.iter().map(|&i| reference[i].score).collect())
        .collect();
    let correct: Vec<Vec<bool>> = groups
        .iter()
        .map(|g| g.members.iter().map(|&i| reference[i].correct).collect())
        .collect();
    let classifier = matches!(metric, Metric::Classifier(_));
    let input: Vec<Group> = groups
        .iter()
        .enumerate()
        .map(|(j, g)| Group {
            value: g.value,
            label: g.label.clone(),
            range: g.range,
            scores: &scores[j],
            correct: classifier.then_some(correct[j].as_slice()),
        })
        .collect();
    let stats = stats::grouped(&input, metric.direction(), settings, ordered)?;
    let errors = groups
        .iter()
        .map(|g| g.members.iter().map(|&i| reference[i].error));
    Ok(GroupedStats {
        stats,
        extras: regression_extras(metric, errors),
        scores: ExampleScores::Groups(scores),
    })
}

fn property_result(
    property: &PropertyTest,
    data: &Dataset,
    reference: &[Scored],
    metric: Metric,
    settings: &Settings,
) -> Result<TestResult> {
    let metadata = data.metadata.as_ref().expect("checked before the run");
    let bins = metadata.groups(&property.column, property.binning)?;
    let binned: usize = bins.iter().map(|b| b.members.len()).sum();
    let groups: Vec<Members> = bins
        .into_iter()
        .map(|b| Members {
            value: b.value,
            label: b.label,
            range: (b.lo != b.hi).then_some((b.lo, b.hi)),
            members: b.members,
        })
        .collect();
    // Text values ('lens', 'ring') have no axis: their groups, like
    // classes', get no slope, threshold crossing or range change along
    // their alphabetical order.
    let ordered = groups.iter().all(|g| g.label.is_none());
    let GroupedStats {
        stats,
        extras,
        scores,
    } = grouped_stats(&groups, ordered, reference, metric, settings)?;
    Ok(TestResult {
        name: property.name.clone(),
        kind: TestKind::Property,
        parameter: property.column.clone(),
        unit: "metadata value".into(),
        identity: None,
        options: BTreeMap::from([("bins".to_string(), property.binning.to_string())]),
        metric: metric.name(),
        missing: Some(data.len() - binned),
        stats,
        squared_error: extras.squared_error,
        bias: extras.bias,
        group_examples: first_of_each(data, &groups),
        level_examples: Vec::new(),
        shown: names_of_each(data, &groups),
        scores,
        grid: None,
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
        .map(|(c, m)| Members {
            value: c as f64,
            label: data
                .class_names
                .as_ref()
                .and_then(|names| names.get(c).cloned()),
            range: None,
            members: m,
        })
        .collect();
    let GroupedStats {
        stats,
        extras,
        scores,
    } = grouped_stats(&groups, false, reference, metric, settings)?;
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
        squared_error: extras.squared_error,
        bias: extras.bias,
        group_examples: first_of_each(data, &groups),
        level_examples: Vec::new(),
        shown: names_of_each(data, &groups),
        scores,
        grid: None,
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
        .map(|g| &g.members[..g.members.len().min(EXAMPLES)])
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
