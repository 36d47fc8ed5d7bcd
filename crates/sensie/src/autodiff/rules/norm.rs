//! Normalisations. Inference BatchNormalization is a per-channel scale;
//! InstanceNormalization and LayerNormalization differentiate through the
//! statistics they compute from the input itself.

use crate::Result;
use crate::autodiff::Ctx;
use crate::graph::shapes::normalize_axis;
use crate::graph::{Builder, NodeExt};

type Grads = Result<Vec<Option<String>>>;

/// `g * scale / sqrt(var + eps)` per channel.
pub fn batch_norm(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    if ctx.node.attr_i("training_mode")?.unwrap_or(0) != 0 {
        return Err(ctx.fail(
            "BatchNormalization in training mode is not supported; export the model in eval mode",
        ));
    }
    if (1..5).any(|i| ctx.wants(i)) {
        return Err(
            ctx.fail("gradients with respect to BatchNormalization's parameters are not supported")
        );
    }
    let g = ctx.g0(g);
    let eps = ctx.node.attr_f("epsilon")?.unwrap_or(1e-5);
    let (scale, var) = (ctx.input(1), ctx.input(4));
    let rank = ctx.shape(&ctx.input(0))?.rank();
    let b = &mut *ctx.b;
    let e = b.scalar(eps);
    let ve = b.node("Add", &[&var, &e], vec![]);
    let sd = b.node("Sqrt", &[&ve], vec![]);
    let mut factor = b.node("Div", &[&scale, &sd], vec![]);
    if rank > 2 {
        let axes: Vec<i64> = (1..rank as i64 - 1).collect();
        factor = b.unsqueeze(&factor, &axes);
    }
    Ok(vec![Some(b.node("Mul", &[&g, &factor], vec![]))])
}

/// `(gs - mean(gs) - xhat mean(gs xhat)) / sigma` over `axes`, where
/// `gs = g * scale` and `xhat = (x - mean(x)) / sigma`, `sigma = sqrt(var(x) + eps)`.
fn normalized_grad(
    b: &mut Builder,
    x: &str,
    gs: &str,
    axes: &[i64],
    count: f32,
    eps: f32,
) -> String {
    let mean = |b: &mut Builder, t: &str| {
        let s = b.reduce_sum(t, axes, true);
        b.scale(&s, 1.0 / count)
    };
    let mu = mean(b, x);
    let centered = b.node("Sub", &[x, &mu], vec![]);
    let sq = b.node("Mul", &[&centered, &centered], vec![]);
    let var = mean(b, &sq);
    let e = b.scalar(eps);
    let ve = b.node("Add", &[&var, &e], vec![]);
    let sigma = b.node("Sqrt", &[&ve], vec![]);
    let xhat = b.node("Div", &[&centered, &sigma], vec![]);
    let mg = mean(b, gs);
    let gx = b.node("Mul", &[gs, &xhat], vec![]);
    let mgx = mean(b, &gx);
    let proj = b.node("Mul", &[&xhat, &mgx], vec![]);
    let d1 = b.node("Sub", &[gs, &mg], vec![]);
    let d2 = b.node("Sub", &[&d1, &proj], vec![]);
    b.node("Div", &[&d2, &sigma], vec![])
}

fn static_count(ctx: &Ctx, dims: &[i64], axes: &[i64]) -> Result<f32> {
    axes.iter().try_fold(1.0f32, |acc, &a| {
        let d = dims[a as usize];
        if d < 0 {
            Err(ctx.fail("normalised axes must have static sizes"))
        } else {
            Ok(acc * d as f32)
        }
    })
}

pub fn instance_norm(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    if ctx.wants(1) || ctx.wants(2) {
        return Err(ctx.fail(
            "gradients with respect to InstanceNormalization's parameters are not supported",
        ));
    }
    let g = ctx.g0(g);
    let (x, scale) = (ctx.input(0), ctx.input(1));
    let eps = ctx.node.attr_f("epsilon")?.unwrap_or(1e-5);
    let dims = ctx.shape(&x)?.dims;
    let axes: Vec<i64> = (2..dims.len() as i64).collect();
    let count = static_count(ctx, &dims, &axes)?;
    let b = &mut *ctx.b;
    let channel_axes: Vec<i64> = (1..dims.len() as i64 - 1).collect();
    let scale = b.unsqueeze(&scale, &channel_axes);
    let gs = b.node("Mul", &[&g, &scale], vec![]);
    Ok(vec![Some(normalized_grad(b, &x, &gs, &axes, count, eps))])
}

pub fn layer_norm(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    if ctx.wants(1) || ctx.wants(2) {
        return Err(
            ctx.fail("gradients with respect to LayerNormalization's parameters are not supported")
        );
    }
    if ctx.node.output.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(ctx.fail("LayerNormalization's Mean and InvStdDev outputs are not supported"));
    }
    let g = ctx.g0(g);
    let (x, scale) = (ctx.input(0), ctx.input(1));
    let eps = ctx.node.attr_f("epsilon")?.unwrap_or(1e-5);
    let dims = ctx.shape(&x)?.dims;
    let axis = normalize_axis(ctx.node.attr_i("axis")?.unwrap_or(-1), dims.len());
    let axes: Vec<i64> = (axis as i64..dims.len() as i64).collect();
    let count = static_count(ctx, &dims, &axes)?;
    let b = &mut *ctx.b;
    let gs = b.node("Mul", &[&g, &scale], vec![]);
    Ok(vec![Some(normalized_grad(b, &x, &gs, &axes, count, eps))])
}
