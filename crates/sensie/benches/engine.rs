//! Times sensie's engine on one model and batch size: forward throughput
//! (`Engine::predict`) and forward + input gradient of the target logits
//! (`Engine::gradients`). Prints one JSON object; `bench/run.sh` runs it
//! beside onnxruntime's Python API and PyTorch autograd and writes the ratios.
//!
//! `cargo bench -p sensie --bench engine -- MODEL BATCH SECONDS`

mod common;

use std::time::Duration;

use ndarray::{ArrayD, IxDyn};
use sensie::autodiff::Standard;
use sensie::engine::{Engine, EngineOptions, GradientRequest, Score};
use sensie::model::Model;
use sensie::runtime::Runtime;

use common::{median_seconds, parse};

const USAGE: &str = "engine MODEL BATCH SECONDS";

fn main() {
    let [model, batch, seconds] = common::args(USAGE);
    let batch: usize = parse(USAGE, "BATCH", &batch);
    let budget = Duration::from_secs_f64(parse(USAGE, "SECONDS", &seconds));
    let model = Model::load(model).unwrap_or_else(|e| panic!("{e}"));
    let input = model.info().input.clone();
    let mut dims: Vec<usize> = input.shape.iter().map(|d| d.unwrap_or(1)).collect();
    dims[0] = batch;
    let mut state = 1u32;
    let x = ArrayD::from_shape_fn(IxDyn(&dims), |_| {
        state = state.wrapping_mul(1664525).wrapping_add(1013904223);
        (state >> 8) as f32 / (1u32 << 24) as f32
    });
    let mut engine = Engine::new(
        Runtime::new().unwrap(),
        model,
        EngineOptions {
            batch_size: batch,
            threads: 0,
        },
    )
    .unwrap();
    let (forward, forward_reps) = median_seconds(budget, || {
        engine.predict(x.view()).unwrap();
    });
    let classes: Vec<usize> = (0..batch)
        .map(|i| i % engine.score_width().unwrap())
        .collect();
    let seed = engine.class_seed(&classes).unwrap();
    let request = GradientRequest {
        score: Score::Logit,
        rules: &Standard,
        wrt: vec![input.name.clone()],
    };
    let (gradient, gradient_reps) = median_seconds(budget, || {
        engine.gradients(x.view(), seed.view(), &request).unwrap();
    });
    println!(
        "{}",
        serde_json::json!({
            "batch": batch,
            "forward_s": forward,
            "forward_images_per_s": batch as f64 / forward,
            "forward_reps": forward_reps,
            "gradient_s": gradient,
            "gradient_reps": gradient_reps,
        })
    );
}
