//! Convolution kernels: a convolutional layer's weights, read from the model.
//! The first layer's kernels look at the image itself, so with three input
//! bands each kernel is a small colour picture (as in Krizhevsky et al.'s
//! AlexNet figure); every other layer's kernels are shown per input channel.

use ndarray::Array4;
use serde::Serialize;

use crate::graph::{Constants, NodeExt};
use crate::model::Model;
use crate::onnx::NodeProto;
use crate::{Error, Result};

/// One convolutional layer's kernels.
#[derive(Clone, Debug, Serialize)]
pub struct Kernels {
    /// The node's name (or its op and output when unnamed).
    pub layer: String,
    /// The node's output tensor, the layer's feature maps.
    pub output: String,
    /// Output channels x input channels (per group) x kernel height x width,
    /// exactly as stored (a ConvTranspose's input and output axes swapped
    /// into this order).
    #[serde(skip)]
    pub weights: Array4<f32>,
    pub groups: usize,
    /// Whether each kernel is a colour picture: the first convolution of a
    /// model with three input bands, seeing those bands.
    pub colour: bool,
}

/// The kernels of `layer` (a convolution's node name or output tensor), or
/// of the model's first convolution.
pub fn kernels(model: &Model, layer: Option<&str>) -> Result<Kernels> {
    let convs: Vec<&NodeProto> = model.nodes().iter().filter(|n| matches!(n.op(), "Conv" | "ConvTranspose")).collect();
    let listed = || convs.iter().map(|n| n.output[0].as_str()).collect::<Vec<_>>().join(", ");
    let Some(first) = convs.first() else {
        return Err(Error::invalid(format!("model {}", model.path().display()), "it has no convolutional layer (Conv or ConvTranspose) whose kernels could be shown"));
    };
    let node = match layer {
        None => *first,
        Some(name) => {
            let named = |n: &NodeProto| n.name.as_deref() == Some(name) || n.output.iter().any(|o| o == name);
            match model.nodes().iter().find(|n| named(n)) {
                Some(n) if matches!(n.op(), "Conv" | "ConvTranspose") => n,
                Some(n) => return Err(Error::invalid(format!("layer '{name}'"), format!("it is a {} node, not a convolution; convolutional layers: {}", n.op(), listed()))),
                None => return Err(Error::invalid(format!("layer '{name}'"), format!("no node has that name or output; convolutional layers: {}", listed()))),
            }
        }
    };
    let graph = model.proto().graph.as_ref().expect("checked on load");
    let weight_name = node.input_name(1).unwrap_or_default();
    let stored = Constants::of(graph).f32(weight_name).ok_or_else(|| {
        Error::invalid(format!("layer '{}'", node.label()), format!("its weights ('{weight_name}') are computed in the graph, not stored, so they cannot be shown"))
    })?;
    let groups = node.attr_i("group").unwrap_or(1).max(1) as usize;
    let stored = stored.into_dimensionality::<ndarray::Ix4>().map_err(|_| {
        Error::invalid(format!("layer '{}'", node.label()), "only 2-D convolutions (4-D weights) can be shown as pictures")
    })?;
    let weights = match node.op() {
        "ConvTranspose" if groups > 1 => {
            return Err(Error::invalid(format!("layer '{}'", node.label()), "the kernels of a grouped ConvTranspose cannot be shown"));
        }
        "ConvTranspose" => stored.permuted_axes([1, 0, 2, 3]).as_standard_layout().into_owned(),
        _ => stored,
    };
    let bands = model.info().image_size().map(|(c, _, _)| c);
    let colour = std::ptr::eq(node, *first) && bands == Some(3) && weights.shape()[1] == 3;
    Ok(Kernels { layer: node.label(), output: node.output[0].clone(), weights, groups, colour })
}
