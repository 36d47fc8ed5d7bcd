//! Reverse-mode differentiation as an ONNX-to-ONNX rewrite, and the rule
//! sets that choose what flows back.
//!
//! The engine appends to a model's graph the backward pass of a chosen score:
//! the vector-Jacobian products of each op written as standard ONNX ops. The
//! result is one ONNX graph computing forward and backward together, which
//! ONNX Runtime optimises and runs like any forward pass.
//!
//! The score is `sum(seed * S)` for a score tensor `S` (the class logits, or
//! their softmax) and a `seed` fed at run time: a one-hot seed selects one
//! class per example, a negated one gives negative Grad-CAM's gradients.
//!
//! What a caller chooses here is the [`RuleSet`], handed to
//! [`crate::engine::GradientRequest`]: [`Standard`] is the true gradient;
//! [`GuidedBackprop`] and [`Deconvnet`] change only ReLU's rule; [`Lrp`]
//! under a [`Composite`] chooses a rule per layer, and what flows back is
//! then relevance rather than a gradient. The rules themselves, and the
//! graph rewriting, are internal. An op with no rule on the path from the
//! score to a requested tensor is an error naming the node; the result is
//! never silently wrong.

mod ctx;
mod opset;
pub(crate) mod rules;
mod rulesets;

use std::collections::{HashMap, HashSet};

use crate::graph::{Builder, Constants, NodeExt, Shape, TensorShapes};
use crate::onnx::{self, ModelProto, NodeProto, ValueInfoProto};
use crate::{Error, Result};

pub(crate) use ctx::{Ctx, Rule};
pub(crate) use opset::at_least_16;
pub use rulesets::lrp::{Composite, Lrp};
pub use rulesets::{Deconvnet, GuidedBackprop, RuleSet, Standard};

/// What to differentiate.
pub(crate) struct Request<'a> {
    /// The tensor whose seed-weighted sum is the score.
    pub score: &'a str,
    /// Tensors to differentiate the score with respect to: the model's input
    /// and/or intermediate tensors.
    pub wrt: &'a [String],
    pub rules: &'a dyn RuleSet,
}

/// A forward+backward model and the names of its extra inputs and outputs.
pub(crate) struct GradientModel {
    pub model: ModelProto,
    /// The score tensor (an output of the model).
    pub score: String,
    /// Per requested tensor: the name of its gradient output.
    pub grads: Vec<String>,
}

/// Name of the seed input.
pub(crate) const SEED: &str = "sensie_seed";

/// Builds the forward+backward graph for `request`.
pub(crate) fn differentiate(
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
    let is_real = |name: &str| shapes.get(name).is_some_and(Shape::is_real);
    let mut depends: HashSet<&str> = request.wrt.iter().map(String::as_str).collect();
    for node in &forward {
        if node.input.iter().any(|i| depends.contains(i.as_str())) {
            depends.extend(
                node.output
                    .iter()
                    .map(String::as_str)
                    .filter(|o| is_real(o)),
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
        let mut ctx = Ctx {
            node,
            b: &mut b,
            shapes,
            consts: &consts,
            wants: wants.clone(),
            forward: &forward,
        };
        let in_grads = match request.rules.node_rule(&mut ctx, &out_grads) {
            Some(in_grads) => in_grads?,
            None => {
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
                rule(&mut ctx, &out_grads)?
            }
        };
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
    onnx::f32_value(SEED, &score.dims, "batch")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, EngineOptions};
    use crate::model::Model;
    use crate::runtime::Runtime;

    #[test]
    fn a_wrongly_typed_attribute_is_an_error_not_its_default() {
        // The MNIST model's Gemm with transB = 1 given as the float 1.0: a read
        // falling back to the default (transB = 0) would differentiate the
        // wrong product; the gradient rule refuses, naming the node.
        let model = Model::load(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/engine/mnist_cnn/model.onnx"),
        )
        .unwrap();
        let mut engine =
            Engine::new(Runtime::new().unwrap(), model, EngineOptions::default()).unwrap();
        let shapes = engine.shapes().unwrap().clone();
        let mut proto = engine.model().proto().clone();
        let gemm = proto
            .graph
            .as_mut()
            .unwrap()
            .node
            .iter_mut()
            .find(|n| n.op_type.as_deref() == Some("Gemm"))
            .expect("a Gemm");
        let trans_b = gemm
            .attribute
            .iter_mut()
            .find(|a| a.name.as_deref() == Some("transB"))
            .expect("transB");
        assert_eq!(trans_b.i, Some(1));
        trans_b.r#type = Some(1);
        trans_b.i = None;
        trans_b.f = Some(1.0);
        let wrt = [engine.model().info().input.name.clone()];
        let err = differentiate(
            &proto,
            &shapes,
            &Request {
                score: &engine.model().logit_tensor(),
                wrt: &wrt,
                rules: &Standard,
            },
        )
        .err()
        .expect("refused");
        let text = err.to_string();
        assert!(
            text.contains("attribute 'transB' of Gemm node")
                && text.contains("it is a float where ONNX defines an integer"),
            "{text}"
        );
    }
}
