//! The epsilon rule (Bach et al. 2015): `R_x = x * W^T (R / stab_eps(z))`,
//! `z` the layer's own output, bias included (zennit's `Epsilon`).

use super::layer::Layer;
use super::{divide, mul};
use crate::Result;
use crate::autodiff::Ctx;

pub fn epsilon(ctx: &mut Ctx, layer: &Layer, r: &str, eps: f32) -> Result<String> {
    let s = divide(ctx.b, r, &layer.z, eps);
    let c = layer.backward(ctx, &s, &layer.weight)?;
    Ok(mul(ctx.b, &layer.x, &c))
}
