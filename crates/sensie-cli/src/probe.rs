//! `sensie probe`: flags and `--config probe.toml` fill one
//! [`ProbeConfig`]; flags given on the command line override the file's
//! values, and add to its lists of tests.

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use sensie::data::Task;
use sensie::probe::{
    self, GridSpec, NamedModel, ProbeConfig, PropertySpec, Report, SCORES, Shard, SweepSpec,
};
use sensie::{Error, Result};

use sensie::limits::{MAX_REPLICATES, MAX_THREADS};

use crate::data_args::{DataArgs, count, finite};

#[derive(clap::Args)]
pub struct Args {
    /// A probe.toml holding any of these settings, plus per-perturbation options.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The ONNX model; NAME=PATH, repeated, names models to compare on the same data.
    #[arg(long)]
    model: Vec<String>,
    /// Data and preprocessing.
    #[command(flatten)]
    input: DataArgs,
    /// auto, classify or regress.
    #[arg(long, value_parser = Task::parse)]
    task: Option<Task>,
    /// A perturbation sweep NAME=a:b:n or NAME=v1,v2,...; repeat for several.
    #[arg(long, allow_hyphen_values = true)]
    perturb: Vec<String>,
    /// Two perturbations varied jointly over a grid, applied in this order:
    /// NAME=SPEC,NAME=SPEC, e.g. rotate=0:90:7,blur=0:2:5; repeat for several.
    #[arg(long, allow_hyphen_values = true)]
    grid: Vec<String>,
    /// A property test on a metadata column: COLUMN or COLUMN=BINS (10, q10, discrete, auto).
    #[arg(long)]
    property: Vec<String>,
    /// Test how the score differs between classes.
    #[arg(long)]
    classes: bool,
    /// What the model outputs, if detection is wrong: logits, probabilities, log-probabilities, sigmoid.
    #[arg(long)]
    output_kind: Option<String>,
    #[arg(long)]
    batch_size: Option<usize>,
    /// At most this many threads: a worker per thread (up to 8), each perturbing and running its own batches (0: every core).
    #[arg(long, value_parser = count("threads", 0, MAX_THREADS))]
    threads: Option<usize>,
    #[arg(long)]
    seed: Option<u64>,
    /// Bootstrap replicates for every interval.
    #[arg(long, value_parser = count("replicates", 1, MAX_REPLICATES))]
    replicates: Option<usize>,
    /// The score whose crossing each test reports, in the score's range: a probability (0 to 1) for a classifier, an absolute error (0 or more) for a regressor (default: halfway between best and worst level).
    #[arg(long, value_parser = finite::<f64>, allow_hyphen_values = true)]
    threshold: Option<f64>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Where results.json, results.csv, plots/, examples/ and report.html go.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overwrite results already in --out.
    #[arg(long)]
    force: bool,
    /// Score only the K-th of N contiguous slices of the examples (from 0) and
    /// write its scores for `sensie merge`, e.g. --shard 0/4.
    #[arg(long, value_parser = |s: &str| Shard::parse(s))]
    shard: Option<Shard>,
    /// Continue an interrupted run from the partial scores in --out.
    #[arg(long, conflicts_with = "force")]
    resume: bool,
    /// Examples per saved chunk of partial scores (what an interrupted run can lose, per test).
    #[arg(long, value_parser = count("chunk", 1, usize::MAX))]
    chunk: Option<usize>,
}

/// Replaces the file's value with the command line's, when given.
fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

fn some<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

/// `--model PATH` replaces the config's model; `--model NAME=PATH`
/// (repeated) adds a model to compare, or replaces the path of the config's
/// `[[model]]` of that name.
fn merge_models(c: &mut ProbeConfig, models: &[String]) -> Result<()> {
    for text in models {
        match text.split_once('=').filter(|(name, _)| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        }) {
            Some((name, path)) => match c.models.iter_mut().find(|m| m.name == name) {
                Some(model) => model.path = PathBuf::from(path),
                None => c.models.push(NamedModel {
                    name: name.to_string(),
                    path: PathBuf::from(path),
                }),
            },
            None if models.len() > 1 => {
                return Err(Error::invalid(
                    format!("--model {text}"),
                    "to compare models, name each: --model NAME=PATH",
                ));
            }
            None => c.model = PathBuf::from(text),
        }
    }
    Ok(())
}

/// The config file's settings with the command line's on top.
fn merge(args: Args) -> Result<(ProbeConfig, bool)> {
    let mut c = match &args.config {
        Some(path) => ProbeConfig::read(path)?,
        None => ProbeConfig::default(),
    };
    merge_models(&mut c, &args.model)?;
    set(&mut c.out, args.out);
    c.sets = args
        .input
        .merge_named(&mut c.data, &mut c.sets, &mut c.preprocess)?;
    // The task is one for the run: every named set is scored alike, so
    // that their effects are differences of one score.
    if let Some(task) = args.task {
        c.data.task = task;
        c.sets.iter_mut().for_each(|s| s.spec.task = task);
    }
    set(&mut c.batch_size, args.batch_size);
    set(&mut c.threads, args.threads);
    set(&mut c.seed, args.seed);
    set(&mut c.replicates, args.replicates);
    some(&mut c.output_kind, args.output_kind);
    some(&mut c.threshold, args.threshold);
    c.classes |= args.classes;
    c.force |= args.force;
    c.resume |= args.resume;
    some(&mut c.shard, args.shard);
    set(&mut c.chunk, args.chunk);
    for p in &args.perturb {
        c.perturb.push(SweepSpec::parse(p)?);
    }
    for g in &args.grid {
        c.grid.push(GridSpec::parse(g)?);
    }
    c.property
        .extend(args.property.iter().map(|p| PropertySpec::parse(p)));
    if c.model.as_os_str().is_empty() && c.models.is_empty() {
        return Err(Error::invalid(
            "model",
            "none given (--model, or model in the config)",
        ));
    }
    Ok((c, args.quiet))
}

