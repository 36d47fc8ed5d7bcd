//! Several data sets, several models and two-perturbation grids, end to end
//! on the bundled MNIST CNN (small subsets, so each test takes a second or two).
//!
//! References, none of them sensie's own output for the same quantity:
//! - a model compared with itself (paired) differs by exactly 0 at every
//!   level, with zero-width intervals;
//! - digits turned by 90 degrees beforehand already score low unrotated, so
//!   a rotation that ruins upright digits barely lowers them further (or
//!   turns them back): their rotation sensitivity differs, and is found;
//! - each difference equals the per-set changes written in results.json;
//! - a grid's cells with the other value at its identity score exactly as
//!   the one-perturbation sweeps of the same run.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array4, s};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use sensie::data::DataSpec;
use sensie::probe::{self, GridSpec, NamedData, NamedModel, ProbeConfig, SweepSpec, TestKind};
use sensie::stats::Verdict;

fn example(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/mnist")
        .join(rel)
}

/// Digits `from..to` as npy files named `stem`, each turned by `quarter_turns` x 90 degrees.
fn digits(dir: &Path, stem: &str, from: usize, to: usize, quarter_turns: usize) -> DataSpec {
    let x =
        Array4::<f32>::read_npy(std::fs::File::open(example("data/test_x.npy")).unwrap()).unwrap();
    let y =
        Array1::<i64>::read_npy(std::fs::File::open(example("data/test_y.npy")).unwrap()).unwrap();
    let mut x = x.slice(s![from..to, .., .., ..]).to_owned();
    for _ in 0..quarter_turns {
        // Counter-clockwise: row r of the turned image is column (w - 1 - r).
        let turned = x.slice(s![.., .., .., ..;-1]).permuted_axes([0, 1, 3, 2]);
        x = turned.as_standard_layout().to_owned();
    }
    let (xs, ys) = (
        dir.join(format!("{stem}_x.npy")),
        dir.join(format!("{stem}_y.npy")),
    );
    x.write_npy(std::fs::File::create(&xs).unwrap()).unwrap();
    y.slice(s![from..to])
        .to_owned()
        .write_npy(std::fs::File::create(&ys).unwrap())
        .unwrap();
    DataSpec {
        path: xs,
        labels: Some(ys),
        ..DataSpec::default()
    }
}

fn config(dir: &Path, perturb: &[&str]) -> ProbeConfig {
    ProbeConfig {
        model: example("mnist_cnn.onnx"),
        out: dir.join("out"),
        perturb: perturb
            .iter()
            .map(|p| SweepSpec::parse(p).unwrap())
            .collect(),
        replicates: 400,
        ..ProbeConfig::default()
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn run(config: &ProbeConfig) -> (probe::Comparison, Vec<probe::Report>) {
    let (compared, arms) = probe::arms(config).unwrap().unwrap();
    probe::execute_comparison(config, compared, &arms, &mut |_, _| {}).unwrap()
}

#[test]
fn a_set_turned_beforehand_differs_in_its_rotation_sensitivity() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), &["rotate=0,90,180,270", "brightness=1,1.05"]);
    config.classes = true;
    config.sets = vec![
        NamedData {
            name: "upright".into(),
            spec: digits(dir.path(), "a", 0, 150, 0),
        },
        NamedData {
            name: "turned".into(),
            spec: digits(dir.path(), "b", 150, 280, 1),
        },
    ];
    let (comparison, reports) = run(&config);
    let notes = probe::write_comparison_report(&config.out, &comparison, &reports, "test").unwrap();
    assert!(notes.len() <= 1);

    let out = json(&dir.path().join("out/results.json"));
    assert_eq!(out["compared"], "sets");
    assert_eq!(out["paired"], false);
    let rotate = &out["tests"][0];
    assert_eq!(rotate["name"], "rotate");
    // Per-set levels, as each set's own results.json has them.
    for (name, folder) in [("upright", "upright"), ("turned", "turned")] {
        let own = json(&dir.path().join("out").join(folder).join("results.json"));
        assert_eq!(
            rotate["sets"][name]["levels"], own["tests"][0]["levels"],
            "{name}"
        );
    }
    // The difference at each level is (turned's change) - (upright's
    // change) from rotation 0, the identity level, as the levels say.
    let mean = |set: &str, l: usize| {
        rotate["sets"][set]["levels"][l]["mean_score"]
            .as_f64()
            .unwrap()
    };
    let difference = &rotate["difference"];
    assert_eq!(
        difference["between"],
        serde_json::json!(["upright", "turned"])
    );
    for l in 0..4 {
        let expected =
            (mean("turned", l) - mean("turned", 0)) - (mean("upright", l) - mean("upright", 0));
        let got = difference["levels"][l]["difference"].as_f64().unwrap();
        assert!(
            (got - expected).abs() < 1e-9,
            "level {l}: {got} vs {expected}"
        );
    }
    // Upright digits fall at every quarter turn; turned ones start low and
    // fall no further (or recover): a large, significant difference.
    assert_eq!(difference["verdict"], "high");
    let at_270 = difference["levels"][3]["simultaneous_ci95"][0]
        .as_f64()
        .unwrap();
    assert!(at_270 > 0.3, "{difference}");
    // A 5% brightness change matters to neither: no difference.
    assert_eq!(out["tests"][1]["difference"]["verdict"], "low");
    // Classes: a spread difference with an interval.
    assert_eq!(
        out["tests"][2]["difference"]["of"],
        "best minus worst group mean"
    );
    assert!(out["tests"][2]["difference"]["largest"]["ci95"].is_array());

    for file in [
        "results.csv",
        "report.html",
        "plots/rotate.svg",
        "upright/results.json",
    ] {
        assert!(dir.path().join("out").join(file).exists(), "{file}");
    }
    let svg = std::fs::read_to_string(dir.path().join("out/plots/rotate.svg")).unwrap();
    assert!(svg.contains("upright") && svg.contains("turned"));
}

