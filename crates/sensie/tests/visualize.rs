//! Feature visualisation on the trained MNIST CNN (`examples/mnist`, 96.5%
//! held-out accuracy) and on fixture models for colour and NHWC layouts.
//!
//! Kernels and feature maps are checked value by value against numbers got
//! another way: the kernels from the first convolution's response (in ONNX
//! Runtime) to a single bright pixel, the feature maps from a direct
//! convolution with those kernels. Optimisation is checked by what it
//! promises: a maximised class is what the model sees, more strongly than in
//! any real digit of that class; Deep Dream raises its layer's norm.

mod common;

use common::{data, runtime};
use ndarray::{Array4, ArrayD, Axis, s};
use sensie::engine::{Engine, EngineOptions};
use sensie::model::Model;
use sensie::render::HeatScale;
use sensie::visualize::{
    self, DreamOptions, MaximizeOptions, Parameterisation, Picture, Target, ValueRange,
};

fn repo(rel: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn engine(path: &std::path::Path) -> Engine {
    Engine::new(
        runtime(),
        Model::load(path).unwrap(),
        EngineOptions {
            batch_size: 64,
            threads: 1,
        },
    )
    .unwrap()
}

fn mnist() -> Engine {
    engine(&repo("examples/mnist/mnist_cnn.onnx"))
}

fn digits() -> (ArrayD<f32>, Vec<usize>) {
    let x = sensie::data::read_array(&repo("examples/mnist/data/test_x.npy")).unwrap();
    let y = sensie::data::read_array(&repo("examples/mnist/data/test_y.npy")).unwrap();
    (x, y.iter().map(|&v| v as usize).collect())
}

/// The colour at source pixel (y, x) of tile `k` of a grid picture.
fn tile_pixel(
    picture: &Picture,
    (tile_h, tile_w): (usize, usize),
    k: usize,
    y: usize,
    x: usize,
) -> [u8; 3] {
    let g = &picture.grid;
    let (pad, up) = (g.padding as usize, g.upscale as usize);
    let (col, row) = (k % g.columns, k / g.columns);
    let (ox, oy) = (picture.origin.0 as usize, picture.origin.1 as usize);
    let px = ox + pad + col * (tile_w * up + pad) + x * up;
    let py = oy + pad + row * (tile_h * up + pad) + y * up;
    picture.image.get_pixel(px as u32, py as u32).0
}

/// conv1's output for an image, from ONNX Runtime.
fn conv1(engine: &mut Engine, image: Array4<f32>) -> ArrayD<f32> {
    engine
        .tensors(image.into_dyn().view(), &["/conv1/Conv_output_0".into()])
        .unwrap()
        .remove(0)
}

/// The first convolution (3 x 3, padding 1) answers a single bright pixel at
/// (14, 14) with its kernels, flipped, plus its bias: `out[o, 15 - i, 15 - j]
/// - bias[o] = w[o, 0, i, j]`.
#[test]
fn kernels_are_the_models_weights() {
    let mut engine = mnist();
    let k = visualize::kernels(engine.model(), None).unwrap();
    assert_eq!(
        (k.layer.as_str(), k.output.as_str(), k.colour),
        ("/conv1/Conv", "/conv1/Conv_output_0", false)
    );
    assert_eq!(k.weights.shape(), &[8, 1, 3, 3]);
    let bias = conv1(&mut engine, Array4::zeros((1, 1, 28, 28)));
    let mut delta = Array4::zeros((1, 1, 28, 28));
    delta[[0, 0, 14, 14]] = 1.0;
    let response = conv1(&mut engine, delta);
    for ((o, _, i, j), &w) in k.weights.indexed_iter() {
        let seen = response[[0, o, 15 - i, 15 - j]] - bias[[0, o, 15 - i, 15 - j]];
        assert!(
            (seen - w).abs() < 1e-6,
            "kernel {o} ({i}, {j}): {w} in the grid, {seen} from the model"
        );
    }

    // The grid: kernel o is tile o, every value one block coloured on one
    // diverging scale whose limit is the largest |weight|.
    let picture = k.picture().unwrap();
    let limit = k.weights.iter().fold(0.0f32, |a, w| a.max(w.abs()));
    assert_eq!(picture.scale, Some(HeatScale::Signed { limit }));
    for ((o, _, i, j), &w) in k.weights.indexed_iter() {
        assert_eq!(
            tile_pixel(&picture, (3, 3), o, i, j),
            HeatScale::Signed { limit }.rgb(w),
            "kernel {o} ({i}, {j})"
        );
    }

    // Any convolution on request, by output tensor, per input channel: a row
    // per output channel, a column per input channel.
    let k2 = visualize::kernels(engine.model(), Some("/conv2/Conv_output_0")).unwrap();
    assert_eq!((k2.weights.shape(), k2.colour), (&[16, 8, 3, 3][..], false));
    // The weight's own name (as `sensie inspect` lists it) names the same
    // convolution.
    let by_weight = visualize::kernels(engine.model(), Some("conv2.weight")).unwrap();
    assert_eq!(
        (by_weight.output.as_str(), &by_weight.weights),
        ("/conv2/Conv_output_0", &k2.weights)
    );
    let picture = k2.picture().unwrap();
    let scale = picture.scale.unwrap();
    assert_eq!(picture.grid.columns, 8);
    for ((o, c, i, j), &w) in k2.weights.indexed_iter() {
        assert_eq!(
            tile_pixel(&picture, (3, 3), o * 8 + c, i, j),
            scale.rgb(w),
            "kernel ({o}, {c}) ({i}, {j})"
        );
    }

    // Three input bands: the first layer's kernels are colour pictures, in
    // NCHW (resnet18) and NHWC (tf2onnx-style) models alike.
    // Each colour tile is its kernel's bands as red, green, blue, stretched
    // linearly between that kernel's extremes.
    for (case, shape) in [("resnet18", [64, 3, 7, 7]), ("nhwc_tf2onnx", [8, 3, 3, 3])] {
        let model = Model::load(data(&format!("engine/{case}/model.onnx"))).unwrap();
        let k = visualize::kernels(&model, None).unwrap();
        assert!(k.colour, "{case}");
        assert_eq!(k.weights.shape(), &shape, "{case}");
        let picture = k.picture().unwrap();
        for (o, kernel) in k.weights.outer_iter().enumerate() {
            let (low, high) = kernel
                .iter()
                .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
            for ((band, i, j), &w) in kernel.indexed_iter() {
                let want = ((w - low) / (high - low) * 255.0).round() as u8;
                let got = tile_pixel(&picture, (shape[2], shape[3]), o, i, j)[band];
                assert!(
                    got.abs_diff(want) <= 1,
                    "{case} kernel {o} band {band} ({i}, {j}): {got} vs {want}"
                );
            }
        }
    }
}

/// The feature maps of conv1 + ReLU are max(0, conv(x, kernels) + bias),
/// computed here directly, ranked by mean activation.
#[test]
fn feature_maps_are_the_layers_values_most_active_first() {
    let mut engine = mnist();
    let (x, _) = digits();
    let x = x.slice_axis(Axis(0), (0..3).into()).to_owned();
    let maps = visualize::feature_maps(&mut engine, x.view(), "/relu1/Relu_output_0").unwrap();
    assert_eq!(maps.maps.shape(), &[3, 8, 28, 28]);
    let w = visualize::kernels(engine.model(), None).unwrap().weights;
    let bias = conv1(&mut engine, Array4::zeros((1, 1, 28, 28)));
    for ((n, o, y, xx), &got) in maps.maps.indexed_iter() {
        let mut sum = bias[[0, o, 0, 0]];
        for i in 0..3 {
            for j in 0..3 {
                let (sy, sx) = (y as i64 + i as i64 - 1, xx as i64 + j as i64 - 1);
                if (0..28).contains(&sy) && (0..28).contains(&sx) {
                    sum += w[[o, 0, i, j]] * x[[n, 0, sy as usize, sx as usize]];
                }
            }
        }
        assert!(
            (got - sum.max(0.0)).abs() < 1e-5,
            "example {n} channel {o} ({y}, {xx}): {got} vs {}",
            sum.max(0.0)
        );
    }
    for (n, order) in maps.order.iter().enumerate() {
        let means: Vec<f32> = order
            .iter()
            .map(|&c| maps.maps.slice(s![n, c, .., ..]).mean().unwrap())
            .collect();
        assert!(
            means.windows(2).all(|m| m[0] >= m[1]),
            "example {n}: {means:?}"
        );
        assert!((means[0] - maps.mean[[n, order[0]]]).abs() < 1e-6);
        // The grid: tile t is channel order[t], on one scale (after a ReLU,
        // viridis from 0 to the example's largest activation).
        let picture = maps.picture(n, &format!("example {n}")).unwrap();
        let high = maps
            .maps
            .index_axis(Axis(0), n)
            .fold(0.0f32, |a, &v| a.max(v));
        assert_eq!(picture.scale, Some(HeatScale::Unsigned { high }));
        for (t, &c) in order.iter().enumerate() {
            for ((y, xx), &v) in maps.maps.slice(s![n, c, .., ..]).indexed_iter() {
                assert_eq!(
                    tile_pixel(&picture, (28, 28), t, y, xx),
                    HeatScale::Unsigned { high }.rgb(v),
                    "example {n} tile {t} ({y}, {xx})"
                );
            }
        }
    }
}

/// In a tf2onnx graph the pooled maps are transposed back to NHWC before
/// Flatten: asked for that tensor, sensie still returns N x C x H x W, equal
/// to the NCHW tensor before the Transpose.
#[test]
fn feature_maps_of_an_nhwc_tensor_are_returned_channels_first() {
    let mut engine = engine(&data("engine/nhwc_tf2onnx/model.onnx"));
    let x = common::npz_f32(&data("engine/nhwc_tf2onnx/reference.npz"), "x").unwrap();
    let nhwc = visualize::feature_maps(
        &mut engine,
        x.view(),
        "StatefulPartitionedCall/sequential/max_pooling2d/MaxPool__20:0",
    )
    .unwrap();
    let nchw = visualize::feature_maps(
        &mut engine,
        x.view(),
        "StatefulPartitionedCall/sequential/max_pooling2d/MaxPool:0",
    )
    .unwrap();
    assert_eq!(nhwc.maps.shape(), &[x.shape()[0], 16, 8, 8]);
    assert_eq!(nhwc.maps, nchw.maps);
}

fn mnist_options(data: &ArrayD<f32>) -> MaximizeOptions {
    let mut options = MaximizeOptions::for_size(28, 28);
    options.restarts = 2;
    options.range = ValueRange::of_data(data.view()).unwrap();
    options.fit_to_data(data.view().into_dimensionality().unwrap());
    options
}

/// The criterion of a working activation maximisation: every restart maximised for class k is classified
/// as k with probability above 0.9, and its logit for k is higher than that of
/// every held-out digit of class k. The inputs are checked by feeding them
/// back to the model.
#[test]
fn maximised_classes_beat_every_real_digit() {
    let mut engine = mnist();
    let (x, y) = digits();
    let logits = engine.predict(x.view()).unwrap();
    let options = mnist_options(&x);
    for k in 0..10 {
        let best_real = logits
            .rows()
            .into_iter()
            .zip(&y)
            .filter(|(_, label)| **label == k)
            .map(|(row, _)| row[k])
            .fold(f32::MIN, f32::max);
        let result = visualize::maximize(&mut engine, &Target::Class(k), &options).unwrap();
        assert_eq!(result.inputs.shape(), &[2, 1, 28, 28]);
        assert!(
            result.inputs.iter().all(|v| (0.0..=1.0).contains(v)),
            "class {k}: inputs leave [0, 1]"
        );
        let fed_back = engine.predict(result.inputs.view()).unwrap();
        for (r, row) in fed_back.rows().into_iter().enumerate() {
            let p = result.probabilities[r][k];
            eprintln!(
                "class {k} restart {r}: logit {:.2} (best real {best_real:.2}), probability {p:.6}",
                row[k]
            );
            assert!((row[k] - result.objective[r]).abs() < 1e-4);
            assert!(p > 0.9, "class {k} restart {r}: probability {p}");
            assert!(
                row[k] > best_real,
                "class {k} restart {r}: logit {} not above the best real digit's {best_real}",
                row[k]
            );
        }
        assert_eq!(result.history.len(), options.steps);
    }
}

/// A channel and a neuron of conv2, each maximised above anything a real
/// digit gives it; with diversity on, restarts differ more.
#[test]
fn maximised_channels_and_neurons_beat_every_real_digit() {
    let mut engine = mnist();
    let (x, _) = digits();
    let layer = "/conv2/Conv_output_0".to_string();
    let real = engine
        .tensors(x.view(), std::slice::from_ref(&layer))
        .unwrap()
        .remove(0);
    let mut options = mnist_options(&x);
    options.steps = 128;

    let channel = visualize::maximize(
        &mut engine,
        &Target::Channel {
            layer: layer.clone(),
            channel: 5,
        },
        &options,
    )
    .unwrap();
    let best_real = real
        .slice(s![.., 5, .., ..])
        .mean_axis(Axis(2))
        .unwrap()
        .mean_axis(Axis(1))
        .unwrap()
        .fold(f32::MIN, |a, &b| a.max(b));
    eprintln!(
        "channel 5: {:?} vs best real {best_real}",
        channel.objective
    );
    assert!(channel.objective.iter().all(|&v| v > best_real));

    let neuron = visualize::maximize(
        &mut engine,
        &Target::Neuron {
            layer: layer.clone(),
            channel: 5,
            y: 7,
            x: 7,
        },
        &options,
    )
    .unwrap();
    let best_real = real.slice(s![.., 5, 7, 7]).fold(f32::MIN, |a, &b| a.max(b));
    eprintln!(
        "neuron (5, 7, 7): {:?} vs best real {best_real}",
        neuron.objective
    );
    assert!(neuron.objective.iter().all(|&v| v > best_real));

    options.restarts = 3;
    let plain = visualize::maximize(
        &mut engine,
        &Target::Channel {
            layer: layer.clone(),
            channel: 5,
        },
        &options,
    )
    .unwrap();
    options.diversity = 100.0;
    let diverse = visualize::maximize(
        &mut engine,
        &Target::Channel { layer, channel: 5 },
        &options,
    )
    .unwrap();
    let spread = |a: &ArrayD<f32>| {
        (&a.index_axis(Axis(0), 0) - &a.index_axis(Axis(0), 1))
            .mapv(f32::abs)
            .sum()
    };
    eprintln!(
        "restart difference: {} plain, {} diverse (similarity {:?})",
        spread(&plain.inputs),
        spread(&diverse.inputs),
        diverse.similarity
    );
    assert!(spread(&diverse.inputs) > spread(&plain.inputs));
}

/// A 3-band NHWC model: the colour path (decorrelation from data) and the
/// layout path; inputs come back NHWC in the requested range.
#[test]
fn maximize_in_colour_on_an_nhwc_model() {
    let mut engine = engine(&data("engine/nhwc_tf2onnx/model.onnx"));
    let x = common::npz_f32(&data("engine/nhwc_tf2onnx/reference.npz"), "x").unwrap();
    let mut options = MaximizeOptions::for_size(32, 32);
    options.steps = 32;
    options.range = ValueRange::new(0.0, 1.0).unwrap();
    options.fit_to_data(
        x.view()
            .permuted_axes(vec![0, 3, 1, 2])
            .into_dimensionality()
            .unwrap(),
    );
    options.regularisers.tv = 0.05;
    options.regularisers.blur_every = 4;
    let result = visualize::maximize(&mut engine, &Target::Class(3), &options).unwrap();
    assert_eq!(result.inputs.shape(), &[4, 32, 32, 3]);
    assert!(result.inputs.iter().all(|v| (0.0..=1.0).contains(v)));
    let first: Vec<f32> = result.history[0].clone();
    for (r, (&start, &end)) in first.iter().zip(&result.objective).enumerate() {
        assert!(end > start, "restart {r}: {start} -> {end}");
    }
}

#[test]
fn deep_dream_raises_the_layers_norm() {
    let mut engine = mnist();
    let (x, _) = digits();
    let x = x.slice_axis(Axis(0), (0..4).into()).to_owned();
    let options = DreamOptions {
        range: ValueRange::of_data(x.view()).unwrap(),
        ..DreamOptions::default()
    };
    let dreamed =
        visualize::dream(&mut engine, x.view(), "/relu2/Relu_output_0", &options).unwrap();
    assert_eq!(dreamed.inputs.shape(), x.shape());
    assert!(dreamed.inputs.iter().all(|v| (0.0..=1.0).contains(v)));
    for (i, (before, after)) in dreamed
        .norm_before
        .iter()
        .zip(&dreamed.norm_after)
        .enumerate()
    {
        eprintln!(
            "digit {i}: |relu2| {before:.2} -> {after:.2} ({:.2}x)",
            after / before
        );
        assert!(after > before, "digit {i}: {before} -> {after}");
    }
}

#[test]
fn bad_choices_are_refused_with_the_valid_ones() {
    let mut engine = mnist();
    let (x, _) = digits();
    let x = x.slice_axis(Axis(0), (0..2).into()).to_owned();
    let text = |e: sensie::Error| e.to_string();
    let convs = "/conv1/Conv_output_0, /conv2/Conv_output_0";

    let e = text(visualize::kernels(engine.model(), Some("/relu1/Relu_output_0")).unwrap_err());
    assert!(
        e.contains("Relu node, not a convolution") && e.contains(convs),
        "{e}"
    );
    let e = text(visualize::feature_maps(&mut engine, x.view(), "/fc1/Gemm_output_0").unwrap_err());
    assert!(e.contains("[N, 64]") && e.contains(convs), "{e}");
    let e = text(visualize::feature_maps(&mut engine, x.view(), "/relu2/Relux").unwrap_err());
    assert!(
        e.contains("closest") && e.contains("/relu2/Relu_output_0"),
        "{e}"
    );

    let options = mnist_options(&x);
    let e = text(visualize::maximize(&mut engine, &Target::Class(10), &options).unwrap_err());
    assert!(
        e.contains("class 10: the model scores 10 classes (0 to 9)") && !e.contains("example"),
        "{e}"
    );
    let target = Target::Channel {
        layer: "/conv2/Conv_output_0".into(),
        channel: 16,
    };
    let e = text(visualize::maximize(&mut engine, &target, &options).unwrap_err());
    assert!(e.contains("16 channels (0 to 15)"), "{e}");
    let target = Target::Neuron {
        layer: "/conv2/Conv_output_0".into(),
        channel: 1,
        y: 14,
        x: 0,
    };
    let e = text(visualize::maximize(&mut engine, &target, &options).unwrap_err());
    assert!(e.contains("14 x 14 (rows 0 to 13"), "{e}");
    let target = Target::Channel {
        layer: "/fc1/Gemm_output_0".into(),
        channel: 64,
    };
    let e = text(visualize::maximize(&mut engine, &target, &options).unwrap_err());
    assert!(e.contains("64 channels (0 to 63)"), "{e}");
    let mut wild = options.clone();
    wild.regularisers.scale = 1.5;
    let e = text(visualize::maximize(&mut engine, &Target::Class(1), &wild).unwrap_err());
    assert!(e.contains("scale must be in [0, 1)"), "{e}");
    // A NaN strength spreads into every pixel, a negative penalty rewards
    // what it should suppress: each refused, named.
    for (what, spoil) in [
        (
            "L2 penalty NaN",
            (|o: &mut MaximizeOptions| o.regularisers.l2 = f32::NAN) as fn(&mut MaximizeOptions),
        ),
        ("total-variation penalty -5", |o| o.regularisers.tv = -5.0),
        ("blur sigma -1", |o| o.regularisers.blur_sigma = -1.0),
        ("diversity -100", |o| o.diversity = -100.0),
        ("Fourier decay NaN", |o| {
            o.parameterisation = Parameterisation::Fourier { decay: f32::NAN }
        }),
    ] {
        let mut wild = options.clone();
        spoil(&mut wild);
        let e = text(visualize::maximize(&mut engine, &Target::Class(1), &wild).unwrap_err());
        assert!(
            e.contains(what) && e.contains("finite number, 0 or more"),
            "{e}"
        );
    }
    let e = text(
        visualize::dream(
            &mut engine,
            x.view(),
            "/relu2/Relu_output_0",
            &DreamOptions {
                octave_scale: 0.5,
                ..DreamOptions::default()
            },
        )
        .unwrap_err(),
    );
    assert!(e.contains("octave scale of at least 1"), "{e}");

    // One NaN pixel: its example's maps would be NaN. A weight has a shape
    // but no activations: feature maps, maximisation and Deep Dream of
    // "conv1.weight" would show the weights or fail deep in ONNX Runtime.
    let mut spoilt = x.clone();
    spoilt[[1, 0, 3, 3]] = f32::NAN;
    let nan = "example 1 of the images: it holds 1 NaN or infinite value(s)";
    let weight = "'conv1.weight': it is a weight of the model (8 x 1 x 3 x 3), not a layer's output; layers: /conv1/Conv_output_0";
    for (images, layer, want) in [
        (&spoilt, "/relu1/Relu_output_0", nan),
        (&x, "conv1.weight", weight),
    ] {
        let e = text(visualize::feature_maps(&mut engine, images.view(), layer).unwrap_err());
        assert!(e.contains(want), "{e}");
        let dreamt = visualize::dream(&mut engine, images.view(), layer, &DreamOptions::default());
        let e = text(dreamt.unwrap_err());
        assert!(e.contains(want), "{e}");
    }
    let target = Target::Layer {
        layer: "conv1.weight".into(),
    };
    let e = text(visualize::maximize(&mut engine, &target, &options).unwrap_err());
    assert!(e.contains(weight), "{e}");
}

/// A visualisation as the command line runs it: `visualize::run` returns
/// plain data (serialisable, arrays included) and writes nothing;
/// `write_run` writes what the report holds. The feature maps in the run
/// are the engine's own (checked above against a direct convolution), for
/// the chosen examples only.
#[test]
fn a_visualize_run_is_a_value_written_by_write_run() {
    use sensie::visualize::{ExampleChoice, Kind, VisualizeConfig, VisualizeRun};

    let dir = tempfile::tempdir().unwrap();
    let data = repo("examples/mnist/data/test_x.npy");
    let config = VisualizeConfig {
        model: repo("examples/mnist/mnist_cnn.onnx"),
        threads: 1,
        kind: Kind::Features {
            examples: ExampleChoice {
                data: data.clone(),
                indices: vec![5, 9],
            },
            layer: "/relu2/Relu_output_0".into(),
        },
    };
    let run = visualize::run(&config).unwrap();
    let VisualizeRun::Features { maps, examples } = &run else {
        panic!("not features: {run:?}");
    };
    assert_eq!(examples, &["example 5", "example 9"]);
    let (x, _) = digits();
    let chosen = x.select(Axis(0), &[5, 9]);
    let expected = visualize::feature_maps(&mut mnist(), chosen.view(), "/relu2/Relu_output_0")
        .unwrap()
        .maps;
    assert_eq!(maps.maps, expected);

    let json = serde_json::to_value(&run).unwrap();
    let features = &json["features"];
    assert_eq!(
        features["maps"]["maps"]["dim"],
        serde_json::json!([2, 16, 14, 14])
    );
    assert_eq!(
        features["maps"]["maps"]["data"].as_array().unwrap().len(),
        2 * 16 * 14 * 14
    );
    assert_eq!(
        features["examples"],
        serde_json::json!(["example 5", "example 9"])
    );

    let written = visualize::write_run(&run, dir.path()).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "features.html",
            "features.json",
            "features_example_5.png",
            "features_example_9.png"
        ]
    );
    assert_eq!(written.len(), 4);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("features.json")).unwrap()).unwrap();
    assert_eq!(summary["order"], json["features"]["maps"]["order"]);

    // A wrongly shaped data file is named in the error, by the library.
    let flat = dir.path().join("flat.npy");
    ndarray_npy::write_npy(&flat, &Array4::<f32>::zeros((2, 1, 1, 784))).unwrap();
    let wrong = VisualizeConfig {
        kind: Kind::Features {
            examples: ExampleChoice {
                data: flat.clone(),
                indices: Vec::new(),
            },
            layer: "/relu2/Relu_output_0".into(),
        },
        ..config
    };
    let err = visualize::run(&wrong).unwrap_err().to_string();
    assert!(err.contains(&flat.display().to_string()), "{err}");
}
