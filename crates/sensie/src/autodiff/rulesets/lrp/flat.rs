//! The flat rule (Lapuschkin et al. 2019; zennit's `Flat`): ones for the
//! inputs and the weights, no bias, so relevance spreads evenly over each
//! output's receptive field: `R_x = 1^T (R / stab(z1))` with `z1 = 1 * 1` the
//! number of taps each output reads inside the image (zero padding adds
//! none).

use super::layer::Layer;
use super::{STABILISER, divide};
use crate::Result;
use crate::autodiff::Ctx;

pub fn flat(ctx: &mut Ctx, layer: &Layer, r: &str) -> Result<String> {
    let ones_x = layer.filled_input(ctx, 1.0)?;
    let ones_w = layer.ones_weight(ctx)?;
    let taps = layer.forward(ctx, &ones_x, &ones_w, None);
    let s = divide(ctx.b, r, &taps, STABILISER);
    layer.backward(ctx, &s, &ones_w)
}
