//! Reductions and the softmaxes.

use crate::Result;
use crate::autodiff::Ctx;
use crate::graph::NodeExt;
use crate::graph::shapes::{BATCH, normalize_axis};

type Grads = Result<Vec<Option<String>>>;

/// The reduced axes (attribute before opset 18, input after), made
/// non-negative; all axes when none are given.
fn reduced_axes(ctx: &Ctx, rank: usize) -> Result<Vec<i64>> {
    let axes = match ctx.node.attr_ints("axes")? {
        Some(a) => a,
        None if ctx.node.input_name(1).is_some() => ctx.const_ints(1)?,
        None => vec![],
    };
    if axes.is_empty() {
        if ctx.node.attr_i("noop_with_empty_axes")?.unwrap_or(0) == 1 {
            return Ok(vec![]);
        }
        return Ok((0..rank as i64).collect());
    }
    let mut axes: Vec<i64> = axes
        .iter()
        .map(|&a| normalize_axis(a, rank) as i64)
        .collect();
    axes.sort_unstable();
    Ok(axes)
}

/// Refuses a reduction over the batch axis: it mixes the examples, so one
/// example's gradient would depend on which others share its batch.
fn refuse_batch(ctx: &Ctx, dims: &[i64], axes: &[i64]) -> Result<()> {
    if axes.iter().any(|&a| dims[a as usize] == BATCH) {
        return Err(ctx.fail(format!(
            "{} over the batch axis is not supported",
            ctx.node.op()
        )));
    }
    Ok(())
}

/// The output gradient with the reduced axes restored as size-1 axes.
fn keep_dims(ctx: &mut Ctx, g: &str, axes: &[i64]) -> Result<String> {
    Ok(
        if ctx.node.attr_i("keepdims")?.unwrap_or(1) == 1 || axes.is_empty() {
            g.to_string()
        } else {
            ctx.b.unsqueeze(g, axes)
        },
    )
}

/// ReduceSum spreads the gradient; ReduceMean also divides by the count.
pub fn reduce_sum_mean(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let x = ctx.input(0);
    let dims = ctx.shape(&x)?.dims;
    let axes = reduced_axes(ctx, dims.len())?;
    refuse_batch(ctx, &dims, &axes)?;
    let kept = keep_dims(ctx, &g, &axes)?;
    let shape = ctx.b.node("Shape", &[&x], vec![]);
    let spread = ctx.b.node("Expand", &[&kept, &shape], vec![]);
    if ctx.node.op() == "ReduceSum" {
        return Ok(vec![Some(spread)]);
    }
    let count: i64 = axes.iter().map(|&a| dims[a as usize]).product();
    Ok(vec![Some(ctx.b.scale(&spread, 1.0 / count as f32))])
}

/// ReduceMax and ReduceMin share the gradient evenly among tied extremes
/// (as `torch.amax` does).
pub fn reduce_max_min(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let (x, y) = (ctx.input(0), ctx.output(0));
    let dims = ctx.shape(&x)?.dims;
    let axes = reduced_axes(ctx, dims.len())?;
    refuse_batch(ctx, &dims, &axes)?;
    let kept_y = keep_dims(ctx, &y, &axes)?;
    let kept_g = keep_dims(ctx, &g, &axes)?;
    let b = &mut *ctx.b;
    let hit = b.node("Equal", &[&x, &kept_y], vec![]);
    let mask = b.cast_float(&hit);
    let count = b.reduce_sum(&mask, &axes, true);
    let share = b.node("Div", &[&kept_g, &count], vec![]);
    Ok(vec![Some(b.node("Mul", &[&mask, &share], vec![]))])
}

fn softmax_axis(ctx: &Ctx) -> Result<i64> {
    let rank = ctx.shape(&ctx.input(0))?.rank();
    Ok(normalize_axis(ctx.node.attr_i("axis")?.unwrap_or(-1), rank) as i64)
}

/// `y (g - sum(g y))` along the axis.
pub fn softmax(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let y = ctx.output(0);
    let axis = softmax_axis(ctx)?;
    let b = &mut *ctx.b;
    let gy = b.node("Mul", &[&g, &y], vec![]);
    let s = b.reduce_sum(&gy, &[axis], true);
    let d = b.node("Sub", &[&g, &s], vec![]);
    Ok(vec![Some(b.node("Mul", &[&y, &d], vec![]))])
}

/// `g - exp(y) sum(g)` along the axis.
pub fn log_softmax(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let y = ctx.output(0);
    let axis = softmax_axis(ctx)?;
    let b = &mut *ctx.b;
    let s = b.reduce_sum(&g, &[axis], true);
    let p = b.node("Exp", &[&y], vec![]);
    let ps = b.node("Mul", &[&p, &s], vec![]);
    Ok(vec![Some(b.node("Sub", &[&g, &ps], vec![]))])
}
