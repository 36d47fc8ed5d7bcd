//! Add, Sub, Sum, Mul, Div, Pow and Where, with broadcasting undone by summing the
//! gradient over the broadcast axes.

use crate::Result;
use crate::autodiff::Ctx;
use crate::graph::shapes::BATCH;

type Grads = Result<Vec<Option<String>>>;

/// Sums `g` (shaped like the node's output) down to the shape of input `i`.
pub fn unbroadcast(ctx: &mut Ctx, g: &str, i: usize) -> Result<String> {
    let out = ctx.shape(&ctx.output(0))?.dims;
    unbroadcast_from(ctx, g, &out, i)
}

/// Sums `g`, whose shape is `from`, down to the shape of input `i`.
pub fn unbroadcast_from(ctx: &mut Ctx, g: &str, from: &[i64], i: usize) -> Result<String> {
    let input = ctx.input(i);
    let ins = ctx.shape(&input)?;
    let lead = from.len().saturating_sub(ins.rank());
    let mut axes: Vec<i64> = (0..lead as i64).collect();
    for (j, &d) in ins.dims.iter().enumerate() {
        let o = from[lead + j];
        if d == 1 && o != 1 {
            axes.push((lead + j) as i64);
        } else if d != o && !(d == BATCH || o == BATCH) {
            return Err(ctx.fail(format!(
                "cannot undo broadcasting from {from:?} to {:?}",
                ins.dims
            )));
        }
    }
    if axes.is_empty() {
        return Ok(g.to_string());
    }
    let summed = ctx.b.reduce_sum(g, &axes, true);
    Ok(if ins.dims.contains(&BATCH) {
        ctx.b.reshape_like(&summed, &input)
    } else {
        let dims = ctx.b.const_i64(&ins.dims);
        ctx.b.node("Reshape", &[&summed, &dims], vec![])
    })
}

/// Add and Sum pass the gradient to every input; Sub negates it for the second.
pub fn add_sub(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let mut out = Vec::new();
    for i in 0..ctx.node.input.len() {
        if !ctx.wants(i) {
            out.push(None);
            continue;
        }
        let gi = unbroadcast(ctx, &g, i)?;
        out.push(Some(
            if ctx.node.op_type.as_deref() == Some("Sub") && i == 1 {
                ctx.b.node("Neg", &[&gi], vec![])
            } else {
                gi
            },
        ));
    }
    Ok(out)
}

/// `d(ab) = g b, g a`.
pub fn mul(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    (0..2)
        .map(|i| {
            if !ctx.wants(i) {
                return Ok(None);
            }
            let other = ctx.input(1 - i);
            let prod = ctx.b.node("Mul", &[&g, &other], vec![]);
            unbroadcast(ctx, &prod, i).map(Some)
        })
        .collect()
}

/// `d(a/b) = g / b, -g y / b`.
pub fn div(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let (b, y) = (ctx.input(1), ctx.output(0));
    let ga = ctx.b.node("Div", &[&g, &b], vec![]);
    let mut out = vec![None, None];
    if ctx.wants(0) {
        out[0] = Some(unbroadcast(ctx, &ga, 0)?);
    }
    if ctx.wants(1) {
        let gy = ctx.b.node("Mul", &[&ga, &y], vec![]);
        let neg = ctx.b.node("Neg", &[&gy], vec![]);
        out[1] = Some(unbroadcast(ctx, &neg, 1)?);
    }
    Ok(out)
}

/// `d(a^b) = g b a^(b-1), g y ln a`.
pub fn pow(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let (a, y) = (ctx.input(0), ctx.output(0));
    let exponent = ctx.input(1);
    let b = if ctx.shape(&exponent)?.is_float() {
        exponent
    } else {
        ctx.b.cast_float(&exponent)
    };
    let mut out = vec![None, None];
    if ctx.wants(0) {
        let one = ctx.b.scalar(1.0);
        let bm1 = ctx.b.node("Sub", &[&b, &one], vec![]);
        let p = ctx.b.node("Pow", &[&a, &bm1], vec![]);
        let d = ctx.b.node("Mul", &[&p, &b], vec![]);
        let gd = ctx.b.node("Mul", &[&g, &d], vec![]);
        out[0] = Some(unbroadcast(ctx, &gd, 0)?);
    }
    if ctx.wants(1) {
        let ln = ctx.b.node("Log", &[&a], vec![]);
        let d = ctx.b.node("Mul", &[&y, &ln], vec![]);
        let gd = ctx.b.node("Mul", &[&g, &d], vec![]);
        out[1] = Some(unbroadcast(ctx, &gd, 1)?);
    }
    Ok(out)
}

/// Where(cond, a, b): the gradient goes to `a` where `cond` holds and to
/// `b` elsewhere. The dynamo exporter writes Softplus this way
/// (`Where(x > 20, x, Softplus(x))`).
pub fn where_(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let cond = ctx.input(0);
    let mask = ctx.b.cast_float(&cond);
    let to_a = ctx.b.node("Mul", &[&g, &mask], vec![]);
    let mut out = vec![None, None, None];
    if ctx.wants(1) {
        out[1] = Some(unbroadcast(ctx, &to_a, 1)?);
    }
    if ctx.wants(2) {
        let to_b = ctx.b.node("Sub", &[&g, &to_a], vec![]);
        out[2] = Some(unbroadcast(ctx, &to_b, 2)?);
    }
    Ok(out)
}