#[test]
fn a_model_compared_with_itself_differs_by_exactly_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), &["rotate=0,45,90", "gaussian-noise=0,0.3"]);
    config.data = digits(dir.path(), "a", 0, 120, 0);
    config.models = ["one", "same"]
        .map(|name| NamedModel {
            name: name.into(),
            path: example("mnist_cnn.onnx"),
        })
        .to_vec();
    let (comparison, _) = run(&config);
    assert!(comparison.paired);
    for test in &comparison.tests {
        let d = &test.difference.all()[0];
        assert_eq!(d.verdict, Verdict::Low, "{}", test.name);
        for level in &d.levels {
            assert_eq!(level.difference, 0.0);
            assert_eq!(level.ci95, [0.0, 0.0], "{}", test.name);
        }
    }
    let out = json(&dir.path().join("out/results.json"));
    assert!(out["tests"][0]["models"]["same"]["levels"].is_array());
}

#[test]
fn runs_of_different_tests_or_levels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = config(dir.path(), &["rotate=0,90"]);
    a.data = digits(dir.path(), "a", 0, 40, 0);
    probe::execute(&a, &mut |_, _| {}).unwrap();
    let mut b = config(dir.path(), &["rotate=0,45"]);
    b.data = a.data.clone();
    b.out = dir.path().join("b");
    probe::execute(&b, &mut |_, _| {}).unwrap();
    // The same refusal from the result directories, naming them.
    let dirs = [a.out.clone(), b.out.clone()];
    let err = probe::compare_dirs(&dirs, &dir.path().join("cmp"))
        .unwrap_err()
        .to_string();
    let (da, db) = (a.out.display().to_string(), b.out.display().to_string());
    assert!(
        err.contains(&da) && err.contains(&db) && err.contains("rotate") && err.contains("45"),
        "{err}"
    );

    let mut both = config(dir.path(), &["rotate=0,90"]);
    both.sets = vec![NamedData {
        name: "only".into(),
        spec: a.data.clone(),
    }];
    let err = probe::arms(&both).unwrap_err().to_string();
    assert!(err.contains("at least two"), "{err}");
    both.sets.push(NamedData {
        name: "only".into(),
        spec: a.data.clone(),
    });
    let err = probe::arms(&both).unwrap_err().to_string();
    assert!(err.contains("'only'") && err.contains("twice"), "{err}");
}

