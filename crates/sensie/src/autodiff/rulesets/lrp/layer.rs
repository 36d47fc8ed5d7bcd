//! A Conv, Gemm or MatMul as LRP's rules see it: `z = x W + b` with constant
//! weights, any BatchNormalization right after it folded in.

use std::collections::HashSet;

use super::{add, refuse};
use crate::Result;
use crate::autodiff::rules::{conv, linear};
use crate::autodiff::{Ctx, SEED};
use crate::graph::{Constants, NodeExt, real_inputs};
use crate::onnx::NodeProto;

/// The ops LRP treats as layers.
const LAYERS: [&str; 3] = ["Conv", "Gemm", "MatMul"];

/// One layer: its input, effective weight and bias, and the output the
/// relevance arrives at.
pub struct Layer {
    pub x: String,
    /// Shaped like the node's weight input.
    pub weight: String,
    /// Shaped to broadcast over the output's channels (Conv) or columns.
    pub bias: Option<String>,
    /// The layer's output, or the folded BatchNormalization's.
    pub z: String,
}

impl Layer {
    pub fn of(ctx: &mut Ctx) -> Result<Layer> {
        if ctx.wants(1) || ctx.wants(2) {
            return Err(refuse(
                ctx,
                "its weights or bias are computed from the input, so it is not a layer with parameters",
            ));
        }
        let op = ctx.node.op().to_string();
        let x = ctx.input(0);
        let mut weight = ctx.input(1);
        let mut bias = Some(ctx.input(2)).filter(|b| !b.is_empty() && op != "MatMul");
        if let (Some(c), Some(beta)) = (
            &bias,
            ctx.node
                .attr_f("beta")?
                .filter(|&b| op == "Gemm" && b != 1.0),
        ) {
            bias = Some(ctx.b.scale(c, beta));
        }
        let mut z = ctx.output(0);
        if let Some(bn) = folded_batch_norm(ctx.forward, ctx.consts, ctx.node).cloned() {
            let wd = ctx.shape(&weight)?.dims;
            let (scale, shift) = batch_norm_affine(ctx.forward, ctx.consts, &bn)?;
            let m = scale.len();
            let scale_dims: Vec<usize> = match op.as_str() {
                "Conv" => [m]
                    .into_iter()
                    .chain(std::iter::repeat_n(1, wd.len() - 1))
                    .collect(),
                "Gemm" if ctx.node.attr_i("transB")?.unwrap_or(0) != 0 => vec![m, 1],
                _ => vec![m],
            };
            let scale_w = ctx.b.const_f32(&scale_dims, &scale);
            weight = ctx.b.node("Mul", &[&weight, &scale_w], vec![]);
            let shift = ctx.b.const_f32(&[m], &shift);
            bias = Some(match bias {
                Some(b) => {
                    let scale_b = ctx.b.const_f32(&[m], &scale);
                    let scaled = ctx.b.node("Mul", &[&b, &scale_b], vec![]);
                    add(ctx.b, &scaled, &shift)
                }
                None => shift,
            });
            z = bn.output[0].clone();
        }
        Ok(Layer { x, weight, bias, z })
    }

    /// The node run on input `x` with weight `w` and bias `bias` (shaped
    /// like the layer's own).
    pub fn forward(&self, ctx: &mut Ctx, x: &str, w: &str, bias: Option<&str>) -> String {
        let op = ctx.node.op().to_string();
        // A Gemm's bias is already multiplied by its beta.
        let attrs: Vec<_> = ctx
            .node
            .attribute
            .iter()
            .filter(|a| a.name.as_deref() != Some("beta"))
            .cloned()
            .collect();
        match (op.as_str(), bias) {
            ("MatMul", Some(bias)) => {
                let y = ctx.b.node("MatMul", &[x, w], vec![]);
                add(ctx.b, &y, bias)
            }
            ("MatMul", None) => ctx.b.node("MatMul", &[x, w], vec![]),
            (_, Some(bias)) => ctx.b.node(&op, &[x, w, bias], attrs),
            (_, None) => ctx.b.node(&op, &[x, w], attrs),
        }
    }

    /// `J^T g` for the layer run with weight `w`: the gradient of
    /// `forward(x, w)` with respect to `x`.
    pub fn backward(&self, ctx: &mut Ctx, g: &str, w: &str) -> Result<String> {
        match ctx.node.op() {
            "Conv" => conv::input_gradient(ctx, g, w),
            "Gemm" => linear::gemm_input_gradient(ctx, g, w),
            _ => linear::matmul_input_gradient(ctx, g, w),
        }
    }

