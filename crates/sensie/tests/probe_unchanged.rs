//! The sweep runner's speed work must not move a number: every built-in
//! perturbation, swept on a few MNIST digits and lens images, gives exactly
//! the results.json committed in `data/probe/unchanged/` (numbers to 1e-12 relative), written by the
//! runner before its threads, channel and scoring were reworked (commit
//! 2049a1a). Any change to what is perturbed, with which seed, at which
//! level, or how it is scored and summarised shows up here as a difference.
//!
//! Paths (the temporary data files) are left out of the comparison. To
//! rewrite the files after a change that is meant to move numbers, run with
//! `SENSIE_WRITE_UNCHANGED=1` and say why in the commit.

mod common;

use std::path::Path;

use ndarray::{Array1, Array4, s};
use ndarray_npy::{NpzReader, ReadNpyExt, WriteNpyExt};
use sensie::data::DataSpec;
use sensie::probe::{self, ProbeConfig, SweepSpec};

use common::repo;

/// The first `n` images and labels as npy files in `dir`.
fn subset(dir: &Path, x: Array4<f32>, y: Array1<i64>, n: usize) -> DataSpec {
    x.slice(s![..n, .., .., ..])
        .to_owned()
        .write_npy(std::fs::File::create(dir.join("x.npy")).unwrap())
        .unwrap();
    y.slice(s![..n])
        .to_owned()
        .write_npy(std::fs::File::create(dir.join("y.npy")).unwrap())
        .unwrap();
    DataSpec {
        path: dir.join("x.npy"),
        labels: Some(dir.join("y.npy")),
        ..DataSpec::default()
    }
}

/// Runs `perturb` on `data` (odd batch size, so batches and levels do not
/// line up) and compares results.json, paths aside, with `expected`.
fn unchanged(model: &str, data: DataSpec, perturb: &[&str], dir: &Path, expected: &str) {
    let config = ProbeConfig {
        model: repo(model),
        out: dir.join("out"),
        data,
        perturb: perturb
            .iter()
            .map(|p| SweepSpec::parse(p).unwrap())
            .collect(),
        classes: true,
        seed: 7,
        replicates: 300,
        batch_size: 13,
        ..ProbeConfig::default()
    };
    probe::execute(&config, &mut |_, _| {}).unwrap();
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/results.json")).unwrap()).unwrap();
    json["model"]["path"] = serde_json::Value::Null;
    json["data"]["path"] = serde_json::Value::Null;
    let got = serde_json::to_string_pretty(&json).unwrap() + "\n";
    let path = repo("crates/sensie/tests/data/probe/unchanged").join(expected);
    if std::env::var_os("SENSIE_WRITE_UNCHANGED").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    if let Some(at) = common::json_difference(&json, &want, String::new()) {
        panic!(
            "{} differs from this run at {at}: the runner changed a number",
            path.display()
        );
    }
}

#[test]
fn mnist_sweeps_give_the_committed_results() {
    let dir = tempfile::tempdir().unwrap();
    let read = |rel: &str| std::fs::File::open(repo(rel)).unwrap();
    let x = Array4::<f32>::read_npy(read("examples/mnist/data/test_x.npy")).unwrap();
    let y = Array1::<i64>::read_npy(read("examples/mnist/data/test_y.npy")).unwrap();
    let perturb = [
        "rotate=0:90:4",
        "flip(axis=vertical)=0,1",
        "translate(direction=30)=0,1.5,3",
        "zoom=0.8,1,1.3",
        "blur=0,0.7,1.5",
        "psf(profile=moffat)=0,1.5,3",
        "gaussian-noise=0,0.1,0.3",
        "poisson-noise=5,50",
        "brightness=0.5,1,1.5",
        "contrast=0.5,1,2",
        "gamma=0.5,1,2",
        "occlude(position=random)=0,6,12",
    ];
    unchanged(
        "examples/mnist/mnist_cnn.onnx",
        subset(dir.path(), x, y, 40),
        &perturb,
        dir.path(),
        "mnist.json",
    );
}

#[test]
fn lens_sweeps_give_the_committed_results() {
    let dir = tempfile::tempdir().unwrap();
    let mut npz =
        NpzReader::new(std::fs::File::open(repo("examples/lens/data/test.npz")).unwrap()).unwrap();
    let x: Array4<f32> = npz.by_name("x").unwrap();
    let y: Array1<i64> = npz.by_name("y").unwrap();
    let perturb = [
        "seeing(current=1.5,pixel-scale=0.263)=1.5,2,3",
        "psf(profile=moffat,pixel-scale=0.263)=0,1,2",
        "magnitude=0,0.5,1.5",
        "saturation=0,0.5,1",
        "band-scale(band=2)=0.5,1,2",
        "band-drop=-1,0,1",
        "poisson-noise=20,200",
        "rotate=0,90,45",
    ];
    unchanged(
        "examples/lens/lens_finder.onnx",
        subset(dir.path(), x, y, 30),
        &perturb,
        dir.path(),
        "lens.json",
    );
}
