//! `sensie probe`: flags and `--config probe.toml` fill one
//! [`ProbeConfig`]; flags given on the command line override the file's
//! values, and add to its lists of tests.

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use sensie::data::Task;
use sensie::output;
use sensie::probe::{self, ProbeConfig, PropertySpec, Report, SCORES, Shard, SweepSpec};
use sensie::{Error, Result};

use sensie::limits::{MAX_REPLICATES, MAX_THREADS};

use crate::data_args::{DataArgs, count, finite};

#[derive(clap::Args)]
pub struct Args {
    /// A probe.toml holding any of these settings, plus per-perturbation options.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The ONNX model.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Data and preprocessing.
    #[command(flatten)]
    input: DataArgs,
    /// auto, classify or regress.
    #[arg(long, value_parser = Task::parse)]
    task: Option<Task>,
    /// A perturbation sweep NAME=a:b:n or NAME=v1,v2,...; repeat for several.
    #[arg(long, allow_hyphen_values = true)]
    perturb: Vec<String>,
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
    /// ONNX Runtime threads per operator (0: every core, and a quarter of them perturbing beside it).
    #[arg(long, value_parser = count("threads", 0, MAX_THREADS))]
    threads: Option<usize>,
    #[arg(long)]
    seed: Option<u64>,
    /// Bootstrap replicates for every interval.
    #[arg(long, value_parser = count("replicates", 1, MAX_REPLICATES))]
    replicates: Option<usize>,
    /// The score whose crossing each test reports (default: halfway between best and worst level).
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

/// The config file's settings with the command line's on top.
fn merge(args: Args) -> Result<(ProbeConfig, bool)> {
    let mut c = match &args.config {
        Some(path) => ProbeConfig::read(path)?,
        None => ProbeConfig::default(),
    };
    set(&mut c.model, args.model);
    set(&mut c.out, args.out);
    args.input.merge(&mut c.data, &mut c.preprocess);
    set(&mut c.data.task, args.task);
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
    c.property
        .extend(args.property.iter().map(|p| PropertySpec::parse(p)));
    if c.model.as_os_str().is_empty() {
        return Err(Error::InvalidInput {
            what: "model".into(),
            reason: "none given (--model, or model in the config)".into(),
        });
    }
    Ok((c, args.quiet))
}

pub fn run(args: Args) -> Result<()> {
    let config_file = args.config.clone();
    let (config, quiet) = merge(args)?;
    let d = &config.data;
    let mut inputs = vec![config.model.as_path(), d.path.as_path()];
    inputs.extend(
        d.labels
            .as_deref()
            .into_iter()
            .chain(d.metadata.as_deref())
            .chain(config_file.as_deref()),
    );
    let out = if config.resume {
        output::resume(&config.out, &inputs, &[SCORES])?
    } else {
        output::prepare(&config.out, config.force, &inputs)?
    };
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
    if let Some(shard) = config.shard {
        let run = probe::execute_part(&config, &mut progress);
        bar.finish_and_clear();
        let run = run?;
        out.finish()?;
        println!(
            "wrote {} (shard {shard}: examples {}..{} of {}); join the parts with sensie merge PART... --out DIR",
            config.out.join(SCORES).display(),
            run.start,
            run.end,
            run.examples
        );
        return Ok(());
    }
    let report = probe::execute(&config, &mut progress);
    bar.finish_and_clear();
    let report = report?;
    let notes = probe::write_report(&config.out, &report, &config, &command_line())?;
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
