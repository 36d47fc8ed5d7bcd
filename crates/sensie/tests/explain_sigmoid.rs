//! A binary classifier with one sigmoid output, explained for both of its
//! classes against analytic references: `p = sigmoid(z)`, `z = w . x + b`
//! ([`sensie::testing::sigmoid_unit`]). Class 1's logit is `z`, class 0's
//! `-z` (the logit of `1 - p`), so every map of class 0 is class 1's
//! negated: the gradient of the logit is `w` and `-w`, of the probability
//! `w p (1 - p)` and its negation. Before, class 1 was refused ("1
//! classes") and class 0 was explained through `z`, i.e. as class 1.

mod common;

use common::runtime;
use ndarray::{Array1, ArrayD, Axis, IxDyn};
use sensie::engine::{Engine, EngineOptions, Score};
use sensie::explain::faithfulness::{self, CurveOptions};
use sensie::explain::{self, MapKind, Options, TargetSpec, Targets};
use sensie::model::{Model, OutputKind};
use sensie::visualize::{self, MaximizeOptions, Target, ValueRange};

const SIDE: usize = 4;
const BIAS: f32 = 0.25;

/// The weights: positive on the left half, negative on the right, all distinct.
fn weights() -> Vec<f32> {
    (0..SIDE * SIDE)
        .map(|i| {
            let (r, c) = (i / SIDE, i % SIDE);
            let sign = if c < SIDE / 2 { 1.0 } else { -1.0 };
            sign * (0.5 + 0.1 * r as f32 + 0.05 * c as f32)
        })
        .collect()
}

/// The model (bias `bias`) saved in `dir`, loaded into an engine.
fn sigmoid_engine(dir: &std::path::Path, bias: f32, squeezed: bool) -> Engine {
    let path = dir.join(format!("sigmoid_{bias}_{squeezed}.onnx"));
    let proto = sensie::testing::sigmoid_unit(SIDE, SIDE, &weights(), bias, squeezed);
    std::fs::write(&path, sensie::testing::onnx::encode_model(&proto)).unwrap();
    let model = Model::load(&path).unwrap();
    assert_eq!(model.info().output_kind, OutputKind::Sigmoid);
    Engine::new(runtime(), model, EngineOptions::default()).unwrap()
}

/// Three images: bright on the left (z > 0), bright on the right (z < 0),
/// and a dim uneven one.
fn inputs() -> ArrayD<f32> {
    ArrayD::from_shape_fn(IxDyn(&[3, 1, SIDE, SIDE]), |ix| {
        let (e, r, c) = (ix[0], ix[2], ix[3]);
        let left = c < SIDE / 2;
        match e {
            0 => (if left { 0.9 } else { 0.1 }) + 0.01 * r as f32,
            1 => (if left { 0.1 } else { 0.8 }) + 0.02 * c as f32,
            _ => 0.05 * (r * SIDE + c) as f32 / 4.0,
        }
    })
}

/// `z = w . x + b` per example, in f64.
fn logits(x: &ArrayD<f32>, bias: f32) -> Vec<f64> {
    let w = weights();
    x.outer_iter()
        .map(|e| {
            e.iter()
                .zip(&w)
                .map(|(&v, &w)| f64::from(v) * f64::from(w))
                .sum::<f64>()
                + f64::from(bias)
        })
        .collect()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `f(example, pixel)` as a map shaped like `x`.
fn per_pixel(x: &ArrayD<f32>, f: impl Fn(usize, usize) -> f64) -> ArrayD<f32> {
    ArrayD::from_shape_fn(x.raw_dim(), |ix| f(ix[0], ix[2] * SIDE + ix[3]) as f32)
}

fn largest_difference(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(p, q)| f64::from((p - q).abs()))
        .fold(0.0, f64::max)
}

fn attribute(
    engine: &mut Engine,
    method: &str,
    options: &Options,
    targets: &Targets,
) -> explain::Attribution {
    explain::build(method, options)
        .unwrap()
        .attribute(engine, inputs().view(), targets)
        .unwrap()
}

