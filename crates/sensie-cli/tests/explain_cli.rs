//! `sensie explain` end to end: the files it writes, and a clear error with a
//! non-zero exit status for each kind of bad input.

mod common;

use std::path::Path;
use std::process::Output;

use ndarray::{Array4, ArrayD};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

use common::{repo, sensie, stderr};

fn read(path: &Path) -> ArrayD<f32> {
    ArrayD::read_npy(
        std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// `sensie explain` on the MNIST model and held-out digits, plus `extra`.
fn explain(out: &Path, extra: &[&str]) -> Output {
    let (model, data) = (
        repo("examples/mnist/mnist_cnn.onnx"),
        repo("examples/mnist/data/test_x.npy"),
    );
    let mut args = vec![
        "explain",
        "--model",
        &model,
        "--data",
        &data,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    sensie(&args)
}

#[test]
fn explain_writes_one_map_per_method_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let labels = repo("examples/mnist/data/test_y.npy");
    let out = explain(
        dir.path(),
        &[
            "--labels",
            &labels,
            "--indices",
            "0,5,13",
            "--method",
            "saliency,integrated-gradients,gradcam,occlusion",
            "--steps",
            "16",
            "--sanity",
            "--faithfulness",
            "--curve-steps",
            "5",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        read(&dir.path().join("saliency.npy")).shape(),
        &[3, 1, 28, 28]
    );
    assert_eq!(
        read(&dir.path().join("integrated-gradients.npy")).shape(),
        &[3, 1, 28, 28]
    );
    assert_eq!(
        read(&dir.path().join("occlusion.npy")).shape(),
        &[3, 1, 28, 28]
    );
    assert_eq!(read(&dir.path().join("gradcam.npy")).shape(), &[3, 28, 28]);
    assert_eq!(
        read(&dir.path().join("gradcam-layer.npy")).shape(),
        &[3, 14, 14]
    );
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.path().join(name)).unwrap()).unwrap()
    };
    let summary = json("explain.json");
    assert_eq!(summary["examples"], serde_json::json!([0, 5, 13]));
    assert_eq!(summary["targets"], summary["labels"]);
    assert_eq!(summary["target"], "label");
    let ig = &summary["methods"][1];
    assert_eq!(ig["method"], "integrated-gradients");
    assert_eq!(ig["relative_completeness_gap"].as_array().unwrap().len(), 3);
    assert_eq!(summary["methods"][2]["layer"], "/relu2/Relu_output_0");
    assert_eq!(json("sanity.json")["layers"].as_array().unwrap().len(), 4);
    let curves = json("faithfulness.json");
    assert_eq!(
        curves["methods"].as_array().unwrap().len(),
        5,
        "four methods and the random ranking"
    );
    // Per example and method a picture (input, map, overlay), the charts, the page.
    for method in ["saliency", "integrated-gradients", "gradcam", "occlusion"] {
        for example in [0, 5, 13] {
            assert!(
                dir.path().join(format!("{method}/{example}.png")).is_file(),
                "{method} {example}"
            );
        }
    }
    for chart in ["sanity", "faithfulness-deletion", "faithfulness-insertion"] {
        assert!(dir.path().join(format!("{chart}.svg")).is_file(), "{chart}");
    }
    let page = std::fs::read_to_string(dir.path().join("explain.html")).unwrap();
    assert!(
        page.contains("integrated-gradients")
            && page.contains("data:image/png;base64")
            && page.contains("<svg")
    );
}

