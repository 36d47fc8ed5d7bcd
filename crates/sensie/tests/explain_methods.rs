//! What the explanation methods promise beyond matching Captum: SmoothGrad's
//! limits and seeding, results independent of batching, targets, the
//! probability score, baselines, NHWC layouts, and the sanity and
//! faithfulness checks. References are named per test; where none is
//! external, the property itself is the reference.

mod common;

use common::{assert_close, data, npz_f32, npz_i64, runtime};
use ndarray::{ArrayD, Axis, Slice};
use sensie::engine::{Engine, EngineOptions, Score};
use sensie::explain::faithfulness::{self, CurveOptions};
use sensie::explain::figures::{self, Drawing};
use sensie::explain::{self, Baseline, MapKind, Options, TargetSpec, Targets, sanity};
use sensie::model::Model;

fn mnist_engine(batch_size: usize) -> Engine {
    let model = Model::load(data("../../../../examples/mnist/mnist_cnn.onnx")).unwrap();
    Engine::new(
        runtime(),
        model,
        EngineOptions {
            batch_size,
            threads: 1,
        },
    )
    .unwrap()
}

/// The five Captum fixture digits and their labels.
fn digits() -> (ArrayD<f32>, Vec<usize>) {
    let npz = data("explain/mnist.npz");
    let x = npz_f32(&npz, "x").unwrap();
    let labels = npz_i64(&npz, "target")
        .unwrap()
        .iter()
        .map(|&t| t as usize)
        .collect();
    (x, labels)
}

fn run(
    engine: &mut Engine,
    method: &str,
    options: &Options,
    x: &ArrayD<f32>,
    targets: &Targets,
) -> ArrayD<f32> {
    explain::build(method, options)
        .unwrap()
        .attribute(engine, x.view(), targets)
        .unwrap()
        .map
}

fn logit_targets(classes: Vec<usize>) -> Targets {
    Targets {
        classes,
        score: Score::Logit,
    }
}

/// The engine fixture `nhwc_tf2onnx` (3-band 32 x 32 NHWC inputs): its
/// engine, reference file, inputs and targets.
fn nhwc() -> (Engine, std::path::PathBuf, ArrayD<f32>, Targets) {
    let dir = data("engine/nhwc_tf2onnx");
    let engine = Engine::new(
        runtime(),
        Model::load(dir.join("model.onnx")).unwrap(),
        EngineOptions {
            batch_size: 8,
            threads: 1,
        },
    )
    .unwrap();
    let npz = dir.join("reference.npz");
    let x = npz_f32(&npz, "x").unwrap();
    let targets = logit_targets(
        npz_i64(&npz, "target")
            .unwrap()
            .iter()
            .map(|&t| t as usize)
            .collect(),
    );
    (engine, npz, x, targets)
}

/// With no noise every sample is the input: SmoothGrad is the gradient, its
/// squared variant the squared gradient, its variance zero.
#[test]
fn smoothgrad_without_noise_is_the_gradient() {
    let mut engine = mnist_engine(4);
    let (x, labels) = digits();
    let targets = logit_targets(labels);
    let options = Options {
        noise: 0.0,
        samples: 3,
        ..Options::default()
    };
    let gradient = run(&mut engine, "gradient", &options, &x, &targets);
    assert_close(
        "smoothgrad, no noise",
        &run(&mut engine, "smoothgrad", &options, &x, &targets),
        &gradient,
        1e-6,
    );
    assert_close(
        "smoothgrad-squared, no noise",
        &run(&mut engine, "smoothgrad-squared", &options, &x, &targets),
        &gradient.mapv(|g| g * g),
        1e-6,
    );
    let variance = run(&mut engine, "smoothgrad-variance", &options, &x, &targets);
    assert!(
        variance.iter().all(|v| v.abs() < 1e-9),
        "variance without noise"
    );
}

