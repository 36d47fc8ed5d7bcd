//! Bad input to the explanation methods: each case gets a typed error whose
//! message says what is wrong and what would be right. None may panic.

mod common;

use common::{data, npz_f32, runtime};
use ndarray::{ArrayD, IxDyn};
use sensie::Error;
use sensie::engine::{Engine, EngineOptions, Score};
use sensie::explain::faithfulness::{self, CurveOptions};
use sensie::explain::{self, Baseline, MapKind, Options, Quadrature, TargetSpec, Targets};
use sensie::model::Model;

fn engine(path: std::path::PathBuf) -> Engine {
    Engine::new(
        runtime(),
        Model::load(path).unwrap(),
        EngineOptions {
            batch_size: 4,
            threads: 1,
        },
    )
    .unwrap()
}

fn mnist() -> (Engine, ArrayD<f32>) {
    let x = npz_f32(&data("explain/mnist.npz"), "x").unwrap();
    (engine(data("../../../../examples/mnist/mnist_cnn.onnx")), x)
}

/// Deletion and insertion curves, in 4 steps, of `gradient`'s maps of `x`.
fn gradient_curves(
    engine: &mut Engine,
    x: ndarray::ArrayViewD<f32>,
    targets: &Targets,
    gradient: &explain::Attribution,
) -> sensie::Result<faithfulness::Faithfulness> {
    let options = CurveOptions {
        steps: 4,
        fill: 0.0,
        blur_sigma: 1.0,
        seed: 0,
    };
    faithfulness::curves(
        engine,
        x,
        targets,
        &[("gradient", gradient, MapKind::Pixel)],
        options,
    )
}

fn attribute_err(engine: &mut Engine, x: &ArrayD<f32>, method: &str, options: &Options) -> Error {
    let targets = Targets {
        classes: vec![0; x.shape()[0]],
        score: Score::Logit,
    };
    match explain::build(method, options) {
        Err(e) => e,
        Ok(m) => m
            .attribute(engine, x.view(), &targets)
            .expect_err("the method must refuse"),
    }
}

