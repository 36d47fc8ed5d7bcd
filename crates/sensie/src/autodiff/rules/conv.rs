//! Conv and ConvTranspose, and the window geometry they share with pooling.
//!
//! A stride-1 Conv's input gradient is a Conv of the gradient with the kernel
//! flipped and its channels transposed per group, padded by `(k-1)d - p`:
//! ONNX Runtime runs that faster than ConvTranspose, except when the Conv has
//! few input channels (fewer than [`FEW_CHANNELS`], ungrouped: an image's
//! bands at the first layer). Then the gradient Conv would have few output
//! channels, which ONNX Runtime's blocked (NCHWc) kernels pad to a whole
//! block, and ConvTranspose is 1.5 to 4 times faster (3x3 kernels, batch 32,
//! 1 or 3 channels; measured on 2 cores). Strided convolutions use
//! ConvTranspose with the output padding that restores the input size.

use crate::Result;
use crate::autodiff::Ctx;
use crate::graph::{NodeExt, attr_int, attr_ints};

type Grads = Result<Vec<Option<String>>>;

/// Below this many input channels, a stride-1 Conv's input gradient is a
/// ConvTranspose (see the module documentation).
const FEW_CHANNELS: i64 = 8;

/// Kernel, strides, dilations and explicit pads of a windowed op.
#[derive(Debug, Clone)]
pub struct Window {
    pub kernel: Vec<i64>,
    pub strides: Vec<i64>,
    pub dilations: Vec<i64>,
    pub pads_begin: Vec<i64>,
    pub pads_end: Vec<i64>,
}

/// A per-axis attribute of `ctx.node` (strides, dilations): 1 on each of
/// the `n` spatial axes when it is absent or empty, as ONNX defines them.
fn per_axis(ctx: &Ctx, name: &str, n: usize) -> Result<Vec<i64>> {
    Ok(ctx
        .node
        .attr_ints(name)?
        .filter(|v| !v.is_empty())
        .unwrap_or(vec![1; n]))
}