/// An example's map depends on the example and the seed, not on the batch
/// size or on the other examples explained with it: IG's steps, SmoothGrad's
/// samples and occlusion's windows are cut into batches differently here.
#[test]
fn maps_do_not_depend_on_batching() {
    let (x, labels) = digits();
    let options = Options {
        samples: 5,
        steps: 7,
        ..Options::default()
    };
    let one = x.slice_axis(Axis(0), Slice::from(2..3)).to_owned();
    for method in ["smoothgrad", "integrated-gradients", "occlusion", "gradcam"] {
        let all = run(
            &mut mnist_engine(3),
            method,
            &options,
            &x,
            &logit_targets(labels.clone()),
        );
        let alone = run(
            &mut mnist_engine(8),
            method,
            &options,
            &one,
            &logit_targets(vec![labels[2]]),
        );
        let from_all = all.slice_axis(Axis(0), Slice::from(2..3)).to_owned();
        assert_close(
            &format!("{method}: example 2 in a batch of 5 vs alone"),
            &alone,
            &from_all,
            1e-5,
        );
    }
    let seeded = |seed| {
        run(
            &mut mnist_engine(4),
            "smoothgrad",
            &Options {
                samples: 3,
                seed,
                ..Options::default()
            },
            &one,
            &logit_targets(vec![labels[2]]),
        )
    };
    assert_ne!(seeded(1), seeded(2), "another seed gives other noise");
}

/// The probability score: the gradient of softmax(logits)[target] equals
/// PyTorch autograd's (the engine fixture `mnist_cnn`, targets 1, 3, 7).
#[test]
fn the_probability_score_matches_pytorch() {
    let npz = data("engine/mnist_cnn/reference.npz");
    let x = npz_f32(&npz, "x").unwrap();
    let classes = npz_i64(&npz, "target")
        .unwrap()
        .iter()
        .map(|&t| t as usize)
        .collect();
    let targets = Targets {
        classes,
        score: Score::Probability,
    };
    let got = run(
        &mut mnist_engine(2),
        "gradient",
        &Options::default(),
        &x,
        &targets,
    );
    assert_close(
        "d probability / d input",
        &got,
        &npz_f32(&npz, "grad_input_prob").unwrap(),
        1e-4,
    );
}

#[test]
fn targets_resolve_to_labels_predictions_or_one_class() {
    let mut engine = mnist_engine(4);
    let (x, labels) = digits();
    let resolve = |engine: &mut Engine, spec, labels: Option<&[usize]>| {
        Targets::resolve(engine, x.view(), spec, labels, Score::Logit)
    };
    assert_eq!(
        resolve(&mut engine, TargetSpec::Label, Some(&labels))
            .unwrap()
            .classes,
        labels
    );
    // The fixture's logits: digit 13 (the last) is misclassified.
    let logits = npz_f32(&data("explain/mnist.npz"), "logits").unwrap();
    let argmax: Vec<usize> = logits
        .outer_iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0
        })
        .collect();
    let predicted = resolve(&mut engine, TargetSpec::Predicted, None)
        .unwrap()
        .classes;
    assert_eq!(predicted, argmax);
    assert_ne!(predicted[4], labels[4]);
    assert_eq!(
        resolve(&mut engine, TargetSpec::Class(3), None)
            .unwrap()
            .classes,
        vec![3; 5]
    );
    assert_eq!(
        "predicted".parse::<TargetSpec>().unwrap(),
        TargetSpec::Predicted
    );
    assert_eq!("7".parse::<TargetSpec>().unwrap(), TargetSpec::Class(7));
}

/// Blurred and noise baselines: the completeness gap stays below 1% of the
/// score change (at 50 steps from the blur; at 128 from noise, whose path
/// crosses far more ReLU kinks), and the blur keeps each image's total
/// (flux).
#[test]
fn integrated_gradients_is_complete_from_blur_and_noise_baselines() {
    let mut engine = mnist_engine(32);
    let (x, labels) = digits();
    let targets = logit_targets(labels);
    let blur = Baseline::Blur { sigma: 2.8 };
    let blurred = blur.for_inputs(&engine, x.view()).unwrap();
    for (b, xi) in blurred.outer_iter().zip(x.outer_iter()) {
        assert!(
            (b.sum() - xi.sum()).abs() < 1e-3 * xi.sum(),
            "blur keeps the flux"
        );
        assert!(
            (&b - &xi).mapv(f32::abs).sum() > 0.1 * xi.sum(),
            "blur changes the image"
        );
    }
    for (baseline, steps) in [(blur, 50), (Baseline::Noise { seed: 4 }, 128)] {
        let options = Options {
            baseline: baseline.clone(),
            steps,
            ..Options::default()
        };
        let ig = explain::build("integrated-gradients", &options)
            .unwrap()
            .attribute(&mut engine, x.view(), &targets)
            .unwrap();
        let c = ig.completeness.unwrap();
        for (gap, change) in c.gap.iter().zip(&c.score_change) {
            assert!(
                gap.abs() < 0.01 * change.abs(),
                "{baseline:?}: gap {gap} of {change}"
            );
        }
    }
}

