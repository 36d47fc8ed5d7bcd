//! A run's per-example measurements: the value [`super::run`] returns, what
//! the statistics read, what a shard hands to `sensie merge`, and what every
//! probe keeps on disk beside results.json so that other tools (`sensie
//! compare`, a notebook) can pair two runs example by example.
//!
//! # The `scores/` folder of an output directory
//!
//! ```text
//! scores/run.json              what the arrays are (below); written last
//! scores/positions.npy         uint64 [n]: each example's index in the data as read
//!                              (before --only and --skip-bad left examples out)
//! scores/<file>.score.npy      float64 [n, levels]: correct-class probability
//!                              (classifiers) or absolute error (regression)
//! scores/<file>.correct.npy    bool [n, levels]: top class = label (classifiers only)
//! scores/<file>.error.npy      float64 [n, levels]: prediction - target (regression only)
//! scores/<file>.shown.npy      float32 [levels, k, c, h, w]: the report's example grid, the
//!                              run's first k examples (at most 4) at each level, as perturbed
//!                              (sweeps whose part holds any of the first examples only)
//! ```
//!
//! `<file>` is `reference` for the unperturbed pass (one level) and
//! `sweep-<i>` for the i-th perturbation sweep; rows are examples in the
//! run's order, columns the sweep's levels in the order of `values`.
//! run.json holds `format` (1), `sensie_version`, `fingerprint`,
//! `examples` (in the whole run), `start` and `end` (the slice these rows
//! are, `0` and `examples` unless the run was one shard), `metric`,
//! `output_kind` (classifiers), `tests` (`name`, `file`, `values` each, and
//! `shown`, the k of its example images, when it has any), the run's
//! `config` (paths made absolute) and `given` (the model and data paths as
//! given, which results.json names). A classifier keeps 9 bytes per example and level, a
//! regression model 17.
//!
//! The fingerprint identifies what the numbers depend on: the model's
//! bytes, the examples as loaded (images, labels, positions, names), the
//! metadata file, the seed and every setting except where results go and
//! how the work is split. Parts with the same fingerprint can be merged.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array4, Array5, Axis, concatenate, stack};
use ndarray_npy::{ReadNpyExt, WritableElement, WriteNpyExt};
use serde::{Deserialize, Serialize};

use super::ProbeConfig;
use super::score::{Metric, ScoreGrid, Scored};
use crate::model::OutputKind;
use crate::output::write_atomic;
use crate::{Error, Result};

/// The folder of an output directory that holds a run's scores.
pub const SCORES: &str = "scores";

/// The version of the `scores/` layout, raised when a reader would misread it.
const FORMAT: u32 = 1;

/// Every measured example's scores at every level of every sweep, and its
/// unperturbed score, for one run or one shard of it. Plain data:
/// [`ProbeRun::save`] writes it as `scores/` (numpy reads it), and it
/// serialises whole (serde) for callers that carry it elsewhere.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeRun {
    /// The run's settings (paths absolute), from which `sensie merge`
    /// recomputes the statistics.
    pub config: ProbeConfig,
    /// See the module's documentation.
    pub fingerprint: String,
    /// Examples in the whole run.
    pub examples: usize,
    /// The first example measured here, and one past the last.
    pub start: usize,
    /// One past the last example measured here.
    pub end: usize,
    /// Each measured example's index in the data as read.
    pub positions: Vec<usize>,
    /// How every example is scored.
    pub metric: Metric,
    /// The unperturbed pass (examples x 1).
    pub reference: ScoreGrid,
    /// The tests' scores, in the config's order.
    pub sweeps: Vec<SweepScores>,
    /// The model and data paths as the run was given them, before they were
    /// made absolute: what results.json names, so that a merge of shards
    /// writes the unsharded run's results.json byte for byte.
    pub given: GivenPaths,
}

/// A run's model and data paths as the user gave them (on the command line,
/// or in a config file relative to its folder).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GivenPaths {
    /// The model file.
    pub model: PathBuf,
    /// The data file or folder.
    pub data: PathBuf,
}

impl GivenPaths {
    /// The paths `config` names.
    pub fn of(config: &ProbeConfig) -> GivenPaths {
        GivenPaths {
            model: config.model.clone(),
            data: config.data.path.clone(),
        }
    }
}

