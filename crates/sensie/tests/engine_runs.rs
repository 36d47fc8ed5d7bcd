//! The engine runs a batch through ONNX Runtime in runs of a few examples
//! (their input sized to the cache): each example's outputs must be exactly
//! those of one ONNX Runtime call on the whole batch.

mod common;

use common::{npz_f32, repo, runtime};
use ndarray::{Array2, Axis, s};
use sensie::engine::{Engine, EngineOptions};
use sensie::model::Model;
use sensie::runtime::{SessionOptions, Spinning};

/// 44 lens cutouts (48 KiB each: runs of 8, the last of 4) through the
/// engine, against one call of a plain session on all 44.
#[test]
fn runs_of_a_batch_give_one_call_on_the_whole_batch_bit_for_bit() {
    let path = repo("examples/lens/lens_finder.onnx");
    let x = npz_f32(&repo("examples/lens/data/test.npz"), "x").unwrap();
    let x = x.slice_axis(Axis(0), (0..44).into()).to_owned();
    let options = SessionOptions {
        threads: 1,
        spinning: Spinning::Never,
    };
    let mut session = runtime()
        .session(&std::fs::read(&path).unwrap(), "lens finder", options)
        .unwrap();
    let model = Model::load(&path).unwrap();
    let input = model.info().input.name.clone();
    let tensor = ort::value::TensorRef::from_array_view(x.view()).unwrap();
    let outputs = session.run(ort::inputs![input => tensor]).unwrap();
    let whole = outputs[0].try_extract_array::<f32>().unwrap();
    let whole = whole.to_shape((44, whole.len() / 44)).unwrap().to_owned();
    let options = EngineOptions {
        batch_size: 44,
        threads: 1,
    };
    let mut engine = Engine::new(runtime(), model, options).unwrap();
    let got: Array2<f32> = engine.predict(x.view()).unwrap();
    assert_eq!(got.dim(), whole.dim());
    for i in 0..44 {
        assert_eq!(got.slice(s![i, ..]), whole.slice(s![i, ..]), "image {i}");
    }
}
