//! `gradcam` and `gradcam-negative` (Selvaraju et al. 2017): a class
//! activation map from a convolutional layer's feature maps `A_k`, each
//! weighted by the spatial mean of the target score's gradient,
//! `relu(sum_k mean(dS/dA_k) A_k)`. The negative map ("counterfactual" in the
//! paper) negates the gradients: the regions whose removal would raise the
//! score. Without the final ReLU the negative map would only be the
//! positive one negated, so the ReLU is always applied (Captum's
//! `LayerGradCam(..., relu_attributions=True)`).
//!
//! The layer: a named tensor (any 4-D tensor of the graph, read as N x C x
//! h x w as ONNX's convolutions write it even in NHWC models, or as N x h x
//! w x C where it is stored so: an NHWC model's input, a tensor transposed
//! to NHWC and its activations), or by default
//! the last convolutional layer. For a Conv whose output feeds only a
//! BatchNormalization and/or an elementwise activation, that is the
//! activation's output: the rectified feature maps that the paper uses
//! (Caffe's in-place ReLU), that a Keras `Conv2D(activation="relu")` outputs,
//! and what Captum's `LayerGradCam` gets when given the ReLU module after the
//! last `nn.Conv2d`. tf2onnx may write a Keras Conv2D as the Conv, a
//! Transpose back to NHWC and the bias Add before the activation: these are
//! followed to the activation too, read channels-last. Where the Conv's
//! output goes elsewhere (a residual Add), the Conv's own output is used, as
//! Captum given the `nn.Conv2d` itself.
//!
//! The map is returned at the layer's resolution and upsampled bilinearly to
//! the input's (Captum's `LayerAttribution.interpolate(..., "bilinear")`).
//! Only the backward pass from the score down to the layer is run.

use ndarray::{Array3, Array4, ArrayD, ArrayViewD, Axis, Ix4};

use super::{Attribution, Geometry, LayerMap, MapKind, Method, Targets, check, gradients};
use crate::autodiff::Standard;
use crate::engine::Engine;
use crate::graph::{self, NodeExt};
use crate::model::{ELEMENTWISE, Model};
use crate::onnx::NodeProto;
use crate::render::{self, Resample};
use crate::{Error, Result};

/// Grad-CAM (Selvaraju et al. 2017): a layer's activations weighted by the
/// mean gradient of each channel, then a ReLU, at the input's resolution.
pub struct GradCam {
    /// `None`: the last convolutional layer.
    pub layer: Option<String>,
    /// Negative Grad-CAM: what lowers the score instead of what raises it.
    pub negative: bool,
}

impl Method for GradCam {
    fn name(&self) -> &str {
        if self.negative {
            "gradcam-negative"
        } else {
            "gradcam"
        }
    }

    fn kind(&self) -> MapKind {
        MapKind::Cam
    }

    fn attribute(
        &self,
        engine: &mut Engine,
        inputs: ArrayViewD<f32>,
        targets: &Targets,
    ) -> Result<Attribution> {
        let (layer, small, map) = cam(
            engine,
            inputs,
            targets,
            self.layer.as_deref(),
            self.negative,
        )?;
        Ok(Attribution {
            map: map.into_dyn(),
            layer: Some(LayerMap {
                name: layer,
                map: small.into_dyn(),
            }),
            completeness: None,
            conservation: None,
        })
    }
}

/// Grad-CAM at `layer` (or the default layer): the layer's name and the map
/// at its resolution (N x h x w) and at the input's (N x H x W).
pub(super) fn cam(
    engine: &mut Engine,
    inputs: ArrayViewD<f32>,
    targets: &Targets,
    layer: Option<&str>,
    negative: bool,
) -> Result<(String, Array3<f32>, Array3<f32>)> {
    check(engine, &inputs, targets)?;
    let geometry = Geometry::of(engine.model(), "Grad-CAM")?;
    let layer = resolve_layer(engine, layer)?;
    let sign = if negative { -1.0 } else { 1.0 };
    let mut out = gradients(
        engine,
        inputs,
        &targets.classes,
        &targets.score,
        sign,
        &Standard,
        vec![layer.clone()],
    )?;
    let stored_last = engine.model().channels_last(&layer);
    let activations = channels_first(four_d(out.values.remove(0), &layer)?, stored_last);
    let grads = channels_first(four_d(out.grads.remove(0), &layer)?, stored_last);
    let weights = grads
        .mean_axis(Axis(3))
        .and_then(|g| g.mean_axis(Axis(2)))
        .expect("a layer has rows and columns");
    let (n, k, h, w) = activations.dim();
    let mut small = Array3::zeros((n, h, w));
    for e in 0..n {
        for c in 0..k {
            small.index_axis_mut(Axis(0), e).scaled_add(
                weights[[e, c]],
                &activations.slice(ndarray::s![e, c, .., ..]),
            );
        }
    }
    small.mapv_inplace(|v| v.max(0.0));
    // render::resize's bilinear resampling is PyTorch's align_corners=False.
    let mut large = Array3::zeros((n, geometry.height, geometry.width));
    for (mut out, map) in large.outer_iter_mut().zip(small.outer_iter()) {
        out.assign(&render::resize(
            map,
            geometry.height,
            geometry.width,
            Resample::Bilinear,
        )?);
    }
    Ok((layer, small, large))
}

