//! Reverse-mode differentiation as an ONNX-to-ONNX rewrite.
//!
//! [`differentiate`] appends to a model's graph the backward pass of a chosen
//! score: the vector-Jacobian products of each op written as standard ONNX
//! ops. The result is one ONNX graph computing forward and backward together,
//! which ONNX Runtime optimises and runs as fast as any forward pass (see
//! DESIGN.md: 4-7x faster than candle or tract, faster than PyTorch autograd).
//!
//! The score is `sum(seed * S)` for a score tensor `S` (the class logits, or
//! their softmax) and a `seed` fed at run time: a one-hot seed selects one
//! class per example, a negated one gives negative Grad-CAM's gradients.
//!
//! Which rule each op gets is decided by a [`RuleSet`]: [`rulesets::Standard`]
//! is the true gradient; guided backprop and deconvnet change only ReLU's rule.
//! An op with no rule on the path from the score to a requested tensor is an
//! error naming the node; the result is never silently wrong.

mod opset;
pub mod rules;
pub mod rulesets;

use std::collections::{HashMap, HashSet};

use crate::graph::{Builder, Constants, NodeExt, Shape, TensorShapes};
use crate::onnx::{self, ModelProto, NodeProto, ValueInfoProto};
use crate::{Error, Result};

pub use opset::at_least_16;
pub use rulesets::{Deconvnet, GuidedBackprop, RuleSet, Standard};

/// A gradient rule: from the gradients of a node's outputs (`None` where an
/// output gets none) to those of its inputs (`None` where not wanted).
pub type Rule = fn(&mut Ctx, &[Option<String>]) -> Result<Vec<Option<String>>>;

/// What a rule sees of the node it differentiates and the graph being built.
pub struct Ctx<'a, 'g> {
    pub node: &'a NodeProto,
    pub b: &'a mut Builder<'g>,
    pub shapes: &'a TensorShapes,
    pub consts: &'a Constants,
    /// Per input: whether its gradient is wanted.
    pub wants: Vec<bool>,
}

impl Ctx<'_, '_> {
    /// The name of input `i` (empty when omitted).
    pub fn input(&self, i: usize) -> String {
        self.node.input.get(i).cloned().unwrap_or_default()
    }

    pub fn output(&self, i: usize) -> String {
        self.node.output[i].clone()
    }

    pub fn wants(&self, i: usize) -> bool {
        self.wants.get(i).copied().unwrap_or(false)
    }

    /// The learned shape of a tensor.
    pub fn shape(&self, name: &str) -> Result<Shape> {
        self.shapes
            .get(name)
            .cloned()
            .ok_or_else(|| self.fail(format!("the shape of tensor '{name}' is unknown")))
    }

    /// An error for this node.
    pub fn fail(&self, reason: impl Into<String>) -> Error {
        Error::NoGradientRule {
            node: self.node.label(),
            op: self.node.op().to_string(),
            reason: reason.into(),
        }
    }

    /// A constant integer input, needed where the rule must know it statically.
    pub fn const_ints(&self, i: usize) -> Result<Vec<i64>> {
        let name = self.input(i);
        self.consts
            .i64(&name)
            .map(|a| a.iter().copied().collect())
            .or_else(|| self.shapes.int_value(&name).map(<[i64]>::to_vec))
            .ok_or_else(|| {
                self.fail(format!(
                    "input {i} ('{name}') must be a constant or computed from shapes alone"
                ))
            })
    }

    /// The first output's gradient (every single-output rule starts here).
    pub fn g0(&self, g: &[Option<String>]) -> String {
        g[0].clone()
            .expect("rules are called only for nodes whose outputs have gradients")
    }
}

/// What to differentiate.
pub struct Request<'a> {
    /// The tensor whose seed-weighted sum is the score.
    pub score: &'a str,
    /// Tensors to differentiate the score with respect to: the model's input
    /// and/or intermediate tensors.
    pub wrt: &'a [String],
    pub rules: &'a dyn RuleSet,
}

/// A forward+backward model and the names of its extra inputs and outputs.
pub struct GradientModel {
    pub model: ModelProto,
    /// The seed input: same shape as the score tensor.
    pub seed: String,
    /// The score tensor (an output of the model).
    pub score: String,
    /// Per requested tensor: the name of its gradient output.
    pub grads: Vec<String>,
}

/// Name of the seed input.
pub const SEED: &str = "sensie_seed";

