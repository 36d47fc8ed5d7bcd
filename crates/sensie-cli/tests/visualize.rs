//! `sensie visualize` end to end on the trained MNIST CNN: what each
//! subcommand writes, checked by reading it back (pixels against the model's
//! weights, optimised inputs against the model), and its errors.

mod common;

use std::path::Path;

use common::{repo, sensie, stderr};
use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;
use sensie::engine::{Engine, EngineOptions};
use sensie::model::Model;
use sensie::render::HeatScale;
use sensie::runtime::Runtime;

const MODEL: &str = "examples/mnist/mnist_cnn.onnx";
const DATA: &str = "examples/mnist/data/test_x.npy";

fn run_ok(sub: &str, out: &Path, extra: &[&str]) {
    let model = repo(MODEL);
    let mut args = vec![
        "visualize",
        sub,
        "--model",
        &model,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = sensie(&args);
    assert!(o.status.success(), "{sub}: {}", stderr(&o));
}

fn read_npy(path: &Path) -> ArrayD<f32> {
    ArrayD::read_npy(std::fs::File::open(path).unwrap()).unwrap()
}

/// The page embeds every picture and links nothing outside itself.
fn check_page(path: &Path, pictures: usize) {
    let html = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        html.matches("<img src=\"data:image/png;base64,").count(),
        pictures,
        "{}",
        path.display()
    );
}

/// kernels.png holds conv1's weights: kernel o is tile o (3 x 3, three
/// tiles to a row), each value a block coloured on the diverging scale of
/// the largest |weight|. Pixel positions follow the grid's layout (2-pixel
/// padding, tiles enlarged 16 times).
#[test]
fn kernels_png_holds_the_weights() {
    let dir = tempfile::tempdir().unwrap();
    run_ok("kernels", dir.path(), &[]);
    let png = image::open(dir.path().join("kernels.png"))
        .unwrap()
        .to_rgb8();
    let model = sensie::testing::onnx::read_model(Path::new(&repo(MODEL))).unwrap();
    let graph = model.graph.unwrap();
    let w = sensie::testing::onnx::tensor_to_f32(
        graph
            .initializer
            .iter()
            .find(|t| t.name.as_deref() == Some("conv1.weight"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(w.shape(), &[8, 1, 3, 3]);
    let scale = HeatScale::Signed {
        limit: w.iter().fold(0.0f32, |a, v| a.max(v.abs())),
    };
    let (pad, up) = (2, 16);
    for o in 0..8 {
        for i in 0..3 {
            for j in 0..3 {
                let (x, y) = (
                    pad + (o % 3) * (3 * up + pad) + j * up,
                    pad + (o / 3) * (3 * up + pad) + i * up,
                );
                assert_eq!(
                    png.get_pixel(x as u32, y as u32).0,
                    scale.rgb(w[[o, 0, i, j]]),
                    "kernel {o} ({i}, {j})"
                );
            }
        }
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("kernels.json")).unwrap())
            .unwrap();
    assert_eq!(summary["shape"], serde_json::json!([8, 1, 3, 3]));
    check_page(&dir.path().join("kernels.html"), 1);
}

#[test]
fn features_writes_a_grid_per_example() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        "features",
        dir.path(),
        &[
            "--data",
            &repo(DATA),
            "--indices",
            "5,9",
            "--layer",
            "/relu2/Relu_output_0",
        ],
    );
    for n in [5, 9] {
        let png = image::open(dir.path().join(format!("features_example_{n}.png")))
            .unwrap()
            .to_rgb8();
        // 16 maps of 14 x 14, enlarged 4 times, 4 to a row.
        assert_eq!(png.dimensions(), (4 * (56 + 2) + 2, 4 * (56 + 2) + 2));
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("features.json")).unwrap())
            .unwrap();
    assert_eq!(summary["order"].as_array().unwrap().len(), 2);
    check_page(&dir.path().join("features.html"), 2);
}

/// The optimised inputs fed back to the model are its class 3, confidently.
#[test]
fn maximize_writes_inputs_the_model_reads_as_the_class() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        "maximize",
        dir.path(),
        &[
            "--class",
            "3",
            "--data",
            &repo(DATA),
            "--restarts",
            "2",
            "--steps",
            "128",
        ],
    );
    let inputs = read_npy(&dir.path().join("inputs.npy"));
    assert_eq!(inputs.shape(), &[2, 1, 28, 28]);
    assert!(inputs.iter().all(|v| (0.0..=1.0).contains(v)));
    let mut engine = Engine::new(
        Runtime::new().unwrap(),
        Model::load(repo(MODEL)).unwrap(),
        EngineOptions::default(),
    )
    .unwrap();
    let logits = engine.predict(inputs.view()).unwrap();
    for row in logits.rows() {
        let total: f32 = row.iter().map(|&l| (l - row[3]).exp()).sum();
        assert!(1.0 / total > 0.9, "probability of 3: {}", 1.0 / total);
    }
    check_page(&dir.path().join("maximize.html"), 1);
    let html = std::fs::read_to_string(dir.path().join("maximize.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 1, "the objective's chart");
}

/// A neuron, and a range given on the command line: inputs stay inside it.
#[test]
fn maximize_a_neuron_in_a_given_range() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--layer",
        "/conv2/Conv_output_0",
        "--channel",
        "3",
        "--neuron",
        "7,7",
        "--range",
        "-0.5,1.5",
        "--restarts",
        "1",
        "--steps",
        "32",
    ];
    run_ok("maximize", dir.path(), &args);
    let inputs = read_npy(&dir.path().join("inputs.npy"));
    assert!(inputs.iter().all(|v| (-0.5..=1.5).contains(v)));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("maximize.json")).unwrap())
            .unwrap();
    assert_eq!(
        summary["target"],
        "neuron (3, 7, 7) of /conv2/Conv_output_0"
    );
}

