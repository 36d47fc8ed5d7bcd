//! `sensie probe` comparing named data sets and models, and grids, from the
//! command line and from a config's `[[data]]`, `[[model]]` and `[[grid]]` tables.

mod common;

use std::path::Path;

use common::{repo, sensie, stderr};
use ndarray::{Array1, Array4, s};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

/// Digits `from..to` of the MNIST example as `stem_x.npy` and `stem_y.npy` in `dir`.
fn digits(dir: &Path, stem: &str, from: usize, to: usize) {
    let x = Array4::<f32>::read_npy(
        std::fs::File::open(repo("examples/mnist/data/test_x.npy")).unwrap(),
    )
    .unwrap();
    let y = Array1::<i64>::read_npy(
        std::fs::File::open(repo("examples/mnist/data/test_y.npy")).unwrap(),
    )
    .unwrap();
    x.slice(s![from..to, .., .., ..])
        .to_owned()
        .write_npy(std::fs::File::create(dir.join(format!("{stem}_x.npy"))).unwrap())
        .unwrap();
    y.slice(s![from..to])
        .to_owned()
        .write_npy(std::fs::File::create(dir.join(format!("{stem}_y.npy"))).unwrap())
        .unwrap();
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn named_data_sets_with_their_own_labels_are_compared() {
    let dir = tempfile::tempdir().unwrap();
    digits(dir.path(), "a", 0, 60);
    digits(dir.path(), "b", 60, 100);
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    // Per-set metadata of different lengths: each joins its own set by row order.
    for (file, n) in [("a.csv", 60), ("b.csv", 40)] {
        let rows: Vec<String> = (0..n).map(|i| format!("{}", i % 7)).collect();
        std::fs::write(
            dir.path().join(file),
            format!("brightness\n{}\n", rows.join("\n")),
        )
        .unwrap();
    }
    let out = sensie(&[
        "probe",
        "--model",
        &repo("examples/mnist/mnist_cnn.onnx"),
        "--data",
        &format!("sims={}", p("a_x.npy")),
        "--labels",
        &format!("sims={}", p("a_y.npy")),
        "--data",
        &format!("real-like={}", p("b_x.npy")),
        "--labels",
        &format!("real-like={}", p("b_y.npy")),
        "--data",
        &format!("third={}", p("b_x.npy")),
        "--labels",
        &format!("third={}", p("b_y.npy")),
        "--metadata",
        &format!("sims={}", p("a.csv")),
        "--metadata",
        &format!("real-like={}", p("b.csv")),
        "--metadata",
        &format!("third={}", p("b.csv")),
        "--property",
        "brightness=q2",
        "--perturb",
        "rotate=0,90",
        "--grid",
        "rotate=0,90,blur=0,1",
        "--replicates",
        "200",
        "--quiet",
        "--out",
        &p("out"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let results = json(&dir.path().join("out/results.json"));
    assert_eq!(results["runs"][1]["n"], 40);
    let rotate = &results["tests"][0];
    assert!(rotate["sets"]["sims"]["levels"].is_array());
    assert!(rotate["sets"]["real-like"]["levels"].is_array());
    // Three sets: one difference per set after the first, each against it.
    let differences = rotate["difference"].as_array().unwrap();
    assert_eq!(differences.len(), 2);
    assert_eq!(
        differences[1]["between"],
        serde_json::json!(["sims", "third"])
    );
    // "third" is "real-like" again: the same levels, the same difference.
    assert_eq!(
        rotate["sets"]["third"]["levels"],
        rotate["sets"]["real-like"]["levels"]
    );
    assert_eq!(differences[0]["levels"], differences[1]["levels"]);
    assert_eq!(results["tests"][1]["kind"], "grid");
    let property = &results["tests"][2];
    assert_eq!(property["name"], "property:brightness");
    assert_eq!(
        property["sets"]["real-like"]["levels"][0]["n"]
            .as_u64()
            .unwrap()
            + property["sets"]["real-like"]["levels"][1]["n"]
                .as_u64()
                .unwrap(),
        40
    );
    for file in [
        "report.html",
        "sims/report.html",
        "real-like/results.json",
        "plots/rotate.svg",
    ] {
        assert!(dir.path().join("out").join(file).exists(), "{file}");
    }
}

#[test]
fn config_tables_name_models_and_bad_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    digits(dir.path(), "a", 0, 50);
    let model = repo("examples/mnist/mnist_cnn.onnx");
    std::fs::write(
        dir.path().join("probe.toml"),
        format!(
            "out = \"out\"\nreplicates = 200\n[[model]]\nname = \"first\"\npath = {model:?}\n[[model]]\nname = \"second\"\npath = {model:?}\n\
             [data]\npath = \"a_x.npy\"\nlabels = \"a_y.npy\"\n[[grid]]\nperturb = [{{ name = \"rotate\", values = [0, 90] }}, {{ name = \"blur\", values = \"0:1:2\" }}]\n"
        ),
    )
    .unwrap();
    let config = dir.path().join("probe.toml");
    let out = sensie(&["probe", "--config", config.to_str().unwrap(), "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let results = json(&dir.path().join("out/results.json"));
    assert_eq!(results["compared"], "models");
    let grid = &results["tests"][0];
    assert_eq!(grid["difference"]["paired"], true);
    assert_eq!(grid["difference"]["size"], 0.0);
    assert!(grid["models"]["second"]["levels"][3]["values"].is_array());
    assert_eq!(
        grid["difference"]["levels"][3]["values"],
        serde_json::json!([90.0, 1.0])
    );

    // Each refused before any run, its message naming what is wrong.
    let bad_out = dir.path().join("bad");
    let refused = |args: &[&str], want: &str| {
        let mut full = vec!["probe"];
        full.extend_from_slice(args);
        full.extend([
            "--perturb",
            "rotate=0,90",
            "--out",
            bad_out.to_str().unwrap(),
        ]);
        let out = sensie(&full);
        assert!(
            !out.status.success() && stderr(&out).contains(want),
            "{args:?}: {}",
            stderr(&out)
        );
    };
    refused(
        &[
            "--model",
            "a b=x.onnx",
            "--model",
            "y.onnx",
            "--data",
            "x.npy",
        ],
        "NAME=PATH",
    );
    refused(
        &["--model", &model, "--data", "x.npy", "--data", "real=y.npy"],
        "--data x.npy",
    );
    refused(
        &[
            "--model",
            &model,
            "--data",
            "sims=x.npy",
            "--data",
            "real=y.npy",
            "--labels",
            "other=y.npy",
        ],
        "no data set is named 'other'",
    );
    // A name the comparison's own files take: both runs were made, then the
    // run failed writing results.json ("Is a directory").
    refused(
        &[
            "--model",
            &model,
            "--data",
            "results.json=x.npy",
            "--data",
            "real=y.npy",
        ],
        "name 'results.json'",
    );
}

#[test]
fn compare_overlays_finished_runs_and_refuses_different_levels() {
    let dir = tempfile::tempdir().unwrap();
    digits(dir.path(), "a", 0, 50);
    digits(dir.path(), "b", 50, 90);
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let probe_with = |stem: &str, flag: &str, levels: &str| {
        let out = sensie(&[
            "probe",
            "--model",
            &repo("examples/mnist/mnist_cnn.onnx"),
            "--data",
            &p(&format!("{stem}_x.npy")),
            "--labels",
            &p(&format!("{stem}_y.npy")),
            flag,
            levels,
            "--replicates",
            "200",
            "--quiet",
            "--out",
            &p(&format!("run-{stem}-{}", levels.len())),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        p(&format!("run-{stem}-{}", levels.len()))
    };
    let probe = |stem: &str, levels: &str| probe_with(stem, "--perturb", levels);
    let (a, b) = (probe("a", "rotate=0,90"), probe("b", "rotate=0,90"));
    let out = sensie(&["compare", &a, &b, "--out", &p("cmp")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let results = json(&dir.path().join("cmp/results.json"));
    assert_eq!(results["compared"], "sets");
    assert!(results["tests"][0]["sets"][&a]["levels"].is_array());
    assert!(
        dir.path().join("cmp/plots/rotate.png").exists()
            || dir.path().join("cmp/plots/rotate.svg").exists()
    );

    // The same digits through another spelling of their path: the same
    // examples, so the runs pair (a path compared as written made them two
    // data sets, with an interval about 14 times wider).
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let again = p("again");
    let out = sensie(&[
        "probe",
        "--model",
        &repo("examples/mnist/mnist_cnn.onnx"),
        "--data",
        &p("sub/../a_x.npy"),
        "--labels",
        &p("a_y.npy"),
        "--perturb",
        "rotate=0,90",
        "--replicates",
        "200",
        "--quiet",
        "--out",
        &again,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sensie(&["compare", &a, &again, "--out", &p("cmp-paired")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let results = json(&dir.path().join("cmp-paired/results.json"));
    assert_eq!(results["compared"], "models");

    let other = probe("b", "rotate=0,45,90");
    let refused = sensie(&["compare", &a, &other, "--out", &p("cmp2")]);
    assert!(!refused.status.success());
    let err = stderr(&refused);
    assert!(
        err.contains(&a) && err.contains(&other) && err.contains("45"),
        "{err}"
    );

    // Grids of the same shape whose axes differ: their cells are numbered
    // alike, so only the axes tell them apart (cell by cell, blur 1 was
    // compared with blur 3).
    let grid_a = probe_with("a", "--grid", "rotate=0,90,blur=0,1");
    let grid_b = probe_with("b", "--grid", "rotate=0,45,blur=0,3");
    let refused = sensie(&["compare", &grid_a, &grid_b, "--out", &p("cmp3")]);
    assert!(!refused.status.success());
    let err = stderr(&refused);
    assert!(err.contains("grid") && err.contains("[0.0, 45.0]"), "{err}");
}

#[test]
fn task_regress_scores_every_named_data_set_as_a_regressor() {
    // A sigmoid unit p = sigmoid(k * flux) probed as a regressor with targets
    // 0: every example's score is |p - 0| = p, so each set's change at dm is
    // its mean of sigmoid(k flux 10^(-0.4 dm)) - sigmoid(k flux), computed
    // here from the images. `--task` used to reach only a single data set:
    // named sets were scored as classifiers (correct-class probabilities),
    // and their difference was of another score than the one asked for.
    const SIDE: usize = 4;
    const K: f32 = 0.05;
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("unit.onnx");
    let proto = sensie::testing::sigmoid_unit(SIDE, SIDE, &[K; SIDE * SIDE], 0.0, false);
    std::fs::write(&model, sensie::testing::onnx::encode_model(&proto)).unwrap();
    let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
    let mut fluxes = Vec::new();
    for (name, n, brightness) in [("sims", 12, 1.0f32), ("real", 9, 3.0)] {
        let x = Array4::from_shape_fn((n, 1, SIDE, SIDE), |(i, _, y, c)| {
            brightness * (1.0 + (i * 7 + y * 3 + c) as f32 % 5.0) / 4.0
        });
        fluxes.push(
            x.outer_iter()
                .map(|e| e.iter().map(|&v| f64::from(v)).sum::<f64>())
                .collect::<Vec<f64>>(),
        );
        x.write_npy(std::fs::File::create(dir.path().join(format!("{name}_x.npy"))).unwrap())
            .unwrap();
        Array1::<f32>::zeros(n)
            .write_npy(std::fs::File::create(dir.path().join(format!("{name}_y.npy"))).unwrap())
            .unwrap();
    }
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let out = sensie(&[
        "probe",
        "--model",
        model.to_str().unwrap(),
        "--task",
        "regress",
        "--data",
        &format!("sims={}", p("sims_x.npy")),
        "--labels",
        &format!("sims={}", p("sims_y.npy")),
        "--data",
        &format!("real={}", p("real_x.npy")),
        "--labels",
        &format!("real={}", p("real_y.npy")),
        "--perturb",
        "magnitude=0,1,2.5",
        "--replicates",
        "200",
        "--out",
        &p("out"),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let results = json(&dir.path().join("out/results.json"));
    let test = &results["tests"][0];
    assert_eq!(test["metric"], "absolute error");
    let change = |flux: &[f64], dm: f64| {
        flux.iter()
            .map(|f| sigmoid(f64::from(K) * f * 10f64.powf(-0.4 * dm)) - sigmoid(f64::from(K) * f))
            .sum::<f64>()
            / flux.len() as f64
    };
    for (level, dm) in [1.0, 2.5].into_iter().enumerate() {
        let expected = change(&fluxes[1], dm) - change(&fluxes[0], dm);
        let got = test["difference"]["levels"][level + 1]["difference"]
            .as_f64()
            .unwrap();
        assert!(
            (got - expected).abs() < 1e-5,
            "dm {dm}: difference {got}, expected {expected}"
        );
    }
    for set in ["sims", "real"] {
        let run = json(&dir.path().join("out").join(set).join("results.json"));
        assert_eq!(run["tests"][0]["metric"], "absolute error", "{set}");
    }
    // The same images scored as a classifier's do not compare with these,
    // and the refusal says why (it used to blame the levels, which match).
    let classified = sensie(&[
        "probe",
        "--model",
        model.to_str().unwrap(),
        "--data",
        &p("sims_x.npy"),
        "--labels",
        &p("sims_y.npy"),
        "--perturb",
        "magnitude=0,1,2.5",
        "--replicates",
        "200",
        "--out",
        &p("classified"),
        "--quiet",
    ]);
    assert!(classified.status.success(), "{}", stderr(&classified));
    let refused = sensie(&[
        "compare",
        &p("out/sims"),
        &p("classified"),
        "--out",
        &p("cmp"),
    ]);
    let err = stderr(&refused);
    assert!(
        !refused.status.success()
            && err.contains("absolute error against the correct-class probability")
            && err.contains("--task"),
        "{err}"
    );
}
