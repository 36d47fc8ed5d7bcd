//! Gemm and MatMul: products with the other operand transposed.

use crate::Result;
use crate::autodiff::Ctx;
use crate::autodiff::rules::arithmetic::{unbroadcast, unbroadcast_from};
use crate::graph::{NodeExt, attr_float, attr_int};

type Grads = Result<Vec<Option<String>>>;

/// `Y = alpha A' B' + beta C` with `A' = A` or `A^T` (likewise `B'`).
pub fn gemm(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let (a, bm) = (ctx.input(0), ctx.input(1));
    let alpha = ctx.node.attr_f("alpha")?.unwrap_or(1.0);
    let beta = ctx.node.attr_f("beta")?.unwrap_or(1.0);
    let ta = ctx.node.attr_i("transA")?.unwrap_or(0) != 0;
    let tb = ctx.node.attr_i("transB")?.unwrap_or(0) != 0;
    let mut out = vec![None, None, None];
    if ctx.wants(0) {
        out[0] = Some(gemm_input_gradient(ctx, &g, &bm)?);
    }
    if ctx.wants(1) {
        // dB' = alpha A'^T g
        let db = ctx.b.node(
            "Gemm",
            &[&a, &g],
            vec![attr_float("alpha", alpha), attr_int("transA", (!ta) as i64)],
        );
        out[1] = Some(if tb {
            ctx.b.transpose(&db, &[1, 0])
        } else {
            db
        });
    }
    if ctx.wants(2) {
        let scaled = ctx.b.scale(&g, beta);
        out[2] = Some(unbroadcast(ctx, &scaled, 2)?);
    }
    Ok(out)
}

/// The gradient with respect to `A` of the node's Gemm run with `B`
/// replaced by `bm` (shaped like its own): `dA' = alpha g B'^T`.
pub fn gemm_input_gradient(ctx: &mut Ctx, g: &str, bm: &str) -> Result<String> {
    let alpha = ctx.node.attr_f("alpha")?.unwrap_or(1.0);
    let ta = ctx.node.attr_i("transA")?.unwrap_or(0) != 0;
    let tb = ctx.node.attr_i("transB")?.unwrap_or(0) != 0;
    let da = ctx.b.node(
        "Gemm",
        &[g, bm],
        vec![attr_float("alpha", alpha), attr_int("transB", (!tb) as i64)],
    );
    Ok(if ta {
        ctx.b.transpose(&da, &[1, 0])
    } else {
        da
    })
}

fn swap_last(r: usize) -> Vec<i64> {
    let mut p: Vec<i64> = (0..r as i64).collect();
    p.swap(r - 1, r - 2);
    p
}

/// `dA = g B^T`, `dB = A^T g`, summed over broadcast batch axes.
pub fn matmul(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let (a, bm) = (ctx.input(0), ctx.input(1));
    let (ad, bd, yd) = (
        ctx.shape(&a)?.dims,
        ctx.shape(&bm)?.dims,
        ctx.shape(&ctx.output(0))?.dims,
    );
    let (ra, rb) = (ad.len(), bd.len());
    if ra < 2 || rb < 2 {
        return Err(ctx.fail("MatMul with a 1-D operand is not supported"));
    }
    let mut out = vec![None, None];
    if ctx.wants(0) {
        out[0] = Some(matmul_input_gradient(ctx, &g, &bm)?);
    }
    if ctx.wants(1) {
        let at = ctx.b.transpose(&a, &swap_last(ra));
        let db = ctx.b.node("MatMul", &[&at, &g], vec![]);
        let from: Vec<i64> = yd[..yd.len() - 2]
            .iter()
            .chain(&bd[rb - 2..])
            .copied()
            .collect();
        out[1] = Some(unbroadcast_from(ctx, &db, &from, 1)?);
    }
    Ok(out)
}

/// The gradient with respect to `A` of the node's MatMul run with `B`
/// replaced by `bm` (shaped like its own): `g B^T`, summed over broadcast
/// batch axes.
pub fn matmul_input_gradient(ctx: &mut Ctx, g: &str, bm: &str) -> Result<String> {
    let a = ctx.input(0);
    let (ad, bd, yd) = (
        ctx.shape(&a)?.dims,
        ctx.shape(&ctx.input(1))?.dims,
        ctx.shape(&ctx.output(0))?.dims,
    );
    let (ra, rb) = (ad.len(), bd.len());
    if ra < 2 || rb < 2 {
        return Err(ctx.fail("MatMul with a 1-D operand is not supported"));
    }
    let bt = ctx.b.transpose(bm, &swap_last(rb));
    let da = ctx.b.node("MatMul", &[g, &bt], vec![]);
    let from: Vec<i64> = yd[..yd.len() - 2]
        .iter()
        .chain(&ad[ra - 2..])
        .copied()
        .collect();
    unbroadcast_from(ctx, &da, &from, 0)
}