fn resolve(engine: &mut Engine, spec: TargetSpec, score: Score) -> Targets {
    Targets::resolve(engine, inputs().view(), spec, None, score).unwrap()
}

/// Class 1's score is `sign` = 1 times the unit's, class 0's -1 times.
fn sign(class: usize) -> f64 {
    if class == 1 { 1.0 } else { -1.0 }
}

#[test]
fn gradients_of_class_1_are_the_units_and_of_class_0_their_negation() {
    let dir = tempfile::tempdir().unwrap();
    let x = inputs();
    let w = weights();
    for squeezed in [false, true] {
        let mut engine = sigmoid_engine(dir.path(), BIAS, squeezed);
        for class in [0, 1] {
            // d(+-z)/dx = +-w: exact up to float32 rounding of one product.
            let targets = resolve(&mut engine, TargetSpec::Class(class), Score::Logit);
            let got = attribute(&mut engine, "gradient", &Options::default(), &targets).map;
            let want = per_pixel(&x, |_, i| sign(class) * f64::from(w[i]));
            assert!(
                largest_difference(&got, &want) < 1e-6,
                "logit, class {class}, squeezed {squeezed}: {got} vs {want}"
            );
            // d(p or 1 - p)/dx = +-w p (1 - p).
            let targets = resolve(&mut engine, TargetSpec::Class(class), Score::Probability);
            let got = attribute(&mut engine, "gradient", &Options::default(), &targets).map;
            let p: Vec<f64> = logits(&x, BIAS).into_iter().map(sigmoid).collect();
            let want = per_pixel(&x, |e, i| {
                sign(class) * f64::from(w[i]) * p[e] * (1.0 - p[e])
            });
            assert!(
                largest_difference(&got, &want) < 1e-6,
                "probability, class {class}, squeezed {squeezed}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn the_predicted_class_is_1_from_probability_one_half() {
    let dir = tempfile::tempdir().unwrap();
    // Bias 0: the blank image has z = 0 exactly, p = 0.5, which probe
    // counts as class 1.
    let mut engine = sigmoid_engine(dir.path(), 0.0, false);
    let mut x = inputs();
    x.index_axis_mut(Axis(0), 2).fill(0.0);
    let z = logits(&x, 0.0);
    assert!(z[0] > 0.0 && z[1] < 0.0 && z[2] == 0.0, "{z:?}");
    for score in [Score::Logit, Score::Probability] {
        let targets = Targets::resolve(
            &mut engine,
            x.view(),
            TargetSpec::Predicted,
            None,
            score.clone(),
        )
        .unwrap();
        assert_eq!(targets.classes, vec![1, 0, 1], "{score:?}");
    }
}

#[test]
fn classes_past_1_are_refused_and_a_one_output_regressor_keeps_class_0_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = sigmoid_engine(dir.path(), BIAS, false);
    let x = inputs();
    let err = Targets::resolve(
        &mut engine,
        x.view(),
        TargetSpec::Class(2),
        None,
        Score::Logit,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("target class 2 (example 0)")
            && err.contains("one sigmoid output")
            && err.contains("class 0 or 1"),
        "{err}"
    );
    let labels = [1, 0, 3];
    let err = Targets::resolve(
        &mut engine,
        x.view(),
        TargetSpec::Label,
        Some(&labels),
        Score::Logit,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("target class 3 (example 2)"), "{err}");

    // The same graph read as a regressor (output kind logits): one score,
    // class 0 only, and no probability of it.
    let mut model = Model::load(dir.path().join(format!("sigmoid_{BIAS}_false.onnx"))).unwrap();
    model.set_output_kind(OutputKind::Logits);
    let mut regressor = Engine::new(runtime(), model, EngineOptions::default()).unwrap();
    let err = Targets::resolve(
        &mut regressor,
        x.view(),
        TargetSpec::Class(1),
        None,
        Score::Logit,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("the model has 1 classes (0 to 0)"), "{err}");
    let predicted = Targets::resolve(
        &mut regressor,
        x.view(),
        TargetSpec::Predicted,
        None,
        Score::Logit,
    )
    .unwrap();
    assert_eq!(predicted.classes, vec![0, 0, 0]);
    assert!(
        Targets::resolve(
            &mut regressor,
            x.view(),
            TargetSpec::Class(0),
            None,
            Score::Probability
        )
        .is_err()
    );
}

#[test]
fn integrated_gradients_occlusion_gradcam_and_lrp_read_class_0_as_the_complement() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = sigmoid_engine(dir.path(), BIAS, false);
    let x = inputs();
    let w = weights();
    let xs = x.as_slice().unwrap();
    let z = logits(&x, BIAS);
    let options = Options {
        window: 2,
        stride: 2,
        ..Options::default()
    };
    let mean_w = w.iter().map(|&v| f64::from(v)).sum::<f64>() / w.len() as f64;
    for class in [0, 1] {
        let s = sign(class);
        let targets = resolve(&mut engine, TargetSpec::Class(class), Score::Logit);

        // Integrated Gradients from a zero baseline on a linear score: exactly
        // +-w x, summing to score(x) - score(0) = +-(z - b).
        let ig = attribute(&mut engine, "integrated-gradients", &options, &targets);
        let want = per_pixel(&x, |e, i| {
            s * f64::from(w[i]) * f64::from(xs[e * SIDE * SIDE + i])
        });
        assert!(
            largest_difference(&ig.map, &want) < 1e-6,
            "IG class {class}"
        );
        let completeness = ig.completeness.unwrap();
        for (e, z) in z.iter().enumerate() {
            let change = s * (z - f64::from(BIAS));
            assert!(
                (f64::from(completeness.score_change[e]) - change).abs() < 1e-5
                    && f64::from(completeness.gap[e]).abs() < 1e-5,
                "IG class {class} example {e}: {completeness:?} vs {change}"
            );
        }

        // Occlusion, 2 x 2 windows at stride 2 filled with 0: each pixel is
        // in one window, whose removal drops the score by +-sum(w x) over it.
        let occlusion = attribute(&mut engine, "occlusion", &options, &targets).map;
        let want = per_pixel(&x, |e, i| {
            let (r0, c0) = (i / SIDE / 2 * 2, i % SIDE / 2 * 2);
            let window: f64 = (r0..r0 + 2)
                .flat_map(|r| (c0..c0 + 2).map(move |c| r * SIDE + c))
                .map(|j| f64::from(w[j]) * f64::from(xs[e * SIDE * SIDE + j]))
                .sum();
            s * window
        });
        assert!(
            largest_difference(&occlusion, &want) < 1e-5,
            "occlusion class {class}: {occlusion} vs {want}"
        );

        // Grad-CAM on the 1 x 1 Conv's output (x itself, one channel): its
        // weight is the mean gradient +-mean(w), so the map is relu(+-mean(w) x).
        let cam = attribute(&mut engine, "gradcam", &options, &targets).map;
        let want = ArrayD::from_shape_fn(IxDyn(&[3, SIDE, SIDE]), |ix| {
            (s * mean_w * f64::from(x[[ix[0], 0, ix[1], ix[2]]])).max(0.0) as f32
        });
        assert!(
            largest_difference(&cam, &want) < 1e-6,
            "Grad-CAM class {class}"
        );

        // Epsilon-LRP on a linear score: relevance +-w x, conserving
        // (z - b) / z of it; the stabiliser 1e-6, over the 1 x 1 Conv's
        // inputs down to 0.0125, moves a pixel's share by up to 1e-4 relative.
        let lrp = attribute(&mut engine, "lrp", &options, &targets);
        let want = per_pixel(&x, |e, i| {
            s * f64::from(w[i]) * f64::from(xs[e * SIDE * SIDE + i])
        });
        common::assert_close(&format!("LRP class {class}"), &lrp.map, &want, 1e-4);
        for (e, ratio) in lrp.conservation.unwrap().into_iter().enumerate() {
            let want = (z[e] - f64::from(BIAS)) / z[e];
            assert!(
                (f64::from(ratio) - want).abs() < 1e-4 * want.abs(),
                "LRP class {class} example {e}: {ratio} vs {want}"
            );
        }
    }
}

#[test]
fn the_curves_follow_class_0_on_one_minus_p() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = sigmoid_engine(dir.path(), BIAS, false);
    let x = inputs();
    let p: Vec<f64> = logits(&x, BIAS).into_iter().map(sigmoid).collect();
    let options = CurveOptions {
        steps: 4,
        fill: 0.0,
        blur_sigma: 1.0,
        seed: 0,
    };
    for class in [0, 1] {
        let targets = resolve(&mut engine, TargetSpec::Class(class), Score::Logit);
        let gradient = attribute(&mut engine, "gradient", &Options::default(), &targets);
        let curves = faithfulness::curves(
            &mut engine,
            x.view(),
            &targets,
            &[("gradient", &gradient, MapKind::Pixel)],
            options,
        )
        .unwrap();
        assert_eq!(curves.score, "probability");
        let deletion = &curves.methods[0].deletion.mean;
        // Nothing deleted: the class's probability; all deleted (a blank
        // image, z = b): sigmoid(b) for class 1, 1 - sigmoid(b) for class 0.
        let of_class = |q: f64| if class == 1 { q } else { 1.0 - q };
        let start = Array1::from(p.clone()).mapv(of_class).mean().unwrap();
        let end = of_class(sigmoid(f64::from(BIAS)));
        assert!(
            (deletion[0] - start).abs() < 1e-6,
            "class {class}: {deletion:?} vs {start}"
        );
        assert!(
            (deletion[4] - end).abs() < 1e-6,
            "class {class}: {deletion:?} vs {end}"
        );
    }
}

