//! The probe end to end on the bundled MNIST CNN (examples/mnist): a known
//! sensitivity (rotation) is found, a perturbation that changes nothing
//! (saturation of a one-band image) and a property unrelated to the data are
//! called low, results are deterministic across batch sizes, and the output
//! files follow the contract.

use std::path::{Path, PathBuf};

use ndarray::{Array1, s};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use sensie::data::DataSpec;
use sensie::probe::{self, ProbeConfig, PropertySpec, SweepSpec};
use sensie::rng::SeededRng;
use sensie::stats::Verdict;

fn example(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/mnist")
        .join(rel)
}

/// The first `n` test digits as npy files, and a metadata CSV with a column
/// of random numbers that have nothing to do with the images.
fn subset(dir: &Path, n: usize) -> DataSpec {
    let x =
        ndarray::Array4::<f32>::read_npy(std::fs::File::open(example("data/test_x.npy")).unwrap())
            .unwrap();
    let y =
        Array1::<i64>::read_npy(std::fs::File::open(example("data/test_y.npy")).unwrap()).unwrap();
    x.slice(s![..n, .., .., ..])
        .to_owned()
        .write_npy(std::fs::File::create(dir.join("x.npy")).unwrap())
        .unwrap();
    y.slice(s![..n])
        .to_owned()
        .write_npy(std::fs::File::create(dir.join("y.npy")).unwrap())
        .unwrap();
    let mut rng = SeededRng::new(99, &[]);
    let rows: Vec<String> = (0..n).map(|i| format!("{i},{}", rng.uniform())).collect();
    std::fs::write(
        dir.join("meta.csv"),
        format!("id,noise\n{}\n", rows.join("\n")),
    )
    .unwrap();
    DataSpec {
        path: dir.join("x.npy"),
        labels: Some(dir.join("y.npy")),
        metadata: Some(dir.join("meta.csv")),
        metadata_key: Some("id".into()),
        ..DataSpec::default()
    }
}

fn config(dir: &Path, data: DataSpec, perturb: &[&str]) -> ProbeConfig {
    ProbeConfig {
        model: example("mnist_cnn.onnx"),
        out: dir.join("out"),
        data,
        perturb: perturb
            .iter()
            .map(|p| SweepSpec::parse(p).unwrap())
            .collect(),
        replicates: 500,
        ..ProbeConfig::default()
    }
}

#[test]
fn rotation_matters_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(
        dir.path(),
        subset(dir.path(), 300),
        &["rotate=0:180:5", "saturation=0,0.5,1"],
    );
    config.property = vec![PropertySpec::parse("noise=q4")];
    config.classes = true;
    let report = probe::execute(&config, &mut |_, _| {}).unwrap();
    let test = |name: &str| report.tests.iter().find(|t| t.name == name).unwrap();

    let rotate = test("rotate");
    assert_eq!(rotate.stats.verdict, Verdict::High);
    let levels = &rotate.stats.levels;
    assert_eq!(
        levels.iter().map(|l| l.value).collect::<Vec<_>>(),
        vec![0.0, 45.0, 90.0, 135.0, 180.0]
    );
    // Rotation 0 reuses the unperturbed pass: the model's held-out accuracy is 0.965.
    assert!(levels[0].accuracy.unwrap() > 0.9 && levels[2].accuracy.unwrap() < 0.5);
    assert!(rotate.stats.effect.largest_drop.unwrap().ci95[0] > 0.3);

    // Saturation of a one-band image is the identity at every level.
    let saturation = test("saturation");
    assert_eq!(saturation.stats.verdict, Verdict::Low);
    assert_eq!(saturation.stats.effect.size, 0.0);
    assert!(
        saturation
            .stats
            .levels
            .windows(2)
            .all(|w| w[0].mean_score == w[1].mean_score)
    );

    // Random numbers as a property: bins of different digits, no real effect.
    let noise = test("property:noise");
    assert_eq!(noise.stats.levels.len(), 4);
    assert_eq!(
        noise.stats.verdict,
        Verdict::Low,
        "{:?}",
        noise.stats.effect
    );
    assert_eq!(noise.stats.levels.iter().map(|l| l.n).sum::<usize>(), 300);

    let classes = test("classes");
    assert_eq!(classes.stats.levels.len(), 10);
    assert!(classes.stats.slope.is_none());

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/results.json")).unwrap())
            .unwrap();
    assert_eq!(json["data"]["n"], 300);
    let first = &json["tests"][0];
    for key in [
        "name",
        "kind",
        "parameter",
        "unit",
        "levels",
        "effect",
        "slope",
        "threshold",
        "verdict",
        "verdict_rule",
    ] {
        assert!(!first[key].is_null(), "results.json test lacks '{key}'");
    }
    for key in [
        "value",
        "n",
        "mean_score",
        "std_score",
        "score_ci95",
        "accuracy",
    ] {
        assert!(!first["levels"][0][key].is_null(), "a level lacks '{key}'");
    }
    assert_eq!(json["tests"][0]["kind"], "perturbation");
    assert!(json["tests"][2]["levels"][0]["lo"].is_number());
    let csv = std::fs::read_to_string(dir.path().join("out/results.csv")).unwrap();
    // Header, 5 + 3 sweep levels, 4 bins, 10 classes.
    assert_eq!(csv.lines().count(), 1 + 5 + 3 + 4 + 10);

    // The output directory now holds results: refused without --force.
    let err = probe::execute(&config, &mut |_, _| {})
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--force"), "{err}");
}

