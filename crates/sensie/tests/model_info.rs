//! What sensie reads from a model: input name, layout, size, classes and
//! whether the scores are logits or probabilities (fixtures described in
//! each case's meta.json, written by python/make_engine_fixtures.py).

mod common;

use common::data;
use sensie::model::{Layout, Model, OutputKind};

fn load(case: &str) -> Model {
    Model::load(data(&format!("engine/{case}/model.onnx"))).unwrap()
}

#[test]
fn pytorch_cnn_is_nchw_logits() {
    let m = load("mnist_cnn");
    let info = m.info();
    assert_eq!(info.input.name, "input");
    assert_eq!(info.layout, Some(Layout::Nchw));
    assert_eq!(info.image_size(), Some((1, 28, 28)));
    assert_eq!(info.classes(), Some(10));
    assert_eq!(info.output_kind, OutputKind::Logits);
    assert_eq!(info.fixed_batch(), None);
    assert_eq!(info.opset, 17);
}

#[test]
fn keras_style_graph_is_nhwc_probabilities_with_logits_behind_the_softmax() {
    let m = load("nhwc_tf2onnx");
    assert_eq!(m.info().layout, Some(Layout::Nhwc));
    assert_eq!(m.info().image_size(), Some((3, 32, 32)));
    assert_eq!(m.info().output_kind, OutputKind::Probabilities);
    assert_ne!(m.logit_tensor(), m.info().outputs[0].name);
}

#[test]
fn log_softmax_output_is_detected_and_the_user_can_override_it() {
    let mut m = load("ops_zoo_b");
    assert_eq!(m.info().output_kind, OutputKind::LogProbabilities);
    assert!(m.info().output_kind_detected);
    m.set_output_kind("logits".parse().unwrap());
    assert_eq!(m.info().output_kind, OutputKind::Logits);
    assert!(!m.info().output_kind_detected);
    assert!(
        "softmaxish"
            .parse::<OutputKind>()
            .unwrap_err()
            .to_string()
            .contains("logits, probabilities")
    );
}

#[test]
fn old_opsets_load() {
    assert_eq!(load("bn_preserved").info().opset, 11);
}