/// Builds the forward+backward graph for `request`.
pub fn differentiate(
    model: &ModelProto,
    shapes: &TensorShapes,
    request: &Request,
) -> Result<GradientModel> {
    let mut model = opset::at_least_16(model)?;
    let graph = model
        .graph
        .as_mut()
        .expect("models are checked to have a graph");
    let forward: Vec<NodeProto> = graph.node.clone();
    let consts = Constants::of(graph);
    let score_shape = shapes
        .get(request.score)
        .ok_or_else(|| Error::UnknownTensor {
            name: request.score.to_string(),
            closest: vec![],
        })?
        .clone();

    // Tensors that depend on a requested one, and tensors the score depends on.
    let is_float = |name: &str| shapes.get(name).is_some_and(|s| s.is_float);
    let mut depends: HashSet<&str> = request.wrt.iter().map(String::as_str).collect();
    for node in &forward {
        if node.input.iter().any(|i| depends.contains(i.as_str())) {
            depends.extend(
                node.output
                    .iter()
                    .map(String::as_str)
                    .filter(|o| is_float(o)),
            );
        }
    }
    let mut feeds: HashSet<&str> = HashSet::from([request.score]);
    for node in forward.iter().rev() {
        if node.output.iter().any(|o| feeds.contains(o.as_str())) {
            feeds.extend(node.input.iter().map(String::as_str));
        }
    }
    let on_path = |name: &str| depends.contains(name) && feeds.contains(name);

    graph.input.push(seed_input(&score_shape));
    let mut b = Builder::new(graph, "grad");
    let mut grads: HashMap<String, Vec<String>> =
        HashMap::from([(request.score.to_string(), vec![SEED.to_string()])]);
    for node in forward.iter().rev() {
        let wants: Vec<bool> = node
            .input
            .iter()
            .map(|i| !i.is_empty() && on_path(i))
            .collect();
        if !wants.iter().any(|&w| w) {
            continue;
        }
        let out_grads: Vec<Option<String>> = node
            .output
            .iter()
            .map(|o| grads.remove(o).map(|gs| sum(&mut b, gs)))
            .collect();
        if out_grads.iter().all(Option::is_none) {
            continue;
        }
        let rule = request
            .rules
            .rule(node.op())
            .or_else(|| rules::standard(node.op()))
            .ok_or_else(|| Error::NoGradientRule {
                node: node.label(),
                op: node.op().to_string(),
                reason: format!(
                    "sensie has no gradient rule for {} (rule set: {})",
                    node.op(),
                    request.rules.name()
                ),
            })?;
        let mut ctx = Ctx {
            node,
            b: &mut b,
            shapes,
            consts: &consts,
            wants: wants.clone(),
        };
        let in_grads = rule(&mut ctx, &out_grads)?;
        for (i, g) in in_grads.into_iter().enumerate() {
            if let Some(g) = g.filter(|_| wants.get(i).copied().unwrap_or(false)) {
                grads.entry(node.input[i].clone()).or_default().push(g);
            }
        }
    }

    let mut names = Vec::new();
    for wrt in request.wrt {
        let total = match grads.remove(wrt) {
            Some(gs) => sum(&mut b, gs),
            None => b.zeros_like(wrt),
        };
        let named = b.node("Identity", &[&total], vec![]);
        b.expose(&named);
        b.expose(wrt);
        names.push(named);
    }
    b.expose(request.score);
    Ok(GradientModel {
        model,
        seed: SEED.to_string(),
        score: request.score.to_string(),
        grads: names,
    })
}

/// Sums the gradient contributions that fan in to one tensor.
fn sum(b: &mut Builder, mut gs: Vec<String>) -> String {
    if gs.len() == 1 {
        gs.pop().unwrap()
    } else {
        b.node(
            "Sum",
            &gs.iter().map(String::as_str).collect::<Vec<_>>(),
            vec![],
        )
    }
}

fn seed_input(score: &Shape) -> ValueInfoProto {
    use onnx::proto::tensor_shape_proto::{Dimension, dimension::Value as Dim};
    use onnx::proto::{TensorShapeProto, TypeProto, type_proto};
    let dim = |d: i64| Dimension {
        value: Some(if d < 0 {
            Dim::DimParam("batch".into())
        } else {
            Dim::DimValue(d)
        }),
        ..Default::default()
    };
    ValueInfoProto {
        name: Some(SEED.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(onnx::dtype::FLOAT),
                shape: Some(TensorShapeProto {
                    dim: score.dims.iter().map(|&d| dim(d)).collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}
