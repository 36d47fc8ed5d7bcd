//! Bad input to the engine: each case gets a typed error whose message names
//! the file, node or value at fault. None may panic.

mod common;

use common::{data, runtime};
use ndarray::{Array2, Array4};
use sensie::Error;
use sensie::autodiff::Standard;
use sensie::engine::{Engine, EngineOptions, GradientRequest, Score};
use sensie::model::Model;
use sensie::testing::onnx::proto::{
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, ValueInfoProto,
};

fn mnist() -> std::path::PathBuf {
    data("engine/mnist_cnn/model.onnx")
}

fn value(name: &str, dims: &[i64]) -> ValueInfoProto {
    sensie::testing::onnx::f32_value(name, dims, "N")
}

/// A one-node model `y = op(x)` with x and y of shape [N, 4], saved in `dir`.
fn one_op_model(dir: &std::path::Path, op: &str) -> std::path::PathBuf {
    let model = ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        graph: Some(GraphProto {
            name: Some("tiny".into()),
            node: vec![NodeProto {
                op_type: Some(op.into()),
                name: Some(format!("my_{op}")),
                input: vec!["x".into()],
                output: vec!["y".into()],
                ..Default::default()
            }],
            input: vec![value("x", &[-1, 4])],
            output: vec![value("y", &[-1, 4])],
            ..Default::default()
        }),
        ..Default::default()
    };
    let path = dir.join(format!("{op}.onnx"));
    std::fs::write(&path, sensie::testing::onnx::encode_model(&model)).unwrap();
    path
}

#[test]
fn a_file_that_is_not_onnx_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.onnx");
    std::fs::write(&path, "this is a text file, not a model").unwrap();
    let err = Model::load(&path).unwrap_err();
    assert!(matches!(err, Error::NotOnnx { .. }), "{err}");
    assert!(err.to_string().contains("notes.onnx"), "{err}");
}

#[test]
fn a_truncated_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(mnist()).unwrap();
    let path = dir.path().join("cut.onnx");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = Model::load(&path).unwrap_err();
    assert!(err.to_string().contains("cut.onnx"), "{err}");
}

#[test]
fn truncated_external_data_names_the_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = data("engine/mnist_cnn_external");
    std::fs::copy(src.join("model.onnx"), dir.path().join("model.onnx")).unwrap();
    let weights = std::fs::read(src.join("model.onnx.data")).unwrap();
    std::fs::write(
        dir.path().join("model.onnx.data"),
        &weights[..weights.len() - 100],
    )
    .unwrap();
    let err = Model::load(dir.path().join("model.onnx")).unwrap_err();
    assert!(
        err.to_string().contains("model.onnx.data") && err.to_string().contains("truncated"),
        "{err}"
    );
}

#[test]
fn an_op_onnx_runtime_refuses_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let model = Model::load(one_op_model(dir.path(), "NoSuchOp")).unwrap();
    let err = Engine::new(runtime(), model, EngineOptions::default())
        .err()
        .expect("ONNX Runtime refuses an unknown op");
    assert!(matches!(err, Error::Runtime { .. }), "{err}");
    assert!(err.to_string().contains("NoSuchOp"), "{err}");
}

#[test]
fn a_gradient_through_an_op_without_a_rule_names_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let model = Model::load(one_op_model(dir.path(), "Cos")).unwrap();
    let mut engine = Engine::new(runtime(), model, EngineOptions::default()).unwrap();
    let x = Array2::<f32>::ones((2, 4)).into_dyn();
    // The forward pass works for any op ONNX Runtime runs...
    assert_eq!(engine.predict(x.view()).unwrap().shape(), &[2, 4]);
    // ...the gradient refuses rather than being silently wrong.
    let seed = engine.class_seed(&[0, 1]).unwrap();
    let req = GradientRequest {
        score: Score::Logit,
        rules: &Standard,
        wrt: vec!["x".into()],
    };
    let err = engine.gradients(x.view(), seed.view(), &req).unwrap_err();
    assert!(matches!(err, Error::NoGradientRule { .. }), "{err}");
    assert!(
        err.to_string().contains("my_Cos") && err.to_string().contains("Cos"),
        "{err}"
    );
}

