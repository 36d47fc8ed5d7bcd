//! Ops that move values without changing them: their gradients move the
//! gradient back (reshape, inverse transpose, split for concat, pad for
//! slice, ...).

use crate::Result;
use crate::autodiff::Ctx;
use crate::autodiff::rules::arithmetic::unbroadcast;
use crate::graph::shapes::{BATCH, normalize_axis};
use crate::graph::{NodeExt, attr_int};

type Grads = Result<Vec<Option<String>>>;

/// Reshape, Flatten, Squeeze, Unsqueeze: reshape back.
pub fn reshape(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let x = ctx.input(0);
    Ok(vec![Some(ctx.b.reshape_like(&g, &x))])
}

/// Identity and Dropout (inference) pass the gradient.
pub fn identity(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    Ok(vec![Some(ctx.g0(g))])
}

/// Cast between float types (a model may compute in float64 and cast
/// back): the gradient is cast back to the input's type.
pub fn cast(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let dtype = ctx.shape(&ctx.input(0))?.dtype;
    Ok(vec![Some(ctx.b.node(
        "Cast",
        &[&g],
        vec![attr_int("to", i64::from(dtype))],
    ))])
}

pub fn expand(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    Ok(vec![Some(unbroadcast(ctx, &g, 0)?)])
}

pub fn transpose(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let rank = ctx.shape(&ctx.input(0))?.rank();
    let perm = ctx
        .node
        .attr_ints("perm")?
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| (0..rank as i64).rev().collect());
    let mut inverse = vec![0i64; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p as usize] = i as i64;
    }
    Ok(vec![Some(ctx.b.transpose(&g, &inverse))])
}

/// The static size of `name` along `axis`, refusing the batch axis.
fn static_dim(ctx: &Ctx, name: &str, axis: usize) -> Result<i64> {
    let d = ctx.shape(name)?.dims[axis];
    if d == BATCH {
        Err(ctx.fail("splitting or slicing along the batch axis is not supported"))
    } else {
        Ok(d)
    }
}

/// Concat: split the gradient into the inputs' sizes.
pub fn concat(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let rank = ctx.shape(&ctx.output(0))?.rank();
    let axis = normalize_axis(ctx.node.attr_i("axis")?.unwrap_or(0), rank);
    let sizes = (0..ctx.node.input.len())
        .map(|i| static_dim(ctx, &ctx.input(i), axis))
        .collect::<Result<Vec<_>>>()?;
    let split = ctx.b.const_i64(&sizes);
    let parts = ctx.b.node_n(
        "Split",
        &[&g, &split],
        sizes.len(),
        vec![attr_int("axis", axis as i64)],
    );
    Ok(parts.into_iter().map(Some).collect())
}

