//! `sensie merge`: joins the parts of a sharded probe run (`sensie probe
//! --shard K/N --out part-K`) into the run's results, exactly as one
//! unsharded run would have written them.

use std::path::{Path, PathBuf};

use sensie::Result;
use sensie::output;
use sensie::probe;

use crate::flags::OutFlags;
use crate::probe::{command_line, summarise};

#[derive(clap::Args)]
pub struct Args {
    /// The output directories of every shard of one run, in any order.
    #[arg(required = true)]
    parts: Vec<PathBuf>,
    // --out: where results.json, results.csv, scores/, plots/, examples/ and report.html go.
    #[command(flatten)]
    output: OutFlags,
}

pub fn run(args: Args) -> Result<()> {
    let inputs: Vec<&Path> = args.parts.iter().map(PathBuf::as_path).collect();
    let out = output::prepare(&args.output.out, args.output.force, &inputs)?
        .claim(&probe::OUTPUTS, probe::stamped_scores)?;
    let report = probe::merge(&args.parts, &args.output.out)?;
    let notes = probe::write_report(&args.output.out, &report, &command_line())?;
    out.finish()?;
    summarise(&report, &notes, &args.output.out);
    Ok(())
}
