//! Several runs of the same tests side by side: named data sets under one
//! model (sims against real-like images) or named models on one data set.
//!
//! Each run is an ordinary probe run written into its own folder of the
//! output directory (`out/<name>/`, with its results.json and report); the
//! comparison is written beside them: `results.json` with every run's
//! levels and, per test, how its effect differs between the runs
//! ([`stats::difference`]: unpaired between data sets, paired over
//! examples between models), `results.csv`, overlay charts in `plots/` and
//! `report.html`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::results::check_out;
use super::word;
use super::{
    ProbeConfig, ProbeRun, Report, TestKind, TestResult, chart, execute, file_stem, file_stems,
};
use crate::html::{Figure, Page};
use crate::output::write_atomic;
use crate::plot::{Axis, LineChart, Rasteriser, Series, Size};
use crate::stats::{self, Difference, Direction, Effect, Level, Settings, Verdict};
use crate::{Error, Result};

/// What the runs of a comparison differ in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compared {
    /// Data sets under one model: different examples, an unpaired comparison.
    Sets,
    /// Models on one data set: the same examples, a paired comparison.
    Models,
}

/// One run of a comparison: its name and the single-run config it runs.
#[derive(Clone, Debug)]
pub struct Arm {
    /// The run's name, also its folder under the output.
    pub name: String,
    /// The config of this run alone.
    pub config: ProbeConfig,
}

/// The runs `config` asks for when it names several data sets or models
/// (none for an ordinary run), each writing into `out/<name>`.
pub fn arms(config: &ProbeConfig) -> Result<Option<(Compared, Vec<Arm>)>> {
    let (compared, names): (Compared, Vec<&str>) =
        match (config.sets.is_empty(), config.models.is_empty()) {
            (true, true) => return Ok(None),
            (false, false) => {
                return Err(Error::invalid(
                    "probe",
                    "compare several data sets or several models in one run, not both",
                ));
            }
            (false, true) => (
                Compared::Sets,
                config.sets.iter().map(|s| s.name.as_str()).collect(),
            ),
            (true, false) => (
                Compared::Models,
                config.models.iter().map(|m| m.name.as_str()).collect(),
            ),
        };
    let what = match compared {
        Compared::Sets => "data set",
        Compared::Models => "model",
    };
    if names.len() < 2 {
        return Err(Error::invalid(
            format!("{what} '{}'", names[0]),
            format!(
                "a comparison needs at least two named {what}s; for one, give it without a name"
            ),
        ));
    }
    // What the comparison itself writes beside the runs' folders.
    let taken = [
        "plots",
        "examples",
        "results.json",
        "results.csv",
        "report.html",
        "scores",
    ];
    for (i, name) in names.iter().enumerate() {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !name.starts_with('.')
            && !taken.contains(name);
        if !valid {
            return Err(Error::invalid(
                format!("{what} name '{name}'"),
                format!(
                    "names become folders of the output: use letters, digits, '-', '_' and '.' (not {})",
                    taken.join(", ")
                ),
            ));
        }
        if names[..i].contains(name) {
            return Err(Error::invalid(
                format!("{what} name '{name}'"),
                "given twice; each needs its own name",
            ));
        }
    }
    let single = |name: &str| ProbeConfig {
        out: config.out.join(name),
        sets: Vec::new(),
        models: Vec::new(),
        ..config.clone()
    };
    let arms = match compared {
        Compared::Sets => config
            .sets
            .iter()
            .map(|set| Arm {
                name: set.name.clone(),
                config: ProbeConfig {
                    data: set.spec.clone(),
                    ..single(&set.name)
                },
            })
            .collect(),
        Compared::Models => config
            .models
            .iter()
            .map(|m| Arm {
                name: m.name.clone(),
                config: ProbeConfig {
                    model: m.path.clone(),
                    ..single(&m.name)
                },
            })
            .collect(),
    };
    Ok(Some((compared, arms)))
}

/// One run's results of one test, as the comparison shows them.
#[derive(Clone, Debug, Serialize)]
pub struct RunLevels {
    /// Its levels.
    pub levels: Vec<Level>,
    /// Its effect.
    pub effect: Effect,
    /// Its verdict.
    pub verdict: Verdict,
}