/// Split: concatenate the outputs' gradients, zeros for outputs without one.
pub fn split(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let rank = ctx.shape(&ctx.input(0))?.rank();
    let axis = ctx.node.attr_i("axis")?.unwrap_or(0);
    let mut parts = Vec::new();
    for (i, gi) in g.iter().enumerate() {
        parts.push(match gi {
            Some(gi) => gi.clone(),
            None => {
                let y = ctx.output(i);
                ctx.b.zeros_like(&y)
            }
        });
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let dx = ctx.b.node(
        "Concat",
        &refs,
        vec![attr_int("axis", normalize_axis(axis, rank) as i64)],
    );
    Ok(vec![Some(dx)])
}

/// Slice: pad the gradient back with zeros along the axes sliced with step
/// 1; scatter it back along the others (steps above 1 or negative).
pub fn slice(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let mut g = ctx.g0(g);
    let x = ctx.input(0);
    let dims = ctx.shape(&x)?.dims;
    let rank = dims.len();
    let (starts, ends) = (ctx.const_ints(1)?, ctx.const_ints(2)?);
    let axes = if ctx.node.input_name(3).is_some() {
        ctx.const_ints(3)?
    } else {
        (0..starts.len() as i64).collect()
    };
    let steps = if ctx.node.input_name(4).is_some() {
        ctx.const_ints(4)?
    } else {
        vec![1; starts.len()]
    };
    let mut pads = vec![0i64; 2 * rank];
    let mut stepped = vec![];
    for (k, &axis) in axes.iter().enumerate() {
        let a = normalize_axis(axis, rank);
        if dims[a] == BATCH {
            if starts[k] == 0 && ends[k] >= i32::MAX as i64 && steps[k] == 1 {
                continue;
            }
            return Err(ctx.fail("slicing the batch axis is not supported"));
        }
        let d = dims[a];
        if steps[k] == 1 {
            let clamp = |v: i64| if v < 0 { (v + d).max(0) } else { v.min(d) };
            let (s, e) = (clamp(starts[k]), clamp(ends[k]).max(clamp(starts[k])));
            pads[a] = s;
            pads[rank + a] = d - e;
        } else {
            stepped.push((a, slice_positions(d, starts[k], ends[k], steps[k])));
        }
    }
    if pads.iter().any(|&p| p != 0) {
        let pads = ctx.b.const_i64(&pads);
        g = ctx.b.node("Pad", &[&g, &pads], vec![]);
    }
    for (a, positions) in stepped {
        g = gather_back(ctx, &g, a, rank, &positions, dims[a] as usize);
    }
    Ok(vec![Some(g)])
}

/// The input positions a Slice reads along one axis of size `d`, in output
/// order (ONNX's clamping rules; `step` is not 0, which ONNX forbids).
fn slice_positions(d: i64, start: i64, end: i64, step: i64) -> Vec<i64> {
    let wrap = |v: i64| if v < 0 { v + d } else { v };
    let (start, end) = if step > 0 {
        (wrap(start).clamp(0, d), wrap(end).clamp(0, d))
    } else {
        (wrap(start).clamp(0, d - 1), wrap(end).clamp(-1, d - 1))
    };
    let mut out = vec![];
    let mut i = start;
    while (step > 0 && i < end) || (step < 0 && i > end) {
        out.push(i);
        i += step;
    }
    out
}

/// Pad: slice the gradient back out (constant mode, no negative pads);
/// otherwise (reflect, edge, wrap, cropping) scatter it back along each
/// padded axis, summing where a mode reads an input position more than once.
pub fn pad(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let mut g = ctx.g0(g);
    let x = ctx.input(0);
    let dims = ctx.shape(&x)?.dims;
    let rank = dims.len();
    let mode = ctx
        .node
        .attr_s("mode")?
        .unwrap_or_else(|| "constant".into());
    if !matches!(mode.as_str(), "constant" | "reflect" | "edge" | "wrap") {
        return Err(ctx.fail(format!("Pad mode '{mode}' is not supported")));
    }
    let raw = match ctx.node.attr_ints("pads")? {
        Some(p) if !p.is_empty() => p,
        _ => ctx.const_ints(1)?,
    };
    let axes: Vec<usize> = if ctx.node.input_name(3).is_some() {
        ctx.const_ints(3)?
            .iter()
            .map(|&a| normalize_axis(a, rank))
            .collect()
    } else {
        (0..rank).collect()
    };
    let n = axes.len();
    let padded: Vec<(usize, i64, i64)> = axes
        .iter()
        .enumerate()
        .map(|(k, &a)| (a, raw[k], raw[n + k]))
        .filter(|&(_, pb, pe)| pb != 0 || pe != 0)
        .collect();
    if padded.iter().any(|&(a, _, _)| dims[a] == BATCH) {
        return Err(ctx.fail("Pad along the batch axis is not supported"));
    }
    if mode == "constant" && padded.iter().all(|&(_, pb, pe)| pb >= 0 && pe >= 0) {
        if padded.is_empty() {
            return Ok(vec![Some(g)]);
        }
        let starts: Vec<i64> = padded.iter().map(|&(_, pb, _)| pb).collect();
        let ends: Vec<i64> = padded.iter().map(|&(a, pb, _)| pb + dims[a]).collect();
        let which: Vec<i64> = padded.iter().map(|&(a, _, _)| a as i64).collect();
        let (s, e, a) = (
            ctx.b.const_i64(&starts),
            ctx.b.const_i64(&ends),
            ctx.b.const_i64(&which),
        );
        return Ok(vec![Some(ctx.b.node("Slice", &[&g, &s, &e, &a], vec![]))]);
    }
    for (a, pb, pe) in padded {
        let d = dims[a];
        let positions: Vec<i64> = (-pb..d + pe).map(|j| pad_source(&mode, j, d)).collect();
        g = gather_back(ctx, &g, a, rank, &positions, d as usize);
    }
    Ok(vec![Some(g)])
}

/// The input position that output position `j` (counted from the first
/// unpadded element) of a Pad copies along an axis of size `d`; -1 for the
/// constant fill.
fn pad_source(mode: &str, j: i64, d: i64) -> i64 {
    match mode {
        "reflect" if d > 1 => {
            let m = j.rem_euclid(2 * (d - 1));
            if m < d { m } else { 2 * (d - 1) - m }
        }
        "reflect" | "edge" => j.clamp(0, d - 1),
        "wrap" => j.rem_euclid(d),
        _ if (0..d).contains(&j) => j,
        _ => -1,
    }
}

/// The gradient of a copy along `axis` whose output position `j` reads
/// input position `positions[j]` (-1: none) of an axis of `in_len`: `g`
/// times the 0/1 matrix with ones at `(j, positions[j])`, which sums
/// repeated reads; the axis is swapped to the end for the MatMul.
fn gather_back(
    ctx: &mut Ctx,
    g: &str,
    axis: usize,
    rank: usize,
    positions: &[i64],
    in_len: usize,
) -> String {
    let mut matrix = vec![0f32; positions.len() * in_len];
    for (j, &p) in positions.iter().enumerate() {
        if p >= 0 {
            matrix[j * in_len + p as usize] = 1.0;
        }
    }
    let b = &mut *ctx.b;
    let matrix = b.const_f32(&[positions.len(), in_len], &matrix);
    if axis + 1 == rank {
        return b.node("MatMul", &[g, &matrix], vec![]);
    }
    let mut swap: Vec<i64> = (0..rank as i64).collect();
    swap.swap(axis, rank - 1);
    let moved = b.transpose(g, &swap);
    let product = b.node("MatMul", &[&moved, &matrix], vec![]);
    b.transpose(&product, &swap)
}

/// Gather with constant indices: scatter-add the gradient back into zeros,
/// with the gathered axis moved to the front so ScatterND can address it.
pub fn gather(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let x = ctx.input(0);
    let dims = ctx.shape(&x)?.dims;
    let rank = dims.len();
    let axis = normalize_axis(ctx.node.attr_i("axis")?.unwrap_or(0), rank);
    let indices = ctx
        .consts
        .i64(&ctx.input(1))
        .ok_or_else(|| ctx.fail("Gather's indices must be constant"))?;
    let size = dims[axis];
    if size == BATCH {
        return Err(ctx.fail("gathering along the batch axis is not supported"));
    }
    let q = indices.ndim();
    let flat: Vec<i64> = indices
        .iter()
        .map(|&i| if i < 0 { i + size } else { i })
        .collect();
    let b = &mut *ctx.b;
    // data' = data with `axis` first; g' = g with the index axes first, flattened to one.
    let perm: Vec<i64> = std::iter::once(axis)
        .chain((0..rank).filter(|&a| a != axis))
        .map(|a| a as i64)
        .collect();
    let zeros = b.zeros_like(&x);
    let zeros = b.transpose(&zeros, &perm);
    let g_perm: Vec<i64> = (axis..axis + q)
        .chain(0..axis)
        .chain(axis + q..rank + q - 1)
        .map(|a| a as i64)
        .collect();
    let gt = if q > 0 {
        b.transpose(&g, &g_perm)
    } else {
        let restored = b.unsqueeze(&g, &[axis as i64]);
        b.transpose(&restored, &perm)
    };
    let rest = {
        let shape = b.node("Shape", &[&zeros], vec![]);
        let one = b.const_i64(&[1]);
        let big = b.const_i64(&[i64::MAX]);
        b.node("Slice", &[&shape, &one, &big], vec![])
    };
    let m = b.const_i64(&[flat.len() as i64]);
    let upd_shape = b.node("Concat", &[&m, &rest], vec![attr_int("axis", 0)]);
    let updates = b.node("Reshape", &[&gt, &upd_shape], vec![]);
    let idx = b.const_i64_shaped(&[flat.len(), 1], &flat);
    let scattered = b.node(
        "ScatterND",
        &[&zeros, &idx, &updates],
        vec![crate::graph::attr_string("reduction", "add")],
    );
    let mut inverse = vec![0i64; rank];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p as usize] = i as i64;
    }
    Ok(vec![Some(b.transpose(&scattered, &inverse)), None])
}
