//! Sharded probe runs for `sensie.distributed`: a worker scores one shard
//! of a probe config into its part directory, and the client merges the
//! parts, through the library's own shard and merge (what `sensie probe
//! --shard K/N` and `sensie merge` run).

use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use sensie::output;
use sensie::probe::{self, ProbeConfig, Shard};

use crate::error;
use crate::probe::Run;

/// Scores shard `index` of `count` of the probe config `config` (JSON, the
/// CLI's keys; `out` is the part's directory), continuing from partial
/// scores an earlier attempt left there. Returns the examples it scored
/// (first, one past the last).
#[pyfunction]
pub fn probe_shard(
    py: Python<'_>,
    config: &str,
    index: usize,
    count: usize,
) -> PyResult<(usize, usize)> {
    let mut config: ProbeConfig = serde_json::from_str(config).map_err(|e| {
        pyo3::exceptions::PyValueError::new_err(format!("not a valid probe config: {e}"))
    })?;
    config.shard = Some(Shard { index, count });
    config.resume = true;
    let inputs = [config.model.as_path(), config.data.path.as_path()];
    let run = py
        .detach(|| {
            // As `sensie probe --resume`: continue the scores an earlier
            // attempt left, else start afresh in an empty folder.
            let out = probe::prepare_out(&config, &inputs, &[])?;
            let run = probe::execute_part(&config, &mut |_, _| {})?;
            out.finish()?;
            Ok(run)
        })
        .map_err(error)?;
    Ok((run.start, run.end))
}

/// Merges the parts (shards' directories) of one run into `out`: scores,
/// results.json, results.csv, plots/, examples/ and report.html, as `sensie
/// merge` writes them. Returns the run's results.
#[pyfunction]
pub fn probe_merge(
    py: Python<'_>,
    parts: Vec<PathBuf>,
    out: PathBuf,
    force: bool,
) -> PyResult<Run> {
    let report = py
        .detach(|| {
            let inputs: Vec<&Path> = parts.iter().map(PathBuf::as_path).collect();
            let dir = output::prepare(&out, force, &inputs)?
                .claim(&probe::OUTPUTS, probe::stamped_scores)?;
            let report = probe::merge(&parts, &out)?;
            probe::write_report(&out, &report, "sensie.distributed.probe_on_dask")?;
            dir.finish()?;
            Ok(report)
        })
        .map_err(error)?;
    Ok(Run { report })
}