#[test]
fn a_target_class_out_of_range_is_refused() {
    let mut engine = Engine::new(
        runtime(),
        Model::load(mnist()).unwrap(),
        EngineOptions::default(),
    )
    .unwrap();
    let err = engine.class_seed(&[3, 10]).unwrap_err();
    assert!(
        err.to_string().contains("target class 10") && err.to_string().contains("10 classes"),
        "{err}"
    );
}

#[test]
fn a_tensor_score_refuses_a_seed_of_the_wrong_size_and_an_unknown_tensor() {
    let mut engine = Engine::new(
        runtime(),
        Model::load(mnist()).unwrap(),
        EngineOptions::default(),
    )
    .unwrap();
    let x = Array4::<f32>::zeros((2, 1, 28, 28)).into_dyn();
    let wrt = vec!["input".to_string()];
    let req = GradientRequest {
        score: Score::Tensor("/relu2/Relu_output_0".into()),
        rules: &Standard,
        wrt: wrt.clone(),
    };
    let err = engine
        .gradients(x.view(), Array2::<f32>::ones((2, 10)).view(), &req)
        .unwrap_err();
    assert!(
        err.to_string().contains("3136 elements per example")
            && err.to_string().contains("[16, 14, 14]"),
        "{err}"
    );
    let req = GradientRequest {
        score: Score::Tensor("/relu2/Relu".into()),
        rules: &Standard,
        wrt,
    };
    let err = engine
        .gradients(x.view(), Array2::<f32>::ones((2, 10)).view(), &req)
        .unwrap_err();
    assert!(
        matches!(err, Error::UnknownTensor { .. })
            && err.to_string().contains("/relu2/Relu_output_0"),
        "{err}"
    );
}

#[test]
fn data_of_the_wrong_shape_is_refused_with_the_expected_shape() {
    let mut engine = Engine::new(
        runtime(),
        Model::load(mnist()).unwrap(),
        EngineOptions::default(),
    )
    .unwrap();
    let x = Array4::<f32>::zeros((2, 28, 28, 1)).into_dyn();
    let err = engine.predict(x.view()).unwrap_err();
    assert!(
        err.to_string().contains("[2, 28, 28, 1]") && err.to_string().contains("[N, 1, 28, 28]"),
        "{err}"
    );
    // No examples at all: said so, not "[0, 1, 28, 28] expects [N, 1, 28, 28]".
    let empty = Array4::<f32>::zeros((0, 1, 28, 28)).into_dyn();
    let err = engine.predict(empty.view()).unwrap_err().to_string();
    assert!(err.contains("holds no examples"), "{err}");
}

#[test]
fn an_unknown_layer_lists_the_closest_names() {
    let mut engine = Engine::new(
        runtime(),
        Model::load(mnist()).unwrap(),
        EngineOptions::default(),
    )
    .unwrap();
    let x = Array4::<f32>::zeros((1, 1, 28, 28)).into_dyn();
    let err = engine
        .tensors(x.view(), &["/relu2/Relu_output".into()])
        .unwrap_err();
    assert!(err.to_string().contains("/relu2/Relu_output_0"), "{err}");
}

#[test]
fn data_of_the_wrong_dtype_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    // A .npy of complex numbers.
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let header = "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }";
    let padded = format!("{header:<117}\n");
    bytes.extend_from_slice(&(padded.len() as u16).to_le_bytes());
    bytes.extend_from_slice(padded.as_bytes());
    bytes.extend_from_slice(&[0; 16]);
    std::fs::write(&path, bytes).unwrap();
    let err = sensie::data::read_array(&path).unwrap_err();
    assert!(
        err.to_string().contains("x.npy") && err.to_string().contains("dtype"),
        "{err}"
    );
}

#[test]
fn a_set_stop_flag_cancels_the_next_call_and_its_sibling_engines() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let model = Model::load(mnist()).unwrap();
    let mut engine = Engine::new(runtime(), model.clone(), EngineOptions::default()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    engine.stop_when(stop.clone());
    let x = Array4::<f32>::zeros((3, 1, 28, 28)).into_dyn();
    assert_eq!(engine.predict(x.view()).unwrap().nrows(), 3);
    stop.store(true, Ordering::Relaxed);
    assert!(matches!(engine.predict(x.view()), Err(Error::Cancelled)));
    let mut sibling = engine.with_model(model).unwrap();
    assert!(matches!(sibling.predict(x.view()), Err(Error::Cancelled)));
}
