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
