//! Resize (nearest and linear). Resizing is linear in the input and separable
//! per axis: `y = A_h x A_w^T` for an interpolation matrix per resized axis.
//! The matrices are built here from ONNX's coordinate rules and sizes known
//! statically, and the gradient is `A_h^T g A_w`, two MatMuls.

use crate::Result;
use crate::autodiff::Ctx;
use crate::graph::NodeExt;

type Grads = Result<Vec<Option<String>>>;

pub fn resize(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let x = ctx.input(0);
    let (xd, yd) = (ctx.shape(&x)?.dims, ctx.shape(&ctx.output(0))?.dims);
    let mode = ctx.node.attr_s("mode")?.unwrap_or_else(|| "nearest".into());
    if mode != "nearest" && mode != "linear" {
        return Err(ctx.fail(format!(
            "Resize mode '{mode}' is not supported (nearest and linear are)"
        )));
    }
    if ctx.node.attr_i("antialias")?.unwrap_or(0) != 0 || ctx.node.attr("axes").is_some() {
        return Err(ctx.fail("Resize with antialias or axes is not supported"));
    }
    let transform = ctx
        .node
        .attr_s("coordinate_transformation_mode")?
        .unwrap_or_else(|| "half_pixel".into());
    let nearest_mode = ctx
        .node
        .attr_s("nearest_mode")?
        .unwrap_or_else(|| "round_prefer_floor".into());
    let scales: Option<Vec<f32>> = ctx
        .node
        .input_name(2)
        .and_then(|s| ctx.consts.f32(s))
        .map(|a| a.iter().copied().collect::<Vec<f32>>())
        .filter(|v| !v.is_empty());
    let rank = xd.len();
    let mut dx = g;
    for axis in 0..rank {
        if xd[axis] == yd[axis] && scales.as_ref().is_none_or(|s| s[axis] == 1.0) {
            continue;
        }
        if axis + 2 < rank || xd[axis] < 0 {
            return Err(ctx.fail("only the last two axes may be resized"));
        }
        let (n_in, n_out) = (xd[axis] as usize, yd[axis] as usize);
        let scale = scales
            .as_ref()
            .map(|s| s[axis])
            .unwrap_or(n_out as f32 / n_in as f32);
        let a = matrix(n_in, n_out, scale, &transform, &mode, &nearest_mode)
            .map_err(|e| ctx.fail(e))?;
        dx = if axis == rank - 1 {
            // y = x A^T along the last axis, so dx = g A  (A: out x in).
            let m = ctx.b.const_f32(&[n_out, n_in], &a);
            ctx.b.node("MatMul", &[&dx, &m], vec![])
        } else {
            // y = A x along the second-last axis, so dx = A^T g.
            let at: Vec<f32> = (0..n_in)
                .flat_map(|i| (0..n_out).map(move |o| (o, i)))
                .map(|(o, i)| a[o * n_in + i])
                .collect();
            let m = ctx.b.const_f32(&[n_in, n_out], &at);
            ctx.b.node("MatMul", &[&m, &dx], vec![])
        };
    }
    Ok(vec![Some(dx)])
}

/// The `n_out x n_in` interpolation matrix of one axis, row-major.
fn matrix(
    n_in: usize,
    n_out: usize,
    scale: f32,
    transform: &str,
    mode: &str,
    nearest_mode: &str,
) -> Result<Vec<f32>, String> {
    let mut a = vec![0.0f32; n_out * n_in];
    for o in 0..n_out {
        let xo = o as f32;
        let src = match transform {
            "half_pixel" => (xo + 0.5) / scale - 0.5,
            "pytorch_half_pixel" => {
                if n_out > 1 {
                    (xo + 0.5) / scale - 0.5
                } else {
                    0.0
                }
            }
            "align_corners" => {
                if n_out > 1 {
                    xo * (n_in as f32 - 1.0) / (n_out as f32 - 1.0)
                } else {
                    0.0
                }
            }
            "asymmetric" => xo / scale,
            "tf_half_pixel_for_nn" => (xo + 0.5) / scale,
            other => {
                return Err(format!(
                    "Resize coordinate_transformation_mode '{other}' is not supported"
                ));
            }
        };
        let last = n_in as f32 - 1.0;
        if mode == "nearest" {
            let i = match nearest_mode {
                "round_prefer_floor" => {
                    if src.fract() == 0.5 {
                        src.floor()
                    } else {
                        src.round()
                    }
                }
                "round_prefer_ceil" => src.round(),
                "floor" => src.floor(),
                "ceil" => src.ceil(),
                other => return Err(format!("Resize nearest_mode '{other}' is not supported")),
            };
            a[o * n_in + i.clamp(0.0, last) as usize] = 1.0;
        } else {
            let s = src.clamp(0.0, last);
            let i0 = s.floor() as usize;
            let i1 = (i0 + 1).min(n_in - 1);
            let w1 = s - i0 as f32;
            a[o * n_in + i0] += 1.0 - w1;
            a[o * n_in + i1] += w1;
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::matrix;

    #[test]
    fn nearest_doubling_repeats_each_input() {
        let a = matrix(2, 4, 2.0, "asymmetric", "nearest", "floor").unwrap();
        assert_eq!(a, vec![1., 0., 1., 0., 0., 1., 0., 1.]);
    }

    #[test]
    fn linear_half_pixel_rows_sum_to_one_and_match_hand_values() {
        // Output 1 of a 2->4 half-pixel resize samples x = (1.5)/2 - 0.5 = 0.25.
        let a = matrix(2, 4, 2.0, "half_pixel", "linear", "").unwrap();
        assert!((a[2] - 0.75).abs() < 1e-6 && (a[3] - 0.25).abs() < 1e-6);
        for row in a.chunks(2) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
    }
}
