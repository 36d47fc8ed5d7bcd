//! Element-wise activations and functions of one tensor.

use crate::Result;
use crate::autodiff::Ctx;
use crate::graph::{Builder, NodeExt};

type Grads = Result<Vec<Option<String>>>;

/// `g * Cast(output > 0)`: ReLU's gradient, with the mask taken from the
/// Relu output so ONNX Runtime keeps its Conv+Relu fusion.
pub fn mask_positive(ctx: &mut Ctx, g: &str) -> String {
    let y = ctx.output(0);
    let zero = ctx.b.scalar(0.0);
    let positive = ctx.b.node("Greater", &[&y, &zero], vec![]);
    let mask = ctx.b.cast_float(&positive);
    ctx.b.node("Mul", &[g, &mask], vec![])
}

/// `Cast(a > s)` as float.
fn above(b: &mut Builder, a: &str, s: f32) -> String {
    let s = b.scalar(s);
    let cmp = b.node("Greater", &[a, &s], vec![]);
    b.cast_float(&cmp)
}

/// `Cast(a < s)` as float.
fn below(b: &mut Builder, a: &str, s: f32) -> String {
    let s = b.scalar(s);
    let cmp = b.node("Less", &[a, &s], vec![]);
    b.cast_float(&cmp)
}

/// `g * derivative`, the shape of every rule here.
fn times(ctx: &mut Ctx, g: &[Option<String>], derivative: &str) -> Grads {
    let g = ctx.g0(g);
    Ok(vec![Some(ctx.b.node("Mul", &[&g, derivative], vec![]))])
}

/// `a + s * b`.
fn axpy(b: &mut Builder, a: &str, s: f32, x: &str) -> String {
    let sx = b.scale(x, s);
    b.node("Add", &[a, &sx], vec![])
}

pub fn relu(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    Ok(vec![Some(mask_positive(ctx, &g))])
}

/// `1` where `x > 0`, `alpha` elsewhere.
pub fn leaky_relu(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let alpha = ctx.node.attr_f("alpha")?.unwrap_or(0.01);
    let x = ctx.input(0);
    let mask = above(ctx.b, &x, 0.0);
    let scaled = ctx.b.scale(&mask, 1.0 - alpha);
    let a = ctx.b.scalar(alpha);
    let d = ctx.b.node("Add", &[&scaled, &a], vec![]);
    times(ctx, g, &d)
}

/// `1` where `x > 0`, the slope elsewhere.
pub fn prelu(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    if ctx.wants(1) {
        return Err(ctx.fail("the gradient with respect to PRelu's slope is not supported"));
    }
    let (x, slope) = (ctx.input(0), ctx.input(1));
    let mask = above(ctx.b, &x, 0.0);
    let one = ctx.b.scalar(1.0);
    let inv = ctx.b.node("Sub", &[&one, &mask], vec![]);
    let sloped = ctx.b.node("Mul", &[&inv, &slope], vec![]);
    let d = ctx.b.node("Add", &[&mask, &sloped], vec![]);
    times(ctx, g, &d)
}

/// Passes where `min < x < max` (PyTorch's hardtanh rule).
pub fn clip(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let x = ctx.input(0);
    let bound = |ctx: &Ctx, i: usize, attr: &str| -> Result<Option<f32>> {
        Ok(match ctx.node.input.get(i).filter(|s| !s.is_empty()) {
            Some(name) => ctx.consts.f32(name).and_then(|a| a.iter().next().copied()),
            None => ctx.node.attr_f(attr)?,
        })
    };
    let inputs_constant = (1..3).all(|i| {
        ctx.node
            .input
            .get(i)
            .is_none_or(|s| s.is_empty() || ctx.consts.contains(s))
    });
    if !inputs_constant {
        return Err(ctx.fail("Clip bounds must be constants"));
    }
    let mut d: Option<String> = None;
    if let Some(lo) = bound(ctx, 1, "min")? {
        d = Some(above(ctx.b, &x, lo));
    }
    if let Some(hi) = bound(ctx, 2, "max")? {
        let m = below(ctx.b, &x, hi);
        d = Some(match d {
            Some(prev) => ctx.b.node("Mul", &[&prev, &m], vec![]),
            None => m,
        });
    }
    match d {
        Some(d) => times(ctx, g, &d),
        None => Ok(vec![Some(ctx.g0(g))]),
    }
}

/// `y (1 - y)`.
pub fn sigmoid(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let y = ctx.output(0);
    let one = ctx.b.scalar(1.0);
    let inv = ctx.b.node("Sub", &[&one, &y], vec![]);
    let d = ctx.b.node("Mul", &[&y, &inv], vec![]);
    times(ctx, g, &d)
}

/// `1 - y^2`.
pub fn tanh(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let y = ctx.output(0);
    let sq = ctx.b.node("Mul", &[&y, &y], vec![]);
    let one = ctx.b.scalar(1.0);
    let d = ctx.b.node("Sub", &[&one, &sq], vec![]);
    times(ctx, g, &d)
}

/// `alpha` where `0 < alpha x + beta < 1`.
pub fn hard_sigmoid(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let alpha = ctx.node.attr_f("alpha")?.unwrap_or(0.2);
    let beta = ctx.node.attr_f("beta")?.unwrap_or(0.5);
    let x = ctx.input(0);
    // 0 < alpha x + beta < 1  <=>  lo < x < hi (alpha > 0)
    let (lo, hi) = (-beta / alpha, (1.0 - beta) / alpha);
    let a = above(ctx.b, &x, lo);
    let c = below(ctx.b, &x, hi);
    let mask = ctx.b.node("Mul", &[&a, &c], vec![]);
    let d = ctx.b.scale(&mask, alpha);
    times(ctx, g, &d)
}

