//! ONNX loading and the graph rewrite: any bytes give a model or an error,
//! and a model that loads with an image input is differentiated (the input
//! gradient of its first class on one example), giving gradients or an error.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use sensie::autodiff::Standard;
use sensie::engine::{Engine, EngineOptions, GradientRequest, Score};
use sensie::model::Model;
use sensie::runtime::Runtime;

fuzz_target!(|data: &[u8]| {
    let Ok(model) = Model::load(common::file("model.onnx", data)) else {
        return;
    };
    let info = model.info().clone();
    let Some((c, h, w)) = info.image_size() else {
        return;
    };
    if c * h * w > 1 << 16 {
        return;
    }
    let Ok(runtime) = Runtime::new() else { return };
    let Ok(mut engine) = Engine::new(runtime, model, EngineOptions::default()) else {
        return;
    };
    let shape: Vec<usize> = match info.layout {
        Some(sensie::model::Layout::Nhwc) => vec![1, h, w, c],
        _ => vec![1, c, h, w],
    };
    let x = ndarray::ArrayD::<f32>::from_elem(shape, 0.5);
    let seed =
        ndarray::Array2::<f32>::from_shape_fn((1, info.classes().unwrap_or(1).max(1)), |(_, k)| {
            f32::from(k == 0)
        });
    let request = GradientRequest {
        score: Score::Logit,
        rules: &Standard,
        wrt: vec![info.input.name.clone()],
    };
    let _ = engine.gradients(x.view(), seed.view(), &request);
});