#[test]
fn an_unknown_layer_lists_the_closest_names() {
    let (mut engine, x) = mnist();
    let options = Options {
        layer: Some("/relu2/Relu_output".into()),
        ..Options::default()
    };
    let err = attribute_err(&mut engine, &x, "gradcam", &options);
    assert!(matches!(err, Error::UnknownTensor { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("'/relu2/Relu_output'") && text.contains("closest: /relu2/Relu_output_0"),
        "{text}"
    );
}

/// The input and the weights are tensors of the model too, but no layer's
/// output: saying there is no such tensor would be wrong.
#[test]
fn the_input_or_a_weight_as_the_layer_is_named_for_what_it_is() {
    let (mut engine, x) = mnist();
    for (layer, what) in [
        ("input", "the model's input"),
        ("conv2.weight", "a weight of the model"),
    ] {
        let options = Options {
            layer: Some(layer.into()),
            ..Options::default()
        };
        let text = attribute_err(&mut engine, &x, "gradcam", &options).to_string();
        assert!(
            text.contains(&format!(
                "layer '{layer}': it is {what}, not a layer's output"
            )) && text.contains("(without --layer, /relu2/Relu_output_0)"),
            "{text}"
        );
    }
}

#[test]
fn a_layer_without_rows_and_columns_is_refused() {
    let (mut engine, x) = mnist();
    let options = Options {
        layer: Some("/fc1/Gemm_output_0".into()),
        ..Options::default()
    };
    let text = attribute_err(&mut engine, &x, "guided-gradcam", &options).to_string();
    assert!(text.contains("4-D") && text.contains("rank 2"), "{text}");
}

#[test]
fn cam_methods_need_a_convolutional_layer() {
    let mut engine = engine(data("explain/mlp.onnx"));
    let x = ArrayD::zeros(IxDyn(&[2, 1, 8, 8]));
    for method in ["gradcam", "gradcam-negative", "guided-gradcam"] {
        let err = attribute_err(&mut engine, &x, method, &Options::default());
        assert!(
            matches!(err, Error::UnsupportedModel { .. }),
            "{method}: {err:?}"
        );
        assert!(err.to_string().contains("no Conv node"), "{err}");
    }
    // Gradient methods work on it.
    let targets = Targets {
        classes: vec![1, 2],
        score: Score::Logit,
    };
    assert!(
        explain::build("saliency", &Options::default())
            .unwrap()
            .attribute(&mut engine, x.view(), &targets)
            .is_ok()
    );
}

#[test]
fn a_baseline_of_the_wrong_shape_is_refused() {
    let (mut engine, x) = mnist();
    let options = Options {
        baseline: Baseline::Array(ArrayD::zeros(IxDyn(&[1, 28, 27]))),
        ..Options::default()
    };
    let text = attribute_err(&mut engine, &x, "integrated-gradients", &options).to_string();
    assert!(
        text.contains("[1, 28, 27]") && text.contains("[1, 28, 28]"),
        "{text}"
    );
    // A NaN (or infinite) baseline value made the map NaN while the
    // completeness gap read 0%.
    for bad in [f32::NAN, f32::INFINITY] {
        let mut values = ArrayD::zeros(IxDyn(&[1, 28, 28]));
        values[[0, 3, 5]] = bad;
        let options = Options {
            baseline: Baseline::Array(values),
            ..Options::default()
        };
        let text = attribute_err(&mut engine, &x, "integrated-gradients", &options).to_string();
        assert!(
            text.contains("baseline") && text.contains("not finite") && text.contains("89"),
            "{text}"
        );
    }
}

#[test]
fn targets_out_of_range_or_missing_are_refused() {
    let (mut engine, x) = mnist();
    let text = Targets::resolve(
        &mut engine,
        x.view(),
        TargetSpec::Class(10),
        None,
        Score::Logit,
    )
    .unwrap_err()
    .to_string();
    assert!(
        text.contains("target class 10") && text.contains("0 to 9"),
        "{text}"
    );
    let text = Targets::resolve(&mut engine, x.view(), TargetSpec::Label, None, Score::Logit)
        .unwrap_err()
        .to_string();
    assert!(text.contains("no labels"), "{text}");
    let text = Targets::resolve(
        &mut engine,
        x.view(),
        TargetSpec::Label,
        Some(&[1, 2]),
        Score::Logit,
    )
    .unwrap_err()
    .to_string();
    assert!(text.contains("2 labels for 5 examples"), "{text}");
    let short = Targets {
        classes: vec![1],
        score: Score::Logit,
    };
    let text = explain::build("gradient", &Options::default())
        .unwrap()
        .attribute(&mut engine, x.view(), &short)
        .unwrap_err()
        .to_string();
    assert!(text.contains("1 targets for 5 examples"), "{text}");
}

#[test]
fn bad_method_names_and_parameters_are_refused() {
    let (mut engine, x) = mnist();
    let text = attribute_err(&mut engine, &x, "gradcamm", &Options::default()).to_string();
    assert!(
        text.contains("unknown method 'gradcamm' (did you mean 'gradcam'?)"),
        "{text}"
    );
    let text = attribute_err(
        &mut engine,
        &x,
        "occlusion",
        &Options {
            window: 29,
            ..Options::default()
        },
    )
    .to_string();
    assert!(text.contains("larger than the 28 x 28 image"), "{text}");
    let text = attribute_err(
        &mut engine,
        &x,
        "occlusion",
        &Options {
            stride: 0,
            ..Options::default()
        },
    )
    .to_string();
    assert!(text.contains("at least 1"), "{text}");
    let trapezoid = Options {
        steps: 1,
        quadrature: Quadrature::RiemannTrapezoid,
        ..Options::default()
    };
    let text = attribute_err(&mut engine, &x, "integrated-gradients", &trapezoid).to_string();
    assert!(
        text.contains("the riemann-trapezoid rule needs at least 2"),
        "{text}"
    );
    let text = attribute_err(
        &mut engine,
        &x,
        "smoothgrad",
        &Options {
            noise: -1.0,
            ..Options::default()
        },
    )
    .to_string();
    assert!(text.contains("noise -1"), "{text}");
}

/// Inputs that do not fit the model: every method, the curves and the
/// baselines refuse them with the model's expected shape.
#[test]
fn inputs_of_the_wrong_shape_are_refused_by_every_method() {
    let (mut engine, x) = mnist();
    let wrong = ArrayD::<f32>::zeros(IxDyn(&[2, 1, 27, 28]));
    for &method in explain::METHODS {
        let text = attribute_err(&mut engine, &wrong, method, &Options::default()).to_string();
        assert!(
            text.contains("[2, 1, 27, 28]") && text.contains("[N, 1, 28, 28]"),
            "{method}: {text}"
        );
    }
    let targets = Targets {
        classes: vec![0, 0],
        score: Score::Logit,
    };
    let gradient = explain::build("gradient", &Options::default())
        .unwrap()
        .attribute(
            &mut engine,
            x.view(),
            &Targets {
                classes: vec![0; 5],
                score: Score::Logit,
            },
        )
        .unwrap();
    let curves = gradient_curves(&mut engine, wrong.view(), &targets, &gradient);
    assert!(curves.unwrap_err().to_string().contains("[N, 1, 28, 28]"));
    let text = Baseline::Blur { sigma: 1.0 }
        .for_inputs(&engine, wrong.view())
        .unwrap_err()
        .to_string();
    assert!(text.contains("[N, 1, 28, 28]"), "{text}");
}

#[test]
fn amounts_of_work_past_the_limits_are_refused_by_the_library() {
    // The CLI's argument parser capped these; the Python package passed any
    // value on, and --blur-sigma 1e9 asked for a 64 GB kernel.
    use sensie::limits::{MAX_SIGMA, MAX_STEPS};
    let cases = [
        (
            "integrated-gradients",
            Options {
                steps: MAX_STEPS + 1,
                ..Options::default()
            },
            "integration steps",
        ),
        (
            "smoothgrad",
            Options {
                samples: MAX_STEPS + 1,
                ..Options::default()
            },
            "SmoothGrad samples",
        ),
        (
            "blur-saliency",
            Options {
                blur_sigma: 1e9,
                ..Options::default()
            },
            "blur sigma",
        ),
    ];
    for (method, options, what) in cases {
        let err = explain::build(method, &options).err().unwrap().to_string();
        assert!(
            err.contains(what) && err.contains("at most"),
            "{method}: {err}"
        );
    }
    let at_limit = Options {
        blur_sigma: MAX_SIGMA,
        ..Options::default()
    };
    assert!(explain::build("blur-saliency", &at_limit).is_ok());
}

#[test]
fn a_model_with_one_score_per_example_is_not_explained_through_a_softmax() {
    // The Einstein-radius regressor: a softmax over its one output is
    // always 1, so probability maps were all 0 and every deletion and
    // insertion area (random's too) was 1.
    let x = npz_f32(&data("../../../../examples/lens/data/test.npz"), "x").unwrap();
    let x = x.slice_axis(ndarray::Axis(0), (0..3).into()).to_owned();
    let mut engine = engine(data("../../../../examples/lens/einstein_radius.onnx"));
    let err = Targets::resolve(
        &mut engine,
        x.view(),
        TargetSpec::Class(0),
        None,
        Score::Probability,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("one score per example"), "{err}");
    let targets = Targets::resolve(
        &mut engine,
        x.view(),
        TargetSpec::Class(0),
        None,
        Score::Logit,
    )
    .unwrap();
    let gradient = explain::build("gradient", &Options::default())
        .unwrap()
        .attribute(&mut engine, x.view(), &targets)
        .unwrap();
    let curves = gradient_curves(&mut engine, x.view(), &targets, &gradient).unwrap();
    assert_eq!(curves.score, "logit");
    // Nothing deleted yet: the curve starts at the model's mean output.
    let outputs = engine.scores(x.view(), &Score::Logit).unwrap();
    let mean = outputs.column(0).iter().map(|&v| f64::from(v)).sum::<f64>() / 3.0;
    let start = curves.methods[0].deletion.mean[0];
    assert!(
        (start - mean).abs() < 1e-5 && (start - 1.0).abs() > 0.01,
        "{start} {mean}"
    );
}
