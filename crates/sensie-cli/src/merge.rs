//! `sensie merge`: joins the parts of a sharded probe run (`sensie probe
//! --shard K/N --out part-K`) into the run's results, exactly as one
//! unsharded run would have written them.

use std::path::{Path, PathBuf};

use sensie::Result;
use sensie::output;
use sensie::probe;

use crate::probe::{command_line, summarise};

#[derive(clap::Args)]
pub struct Args {
    /// The output directories of every shard of one run, in any order.
    #[arg(required = true)]
    parts: Vec<PathBuf>,
    /// Where results.json, results.csv, scores/, plots/, examples/ and report.html go.
    #[arg(long)]
    out: PathBuf,
    /// Overwrite results already in --out.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> Result<()> {
    let inputs: Vec<&Path> = args.parts.iter().map(PathBuf::as_path).collect();
    let out = output::prepare(&args.out, args.force, &inputs)?;
    let report = probe::merge(&args.parts, &args.out)?;
    let notes = probe::write_report(&args.out, &report, &command_line())?;
    out.finish()?;
    summarise(&report, &notes, &args.out);
    Ok(())
}
