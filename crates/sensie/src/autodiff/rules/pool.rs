//! Pooling. MaxPool routes the gradient through ONNX Runtime's `Indices`
//! output (the first maximum of each window in row-major order, PyTorch's
//! choice on ties) with an additive ScatterElements, which is right for
//! overlapping, padded and ceil-mode windows alike; windows that tile the
//! input (stride = kernel, no padding or dilation) send each element to at
//! most one window, so MaxUnpool's plain assignment does the same job, about
//! 1.8 times faster in ONNX Runtime (the MNIST CNN's 2 x 2 pools). AveragePool spreads the
//! gradient, divided by each window's count, with a depthwise ConvTranspose
//! of ones.

use crate::Result;
use crate::autodiff::Ctx;
use crate::autodiff::rules::conv::{Window, spatial};
use crate::graph::{NodeExt, attr_int, attr_ints, attr_string};

type Grads = Result<Vec<Option<String>>>;

pub fn max_pool(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let x = ctx.input(0);
    let indices = indices_of(ctx);
    if let Some(win) = tiling_window(ctx, &x)? {
        let shape = ctx.b.node("Shape", &[&x], vec![]);
        let unpooled = ctx.b.node(
            "MaxUnpool",
            &[&g, &indices, &shape],
            vec![
                attr_ints("kernel_shape", &win.kernel),
                attr_ints("strides", &win.strides),
            ],
        );
        return Ok(vec![Some(unpooled)]);
    }
    let flat = ctx.b.const_i64(&[-1]);
    let zeros = ctx.b.zeros_like(&x);
    let zeros = ctx.b.node("Reshape", &[&zeros, &flat], vec![]);
    let idx = ctx.b.node("Reshape", &[&indices, &flat], vec![]);
    let upd = ctx.b.node("Reshape", &[&g, &flat], vec![]);
    let scattered = ctx.b.node(
        "ScatterElements",
        &[&zeros, &idx, &upd],
        vec![attr_int("axis", 0), attr_string("reduction", "add")],
    );
    Ok(vec![Some(ctx.b.reshape_like(&scattered, &x))])
}

/// The MaxPool's window when its windows tile the input: stride equal to the
/// kernel, no padding, no dilation, floor mode, row-major indices.
fn tiling_window(ctx: &Ctx, x: &str) -> Result<Option<Window>> {
    let kernel = ctx
        .node
        .attr_ints("kernel_shape")?
        .ok_or_else(|| ctx.fail("kernel_shape is missing"))?;
    let win = Window::of(ctx, kernel, &spatial(ctx, x)?)?;
    let plain = |attr: &str| -> Result<bool> { Ok(ctx.node.attr_i(attr)?.unwrap_or(0) == 0) };
    let tiles = win.strides == win.kernel
        && win.dilations.iter().all(|&d| d == 1)
        && win.pads().iter().all(|&p| p == 0)
        && plain("ceil_mode")?
        && plain("storage_order")?;
    Ok(tiles.then_some(win))
}

/// The name of the forward MaxPool's `Indices` output, adding it if needed.
fn indices_of(ctx: &mut Ctx) -> String {
    let y = ctx.output(0);
    let fresh = ctx.b.fresh("indices");
    let node = ctx
        .b
        .graph
        .node
        .iter_mut()
        .find(|n| n.output.first() == Some(&y))
        .expect("the forward node is in the graph");
    match node.output.get(1).filter(|s| !s.is_empty()) {
        Some(existing) => existing.clone(),
        None => {
            node.output.truncate(1);
            node.output.push(fresh.clone());
            fresh
        }
    }
}

