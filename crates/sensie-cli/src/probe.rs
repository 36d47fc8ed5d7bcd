//! `sensie probe`: flags and `--config probe.toml` fill one
//! [`ProbeConfig`]; flags given on the command line override the file's
//! values, and add to its lists of tests.

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use sensie::data::Task;
use sensie::output;
use sensie::probe::{self, ProbeConfig, PropertySpec, SweepSpec};
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
    let out = output::prepare(&config.out, config.force, &inputs)?;
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} batches, {eta} left")
            .expect("a valid template"),
    );
    let report = probe::execute(&config, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let report = report?;
    let notes = probe::write_report(&config.out, &report, &config, &command_line())?;
    out.finish()?;
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
        "wrote {} (results.json, results.csv, plots/, examples/)",
        config.out.join("report.html").display()
    );
    Ok(())
}

/// This run's command line, for the report, with arguments that hold spaces quoted.
fn command_line() -> String {
    let quote = |a: String| {
        if a.contains(char::is_whitespace) {
            format!("'{a}'")
        } else {
            a
        }
    };
    std::env::args().map(quote).collect::<Vec<_>>().join(" ")
}
