//! Attribution methods against Captum, per example.
//!
//! References: `tests/data/explain/mnist.npz`, written by
//! `python/make_explain_fixtures.py` with Captum 0.9 / PyTorch 2.15 (float32,
//! eval mode) on the trained MNIST CNN (`examples/mnist/mnist_cnn.onnx`, the
//! same weights), for five held-out digits and their labels (one digit is
//! misclassified). `nhwc.npz`: Captum's Grad-CAM formula on the engine's NHWC
//! fixture model. Tolerance: per-example relative error
//! `||ours - ref|| / ||ref||` below 1e-4.

mod common;

use common::{assert_close, data, npz_f32, npz_i64, runtime};
use std::path::Path;

use ndarray::ArrayD;
use sensie::engine::{Engine, EngineOptions, Score};
use sensie::explain::{self, Attribution, Baseline, Options, Quadrature, Targets};
use sensie::model::Model;

const TOL: f64 = 1e-4;

struct Fixture {
    engine: Engine,
    npz: std::path::PathBuf,
    x: ArrayD<f32>,
    targets: Targets,
}

/// The MNIST model and references; a batch size of 3 so that the five
/// digits (and the many rows of steps and windows) span several batches.
fn mnist() -> Fixture {
    let model = Model::load(data("../../../../examples/mnist/mnist_cnn.onnx"))
        .expect("the MNIST model loads");
    let engine = Engine::new(
        runtime(),
        model,
        EngineOptions {
            batch_size: 3,
            threads: 1,
        },
    )
    .expect("engine builds");
    let npz = data("explain/mnist.npz");
    let x = npz_f32(&npz, "x").expect("x");
    let classes = npz_i64(&npz, "target")
        .expect("target")
        .iter()
        .map(|&t| t as usize)
        .collect();
    Fixture {
        engine,
        npz,
        x,
        targets: Targets {
            classes,
            score: Score::Logit,
        },
    }
}

