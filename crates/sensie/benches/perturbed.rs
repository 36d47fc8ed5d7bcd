//! Writes the images a sweep feeds the model, perturbed beforehand, for the
//! forward-only loop of `bench/perturbations.py`: the limit a sweep is
//! measured against is ONNX Runtime running the same forward passes on
//! images that cost nothing to make. The images are made by sensie's own
//! perturbations (the same seeds as `sensie probe --seed SEED`), so the loop
//! and the sweep score exactly the same inputs.
//!
//! `cargo bench -p sensie --bench perturbed -- DATA SWEEP SEED OUT.npy`
//!
//! DATA is any data file `sensie probe --data` reads (.npy, .npz). SWEEP is
//! the command line's `--perturb` text. OUT.npy gets one stack of images per
//! level that is not the perturbation's identity (those levels reuse the
//! unperturbed pass, in sensie and in the loop alike): L x N x C x H x W,
//! float32. Prints one JSON object: the sweep's values and which of them
//! were written.

mod common;

use ndarray::{Array5, Axis};
use ndarray_npy::WriteNpyExt;
use sensie::data::DataSpec;
use sensie::perturb::perturb_batch;
use sensie::probe::{self, ProbeConfig, SweepSpec};

const USAGE: &str = "perturbed DATA SWEEP SEED OUT.npy   (SWEEP as --perturb: rotate=0:180:19)";

fn main() {
    let [data, sweep, seed, out] = common::args(USAGE);
    let seed: u64 = common::parse(USAGE, "SEED", &seed);
    let spec = SweepSpec::parse(&sweep).unwrap_or_else(|e| common::fail(USAGE, &e.to_string()));
    let plan = probe::plan(&ProbeConfig {
        perturb: vec![spec],
        ..ProbeConfig::default()
    })
    .unwrap_or_else(|e| common::fail(USAGE, &e.to_string()));
    let images = sensie::data::load_images(&DataSpec {
        path: data.into(),
        ..DataSpec::default()
    })
    .unwrap_or_else(|e| common::fail(USAGE, &e.to_string()))
    .images;
    let sweep = &plan.sweeps[0];
    let identity = sweep.perturbation.parameter().identity;
    let written: Vec<f64> = sweep
        .values
        .iter()
        .copied()
        .filter(|&v| v != identity)
        .collect();
    let (n, c, h, w) = images.dim();
    let mut stack = Array5::<f32>::zeros((written.len(), n, c, h, w));
    for (mut level, &value) in stack.axis_iter_mut(Axis(0)).zip(&written) {
        let images = perturb_batch(sweep.perturbation.as_ref(), images.view(), value, seed, 0)
            .unwrap_or_else(|e| panic!("{e}"));
        level.assign(&images);
    }
    stack
        .write_npy(std::fs::File::create(&out).unwrap_or_else(|e| panic!("{out}: {e}")))
        .unwrap_or_else(|e| panic!("{out}: {e}"));
    println!(
        "{}",
        serde_json::json!({ "values": sweep.values, "written": written })
    );
}
