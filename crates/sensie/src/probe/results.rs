//! results.json and results.csv: the contract other tools read.
//!
//! Keys may be added to results.json, never renamed. Every file is written
//! to a temporary file in the output directory and renamed into place, so a
//! reader never sees half a result, and a crash leaves the old one intact.

use std::path::{Path, PathBuf};

use ndarray::{Array4, s};
use serde::Serialize;

use super::{EXAMPLES, RunOptions, TestResult, word};
use crate::data::name::Name;
use crate::data::{ClassMapping, Dataset, Labels};
use crate::model::TensorInfo;
use crate::output::write_atomic;
use crate::predictor::Described;
use crate::{Error, Result};

/// The whole of results.json.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The version of sensie that wrote the file.
    pub sensie_version: &'static str,
    /// The model probed.
    pub model: ModelSummary,
    /// The data probed.
    pub data: DataSummary,
    /// The bootstrap's seed.
    pub seed: u64,
    /// The bootstrap's replicates.
    pub replicates: usize,
    /// Every test's result.
    pub tests: Vec<TestResult>,
    /// What the user should know before trusting the results (a large resize,
    /// accuracy below chance, text labels numbered without given names).
    pub warnings: Vec<String>,
    /// The first few raw images (N x C x H x W), kept for the report's
    /// example grids so that drawing them needs no second pass over the data.
    #[serde(skip)]
    pub examples: Array4<f32>,
    /// Their labels as the report's rows name them: class names where the
    /// data set has them, else class indices or regression targets.
    #[serde(skip)]
    pub example_labels: Vec<String>,
}

/// The model as results.json describes it.
#[derive(Clone, Debug, Serialize)]
pub struct ModelSummary {
    /// The model file.
    pub path: PathBuf,
    /// Its input.
    pub inputs: Vec<TensorInfo>,
    /// Its outputs.
    pub outputs: Vec<TensorInfo>,
    /// What its first output holds.
    pub output_kind: crate::model::OutputKind,
}

/// The data as results.json describes it.
#[derive(Clone, Debug, Serialize)]
pub struct DataSummary {
    /// The data file or folder.
    pub path: PathBuf,
    /// Examples probed.
    pub n: usize,
    /// Ids of examples left out for NaN, infinite or bad (masked, zero-weight) pixels.
    pub skipped: Vec<String>,
    /// The examples the sweeps' example grids show (the first few), by name.
    pub shown: Vec<Name>,
    /// Which class index each class name got, and where that mapping came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<ClassMapping>,
    /// A classifier's accuracy on the unperturbed images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unperturbed_accuracy: Option<f64>,
}

impl Report {
    /// The report of a run of `model` on `data` with `options`.
    pub fn new(
        model: &dyn Described,
        data: &Dataset,
        options: &RunOptions,
        tests: Vec<TestResult>,
    ) -> Report {
        let info = model.info();
        Report {
            sensie_version: env!("CARGO_PKG_VERSION"),
            model: ModelSummary {
                path: model.path().to_path_buf(),
                inputs: vec![info.input.clone()],
                outputs: info.outputs.clone(),
                output_kind: info.output_kind,
            },
            data: DataSummary {
                path: data.path.clone(),
                n: data.len(),
                skipped: data.skipped.clone(),
                shown: data
                    .ids
                    .iter()
                    .take(EXAMPLES)
                    .map(|id| Name::of(id))
                    .collect(),
                classes: None,
                unperturbed_accuracy: None,
            },
            seed: options.seed,
            replicates: options.replicates,
            tests,
            warnings: Vec::new(),
            examples: data
                .images
                .slice(s![..data.len().min(EXAMPLES), .., .., ..])
                .to_owned(),
            example_labels: (0..data.len().min(EXAMPLES))
                .map(|i| match &data.labels {
                    Labels::Classes(c) => data
                        .class_names
                        .as_ref()
                        .and_then(|names| names.get(c[i]).cloned())
                        .unwrap_or_else(|| c[i].to_string()),
                    Labels::Targets(t) => t[i].to_string(),
                })
                .collect(),
        }
    }
}

const FILES: [&str; 2] = ["results.json", "results.csv"];

/// Refuses an output directory that already holds results, unless `force`.
pub fn check_out(out: &Path, force: bool) -> Result<()> {
    if let Some(existing) = FILES.iter().map(|f| out.join(f)).find(|p| p.exists())
        && !force
    {
        return Err(Error::invalid(
            format!("output directory {}", out.display()),
            format!(
                "it already holds {}; choose another directory or pass --force to overwrite",
                existing.display()
            ),
        ));
    }
    Ok(())
}

/// Writes results.json and results.csv into `out` (created if missing).
pub fn write_results(out: &Path, report: &Report) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let json =
        serde_json::to_vec_pretty(report).map_err(|e| Error::invalid("results", e.to_string()))?;
    write_atomic(&out.join(FILES[0]), &json)?;
    write_atomic(&out.join(FILES[1]), csv_text(report).as_bytes())
}

/// A level's label in results.csv: its own, or for a grid's cell (whose
/// value is the cell's index) the two values, as the parameter column
/// names them (`angle x sigma`: `10 x 0.5`).
pub(super) fn level_label(level: &crate::stats::Level) -> String {
    match (&level.label, level.values) {
        (Some(label), _) => label.clone(),
        (None, Some([first, second])) => format!("{first} x {second}"),
        (None, None) => String::new(),
    }
}

/// One row per test and level; a grid has a row per cell.
fn csv_text(report: &Report) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = [
        "test",
        "kind",
        "parameter",
        "unit",
        "value",
        "label",
        "lo",
        "hi",
        "n",
        "mean_score",
        "std_score",
        "ci95_lo",
        "ci95_hi",
        "accuracy",
        "verdict",
    ];
    writer.write_record(header).expect("writing to memory");
    let number = |v: Option<f64>| {
        v.filter(|v| v.is_finite())
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    for test in &report.tests {
        let (kind, verdict) = (word(test.kind), word(test.stats.verdict));
        for level in &test.stats.levels {
            writer
                .write_record([
                    test.name.clone(),
                    kind.clone(),
                    test.parameter.clone(),
                    test.unit.clone(),
                    number(Some(level.value)),
                    level_label(level),
                    number(level.lo),
                    number(level.hi),
                    level.n.to_string(),
                    number(Some(level.mean_score)),
                    number(Some(level.std_score)),
                    number(Some(level.score_ci95[0])),
                    number(Some(level.score_ci95[1])),
                    number(level.accuracy),
                    verdict.clone(),
                ])
                .expect("writing to memory");
        }
    }
    String::from_utf8(writer.into_inner().expect("writing to memory")).expect("CSV of UTF-8 fields")
}
