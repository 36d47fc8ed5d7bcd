//! `sensie compare`: the overlay and differences of finished probe runs,
//! read from their output directories (their `scores/`), as `sensie probe`
//! writes them for named data sets or models in one run.

use std::path::{Path, PathBuf};

use sensie::Result;
use sensie::output;
use sensie::probe;

use crate::flags::OutFlags;
use crate::probe::{command_line, print_comparison};

#[derive(clap::Args)]
pub struct Args {
    /// The output directories of two or more finished `sensie probe` runs of the same tests.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    // --out: where results.json, results.csv, plots/ and report.html go.
    #[command(flatten)]
    output: OutFlags,
}

pub fn run(args: Args) -> Result<()> {
    let inputs: Vec<&Path> = args.runs.iter().map(PathBuf::as_path).collect();
    // --force replaces an earlier run's outputs, never a file of the user's
    // that has one of their names.
    let out = output::prepare(&args.output.out, args.output.force, &inputs)?
        .claim(&probe::COMPARISON_OUTPUTS, |_| false)?;
    let dir = &args.output.out;
    let (comparison, reports) = probe::compare_dirs(&args.runs, dir)?;
    let notes = probe::write_comparison_report(dir, &comparison, &reports, &command_line())?;
    out.finish()?;
    print_comparison(&comparison);
    for note in notes {
        eprintln!("note: {note}");
    }
    println!(
        "wrote {} (results.json, results.csv, plots/)",
        dir.join("report.html").display()
    );
    Ok(())
}
