//! The ONNX project's own backend test models (`light`, `pytorch-converted`,
//! `pytorch-operator`, copied from the onnx 1.23 wheel by
//! `python/copy_onnx_backend_data.py`) run through sensie's model loading and
//! runtime, with outputs equal to the stored references within each case's
//! tolerance (onnx's runner: |out - ref| <= atol + rtol |ref|).
//!
//! `manifest.json` marks the cases ONNX Runtime 1.32 itself cannot run
//! (opset-6 models: it has no kernels below opset 7), with the reason; they
//! are skipped and counted, and the count is pinned so a regression shows.

mod common;

use std::path::Path;

use common::{data, runtime};
use ort::value::{DynValue, Tensor};
use prost::Message;
use sensie::engine::{Engine, EngineOptions};
use sensie::model::Model;
use sensie::testing::onnx::{self, TensorProto};

fn read_tensor(path: &Path) -> TensorProto {
    TensorProto::decode(std::fs::read(path).unwrap().as_slice()).unwrap()
}

fn to_value(t: &TensorProto) -> DynValue {
    let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    match t.data_type {
        Some(onnx::dtype::FLOAT) => Tensor::from_array((
            shape,
            onnx::tensor_to_f32(t).unwrap().into_raw_vec_and_offset().0,
        ))
        .unwrap()
        .into_dyn(),
        Some(onnx::dtype::INT64) => Tensor::from_array((
            shape,
            onnx::tensor_to_i64(t).unwrap().into_raw_vec_and_offset().0,
        ))
        .unwrap()
        .into_dyn(),
        other => panic!("fixture input of type {other:?} not handled"),
    }
}

#[test]
fn backend_models_match_their_stored_outputs() {
    let root = data("onnx-backend");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("manifest.json")).unwrap())
            .unwrap();
    let rt = runtime();
    let (mut passed, mut skipped, mut through_engine) = (0, 0, 0);
    for case in manifest["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if case["ok"] != true {
            skipped += 1;
            continue;
        }
        let dir = root.join(name);
        let model =
            onnx::read_model(&dir.join("model.onnx")).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut session = rt
            .session(&onnx::encode_model(&model), name, Default::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let set = dir.join("test_data_set_0");
        let input_names: Vec<String> = sensie::testing::real_inputs(model.graph.as_ref().unwrap())
            .iter()
            .map(|i| i.name.clone().unwrap())
            .collect();
        let inputs: Vec<(String, DynValue)> = input_names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    n.clone(),
                    to_value(&read_tensor(&set.join(format!("input_{i}.pb")))),
                )
            })
            .collect();
        let outputs = session
            .run(inputs)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let tol = (
            case["rtol"].as_f64().unwrap(),
            case["atol"].as_f64().unwrap(),
        );
        let expected = |i: usize| {
            onnx::tensor_to_f32(&read_tensor(&set.join(format!("output_{i}.pb")))).unwrap()
        };
        for (i, out) in model.graph.as_ref().unwrap().output.iter().enumerate() {
            let got = outputs[out.name.as_deref().unwrap()]
                .try_extract_array::<f32>()
                .unwrap();
            assert_within(
                &format!("{name}: output {i}"),
                got.iter(),
                got.shape(),
                &expected(i),
                tol,
            );
        }
        // Single float-input models also run through sensie's engine.
        if case["inputs"]
            .as_array()
            .is_some_and(|i| i.len() == 1 && i[0]["dtype"] == "float32")
            && let Ok(model) = Model::load(dir.join("model.onnx"))
        {
            let x = onnx::tensor_to_f32(&read_tensor(&set.join("input_0.pb"))).unwrap();
            let mut engine = Engine::new(rt.clone(), model, EngineOptions::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let got = engine
                .predict(x.view())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let want = expected(0);
            assert_within(
                &format!("{name}: engine"),
                got.iter(),
                &[got.len()],
                &want.to_shape(want.len()).unwrap().into_dyn().to_owned(),
                tol,
            );
            through_engine += 1;
        }
        passed += 1;
    }
    assert_eq!(
        (passed, skipped),
        (92, 34),
        "cases run and skipped (see manifest.json for the reasons)"
    );
    assert!(
        through_engine >= 60,
        "only {through_engine} cases ran through the engine"
    );
}

/// onnx's runner tolerance: `|got - want| <= atol + rtol |want|` (NaN matches NaN).
fn assert_within<'a>(
    what: &str,
    got: impl Iterator<Item = &'a f32>,
    shape: &[usize],
    want: &ndarray::ArrayD<f32>,
    (rtol, atol): (f64, f64),
) {
    assert_eq!(shape, want.shape(), "{what}: shape");
    for (g, w) in got.zip(want.iter()) {
        let same_nan = g.is_nan() && w.is_nan();
        assert!(
            same_nan || ((g - w).abs() as f64) <= atol + rtol * (w.abs() as f64),
            "{what}: {g} vs {w}"
        );
    }
}
