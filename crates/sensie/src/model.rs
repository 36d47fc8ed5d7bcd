//! A user's model and what sensie reads from it: the image input (name,
//! layout, size), the outputs, the number of classes, and whether the output
//! is logits or probabilities.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::graph::{self, NodeExt};
use crate::onnx::{self, ModelProto, NodeProto, ValueInfoProto};
use crate::{Error, Result};

/// Ops that apply one function to each value of their first input, so that
/// their output keeps its layout (N x H x W x C in, N x H x W x C out) and
/// a feature map its channels and positions. BatchNormalization is not one:
/// its channels are always axis 1.
pub(crate) const ELEMENTWISE: &[&str] = &[
    "Identity",
    "Dropout",
    "Relu",
    "LeakyRelu",
    "PRelu",
    "Elu",
    "Selu",
    "Celu",
    "Sigmoid",
    "Tanh",
    "HardSigmoid",
    "HardSwish",
    "Softplus",
    "Softsign",
    "Clip",
    "Gelu",
    "Mish",
];

/// How a batch of images is laid out: a model's image input, an image array
/// in a data file, or a batch prepared for a model. Raw images inside sensie
/// are always NCHW.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all(serialize = "UPPERCASE", deserialize = "lowercase"))]
pub enum Layout {
    /// Batch, channels, height, width (PyTorch).
    #[serde(alias = "NCHW")]
    Nchw,
    /// Batch, height, width, channels (Keras / TensorFlow).
    #[serde(alias = "NHWC")]
    Nhwc,
}

impl Layout {
    /// Reads `nchw` or `nhwc` (any case), as given to `--data-layout` or `layout`.
    pub fn parse(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "nchw" => Ok(Layout::Nchw),
            "nhwc" => Ok(Layout::Nhwc),
            _ => Err(Error::unknown("layout", text, ["nchw", "nhwc"])),
        }
    }
}

/// What the model's first output holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    /// Unnormalised class scores.
    Logits,
    /// Probabilities from a final Softmax.
    Probabilities,
    /// Log-probabilities from a final LogSoftmax.
    LogProbabilities,
    /// Independent probabilities from a final Sigmoid (binary or multi-label).
    Sigmoid,
}

impl std::str::FromStr for OutputKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "logits" => Ok(OutputKind::Logits),
            "probabilities" | "softmax" => Ok(OutputKind::Probabilities),
            "log-probabilities" | "log-softmax" => Ok(OutputKind::LogProbabilities),
            "sigmoid" => Ok(OutputKind::Sigmoid),
            other => Err(Error::invalid(
                format!("output kind '{other}'"),
                "expected one of: logits, probabilities, log-probabilities, sigmoid",
            )),
        }
    }
}

/// A tensor's name and declared shape (`None` for a symbolic dimension).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TensorInfo {
    /// The tensor's name.
    pub name: String,
    /// Its dimensions, first the batch.
    pub shape: Vec<Option<usize>>,
}

/// What sensie reads from a model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    /// The model's image (or other) input.
    pub input: TensorInfo,
    /// The layout of a 4-D image input; `None` for other ranks.
    pub layout: Option<Layout>,
    /// The model's outputs; sensie reads the first.
    pub outputs: Vec<TensorInfo>,
    /// What the first output holds (logits, probabilities, ...).
    pub output_kind: OutputKind,
    /// Whether [`ModelInfo::output_kind`] was read from the graph (`false`: set by the user).
    pub output_kind_detected: bool,
    /// The default operator set version the model imports.
    pub opset: i64,
    /// The exporter that wrote the model, as the file says.
    pub producer: String,
}

impl ModelInfo {
    /// The input's (channels, height, width), when it is a 4-D image with static sizes.
    pub fn image_size(&self) -> Option<(usize, usize, usize)> {
        let s = &self.input.shape;
        let (c, h, w) = match self.layout? {
            Layout::Nchw => (s[1], s[2], s[3]),
            Layout::Nhwc => (s[3], s[1], s[2]),
        };
        Some((c?, h?, w?))
    }

    /// The number of classes (the first output's last dimension), when static.
    pub fn classes(&self) -> Option<usize> {
        self.outputs
            .first()
            .and_then(|o| o.shape.last().copied().flatten())
    }

