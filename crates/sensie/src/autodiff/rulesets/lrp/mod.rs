//! Layer-wise relevance propagation (Bach et al. 2015; Montavon et al.
//! 2019) as a rule set of the engine: what flows back is relevance, and each
//! Conv, Gemm or MatMul redistributes it by the rule its composite chooses
//! (one file per rule). The conventions are zennit 0.5's, so the numbers
//! match it:
//!
//! - The stabiliser adds `eps` to denominators `z >= 0` and subtracts it
//!   from `z < 0` (1e-6, or the epsilon rule's epsilon); biases stay in the
//!   denominators.
//! - Activations pass relevance unchanged; MaxPool sends a window's
//!   relevance to its first maximum in row-major order (the gradient does);
//!   reshapes, transposes, slices and concatenations move it as they move
//!   values.
//! - Linear maps that are not layers (average pooling, a BatchNormalization
//!   with no Conv before it, a residual Add, Mul or Div by a constant) share
//!   relevance in proportion to each input's contribution, `x * J^T (R /
//!   stab(y))`: zennit's `Norm` rule on its `Sum` and pooling layers.
//! - A BatchNormalization right after a Conv or Gemm is folded into it (as
//!   zennit's `SequentialMergeBatchNorm` canonizer does): the layer's rule
//!   sees the merged weights and bias, the BatchNormalization passes
//!   relevance on.
//! - Any other op on the path is refused, naming the node: no LRP rule makes
//!   sense for it.
//!
//! The seed is one-hot on the target class; every rule is linear in the
//! relevance it receives, so the method scales the result by the target's
//! logit afterwards, which equals starting from the logit itself.

mod composite;
mod epsilon;
mod flat;
mod gamma;
mod layer;
mod zbox;
mod zplus;

use crate::autodiff::rules;
use crate::autodiff::rulesets::RuleSet;
use crate::autodiff::{Ctx, Rule};
use crate::graph::{Builder, NodeExt};
use crate::{Error, Result};

pub use composite::Composite;
use composite::LayerRule;
use layer::Layer;

/// The stabiliser of every rule but epsilon, as in zennit.
const STABILISER: f32 = 1e-6;

type Grads = Result<Vec<Option<String>>>;

/// An LRP composite with its parameters, ready to differentiate a model.
pub struct Lrp {
    composite: Composite,
    epsilon: f32,
    gamma: f32,
    bounds: (f32, f32),
    name: String,
}

impl Lrp {
    /// `epsilon` for the epsilon rule, `gamma` for the gamma rule, `bounds`
    /// (lowest, highest input value) for the z^B rule of `epsilon-gamma-box`.
    pub fn new(composite: Composite, epsilon: f32, gamma: f32, bounds: (f32, f32)) -> Result<Lrp> {
        if !(epsilon >= 0.0 && epsilon.is_finite()) {
            return Err(Error::invalid(
                format!("LRP epsilon {epsilon}"),
                "must be a finite number >= 0",
            ));
        }
        if !(gamma >= 0.0 && gamma.is_finite()) {
            return Err(Error::invalid(
                format!("LRP gamma {gamma}"),
                "must be a finite number >= 0",
            ));
        }
        let (low, high) = bounds;
        if composite.uses_box() && !(low.is_finite() && high.is_finite() && low < high) {
            return Err(Error::invalid(
                format!("LRP box {low},{high}"),
                format!("{composite}'s z^B rule needs finite bounds LOW < HIGH (--box LOW,HIGH)"),
            ));
        }
        let name = format!("lrp:{composite}:epsilon={epsilon}:gamma={gamma}:box={low},{high}");
        Ok(Lrp {
            composite,
            epsilon,
            gamma,
            bounds,
            name,
        })
    }