/// One sweep's scores.
#[derive(Clone, Debug, Serialize)]
pub struct SweepScores {
    /// The test's name.
    pub name: String,
    /// The parameter value of each level.
    pub values: Vec<f64>,
    /// Examples x levels.
    pub grid: ScoreGrid,
    /// Per level, the images the report's example grid shows: those of the
    /// run's first [`super::EXAMPLES`] examples that this part holds, as
    /// the run perturbed them. Empty for a grid test's cells and for a part
    /// holding none of the first examples.
    pub shown: Vec<Array4<f32>>,
}

/// One test in run.json.
#[derive(Serialize, Deserialize)]
struct TestEntry {
    name: String,
    file: String,
    values: Vec<f64>,
    /// How many examples `<file>.shown.npy` holds at each level (0: no file).
    #[serde(default, skip_serializing_if = "is_zero")]
    shown: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// run.json.
#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    sensie_version: String,
    fingerprint: String,
    examples: usize,
    start: usize,
    end: usize,
    metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output_kind: Option<String>,
    tests: Vec<TestEntry>,
    config: ProbeConfig,
    /// Absent from the scores of sensie before it was kept: the absolute paths stand in.
    #[serde(default)]
    given: Option<GivenPaths>,
}

const REFERENCE: &str = "reference";

/// The file stem of a test's arrays: `reference` for the unperturbed pass
/// (`None`), `sweep-<i>` for sweep i.
pub(super) fn test_file(test: Option<usize>) -> String {
    match test {
        None => REFERENCE.into(),
        Some(i) => format!("sweep-{i}"),
    }
}

impl ProbeRun {
    /// Whether this covers every example of the run (not one shard of it).
    pub fn is_whole(&self) -> bool {
        self.start == 0 && self.end == self.examples
    }

    /// The unperturbed pass, one [`Scored`] per example.
    pub fn reference_scores(&self) -> Vec<Scored> {
        self.reference.level(0)
    }

    /// Writes `scores/` into the output directory `out`, run.json last, so a
    /// reader that finds run.json finds every array it names.
    pub fn save(&self, out: &Path) -> Result<()> {
        let dir = out.join(SCORES);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let positions = Array1::from_iter(self.positions.iter().map(|&p| p as u64));
        write_npy(&dir.join("positions.npy"), &positions)?;
        let mut tests = vec![TestEntry {
            name: REFERENCE.into(),
            file: REFERENCE.into(),
            values: Vec::new(),
            shown: 0,
        }];
        save_grid(&dir, REFERENCE, &self.reference)?;
        for (i, sweep) in self.sweeps.iter().enumerate() {
            let file = test_file(Some(i));
            save_grid(&dir, &file, &sweep.grid)?;
            let shown = save_shown(&dir, &file, &sweep.shown)?;
            tests.push(TestEntry {
                name: sweep.name.clone(),
                file,
                values: sweep.values.clone(),
                shown,
            });
        }
        let header = Header {
            format: FORMAT,
            sensie_version: env!("CARGO_PKG_VERSION").into(),
            fingerprint: self.fingerprint.clone(),
            examples: self.examples,
            start: self.start,
            end: self.end,
            metric: self.metric.name().into(),
            output_kind: match self.metric {
                Metric::Classifier(kind) => Some(super::word(kind)),
                Metric::Regressor => None,
            },
            tests,
            config: self.config.clone(),
            given: Some(self.given.clone()),
        };
        let json = serde_json::to_vec_pretty(&header)
            .map_err(|e| Error::invalid("scores", e.to_string()))?;
        write_atomic(&dir.join("run.json"), &json)
    }