/// One test across the runs.
#[derive(Clone, Debug, Serialize)]
pub struct TestComparison {
    /// The test's name.
    pub name: String,
    /// What kind of test it is.
    pub kind: TestKind,
    /// The parameter varied.
    pub parameter: String,
    /// The parameter's unit.
    pub unit: String,
    /// What a score is (correct-class probability, absolute error).
    pub metric: &'static str,
    /// Whether a good score is high or low.
    pub direction: Direction,
    /// Each data set's levels, by name (data set comparisons).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "in_order")]
    pub sets: Option<Vec<(String, RunLevels)>>,
    /// Each model's levels, by name (model comparisons).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "in_order")]
    pub models: Option<Vec<(String, RunLevels)>>,
    /// With two runs, how the second's effect differs from the first's;
    /// with more, a list: each later run against the first.
    pub difference: Differences,
}

/// One difference, or one per run after the first.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Differences {
    /// Two runs: one difference.
    One(Difference),
    /// More runs: each one's difference from the first.
    Several(Vec<Difference>),
}

impl Differences {
    /// Every difference, in run order.
    pub fn all(&self) -> &[Difference] {
        match self {
            Differences::One(d) => std::slice::from_ref(d),
            Differences::Several(list) => list,
        }
    }
}

/// A run of the comparison, as results.json lists it.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// The run's name.
    pub name: String,
    /// Its own results: relative to the comparison's folder for the runs
    /// of one `sensie probe`, as given for `sensie compare`.
    pub results: PathBuf,
    /// The run's model.
    pub model: PathBuf,
    /// The run's data.
    pub data: PathBuf,
    /// Its number of examples.
    pub n: usize,
    /// Its accuracy without perturbation (classifiers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unperturbed_accuracy: Option<f64>,
}

/// The comparison's results.json.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// The version of sensie that wrote the file.
    pub sensie_version: &'static str,
    /// Whether data sets or models are compared.
    pub compared: Compared,
    /// Whether differences are paired over examples (models) or not (data sets).
    pub paired: bool,
    /// The bootstrap's seed.
    pub seed: u64,
    /// The bootstrap's replicates.
    pub replicates: usize,
    /// The runs compared.
    pub runs: Vec<RunSummary>,
    /// Each test across the runs.
    pub tests: Vec<TestComparison>,
    /// How the verdict of a difference is decided, in words.
    pub difference_rule: &'static str,
}

/// A list of (name, value) written as a JSON object in its own order.
fn in_order<S: Serializer>(
    runs: &Option<Vec<(String, RunLevels)>>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    let runs = runs.as_deref().unwrap_or_default();
    let mut map = serializer.serialize_map(Some(runs.len()))?;
    for (name, levels) in runs {
        map.serialize_entry(name, levels)?;
    }
    map.end()
}

/// Runs every arm (each writing its own results.json), then compares them
/// and writes the comparison's results.json and results.csv into
/// `config.out`. Returns the comparison and each run's report.
pub fn execute_comparison(
    config: &ProbeConfig,
    compared: Compared,
    arms: &[Arm],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Comparison, Vec<Report>)> {
    check_out(&config.out, config.force)?;
    let mut reports = Vec::new();
    for (i, arm) in arms.iter().enumerate() {
        let count = arms.len();
        let report = execute(&arm.config, &mut |done, total| {
            progress(i * total + done, count * total)
        })?;
        reports.push(report);
    }
    let names: Vec<String> = arms.iter().map(|a| a.name.clone()).collect();
    let folders: Vec<PathBuf> = names.iter().map(PathBuf::from).collect();
    let comparison = compare_reports(compared, &names, &folders, &reports)?;
    write_comparison(&config.out, &comparison)?;
    Ok((comparison, reports))
}