/// An NHWC model gets maps in its own layout: saliency N x H x W x 1,
/// occlusion equal over the channels, gradient equal to PyTorch's
/// (the engine fixture `nhwc_tf2onnx`); the curves take both kinds of map.
#[test]
fn nhwc_models_get_maps_in_their_own_layout() {
    let (mut engine, npz, x, targets) = nhwc();
    let options = Options {
        window: 8,
        stride: 8,
        ..Options::default()
    };
    assert_close(
        "NHWC gradient",
        &run(&mut engine, "gradient", &options, &x, &targets),
        &npz_f32(&npz, "grad_input").unwrap(),
        1e-4,
    );
    let saliency = explain::build("saliency", &options)
        .unwrap()
        .attribute(&mut engine, x.view(), &targets)
        .unwrap();
    assert_eq!(saliency.map.shape(), &[3, 32, 32, 1]);
    let occluded = explain::build("occlusion", &options)
        .unwrap()
        .attribute(&mut engine, x.view(), &targets)
        .unwrap();
    let maps = [
        ("saliency", &saliency, MapKind::Pixel),
        ("occlusion", &occluded, MapKind::Pixel),
    ];
    let curves = faithfulness::curves(
        &mut engine,
        x.view(),
        &targets,
        &maps,
        CurveOptions {
            steps: 4,
            fill: 0.0,
            blur_sigma: 2.0,
            seed: 0,
        },
    )
    .unwrap();
    assert_eq!(curves.methods.len(), 3);
    let occlusion = occluded.map;
    assert_eq!(occlusion.shape(), x.shape());
    for pixel in occlusion.lanes(Axis(3)) {
        assert!(
            pixel.iter().all(|&v| v == pixel[0]),
            "one value over the channels"
        );
    }
    assert_eq!(
        run(&mut engine, "guided-gradcam", &options, &x, &targets).shape(),
        x.shape()
    );
}

/// The cascading randomisation on MNIST: layers top first, the gradient
/// decorrelates from the trained model's (Adebayo et al.'s finding), and
/// gradient x input on these digits stays correlated through its zero
/// background (the paper's caveat about input-dominated maps).
#[test]
fn sanity_check_randomises_layers_top_down() {
    let mut engine = mnist_engine(8);
    let (x, labels) = digits();
    let targets = logit_targets(labels);
    let methods: Vec<_> = ["gradient", "gradient-x-input", "gradcam"]
        .iter()
        .map(|m| explain::build(m, &Options::default()).unwrap())
        .collect();
    let originals: Vec<_> = methods
        .iter()
        .map(|m| m.attribute(&mut engine, x.view(), &targets).unwrap())
        .collect();
    let report =
        sanity::cascading_randomisation(&engine, x.view(), &targets, &methods, &originals, 0)
            .unwrap();
    assert_eq!(
        report.layers,
        ["/fc2/Gemm", "/fc1/Gemm", "/conv2/Conv", "/conv1/Conv"]
    );
    for m in &report.methods {
        assert_eq!(m.spearman.len(), 4);
        assert!(
            m.spearman
                .iter()
                .flatten()
                .flatten()
                .all(|r| (-1.0..=1.0).contains(r)),
            "{}",
            m.method
        );
        eprintln!("{}: {:?}", m.method, m.mean_spearman_abs);
    }
    let last = |i: usize| report.methods[i].mean_spearman_abs[3].unwrap();
    assert!(
        last(0) < 0.5,
        "gradient after randomising every layer: {}",
        last(0)
    );
    assert!(
        last(1) > 0.9,
        "gradient x input after randomising every layer: {}",
        last(1)
    );
    // The trained model is untouched.
    assert_eq!(
        methods[0]
            .attribute(&mut engine, x.view(), &targets)
            .unwrap()
            .map,
        originals[0].map
    );
}

