//! Times sensie's attribution methods on one model and batch of real inputs:
//! saliency, Integrated Gradients (50 Gauss-Legendre steps, zero baseline),
//! Grad-CAM (default layer, upsampled), guided backprop and occlusion (4 x 4
//! window, stride 2), or the comma-separated METHODS named. Prints one JSON
//! object: per method, the median seconds per call and its memory: the
//! resident peak while it ran, above the resident size before it (the model,
//! data and ONNX Runtime loaded), and the process's peak so far. Memory per
//! method means something only with one method per process, which is how
//! `bench/explain.py` runs it for the memory table; the timing runs take all
//! methods in one process beside Captum and write the ratios.
//!
//! `cargo bench -p sensie --bench explain -- MODEL DATA.npy BATCH SECONDS METHODS`

mod common;

use std::time::Duration;

use ndarray::{Axis, Slice};
use sensie::engine::{Engine, EngineOptions, Score};
use sensie::explain::{self, Options, TargetSpec, Targets};
use sensie::model::Model;
use sensie::runtime::Runtime;

use common::{median_seconds, parse, reset_peak, status_mib};

const USAGE: &str = "explain MODEL DATA.npy BATCH SECONDS METHODS (comma-separated, or 'all')";
const ALL: [&str; 5] = [
    "saliency",
    "integrated-gradients",
    "gradcam",
    "guided-backprop",
    "occlusion",
];

fn main() {
    let [model, data, batch, seconds, methods] = common::args(USAGE);
    let batch: usize = parse(USAGE, "BATCH", &batch);
    let budget = Duration::from_secs_f64(parse(USAGE, "SECONDS", &seconds));
    let methods: Vec<&str> = if methods == "all" {
        ALL.to_vec()
    } else {
        methods.split(',').collect()
    };
    if let Some(bad) = methods.iter().find(|m| !ALL.contains(m)) {
        common::fail(
            USAGE,
            &format!("unknown method '{bad}' (one of {})", ALL.join(", ")),
        );
    }
    let model = Model::load(model).unwrap_or_else(|e| panic!("{e}"));
    let x = sensie::data::read_array(std::path::Path::new(&data)).unwrap_or_else(|e| panic!("{e}"));
    let x = x.slice_axis(Axis(0), Slice::from(0..batch)).to_owned();
    let mut engine = Engine::new(
        Runtime::new().unwrap(),
        model,
        EngineOptions {
            batch_size: 32,
            threads: 0,
        },
    )
    .unwrap();
    let targets = Targets::resolve(
        &mut engine,
        x.view(),
        TargetSpec::Predicted,
        None,
        Score::Logit,
    )
    .unwrap();
    let options = Options {
        window: 4,
        stride: 2,
        ..Options::default()
    };
    let mut results = serde_json::Map::new();
    results.insert("batch".into(), batch.into());
    for name in methods {
        let method = explain::build(name, &options).unwrap();
        reset_peak();
        let before = status_mib("VmRSS");
        let (s, reps) = median_seconds(budget, || {
            method.attribute(&mut engine, x.view(), &targets).unwrap();
        });
        let peak = status_mib("VmHWM");
        results.insert(
            name.into(),
            serde_json::json!({
                "seconds": s, "per_image_s": s / batch as f64, "reps": reps,
                "added_peak_mib": peak - before, "process_peak_mib": peak,
            }),
        );
    }
    println!("{}", serde_json::Value::Object(results));
}
