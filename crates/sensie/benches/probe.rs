//! Times one perturbation sweep through the library (`probe::run_plan`: the
//! unperturbed pass, every level perturbed in the producer thread and run by
//! ONNX Runtime, and the statistics with 2000 bootstrap replicates), and
//! reports its memory. `bench/sweep.py` runs it for the sweep-only time
//! beside `sensie probe` and the Python peers, and once per process at 1x, 4x
//! and 16x the images for the scale table.
//!
//! `cargo bench -p sensie --bench probe -- MODEL X.npy Y.npy N SWEEP BATCH REPEATS`
//!
//! The images of X.npy are tiled to N. SWEEP is the command line's
//! `--perturb` text, e.g. `rotate=0:180:19`. The run is repeated REPEATS
//! times and the median taken. Prints one JSON object: the time, images
//! through the model per second (N for the unperturbed pass plus N per level
//! that is not the identity), the mean correct-class probability per level,
//! and memory in MiB: the data set as loaded, the resident size before the
//! first run (data, model and ONNX Runtime loaded) and the resident peak.

mod common;

use std::time::Instant;

use ndarray::{Array1, Array4, Axis};
use ndarray_npy::ReadNpyExt;
use sensie::data::{Dataset, Labels};
use sensie::model::Model;
use sensie::preprocess::Preprocess;
use sensie::probe::{self, ProbeConfig, RunOptions, SweepSpec};

use common::{parse, status_mib};

const USAGE: &str =
    "probe MODEL X.npy Y.npy N SWEEP BATCH REPEATS   (SWEEP as --perturb: rotate=0:180:19)";

/// The first `n` images of `x`, repeated as often as needed, with their labels.
fn tiled(x: &Array4<f32>, y: &Array1<i64>, n: usize) -> Dataset {
    let pick: Vec<usize> = (0..n).map(|i| i % x.len_of(Axis(0))).collect();
    let labels = Labels::Classes(pick.iter().map(|&i| y[i] as usize).collect());
    sensie::data::from_memory("tiled", x.select(Axis(0), &pick), labels, None, false)
        .expect("finite MNIST digits")
}

fn main() {
    let [model, x, y, n, sweep, batch, repeats] = common::args(USAGE);
    let (n, batch, repeats): (usize, usize, usize) = (
        parse(USAGE, "N", &n),
        parse(USAGE, "BATCH", &batch),
        parse(USAGE, "REPEATS", &repeats),
    );
    if n == 0 || batch == 0 || repeats == 0 {
        common::fail(USAGE, "N, BATCH and REPEATS must be at least 1");
    }
    let spec = SweepSpec::parse(&sweep).unwrap_or_else(|e| common::fail(USAGE, &e.to_string()));
    let plan = probe::plan(&ProbeConfig {
        perturb: vec![spec],
        ..ProbeConfig::default()
    })
    .unwrap_or_else(|e| common::fail(USAGE, &e.to_string()));
    let read = |path: &str| std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let data = {
        let x = Array4::<f32>::read_npy(read(&x)).unwrap_or_else(|e| panic!("{x}: {e}"));
        let y = Array1::<i64>::read_npy(read(&y)).unwrap_or_else(|e| panic!("{y}: {e}"));
        tiled(&x, &y, n)
    };
    let model = Model::load(&model).unwrap_or_else(|e| panic!("{e}"));
    let mut engine = probe::sweep_engine(model, batch, plan.thread_budget(0, batch)).unwrap();
    let options = RunOptions {
        batch_size: batch,
        ..RunOptions::default()
    };
    let before = status_mib("VmRSS");

    let mut times = Vec::new();
    let mut tests = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        tests = probe::run_plan(
            &mut engine,
            &data,
            &Preprocess::default(),
            &plan,
            &options,
            &mut |_, _| {},
        )
        .unwrap()
        .0;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let seconds = times[times.len() / 2];
    let sweep = &plan.sweeps[0];
    let identity = sweep.perturbation.parameter().identity;
    let passes = 1 + sweep.values.iter().filter(|&&v| v != identity).count();
    let levels = &tests[0].stats.levels;
    println!(
        "{}",
        serde_json::json!({
            "images": n, "levels": levels.len(), "batch": batch, "repeats": repeats,
            "seconds": seconds, "forward_images_per_s": (n * passes) as f64 / seconds,
            "values": levels.iter().map(|l| l.value).collect::<Vec<_>>(),
            "mean_scores": levels.iter().map(|l| l.mean_score).collect::<Vec<_>>(),
            "data_mib": (data.images.len() * size_of::<f32>()) as f64 / (1024.0 * 1024.0),
            "rss_before_mib": before, "peak_rss_mib": status_mib("VmHWM"),
        })
    );
}
