//! The z+ rule, alpha-beta with alpha 1 and beta 0 (Bach et al. 2015;
//! Montavon et al. 2017), in zennit's form (`ZPlus`), which allows negative
//! inputs: positive inputs through positive weights (with the positive part
//! of the bias) and negative inputs through negative weights make
//! `z+ = x+ W+ + b+ + x- W-`, and `R_x = x+ W+^T s + x- W-^T s` with
//! `s = R / stab(z+)`.

use super::layer::Layer;
use super::{STABILISER, add, divide, mul, negative, positive};
use crate::Result;
use crate::autodiff::Ctx;

pub fn z_plus(ctx: &mut Ctx, layer: &Layer, r: &str) -> Result<String> {
    let (xp, xn) = (positive(ctx.b, &layer.x), negative(ctx.b, &layer.x));
    let (wp, wn) = (
        positive(ctx.b, &layer.weight),
        negative(ctx.b, &layer.weight),
    );
    let bp = layer.bias.as_deref().map(|b| positive(ctx.b, b));
    let zp = layer.forward(ctx, &xp, &wp, bp.as_deref());
    let zn = layer.forward(ctx, &xn, &wn, None);
    let z = add(ctx.b, &zp, &zn);
    let s = divide(ctx.b, r, &z, STABILISER);
    let cp = layer.backward(ctx, &s, &wp)?;
    let cn = layer.backward(ctx, &s, &wn)?;
    let rp = mul(ctx.b, &xp, &cp);
    let rn = mul(ctx.b, &xn, &cn);
    Ok(add(ctx.b, &rp, &rn))
}
