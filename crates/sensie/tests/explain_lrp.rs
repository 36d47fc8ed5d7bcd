//! LRP against zennit and blur-perturbation saliency against its equations.
//!
//! References: `tests/data/explain/lrp.npz`, written by
//! `python/make_lrp_fixtures.py`: zennit 0.5.1 in float64 on the trained
//! MNIST CNN (`examples/mnist/mnist_cnn.onnx`) and on a small residual
//! network with BatchNormalization (`explain/resnet_bn.onnx`, BatchNorm nodes
//! and residual Adds kept in the graph), every composite; and blur saliency
//! computed from Greydanus et al.'s equations (phi = I (1 - M) + A M,
//! 1/2 ||f(I) - f(phi)||^2) with numpy, scipy.ndimage and
//! onnxruntime. Tolerances (per example, `||ours - ref|| / ||ref||`): 1e-4
//! for the epsilon composite, 1e-3 for the others (float32 against float64);
//! conservation ratios within 1e-3 of zennit's (relative, or absolute below
//! 1); blur saliency 1e-4.

mod common;

use common::{assert_close, data, npz_f32, npz_i64, runtime};
use ndarray::ArrayD;
use sensie::Error;
use sensie::autodiff::Composite;
use sensie::engine::{Engine, EngineOptions, Score};
use sensie::explain::blur_saliency::Compared;
use sensie::explain::lrp::Lrp;
use sensie::explain::{self, MapKind, Method, Options, Targets};
use sensie::model::Model;

fn engine(path: std::path::PathBuf) -> Engine {
    let model = Model::load(path).expect("the model loads");
    Engine::new(
        runtime(),
        model,
        EngineOptions {
            batch_size: 3,
            threads: 1,
        },
    )
    .expect("engine builds")
}

fn fixture(key: &str) -> ArrayD<f32> {
    npz_f32(&data("explain/lrp.npz"), key).unwrap_or_else(|| panic!("reference {key}"))
}

fn targets(key: &str) -> Targets {
    let classes = npz_i64(&data("explain/lrp.npz"), key)
        .expect("targets")
        .iter()
        .map(|&t| t as usize)
        .collect();
    Targets {
        classes,
        score: Score::Logit,
    }
}

fn check_model(prefix: &str, model: std::path::PathBuf) {
    let mut engine = engine(model);
    let x = fixture(&format!("{prefix}_x"));
    let targets = targets(&format!("{prefix}_target"));
    for (composite, key) in [
        (Composite::Epsilon, "epsilon"),
        (Composite::EpsilonPlusFlat, "epsilon_plus_flat"),
        (Composite::EpsilonGammaBox, "epsilon_gamma_box"),
        (Composite::Alpha1Beta0, "alpha1_beta0"),
    ] {
        // The default box is the data's range, as the fixture's.
        let method = Lrp {
            composite,
            epsilon: 1e-6,
            gamma: 0.25,
            bounds: None,
        };
        let got = method
            .attribute(&mut engine, x.view(), &targets)
            .unwrap_or_else(|e| panic!("{prefix} {composite}: {e}"));
        let tol = if composite == Composite::Epsilon {
            1e-4
        } else {
            1e-3
        };
        assert_close(
            &format!("{prefix} LRP {composite} vs zennit"),
            &got.map,
            &fixture(&format!("{prefix}_{key}")),
            tol,
        );
        let want = fixture(&format!("{prefix}_{key}_conservation"));
        let ratios = got.conservation.expect("LRP reports conservation");
        for (i, (g, w)) in ratios.iter().zip(want.iter()).enumerate() {
            assert!(
                (g - w).abs() <= 1e-3 * w.abs().max(1.0),
                "{prefix} {composite} example {i}: conservation {g} vs zennit's {w}"
            );
        }
    }
}

#[test]
fn lrp_matches_zennit_on_the_mnist_cnn() {
    check_model("mnist", data("../../../../examples/mnist/mnist_cnn.onnx"));
}

#[test]
fn lrp_matches_zennit_on_a_residual_network_with_batch_norm() {
    check_model("resnet", data("explain/resnet_bn.onnx"));
}

