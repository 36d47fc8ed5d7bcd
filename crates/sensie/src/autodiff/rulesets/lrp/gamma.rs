//! The generalised gamma rule (Montavon et al. 2019; Andéol et al. 2021) in
//! zennit's form (`Gamma`): where the layer's output is positive, relevance
//! follows the contributions that push it up, `x+ (W + gamma W+)` and
//! `x- (W + gamma W-)` (bias `b + gamma b+`); where it is negative, those
//! that push it down, `x+ (W + gamma W-)` and `x- (W + gamma W+)` (bias
//! `b + gamma b-`). Each side is normalised by its own stabilised sum; where
//! the output is exactly 0 no relevance passes.

use super::layer::Layer;
use super::{STABILISER, add, divide, mul, negative, positive};
use crate::Result;
use crate::autodiff::Ctx;
use crate::graph::Builder;

pub fn gamma(ctx: &mut Ctx, layer: &Layer, r: &str, gamma: f32) -> Result<String> {
    let (xp, xn) = (positive(ctx.b, &layer.x), negative(ctx.b, &layer.x));
    let (wp, wn) = (
        positive(ctx.b, &layer.weight),
        negative(ctx.b, &layer.weight),
    );
    let w_up = plus_gamma(ctx.b, &layer.weight, &wp, gamma);
    let w_down = plus_gamma(ctx.b, &layer.weight, &wn, gamma);
    let (b_up, b_down) = match layer.bias.as_deref() {
        Some(b) => {
            let (bp, bn) = (positive(ctx.b, b), negative(ctx.b, b));
            (
                Some(plus_gamma(ctx.b, b, &bp, gamma)),
                Some(plus_gamma(ctx.b, b, &bn, gamma)),
            )
        }
        None => (None, None),
    };
    // Where z > 0: x+ through W + gamma W+, x- through W + gamma W-.
    let up = two_paths(ctx, layer, [&xp, &xn], [&w_up, &w_down], b_up.as_deref())?;
    // Where z < 0: x+ through W + gamma W-, x- through W + gamma W+.
    let down = two_paths(ctx, layer, [&xp, &xn], [&w_down, &w_up], b_down.as_deref())?;
    let zero = ctx.b.scalar(0.0);
    let above = ctx.b.node("Greater", &[&layer.z, &zero], vec![]);
    let below = ctx.b.node("Less", &[&layer.z, &zero], vec![]);
    let (above, below) = (ctx.b.cast_float(&above), ctx.b.cast_float(&below));
    let r_up = mul(ctx.b, r, &above);
    let r_down = mul(ctx.b, r, &below);
    let s_up = divide(ctx.b, &r_up, &up, STABILISER);
    let s_down = divide(ctx.b, &r_down, &down, STABILISER);
    // x+ gets W_up^T s_up + W_down^T s_down; x- the other way round.
    let for_positive = [
        layer.backward(ctx, &s_up, &w_up)?,
        layer.backward(ctx, &s_down, &w_down)?,
    ];
    let for_negative = [
        layer.backward(ctx, &s_up, &w_down)?,
        layer.backward(ctx, &s_down, &w_up)?,
    ];
    let cp = add(ctx.b, &for_positive[0], &for_positive[1]);
    let cn = add(ctx.b, &for_negative[0], &for_negative[1]);
    let rp = mul(ctx.b, &xp, &cp);
    let rn = mul(ctx.b, &xn, &cn);
    Ok(add(ctx.b, &rp, &rn))
}

/// `t + gamma part`.
fn plus_gamma(b: &mut Builder, t: &str, part: &str, gamma: f32) -> String {
    let scaled = b.scale(part, gamma);
    add(b, t, &scaled)
}

/// `forward(x[0], w[0], bias) + forward(x[1], w[1])`: one side's sum.
fn two_paths(
    ctx: &mut Ctx,
    layer: &Layer,
    x: [&str; 2],
    w: [&str; 2],
    bias: Option<&str>,
) -> Result<String> {
    let first = layer.forward(ctx, x[0], w[0], bias);
    let second = layer.forward(ctx, x[1], w[1], None);
    Ok(add(ctx.b, &first, &second))
}