/// Spreads `g / count` over each window: ConvTranspose of ones, one group per
/// channel, then zero-padding for trailing input rows no window reached.
pub fn average_pool(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let x = ctx.input(0);
    let input = spatial(ctx, &x)?;
    let output = spatial(ctx, &ctx.output(0))?;
    let channels = ctx.shape(&x)?.dims[1];
    if channels < 0 {
        return Err(ctx.fail("the channel count must be static"));
    }
    let kernel = ctx
        .node
        .attr_ints("kernel_shape")?
        .ok_or_else(|| ctx.fail("kernel_shape is missing"))?;
    let mut win = Window::of(ctx, kernel, &input)?;
    let include_pad = ctx.node.attr_i("count_include_pad")?.unwrap_or(0) == 1;
    let n = input.len();

    // Per output position, how many input elements its window averaged.
    let counts_1d: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            (0..output[i])
                .map(|o| {
                    let start = o * win.strides[i] - win.pads_begin[i];
                    let (lo, hi) = if include_pad {
                        (-win.pads_begin[i], input[i] + win.pads_end[i])
                    } else {
                        (0, input[i])
                    };
                    (0..win.kernel[i])
                        .filter(|k| (lo..hi).contains(&(start + k * win.dilations[i])))
                        .count() as f32
                })
                .collect()
        })
        .collect();
    let mut inv = vec![1.0f32];
    for c in &counts_1d {
        inv = inv
            .iter()
            .flat_map(|a| c.iter().map(move |b| a * b))
            .collect();
    }
    let inv: Vec<f32> = inv
        .iter()
        .map(|c| if *c > 0.0 { 1.0 / c } else { 0.0 })
        .collect();
    let dims: Vec<usize> = [1, 1]
        .into_iter()
        .chain(output.iter().map(|&d| d as usize))
        .collect();
    let inv = ctx.b.const_f32(&dims, &inv);
    let scaled = ctx.b.node("Mul", &[&g, &inv], vec![]);

    // ConvTranspose's full output, s(out-1) + span long, covers input
    // positions from -pads_begin on: crop the front padding, then crop the
    // end to the input size, or zero-pad it where no window reached.
    let mut extra = vec![0i64; n];
    for i in 0..n {
        let end = win.strides[i] * (output[i] - 1) + win.span(i) - win.pads_begin[i] - input[i];
        win.pads_end[i] = end.max(0);
        extra[i] = (-end).max(0);
    }
    let ones_dims: Vec<usize> = [channels as usize, 1]
        .into_iter()
        .chain(win.kernel.iter().map(|&k| k as usize))
        .collect();
    let ones = ctx
        .b
        .const_f32(&ones_dims, &vec![1.0; ones_dims.iter().product()]);
    let mut dx = ctx.b.node(
        "ConvTranspose",
        &[&scaled, &ones],
        vec![
            attr_ints("strides", &win.strides),
            attr_ints("dilations", &win.dilations),
            attr_ints("pads", &win.pads()),
            attr_int("group", channels),
        ],
    );
    if extra.iter().any(|&e| e > 0) {
        let pads: Vec<i64> = [0, 0]
            .iter()
            .chain(&vec![0; n])
            .chain(&[0, 0])
            .chain(&extra)
            .copied()
            .collect();
        let pads = ctx.b.const_i64(&pads);
        dx = ctx.b.node("Pad", &[&dx, &pads], vec![]);
    }
    Ok(vec![Some(dx)])
}

pub fn global_average_pool(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let x = ctx.input(0);
    let area: i64 = spatial(ctx, &x)?.iter().product();
    let shape = ctx.b.node("Shape", &[&x], vec![]);
    let spread = ctx.b.node("Expand", &[&g, &shape], vec![]);
    Ok(vec![Some(ctx.b.scale(&spread, 1.0 / area as f32))])
}

/// The gradient goes to the first maximum of each channel.
pub fn global_max_pool(ctx: &mut Ctx, g: &[Option<String>]) -> Grads {
    let g = ctx.g0(g);
    let x = ctx.input(0);
    let flat_dims = ctx.b.const_i64(&[0, 0, -1]);
    let flat = ctx.b.node("Reshape", &[&x, &flat_dims], vec![]);
    let arg = ctx.b.node(
        "ArgMax",
        &[&flat],
        vec![
            attr_int("axis", 2),
            attr_int("keepdims", 1),
            attr_int("select_last_index", 0),
        ],
    );
    let g_dims = ctx.b.const_i64(&[0, 0, 1]);
    let g_flat = ctx.b.node("Reshape", &[&g, &g_dims], vec![]);
    let zeros = ctx.b.zeros_like(&flat);
    let scattered = ctx.b.node(
        "ScatterElements",
        &[&zeros, &arg, &g_flat],
        vec![attr_int("axis", 2)],
    );
    Ok(vec![Some(ctx.b.reshape_like(&scattered, &x))])
}