    /// Reads the scores a probe run (or shard) wrote into the output directory `out`.
    pub fn load(out: &Path) -> Result<ProbeRun> {
        let dir = out.join(SCORES);
        let path = dir.join("run.json");
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::data(
                    out,
                    "holds no scores (scores/run.json): give the output directory of a finished `sensie probe` run or shard",
                ));
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        let header: Header = serde_json::from_slice(&text)
            .map_err(|e| Error::data(&path, format!("not a sensie scores file: {e}")))?;
        if header.format != FORMAT {
            return Err(Error::data(
                &path,
                format!(
                    "scores format {} (sensie {}); this sensie reads format {FORMAT}: rerun the probe with this version",
                    header.format, header.sensie_version
                ),
            ));
        }
        let metric = match &header.output_kind {
            Some(kind) => Metric::Classifier(kind.parse::<OutputKind>()?),
            None => Metric::Regressor,
        };
        if metric.name() != header.metric {
            return Err(Error::data(
                &path,
                format!("unknown metric '{}'", header.metric),
            ));
        }
        let n = header.end.saturating_sub(header.start);
        if header.start > header.end || header.end > header.examples {
            return Err(Error::data(
                &path,
                format!(
                    "examples {}..{} do not lie in a run of {}",
                    header.start, header.end, header.examples
                ),
            ));
        }
        let positions: Array1<u64> = read_npy(&dir.join("positions.npy"), &[n])?;
        let mut tests = header.tests.into_iter();
        let reference = match tests.next() {
            Some(t) if t.file == REFERENCE => load_grid(&dir, REFERENCE, n, 1, metric)?,
            _ => return Err(Error::data(&path, "the first test is not the reference")),
        };
        let sweeps = tests
            .map(|t| {
                let grid = load_grid(&dir, &t.file, n, t.values.len(), metric)?;
                let shown = load_shown(&dir, &t.file, t.values.len(), t.shown)?;
                Ok(SweepScores {
                    name: t.name,
                    values: t.values,
                    grid,
                    shown,
                })
            })
            .collect::<Result<_>>()?;
        Ok(ProbeRun {
            given: header
                .given
                .unwrap_or_else(|| GivenPaths::of(&header.config)),
            config: header.config,
            fingerprint: header.fingerprint,
            examples: header.examples,
            start: header.start,
            end: header.end,
            positions: positions.iter().map(|&p| p as usize).collect(),
            metric,
            reference,
            sweeps,
        })
    }

    /// Joins the parts of one run (shards, as their output directories and
    /// scores) into the whole run. Refuses parts of another run (another
    /// fingerprint), two parts holding the same examples, and examples that
    /// no part holds, naming the part or the examples.
    pub fn join(mut parts: Vec<(PathBuf, ProbeRun)>) -> Result<ProbeRun> {
        let Some((first_dir, first)) = parts.first() else {
            return Err(Error::invalid("merge", "no parts given"));
        };
        for (dir, part) in &parts[1..] {
            if part.fingerprint != first.fingerprint || part.examples != first.examples {
                return Err(Error::data(
                    dir,
                    format!(
                        "is a part of another run than {} (fingerprint {} against {}): the model, data or settings differ",
                        first_dir.display(),
                        part.fingerprint,
                        first.fingerprint
                    ),
                ));
            }
        }
        // Parts of one run cut into different numbers of shards overlap or
        // leave gaps that no shard name describes.
        if let Some(a) = first.config.shard
            && let Some((dir, b)) = parts[1..].iter().find_map(|(dir, p)| {
                let other = p.config.shard.filter(|s| s.count != a.count)?;
                Some((dir, other))
            })
        {
            return Err(Error::data(
                dir,
                format!(
                    "is shard {}/{} but {} is shard {}/{}: give the parts of one sharded run, all cut into the same number of shards",
                    b.index,
                    b.count,
                    first_dir.display(),
                    a.index,
                    a.count
                ),
            ));
        }
        let examples = first.examples;
        check_repeated_shards(&parts)?;
        let absent = absent_shards(&parts);
        parts.sort_by_key(|(_, p)| (p.start, p.end));
        let mut next = 0;
        for (i, (dir, part)) in parts.iter().enumerate() {
            if part.start < next {
                let (other, _) = &parts[i - 1];
                return Err(Error::data(
                    dir,
                    format!(
                        "holds examples {}..{}, which {} holds too: the same shard given twice?",
                        part.start,
                        part.end.min(next),
                        other.display()
                    ),
                ));
            }
            if part.start > next {
                return Err(missing(next, part.start, examples, &absent));
            }
            next = part.end;
        }
        if next < examples {
            return Err(missing(next, examples, examples, &absent));
        }
        // Every example is held, so a shard not given is an empty one.
        if !absent.is_empty() {
            return Err(Error::invalid(
                "merge",
                format!(
                    "{} (it holds no examples, but merge needs every shard, so that none is lost unnoticed); give the output directory of every shard",
                    absent_text(&absent)
                ),
            ));
        }
        let mut all: Vec<ProbeRun> = parts.into_iter().map(|(_, p)| p).collect();
        if all.len() == 1 {
            return Ok(all.swap_remove(0));
        }
        let grids = |pick: &dyn Fn(&ProbeRun) -> &ScoreGrid| {
            ScoreGrid::concatenate(&all.iter().map(pick).collect::<Vec<_>>())
        };
        let reference = grids(&|p| &p.reference)?;
        let sweeps = (0..all[0].sweeps.len())
            .map(|i| {
                Ok(SweepScores {
                    name: all[0].sweeps[i].name.clone(),
                    values: all[0].sweeps[i].values.clone(),
                    grid: grids(&|p| &p.sweeps[i].grid)?,
                    shown: join_shown(all.iter().map(|p| p.sweeps[i].shown.as_slice()))?,
                })
            })
            .collect::<Result<_>>()?;
        let first = &all[0];
        Ok(ProbeRun {
            config: first.config.clone(),
            fingerprint: first.fingerprint.clone(),
            examples: first.examples,
            start: 0,
            end: first.examples,
            positions: all.iter().flat_map(|p| p.positions.clone()).collect(),
            metric: first.metric,
            reference,
            sweeps,
            given: first.given.clone(),
        })
    }
}