#[test]
fn a_grid_runs_in_the_same_pass_and_agrees_with_its_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), &["rotate=0,90,180", "blur=0,1.5"]);
    config.data = digits(dir.path(), "a", 0, 150, 0);
    config.grid = vec![GridSpec::parse("rotate=0,90,180,blur=0,1.5").unwrap()];
    let report = probe::execute(&config, &mut |_, _| {}).unwrap();
    probe::write_report(&config.out, &report, "test").unwrap();
    let test = |name: &str| report.tests.iter().find(|t| t.name == name).unwrap();
    let grid = test("grid:rotate,blur");
    assert_eq!(grid.kind, TestKind::Grid);
    let summary = grid.grid.as_ref().unwrap();
    assert_eq!(
        summary.axes.values,
        [vec![0.0, 90.0, 180.0], vec![0.0, 1.5]]
    );
    // Cell (angle, 0) is the rotation alone; cell (0, sigma) the blur alone.
    for (i, level) in test("rotate").stats.levels.iter().enumerate() {
        assert_eq!(summary.mean_score[i][0], level.mean_score);
    }
    for (j, level) in test("blur").stats.levels.iter().enumerate() {
        assert_eq!(summary.mean_score[0][j], level.mean_score);
    }
    // Levels carry both values, first axis slow.
    let values: Vec<[f64; 2]> = grid
        .stats
        .levels
        .iter()
        .map(|l| l.values.unwrap())
        .collect();
    assert_eq!(values[3], [90.0, 1.5]);
    // The unperturbed cell never changes; turned digits always do.
    assert!(!summary.significant[0][0]);
    assert!(summary.significant[1].iter().all(|&s| s) && summary.significant[2].iter().all(|&s| s));
    assert_eq!(grid.stats.verdict, Verdict::High);
    let threshold = summary.threshold;
    let means: Vec<f64> = summary.mean_score.iter().flatten().copied().collect();
    let (lo, hi) = means
        .iter()
        .fold((1.0f64, 0.0f64), |(l, h), &m| (l.min(m), h.max(m)));
    assert!((threshold - (lo + hi) / 2.0).abs() < 1e-12);

    let out = json(&dir.path().join("out/results.json"));
    let grid = out["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "grid")
        .unwrap();
    assert_eq!(grid["levels"][3]["values"], serde_json::json!([90.0, 1.5]));
    assert_eq!(
        grid["grid"]["perturbations"],
        serde_json::json!(["rotate", "blur"])
    );
    for file in ["plots/grid_rotate_blur.svg", "plots/grid_rotate_blur.png"] {
        assert!(dir.path().join("out").join(file).exists(), "{file}");
    }
    // results.csv: a row per cell, its value the cell's index and its label
    // the two values, as the parameter column names them.
    let mut csv = csv::Reader::from_path(dir.path().join("out/results.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let cells: Vec<[String; 3]> = csv
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[0] == "grid:rotate,blur")
        .map(|r| ["parameter", "value", "label"].map(|c| r[column(c)].to_string()))
        .collect();
    assert_eq!(cells.len(), 6);
    assert_eq!(cells[3], ["angle x sigma", "3", "90 x 1.5"]);
    assert_eq!(cells[0][2], "0 x 0");
}

#[test]
fn finished_runs_compare_from_their_folders_as_in_one_run() {
    // Two sets in one run, then the same two runs compared from their
    // folders: the same per-set levels and the same differences, unpaired.
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), &["rotate=0,90,180"]);
    config.classes = true;
    config.sets = vec![
        NamedData {
            name: "upright".into(),
            spec: digits(dir.path(), "a", 0, 80, 0),
        },
        NamedData {
            name: "turned".into(),
            spec: digits(dir.path(), "b", 80, 150, 1),
        },
    ];
    let (together, _) = run(&config);
    let dirs = ["upright", "turned"].map(|n| config.out.join(n)).to_vec();
    let (apart, reports) = probe::compare_dirs(&dirs, &dir.path().join("cmp")).unwrap();
    probe::write_comparison_report(&dir.path().join("cmp"), &apart, &reports, "test").unwrap();
    assert_eq!(apart.compared, probe::Compared::Sets);
    for (a, b) in together.tests.iter().zip(&apart.tests) {
        let (da, db) = (&a.difference.all()[0], &b.difference.all()[0]);
        assert_eq!(da.largest, db.largest, "{}", a.name);
        assert_eq!(da.verdict, db.verdict);
        let levels = |t: &probe::TestComparison| {
            serde_json::to_value(&t.sets.as_ref().unwrap()[1].1.levels).unwrap()
        };
        assert_eq!(levels(a), levels(b));
    }
    let out = json(&dir.path().join("cmp/results.json"));
    assert_eq!(out["runs"][0]["name"], dirs[0].display().to_string());
    assert!(dir.path().join("cmp/plots/rotate.svg").exists());

    // The same data twice (one model, two runs) compares paired.
    let mut again = config.clone();
    again.sets.clear();
    again.data = config.sets[0].spec.clone();
    again.out = dir.path().join("again");
    probe::execute(&again, &mut |_, _| {}).unwrap();
    let (paired, _) = probe::compare_dirs(
        &[dirs[0].clone(), again.out.clone()],
        &dir.path().join("cmp2"),
    )
    .unwrap();
    assert!(paired.paired);
    assert_eq!(
        paired.tests[0].difference.all()[0].levels[2].ci95,
        [0.0, 0.0]
    );

    let err = probe::compare_dirs(
        &[dirs[0].clone(), dir.path().to_path_buf()],
        &dir.path().join("cmp3"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("scores"), "{err}");

    // One folder twice, however spelled, is refused, naming it.
    let err = probe::compare_dirs(
        &[dirs[0].clone(), dirs[0].join(".")],
        &dir.path().join("cmp4"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("given twice"), "{err}");
    assert!(err.contains(&dirs[0].display().to_string()), "{err}");
}