#[test]
fn explain_writes_lrp_and_blur_saliency_maps() {
    let dir = tempfile::tempdir().unwrap();
    let labels = repo("examples/mnist/data/test_y.npy");
    let out = explain(
        dir.path(),
        &[
            "--labels",
            &labels,
            "--indices",
            "0,5",
            "--method",
            "lrp,blur-saliency",
            "--lrp-composite",
            "epsilon-gamma-box",
            "--gamma",
            "0.5",
            "--box",
            "0,1",
            "--blur-sigma",
            "2",
            "--mask-sigma",
            "3",
            "--stride",
            "3",
            "--score",
            "target",
            "--sanity",
            "--faithfulness",
            "--curve-steps",
            "4",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read(&dir.path().join("lrp.npy")).shape(), &[2, 1, 28, 28]);
    assert_eq!(
        read(&dir.path().join("blur-saliency.npy")).shape(),
        &[2, 10, 10],
        "ceil(28 / 3) centres a side"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("explain.json")).unwrap()).unwrap();
    assert_eq!(summary["score"], "logit");
    let lrp = &summary["methods"][0];
    assert_eq!(lrp["method"], "lrp");
    assert_eq!(lrp["conservation_ratio"].as_array().unwrap().len(), 2);
    assert_eq!(summary["methods"][1]["kind"], "grid");
    assert_eq!(summary["methods"][1]["cell"], 3);
    assert!(
        dir.path().join("blur-saliency/5.png").is_file() && dir.path().join("lrp/0.png").is_file()
    );
    // Both go through the checks: grid maps are ranked per pixel, each value over its cell.
    let curves: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("faithfulness.json")).unwrap())
            .unwrap();
    assert_eq!(
        curves["methods"].as_array().unwrap().len(),
        3,
        "two methods and the random ranking"
    );
    let sanity: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("sanity.json")).unwrap()).unwrap();
    assert_eq!(sanity["methods"].as_array().unwrap().len(), 2);
    let page = std::fs::read_to_string(dir.path().join("explain.html")).unwrap();
    assert!(
        page.contains("Colour bar")
            && page.contains("conservation ratio")
            && page.contains("layers randomised, from the top: 1 ")
    );
    let bad = explain(
        dir.path(),
        &[
            "--method",
            "lrp",
            "--lrp-composite",
            "epsilon-gama-box",
            "--limit",
            "1",
        ],
    );
    assert!(
        !bad.status.success() && stderr(&bad).contains("epsilon-gamma-box"),
        "{}",
        stderr(&bad)
    );
    // Without --box, z^B's box is the data's range: a digit's map is the same
    // whichever digits are explained with it (it was the range of the chosen
    // ones: digit 1 alone reaches 0.996, with digit 3 beside it 1.0).
    let map = |indices: &str| {
        let out = dir.path().join(format!("box-{indices}"));
        let run = explain(
            &out,
            &[
                "--indices",
                indices,
                "--method",
                "lrp",
                "--lrp-composite",
                "epsilon-gamma-box",
                "--target",
                "predicted",
            ],
        );
        assert!(run.status.success(), "{}", stderr(&run));
        read(&out.join("lrp.npy"))
    };
    let (alone, beside) = (map("1"), map("1,3"));
    assert_eq!(
        alone.index_axis(ndarray::Axis(0), 0),
        beside.index_axis(ndarray::Axis(0), 0)
    );
    // A box with a negative lower bound, as normalised inputs have, is taken
    // as written (it was refused as "unexpected argument '-1'"), the same
    // box as with an `=`.
    let boxed = |flag: &[&str], name: &str| {
        let out = dir.path().join(name);
        let mut args = vec![
            "--indices",
            "1",
            "--method",
            "lrp",
            "--lrp-composite",
            "epsilon-gamma-box",
        ];
        args.extend_from_slice(flag);
        let run = explain(&out, &args);
        assert!(run.status.success(), "{flag:?}: {}", stderr(&run));
        read(&out.join("lrp.npy"))
    };
    assert_eq!(
        boxed(&["--box", "-1,1"], "box-spaced"),
        boxed(&["--box=-1,1"], "box-joined")
    );
}

#[test]
fn explain_targets_the_predicted_class_without_labels() {
    let dir = tempfile::tempdir().unwrap();
    let out = explain(
        dir.path(),
        &[
            "--limit",
            "2",
            "--method",
            "gradient",
            "--target",
            "predicted",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("explain.json")).unwrap()).unwrap();
    assert_eq!(summary["targets"], summary["predicted"]);
}

