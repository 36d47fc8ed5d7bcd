//! Partial scores, saved as a run goes so that `--resume` continues a run
//! cut short (a wall-time limit, a pre-empted node, SIGKILL) instead of
//! starting over.
//!
//! The work of a run is cut into units: one test (the unperturbed pass, or
//! every level of one sweep) on one chunk of examples. When a unit's last
//! batch is scored, its scores go to `scores/partial/<test>-<first
//! example>.npy` (float64, score / correct as 0 or 1 / error planes x
//! examples x levels) through an atomic rename, so a file that exists is
//! whole. `scores/partial/run.json` says which run and slice they belong to;
//! a resumed run with another fingerprint is refused. Once the run's scores
//! are saved whole, the folder is removed.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use ndarray::{Array3, s};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use serde::{Deserialize, Serialize};

use super::score::ScoreGrid;
use super::scores::SCORES;
use crate::output::write_atomic;
use crate::{Error, Result};

/// Which run and slice a partial folder holds.
#[derive(Serialize, Deserialize, PartialEq)]
struct Stamp {
    fingerprint: String,
    start: usize,
    end: usize,
}

/// One saved unit's scores: score, correct and error planes, examples x levels.
pub(super) type Unit = Array3<f64>;

/// The partial scores of one run in its output directory.
pub(super) struct Checkpoint {
    dir: PathBuf,
    /// Units saved by an earlier, interrupted run: by test file and first example.
    saved: BTreeMap<(String, usize), Unit>,
}

impl Checkpoint {
    /// Starts saving partial scores in `out`. Without `resume`, scores an
    /// earlier run left there are removed first; with it, the partial
    /// scores of the same run and slice are read back. A `scores/` folder
    /// without sensie's stamp ([`stamped`]) is the user's: it is refused by
    /// name, never removed or written into.
    pub fn open(
        out: &Path,
        fingerprint: &str,
        slice: &Range<usize>,
        resume: bool,
    ) -> Result<Checkpoint> {
        let scores = out.join(SCORES);
        let dir = scores.join("partial");
        let stamp = Stamp {
            fingerprint: fingerprint.to_string(),
            start: slice.start,
            end: slice.end,
        };
        let mut saved = BTreeMap::new();
        let found = if resume { read_stamp(&dir)? } else { None };
        match found {
            Some(found) if found != stamp => {
                return Err(Error::data(
                    out,
                    format!(
                        "holds partial scores of another run or shard (fingerprint {}, examples {}..{}; this run is {} on {}..{}): \
                         pass --force instead of --resume to start over, or choose another --out",
                        found.fingerprint,
                        found.start,
                        found.end,
                        fingerprint,
                        slice.start,
                        slice.end
                    ),
                ));
            }
            Some(_) => saved = read_units(&dir)?,
            None if scores.exists() => {
                if !stamped(&scores) {
                    return Err(Error::data(
                        &scores,
                        "this folder holds no sensie scores (no run.json or partial/run.json of sensie's), \
                         and the run would write its scores into it: move it away or choose another --out",
                    ));
                }
                std::fs::remove_dir_all(&scores).map_err(|e| Error::io(&scores, e))?;
            }
            None => {}
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let json =
            serde_json::to_vec(&stamp).map_err(|e| Error::invalid("scores", e.to_string()))?;
        write_atomic(&dir.join("run.json"), &json)?;
        Ok(Checkpoint { dir, saved })
    }

    /// The saved scores of `test`'s unit starting at example `first`, if any.
    pub fn take(&mut self, test: &str, first: usize) -> Option<Unit> {
        self.saved.remove(&(test.to_string(), first))
    }

    /// Saves rows `rows` (of the slice) of `grid` as `test`'s unit starting at example `first`.
    pub fn save(
        &self,
        test: &str,
        first: usize,
        grid: &ScoreGrid,
        rows: Range<usize>,
    ) -> Result<()> {
        let (n, levels) = (rows.len(), grid.score.ncols());
        let mut unit = Unit::zeros((3, n, levels));
        unit.slice_mut(s![0, .., ..])
            .assign(&grid.score.slice(s![rows.clone(), ..]));
        unit.slice_mut(s![1, .., ..]).assign(
            &grid
                .correct
                .slice(s![rows.clone(), ..])
                .mapv(|c| f64::from(u8::from(c))),
        );
        if let Some(error) = &grid.error {
            unit.slice_mut(s![2, .., ..])
                .assign(&error.slice(s![rows, ..]));
        }
        let mut bytes = Vec::new();
        unit.write_npy(&mut bytes)
            .map_err(|e| Error::invalid("partial scores", e.to_string()))?;
        write_atomic(&self.dir.join(format!("{test}-{first}.npy")), &bytes)
    }

    /// Removes the partial scores once the whole scores are saved.
    pub fn finish(self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }

    /// After a run that failed: removes the partial folder if it holds no
    /// unit (the run failed before its first was scored, say on a setting
    /// the model cannot take), and `scores/` if that leaves it empty, so
    /// the run, corrected, can be started again in the same directory
    /// without `--force`. Units, once saved, stay for `--resume`. Best
    /// effort: the run's own error is what the user needs to see.
    pub fn abandon(self) {
        let units = std::fs::read_dir(&self.dir).map(|entries| {
            entries
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "npy"))
        });
        if let Ok(false) = units {
            let _ = std::fs::remove_dir_all(&self.dir);
            if let Some(scores) = self.dir.parent() {
                let _ = std::fs::remove_dir(scores);
            }
        }
    }
}

