//! Times sensie's attribution methods on one model and batch of real inputs:
//! saliency, Integrated Gradients (50 Gauss-Legendre steps, zero baseline),
//! Grad-CAM (default layer, upsampled) and occlusion (4 x 4 window, stride
//! 2). Prints one JSON object of median seconds per call; `bench/run.sh`
//! runs it beside Captum (`bench/explain.py`) and writes the ratios.
//!
//! `cargo bench -p sensie --bench explain -- MODEL DATA.npy BATCH SECONDS`

mod common;

use std::time::Duration;

use ndarray::{Axis, Slice};
use sensie::engine::{Engine, EngineOptions, Score};
use sensie::explain::{self, Options, TargetSpec, Targets};
use sensie::model::Model;
use sensie::runtime::Runtime;

use common::median_seconds;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let [model, data, batch, seconds] = args.as_slice() else {
        eprintln!("usage: explain MODEL DATA.npy BATCH SECONDS");
        std::process::exit(2);
    };
    let batch: usize = batch.parse().expect("batch is a number");
    let budget = Duration::from_secs_f64(seconds.parse().expect("seconds is a number"));
    let model = Model::load(model).unwrap_or_else(|e| panic!("{e}"));
    let x = sensie::data::read_array(std::path::Path::new(data)).unwrap_or_else(|e| panic!("{e}"));
    let x = x.slice_axis(Axis(0), Slice::from(0..batch)).to_owned();
    let mut engine = Engine::new(Runtime::new().unwrap(), model, EngineOptions { batch_size: 32, threads: 0 }).unwrap();
    let targets = Targets::resolve(&mut engine, x.view(), TargetSpec::Predicted, None, Score::Logit).unwrap();
    let options = Options { window: 4, stride: 2, ..Options::default() };
    let mut results = serde_json::Map::new();
    results.insert("batch".into(), batch.into());
    for name in ["saliency", "integrated-gradients", "gradcam", "occlusion"] {
        let method = explain::build(name, &options).unwrap();
        let (s, reps) = median_seconds(budget, || {
            method.attribute(&mut engine, x.view(), &targets).unwrap();
        });
        results.insert(name.into(), serde_json::json!({ "seconds": s, "per_image_s": s / batch as f64, "reps": reps }));
    }
    println!("{}", serde_json::Value::Object(results));
}
