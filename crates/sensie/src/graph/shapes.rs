//! The shape of every tensor in a graph, learned by running it.
//!
//! ONNX shape inference is not available in Rust, and exporters leave many
//! intermediate shapes out. Instead the graph is run once with every
//! intermediate exposed as an output, at batch 1 and again at batch 2: a
//! dimension that changes with the batch is the (symbolic) batch dimension,
//! every other one is static. The gradient rules need exactly this: static
//! sizes for padding and broadcasting arithmetic, with the batch left free.

use std::collections::HashMap;

use ndarray::ArrayD;
use ort::value::{TensorElementType, ValueType};

use crate::graph::{NodeExt, expose};
use crate::onnx::{self, ModelProto};
use crate::runtime::{Runtime, SessionOptions};
use crate::{Error, Result};

/// One tensor's shape: `dims[i] == BATCH` marks the batch dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub dims: Vec<i64>,
    /// The ONNX element type ([`onnx::dtype`]); 0 where sensie does not
    /// need to tell it apart.
    pub dtype: i32,
}

/// Marks the batch dimension in [`Shape::dims`].
pub const BATCH: i64 = -1;

impl Shape {
    /// Whether the elements are 32-bit floats, as the model's input is.
    pub fn is_float(&self) -> bool {
        self.dtype == onnx::dtype::FLOAT
    }

    /// Whether the elements are floats of any width: what gradients flow
    /// through (a model may Cast to float64 and back; integers, such as shape
    /// arithmetic, are never differentiated).
    pub fn is_real(&self) -> bool {
        onnx::dtype::is_real(self.dtype)
    }

    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    /// The static size of dimension `axis` (negative counts from the end), or
    /// `None` for the batch dimension.
    pub fn dim(&self, axis: i64) -> Option<usize> {
        let a = normalize_axis(axis, self.rank());
        self.dims
            .get(a)
            .copied()
            .filter(|&d| d != BATCH)
            .map(|d| d as usize)
    }
}

/// An axis attribute made non-negative for a tensor of the given rank.
pub fn normalize_axis(axis: i64, rank: usize) -> usize {
    if axis < 0 {
        (axis + rank as i64).max(0) as usize
    } else {
        axis as usize
    }
}

/// Shapes of the tensors of one graph.
#[derive(Clone, Debug, Default)]
pub struct TensorShapes {
    map: HashMap<String, Shape>,
    ints: HashMap<String, Vec<i64>>,
}

/// Integer tensors up to this many elements have their values recorded.
const MAX_VALUES: i64 = 64;

/// A run's record of one tensor: dims, whether float, small int64 values.
type Learned = (Vec<i64>, i32, Option<Vec<i64>>);

/// Tensors whose values depend on the input's values (not just its shape):
/// everything downstream of the input, except through Shape and Size.
fn data_dependent<'g>(
    graph: &'g crate::onnx::GraphProto,
    input: &'g str,
) -> std::collections::HashSet<&'g str> {
    let mut set = std::collections::HashSet::from([input]);
    for node in &graph.node {
        if matches!(node.op(), "Shape" | "Size") {
            continue;
        }
        if node.input.iter().any(|i| set.contains(i.as_str())) {
            set.extend(node.output.iter().map(String::as_str));
        }
    }
    set
}

