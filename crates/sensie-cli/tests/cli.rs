//! The `sensie` binary end to end: what a user types, what they get back,
//! and the exit status.

mod common;

use std::process::Command;

use common::{repo, sensie, stderr};
use ndarray::{Array2, Array4, ArrayD};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

#[test]
fn inspect_marks_convolutional_layers_with_their_shapes() {
    let out = sensie(&["inspect", "--model", &repo("examples/mnist/mnist_cnn.onnx")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("input   input [N, 1, 28, 28] NCHW"), "{text}");
    assert!(
        text.contains("Conv [conv]") && text.contains("[N, 16, 14, 14]"),
        "{text}"
    );
    assert!(text.contains("Logits (detected)"), "{text}");
}

#[test]
fn inspect_json_lists_every_node() {
    let out = sensie(&[
        "inspect",
        "--model",
        &repo("examples/mnist/mnist_cnn.onnx"),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let nodes = doc["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 10);
    let convs: Vec<&str> = nodes
        .iter()
        .filter(|n| n["convolutional"] == true)
        .map(|n| n["op"].as_str().unwrap())
        .collect();
    assert_eq!(convs, ["Conv", "Conv"]);
    assert_eq!(
        nodes[5]["outputs"][0]["shape"],
        serde_json::json!([null, 16, 7, 7])
    );
    assert_eq!(doc["model"]["info"]["layout"], "NCHW");
}

#[test]
fn predict_writes_the_models_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let x: ArrayD<f32> =
        ArrayD::read_npy(std::fs::File::open(repo("examples/mnist/data/test_x.npy")).unwrap())
            .unwrap();
    let y: ArrayD<i64> =
        ArrayD::read_npy(std::fs::File::open(repo("examples/mnist/data/test_y.npy")).unwrap())
            .unwrap();
    let out_path = dir.path().join("preds.npy");
    let out = sensie(&[
        "predict",
        "--model",
        &repo("examples/mnist/mnist_cnn.onnx"),
        "--data",
        &repo("examples/mnist/data/test_x.npy"),
        "--out",
        out_path.to_str().unwrap(),
        "--batch-size",
        "64",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let preds = Array2::<f32>::read_npy(std::fs::File::open(&out_path).unwrap()).unwrap();
    assert_eq!(preds.dim(), (x.shape()[0], 10));
    // The committed model card says 96.5% held-out accuracy on these digits.
    let correct = preds
        .rows()
        .into_iter()
        .zip(y.iter())
        .filter(|(row, label)| {
            row.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0
                == **label as usize
        })
        .count();
    assert_eq!(correct, 965, "accuracy differs from the model card");
}

/// Images are read and prepared as `probe` reads them: the digits as 8-bit
/// NHWC with `--scale 1/255` give the float NCHW digits' outputs.
#[test]
fn predict_prepares_images_with_the_data_flags() {
    let dir = tempfile::tempdir().unwrap();
    let x: Array4<f32> =
        Array4::read_npy(std::fs::File::open(repo("examples/mnist/data/test_x.npy")).unwrap())
            .unwrap();
    let x = x.slice(ndarray::s![..20, .., .., ..]).to_owned();
    let float_path = dir.path().join("float.npy");
    x.write_npy(std::fs::File::create(&float_path).unwrap())
        .unwrap();
    let bytes = x
        .permuted_axes([0, 2, 3, 1])
        .mapv(|v| (v * 255.0).round() as u8)
        .as_standard_layout()
        .into_owned();
    let bytes_path = dir.path().join("bytes.npy");
    bytes
        .write_npy(std::fs::File::create(&bytes_path).unwrap())
        .unwrap();
    let predict = |data: &std::path::Path, extra: &[&str], out: &str| {
        let out_path = dir.path().join(out);
        let mut args = vec!["predict", "--model", &repo("examples/mnist/mnist_cnn.onnx")]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        args.extend(
            [
                "--data",
                data.to_str().unwrap(),
                "--out",
                out_path.to_str().unwrap(),
            ]
            .map(String::from),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = sensie(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "{}", stderr(&out));
        Array2::<f32>::read_npy(std::fs::File::open(out_path).unwrap()).unwrap()
    };
    let reference = predict(&float_path, &[], "a.npy");
    let prepared = predict(
        &bytes_path,
        &["--data-layout", "nhwc", "--scale", "0.003921569"],
        "b.npy",
    );
    let worst = (&reference - &prepared)
        .mapv(f32::abs)
        .fold(0.0f32, |m, &v| m.max(v));
    // The stored digits are multiples of 1/255, so only float rounding differs.
    assert!(worst < 1e-4, "largest logit difference {worst}");
}

#[test]
fn predict_refuses_data_of_the_wrong_shape() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("wrong.npy");
    ndarray::Array4::<f32>::zeros((4, 3, 28, 28))
        .write_npy(std::fs::File::create(&data).unwrap())
        .unwrap();
    let out = sensie(&[
        "predict",
        "--model",
        &repo("examples/mnist/mnist_cnn.onnx"),
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.path().join("p.npy").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("wrong.npy") && err.contains("[N, 1, 28, 28]"),
        "{err}"
    );
    assert!(
        !dir.path().join("p.npy").exists(),
        "no output is written on error"
    );
}

#[test]
fn a_model_that_is_not_onnx_exits_non_zero_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, [0xffu8; 64]).unwrap();
    let out = sensie(&["inspect", "--model", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("model.onnx") && stderr(&out).contains("not a valid ONNX model"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unknown_option_is_refused() {
    let out = sensie(&["predict", "--modle", "x.onnx"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--modle"), "{}", stderr(&out));
}

#[test]
fn a_missing_onnx_runtime_library_says_what_to_do() {
    let out = Command::new(env!("CARGO_BIN_EXE_sensie"))
        .args(["inspect", "--model", &repo("examples/mnist/mnist_cnn.onnx")])
        .env("SENSIE_ORT_LIB", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("SENSIE_ORT_LIB") && err.contains("/nonexistent/libonnxruntime.so"),
        "{err}"
    );
}

// `sensie probe` and `sensie perturbations`: what lands in --out, and the exit status.

#[test]
fn perturbations_lists_every_builtin_with_its_unit() {
    let out = sensie(&["perturbations", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 17);
    assert!(names.contains(&"magnitude") && names.contains(&"poisson-noise"));
    let text = String::from_utf8_lossy(&sensie(&["perturbations"]).stdout).into_owned();
    assert!(text.contains("dm (magnitudes); unchanged at 0"), "{text}");
}

#[test]
fn a_config_file_and_flags_make_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("probe.toml");
    let out = dir.path().join("out");
    std::fs::write(
        &config,
        format!(
            r#"
model = "{model}"
replicates = 200
[data]
path = "{x}"
labels = "{y}"
[[perturb]]
name = "translate"
values = [0, 3, 6]
options = {{ direction = 90, interpolation = "nearest" }}
"#,
            model = repo("examples/mnist/mnist_cnn.onnx"),
            x = repo("examples/mnist/data/test_x.npy"),
            y = repo("examples/mnist/data/test_y.npy"),
        ),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "probe",
            "--config",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ];
        args.extend_from_slice(extra);
        sensie(&args)
    };
    let first = run(&["--perturb", "magnitude=0,1"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).is_empty(),
        "--quiet prints nothing on stderr: {}",
        stderr(&first)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let tests = json["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2);
    assert_eq!(tests[0]["options"]["direction"], "90");
    assert_eq!(tests[1]["unit"], "magnitudes");

    let again = run(&[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    assert!(run(&["--force"]).status.success());
}

#[test]
fn unknown_perturbations_and_options_list_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        "probe",
        "--model",
        &repo("examples/mnist/mnist_cnn.onnx"),
        "--data",
        &repo("examples/mnist/data/test_x.npy"),
        "--labels",
        &repo("examples/mnist/data/test_y.npy"),
        "--out",
        dir.path().to_str().unwrap(),
    ];
    let with = |perturb: &str| {
        let mut args = base.to_vec();
        args.extend(["--perturb", perturb]);
        sensie(&args)
    };
    let out = with("gausian-noise=0,1");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("did you mean 'gaussian-noise'"),
        "{}",
        stderr(&out)
    );
    let out = with("rotate(fil=1)=0,90");
    assert!(
        stderr(&out).contains("valid: interpolation, fill"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("results.json").exists());
}

/// The lens example's regression config end to end: the Einstein-radius
/// regressor on the lenses of the mixed test set (`only = "class=lens"`),
/// scored by absolute error. The unperturbed mean squared error must equal the
/// one its training script computed in PyTorch (einstein-radius-card.json).
#[test]
fn a_regression_model_is_probed_on_the_lenses_of_a_mixed_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Run from elsewhere: the config's own paths are taken from its folder,
    // the command line's `--out out` from the working directory.
    let run = Command::new(env!("CARGO_BIN_EXE_sensie"))
        .current_dir(dir.path())
        .args([
            "probe",
            "--config",
            &repo("examples/lens/regression.toml"),
            "--out",
            "out",
            "--replicates",
            "200",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let card: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo("examples/lens/einstein-radius-card.json")).unwrap(),
    )
    .unwrap();
    let reference = &card["committed_test_lenses"];
    assert_eq!(
        json["data"]["n"], reference["n"],
        "only the lenses are probed"
    );
    let tests = json["tests"].as_array().unwrap();
    let rotate = tests.iter().find(|t| t["name"] == "rotate").unwrap();
    assert_eq!(rotate["metric"], "absolute error");
    let level = |t: &serde_json::Value, value: f64| {
        t["levels"]
            .as_array()
            .unwrap()
            .iter()
            .position(|l| l["value"] == value)
            .unwrap()
    };
    let mse = rotate["squared_error"][level(rotate, 0.0)]
        .as_f64()
        .unwrap();
    let bias = rotate["bias"][level(rotate, 0.0)].as_f64().unwrap();
    let (want_mse, want_bias) = (
        reference["mse"].as_f64().unwrap(),
        reference["bias_arcsec"].as_f64().unwrap(),
    );
    // float32 ONNX Runtime against float32 PyTorch, summed in float64: 1e-4 relative.
    assert!(
        (mse - want_mse).abs() <= 1e-4 * want_mse,
        "MSE {mse} against PyTorch's {want_mse}"
    );
    assert!(
        (bias - want_bias).abs() <= 1e-4,
        "bias {bias} against PyTorch's {want_bias} (rounded to 1e-5)"
    );
    let radius = tests
        .iter()
        .find(|t| t["name"] == "property:einstein_radius")
        .unwrap();
    assert_eq!(
        radius["bias"].as_array().unwrap().len(),
        radius["levels"].as_array().unwrap().len()
    );
    let seeing = tests.iter().find(|t| t["name"] == "seeing").unwrap();
    assert_eq!(seeing["squared_error"].as_array().unwrap().len(), 5);
}

/// The shared flags read the same in every command that takes them, with
/// the library's defaults, and the configs' defaults are those constants.
#[test]
fn shared_flags_have_one_meaning_and_the_library_defaults() {
    let batch = format!(
        "The most examples per ONNX Runtime call [default: {}]",
        sensie::engine::DEFAULT_BATCH_SIZE
    );
    let commands: [&[&str]; 7] = [
        &["explain"],
        &["predict"],
        &["visualize", "kernels"],
        &["visualize", "features"],
        &["visualize", "maximize"],
        &["visualize", "dream"],
        &["merge"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let out = sensie(&args);
        assert!(out.status.success(), "{command:?}: {}", stderr(&out));
        let help = String::from_utf8_lossy(&out.stdout);
        // A flag's entry: its line, and those below it where clap puts
        // long helps, up to the next flag.
        let lines: Vec<&str> = help.lines().collect();
        let line = |flag: &str| {
            let at = lines
                .iter()
                .position(|l| l.trim_start().starts_with(flag))?;
            let rest = lines[at + 1..]
                .iter()
                .take_while(|l| !l.trim_start().starts_with('-'));
            let entry: Vec<&str> = std::iter::once(&lines[at])
                .chain(rest)
                .flat_map(|l| l.split_whitespace())
                .collect();
            Some(entry.join(" "))
        };
        if command[0] != "merge" {
            let model = line("--model <MODEL>").unwrap_or_else(|| panic!("{command:?}: {help}"));
            assert!(model.ends_with("The ONNX model"), "{command:?}: {model}");
            let threads = line("--threads <THREADS>").unwrap();
            assert!(
                threads.ends_with("Threads per operator (0: one per core) [default: 0]"),
                "{command:?}: {threads}"
            );
        }
        if matches!(command[0], "explain" | "predict") {
            let line = line("--batch-size").unwrap();
            assert!(line.ends_with(&batch), "{command:?}: {line}");
        }
        assert!(line("--out <OUT>").is_some(), "{command:?}");
        assert!(line("--force").is_some(), "{command:?}");
    }
    let probe = sensie::probe::ProbeConfig::default();
    assert_eq!(probe.batch_size, sensie::probe::DEFAULT_BATCH_SIZE);
    assert_eq!(probe.replicates, sensie::stats::DEFAULT_REPLICATES);
    assert_eq!(sensie::probe::RunOptions::default().replicates, 2000);
    assert_eq!(sensie::stats::Settings::default().replicates, 2000);
    assert_eq!(sensie::explain::run::Settings::default().batch_size, 32);
}

/// ONNX Runtime's telemetry keeps a device id and an event store under
/// `$XDG_CACHE_HOME/Microsoft` (`~/.cache` when that is unset) unless it is
/// turned off before it loads: sensie turns it off, and a user who sets the
/// variable to 0 keeps it. Both are pinned to a fresh folder, so the test
/// sees the writes wherever the machine's own cache lives. ONNX Runtime also
/// stays quiet by itself on a machine that looks like CI (`CI`,
/// `GITHUB_ACTIONS`, `JENKINS_URL`, `GITLAB_CI`, `TF_BUILD`, ...), so the
/// child gets a cleared environment: otherwise
/// the positive control (`=0` writes) fails on exactly the machines that run
/// the tests.
#[test]
fn onnx_runtimes_telemetry_is_off_unless_the_user_asks_for_it() {
    let run = |home: &std::path::Path, telemetry: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sensie"));
        let cache = home.join("cache");
        command.env_clear();
        for kept in [
            "PATH",
            "LD_LIBRARY_PATH",
            "SENSIE_ORT_LIB",
            "ORT_DYLIB_PATH",
        ] {
            if let Some(value) = std::env::var_os(kept) {
                command.env(kept, value);
            }
        }
        command
            .env("HOME", home)
            .env("XDG_CACHE_HOME", &cache)
            .args([
                "predict",
                "--model",
                &repo("examples/mnist/mnist_cnn.onnx"),
                "--data",
                &repo("examples/mnist/data/test_x.npy"),
                "--out",
                home.join("preds.npy").to_str().unwrap(),
            ]);
        if let Some(value) = telemetry {
            command.env("ORT_DISABLE_TELEMETRY", value);
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        cache.join("Microsoft").exists() || home.join(".cache/Microsoft").exists()
    };
    let home = tempfile::tempdir().unwrap();
    assert!(!run(home.path(), None), "telemetry wrote to the cache");
    let home = tempfile::tempdir().unwrap();
    assert!(
        run(home.path(), Some("0")),
        "ORT_DISABLE_TELEMETRY=0 should leave ONNX Runtime's telemetry on"
    );
}