impl Window {
    /// Reads the window of `ctx.node` over spatial input sizes `input`,
    /// resolving `auto_pad` into explicit pads.
    pub fn of(ctx: &Ctx, kernel: Vec<i64>, input: &[i64]) -> Result<Window> {
        let n = kernel.len();
        let strides = per_axis(ctx, "strides", n)?;
        let dilations = per_axis(ctx, "dilations", n)?;
        let auto_pad = ctx
            .node
            .attr_s("auto_pad")?
            .unwrap_or_else(|| "NOTSET".into());
        let (mut pads_begin, mut pads_end) = (vec![0; n], vec![0; n]);
        match auto_pad.as_str() {
            "NOTSET" | "" => {
                if let Some(p) = ctx.node.attr_ints("pads")?.filter(|p| p.len() == 2 * n) {
                    pads_begin = p[..n].to_vec();
                    pads_end = p[n..].to_vec();
                }
            }
            "VALID" => {}
            "SAME_UPPER" | "SAME_LOWER" => {
                for i in 0..n {
                    let out = (input[i] + strides[i] - 1) / strides[i];
                    let total = ((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1
                        - input[i])
                        .max(0);
                    let small = total / 2;
                    (pads_begin[i], pads_end[i]) = if auto_pad == "SAME_UPPER" {
                        (small, total - small)
                    } else {
                        (total - small, small)
                    };
                }
            }
            other => return Err(ctx.fail(format!("unknown auto_pad '{other}'"))),
        }
        Ok(Window {
            kernel,
            strides,
            dilations,
            pads_begin,
            pads_end,
        })
    }

    pub fn pads(&self) -> Vec<i64> {
        [self.pads_begin.clone(), self.pads_end.clone()].concat()
    }

    /// The extent of the dilated kernel along spatial axis `i`.
    pub fn span(&self, i: usize) -> i64 {
        (self.kernel[i] - 1) * self.dilations[i] + 1
    }
}

/// Spatial sizes (all but batch and channels) of a tensor whose shape is static there.
pub fn spatial(ctx: &Ctx, name: &str) -> Result<Vec<i64>> {
    let s = ctx.shape(name)?;
    if s.rank() < 3 || s.dims[2..].iter().any(|&d| d < 0) {
        return Err(ctx.fail(format!(
            "tensor '{name}' needs static spatial sizes, has {:?}",
            s.dims
        )));
    }
    Ok(s.dims[2..].to_vec())
}

fn weight_dims(ctx: &Ctx) -> Result<Vec<i64>> {
    if ctx.wants(1) || ctx.wants(2) {
        return Err(ctx.fail(
            "gradients with respect to weights or bias computed from the input are not supported",
        ));
    }
    let dims = ctx.shape(&ctx.input(1))?.dims;
    if dims.iter().any(|&d| d < 0) {
        return Err(ctx.fail("the weight's shape must be static"));
    }
    Ok(dims)
}

pub fn conv(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let w = ctx.input(1);
    Ok(vec![Some(input_gradient(ctx, &g, &w)?)])
}

/// The input gradient of the node's Conv run with weights `w` (shaped like
/// its own): LRP's rules propagate through modified weights.
pub fn input_gradient(ctx: &mut Ctx, g: &str, w: &str) -> Result<String> {
    let x = ctx.input(0);
    let wd = weight_dims(ctx)?;
    let input = spatial(ctx, &x)?;
    let win = Window::of(ctx, wd[2..].to_vec(), &input)?;
    let group = ctx.node.attr_i("group")?.unwrap_or(1);
    let n = input.len();
    let stride1 = win.strides.iter().all(|&s| s == 1);
    let flipped_pads: Vec<i64> = (0..n)
        .map(|i| win.span(i) - 1 - win.pads_begin[i])
        .chain((0..n).map(|i| win.span(i) - 1 - win.pads_end[i]))
        .collect();
    let few_channels = group == 1 && wd[1] < FEW_CHANNELS;
    let dx = if stride1 && flipped_pads.iter().all(|&p| p >= 0) && !few_channels {
        let w_flipped = flip_transpose(ctx, w, &wd, group);
        ctx.b.node(
            "Conv",
            &[g, &w_flipped],
            vec![
                attr_ints("pads", &flipped_pads),
                attr_ints("dilations", &win.dilations),
                attr_int("group", group),
            ],
        )
    } else {
        let output_padding: Vec<i64> = (0..n)
            .map(|i| {
                (input[i] + win.pads_begin[i] + win.pads_end[i] - win.span(i))
                    .rem_euclid(win.strides[i])
            })
            .collect();
        ctx.b.node(
            "ConvTranspose",
            &[g, w],
            vec![
                attr_ints("strides", &win.strides),
                attr_ints("dilations", &win.dilations),
                attr_ints("pads", &win.pads()),
                attr_ints("output_padding", &output_padding),
                attr_int("group", group),
            ],
        )
    };
    Ok(dx)
}

/// `W[M, C/g, k...]` -> `W'[C, M/g, k...]`, spatially flipped (ONNX Runtime
/// folds this into a constant when `W` is an initializer).
fn flip_transpose(ctx: &mut Ctx, w: &str, wd: &[i64], group: i64) -> String {
    let (m, cg) = (wd[0], wd[1]);
    let k = &wd[2..];
    let b = &mut *ctx.b;
    let grouped: Vec<i64> = [group, m / group, cg].iter().chain(k).copied().collect();
    let shape = b.const_i64(&grouped);
    let r = b.node("Reshape", &[w, &shape], vec![]);
    let perm: Vec<i64> = [0, 2, 1].into_iter().chain(3..3 + k.len() as i64).collect();
    let t = b.transpose(&r, &perm);
    let out: Vec<i64> = [group * cg, m / group].iter().chain(k).copied().collect();
    let shape = b.const_i64(&out);
    let wt = b.node("Reshape", &[&t, &shape], vec![]);
    let axes: Vec<i64> = (2..2 + k.len() as i64).collect();
    let starts = b.const_i64(&vec![-1; k.len()]);
    let ends = b.const_i64(&vec![i64::MIN; k.len()]);
    let axes = b.const_i64(&axes);
    let steps = b.const_i64(&vec![-1; k.len()]);
    b.node("Slice", &[&wt, &starts, &ends, &axes, &steps], vec![])
}

/// ConvTranspose's input gradient is the Conv with the same weights, strides,
/// dilations, pads and groups.
pub fn conv_transpose(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let w = ctx.input(1);
    let wd = weight_dims(ctx)?;
    if ctx.node.attr("output_shape").is_some()
        || ctx
            .node
            .attr_s("auto_pad")?
            .is_some_and(|p| p != "NOTSET" && p != "VALID")
    {
        return Err(ctx.fail("ConvTranspose with output_shape or SAME auto_pad is not supported; export it with explicit pads"));
    }
    let n = wd.len() - 2;
    let pads = ctx
        .node
        .attr_ints("pads")?
        .filter(|p| p.len() == 2 * n)
        .unwrap_or(vec![0; 2 * n]);
    let strides = per_axis(ctx, "strides", n)?;
    let dilations = per_axis(ctx, "dilations", n)?;
    let group = ctx.node.attr_i("group")?.unwrap_or(1);
    let dx = ctx.b.node(
        "Conv",
        &[&g, &w],
        vec![
            attr_ints("pads", &pads),
            attr_ints("strides", &strides),
            attr_ints("dilations", &dilations),
            attr_int("group", group),
        ],
    );
    Ok(vec![Some(dx)])
}