/// Data is read and prepared as `probe` does it: 8-bit digits with
/// `--scale 1/255` give the maps of the digits in [0, 1].
#[test]
fn explain_prepares_data_with_the_probe_flags() {
    let dir = tempfile::tempdir().unwrap();
    let x: ArrayD<f32> = read(Path::new(&repo("examples/mnist/data/test_x.npy")));
    let bytes = dir.path().join("x255.npy");
    x.mapv(|v| (v * 255.0).round())
        .write_npy(std::fs::File::create(&bytes).unwrap())
        .unwrap();
    let (plain, scaled) = (dir.path().join("plain"), dir.path().join("scaled"));
    let args = [
        "--limit",
        "3",
        "--method",
        "gradient,gradcam",
        "--target",
        "predicted",
    ];
    assert!(explain(&plain, &args).status.success());
    let mut with_scale = vec!["--scale", "0.00392156862745098"];
    with_scale.extend_from_slice(&args);
    let out = sensie(
        &[
            &[
                "explain",
                "--model",
                &repo("examples/mnist/mnist_cnn.onnx"),
                "--data",
                bytes.to_str().unwrap(),
                "--out",
                scaled.to_str().unwrap(),
            ],
            with_scale.as_slice(),
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for file in ["gradient.npy", "gradcam.npy"] {
        let (a, b) = (read(&plain.join(file)), read(&scaled.join(file)));
        let err = (&a - &b).mapv(f32::abs).sum() / a.mapv(f32::abs).sum();
        assert!(err < 1e-5, "{file}: relative difference {err}");
    }
}

/// Each bad input: exit status 1 and a message naming what is wrong.
#[test]
fn explain_refuses_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("baseline.npy");
    Array4::<f32>::zeros((1, 1, 14, 14))
        .write_npy(std::fs::File::create(&wrong).unwrap())
        .unwrap();
    let small = dir.path().join("small.npy");
    Array4::<f32>::zeros((2, 1, 8, 8))
        .write_npy(std::fs::File::create(&small).unwrap())
        .unwrap();
    let out_dir = dir.path().join("out");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--indices", "3,1000", "--method", "gradient"],
            vec!["example index 1000", "1000 examples"],
        ),
        (
            vec!["--limit", "2", "--method", "gradcam", "--layer", "relu2"],
            vec!["no tensor named 'relu2'", "closest: /relu2/Relu_output_0"],
        ),
        (
            vec![
                "--limit",
                "2",
                "--method",
                "integrated-gradients",
                "--baseline",
                wrong.to_str().unwrap(),
            ],
            vec!["baseline.npy", "[1, 1, 14, 14]"],
        ),
        (
            vec!["--limit", "2", "--method", "saliency,gradcamm"],
            vec!["unknown method 'gradcamm' (did you mean 'gradcam'?)"],
        ),
        (
            vec!["--limit", "2", "--method", "gradient", "--target", "10"],
            vec!["target class 10", "0 to 9"],
        ),
        (
            vec!["--limit", "2", "--method", "gradient", "--target", "label"],
            vec!["no labels"],
        ),
    ];
    for (extra, wants) in cases {
        let out = explain(&out_dir, &extra);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {}", stderr(&out));
        let err = stderr(&out);
        for want in wants {
            assert!(err.contains(want), "{extra:?}: '{want}' not in: {err}");
        }
    }
    let out = sensie(&[
        "explain",
        "--model",
        &repo("crates/sensie/tests/data/explain/mlp.onnx"),
        "--data",
        small.to_str().unwrap(),
        "--method",
        "gradcam",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no Conv node"), "{}", stderr(&out));
}

/// A binary classifier with one sigmoid output, `p = sigmoid(w . x + b)` on
/// 4 x 4 images ([`sensie::testing::sigmoid_unit`]), explained end to end
/// for both classes: class 1 through its logit `z`, class 0 through `-z`.
/// Before, `--target 1` was refused ("1 classes"), `--target predicted`
/// was always 0, and class 0's maps were class 1's.
#[test]
fn explain_reads_a_single_sigmoid_output_as_two_classes() {
    const SIDE: usize = 4;
    const BIAS: f64 = 0.25;
    let dir = tempfile::tempdir().unwrap();
    let w: Vec<f32> = (0..SIDE * SIDE)
        .map(|i| if i % SIDE < 2 { 1.0 } else { -1.0 } * (0.5 + 0.02 * i as f32))
        .collect();
    let model = dir.path().join("sigmoid.onnx");
    let proto = sensie::testing::sigmoid_unit(SIDE, SIDE, &w, BIAS as f32, false);
    std::fs::write(&model, sensie::testing::onnx::encode_model(&proto)).unwrap();
    // Bright on the left (z > 0), bright on the right (z < 0), blank (z = b > 0).
    let x = Array4::<f32>::from_shape_fn((3, 1, SIDE, SIDE), |(e, _, _, c)| match e {
        0 => {
            if c < 2 {
                1.0
            } else {
                0.1
            }
        }
        1 => {
            if c < 2 {
                0.1
            } else {
                1.0
            }
        }
        _ => 0.0,
    });
    let data = dir.path().join("x.npy");
    x.write_npy(std::fs::File::create(&data).unwrap()).unwrap();
    let xs = x.as_slice().unwrap();
    let term = |e: usize, i: usize| f64::from(w[i]) * f64::from(xs[e * SIDE * SIDE + i]);
    let z: Vec<f64> = (0..3)
        .map(|e| (0..SIDE * SIDE).map(|i| term(e, i)).sum::<f64>() + BIAS)
        .collect();
    assert!(z[0] > 0.0 && z[1] < 0.0 && z[2] > 0.0, "{z:?}");

    let run = |out: &Path, target: &[&str]| {
        let args = [
            "explain",
            "--model",
            model.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--method",
            "gradient,integrated-gradients,occlusion",
            "--steps",
            "8",
            "--window",
            "2",
            "--stride",
            "2",
        ];
        sensie(&[&args[..], target].concat())
    };
    // Every element of `got` within `tol` of `want(example, pixel)`.
    let close = |got: &ArrayD<f32>, want: &dyn Fn(usize, usize) -> f64, tol: f64, what: &str| {
        assert_eq!(got.shape(), &[3, 1, SIDE, SIDE], "{what}");
        for (ix, &v) in got.indexed_iter() {
            let want = want(ix[0], ix[2] * SIDE + ix[3]);
            assert!(
                (f64::from(v) - want).abs() < tol,
                "{what} at {ix:?}: {v} vs {want}"
            );
        }
    };
    for class in [0, 1] {
        let sign = if class == 1 { 1.0 } else { -1.0 };
        let out = dir.path().join(format!("class{class}"));
        let done = run(&out, &["--target", &class.to_string()]);
        assert!(done.status.success(), "{}", stderr(&done));
        let what = |m: &str| format!("{m}, class {class}");
        // d(+-z)/dx = +-w.
        close(
            &read(&out.join("gradient.npy")),
            &|_, i| sign * f64::from(w[i]),
            1e-6,
            &what("gradient"),
        );
        // A linear score from a zero baseline: +-w x, summing to
        // score(x) - score(0) = +-(z - b).
        let ig = read(&out.join("integrated-gradients.npy"));
        close(&ig, &|e, i| sign * term(e, i), 1e-6, &what("IG"));
        for (e, example) in ig.outer_iter().enumerate() {
            let sum: f64 = example.iter().map(|&v| f64::from(v)).sum();
            let change = sign * (z[e] - BIAS);
            assert!(
                (sum - change).abs() < 1e-5,
                "IG completeness, class {class}, example {e}: {sum} vs {change}"
            );
        }
        // 2 x 2 windows at stride 2, filled with 0: the drop of +-z is
        // +-sum(w x) over the pixel's window.
        let window = |e: usize, i: usize| {
            let (r0, c0) = (i / SIDE / 2 * 2, i % SIDE / 2 * 2);
            (r0..r0 + 2)
                .flat_map(|r| (c0..c0 + 2).map(move |c| r * SIDE + c))
                .map(|j| term(e, j))
                .sum::<f64>()
        };
        close(
            &read(&out.join("occlusion.npy")),
            &|e, i| sign * window(e, i),
            1e-5,
            &what("occlusion"),
        );
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("explain.json")).unwrap()).unwrap();
        assert_eq!(summary["targets"], serde_json::json!([class, class, class]));
        assert_eq!(summary["predicted"], serde_json::json!([1, 0, 1]));
        let binary = summary["binary"].as_str().unwrap_or_default();
        assert!(binary.contains("class 0 by -z"), "{summary}");
        for gap in summary["methods"][1]["completeness_gap"]
            .as_array()
            .unwrap()
        {
            assert!(gap.as_f64().unwrap().abs() < 1e-5, "{summary}");
        }
    }

    // The predicted class: 1 where p >= 0.5 (z >= 0), its gradient w; 0
    // elsewhere, its gradient -w. Labels 0, 1, 1 are explained as given.
    let labels = dir.path().join("y.npy");
    ndarray::arr1(&[0i64, 1, 1])
        .write_npy(std::fs::File::create(&labels).unwrap())
        .unwrap();
    let labels = ["--labels", labels.to_str().unwrap()];
    for (name, target, classes) in [
        (
            "predicted",
            &["--target", "predicted"][..],
            [1.0, -1.0, 1.0],
        ),
        ("label", &labels[..], [-1.0, 1.0, 1.0]),
    ] {
        let out = dir.path().join(name);
        let done = run(&out, target);
        assert!(done.status.success(), "{}", stderr(&done));
        close(
            &read(&out.join("gradient.npy")),
            &|e, i| classes[e] * f64::from(w[i]),
            1e-6,
            &format!("gradient, {target:?}"),
        );
    }

    let refused = run(&dir.path().join("two"), &["--target", "2"]);
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.contains("target class 2")
            && err.contains("one sigmoid output")
            && err.contains("class 0 or 1"),
        "{err}"
    );
}