#[test]
fn noise_is_the_same_whatever_the_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let data = subset(dir.path(), 50);
    let run = |batch_size: usize, seed: u64| {
        let mut config = config(dir.path(), data.clone(), &["gaussian-noise=0.1,0.3"]);
        config.batch_size = batch_size;
        config.seed = seed;
        config.force = true;
        probe::execute(&config, &mut |_, _| {}).unwrap().tests[0]
            .stats
            .levels
            .iter()
            .map(|l| l.mean_score)
            .collect::<Vec<_>>()
    };
    let a = run(7, 1);
    assert_eq!(a, run(32, 1));
    assert_ne!(a, run(7, 2));
}

#[test]
fn bad_requests_are_refused_before_any_model_work() {
    let dir = tempfile::tempdir().unwrap();
    let data = subset(dir.path(), 10);
    let err = probe::execute(
        &config(dir.path(), data.clone(), &["blur=-1,1"]),
        &mut |_, _| {},
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("-1") && err.contains("blur"), "{err}");
    let err = SweepSpec::parse("rotat=0:1:2")
        .map(|s| {
            probe::plan(&ProbeConfig {
                perturb: vec![s],
                ..ProbeConfig::default()
            })
        })
        .unwrap()
        .err()
        .unwrap();
    assert!(err.to_string().contains("did you mean 'rotate'"), "{err}");
    let mut with_property = config(dir.path(), data, &[]);
    with_property.property = vec![PropertySpec::parse("nosie")];
    let err = probe::execute(&with_property, &mut |_, _| {})
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("did you mean 'noise'"), "{err}");
}

/// (top, bottom) of a chart's plot area in pixels: the ends of its y axis,
/// the vertical axis-coloured line that spans the plot.
fn plot_area(doc: &roxmltree::Document) -> (f64, f64) {
    let number = |n: &roxmltree::Node, a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
    let axis = doc
        .descendants()
        .filter(|n| n.has_tag_name("line") && n.attribute("stroke") == Some("#333333"))
        .filter(|n| n.attribute("x1") == n.attribute("x2"))
        .max_by(|a, b| {
            (number(a, "y2") - number(a, "y1")).total_cmp(&(number(b, "y2") - number(b, "y1")))
        })
        .unwrap();
    (number(&axis, "y1"), number(&axis, "y2"))
}