fn attribute(f: &mut Fixture, method: &str, options: &Options) -> Attribution {
    let m = explain::build(method, options).expect("method builds");
    m.attribute(&mut f.engine, f.x.view(), &f.targets)
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

fn reference(f: &Fixture, key: &str) -> ArrayD<f32> {
    npz_f32(&f.npz, key).unwrap_or_else(|| panic!("reference {key}"))
}

/// Pixel methods whose reference is one Captum call with default options.
#[test]
fn gradient_methods_match_captum() {
    let mut f = mnist();
    for (method, key) in [
        ("gradient", "saliency_raw"),
        ("saliency", "saliency"),
        ("gradient-x-input", "input_x_gradient"),
        ("guided-backprop", "guided_backprop"),
        ("deconvnet", "deconvnet"),
    ] {
        let got = attribute(&mut f, method, &Options::default()).map;
        assert_close(
            &format!("{method} vs Captum {key}"),
            &got,
            &reference(&f, key),
            TOL,
        );
    }
}

/// Gauss-Legendre, 50 steps, zero baseline: the map, and a completeness gap
/// below 1% of f(x) - f(0) that agrees with Captum's convergence delta.
#[test]
fn integrated_gradients_gauss_legendre_matches_captum() {
    let mut f = mnist();
    let ig = attribute(&mut f, "integrated-gradients", &Options::default());
    assert_close(
        "IG Gauss-Legendre",
        &ig.map,
        &reference(&f, "ig_gausslegendre"),
        TOL,
    );
    let c = ig.completeness.expect("IG reports completeness");
    let delta = reference(&f, "ig_gausslegendre_delta");
    for (i, (gap, change)) in c.gap.iter().zip(&c.score_change).enumerate() {
        let relative = gap.abs() / change.abs();
        eprintln!(
            "example {i}: gap {gap:.5} of {change:.3} ({:.3}%), Captum's delta {:.5}",
            100.0 * relative,
            delta[i]
        );
        assert!(
            relative < 0.01,
            "example {i}: completeness gap {relative:.4} of the score change"
        );
        assert!(
            (gap - delta[i]).abs() < 1e-3 * change.abs(),
            "example {i}: gap {gap} vs Captum's {}",
            delta[i]
        );
    }
}

/// The trapezoid rule is Captum's `riemann_trapezoid`, weights and all: its
/// maps were the true rule's, Captum's times n / (n - 1), 2% apart at 50
/// steps.
#[test]
fn integrated_gradients_trapezoid_matches_captum() {
    let mut f = mnist();
    let options = Options {
        quadrature: Quadrature::RiemannTrapezoid,
        ..Options::default()
    };
    let ig = attribute(&mut f, "integrated-gradients", &options);
    assert_close("IG trapezoid", &ig.map, &reference(&f, "ig_trapezoid"), TOL);
}

/// A baseline given as an array (what `--baseline FILE` reads), 32 steps.
#[test]
fn integrated_gradients_with_a_baseline_array_matches_captum() {
    let mut f = mnist();
    let options = Options {
        steps: 32,
        baseline: Baseline::Array(reference(&f, "ig_file_baseline")),
        ..Options::default()
    };
    let ig = attribute(&mut f, "integrated-gradients", &options);
    assert_close(
        "IG from a baseline array",
        &ig.map,
        &reference(&f, "ig_file"),
        TOL,
    );
    let delta = reference(&f, "ig_file_delta");
    for (i, gap) in ig.completeness.unwrap().gap.iter().enumerate() {
        assert!(
            (gap - delta[i]).abs() < 2e-3,
            "example {i}: gap {gap} vs Captum's {}",
            delta[i]
        );
    }
}

/// The default layer is the ReLU after the last Conv: Captum's LayerGradCam
/// given `model.relu2`, at the layer's 14 x 14 and interpolated bilinearly.
#[test]
fn gradcam_default_layer_matches_captum_on_the_last_relu() {
    let mut f = mnist();
    let cam = attribute(&mut f, "gradcam", &Options::default());
    let layer = cam.layer.expect("CAM methods return the layer map");
    assert_eq!(layer.name, "/relu2/Relu_output_0");
    let squeeze = |a: ArrayD<f32>| a.index_axis_move(ndarray::Axis(1), 0);
    assert_close(
        "Grad-CAM at relu2",
        &layer.map,
        &squeeze(reference(&f, "gradcam_layer")),
        TOL,
    );
    assert_close(
        "Grad-CAM upsampled",
        &cam.map,
        &squeeze(reference(&f, "gradcam")),
        TOL,
    );

    let negative = attribute(&mut f, "gradcam-negative", &Options::default());
    assert_close(
        "negative Grad-CAM at relu2",
        &negative.layer.unwrap().map,
        &squeeze(reference(&f, "gradcam_negative_layer")),
        TOL,
    );
    assert_close(
        "negative Grad-CAM upsampled",
        &negative.map,
        &squeeze(reference(&f, "gradcam_negative")),
        TOL,
    );

    // The Conv's output tensor, or the Conv node's name (Captum's module).
    for layer in ["/conv2/Conv_output_0", "/conv2/Conv"] {
        let conv = Options {
            layer: Some(layer.into()),
            ..Options::default()
        };
        let cam = attribute(&mut f, "gradcam", &conv);
        let small = cam.layer.unwrap();
        assert_eq!(small.name, "/conv2/Conv_output_0", "--layer {layer}");
        assert_close(
            "Grad-CAM at conv2 (pre-ReLU)",
            &small.map,
            &squeeze(reference(&f, "gradcam_conv_layer")),
            TOL,
        );
        assert_close(
            "Grad-CAM at conv2 upsampled",
            &cam.map,
            &squeeze(reference(&f, "gradcam_conv")),
            TOL,
        );
    }
}

#[test]
fn guided_gradcam_matches_captum_with_bilinear_interpolation() {
    let mut f = mnist();
    let got = attribute(&mut f, "guided-gradcam", &Options::default()).map;
    assert_close(
        "guided Grad-CAM",
        &got,
        &reference(&f, "guided_gradcam"),
        TOL,
    );
}

/// Windows that do not fit a whole number of strides (5 / 3 on 28 pixels:
/// the last window is cut by the edge), and a non-zero fill.
#[test]
fn occlusion_matches_captum() {
    let mut f = mnist();
    for (key, window, stride, fill) in [
        ("occlusion_5_3", 5, 3, 0.0),
        ("occlusion_4_2_fill", 4, 2, 0.25),
    ] {
        let options = Options {
            window,
            stride,
            fill,
            ..Options::default()
        };
        let got = attribute(&mut f, "occlusion", &options).map;
        assert_close(&format!("occlusion {key}"), &got, &reference(&f, key), TOL);
    }
}

/// The NHWC fixture model (tf2onnx style) on its inputs and targets:
/// Grad-CAM at `layer` (`None`: the default layer).
fn nhwc_gradcam(layer: Option<&str>) -> Attribution {
    let dir = data("engine/nhwc_tf2onnx");
    gradcam_of(&dir.join("model.onnx"), &dir.join("reference.npz"), layer)
}

/// Grad-CAM at `layer` of `model` on the `x` and `target` arrays of `npz`.
fn gradcam_of(model: &Path, npz: &Path, layer: Option<&str>) -> Attribution {
    let model = Model::load(model).unwrap();
    let mut engine = Engine::new(
        runtime(),
        model,
        EngineOptions {
            batch_size: 2,
            threads: 1,
        },
    )
    .unwrap();
    let x = npz_f32(npz, "x").unwrap();
    let classes = npz_i64(npz, "target")
        .unwrap()
        .iter()
        .map(|&t| t as usize)
        .collect();
    let targets = Targets {
        classes,
        score: Score::Logit,
    };
    let options = Options {
        layer: layer.map(str::to_string),
        ..Options::default()
    };
    explain::build("gradcam", &options)
        .unwrap()
        .attribute(&mut engine, x.view(), &targets)
        .unwrap()
}

/// An NHWC model (tf2onnx style): the default layer is the last Relu inside
/// its NCHW part, and the map comes back at the input's 32 x 32.
#[test]
fn gradcam_on_an_nhwc_model_matches_captums_formula() {
    let cam = nhwc_gradcam(None);
    let layer = cam.layer.unwrap();
    assert_eq!(
        layer.name,
        "StatefulPartitionedCall/sequential/conv2d_1/Relu:0"
    );
    let want = data("explain/nhwc.npz");
    let squeeze = |a: ArrayD<f32>| a.index_axis_move(ndarray::Axis(1), 0);
    assert_close(
        "NHWC Grad-CAM at the layer",
        &layer.map,
        &squeeze(npz_f32(&want, "gradcam_layer").unwrap()),
        TOL,
    );
    assert_close(
        "NHWC Grad-CAM upsampled",
        &cam.map,
        &squeeze(npz_f32(&want, "gradcam").unwrap()),
        TOL,
    );
}

/// Grad-CAM at the 2 x 2 max pool after that Relu, by Captum's formula
/// from PyTorch's values: the pool's activations are each window's maximum
/// of the Relu's, and its gradient is the sum of the Relu's gradient over
/// the window (the pool routes it to one position and the Relu feeds only
/// the pool). The model holds the pool twice: as ONNX's MaxPool writes it
/// (N x C x h x w) and transposed back to N x h x w x C before its Flatten;
/// a layer stored channels-last must be read so, not as N x C x h x w.
#[test]
fn gradcam_reads_a_layer_transposed_to_nhwc_in_its_own_layout() {
    let reference = data("engine/nhwc_tf2onnx/reference.npz");
    let act = npz_f32(&reference, "layer_value").unwrap();
    let grad = npz_f32(&reference, "grad_layer").unwrap();
    let (n, c, h, w) = (
        act.shape()[0],
        act.shape()[1],
        act.shape()[2] / 2,
        act.shape()[3] / 2,
    );
    let window = |a: &ArrayD<f32>, e: usize, k: usize, i: usize, j: usize| {
        [(0, 0), (0, 1), (1, 0), (1, 1)].map(|(di, dj)| a[[e, k, 2 * i + di, 2 * j + dj]])
    };
    let mut want = ndarray::Array3::<f32>::zeros((n, h, w));
    for e in 0..n {
        for k in 0..c {
            let mut mean_grad = 0.0;
            for i in 0..h {
                for j in 0..w {
                    mean_grad += window(&grad, e, k, i, j).iter().sum::<f32>();
                }
            }
            mean_grad /= (h * w) as f32;
            for i in 0..h {
                for j in 0..w {
                    let pooled = window(&act, e, k, i, j)
                        .into_iter()
                        .fold(f32::MIN, f32::max);
                    want[[e, i, j]] += mean_grad * pooled;
                }
            }
        }
    }
    want.mapv_inplace(|v| v.max(0.0));
    for layer in [
        "StatefulPartitionedCall/sequential/max_pooling2d/MaxPool:0",
        "StatefulPartitionedCall/sequential/max_pooling2d/MaxPool__20:0",
    ] {
        let cam = nhwc_gradcam(Some(layer)).layer.unwrap();
        assert_eq!(cam.name, layer);
        assert_close(layer, &cam.map, &want.clone().into_dyn(), TOL);
    }
}

/// A layer stored channels-last behind a bias Add, as tf2onnx writes a Keras
/// Conv2D(activation="relu") without its transpose optimiser: Transpose to
/// NCHW, Conv, Transpose back, Add of the bias along the last axis, Relu.
/// The Relu's output is N x h x w x C; it was read as N x C x h x w (a
/// 12 x 6 map of rows mixed with channels). It is also the default layer,
/// the activation of the last Conv, which the default used to miss (it
/// stopped at the Conv's raw output, before the bias and the ReLU). Against
/// PyTorch's autograd by Captum's formula (python/make_nhwc_bias_fixture.py).
#[test]
fn gradcam_reads_an_nhwc_activation_behind_a_bias_add_in_its_own_layout() {
    let want = npz_f32(&data("explain/nhwc_bias.npz"), "gradcam_layer").unwrap();
    for layer in [Some("act"), None] {
        let cam = gradcam_of(
            &data("explain/nhwc_bias.onnx"),
            &data("explain/nhwc_bias.npz"),
            layer,
        );
        let layer_map = cam.layer.unwrap();
        assert_eq!(layer_map.name, "act");
        assert_close(
            &format!("Grad-CAM at an NHWC Relu after a bias Add ({layer:?})"),
            &layer_map.map,
            &want,
            TOL,
        );
    }
}