/// `a` as N x C x h x w: permuted when it is stored N x h x w x C.
fn channels_first(a: Array4<f32>, stored_last: bool) -> Array4<f32> {
    if stored_last {
        a.permuted_axes([0, 3, 1, 2])
            .as_standard_layout()
            .into_owned()
    } else {
        a
    }
}

fn four_d(a: ArrayD<f32>, layer: &str) -> Result<Array4<f32>> {
    let shape = a.shape().to_vec();
    a.into_dimensionality::<Ix4>().map_err(|_| {
        Error::invalid(
            format!("layer '{layer}'"),
            format!("Grad-CAM needs a 4-D N x C x h x w tensor; this one has shape {shape:?}"),
        )
    })
}

/// The tensor Grad-CAM reads: `layer`, checked to be a node's output, or the
/// default (see the module documentation).
pub(crate) fn resolve_layer(engine: &mut Engine, layer: Option<&str>) -> Result<String> {
    let model = engine.model();
    let name = match layer {
        Some(name) => {
            let outputs = || {
                model
                    .nodes()
                    .iter()
                    .flat_map(|n| n.output.iter().map(String::as_str))
                    .filter(|o| !o.is_empty())
            };
            // A node's name (`/conv2/Conv`, as `sensie visualize` takes it)
            // stands for the node's output, as in Captum a module does.
            let name = match model
                .nodes()
                .iter()
                .find(|n| n.name.as_deref() == Some(name))
            {
                Some(node) if !outputs().any(|o| o == name) => {
                    node.output.first().map_or(name, String::as_str)
                }
                _ => name,
            };
            if !outputs().any(|o| o == name) {
                let what = if name == model.info().input.name {
                    "the model's input"
                } else if model.is_weight(name) {
                    "a weight of the model"
                } else {
                    return Err(Error::UnknownTensor {
                        name: name.to_string(),
                        closest: graph::closest_names(name, outputs()),
                    });
                };
                let default = default_layer(model)
                    .map(|d| format!(" (without --layer, {d})"))
                    .unwrap_or_default();
                return Err(Error::invalid(
                    format!("layer '{name}'"),
                    format!(
                        "it is {what}, not a layer's output; Grad-CAM reads a convolutional layer's feature \
                         maps{default}"
                    ),
                ));
            }
            name.to_string()
        }
        None => default_layer(model)?,
    };
    let rank = engine.shapes()?.get(&name).map_or(0, |s| s.rank());
    if rank != 4 {
        return Err(Error::invalid(
            format!("layer '{name}'"),
            format!("Grad-CAM needs a 4-D N x C x h x w tensor; this one has rank {rank}"),
        ));
    }
    Ok(name)
}

/// The nodes that read `tensor`.
fn consumers<'m>(model: &'m Model, tensor: &str) -> Vec<&'m NodeProto> {
    model
        .nodes()
        .iter()
        .filter(|n| n.input.iter().any(|i| i == tensor))
        .collect()
}

/// The last convolutional layer's output, followed through a
/// BatchNormalization and activations that are its only consumers, and
/// through the steps tf2onnx writes between a Keras Conv2D and its
/// activation when it leaves the layout as Keras has it (a Transpose back to
/// NHWC, the bias Add), when an activation follows them.
pub(crate) fn default_layer(model: &Model) -> Result<String> {
    let nodes = model.nodes();
    let conv = nodes.iter().rev().find(|n| matches!(n.op(), "Conv" | "ConvTranspose")).ok_or_else(|| Error::UnsupportedModel {
        path: model.path().to_path_buf(),
        reason: "Grad-CAM needs a convolutional layer and the model has none (no Conv node); name a 4-D layer with --layer".into(),
    })?;
    let outputs: Vec<&str> = model
        .info()
        .outputs
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    // The one node reading `tensor` as its first input, unless the model's
    // caller reads it too.
    let only_reader = |tensor: &str| match consumers(model, tensor).as_slice() {
        [next] if next.input_name(0) == Some(tensor) && !outputs.contains(&tensor) => Some(*next),
        _ => None,
    };
    let mut name = conv.output[0].clone();
    loop {
        let Some(mut next) = only_reader(&name) else {
            return Ok(name);
        };
        let mut between = 0;
        while keeps_the_feature_maps(model, next) {
            between += 1;
            match only_reader(&next.output[0]) {
                Some(after) => next = after,
                None => return Ok(name),
            }
        }
        let activation = ELEMENTWISE.contains(&next.op());
        if !(activation || (between == 0 && next.op() == "BatchNormalization")) {
            return Ok(name);
        }
        name = next.output[0].clone();
    }
}

/// A Transpose to NHWC, or arithmetic with a weight (a bias, a scale): the
/// feature maps as they were, laid out or offset otherwise.
fn keeps_the_feature_maps(model: &Model, node: &NodeProto) -> bool {
    match node.op() {
        "Transpose" => matches!(node.attr_ints("perm"), Ok(Some(p)) if p == [0, 2, 3, 1]),
        "Add" | "Sub" | "Mul" | "Div" => node.input.iter().skip(1).all(|i| model.is_constant(i)),
        _ => false,
    }
}