/// Whether the folder `scores` is sensie's: it holds the stamp of a
/// finished run (`run.json`) or of an interrupted one (`partial/run.json`),
/// each a JSON object with the run's fingerprint. A folder the user happens
/// to call `scores` has neither, and a forced run must not delete it.
pub(super) fn stamped(scores: &Path) -> bool {
    [
        scores.join("run.json"),
        scores.join("partial").join("run.json"),
    ]
    .iter()
    .any(|path| {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .is_some_and(|json| json.get("fingerprint").is_some_and(|f| f.is_string()))
    })
}

/// Puts a saved unit back into rows `rows` of `grid`.
pub(super) fn restore(unit: &Unit, grid: &mut ScoreGrid, rows: Range<usize>) -> Result<()> {
    let (n, levels) = (rows.len(), grid.score.ncols());
    if unit.dim() != (3, n, levels) {
        return Err(Error::invalid(
            "partial scores",
            format!(
                "a saved chunk has shape {:?}, not (3, {n}, {levels}): the interrupted run cut its examples into chunks of \
                 another size; resume with the --chunk it was started with, or pass --force to start over",
                unit.shape()
            ),
        ));
    }
    grid.score
        .slice_mut(s![rows.clone(), ..])
        .assign(&unit.slice(s![0, .., ..]));
    grid.correct
        .slice_mut(s![rows.clone(), ..])
        .assign(&unit.slice(s![1, .., ..]).mapv(|c| c != 0.0));
    if let Some(error) = &mut grid.error {
        error
            .slice_mut(s![rows, ..])
            .assign(&unit.slice(s![2, .., ..]));
    }
    Ok(())
}

fn read_stamp(dir: &Path) -> Result<Option<Stamp>> {
    let path = dir.join("run.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| {
                Error::data(
                    &path,
                    format!(
                        "not sensie's partial scores ({e}), so there is nothing to resume: pass --force instead of --resume \
                         to start over, or choose another --out"
                    ),
                )
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Every `<test>-<first>.npy` in `dir` (temporary files of a write cut short are ignored).
fn read_units(dir: &Path) -> Result<BTreeMap<(String, usize), Unit>> {
    let mut units = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let Some(key) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".npy"))
            .and_then(|n| n.rsplit_once('-'))
            .and_then(|(test, first)| Some((test.to_string(), first.parse().ok()?)))
        else {
            continue;
        };
        let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let unit = Unit::read_npy(std::io::BufReader::new(file)).map_err(|e| {
            Error::data(
                &path,
                format!(
                    "{}; pass --force to start over",
                    super::scores::unreadable(e, "partial scores")
                ),
            )
        })?;
        units.insert(key, unit);
    }
    Ok(units)
}