/// Refuses a shard given twice by its name, as the examples it holds
/// cannot tell an empty shard (a run of fewer batches than shards) given
/// twice.
fn check_repeated_shards(parts: &[(PathBuf, ProbeRun)]) -> Result<()> {
    for (i, (dir, part)) in parts.iter().enumerate() {
        let Some(shard) = part.config.shard else {
            continue;
        };
        if let Some((other, _)) = parts[..i]
            .iter()
            .find(|(_, p)| p.config.shard == Some(shard))
        {
            return Err(Error::data(
                dir,
                format!(
                    "is shard {shard}, which {} is too: the same shard given twice?",
                    other.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The shards (K/N) of the run that no part is, when the parts say which
/// shard of how many each is.
fn absent_shards(parts: &[(PathBuf, ProbeRun)]) -> Vec<String> {
    let shards: Option<Vec<_>> = parts.iter().map(|(_, p)| p.config.shard).collect();
    let Some(shards) = shards else {
        return Vec::new();
    };
    let count = shards.first().map_or(0, |s| s.count);
    (0..count)
        .filter(|&index| !shards.iter().any(|s| s.index == index))
        .map(|index| format!("{index}/{count}"))
        .collect()
}

/// The error for examples no part holds, naming the shards not given.
fn missing(from: usize, to: usize, examples: usize, absent: &[String]) -> Error {
    Error::invalid(
        "merge",
        format!(
            "no part holds examples {from}..{to} of {examples}: {} (give the output directory of every shard)",
            absent_text(absent)
        ),
    )
}

/// Which shards are missing, in words.
fn absent_text(absent: &[String]) -> String {
    match absent {
        [] => "a shard is missing".to_string(),
        [one] => format!("shard {one} is missing"),
        many => format!("shards {} are missing", many.join(", ")),
    }
}

/// `values` as an .npy file, written atomically.
fn write_npy<A: WriteNpyExt>(path: &Path, values: &A) -> Result<()> {
    let mut bytes = Vec::new();
    values.write_npy(&mut bytes).map_err(|e| Error::Data {
        path: path.to_path_buf(),
        reason: format!("writing failed: {e}"),
    })?;
    write_atomic(path, &bytes)
}

/// Why a scores array (`what`: whole or partial scores) cannot be read: cut
/// short, or not such an array at all.
pub(super) fn unreadable(error: ndarray_npy::ReadNpyError, what: &str) -> String {
    match error {
        ndarray_npy::ReadNpyError::MissingData => "it is truncated".into(),
        ndarray_npy::ReadNpyError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "it is truncated".into()
        }
        other => format!("it is not a valid {what} array ({other})"),
    }
}

/// An .npy array of the expected shape.
fn read_npy<A, D>(path: &Path, shape: &[usize]) -> Result<ndarray::Array<A, D>>
where
    A: ndarray_npy::ReadableElement + WritableElement,
    D: ndarray::Dimension,
{
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let array = ndarray::Array::<A, D>::read_npy(std::io::BufReader::new(file)).map_err(|e| {
        Error::data(
            path,
            format!(
                "{}; run that probe (or shard) again to write its scores",
                unreadable(e, "scores")
            ),
        )
    })?;
    if array.shape() != shape {
        return Err(Error::data(
            path,
            format!(
                "has shape {:?} where run.json says {shape:?}",
                array.shape()
            ),
        ));
    }
    Ok(array)
}

fn save_grid(dir: &Path, file: &str, grid: &ScoreGrid) -> Result<()> {
    write_npy(&dir.join(format!("{file}.score.npy")), &grid.score)?;
    match &grid.error {
        Some(error) => write_npy(&dir.join(format!("{file}.error.npy")), error),
        None => write_npy(&dir.join(format!("{file}.correct.npy")), &grid.correct),
    }
}

fn load_grid(dir: &Path, file: &str, n: usize, levels: usize, metric: Metric) -> Result<ScoreGrid> {
    let shape = [n, levels];
    let score: Array2<f64> = read_npy(&dir.join(format!("{file}.score.npy")), &shape)?;
    Ok(match metric {
        Metric::Classifier(_) => ScoreGrid {
            score,
            correct: read_npy(&dir.join(format!("{file}.correct.npy")), &shape)?,
            error: None,
        },
        Metric::Regressor => ScoreGrid {
            score,
            correct: Array2::from_elem((n, levels), false),
            error: Some(read_npy(&dir.join(format!("{file}.error.npy")), &shape)?),
        },
    })
}

/// Writes a sweep's example images as `<file>.shown.npy` (levels first),
/// when it has any; returns how many examples each level holds.
fn save_shown(dir: &Path, file: &str, shown: &[Array4<f32>]) -> Result<usize> {
    let Some(first) = shown.first() else {
        return Ok(0);
    };
    let views: Vec<_> = shown.iter().map(|l| l.view()).collect();
    let stacked: Array5<f32> =
        stack(Axis(0), &views).map_err(|e| Error::invalid("example images", e.to_string()))?;
    write_npy(&dir.join(format!("{file}.shown.npy")), &stacked)?;
    Ok(first.len_of(Axis(0)))
}

/// Reads back what [`save_shown`] wrote: `levels` arrays of `count` images each.
fn load_shown(dir: &Path, file: &str, levels: usize, count: usize) -> Result<Vec<Array4<f32>>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let path = dir.join(format!("{file}.shown.npy"));
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let stacked = Array5::<f32>::read_npy(std::io::BufReader::new(file))
        .map_err(|e| Error::data(&path, format!("not a valid array of images: {e}")))?;
    if stacked.shape()[..2] != [levels, count] {
        return Err(Error::data(
            &path,
            format!(
                "has shape {:?} where run.json says {levels} levels of {count} images",
                stacked.shape()
            ),
        ));
    }
    Ok(stacked.outer_iter().map(|level| level.to_owned()).collect())
}

/// The example images of consecutive parts, level by level (parts holding
/// none of the first examples add nothing).
fn join_shown<'a>(parts: impl Iterator<Item = &'a [Array4<f32>]>) -> Result<Vec<Array4<f32>>> {
    let holding: Vec<&[Array4<f32>]> = parts.filter(|p| !p.is_empty()).collect();
    let levels = holding.first().map_or(0, |p| p.len());
    (0..levels)
        .map(|l| {
            let views: Vec<_> = holding.iter().map(|p| p[l].view()).collect();
            concatenate(Axis(0), &views)
                .map_err(|e| Error::invalid("example images", e.to_string()))
        })
        .collect()
}

impl ScoreGrid {
    /// Grids of consecutive slices of examples, one after the other.
    pub fn concatenate(parts: &[&ScoreGrid]) -> Result<ScoreGrid> {
        fn join<T: Clone>(arrays: Vec<ndarray::ArrayView2<T>>) -> Result<Array2<T>> {
            concatenate(Axis(0), &arrays).map_err(|e| Error::invalid("scores", e.to_string()))
        }
        let errors: Option<Vec<_>> = parts.iter().map(|p| p.error.as_ref()).collect();
        Ok(ScoreGrid {
            score: join(parts.iter().map(|p| p.score.view()).collect())?,
            correct: join(parts.iter().map(|p| p.correct.view()).collect())?,
            error: match errors {
                Some(errors) => Some(join(errors.iter().map(|e| e.view()).collect())?),
                None => None,
            },
        })
    }
}
