//! Gradient rules of single ops beyond the engine cases of engine_gradients.rs:
//! float64 Casts, strided and reversed Slices, Pad in reflect, edge and wrap
//! modes and with cropping pads, Where (the dynamo exporter's Softplus), against PyTorch autograd (float64) on the
//! same computation. Fixtures: `tests/data/engine_ops/`, written by
//! `python/make_engine_op_fixtures.py` (model outputs checked there against
//! onnxruntime). Tolerance: per-example relative error below 1e-4.

mod common;

use common::{assert_close, data, npz_f32, npz_i64, runtime};
use sensie::autodiff::Standard;
use sensie::engine::{Engine, EngineOptions, GradientRequest, Score};
use sensie::model::Model;

fn engine(model: &str) -> Engine {
    let model = Model::load(data(&format!("engine_ops/{model}"))).expect("fixture model loads");
    Engine::new(runtime(), model, EngineOptions::default()).expect("engine builds")
}

fn check(case: &str) {
    let npz = data(&format!("engine_ops/{case}.npz"));
    let mut engine = engine(&format!("{case}.onnx"));
    let x = npz_f32(&npz, "x").unwrap();
    let target: Vec<usize> = npz_i64(&npz, "target")
        .unwrap()
        .iter()
        .map(|&t| t as usize)
        .collect();
    let got = engine.predict(x.view()).unwrap().into_dyn();
    assert_close(
        &format!("{case}: outputs vs onnxruntime"),
        &got,
        &npz_f32(&npz, "outputs").unwrap(),
        1e-5,
    );
    let seed = engine.class_seed(&target).unwrap();
    let req = GradientRequest {
        score: Score::Output,
        rules: &Standard,
        wrt: vec![engine.model().info().input.name.clone()],
    };
    let g = engine
        .gradients(x.view(), seed.view(), &req)
        .unwrap()
        .grads
        .remove(0);
    assert_close(
        &format!("{case}: d output / d input"),
        &g,
        &npz_f32(&npz, "grad_input").unwrap(),
        1e-4,
    );
}

#[test]
fn a_cast_to_float64_and_back_passes_the_gradient() {
    check("cast_float64");
}

#[test]
fn where_sends_the_gradient_to_the_branch_taken_as_dynamo_softplus_needs() {
    check("where_softplus");
}

#[test]
fn a_slice_with_steps_and_negative_axes_scatters_the_gradient_back() {
    check("slice_steps");
}

#[test]
fn reflect_padding_sums_the_gradient_of_mirrored_pixels() {
    check("pad_reflect");
}

#[test]
fn edge_padding_with_cropping_pads_sums_the_gradient_at_the_edges() {
    check("pad_edge_cropping");
}

#[test]
fn wrap_padding_along_named_axes_sums_the_gradient_of_wrapped_pixels() {
    check("pad_wrap");
}

#[test]
fn a_reduction_over_the_batch_axis_is_refused_naming_the_node() {
    let mut engine = engine("reduce_max_over_batch.onnx");
    let x = ndarray::ArrayD::<f32>::zeros(vec![2, 3, 7, 7]);
    let seed = engine.class_seed(&[1, 2]).unwrap();
    let req = GradientRequest {
        score: Score::Output,
        rules: &Standard,
        wrt: vec![engine.model().info().input.name.clone()],
    };
    let err = engine.gradients(x.view(), seed.view(), &req).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("max_of_batch") && text.contains("ReduceMax over the batch axis"),
        "{text}"
    );
}