impl TensorShapes {
    /// Runs `model` on `input` (a batch of 1) and, if `batch_free`, on the same
    /// example repeated twice, and records the shape of every tensor.
    pub fn learn(
        runtime: &Runtime,
        model: &ModelProto,
        input_name: &str,
        input: &ArrayD<f32>,
        batch_free: bool,
    ) -> Result<TensorShapes> {
        let mut probe = model.clone();
        {
            let graph = probe
                .graph
                .as_mut()
                .expect("models are checked to have a graph on load");
            let names: Vec<String> = graph
                .node
                .iter()
                .flat_map(|n| n.output.iter().cloned())
                .filter(|n| !n.is_empty())
                .collect();
            for name in &names {
                expose(graph, name);
            }
        }
        let graph = model
            .graph
            .as_ref()
            .expect("models are checked to have a graph on load");
        let mut session = runtime.session(
            &onnx::encode_model(&probe),
            "the model with its intermediate tensors exposed",
            SessionOptions::default(),
        )?;
        let run = |session: &mut ort::session::Session,
                   x: &ArrayD<f32>|
         -> Result<HashMap<String, Learned>> {
            let tensor = ort::value::TensorRef::from_array_view(x.view())
                .map_err(|e| Error::runtime("the input tensor", e))?;
            let outputs = session
                .run(ort::inputs![input_name => tensor])
                .map_err(|e| Error::runtime("running the model to learn tensor shapes", e))?;
            let mut found = HashMap::new();
            for (name, value) in outputs.iter() {
                if let ValueType::Tensor { ty, shape, .. } = value.dtype() {
                    let ints = match ty {
                        TensorElementType::Int64 if shape.iter().product::<i64>() <= MAX_VALUES => {
                            value
                                .try_extract_array::<i64>()
                                .ok()
                                .map(|a| a.iter().copied().collect())
                        }
                        _ => None,
                    };
                    found.insert(
                        name.to_string(),
                        (shape.iter().copied().collect(), element_dtype(*ty), ints),
                    );
                }
            }
            Ok(found)
        };
        let one = run(&mut session, input)?;
        let two = if batch_free {
            let doubled = ndarray::concatenate(ndarray::Axis(0), &[input.view(), input.view()])
                .expect("same shapes");
            Some(run(&mut session, &doubled)?)
        } else {
            None
        };
        let data_dependent = data_dependent(graph, input_name);
        let mut map = HashMap::new();
        let mut ints = HashMap::new();
        for (name, (dims, dtype, values)) in one {
            let other = two.as_ref().and_then(|t| t.get(&name));
            let dims = match other {
                Some((dims2, _, _)) if dims2.len() == dims.len() => dims
                    .iter()
                    .zip(dims2)
                    .map(|(&a, &b)| if a != b { BATCH } else { a })
                    .collect(),
                _ => dims,
            };
            let same_at_both_batches = other.is_none_or(|(_, _, v2)| *v2 == values);
            if let Some(values) =
                values.filter(|_| same_at_both_batches && !data_dependent.contains(name.as_str()))
            {
                ints.insert(name.clone(), values);
            }
            map.insert(name, Shape { dims, dtype });
        }
        let mut in_dims: Vec<i64> = input.shape().iter().map(|&d| d as i64).collect();
        if batch_free {
            in_dims[0] = BATCH;
        }
        map.insert(
            input_name.to_string(),
            Shape {
                dims: in_dims,
                dtype: onnx::dtype::FLOAT,
            },
        );
        for init in &graph.initializer {
            let name = init.name.clone().unwrap_or_default();
            map.entry(name).or_insert(Shape {
                dims: init.dims.clone(),
                dtype: init.data_type.unwrap_or(0),
            });
        }
        for node in graph.node.iter().filter(|n| n.op() == "Constant") {
            for out in &node.output {
                if let Some(t) = node.attr("value").and_then(|a| a.t.as_ref()) {
                    map.entry(out.clone()).or_insert(Shape {
                        dims: t.dims.clone(),
                        dtype: t.data_type.unwrap_or(0),
                    });
                }
            }
        }
        Ok(TensorShapes { map, ints })
    }

    /// The value of a small integer tensor computed from shapes alone (no
    /// input data), such as the pads PyTorch computes for `F.pad`; the
    /// gradient rules use these as constants.
    pub fn int_value(&self, name: &str) -> Option<&[i64]> {
        self.ints.get(name).map(Vec::as_slice)
    }

    pub fn get(&self, name: &str) -> Option<&Shape> {
        self.map.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }
}

/// The ONNX element type of a tensor ONNX Runtime returned: the float types
/// (which gradients flow through) and the integers; 0 for the rest.
fn element_dtype(ty: TensorElementType) -> i32 {
    use onnx::dtype;
    match ty {
        TensorElementType::Float32 => dtype::FLOAT,
        TensorElementType::Float64 => dtype::DOUBLE,
        TensorElementType::Float16 => dtype::FLOAT16,
        TensorElementType::Bfloat16 => dtype::BFLOAT16,
        TensorElementType::Int64 => dtype::INT64,
        TensorElementType::Int32 => dtype::INT32,
        _ => 0,
    }
}
