//! Convolution kernels: a convolutional layer's weights, read from the model.
//! The first layer's kernels look at the image itself, so with three input
//! bands each kernel is a small colour picture (as in Krizhevsky et al.'s
//! AlexNet figure); every other layer's kernels are shown per input channel.

use ndarray::{Array4, Axis};
use serde::Serialize;

use super::{Picture, Report, SMALL_TILE, image_picture, scale_text, square_columns, tiled};
use crate::graph::{Constants, NodeExt};
use crate::model::Model;
use crate::onnx::NodeProto;
use crate::render;
use crate::render::Labels;
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
    pub weights: Array4<f32>,
    /// The layer's groups.
    pub groups: usize,
    /// Whether each kernel is a colour picture: the first convolution of a
    /// model with three input bands, seeing those bands.
    pub colour: bool,
}

/// The kernels of `layer` (a convolution's node name, output tensor or
/// weight tensor), or of the model's first convolution.
pub fn kernels(model: &Model, layer: Option<&str>) -> Result<Kernels> {
    let convs: Vec<&NodeProto> = model
        .nodes()
        .iter()
        .filter(|n| matches!(n.op(), "Conv" | "ConvTranspose"))
        .collect();
    let listed = || {
        convs
            .iter()
            .map(|n| n.output[0].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(first) = convs.first() else {
        return Err(Error::invalid(
            format!("model {}", model.path().display()),
            "it has no convolutional layer (Conv or ConvTranspose) whose kernels could be shown",
        ));
    };
    let node = match layer {
        None => *first,
        Some(name) => {
            let named = |n: &NodeProto| {
                n.name.as_deref() == Some(name)
                    || n.output.iter().any(|o| o == name)
                    || (matches!(n.op(), "Conv" | "ConvTranspose") && n.input_name(1) == Some(name))
            };
            match model.nodes().iter().find(|n| named(n)) {
                Some(n) if matches!(n.op(), "Conv" | "ConvTranspose") => n,
                Some(n) => {
                    return Err(Error::invalid(
                        format!("layer '{name}'"),
                        format!(
                            "it is a {} node, not a convolution; convolutional layers: {}",
                            n.op(),
                            listed()
                        ),
                    ));
                }
                None => {
                    return Err(Error::invalid(
                        format!("layer '{name}'"),
                        format!(
                            "no node has that name or output; convolutional layers: {}",
                            listed()
                        ),
                    ));
                }
            }
        }
    };
    let graph = model.proto().graph.as_ref().expect("checked on load");
    let weight_name = node.input_name(1).unwrap_or_default();
    let stored = Constants::of(graph).f32(weight_name).ok_or_else(|| {
        Error::invalid(format!("layer '{}'", node.label()), format!("its weights ('{weight_name}') are computed in the graph, not stored, so they cannot be shown"))
    })?;
    let groups = node.attr_i("group")?.unwrap_or(1).max(1) as usize;
    let stored = stored.into_dimensionality::<ndarray::Ix4>().map_err(|_| {
        Error::invalid(
            format!("layer '{}'", node.label()),
            "only 2-D convolutions (4-D weights) can be shown as pictures",
        )
    })?;
    let weights = match node.op() {
        "ConvTranspose" if groups > 1 => {
            return Err(Error::invalid(
                format!("layer '{}'", node.label()),
                "the kernels of a grouped ConvTranspose cannot be shown",
            ));
        }
        "ConvTranspose" => stored
            .permuted_axes([1, 0, 2, 3])
            .as_standard_layout()
            .into_owned(),
        _ => stored,
    };
    let bands = model.info().image_size().map(|(c, _, _)| c);
    let colour = std::ptr::eq(node, *first) && bands == Some(3) && weights.shape()[1] == 3;
    Ok(Kernels {
        layer: node.label(),
        output: node.output[0].clone(),
        weights,
        groups,
        colour,
    })
}

impl Kernels {
    /// The kernels as one grid. In colour, a tile per kernel, its three bands
    /// as red, green and blue, each kernel stretched between its own extremes
    /// (as kernels are usually shown: a weak kernel's pattern stays visible).
    /// Otherwise a row per output channel and a column per input channel (one
    /// input channel: a near-square grid of output channels), all on one
    /// diverging scale symmetric about 0 (blue negative, red positive), so
    /// strengths compare across the layer.
    pub fn picture(&self) -> Result<Picture> {
        let (o, i, kh, kw) = self.weights.dim();
        let file = "kernels.png".to_string();
        if self.colour {
            let tiles = self
                .weights
                .outer_iter()
                .map(image_picture)
                .collect::<Result<Vec<_>>>()?;
            let laid_out = tiled(&tiles, square_columns(o), SMALL_TILE, &Labels::default())?;
            let caption = format!(
                "{o} kernels of {} ({kh} x {kw}), input bands as red, green, blue; each stretched to its own extremes.",
                self.layer
            );
            return Ok(Picture::new(file, laid_out, None, caption));
        }
        let maps = self
            .weights
            .to_shape((o * i, kh, kw))
            .expect("contiguous weights");
        let drawn = render::heatmaps(maps.view(), true, 100.0)?;
        let scale = drawn.first().map(|(_, s)| *s);
        let tiles: Vec<_> = drawn.into_iter().map(|(tile, _)| tile).collect();
        // A row per output channel and a column per input channel are named.
        let labels = if i > 1 {
            Labels {
                columns: (0..i).map(|c| format!("in {c}")).collect(),
                rows: (0..o).map(|r| format!("out {r}")).collect(),
            }
        } else {
            Labels::default()
        };
        let laid_out = tiled(
            &tiles,
            if i > 1 { i } else { square_columns(o) },
            SMALL_TILE,
            &labels,
        )?;
        let caption = format!(
            "Kernels of {} ({kh} x {kw}): a row per output channel ({o}), a column per input channel ({i}{}); {}.",
            self.layer,
            if self.groups > 1 {
                format!(" of each of {} groups", self.groups)
            } else {
                String::new()
            },
            scale.as_ref().map(scale_text).unwrap_or_default()
        );
        Ok(Picture::new(file, laid_out, scale, caption))
    }

    /// The picture with a page and a summary.
    pub fn report(&self) -> Result<Report> {
        let (o, i, kh, kw) = self.weights.dim();
        let norms: Vec<f32> = self
            .weights
            .axis_iter(Axis(0))
            .map(|k| k.iter().map(|v| v * v).sum::<f32>().sqrt())
            .collect();
        Ok(Report {
            name: "kernels",
            title: format!("Kernels of {}", self.layer),
            text: format!(
                "The weights of convolution {} (output {}), read from the model: {o} output channels, {i} input channels per group, {kh} x {kw}.",
                self.layer, self.output
            ),
            pictures: vec![self.picture()?],
            charts: Vec::new(),
            table: None,
            summary: serde_json::json!({
                "kernels": { "layer": self.layer, "output": self.output, "groups": self.groups, "colour": self.colour },
                "shape": [o, i, kh, kw],
                "norms": norms,
            }),
            inputs: None,
        })
    }
}