/// Deletion and insertion: occlusion's map beats a random ranking on both
/// curves; the curves start (deletion) and end (insertion) at the input's
/// own probability.
#[test]
fn faithfulness_curves_rank_a_good_map_above_random() {
    let mut engine = mnist_engine(32);
    let (x, labels) = digits();
    let targets = logit_targets(labels);
    let occlusion = explain::build("occlusion", &Options::default())
        .unwrap()
        .attribute(&mut engine, x.view(), &targets)
        .unwrap();
    let options = CurveOptions {
        steps: 10,
        fill: 0.0,
        blur_sigma: 2.8,
        seed: 0,
    };
    let report = faithfulness::curves(
        &mut engine,
        x.view(),
        &targets,
        &[("occlusion", &occlusion, MapKind::Pixel)],
        options,
    )
    .unwrap();
    assert_eq!(report.fractions.len(), 11);
    assert_eq!((report.fractions[0], report.fractions[10]), (0.0, 1.0));
    let (ours, random) = (&report.methods[0], &report.methods[1]);
    assert_eq!(random.method, "random");
    assert!(
        ours.deletion.mean_auc < random.deletion.mean_auc,
        "{} vs {}",
        ours.deletion.mean_auc,
        random.deletion.mean_auc
    );
    assert!(
        ours.insertion.mean_auc > random.insertion.mean_auc,
        "{} vs {}",
        ours.insertion.mean_auc,
        random.insertion.mean_auc
    );
    let probs = engine.scores(x.view(), &Score::Probability).unwrap();
    let mean_p: f64 = (0..5)
        .map(|e| probs[[e, targets.classes[e]]] as f64)
        .sum::<f64>()
        / 5.0;
    assert!(
        (ours.deletion.mean[0] - mean_p).abs() < 1e-6
            && (ours.insertion.mean[10] - mean_p).abs() < 1e-6
    );
}

/// Pictures of a 3-band NHWC input: one colour composite per example beside
/// its map and overlay; a shared scale is one scale for all examples, an
/// unshared one each map's own.
#[test]
fn pictures_of_multiband_inputs_with_shared_or_own_scales() {
    let (mut engine, _, x, targets) = nhwc();
    let ig = explain::build(
        "integrated-gradients",
        &Options {
            steps: 8,
            ..Options::default()
        },
    )
    .unwrap()
    .attribute(&mut engine, x.view(), &targets)
    .unwrap();
    let geometry = explain::Geometry::of(engine.model(), "pictures").unwrap();
    assert_eq!(
        (geometry.channels, geometry.height, geometry.width),
        (3, 32, 32)
    );
    let asinh = Drawing {
        stretch: "asinh".parse().unwrap(),
        shared_scale: true,
    };
    // The pictures show N x C x H x W images: the NHWC inputs transposed.
    let images = x
        .view()
        .into_dimensionality::<ndarray::Ix4>()
        .unwrap()
        .permuted_axes([0, 3, 1, 2]);
    let shared = figures::example_pictures(
        "integrated-gradients",
        &geometry,
        images,
        &ig,
        MapKind::Pixel,
        &asinh,
    )
    .unwrap();
    assert_eq!(shared.len(), 3);
    assert!(shared.iter().all(|(_, s)| *s == shared[0].1), "one scale");
    let (picture, _) = &shared[0];
    // A band of 23 pixels with the panels' headings (where a font is
    // installed, as for the PNG charts), three 32-pixel tiles enlarged 7
    // times (to at least 224), 2 pixels of padding around and between, then
    // a gap of 4 and a colour bar 14 high.
    let band = if sensie::testing::fonts_available() {
        23
    } else {
        0
    };
    assert_eq!(
        picture.dimensions(),
        (3 * 224 + 4 * 2, band + 224 + 2 * 2 + 4 + 14)
    );
    // The headings are drawn: dark text over each panel, on white.
    for panel in 0..3u32 {
        let dark = (panel * 226 + 2..panel * 226 + 226)
            .flat_map(|x| (0..band).map(move |y| (x, y)))
            .filter(|&(x, y)| picture.get_pixel(x, y).0[0] < 128)
            .count();
        assert!(band == 0 || dark > 20, "panel {panel}: {dark} dark pixels");
    }
    // The colour bar runs from the scale's low end (blue, negative) to its high end (red).
    let bar_y = picture.height() - 7;
    let (left, right) = (
        picture.get_pixel(0, bar_y),
        picture.get_pixel(picture.width() - 1, bar_y),
    );
    assert!(
        left[2] > left[0] && right[0] > right[2],
        "{left:?} {right:?}"
    );
    let own = figures::example_pictures(
        "integrated-gradients",
        &geometry,
        images,
        &ig,
        MapKind::Pixel,
        &Drawing::default(),
    )
    .unwrap();
    assert!(
        own.iter().any(|(_, s)| *s != own[0].1),
        "each map's own scale"
    );
    // The composite is in colour: some pixel of the input tile has unequal channels.
    assert!(
        picture
            .enumerate_pixels()
            .filter(|(x, _, _)| *x < 130)
            .any(|(_, _, p)| p[0] != p[1] || p[1] != p[2])
    );
}