/// PyTorch's rule: 0 below -3, `x/3 + 1/2` up to 3, 1 above.
pub fn hard_swish(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let x = ctx.input(0);
    let low = below(ctx.b, &x, -3.0);
    let high = above(ctx.b, &x, 3.0);
    let one = ctx.b.scalar(1.0);
    let not_low = ctx.b.node("Sub", &[&one, &low], vec![]);
    let mid = ctx.b.node("Sub", &[&not_low, &high], vec![]);
    let half = ctx.b.scalar(0.5);
    let x3 = ctx.b.scale(&x, 1.0 / 3.0);
    let slope = ctx.b.node("Add", &[&x3, &half], vec![]);
    let inner = ctx.b.node("Mul", &[&mid, &slope], vec![]);
    let d = ctx.b.node("Add", &[&inner, &high], vec![]);
    times(ctx, g, &d)
}

/// Exact: `Phi(x) + x phi(x)`; tanh approximation: its derivative.
pub fn gelu(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let x = ctx.input(0);
    let b = &mut *ctx.b;
    let d = if ctx.node.attr_s("approximate")?.as_deref() == Some("tanh") {
        // u = k (x + c x^3); y = x/2 (1 + tanh u); dy = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3c x^2)
        let (k, c) = ((2.0f32 / std::f32::consts::PI).sqrt(), 0.044715f32);
        let x2 = b.node("Mul", &[&x, &x], vec![]);
        let x3 = b.node("Mul", &[&x2, &x], vec![]);
        let inner = axpy(b, &x, c, &x3);
        let u = b.scale(&inner, k);
        let t = b.node("Tanh", &[&u], vec![]);
        let one = b.scalar(1.0);
        let one_t = b.node("Add", &[&one, &t], vec![]);
        let first = b.scale(&one_t, 0.5);
        let t2 = b.node("Mul", &[&t, &t], vec![]);
        let sech2 = b.node("Sub", &[&one, &t2], vec![]);
        let poly = axpy(b, &one, 3.0 * c, &x2);
        let xs = b.node("Mul", &[&x, &sech2], vec![]);
        let xsp = b.node("Mul", &[&xs, &poly], vec![]);
        let second = b.scale(&xsp, 0.5 * k);
        b.node("Add", &[&first, &second], vec![])
    } else {
        let scaled = b.scale(&x, std::f32::consts::FRAC_1_SQRT_2);
        let erf = b.node("Erf", &[&scaled], vec![]);
        let one = b.scalar(1.0);
        let one_erf = b.node("Add", &[&one, &erf], vec![]);
        let cdf = b.scale(&one_erf, 0.5);
        let pdf = gaussian(b, &x, 0.5, 1.0 / (2.0 * std::f32::consts::PI).sqrt());
        let xpdf = b.node("Mul", &[&x, &pdf], vec![]);
        b.node("Add", &[&cdf, &xpdf], vec![])
    };
    times(ctx, g, &d)
}

/// `scale * exp(-a x^2)`.
fn gaussian(b: &mut Builder, x: &str, a: f32, scale: f32) -> String {
    let x2 = b.node("Mul", &[x, x], vec![]);
    let arg = b.scale(&x2, -a);
    let e = b.node("Exp", &[&arg], vec![]);
    b.scale(&e, scale)
}

/// `2/sqrt(pi) exp(-x^2)`.
pub fn erf(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let x = ctx.input(0);
    let d = gaussian(ctx.b, &x, 1.0, 2.0 / std::f32::consts::PI.sqrt());
    times(ctx, g, &d)
}

/// 1 where `x > 0`, `y + alpha` elsewhere.
pub fn elu(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let alpha = ctx.node.attr_f("alpha")?.unwrap_or(1.0);
    let (x, y) = (ctx.input(0), ctx.output(0));
    let mask = above(ctx.b, &x, 0.0);
    let one = ctx.b.scalar(1.0);
    let inv = ctx.b.node("Sub", &[&one, &mask], vec![]);
    let a = ctx.b.scalar(alpha);
    let ya = ctx.b.node("Add", &[&y, &a], vec![]);
    let neg = ctx.b.node("Mul", &[&inv, &ya], vec![]);
    let d = ctx.b.node("Add", &[&mask, &neg], vec![]);
    times(ctx, g, &d)
}

/// `sigmoid(x)`.
pub fn softplus(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let x = ctx.input(0);
    let d = ctx.b.node("Sigmoid", &[&x], vec![]);
    times(ctx, g, &d)
}

pub fn exp(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let y = ctx.output(0);
    times(ctx, g, &y)
}

/// `g / x`.
pub fn log(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let (g, x) = (ctx.g0(g), ctx.input(0));
    Ok(vec![Some(ctx.b.node("Div", &[&g, &x], vec![]))])
}

/// `g / (2 y)`.
pub fn sqrt(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let (g, y) = (ctx.g0(g), ctx.output(0));
    let half = ctx.b.scale(&g, 0.5);
    Ok(vec![Some(ctx.b.node("Div", &[&half, &y], vec![]))])
}

/// `-g y^2`.
pub fn reciprocal(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let y = ctx.output(0);
    let y2 = ctx.b.node("Mul", &[&y, &y], vec![]);
    let d = ctx.b.scale(&y2, -1.0);
    times(ctx, g, &d)
}

pub fn neg(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    Ok(vec![Some(ctx.b.node("Neg", &[&g], vec![]))])
}

/// `g sign(x)`.
pub fn abs(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let x = ctx.input(0);
    let d = ctx.b.node("Sign", &[&x], vec![]);
    times(ctx, g, &d)
}
