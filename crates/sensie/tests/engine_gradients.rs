//! The engine against PyTorch autograd, per example.
//!
//! References: `tests/data/engine/<case>/reference.npz`, written by
//! `python/make_engine_fixtures.py` with PyTorch 2.15 autograd in float32
//! (model outputs checked there against onnxruntime). Tolerance: per-example
//! relative error `||ours - ref|| / ||ref||` below 1e-4; model
//! outputs below 1e-5.

mod common;

use common::{assert_close, data, npz_f32, npz_i64, runtime};
use ndarray::ArrayD;
use sensie::autodiff::{Deconvnet, GuidedBackprop, RuleSet, Standard};
use sensie::engine::{Engine, EngineOptions, GradientRequest, Score};
use sensie::model::Model;

const TOL: f64 = 1e-4;

struct Case {
    engine: Engine,
    npz: std::path::PathBuf,
    meta: serde_json::Value,
    x: ArrayD<f32>,
    target: Vec<usize>,
}

fn case(name: &str) -> Case {
    let dir = data(&format!("engine/{name}"));
    let model = Model::load(dir.join("model.onnx")).expect("fixture model loads");
    let engine = Engine::new(
        runtime(),
        model,
        EngineOptions {
            batch_size: 2,
            threads: 1,
        },
    )
    .expect("engine builds");
    let npz = dir.join("reference.npz");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let x = npz_f32(&npz, "x").expect("x");
    let target = npz_i64(&npz, "target")
        .expect("target")
        .iter()
        .map(|&t| t as usize)
        .collect();
    Case {
        engine,
        npz,
        meta,
        x,
        target,
    }
}

fn input_grad(c: &mut Case, score: Score, rules: &dyn RuleSet) -> ArrayD<f32> {
    let input = c.engine.model().info().input.name.clone();
    let seed = c.engine.class_seed(&c.target).unwrap();
    let req = GradientRequest {
        score,
        rules,
        wrt: vec![input],
    };
    c.engine
        .gradients(c.x.view(), seed.view(), &req)
        .expect("gradients run")
        .grads
        .remove(0)
}

fn check_case(name: &str) {
    let mut c = case(name);
    let want = npz_f32(&c.npz, "outputs").unwrap();
    let got = c.engine.predict(c.x.view()).unwrap();
    assert_close(
        &format!("{name}: outputs vs onnxruntime"),
        &got.into_dyn(),
        &want
            .to_shape(got_shape(&want))
            .unwrap()
            .to_owned()
            .into_dyn(),
        1e-5,
    );

    // The fixture differentiates its `score_tensor`: the logits (found behind
    // a final Softmax) or, for a LogSoftmax model, the output itself.
    let score_tensor = c.meta["score_tensor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let score = if score_tensor == c.engine.model().logit_tensor() {
        Score::Logit
    } else {
        assert_eq!(
            score_tensor,
            c.engine.model().info().outputs[0].name,
            "{name}: score tensor is neither the logits nor the output"
        );
        Score::Output
    };
    let g = input_grad(&mut c, score.clone(), &Standard);
    assert_close(
        &format!("{name}: d logit / d input"),
        &g,
        &npz_f32(&c.npz, "grad_input").unwrap(),
        TOL,
    );

    if let Some(want) = npz_f32(&c.npz, "grad_input_prob") {
        let g = input_grad(&mut c, Score::Probability, &Standard);
        assert_close(&format!("{name}: d probability / d input"), &g, &want, TOL);
    }
    if c.meta["relu_rules"].as_bool() == Some(true) {
        let g = input_grad(&mut c, score.clone(), &GuidedBackprop);
        assert_close(
            &format!("{name}: guided backprop"),
            &g,
            &npz_f32(&c.npz, "grad_input_guided").unwrap(),
            TOL,
        );
        let g = input_grad(&mut c, score.clone(), &Deconvnet);
        assert_close(
            &format!("{name}: deconvnet"),
            &g,
            &npz_f32(&c.npz, "grad_input_deconvnet").unwrap(),
            TOL,
        );
    }
    if let Some(layer) = c.meta["layer"].as_str() {
        let seed = c.engine.class_seed(&c.target).unwrap();
        let req = GradientRequest {
            score,
            rules: &Standard,
            wrt: vec![layer.to_string()],
        };
        let mut out = c.engine.gradients(c.x.view(), seed.view(), &req).unwrap();
        assert_close(
            &format!("{name}: layer {layer} value"),
            &out.values.remove(0),
            &npz_f32(&c.npz, "layer_value").unwrap(),
            1e-5,
        );
        assert_close(
            &format!("{name}: d logit / d {layer}"),
            &out.grads.remove(0),
            &npz_f32(&c.npz, "grad_layer").unwrap(),
            TOL,
        );
    }
}