#[test]
fn dream_writes_dreamed_inputs_with_a_higher_norm() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        "dream",
        dir.path(),
        &[
            "--data",
            &repo(DATA),
            "--indices",
            "0,1",
            "--layer",
            "/relu2/Relu_output_0",
            "--octaves",
            "2",
        ],
    );
    assert_eq!(
        read_npy(&dir.path().join("inputs.npy")).shape(),
        &[2, 1, 28, 28]
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("dream.json")).unwrap())
            .unwrap();
    let (before, after) = (
        &summary["result"]["norm_before"],
        &summary["result"]["norm_after"],
    );
    for i in 0..2 {
        assert!(
            after[i].as_f64().unwrap() > before[i].as_f64().unwrap(),
            "{summary}"
        );
    }
    check_page(&dir.path().join("dream.html"), 1);
}

#[test]
fn bad_choices_fail_with_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = out_dir.to_str().unwrap();
    let model = repo(MODEL);
    let data = repo(DATA);
    let wrong = dir.path().join("wrong.npy");
    ndarray_npy::WriteNpyExt::write_npy(
        &ndarray::Array4::<f32>::from_shape_fn((2, 28, 28, 1), |(n, _, _, _)| n as f32),
        std::fs::File::create(&wrong).unwrap(),
    )
    .unwrap();
    let wrong = wrong.to_str().unwrap();
    let cases: [(&[&str], &str); 10] = [
        (
            &["kernels", "--layer", "/fc1/Gemm_output_0"],
            "/conv1/Conv_output_0, /conv2/Conv_output_0",
        ),
        (
            &["features", "--data", &data, "--layer", "/fc1/Gemm_output_0"],
            "convolutional layers: /conv1/Conv_output_0",
        ),
        (
            &[
                "features",
                "--data",
                &data,
                "--indices",
                "1000",
                "--layer",
                "/relu1/Relu_output_0",
            ],
            "1000 examples (0 to 999)",
        ),
        (&["maximize", "--class", "10"], "10 classes (0 to 9)"),
        (
            &[
                "maximize",
                "--layer",
                "/conv2/Conv_output_0",
                "--channel",
                "16",
            ],
            "16 channels (0 to 15)",
        ),
        (&["dream", "--data", &data, "--layer", "/relu9"], "closest"),
        // A shift of half the digit or more: the dream came back unchanged.
        (
            &[
                "dream",
                "--data",
                &data,
                "--indices",
                "0",
                "--layer",
                "/relu2/Relu_output_0",
                "--jitter",
                "14",
            ],
            "jitter 14",
        ),
        (
            &["maximize", "--class", "1", "--jitter", "10000"],
            "less than 14",
        ),
        (
            &["maximize", "--class", "1", "--data", wrong],
            "wrong.npy: an array of shape [2, 28, 28, 1]: 'input' holds [N, 1, 28, 28]",
        ),
        (
            &[
                "dream",
                "--data",
                wrong,
                "--indices",
                "0",
                "--layer",
                "/relu2/Relu_output_0",
            ],
            "wrong.npy: an array of shape [1, 28, 28, 1]",
        ),
    ];
    for (args, expected) in cases {
        let mut full = vec!["visualize", args[0], "--model", &model, "--out", out];
        full.extend_from_slice(&args[1..]);
        let o = sensie(&full);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{args:?}: {}", stderr(&o));
    }
    // Neither --class nor --layer: clap names them.
    let o = sensie(&["visualize", "maximize", "--model", &model, "--out", out]);
    assert!(
        !o.status.success() && stderr(&o).contains("--class") && stderr(&o).contains("--layer"),
        "{}",
        stderr(&o)
    );
    // Both: the layer's channel or neuron was silently dropped for the class.
    let o = sensie(&[
        "visualize",
        "maximize",
        "--model",
        &model,
        "--out",
        out,
        "--class",
        "3",
        "--layer",
        "/conv2/Conv_output_0",
        "--channel",
        "2",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("cannot be used with"),
        "{}",
        stderr(&o)
    );
}
