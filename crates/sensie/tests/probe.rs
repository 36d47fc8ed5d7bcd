//! The probe end to end on the bundled MNIST CNN (examples/mnist): a known
//! sensitivity (rotation) is found, a perturbation that changes nothing
//! (saturation of a one-band image) and a property unrelated to the data are
//! called low, results are deterministic across batch sizes, and the output
//! files follow the contract.

use std::path::{Path, PathBuf};

use ndarray::{Array1, s};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use sensie::data::DataSpec;
use sensie::probe::{self, ProbeConfig, PropertySpec, SweepSpec};
use sensie::rng::SeededRng;
use sensie::stats::Verdict;

fn example(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/mnist").join(rel)
}

/// The first `n` test digits as npy files, and a metadata CSV with a column
/// of random numbers that have nothing to do with the images.
fn subset(dir: &Path, n: usize) -> DataSpec {
    let x = ndarray::Array4::<f32>::read_npy(std::fs::File::open(example("data/test_x.npy")).unwrap()).unwrap();
    let y = Array1::<i64>::read_npy(std::fs::File::open(example("data/test_y.npy")).unwrap()).unwrap();
    x.slice(s![..n, .., .., ..]).to_owned().write_npy(std::fs::File::create(dir.join("x.npy")).unwrap()).unwrap();
    y.slice(s![..n]).to_owned().write_npy(std::fs::File::create(dir.join("y.npy")).unwrap()).unwrap();
    let mut rng = SeededRng::new(99, &[]);
    let rows: Vec<String> = (0..n).map(|i| format!("{i},{}", rng.uniform())).collect();
    std::fs::write(dir.join("meta.csv"), format!("id,noise\n{}\n", rows.join("\n"))).unwrap();
    DataSpec {
        path: dir.join("x.npy"),
        labels: Some(dir.join("y.npy")),
        metadata: Some(dir.join("meta.csv")),
        metadata_key: Some("id".into()),
        ..DataSpec::default()
    }
}

fn config(dir: &Path, data: DataSpec, perturb: &[&str]) -> ProbeConfig {
    ProbeConfig {
        model: example("mnist_cnn.onnx"),
        out: dir.join("out"),
        data,
        perturb: perturb.iter().map(|p| SweepSpec::parse(p).unwrap()).collect(),
        replicates: 500,
        ..ProbeConfig::default()
    }
}

#[test]
fn rotation_matters_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), subset(dir.path(), 300), &["rotate=0:180:5", "saturation=0,0.5,1"]);
    config.property = vec![PropertySpec::parse("noise=q4")];
    config.classes = true;
    let report = probe::execute(&config, &mut |_, _| {}).unwrap();
    let test = |name: &str| report.tests.iter().find(|t| t.name == name).unwrap();

    let rotate = test("rotate");
    assert_eq!(rotate.stats.verdict, Verdict::High);
    let levels = &rotate.stats.levels;
    assert_eq!(levels.iter().map(|l| l.value).collect::<Vec<_>>(), vec![0.0, 45.0, 90.0, 135.0, 180.0]);
    // Rotation 0 reuses the unperturbed pass: the model's held-out accuracy is 0.965.
    assert!(levels[0].accuracy.unwrap() > 0.9 && levels[2].accuracy.unwrap() < 0.5);
    assert!(rotate.stats.effect.largest_drop.unwrap().ci95[0] > 0.3);

    // Saturation of a one-band image is the identity at every level.
    let saturation = test("saturation");
    assert_eq!(saturation.stats.verdict, Verdict::Low);
    assert_eq!(saturation.stats.effect.size, 0.0);
    assert!(saturation.stats.levels.windows(2).all(|w| w[0].mean_score == w[1].mean_score));

    // Random numbers as a property: bins of different digits, no real effect.
    let noise = test("property:noise");
    assert_eq!(noise.stats.levels.len(), 4);
    assert_eq!(noise.stats.verdict, Verdict::Low, "{:?}", noise.stats.effect);
    assert_eq!(noise.stats.levels.iter().map(|l| l.n).sum::<usize>(), 300);

    let classes = test("classes");
    assert_eq!(classes.stats.levels.len(), 10);
    assert!(classes.stats.slope.is_none());

    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("out/results.json")).unwrap()).unwrap();
    assert_eq!(json["data"]["n"], 300);
    let first = &json["tests"][0];
    for key in ["name", "kind", "parameter", "unit", "levels", "effect", "slope", "threshold", "verdict", "verdict_rule"] {
        assert!(!first[key].is_null(), "results.json test lacks '{key}'");
    }
    for key in ["value", "n", "mean_score", "std_score", "score_ci95", "accuracy"] {
        assert!(!first["levels"][0][key].is_null(), "a level lacks '{key}'");
    }
    assert_eq!(json["tests"][0]["kind"], "perturbation");
    assert!(json["tests"][2]["levels"][0]["lo"].is_number());
    let csv = std::fs::read_to_string(dir.path().join("out/results.csv")).unwrap();
    // Header, 5 + 3 sweep levels, 4 bins, 10 classes.
    assert_eq!(csv.lines().count(), 1 + 5 + 3 + 4 + 10);

    // The output directory now holds results: refused without --force.
    let err = probe::execute(&config, &mut |_, _| {}).err().unwrap().to_string();
    assert!(err.contains("--force"), "{err}");
}

#[test]
fn noise_is_the_same_whatever_the_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let data = subset(dir.path(), 50);
    let run = |batch_size: usize, seed: u64| {
        let mut config = config(dir.path(), data.clone(), &["gaussian-noise=0.1,0.3"]);
        config.batch_size = batch_size;
        config.seed = seed;
        config.force = true;
        probe::execute(&config, &mut |_, _| {}).unwrap().tests[0].stats.levels.iter().map(|l| l.mean_score).collect::<Vec<_>>()
    };
    let a = run(7, 1);
    assert_eq!(a, run(32, 1));
    assert_ne!(a, run(7, 2));
}

#[test]
fn bad_requests_are_refused_before_any_model_work() {
    let dir = tempfile::tempdir().unwrap();
    let data = subset(dir.path(), 10);
    let err = probe::execute(&config(dir.path(), data.clone(), &["blur=-1,1"]), &mut |_, _| {}).err().unwrap().to_string();
    assert!(err.contains("-1") && err.contains("blur"), "{err}");
    let err = SweepSpec::parse("rotat=0:1:2").map(|s| probe::plan(&ProbeConfig { perturb: vec![s], ..ProbeConfig::default() })).unwrap().err().unwrap();
    assert!(err.to_string().contains("did you mean 'rotate'"), "{err}");
    let mut with_property = config(dir.path(), data, &[]);
    with_property.property = vec![PropertySpec::parse("nosie")];
    let err = probe::execute(&with_property, &mut |_, _| {}).err().unwrap().to_string();
    assert!(err.contains("did you mean 'noise'"), "{err}");
}