    /// A constant of `value` shaped like one example of the input (batch 1):
    /// the flat rule's ones, the z^B rule's bounds.
    pub fn filled_input(&self, ctx: &mut Ctx, value: f32) -> Result<String> {
        let dims = ctx.shape(&self.x)?.dims;
        if dims[1..].iter().any(|&d| d < 0) {
            return Err(ctx.fail(format!(
                "LRP's first-layer rules need the input's sizes, '{}' has {dims:?}",
                self.x
            )));
        }
        let dims: Vec<usize> = [1]
            .into_iter()
            .chain(dims[1..].iter().map(|&d| d as usize))
            .collect();
        Ok(ctx.b.const_f32(&dims, &vec![value; dims.iter().product()]))
    }

    /// A constant of ones shaped like the layer's weight.
    pub fn ones_weight(&self, ctx: &mut Ctx) -> Result<String> {
        let name = ctx.input(1);
        let dims = ctx.shape(&name)?.dims;
        let dims: Vec<usize> = dims.iter().map(|&d| d.max(0) as usize).collect();
        Ok(ctx.b.const_f32(&dims, &vec![1.0; dims.iter().product()]))
    }
}

/// The BatchNormalization that is the only reader of `layer`'s output, when
/// its statistics and affine parameters are constants: it is folded in.
fn folded_batch_norm<'f>(
    forward: &'f [NodeProto],
    consts: &Constants,
    layer: &NodeProto,
) -> Option<&'f NodeProto> {
    let out = layer.output.first()?;
    let mut readers = forward.iter().filter(|n| n.input.iter().any(|i| i == out));
    let bn = readers.next()?;
    let alone = readers.next().is_none();
    let folds = bn.op() == "BatchNormalization"
        && bn.input[0] == *out
        && (1..5).all(|i| {
            bn.input
                .get(i)
                .is_some_and(|n| consts.contains(constant_source(forward, n)))
        });
    (alone && folds).then_some(bn)
}

/// The tensor an Identity chain copies (exporters write one where two
/// parameters are equal), or `name` itself.
fn constant_source<'f>(forward: &'f [NodeProto], mut name: &'f str) -> &'f str {
    while let Some(copy) = forward
        .iter()
        .find(|n| n.op() == "Identity" && n.output.first().is_some_and(|o| o == name))
    {
        name = &copy.input[0];
    }
    name
}

/// Whether `ctx.node`, a BatchNormalization, is folded into the layer before it.
pub fn is_folded(ctx: &Ctx) -> bool {
    let x = ctx.input(0);
    ctx.forward
        .iter()
        .find(|n| LAYERS.contains(&n.op()) && n.output.first() == Some(&x))
        .and_then(|layer| folded_batch_norm(ctx.forward, ctx.consts, layer))
        .is_some_and(|bn| bn.output.first() == ctx.node.output.first())
}

/// A BatchNormalization's per-channel `y = scale x + shift`.
fn batch_norm_affine(
    forward: &[NodeProto],
    consts: &Constants,
    bn: &NodeProto,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let param = |i: usize| -> Vec<f64> {
        consts
            .f32(constant_source(forward, &bn.input[i]))
            .expect("checked constant")
            .iter()
            .map(|&v| f64::from(v))
            .collect()
    };
    let (gamma, beta, mean, var) = (param(1), param(2), param(3), param(4));
    let eps = f64::from(bn.attr_f("epsilon")?.unwrap_or(1e-5));
    let scale: Vec<f64> = gamma
        .iter()
        .zip(&var)
        .map(|(g, v)| g / (v + eps).sqrt())
        .collect();
    let shift = beta
        .iter()
        .zip(&mean)
        .zip(&scale)
        .map(|((b, m), s)| (b - m * s) as f32)
        .collect();
    Ok((scale.into_iter().map(|s| s as f32).collect(), shift))
}

/// Whether `ctx.node` is the first layer: the first Conv, Gemm or MatMul, in
/// the graph's order, whose input depends on the model's input.
pub fn is_first(ctx: &Ctx) -> bool {
    let mut depends: HashSet<&str> = real_inputs(ctx.b.graph)
        .into_iter()
        .filter_map(|v| v.name.as_deref())
        .filter(|&n| n != SEED)
        .collect();
    for node in ctx.forward {
        if LAYERS.contains(&node.op())
            && node
                .input
                .first()
                .is_some_and(|i| depends.contains(i.as_str()))
        {
            return node.output.first() == ctx.node.output.first();
        }
        if node.input.iter().any(|i| depends.contains(i.as_str())) {
            depends.extend(node.output.iter().map(String::as_str));
        }
    }
    false
}
