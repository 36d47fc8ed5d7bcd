//! Raising a model's opset to 16, which gradient graphs need for
//! ScatterElements with `reduction=add` (MaxPool's rule).
//!
//! Most ops of image models read the same from opset 11 to 16. The ones that
//! changed are rewritten here: Squeeze, Unsqueeze, ReduceSum and Split take
//! their axes or sizes as inputs from opset 13; Softmax, LogSoftmax and
//! Hardmax before 13 flattened the input to 2-D at `axis` (default 1), which
//! is kept by an explicit Flatten and Reshape; Dropout lost its `ratio`
//! attribute in 12 (inference ignores it).

use crate::graph::{Builder, NodeExt, attr_int};
use crate::onnx::{self, ModelProto, NodeProto};
use crate::{Error, Result};

const TARGET: i64 = 16;

pub fn at_least_16(model: &ModelProto) -> Result<ModelProto> {
    let opset = onnx::default_opset(model);
    let mut model = model.clone();
    if opset >= TARGET {
        return Ok(model);
    }
    if opset < 11 {
        return Err(Error::UnsupportedModel {
            path: Default::default(),
            reason: format!(
                "gradients need opset 11 or later, the model has opset {opset}; re-export it with a newer opset"
            ),
        });
    }
    let graph = model
        .graph
        .as_mut()
        .expect("models are checked to have a graph");
    let old = std::mem::take(&mut graph.node);
    let mut b = Builder::new(graph, "opset");
    for mut node in old {
        let is_default = node.domain.as_deref().unwrap_or("").is_empty()
            || node.domain.as_deref() == Some("ai.onnx");
        if !is_default {
            b.graph.node.push(node);
            continue;
        }
        match node.op() {
            "Squeeze" | "Unsqueeze" | "ReduceSum" => move_to_input(&mut b, &mut node, "axes", 1),
            "Split" => move_to_input(&mut b, &mut node, "split", 1),
            "Dropout" => node
                .attribute
                .retain(|a| a.name.as_deref() != Some("ratio")),
            "Softmax" | "LogSoftmax" | "Hardmax" if opset < 13 => {
                flatten_softmax(&mut b, node)?;
                continue;
            }
            _ => {}
        }
        b.graph.node.push(node);
    }
    for o in model.opset_import.iter_mut() {
        if o.domain.as_deref().unwrap_or("").is_empty() || o.domain.as_deref() == Some("ai.onnx") {
            o.version = Some(TARGET);
        }
    }
    model.ir_version = Some(model.ir_version.unwrap_or(0).max(8));
    Ok(model)
}

/// Turns an ints attribute into a constant input at position `at`.
fn move_to_input(b: &mut Builder, node: &mut NodeProto, attr: &str, at: usize) {
    let Some(pos) = node
        .attribute
        .iter()
        .position(|a| a.name.as_deref() == Some(attr))
    else {
        return;
    };
    let values = node.attribute.remove(pos).ints;
    let name = b.const_i64(&values);
    while node.input.len() < at {
        node.input.push(String::new());
    }
    node.input.insert(at, name);
}

/// Old-style softmax over the 2-D flattening at `axis`, written as
/// `Reshape(Softmax(Flatten(x, axis), axis=1), Shape(x))`.
fn flatten_softmax(b: &mut Builder, mut node: NodeProto) -> Result<()> {
    let axis = node.attr_i("axis")?.unwrap_or(1);
    let x = node.input[0].clone();
    let y = node.output[0].clone();
    let flat = b.node("Flatten", &[&x], vec![attr_int("axis", axis)]);
    let inner = b.fresh("softmax2d");
    node.input[0] = flat;
    node.output[0] = inner.clone();
    node.attribute.retain(|a| a.name.as_deref() != Some("axis"));
    node.attribute.push(attr_int("axis", 1));
    b.graph.node.push(node);
    let shape = b.node("Shape", &[&x], vec![]);
    b.graph.node.push(NodeProto {
        op_type: Some("Reshape".into()),
        name: Some(format!("{y}/reshape")),
        input: vec![inner, shape],
        output: vec![y],
        ..Default::default()
    });
    Ok(())
}
