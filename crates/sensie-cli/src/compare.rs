//! `sensie compare`: the overlay and differences of finished probe runs,
//! read from their output directories (their `scores/`), as `sensie probe`
//! writes them for named data sets or models in one run.

use std::path::{Path, PathBuf};

use sensie::Result;
use sensie::output;
use sensie::probe;

use crate::probe::{command_line, print_comparison};

#[derive(clap::Args)]
pub struct Args {
    /// The output directories of two or more finished `sensie probe` runs of the same tests.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Where results.json, results.csv, plots/ and report.html go.
    #[arg(long)]
    out: PathBuf,
    /// Overwrite results already in --out.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> Result<()> {
    let inputs: Vec<&Path> = args.runs.iter().map(PathBuf::as_path).collect();
    let out = output::prepare(&args.out, args.force, &inputs)?;
    let (comparison, reports) = probe::compare_dirs(&args.runs, &args.out)?;
    let notes = probe::write_comparison_report(&args.out, &comparison, &reports, &command_line())?;
    out.finish()?;
    print_comparison(&comparison);
    for note in notes {
        eprintln!("note: {note}");
    }
    println!(
        "wrote {} (results.json, results.csv, plots/)",
        args.out.join("report.html").display()
    );
    Ok(())
}
