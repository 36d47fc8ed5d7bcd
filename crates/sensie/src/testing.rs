//! Crate internals that the integration tests and fuzz targets need to build
//! fixtures: hand-made or deliberately damaged ONNX models, and whether this
//! machine can draw charts' text. Not part of the public API: hidden from the
//! documentation and free to change with any release. Library users load
//! models with [`crate::model::Model`] and never see protobuf types.

pub use crate::graph::real_inputs;

/// The ONNX protobuf types and the model reader and writer.
pub mod onnx {
    pub use crate::onnx::*;
}

/// Whether charts and labelled grids get their text drawn into PNGs here (a
/// system font was found); without one sensie falls back to SVG charts and
/// unlabelled grids, and tests of the drawn text are skipped.
pub fn fonts_available() -> bool {
    crate::plot::Rasteriser::system().is_ok()
}

/// A binary classifier with one sigmoid output and an analytic gradient:
/// `p = sigmoid(z)`, `z = sum(weights * x) + bias` over a 1 x `height` x
/// `width` NCHW image (`weights` row-major). The image first passes a 1 x 1
/// Conv of weight 1, so that Grad-CAM has a layer (its output is `x`
/// itself). The output is N x 1, or N when `squeezed`.
pub fn sigmoid_unit(
    height: usize,
    width: usize,
    weights: &[f32],
    bias: f32,
    squeezed: bool,
) -> onnx::ModelProto {
    use crate::graph::attr_ints;
    use crate::onnx::proto::OperatorSetIdProto;
    use crate::onnx::{GraphProto, ModelProto, NodeProto, f32_tensor, i64_tensor};
    assert_eq!(weights.len(), height * width, "one weight per pixel");
    let value = |name: &str, dims: &[i64]| crate::onnx::f32_value(name, dims, "N");
    let node = |op: &str, inputs: &[&str], output: &str| NodeProto {
        op_type: Some(op.into()),
        name: Some(output.into()),
        input: inputs.iter().map(|i| i.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    };
    let mut nodes = vec![
        node("Conv", &["x", "one"], "features"),
        node("Flatten", &["features"], "flat"),
        node("Gemm", &["flat", "w", "b"], "z"),
        node("Sigmoid", &["z"], "p"),
    ];
    let mut initializer = vec![
        f32_tensor("one", &[1, 1, 1, 1], &[1.0]),
        f32_tensor("w", &[height * width, 1], weights),
        f32_tensor("b", &[1], &[bias]),
    ];
    let output = if squeezed {
        nodes.push(node("Squeeze", &["p", "axis1"], "y"));
        initializer.push(i64_tensor("axis1", &[1], &[1]));
        value("y", &[-1])
    } else {
        value("p", &[-1, 1])
    };
    nodes[0].attribute = vec![attr_ints("kernel_shape", &[1, 1])];
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        graph: Some(GraphProto {
            name: Some("sigmoid_unit".into()),
            node: nodes,
            initializer,
            input: vec![value("x", &[-1, 1, height as i64, width as i64])],
            output: vec![output],
            ..Default::default()
        }),
        ..Default::default()
    }
}