/// `sensie compare`: the comparison of finished runs from their output
/// directories, read back from the per-example scores each keeps in
/// `scores/` ([`ProbeRun::load`]; the statistics are recomputed from them
/// with the runs' own model and data, which must not have changed). Runs
/// over the same examples (the same data file, the same examples kept) are
/// compared paired, as models; others unpaired, as data sets. Each run is
/// named by its directory as given. Writes results.json and results.csv
/// into `out` (check it first with [`check_out`]).
pub fn compare_dirs(dirs: &[PathBuf], out: &Path) -> Result<(Comparison, Vec<Report>)> {
    if dirs.len() < 2 {
        return Err(Error::invalid(
            "sensie compare",
            format!(
                "{} result directory given; compare at least two",
                dirs.len()
            ),
        ));
    }
    // The same folder twice (`compare a a`, or `a` and `./a`) is a slip:
    // its differences would be zero by construction, not a finding.
    let canonical: Vec<PathBuf> = dirs
        .iter()
        .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()))
        .collect();
    if let Some(j) = (1..dirs.len()).find(|&j| canonical[..j].contains(&canonical[j])) {
        return Err(Error::invalid(
            format!("sensie compare {}", dirs[j].display()),
            "that run folder is given twice; compare the folders of different runs",
        ));
    }
    let runs = dirs
        .iter()
        .map(|dir| ProbeRun::load(dir))
        .collect::<Result<Vec<_>>>()?;
    let reports = runs
        .iter()
        .zip(dirs)
        .map(|(run, dir)| {
            super::report(run)
                .map_err(|e| Error::invalid(format!("results in {}", dir.display()), e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let first = &runs[0];
    // The same file however its path was spelled (`data/x.npy`,
    // `../mnist/data/x.npy`, a link): the runs are then paired.
    let file = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let same_examples = runs.iter().all(|r| {
        file(&r.config.data.path) == file(&first.config.data.path) && r.positions == first.positions
    });
    let compared = if same_examples {
        Compared::Models
    } else {
        Compared::Sets
    };
    let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let comparison = compare_reports(compared, &names, dirs, &reports)?;
    write_comparison(out, &comparison)?;
    Ok((comparison, reports))
}

/// Compares runs of the same tests, refusing runs whose tests or sweep
/// levels differ (the error names the runs and the mismatch). Data sets
/// may bin a property differently: a property's difference is of spreads.
/// `folders` are where each run's own results are.
pub fn compare_reports(
    compared: Compared,
    names: &[String],
    folders: &[PathBuf],
    reports: &[Report],
) -> Result<Comparison> {
    let (first, first_name) = (&reports[0], &names[0]);
    for (report, name) in reports.iter().zip(names).skip(1) {
        check_same_tests((first, first_name), (report, name))?;
    }
    let paired = compared == Compared::Models;
    let mut tests = Vec::new();
    for (t, test) in first.tests.iter().enumerate() {
        let settings = Settings {
            replicates: first.replicates,
            seed: first.seed,
            threshold: None,
            scale: test.stats.effect.scale,
        };
        let values: Vec<f64> = test.stats.levels.iter().map(|l| l.value).collect();
        let mut differences = reports
            .iter()
            .zip(names)
            .skip(1)
            .map(|(other, name)| {
                stats::difference(
                    &test.scores,
                    &other.tests[t].scores,
                    &values,
                    [first_name.clone(), name.clone()],
                    paired,
                    &settings,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        // A grid's cells are its levels: each difference carries both values.
        for d in &mut differences {
            for (level, cell) in d.levels.iter_mut().zip(&test.stats.levels) {
                level.values = cell.values;
            }
        }
        let runs: Vec<(String, RunLevels)> = reports
            .iter()
            .zip(names)
            .map(|(r, name)| {
                let t = &r.tests[t];
                (
                    name.clone(),
                    RunLevels {
                        levels: t.stats.levels.clone(),
                        effect: t.stats.effect.clone(),
                        verdict: t.stats.verdict,
                    },
                )
            })
            .collect();
        let difference = if differences.len() == 1 {
            Differences::One(differences.into_iter().next().expect("one"))
        } else {
            Differences::Several(differences)
        };
        tests.push(TestComparison {
            name: test.name.clone(),
            kind: test.kind,
            parameter: test.parameter.clone(),
            unit: test.unit.clone(),
            metric: test.metric,
            direction: test.stats.direction,
            sets: (compared == Compared::Sets).then(|| runs.clone()),
            models: (compared == Compared::Models).then_some(runs),
            difference,
        });
    }
    Ok(Comparison {
        sensie_version: env!("CARGO_PKG_VERSION"),
        compared,
        paired,
        seed: first.seed,
        replicates: first.replicates,
        runs: reports
            .iter()
            .zip(names)
            .zip(folders)
            .map(|((r, name), folder)| RunSummary {
                name: name.clone(),
                results: folder.join("results.json"),
                model: r.model.path.clone(),
                data: r.data.path.clone(),
                n: r.data.n,
                unperturbed_accuracy: r.data.unperturbed_accuracy,
            })
            .collect(),
        tests,
        difference_rule: stats::DIFFERENCE_RULE,
    })
}

/// Refuses two runs whose tests differ in name, kind, score or sweep levels.
fn check_same_tests((a, a_name): (&Report, &str), (b, b_name): (&Report, &str)) -> Result<()> {
    let refuse = |why: String| {
        Error::invalid(
            format!("comparison of '{a_name}' with '{b_name}'"),
            format!("{why}; only runs of the same tests at the same levels compare"),
        )
    };
    let names = |r: &Report| r.tests.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    if names(a) != names(b) {
        return Err(refuse(format!(
            "the tests differ: [{}] against [{}]",
            names(a).join(", "),
            names(b).join(", ")
        )));
    }
    if a.seed != b.seed || a.replicates != b.replicates {
        return Err(refuse(format!(
            "seed {} with {} replicates against seed {} with {}",
            a.seed, a.replicates, b.seed, b.replicates
        )));
    }
    for (ta, tb) in a.tests.iter().zip(&b.tests) {
        let values = |t: &TestResult| t.stats.levels.iter().map(|l| l.value).collect::<Vec<_>>();
        let swept = matches!(ta.kind, TestKind::Perturbation | TestKind::Grid);
        // A grid's level values are its cell numbers: its axes say what a
        // cell is (rotate 90 x blur 1 against rotate 45 x blur 3).
        let axes = |t: &TestResult| t.grid.as_ref().map(|g| g.axes.clone());
        if axes(ta) != axes(tb) {
            let show = |t: &TestResult| {
                t.grid.as_ref().map_or(String::new(), |g| {
                    let [a, b] = &g.axes.perturbations;
                    format!("{a} {:?} x {b} {:?}", g.axes.values[0], g.axes.values[1])
                })
            };
            return Err(refuse(format!(
                "grid '{}' has cells {} against {}",
                ta.name,
                show(ta),
                show(tb)
            )));
        }
        if ta.metric != tb.metric {
            return Err(refuse(format!(
                "test '{}' scores the {} against the {}: give both runs the same --task",
                ta.name, ta.metric, tb.metric
            )));
        }
        if ta.kind != tb.kind || ta.options != tb.options || (swept && values(ta) != values(tb)) {
            return Err(refuse(format!(
                "test '{}' has levels {:?} {:?} against {:?} {:?}",
                ta.name,
                values(ta),
                ta.options,
                values(tb),
                tb.options
            )));
        }
    }
    Ok(())
}

/// The entries `sensie compare` writes into its folder
/// ([`write_comparison`] and [`write_comparison_report`]), by name: what a
/// forced run may replace only when an earlier sensie run wrote them (see
/// [`crate::output::OutputDir::claim`]).
pub const COMPARISON_OUTPUTS: [&str; 4] = ["results.json", "results.csv", "plots", "report.html"];

/// Writes the comparison's results.json and results.csv into `out`.
pub fn write_comparison(out: &Path, comparison: &Comparison) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let json = serde_json::to_vec_pretty(comparison)
        .map_err(|e| Error::invalid("comparison", e.to_string()))?;
    write_atomic(&out.join("results.json"), &json)?;
    write_atomic(&out.join("results.csv"), csv_text(comparison).as_bytes())
}

/// One row per test, run and level, then one per test and level of each difference.
fn csv_text(comparison: &Comparison) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = [
        "test",
        "run",
        "value",
        "label",
        "n",
        "mean_score",
        "ci95_lo",
        "ci95_hi",
        "verdict",
    ];
    writer.write_record(header).expect("writing to memory");
    for test in &comparison.tests {
        for (run, levels) in test.sets.iter().chain(&test.models).flatten() {
            for level in &levels.levels {
                writer
                    .write_record([
                        test.name.clone(),
                        run.clone(),
                        level.value.to_string(),
                        super::results::level_label(level),
                        level.n.to_string(),
                        level.mean_score.to_string(),
                        level.score_ci95[0].to_string(),
                        level.score_ci95[1].to_string(),
                        word(levels.verdict),
                    ])
                    .expect("writing to memory");
            }
        }
        for d in test.difference.all() {
            let run = format!("{} - {}", d.between[1], d.between[0]);
            let rows = d
                .levels
                .iter()
                .map(|l| (l.value.to_string(), l.difference, l.simultaneous_ci95));
            let spread = d
                .levels
                .is_empty()
                .then(|| (String::new(), d.largest.value, d.largest.ci95));
            for (value, difference, [lo, hi]) in rows.chain(spread) {
                writer
                    .write_record([
                        test.name.clone(),
                        run.clone(),
                        value,
                        "difference".into(),
                        String::new(),
                        difference.to_string(),
                        lo.to_string(),
                        hi.to_string(),
                        word(d.verdict),
                    ])
                    .expect("writing to memory");
            }
        }
    }
    String::from_utf8(writer.into_inner().expect("writing to memory")).expect("CSV of UTF-8 fields")
}

const CHART_SIZE: Size = Size {
    width: 820.0,
    height: 460.0,
};

/// The overlay chart of one test: each run's mean score per level with its
/// 95% band, in the run's colour. Grids do not overlay; each run's heat map
/// is drawn instead (`comparison_charts`).
pub fn overlay_chart(test: &TestComparison) -> String {
    let runs = test.sets.as_ref().or(test.models.as_ref());
    let series = runs
        .into_iter()
        .flatten()
        .map(|(name, run)| {
            Series {
                markers: true,
                ..Series::new(
                    name.clone(),
                    run.levels.iter().map(|l| (l.value, l.mean_score)).collect(),
                )
            }
            .with_band(
                run.levels
                    .iter()
                    .map(|l| (l.value, l.score_ci95[0], l.score_ci95[1]))
                    .collect(),
            )
        })
        .collect();
    // Classifier scores are probabilities: all of [0, 1], as in a run's own charts.
    let y = if test.direction == Direction::HigherIsBetter {
        Axis::new(format!("{} (95% interval)", test.metric)).with_range(0.0, 1.0)
    } else {
        Axis::new(format!("{} (95% interval)", test.metric))
    };
    let x_label = match test.kind {
        TestKind::Property => test.parameter.clone(),
        _ => format!("{} ({})", test.parameter, test.unit),
    };
    LineChart {
        title: format!("{}: {}", test.name, test.metric),
        x: Axis::new(x_label),
        y,
        series,
        lines: Vec::new(),
        size: CHART_SIZE,
    }
    .svg()
}

/// Every test's chart: the overlay, or for a grid each run's heat map (from
/// the runs' own results, `reports`, in the comparison's order).
fn comparison_charts(test: &TestComparison, index: usize, reports: &[Report]) -> Vec<String> {
    if test.kind == TestKind::Grid {
        reports.iter().map(|r| chart(&r.tests[index])).collect()
    } else {
        vec![overlay_chart(test)]
    }
}

/// Writes plots/ (SVG and PNG) and report.html of the comparison into
/// `out`; the runs' own reports are in their folders. Returns notes for the
/// user about what could not be made (PNG charts without a font).
pub fn write_comparison_report(
    out: &Path,
    comparison: &Comparison,
    reports: &[Report],
    command: &str,
) -> Result<Vec<String>> {
    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;
    let mut notes = Vec::new();
    let rasteriser = Rasteriser::system()
        .inspect_err(|e| notes.push(format!("PNG charts were not written, only SVG: {e}")))
        .ok();
    let what = match comparison.compared {
        Compared::Sets => "data sets",
        Compared::Models => "models",
    };
    let mut page = Page::new(format!(
        "sensie probe: {} compared",
        comparison
            .runs
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(" vs ")
    ));
    page.section("Runs").code(command).table(
        &["run", "model", "data", "examples", "accuracy", "its report"],
        comparison
            .runs
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    r.model.display().to_string(),
                    r.data.display().to_string(),
                    r.n.to_string(),
                    r.unperturbed_accuracy
                        .map(|a| format!("{a:.3}"))
                        .unwrap_or_default(),
                    format!("{}/report.html", r.name),
                ]
            })
            .collect(),
        format!(
            "Every test ran on each of these {what}, with seed {} and {} bootstrap replicates; differences are {}.",
            comparison.seed,
            comparison.replicates,
            if comparison.paired {
                "paired over examples (the same images through every model)"
            } else {
                "unpaired (each data set resampled on its own)"
            }
        ),
    );
    let rows = comparison
        .tests
        .iter()
        .flat_map(|t| {
            t.difference.all().iter().map(|d| {
                let verdicts = t
                    .sets
                    .iter()
                    .chain(&t.models)
                    .flatten()
                    .map(|(name, r)| format!("{name}: {}", word(r.verdict)))
                    .collect::<Vec<_>>()
                    .join(", ");
                vec![
                    t.name.clone(),
                    verdicts,
                    format!("{} - {}", d.between[1], d.between[0]),
                    format!("{:.3}", d.largest.value),
                    format!("[{:.3}, {:.3}]", d.largest.ci95[0], d.largest.ci95[1]),
                    word(d.verdict),
                ]
            })
        })
        .collect();
    page.section("Summary")
        .table(
            &["test", "verdicts", "difference", "largest", "95% interval", "verdict"],
            rows,
            "largest: the largest difference of the change from the unperturbed mean over levels, with its simultaneous 95% interval \
             (sweeps), or the difference of best-minus-worst group spreads with its 95% interval (property and class tests).",
        )
        .paragraph(format!("Difference rule: {}", stats::DIFFERENCE_RULE));
    let stems = file_stems(comparison.tests.iter().map(|t| t.name.as_str()));
    for ((index, test), stem) in comparison.tests.iter().enumerate().zip(stems) {
        let mut figures = Vec::new();
        for (k, svg) in comparison_charts(test, index, reports).iter().enumerate() {
            let file = if test.kind == TestKind::Grid {
                file_stem(&format!("{stem}-{}", comparison.runs[k].name))
            } else {
                stem.clone()
            };
            write_atomic(&plots.join(format!("{file}.svg")), svg.as_bytes())?;
            if let Some(r) = &rasteriser {
                write_atomic(&plots.join(format!("{file}.png")), &r.png(svg, 2.0)?)?;
            }
            let caption = if test.kind == TestKind::Grid {
                format!("{}: mean score over the grid", comparison.runs[k].name)
            } else {
                format!("Mean score per level of each of the {what}, with 95% bootstrap intervals.")
            };
            figures.push(Figure::svg(svg, caption)?);
        }
        let text = test
            .difference
            .all()
            .iter()
            .map(describe)
            .collect::<Vec<_>>()
            .join(" ");
        page.section(format!("{} ({})", test.name, word(test.kind)))
            .paragraph(text)
            .figures(figures);
    }
    write_atomic(&out.join("report.html"), page.html().as_bytes())?;
    Ok(notes)
}

/// A difference in a sentence.
fn describe(d: &Difference) -> String {
    let at = d.largest_at.map(|v| format!(" at {v}")).unwrap_or_default();
    format!(
        "{} - {} ({}): {:.3} [{:.3}, {:.3}]{at}, verdict {}.",
        d.between[1],
        d.between[0],
        d.of,
        d.largest.value,
        d.largest.ci95[0],
        d.largest.ci95[1],
        word(d.verdict)
    )
}