    /// The input's batch size when the model fixes it.
    pub fn fixed_batch(&self) -> Option<usize> {
        self.input.shape.first().copied().flatten()
    }
}

/// A loaded ONNX model.
#[derive(Clone, Debug)]
pub struct Model {
    path: PathBuf,
    proto: ModelProto,
    info: ModelInfo,
}

impl Model {
    /// Reads a model and works out its input, outputs and output kind.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        let path = path.as_ref();
        Model::from_proto(path, onnx::read_model(path)?)
    }

    /// A model from the bytes of an `.onnx` file (a model exported in memory,
    /// or one sent to another process); `path` names it in messages, and
    /// external data is read relative to its folder.
    pub fn from_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Model> {
        let path = path.as_ref();
        Model::from_proto(path, onnx::decode_model(bytes, path)?)
    }

    /// The model serialised as `.onnx` bytes, external data included: what
    /// [`Model::from_bytes`] reads back.
    pub fn to_bytes(&self) -> Vec<u8> {
        onnx::encode_model(&self.proto)
    }

    /// A model from a graph already in memory, such as a loaded model whose
    /// weights were replaced (the model-randomisation sanity check). `path`
    /// names it in messages.
    pub(crate) fn from_proto(path: impl AsRef<Path>, proto: ModelProto) -> Result<Model> {
        let path = path.as_ref();
        if proto.graph.as_ref().is_none_or(|g| g.node.is_empty()) {
            return Err(Error::NotOnnx {
                path: path.to_path_buf(),
                reason: "the model has no nodes".into(),
            });
        }
        let info = describe(path, &proto)?;
        Ok(Model {
            path: path.to_path_buf(),
            proto,
            info,
        })
    }

    /// The class names in the model's metadata (`metadata_props` key
    /// `class_names` or `classes`: a JSON list or comma-separated names, in
    /// class index order), when it has them.
    pub fn class_names(&self) -> Option<Vec<String>> {
        let prop = self
            .proto()
            .metadata_props
            .iter()
            .find(|p| matches!(p.key.as_deref(), Some("class_names" | "classes")))?;
        let text = prop.value.as_deref()?.trim();
        let names: Vec<String> = serde_json::from_str(text)
            .unwrap_or_else(|_| text.split(',').map(|n| n.trim().to_string()).collect());
        (!names.is_empty() && names.iter().all(|n| !n.is_empty())).then_some(names)
    }

    /// The file the model was read from (or the name it was given), as
    /// messages and results.json name it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ONNX graph, with external data already read in.
    pub(crate) fn proto(&self) -> &ModelProto {
        &self.proto
    }

    /// What sensie read from the model: input, layout, outputs, output kind.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Whether `name` is one of the graph's stored weights (initializers):
    /// a tensor with a shape but no example's activations, refused where a
    /// layer is asked for.
    pub(crate) fn is_weight(&self, name: &str) -> bool {
        self.proto.graph.as_ref().is_some_and(|g| {
            g.initializer
                .iter()
                .any(|t| t.name.as_deref() == Some(name))
        })
    }

    /// Whether `name` holds the same values for every example: a stored
    /// weight or a `Constant` node's output.
    pub(crate) fn is_constant(&self, name: &str) -> bool {
        self.is_weight(name)
            || self
                .nodes()
                .iter()
                .any(|n| n.op() == "Constant" && n.output.iter().any(|o| o == name))
    }

    /// The graph's nodes in order.
    pub(crate) fn nodes(&self) -> &[NodeProto] {
        &self.proto.graph.as_ref().expect("checked on load").node
    }

    /// Whether the 4-D tensor `name` is stored N x H x W x C: the input of an
    /// NHWC model, or a tensor transposed to NHWC (`Transpose` with perm
    /// [0, 2, 3, 1], as tf2onnx writes before a Keras Flatten), followed
    /// through elementwise activations and through arithmetic with weights
    /// (tf2onnx's bias `Add` along the last axis, a Rescaling layer's `Mul`),
    /// which keep their input's layout.
    /// Every other 4-D tensor is channels-first: ONNX's Conv, pooling and
    /// BatchNormalization read and write N x C x H x W whatever the model's
    /// input, so layers read as N x C x h x w without this would mix rows
    /// and channels in silence.
    pub(crate) fn channels_last(&self, name: &str) -> bool {
        let mut name = name;
        loop {
            if name == self.info.input.name {
                return self.info.layout == Some(Layout::Nhwc);
            }
            let made_by = |n: &&NodeProto| n.output.first().is_some_and(|o| o == name);
            let Some(node) = self.nodes().iter().find(made_by) else {
                return false;
            };
            match node.op() {
                "Transpose" => {
                    return matches!(node.attr_ints("perm"), Ok(Some(p)) if p == [0, 2, 3, 1]);
                }
                op if ELEMENTWISE.contains(&op) => match node.input_name(0) {
                    Some(input) => name = input,
                    None => return false,
                },
                // Broadcasting a weight cannot change the layout, and two
                // activations added or multiplied share theirs.
                "Add" | "Sub" | "Mul" | "Div" => {
                    match node.input.iter().find(|i| !self.is_constant(i)) {
                        Some(input) => name = input,
                        None => return false,
                    }
                }
                _ => return false,
            }
        }
    }

    /// Overrides the detected layout of a 4-D image input (the user knows best).
    pub fn set_layout(&mut self, layout: Layout) -> Result<()> {
        if self.info.layout.is_none() {
            return Err(Error::UnsupportedModel {
                path: self.path.clone(),
                reason: "its input is not a 4-D image, so it has no layout to set".into(),
            });
        }
        self.info.layout = Some(layout);
        Ok(())
    }

    /// This model with other weights (`proto` differs from this model's
    /// graph in initializer values only), keeping what the user set (layout,
    /// output kind): read afresh, a single sigmoid output set by hand would
    /// become a regressor's and its class 1 be refused.
    pub(crate) fn with_weights(&self, proto: ModelProto) -> Model {
        Model {
            path: self.path.clone(),
            proto,
            info: self.info.clone(),
        }
    }

    /// Overrides the detected output kind (the user knows best).
    pub fn set_output_kind(&mut self, kind: OutputKind) {
        self.info.output_kind = kind;
        self.info.output_kind_detected = false;
    }

    /// The tensor holding the class logits: the first output, or the input of
    /// its final Softmax, LogSoftmax or Sigmoid.
    pub fn logit_tensor(&self) -> String {
        match final_activation(self.nodes(), &self.info.outputs[0].name) {
            Some(node) => node.input[0].clone(),
            None => self.info.outputs[0].name.clone(),
        }
    }
}