/// Activation maximisation reads the two classes as explain does: class 1
/// drives the image bright where `w > 0` and dark where `w < 0`, class 0 the
/// other way (before, class 1 was refused and class 0 maximised `z`, i.e.
/// class 1). Its probabilities are both classes', `1 - p` and `p`, and its
/// objective is the class's score: `z` or `-z`, `p` or `1 - p`, checked
/// against the model fed the result.
#[test]
fn maximising_either_class_drives_the_image_along_or_against_the_weights() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = sigmoid_engine(dir.path(), BIAS, false);
    let w = weights();
    let mut options = MaximizeOptions::for_size(SIDE, SIDE);
    options.restarts = 1;
    options.steps = 64;
    options.range = ValueRange::new(0.0, 1.0).unwrap();
    for (class, sign) in [(1usize, 1.0f32), (0, -1.0)] {
        for probability in [false, true] {
            options.class_score = if probability {
                Score::Probability
            } else {
                Score::Logit
            };
            let result = visualize::maximize(&mut engine, &Target::Class(class), &options).unwrap();
            let pixels: Vec<f32> = result.images.iter().copied().collect();
            let mean = |along: bool| {
                let chosen: Vec<f32> = pixels
                    .iter()
                    .zip(&w)
                    .filter(|(_, w)| (sign * **w > 0.0) == along)
                    .map(|(x, _)| *x)
                    .collect();
                chosen.iter().sum::<f32>() / chosen.len() as f32
            };
            let (along, against) = (mean(true), mean(false));
            assert!(
                along > against + 0.1,
                "class {class}, probability {probability}: {along} along w's sign, {against} against"
            );
            let p = &result.probabilities[0];
            assert_eq!(p.len(), 2);
            assert!((p[0] + p[1] - 1.0).abs() < 1e-6 && p[class] > 0.5, "{p:?}");
            let z = logits(&result.inputs, BIAS)[0];
            let expected = match (probability, class) {
                (false, 1) => z,
                (false, _) => -z,
                (true, 1) => sigmoid(z),
                (true, _) => 1.0 - sigmoid(z),
            };
            assert!(
                (f64::from(result.objective[0]) - expected).abs() < 1e-4,
                "class {class}, probability {probability}: objective {} against {expected}",
                result.objective[0]
            );
        }
    }
    let err = visualize::maximize(&mut engine, &Target::Class(2), &options)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("class 2") && err.contains("choose class 0 or 1"),
        "{err}"
    );
}