#[test]
fn lrp_is_built_from_the_options() {
    let options = Options {
        lrp: Lrp {
            composite: Composite::EpsilonPlusFlat,
            epsilon: 1e-6,
            gamma: 0.25,
            bounds: Some((0.0, 1.0)),
        },
        ..Options::default()
    };
    let method = explain::build("lrp", &options).expect("lrp builds");
    assert_eq!(method.name(), "lrp");
    let mut engine = engine(data("../../../../examples/mnist/mnist_cnn.onnx"));
    let x = fixture("mnist_x");
    let got = method
        .attribute(&mut engine, x.view(), &targets("mnist_target"))
        .expect("lrp runs");
    assert_close(
        "lrp via build",
        &got.map,
        &fixture("mnist_epsilon_plus_flat"),
        1e-3,
    );
}

#[test]
fn lrp_refuses_ops_without_a_rule_naming_the_node() {
    let mut engine = engine(data("engine/vit_block/model.onnx"));
    let shape: Vec<usize> = engine
        .model()
        .info()
        .input
        .shape
        .iter()
        .map(|d| d.unwrap_or(2))
        .collect();
    let x = ArrayD::from_elem(shape, 0.5f32);
    let targets = Targets {
        classes: vec![0; x.shape()[0]],
        score: Score::Logit,
    };
    let method = Lrp {
        composite: Composite::Epsilon,
        epsilon: 1e-6,
        gamma: 0.25,
        bounds: None,
    };
    let err = method
        .attribute(&mut engine, x.view(), &targets)
        .expect_err("a transformer block has ops LRP cannot pass");
    assert!(matches!(err, Error::NoGradientRule { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("cannot differentiate through node '")
            && text.contains("LRP has no rule for"),
        "{text}"
    );
}

#[test]
fn lrp_parameters_are_checked() {
    assert!("epsilon-gamma-box".parse::<Composite>().is_ok());
    let err = "epsilon-gama-box"
        .parse::<Composite>()
        .unwrap_err()
        .to_string();
    assert!(err.contains("epsilon-gamma-box"), "{err}");
    let mut engine = engine(data("../../../../examples/mnist/mnist_cnn.onnx"));
    let x = fixture("mnist_x");
    let targets = targets("mnist_target");
    let bad = Lrp {
        composite: Composite::EpsilonGammaBox,
        epsilon: 1e-6,
        gamma: 0.25,
        bounds: Some((1.0, 0.0)),
    };
    let err = bad
        .attribute(&mut engine, x.view(), &targets)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("box 1,0") && err.contains("LOW < HIGH"),
        "{err}"
    );
    let probability = Targets {
        score: Score::Probability,
        ..targets
    };
    let ok = Lrp {
        composite: Composite::Epsilon,
        epsilon: 1e-6,
        gamma: 0.25,
        bounds: None,
    };
    assert!(
        ok.attribute(&mut engine, x.view(), &probability)
            .unwrap_err()
            .to_string()
            .contains("logit")
    );
}

#[test]
fn blur_saliency_matches_the_equations() {
    let mut engine = engine(data("../../../../examples/mnist/mnist_cnn.onnx"));
    let x = fixture("blur_x");
    let targets = targets("blur_target");
    for (key, blur_sigma, mask_sigma, stride, compared) in [
        ("b3_s5_k4_all", 3.0, 5.0, 4, Compared::All),
        ("b2_s3_k3_target", 2.0, 3.0, 3, Compared::Target),
    ] {
        let options = Options {
            blur_sigma,
            mask_sigma,
            stride,
            blur_score: compared,
            ..Options::default()
        };
        let method = explain::build("blur-saliency", &options).expect("blur-saliency builds");
        assert_eq!(method.kind(), MapKind::Grid { cell: stride });
        let got = method
            .attribute(&mut engine, x.view(), &targets)
            .expect("blur-saliency runs");
        let want = fixture(&format!("blur_{key}"));
        assert_eq!(got.map.shape(), want.shape(), "{key}: grid resolution");
        assert_close(
            &format!("blur-saliency {key} vs numpy"),
            &got.map,
            &want,
            1e-4,
        );
    }
    let bad = Options {
        mask_sigma: 0.0,
        ..Options::default()
    };
    assert!(
        explain::build("blur-saliency", &bad)
            .err()
            .expect("mask sigma 0 is refused")
            .to_string()
            .contains("mask sigma 0")
    );
}