fn got_shape(want: &ArrayD<f32>) -> (usize, usize) {
    let n = want.shape()[0];
    (n, want.len() / n)
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            check_case(stringify!($name));
        }
    )*};
}

cases!(
    mnist_cnn,
    mnist_cnn_external,
    resnet18,
    mobilenet_v3_small,
    bn_preserved,
    dynamo,
    nhwc_tf2onnx,
    vit_block,
    vit_block_gelu,
    ops_zoo_a,
    ops_zoo_b,
    ops_zoo_c,
    ops_zoo_d,
);

/// Every op with a gradient rule appears in a fixture model above, so its
/// rule is exercised against PyTorch autograd.
#[test]
fn fixtures_cover_every_op_with_a_rule() {
    let required = "Conv ConvTranspose Relu LeakyRelu PRelu Clip Sigmoid Tanh HardSigmoid HardSwish Gelu Erf Elu Softplus \
        MaxPool AveragePool GlobalAveragePool GlobalMaxPool BatchNormalization InstanceNormalization LayerNormalization \
        Gemm MatMul Add Sub Mul Div Pow Sqrt Exp Neg Reshape Flatten Squeeze Unsqueeze Transpose Concat Split Slice Pad \
        Resize ReduceMean ReduceSum ReduceMax Softmax LogSoftmax Dropout Identity Constant Gather Shape";
    let mut seen = std::collections::HashSet::new();
    for entry in std::fs::read_dir(data("engine")).unwrap() {
        let model =
            sensie::testing::onnx::read_model(&entry.unwrap().path().join("model.onnx")).unwrap();
        seen.extend(
            model
                .graph
                .unwrap()
                .node
                .into_iter()
                .filter_map(|n| n.op_type),
        );
    }
    let missing: Vec<&str> = required
        .split_whitespace()
        .filter(|op| !seen.contains(*op))
        .collect();
    assert!(missing.is_empty(), "ops without a fixture: {missing:?}");
}

/// `Score::Tensor`: the gradient of `sum(seed * layer)` w.r.t. the input,
/// seeded with PyTorch's d logit / d layer, is PyTorch's d logit / d input
/// (the chain rule; the fixtures' layers are cuts of their graphs), and the
/// score returned is the layer's value.
fn check_tensor_score(name: &str) {
    let mut c = case(name);
    let layer = c.meta["layer"].as_str().unwrap().to_string();
    let input = c.engine.model().info().input.name.clone();
    let seed = npz_f32(&c.npz, "grad_layer").unwrap();
    let req = GradientRequest {
        score: Score::Tensor(layer.clone()),
        rules: &Standard,
        wrt: vec![input],
    };
    let out = c.engine.gradients(c.x.view(), seed.view(), &req).unwrap();
    assert_close(
        &format!("{name}: d(seed . {layer}) / d input"),
        &out.grads[0],
        &npz_f32(&c.npz, "grad_input").unwrap(),
        TOL,
    );
    let value = npz_f32(&c.npz, "layer_value").unwrap();
    let flat = value
        .to_shape(got_shape(&value))
        .unwrap()
        .to_owned()
        .into_dyn();
    assert_close(
        &format!("{name}: score {layer}"),
        &out.scores.into_dyn(),
        &flat,
        1e-5,
    );
}

#[test]
fn tensor_score_follows_the_chain_rule() {
    check_tensor_score("mnist_cnn");
    check_tensor_score("nhwc_tf2onnx");
}