/// `explain::run` is `sensie explain` as a value: the examples chosen from
/// the data file, maps that keep Integrated Gradients' completeness
/// (attributions sum to f(x) - f(0), Sundararajan et al. 2017), the checks
/// asked for, and nothing written.
#[test]
fn an_explain_run_is_a_value_of_the_chosen_examples() {
    use sensie::data::DataSpec;
    use sensie::explain::run::{ExplainConfig, Settings};

    let mnist = data("../../../../examples/mnist");
    let config = ExplainConfig {
        model: mnist.join("mnist_cnn.onnx"),
        data: DataSpec {
            path: mnist.join("data/test_x.npy"),
            labels: Some(mnist.join("data/test_y.npy")),
            ..DataSpec::default()
        },
        indices: Some(vec![7, 3]),
        settings: Settings {
            methods: vec!["integrated-gradients".into(), "saliency".into()],
            steps: 64,
            faithfulness: true,
            curve_steps: 4,
            ..Settings::default()
        },
        ..ExplainConfig::default()
    };
    let run = explain::run(&config).unwrap();
    assert_eq!(run.summary.examples, [7, 3]);
    assert_eq!(run.summary.target, "label");
    assert_eq!(run.summary.methods.len(), 2);
    assert!(run.sanity.is_none());
    assert_eq!(run.faithfulness.as_ref().unwrap().fractions.len(), 5);
    assert_eq!(run.display.dim(), (2, 1, 28, 28));

    let x: ArrayD<f32> = sensie::data::read_array(&config.data.path).unwrap();
    let chosen = x.select(Axis(0), &[7, 3]);
    let mut engine = mnist_engine(8);
    let logits = engine.predict(chosen.view()).unwrap();
    let zeros = engine
        .predict(ArrayD::zeros(chosen.raw_dim()).view())
        .unwrap();
    let ig = &run.attributions[0].map;
    for (i, &k) in run.summary.targets.iter().enumerate() {
        let sum: f32 = ig.index_axis(Axis(0), i).sum();
        let change = logits[[i, k]] - zeros[[i, k]];
        assert!(
            (sum - change).abs() < 0.02 * change.abs(),
            "example {i}: {sum} vs {change}"
        );
    }

    // The run serialises as plain data: explain.json's summary, each
    // method's maps as shape and values, the checks, the geometry.
    let json = serde_json::to_value(&run).unwrap();
    assert_eq!(json["summary"]["examples"], serde_json::json!([7, 3]));
    assert_eq!(json["summary"]["target"], "label");
    let map = &json["attributions"][0]["map"];
    assert_eq!(map["dim"], serde_json::json!([2, 1, 28, 28]));
    let values = map["data"].as_array().unwrap();
    assert_eq!(values.len(), 2 * 28 * 28);
    for (value, &expected) in values.iter().zip(ig.iter()).step_by(97) {
        assert_eq!(value.as_f64().unwrap() as f32, expected);
    }
    let gap = &json["attributions"][0]["completeness"]["gap"];
    assert_eq!(gap.as_array().unwrap().len(), 2, "{gap}");
    assert!(
        json["attributions"][1]["completeness"].is_null(),
        "saliency"
    );
    assert!(json["sanity"].is_null());
    assert_eq!(
        json["faithfulness"]["fractions"].as_array().unwrap().len(),
        5
    );
    assert_eq!(json["display"]["dim"], serde_json::json!([2, 1, 28, 28]));
    assert_eq!(
        json["geometry"],
        serde_json::json!({"layout": "NCHW", "channels": 1, "height": 28, "width": 28})
    );
    assert!(json["notes"].is_array());
}
