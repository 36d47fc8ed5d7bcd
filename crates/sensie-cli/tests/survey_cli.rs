//! Survey cutouts through the commands: FITS extensions, masks, weights and
//! bands picked by flags shared by every command that reads data; example
//! names (id and stem) in results.json and explain.json; a catalogue joined
//! by object name; a non-finite score that names its file.

mod common;

use common::{repo, sensie, stderr};

fn survey(rel: &str) -> String {
    repo(&format!("crates/sensie/tests/data/survey/{rel}"))
}

/// The flags that read tests/data/survey/mef: the SCI extension(s), their
/// g, r, i bands by FILTER, the MASK and WEIGHT extensions, and the lens
/// finder's 64 x 64 input reached by resizing the 8 x 8 cutouts.
fn mef_flags() -> Vec<String> {
    let flags = [
        "--data",
        &survey("mef"),
        "--hdu",
        "SCI",
        "--mask-hdu",
        "MASK",
        "--weight-hdu",
        "WEIGHT",
        "--bands",
        "g,r,i",
        "--fit",
        "resize",
    ];
    flags.iter().map(|s| s.to_string()).collect()
}

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn probe_joins_a_catalogue_by_object_name_and_names_the_examples() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut args = vec![
        "probe".to_string(),
        "--model".into(),
        repo("examples/lens/lens_finder.onnx"),
    ];
    args.extend(mef_flags());
    let catalogue = survey("catalogue.csv");
    let out_dir = out.to_str().unwrap();
    args.extend(
        [
            "--metadata",
            &catalogue,
            "--metadata-key",
            "object",
            "--property",
            "einstein_radius=discrete",
            "--replicates",
            "200",
            "--out",
            out_dir,
            "--quiet",
        ]
        .map(String::from),
    );
    let refused = sensie(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(
        err.contains("2 of 4 images hold 9 bad pixel(s)") && err.contains("nonlens/m002.fits.gz"),
        "{err}"
    );

    args.push("--skip-bad".into());
    let run = sensie(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(run.status.success(), "{}", stderr(&run));
    let results = json(&out.join("results.json"));
    assert_eq!(
        results["data"]["skipped"],
        serde_json::json!(["nonlens/m002.fits.gz", "nonlens/m003.fits.gz"])
    );
    assert_eq!(
        results["data"]["shown"][1],
        serde_json::json!({"id": "lens/m001.fits.gz", "stem": "m001"})
    );
    // The catalogue gives m000 1.4 and m001 1.5: one group each, named.
    let property = &results["tests"][0];
    let values: Vec<f64> = property["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [1.4, 1.5]);
    assert_eq!(property["shown"][1][0]["stem"], "m001");
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        page.contains("lens/m000.fits.gz"),
        "the example grid's caption names its examples"
    );
}

#[test]
fn explain_and_predict_read_with_the_same_flags_and_explain_names_its_examples() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "explain".to_string(),
        "--model".into(),
        repo("examples/lens/lens_finder.onnx"),
    ];
    args.extend(mef_flags());
    args.extend(
        [
            "--skip-bad",
            "--method",
            "saliency",
            "--target",
            "predicted",
            "--out",
            dir.path().to_str().unwrap(),
        ]
        .map(String::from),
    );
    let run = sensie(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(run.status.success(), "{}", stderr(&run));
    let summary = json(&dir.path().join("explain.json"));
    assert_eq!(
        summary["names"][0],
        serde_json::json!({"id": "lens/m000.fits.gz", "stem": "m000"})
    );
    assert_eq!(summary["names"].as_array().unwrap().len(), 2);

    let preds = dir.path().join("preds.npy");
    let mut args = vec![
        "predict".to_string(),
        "--model".into(),
        repo("examples/lens/lens_finder.onnx"),
    ];
    args.extend(mef_flags());
    args.extend(["--out", preds.to_str().unwrap()].map(String::from));
    let run = sensie(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        run.status.code(),
        Some(1),
        "bad pixels are refused without --skip-bad"
    );
    assert!(stderr(&run).contains("m002.fits.gz"), "{}", stderr(&run));
}

#[test]
fn a_non_finite_score_names_the_examples_file_and_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let seven = dir.path().join("digits/seven");
    std::fs::create_dir_all(&seven).unwrap();
    for name in ["a.png", "b.png"] {
        image::GrayImage::from_fn(28, 28, |x, y| image::Luma([((x * y) % 256) as u8]))
            .save(seven.join(name))
            .unwrap();
    }
    // A scale of 1e36 keeps 255 finite (2.55e38, refused before the model
    // if it were not), but the logits, then the softmax, become NaN.
    let run = sensie(&[
        "probe",
        "--model",
        &repo("examples/mnist/mnist_cnn.onnx"),
        "--data",
        dir.path().join("digits").to_str().unwrap(),
        "--scale",
        "1e36",
        "--classes",
        "--out",
        dir.path().join("out").to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(run.status.code(), Some(1));
    let err = stderr(&run);
    assert!(
        err.contains("'seven/a.png'")
            && err.contains("NaN")
            && err.contains("pixels")
            && err.contains("--scale"),
        "{err}"
    );
}

/// The lens example's survey cutouts (examples/lens/data/cutouts) hold the
/// first 16 images of test.npz. The gzip'd float32 ones are lossless, so the
/// model's outputs on them must equal its outputs on the .npz arrays exactly,
/// whichever order their headers store the bands in (sim05011 is i, r, g).
#[test]
fn the_lens_examples_lossless_cutouts_predict_as_the_npz_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let predict = |data: &str, out: &str, extra: &[&str]| {
        let out = dir.path().join(out);
        let mut args = vec![
            "predict",
            "--model",
            "examples/lens/lens_finder.onnx",
            "--data",
            data,
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_sensie"))
            .current_dir(repo(""))
            .args(&args)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", stderr(&run));
        ndarray_npy::read_npy::<_, ndarray::Array2<f32>>(out).unwrap()
    };
    let cutouts = predict(
        "examples/lens/data/cutouts",
        "cutouts.npy",
        &["--bands", "g,r,i"],
    );
    let arrays = predict("examples/lens/data/test.npz", "npz.npy", &[]);
    // Folder order: lens/sim05001, sim05002, sim05003 (.fits.gz, g r i), ..., sim05011 (.fits.gz, i r g).
    for (row, index) in [(2, 3), (8, 11)] {
        assert_eq!(
            cutouts.row(row),
            arrays.row(index),
            "cutout row {row} against test.npz example {index}"
        );
    }
}