#[test]
fn the_report_draws_what_the_run_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), subset(dir.path(), 60), &["rotate=0:180:5"]);
    config.property = vec![PropertySpec::parse("noise=q4")];
    config.classes = true;
    config.replicates = 200;
    let report = probe::execute(&config, &mut |_, _| {}).unwrap();
    let out = dir.path().join("out");
    probe::write_report(
        &out,
        &report,
        &config,
        "sensie probe --perturb rotate=0:180:5",
    )
    .unwrap();
    let rotate = &report.tests[0];

    // The sweep's chart: one point per level, at its mean score on the
    // chart's fixed 0 to 1 axis, and the same SVG on disk.
    let svg = probe::chart(rotate);
    assert_eq!(
        std::fs::read_to_string(out.join("plots/rotate.svg")).unwrap(),
        svg
    );
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let (top, bottom) = plot_area(&doc);
    let score_line = doc
        .descendants()
        .find(|n| n.has_tag_name("polyline"))
        .unwrap();
    let ys: Vec<f64> = score_line
        .attribute("points")
        .unwrap()
        .split(' ')
        .map(|p| p.split_once(',').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(ys.len(), rotate.stats.levels.len());
    for (y, level) in ys.iter().zip(&rotate.stats.levels) {
        let expected = bottom - level.mean_score * (bottom - top);
        assert!(
            (y - expected).abs() < 0.01,
            "point at {y}, mean score {} puts it at {expected}",
            level.mean_score
        );
    }
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(
        texts.contains(&"angle (degrees)") && texts.contains(&"unperturbed"),
        "{texts:?}"
    );
    // The threshold's crossing is drawn where a test found an effect, and
    // only there: rotation's is; a low verdict's chance crossing is not.
    assert!(texts.iter().any(|t| t.ends_with(" crossed")), "{texts:?}");
    for test in &report.tests {
        let crossing = test
            .stats
            .threshold
            .as_ref()
            .is_some_and(|t| t.value.is_some());
        let drawn = probe::chart(test).contains(" crossed<");
        assert_eq!(
            drawn,
            crossing && test.stats.verdict != sensie::stats::Verdict::Low,
            "{}",
            test.name
        );
    }

    // The example grid: the tile of example 0 at rotation 0 is the raw image
    // through the row's stretch (fitted over the example at every level),
    // enlarged to 112 pixels; at 90 degrees the tile differs.
    let grid = image::open(out.join("examples/rotate.png"))
        .unwrap()
        .to_rgb8();
    let plan = probe::plan(&config).unwrap();
    assert_eq!(
        grid,
        probe::example_grid(&plan.sweeps[0], report.examples.view(), report.seed).unwrap()
    );
    let first = report.examples.slice(s![0..1, .., .., ..]);
    let mut row: Vec<f32> = Vec::new();
    for &angle in &plan.sweeps[0].values {
        let perturbed = sensie::perturb::perturb_batch(
            plan.sweeps[0].perturbation.as_ref(),
            first,
            angle,
            report.seed,
            0,
        )
        .unwrap();
        row.extend(perturbed.iter());
    }
    let scale = probe::EXAMPLE_STRETCH.fit(row).unwrap();
    let how = sensie::render::Composite {
        bands: None,
        colouring: sensie::render::Colouring::Scale(scale),
    };
    let unperturbed =
        sensie::render::composite(report.examples.slice(s![0, .., .., ..]), &how).unwrap();
    let expected = sensie::render::upscale(&unperturbed, 4).unwrap();
    let tile = |column: u32| {
        image::imageops::crop_imm(&grid, 4 + column * (112 + 4), 4, 112, 112).to_image()
    };
    assert_eq!(tile(0), expected);
    assert_ne!(tile(2), expected);
    assert_eq!(grid.dimensions(), (5 * 116 + 4, 4 * 116 + 4));

    // The class test's grid: a row per class, the first 4 digits of that
    // class (in the data's order) in it, each with its own stretch.
    let classes = report.tests.iter().find(|t| t.name == "classes").unwrap();
    let grid = image::open(out.join("examples/classes.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(grid, probe::group_grid(&classes.group_examples).unwrap());
    assert_eq!(
        grid.dimensions(),
        (4 * 116 + 4, 10 * 116 + 4),
        "10 digit classes"
    );
    let digits =
        ndarray::Array4::<f32>::read_npy(std::fs::File::open(dir.path().join("x.npy")).unwrap())
            .unwrap();
    let labels =
        Array1::<i64>::read_npy(std::fs::File::open(dir.path().join("y.npy")).unwrap()).unwrap();
    let first_seven = labels.iter().position(|&l| l == 7).unwrap();
    let image = digits.slice(s![first_seven, .., .., ..]);
    let how = sensie::render::Composite {
        bands: None,
        colouring: sensie::render::Colouring::Scale(
            probe::EXAMPLE_STRETCH.fit(image.iter().copied()).unwrap(),
        ),
    };
    let expected =
        sensie::render::upscale(&sensie::render::composite(image, &how).unwrap(), 4).unwrap();
    assert_eq!(
        image::imageops::crop_imm(&grid, 4, 4 + 7 * 116, 112, 112).to_image(),
        expected
    );

    // The page: well-formed, a summary row per test, and every test's chart inline.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let page = roxmltree::Document::parse(html.trim_start_matches("<!DOCTYPE html>")).unwrap();
    let cells: Vec<&str> = page
        .descendants()
        .filter(|n| n.has_tag_name("td"))
        .filter_map(|n| n.text())
        .collect();
    for test in &report.tests {
        assert!(
            cells.contains(&test.name.as_str()),
            "no summary row for {}",
            test.name
        );
        let title = format!("{}: {}", test.name, test.metric);
        let chart = page
            .descendants()
            .filter(|n| n.has_tag_name("svg"))
            .find(|svg| svg.descendants().any(|t| t.text() == Some(&title)));
        assert!(chart.is_some(), "no chart titled {title}");
    }
    let grids = page.descendants().filter(|n| n.has_tag_name("img")).count();
    assert_eq!(
        grids, 3,
        "an example grid for the sweep, the property and the classes"
    );
    assert!(
        page.descendants().any(|n| n
            .text()
            .is_some_and(|t| t.contains(sensie::stats::VERDICT_RULE))),
        "the verdict rule is on the page"
    );
}

/// A test with many groups shows example rows for the first 20 only, and
/// its caption says so: the 60 digits' ids as a discrete property are 60
/// groups of one digit each.
#[test]
fn example_grids_show_at_most_twenty_groups() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), subset(dir.path(), 60), &[]);
    config.property = vec![PropertySpec::parse("id=discrete")];
    config.replicates = 100;
    let report = probe::execute(&config, &mut |_, _| {}).unwrap();
    let ids = &report.tests[0];
    assert_eq!(ids.stats.levels.len(), 60);
    assert_eq!(ids.group_examples.len(), 20);
    assert!(ids.group_examples.iter().all(|g| g.dim().0 == 1));
    let out = dir.path().join("out");
    probe::write_report(
        &out,
        &report,
        &config,
        "sensie probe --property id=discrete",
    )
    .unwrap();
    let grid = image::open(out.join("examples/property_id.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(grid.dimensions(), (4 * 116 + 4, 20 * 116 + 4));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Only the first 20 of 60 groups are shown."));
}
