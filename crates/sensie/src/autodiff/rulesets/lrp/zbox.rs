//! The z^B rule for inputs bounded by `low` and `high` (Montavon et al.
//! 2017; zennit's `ZBox`): with `L` and `H` constant images of the bounds,
//! `d = z - (L W+ + b+) - (H W- + b-)` and
//! `R_x = x W^T s - L W+^T s - H W-^T s`, `s = R / stab(d)`. The
//! convolution's zero padding stays zero: only `L` and `H` inside the image
//! are bounds.

use super::layer::Layer;
use super::{STABILISER, divide, mul, negative, positive, sub};
use crate::Result;
use crate::autodiff::Ctx;

pub fn z_box(ctx: &mut Ctx, layer: &Layer, r: &str, (low, high): (f32, f32)) -> Result<String> {
    let lows = layer.filled_input(ctx, low)?;
    let highs = layer.filled_input(ctx, high)?;
    let (wp, wn) = (
        positive(ctx.b, &layer.weight),
        negative(ctx.b, &layer.weight),
    );
    let (bp, bn) = match layer.bias.as_deref() {
        Some(b) => (Some(positive(ctx.b, b)), Some(negative(ctx.b, b))),
        None => (None, None),
    };
    let z_low = layer.forward(ctx, &lows, &wp, bp.as_deref());
    let z_high = layer.forward(ctx, &highs, &wn, bn.as_deref());
    let d = sub(ctx.b, &layer.z, &z_low);
    let d = sub(ctx.b, &d, &z_high);
    let s = divide(ctx.b, r, &d, STABILISER);
    let c = layer.backward(ctx, &s, &layer.weight)?;
    let c_low = layer.backward(ctx, &s, &wp)?;
    let c_high = layer.backward(ctx, &s, &wn)?;
    let rx = mul(ctx.b, &layer.x, &c);
    let rl = mul(ctx.b, &lows, &c_low);
    let rh = mul(ctx.b, &highs, &c_high);
    let rx = sub(ctx.b, &rx, &rl);
    Ok(sub(ctx.b, &rx, &rh))
}