fn tensor_info(v: &ValueInfoProto) -> TensorInfo {
    use onnx::proto::tensor_shape_proto::dimension::Value as Dim;
    use onnx::proto::type_proto::Value;
    let shape = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(Value::TensorType(t)) => t
            .shape
            .as_ref()
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| match d.value {
                        Some(Dim::DimValue(n)) if n > 0 => Some(n as usize),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    TensorInfo {
        name: v.name.clone().unwrap_or_default(),
        shape,
    }
}

fn elem_type(v: &ValueInfoProto) -> Option<i32> {
    use onnx::proto::type_proto::Value;
    match v.r#type.as_ref()?.value.as_ref()? {
        Value::TensorType(t) => t.elem_type,
        _ => None,
    }
}

fn describe(path: &Path, proto: &ModelProto) -> Result<ModelInfo> {
    let graph = proto.graph.as_ref().expect("read_model checks the graph");
    let unsupported = |reason: String| Error::UnsupportedModel {
        path: path.to_path_buf(),
        reason,
    };
    let inputs = graph::real_inputs(graph);
    let input = match inputs.as_slice() {
        [one] => *one,
        [] => return Err(unsupported("it has no input".into())),
        many => {
            let names: Vec<&str> = many.iter().filter_map(|i| i.name.as_deref()).collect();
            return Err(unsupported(format!(
                "it has {} inputs ({}); sensie needs one image input",
                names.len(),
                names.join(", ")
            )));
        }
    };
    if elem_type(input) != Some(onnx::dtype::FLOAT) {
        return Err(unsupported(format!(
            "input '{}' is not float32 (ONNX element type {:?}); export the model with a float32 input",
            input.name.as_deref().unwrap_or(""),
            elem_type(input)
        )));
    }
    let input = tensor_info(input);
    if graph.output.is_empty() {
        return Err(unsupported("it has no outputs".into()));
    }
    let outputs: Vec<TensorInfo> = graph.output.iter().map(tensor_info).collect();
    let layout = (input.shape.len() == 4).then(|| detect_layout(&graph.node, &input));
    let output_kind = match final_activation(&graph.node, &outputs[0].name).map(|n| n.op()) {
        Some("Softmax") => OutputKind::Probabilities,
        Some("LogSoftmax") => OutputKind::LogProbabilities,
        Some("Sigmoid") => OutputKind::Sigmoid,
        _ => OutputKind::Logits,
    };
    Ok(ModelInfo {
        input,
        layout,
        outputs,
        output_kind,
        output_kind_detected: true,
        opset: onnx::default_opset(proto),
        producer: format!(
            "{} {}",
            proto.producer_name.as_deref().unwrap_or(""),
            proto.producer_version.as_deref().unwrap_or("")
        )
        .trim()
        .to_string(),
    })
}

