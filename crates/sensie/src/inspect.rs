//! A model's nodes with their op types and output shapes, for `sensie
//! inspect` and for choosing layers to explain or visualise.

use serde::Serialize;

use crate::Result;
use crate::engine::Engine;
use crate::graph::NodeExt;
use crate::graph::shapes::BATCH;

/// One tensor with its learned shape (`None` marks the batch dimension).
#[derive(Clone, Debug, Serialize)]
pub struct TensorSummary {
    /// The tensor's name.
    pub name: String,
    /// Its shape as sensie learned it; `None` when unknown.
    pub shape: Option<Vec<Option<i64>>>,
}

/// One node of the graph.
#[derive(Clone, Debug, Serialize)]
pub struct NodeSummary {
    /// The node's position in the graph.
    pub index: usize,
    /// The node's name, or `#index` when it has none.
    pub name: String,
    /// Its op type.
    pub op: String,
    /// Its input tensors.
    pub inputs: Vec<String>,
    /// Its output tensors with their shapes.
    pub outputs: Vec<TensorSummary>,
    /// Conv or ConvTranspose: a layer whose kernels and feature maps can be shown.
    pub convolutional: bool,
}

/// Every node of the engine's model, in graph order.
pub fn nodes(engine: &mut Engine) -> Result<Vec<NodeSummary>> {
    let shapes = engine.shapes()?.clone();
    Ok(engine
        .model()
        .nodes()
        .iter()
        .enumerate()
        .map(|(index, n)| NodeSummary {
            index,
            name: n.label(),
            op: n.op().to_string(),
            inputs: n.input.clone(),
            outputs: n
                .output
                .iter()
                .filter(|o| !o.is_empty())
                .map(|o| TensorSummary {
                    name: o.clone(),
                    shape: shapes
                        .get(o)
                        .map(|s| s.dims.iter().map(|&d| (d != BATCH).then_some(d)).collect()),
                })
                .collect(),
            convolutional: matches!(n.op(), "Conv" | "ConvTranspose"),
        })
        .collect())
}

/// `[N, 8, 28, 28]`-style text for a shape.
pub fn shape_text(shape: &Option<Vec<Option<i64>>>) -> String {
    match shape {
        None => "?".into(),
        Some(dims) => {
            let parts: Vec<String> = dims
                .iter()
                .map(|d| d.map_or("N".into(), |d| d.to_string()))
                .collect();
            format!("[{}]", parts.join(", "))
        }
    }
}