pub fn run(args: Args) -> Result<()> {
    // The report's fonts load on a core the start-up leaves idle (the data
    // and ONNX Runtime load on one each, then wait for each other).
    std::thread::spawn(sensie::render::load_fonts);
    let config_file = args.config.clone();
    let (config, quiet) = merge(args)?;
    let arms = probe::arms(&config)?;
    if arms.is_some() && (config.shard.is_some() || config.resume) {
        return Err(Error::invalid(
            "--shard / --resume",
            "a run comparing named data sets or models runs whole; shard or resume each one as a run of its own, then sensie compare their folders",
        ));
    }
    let configs: Vec<&ProbeConfig> = match &arms {
        Some((_, arms)) => arms.iter().map(|a| &a.config).collect(),
        None => vec![&config],
    };
    let mut inputs: Vec<&std::path::Path> = config_file.as_deref().into_iter().collect();
    for c in &configs {
        let d = &c.data;
        inputs.extend([c.model.as_path(), d.path.as_path()]);
        inputs.extend(d.labels.as_deref().into_iter().chain(d.metadata.as_deref()));
    }
    let folders: Vec<&str> = match &arms {
        Some((_, arms)) => arms.iter().map(|a| a.name.as_str()).collect(),
        None => Vec::new(),
    };
    let out = probe::prepare_out(&config, &inputs, &folders)?;
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} batches, {eta} left")
            .expect("a valid template"),
    );
    let mut progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    if let Some((compared, arms)) = &arms {
        let result = probe::execute_comparison(&config, *compared, arms, &mut progress);
        bar.finish_and_clear();
        let (comparison, reports) = result?;
        let mut notes = Vec::new();
        for (arm, report) in arms.iter().zip(&reports) {
            notes = probe::write_report(&arm.config.out, report, &command_line())?;
        }
        notes.extend(probe::write_comparison_report(
            &config.out,
            &comparison,
            &reports,
            &command_line(),
        )?);
        out.finish()?;
        print_comparison(&comparison);
        notes.dedup();
        for note in notes {
            eprintln!("note: {note}");
        }
        for (arm, report) in arms.iter().zip(&reports) {
            for warning in &report.warnings {
                eprintln!("WARNING: {}: {warning}", arm.name);
            }
        }
        println!(
            "wrote {} (results.json, results.csv, plots/, and each run's folder)",
            config.out.join("report.html").display()
        );
        return Ok(());
    }
    if let Some(shard) = config.shard {
        let run = probe::execute_part(&config, &mut progress);
        bar.finish_and_clear();
        let run = run?;
        out.finish()?;
        let held = if run.start == run.end {
            format!(
                "no examples: the run's {} examples make fewer batches of {} than shards",
                run.examples, config.batch_size
            )
        } else {
            format!("examples {}..{} of {}", run.start, run.end, run.examples)
        };
        println!(
            "wrote {} (shard {shard}: {held}); join the parts with sensie merge PART... --out DIR",
            config.out.join(SCORES).display(),
        );
        return Ok(());
    }
    let report = probe::execute(&config, &mut progress);
    bar.finish_and_clear();
    let report = report?;
    let notes = probe::write_report(&config.out, &report, &command_line())?;
    out.finish()?;
    summarise(&report, &notes, &config.out);
    Ok(())
}

/// Prints each test's verdict, the notes and warnings, and where the report is.
pub fn summarise(report: &Report, notes: &[String], out: &std::path::Path) {
    println!("{:<24} {:<8} {:>8}  levels", "test", "verdict", "effect");
    for t in &report.tests {
        println!(
            "{:<24} {:<8} {:>8.3}  {}",
            t.name,
            probe::word(t.stats.verdict),
            t.stats.effect.size,
            t.stats.levels.len()
        );
    }
    for note in notes {
        eprintln!("note: {note}");
    }
    if let Some(classes) = report
        .data
        .classes
        .as_ref()
        .filter(|c| c.source != "sorted")
    {
        eprintln!("note: {classes}");
    }
    for warning in &report.warnings {
        eprintln!("WARNING: {warning}");
    }
    if !report.data.skipped.is_empty() {
        eprintln!(
            "note: {} example(s) with NaN or infinite pixels were left out",
            report.data.skipped.len()
        );
    }
    println!(
        "wrote {} (results.json, results.csv, scores/, plots/, examples/)",
        out.join("report.html").display()
    );
}

/// The comparison's table on the terminal: each test's verdict per run and
/// the difference's largest value and verdict.
pub fn print_comparison(comparison: &probe::Comparison) {
    println!(
        "{:<24} {:<36} {:>8}  difference verdict",
        "test", "verdicts", "largest"
    );
    for t in &comparison.tests {
        let verdicts = t
            .sets
            .iter()
            .chain(&t.models)
            .flatten()
            .map(|(name, r)| format!("{name}:{}", probe::word(r.verdict)))
            .collect::<Vec<_>>()
            .join(" ");
        for d in t.difference.all() {
            println!(
                "{:<24} {:<36} {:>8.3}  {} ({} - {})",
                t.name,
                verdicts,
                d.largest.value,
                probe::word(d.verdict),
                d.between[1],
                d.between[0]
            );
        }
    }
}

/// This run's command line, for the report, with arguments that hold spaces quoted.
pub fn command_line() -> String {
    let quote = |a: String| {
        if a.contains(char::is_whitespace) {
            format!("'{a}'")
        } else {
            a
        }
    };
    std::env::args().map(quote).collect::<Vec<_>>().join(" ")
}