    fn propagate(&self, ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
        let op = ctx.node.op().to_string();
        match op.as_str() {
            "Conv" | "Gemm" | "MatMul" => {
                let layer = Layer::of(ctx)?;
                let r = ctx.g0(g);
                let relevance = match self.composite.rule(op == "Conv", layer::is_first(ctx)) {
                    LayerRule::Epsilon => epsilon::epsilon(ctx, &layer, &r, self.epsilon)?,
                    LayerRule::ZPlus => zplus::z_plus(ctx, &layer, &r)?,
                    LayerRule::Gamma => gamma::gamma(ctx, &layer, &r, self.gamma)?,
                    LayerRule::Flat => flat::flat(ctx, &layer, &r)?,
                    LayerRule::ZBox => zbox::z_box(ctx, &layer, &r, self.bounds)?,
                };
                Ok(vec![Some(relevance)])
            }
            "BatchNormalization" if layer::is_folded(ctx) => pass(ctx, g),
            "Relu" | "LeakyRelu" | "PRelu" | "Elu" | "Selu" | "Celu" | "Sigmoid"
            | "HardSigmoid" | "Tanh" | "Softplus" | "Softsign" | "Gelu" | "HardSwish" | "Clip"
            | "Identity" | "Dropout" => pass(ctx, g),
            "MaxPool" | "GlobalMaxPool" | "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze"
            | "Transpose" | "Concat" | "Split" | "Slice" | "Pad" | "Cast" => standard(ctx, g),
            "Add" | "Sub" | "Sum" | "AveragePool" | "GlobalAveragePool" | "ReduceMean"
            | "ReduceSum" | "BatchNormalization" => proportional(ctx, g),
            // Scaling by a constant is linear; a product of two tensors that both carry
            // relevance, or a division by one, is not.
            "Mul" if ctx.wants.iter().filter(|&&w| w).count() == 1 => proportional(ctx, g),
            "Div" if !ctx.wants(1) => proportional(ctx, g),
            "Mul" | "Div" => Err(refuse(
                ctx,
                "it multiplies or divides by a tensor computed from the input, which is not linear",
            )),
            _ => Err(refuse(
                ctx,
                "it is not a linear layer, an activation, pooling, a sum or a reshape",
            )),
        }
    }
}

impl RuleSet for Lrp {
    fn name(&self) -> &str {
        &self.name
    }

    fn rule(&self, _op: &str) -> Option<Rule> {
        None
    }

    /// Every node gets an LRP rule or is refused: falling back on the
    /// gradient would give a map that is neither.
    fn node_rule(&self, ctx: &mut Ctx, g: &[Option<String>]) -> Option<Grads> {
        Some(self.propagate(ctx, g))
    }
}

/// The error for a node LRP cannot pass relevance through.
fn refuse(ctx: &Ctx, why: &str) -> Error {
    ctx.fail(format!(
        "LRP has no rule for {}: {why}. sensie's LRP handles Conv, Gemm and MatMul with constant weights, activations, \
         pooling, BatchNormalization, Add and reshapes",
        ctx.node.op()
    ))
}

/// Relevance passes to the first input unchanged.
fn pass(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    Ok(vec![Some(ctx.g0(g))])
}

/// The gradient rule: right for ops that only move values.
fn standard(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let rule = rules::standard(ctx.node.op())
        .expect("every op LRP moves relevance through has a gradient rule");
    rule(ctx, g)
}

/// zennit's `Norm` rule for a linear map `y = f(x1, x2, ...)` with no
/// parameters of its own: input `i` gets `x_i * J_i^T (R / stab(y))`, its
/// share of `y`.
fn proportional(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let r = ctx.g0(g);
    let y = ctx.output(0);
    let s = divide(ctx.b, &r, &y, STABILISER);
    let mut seeds = vec![None; ctx.node.output.len()];
    seeds[0] = Some(s);
    let grads = standard(ctx, &seeds)?;
    Ok(grads
        .into_iter()
        .enumerate()
        .map(|(i, grad)| grad.map(|grad| ctx.b.node("Mul", &[&ctx.node.input[i], &grad], vec![])))
        .collect())
}

/// `r / stab(z)`, zennit's stabiliser: `z + eps` where `z >= 0` (zero
/// included), `z - eps` where `z < 0`.
fn divide(b: &mut Builder, r: &str, z: &str, eps: f32) -> String {
    let zero = b.scalar(0.0);
    let at_least_zero = b.node("GreaterOrEqual", &[z, &zero], vec![]);
    let sign = b.cast_float(&at_least_zero);
    let doubled = b.scale(&sign, 2.0 * eps);
    let minus = b.scalar(-eps);
    let shift = b.node("Add", &[&doubled, &minus], vec![]);
    let stabilised = b.node("Add", &[z, &shift], vec![]);
    b.node("Div", &[r, &stabilised], vec![])
}

/// The positive part, `max(t, 0)`.
fn positive(b: &mut Builder, t: &str) -> String {
    b.node("Relu", &[t], vec![])
}

/// The negative part, `min(t, 0)`.
fn negative(b: &mut Builder, t: &str) -> String {
    let zero = b.scalar(0.0);
    b.node("Min", &[t, &zero], vec![])
}

fn mul(b: &mut Builder, x: &str, y: &str) -> String {
    b.node("Mul", &[x, y], vec![])
}

fn add(b: &mut Builder, x: &str, y: &str) -> String {
    b.node("Add", &[x, y], vec![])
}

fn sub(b: &mut Builder, x: &str, y: &str) -> String {
    b.node("Sub", &[x, y], vec![])
}