/// NHWC when the input goes straight into a Transpose to NCHW (the tf2onnx
/// pattern) or when its last dimension looks like channels; NCHW otherwise.
fn detect_layout(nodes: &[NodeProto], input: &TensorInfo) -> Layout {
    let to_nchw = nodes.iter().any(|n| {
        n.op() == "Transpose"
            && n.input_name(0) == Some(input.name.as_str())
            && matches!(n.attr_ints("perm"), Ok(Some(p)) if p == [0, 3, 1, 2])
    });
    if to_nchw {
        return Layout::Nhwc;
    }
    let channel_like = |d: Option<usize>| matches!(d, Some(1..=4));
    let s = &input.shape;
    if channel_like(s[3]) && !channel_like(s[1]) {
        Layout::Nhwc
    } else {
        Layout::Nchw
    }
}

/// The Softmax, LogSoftmax or Sigmoid that produces `output`, looking through
/// shape-only ops (Identity, Reshape, Flatten, Squeeze) after it.
fn final_activation<'a>(nodes: &'a [NodeProto], output: &str) -> Option<&'a NodeProto> {
    let mut name = output;
    loop {
        let node = nodes.iter().find(|n| n.output.iter().any(|o| o == name))?;
        match node.op() {
            "Softmax" | "LogSoftmax" | "Sigmoid" => return Some(node),
            "Identity" | "Reshape" | "Flatten" | "Squeeze" => name = node.input_name(0)?,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_parse_in_any_case_and_name_the_valid_ones_otherwise() {
        assert_eq!(Layout::parse("NHWC").unwrap(), Layout::Nhwc);
        assert_eq!(Layout::parse("nchw").unwrap(), Layout::Nchw);
        let message = Layout::parse("nwhc").unwrap_err().to_string();
        assert!(message.contains("nchw, nhwc"), "{message}");
    }

    /// tf2onnx's layout: the NHWC input transposed to NCHW for the Convs,
    /// then back to NHWC before the Flatten; a Relu added after that keeps
    /// it channels-last.
    #[test]
    fn layers_are_channels_last_where_transposed_to_nhwc_and_their_activations() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/engine/nhwc_tf2onnx/model.onnx"
        );
        let model = Model::load(path).unwrap();
        let mut proto = model.proto().clone();
        let back = "StatefulPartitionedCall/sequential/max_pooling2d/MaxPool__20:0";
        proto.graph.as_mut().unwrap().node.push(NodeProto {
            op_type: Some("Relu".into()),
            input: vec![back.into()],
            output: vec!["after".into()],
            ..Default::default()
        });
        let model = Model::from_proto(path, proto).unwrap();
        for (tensor, last) in [
            ("input_1", true),
            (
                "StatefulPartitionedCall/sequential/conv2d/Conv2D__6:0",
                false,
            ),
            ("StatefulPartitionedCall/sequential/conv2d_1/Relu:0", false),
            (
                "StatefulPartitionedCall/sequential/max_pooling2d/MaxPool:0",
                false,
            ),
            (back, true),
            ("after", true),
        ] {
            assert_eq!(model.channels_last(tensor), last, "{tensor}");
        }
    }
}
