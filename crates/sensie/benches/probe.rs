//! Times a perturbation sweep against the raw batched forward pass of the
//! same model and batch size, and reports peak memory.
//!
//! `cargo bench -p sensie --bench probe -- MODEL X.npy Y.npy N LEVELS BATCH`
//!
//! The MNIST test digits are tiled to N images. `forward` is
//! `Engine::predict` over the N preprocessed images; `sweep` is
//! `probe::run` with one `rotate` sweep of LEVELS angles, none of them 0, so
//! every level is perturbed and run, plus the shared unperturbed pass and
//! the statistics (2000 bootstrap replicates). Throughput is images through
//! the model per second: N for the forward pass, N x (LEVELS + 1) for the
//! sweep; each is the median of three runs, alternated. Peak memory is the
//! process's VmHWM after both. Prints one JSON object.

use std::time::Instant;

use ndarray::{Array1, Array4, Axis};
use ndarray_npy::ReadNpyExt;
use sensie::data::{Dataset, Labels};
use sensie::engine::{Engine, EngineOptions};
use sensie::model::{Layout, Model};
use sensie::perturb;
use sensie::preprocess::Preprocess;
use sensie::probe::{self, Plan, RunOptions, Sweep};
use sensie::runtime::Runtime;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let [model, x, y, n, levels, batch] = args.as_slice() else {
        eprintln!("usage: probe MODEL X.npy Y.npy N LEVELS BATCH");
        std::process::exit(2);
    };
    let (n, levels, batch): (usize, usize, usize) = (n.parse().unwrap(), levels.parse().unwrap(), batch.parse().unwrap());
    let x = Array4::<f32>::read_npy(std::fs::File::open(x).unwrap()).unwrap();
    let y = Array1::<i64>::read_npy(std::fs::File::open(y).unwrap()).unwrap();
    let pick: Vec<usize> = (0..n).map(|i| i % x.len_of(Axis(0))).collect();
    let data = Dataset {
        images: x.select(Axis(0), &pick),
        labels: Labels::Classes(pick.iter().map(|&i| y[i] as usize).collect()),
        ids: (0..n).map(|i| i.to_string()).collect(),
        class_names: None,
        metadata: None,
        skipped: Vec::new(),
        path: "tiled".into(),
    };
    let model = Model::load(model).unwrap_or_else(|e| panic!("{e}"));
    let mut engine = Engine::new(Runtime::new().unwrap(), model, EngineOptions { batch_size: batch, threads: 0 }).unwrap();
    let prepared = Preprocess::default().apply(data.images.view(), None, Layout::Nchw).unwrap();

    let values: Vec<f64> = (1..=levels).map(|l| l as f64).collect();
    let sweep = Sweep { name: "rotate".into(), perturbation: perturb::build("rotate", &Default::default()).unwrap(), values, options: Default::default() };
    let plan = Plan { sweeps: vec![sweep], ..Plan::default() };
    let options = RunOptions { batch_size: batch, ..RunOptions::default() };

    // Forward and sweep alternate, three times each, and the medians are
    // compared, so that a change in the machine's load hits both alike.
    engine.predict(prepared.slice(ndarray::s![..batch.min(n), .., .., ..]).into_dyn()).unwrap();
    let (mut forward_times, mut sweep_times) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        engine.predict(prepared.view().into_dyn()).unwrap();
        forward_times.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        probe::run(&mut engine, &data, &Preprocess::default(), &plan, &options, &mut |_, _| {}).unwrap();
        sweep_times.push(t.elapsed().as_secs_f64());
    }
    forward_times.sort_by(f64::total_cmp);
    sweep_times.sort_by(f64::total_cmp);
    let forward = n as f64 / forward_times[1];
    let seconds = sweep_times[1];
    let sweep_rate = (n * (levels + 1)) as f64 / seconds;

    // The producer's work alone (perturb and preprocess every level), which
    // shares the cores with ONNX Runtime during the sweep.
    let t = Instant::now();
    for &value in &plan.sweeps[0].values {
        for start in (0..n).step_by(batch) {
            let raw = data.images.slice(ndarray::s![start..(start + batch).min(n), .., .., ..]);
            let perturbed = perturb::perturb_batch(plan.sweeps[0].perturbation.as_ref(), raw, value, 0, start).unwrap();
            Preprocess::default().apply(perturbed.view(), None, Layout::Nchw).unwrap();
        }
    }
    let producer = t.elapsed().as_secs_f64();

    // The statistics alone, on scores of the same size: part of the sweep's time.
    let scores = ndarray::Array2::from_shape_fn((n, levels), |(i, l)| ((i * 7 + l * 13) % 100) as f64 / 100.0);
    let reference = ndarray::Array1::from_shape_fn(n, |i| (i % 100) as f64 / 100.0);
    let input = sensie::stats::PairedScores { values: &plan.sweeps[0].values, scores: scores.view(), correct: None, reference: reference.view() };
    let t = Instant::now();
    sensie::stats::paired(&input, sensie::stats::Direction::HigherIsBetter, &sensie::stats::Settings::default()).unwrap();
    let statistics = t.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "images": n, "levels": levels, "batch": batch,
            "forward_images_per_s": forward, "sweep_images_per_s": sweep_rate, "ratio": sweep_rate / forward,
            "sweep_seconds": seconds, "statistics_seconds": statistics, "producer_seconds": producer, "peak_rss_mib": peak_rss_mib(),
        })
    );
}
