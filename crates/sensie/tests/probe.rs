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
    // A config file's threads are held to --threads' limit.
    let err = probe::plan(&ProbeConfig {
        threads: 4000,
        ..config(dir.path(), data.clone(), &["rotate=0,90"])
    })
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("threads 4000") && err.contains("at most 1024"),
        "{err}"
    );
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

/// A property whose first group is already below the threshold "crossed"
/// it there with a point interval ("crosses 0.552 at 0 [0.000, 0.000]"),
/// which reads as a measured crossing. The page now says where the curve
/// starts instead.
#[test]
fn a_property_that_starts_below_its_threshold_is_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = subset(dir.path(), 60);
    // The first 30 digits get a wrong label, so their correct-class
    // probability is near 0; the column says which (0 = wrong), so the
    // property's first group is its worst.
    let y = Array1::<i64>::read_npy(std::fs::File::open(dir.path().join("y.npy")).unwrap())
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, &l)| if i < 30 { (l + 1) % 10 } else { l })
        .collect::<Array1<i64>>();
    y.write_npy(std::fs::File::create(dir.path().join("y.npy")).unwrap())
        .unwrap();
    let rows: Vec<String> = (0..60)
        .map(|i| format!("{i},{}", u8::from(i >= 30)))
        .collect();
    std::fs::write(
        dir.path().join("meta.csv"),
        format!("id,right\n{}\n", rows.join("\n")),
    )
    .unwrap();
    let mut config = config(dir.path(), data, &[]);
    config.property = vec![PropertySpec::parse("right=discrete")];
    config.replicates = 200;
    let report = probe::execute(&config, &mut |_, _| {}).unwrap();
    let test = &report.tests[0];
    let threshold = test.stats.threshold.as_ref().unwrap();
    let (wrong, right) = (&test.stats.levels[0], &test.stats.levels[1]);
    assert!(wrong.mean_score < threshold.score && threshold.score < right.mean_score);
    let out = dir.path().join("out");
    probe::write_report(&out, &report, "sensie probe --property right=discrete").unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("crosses"), "a crossing is claimed");
    assert!(
        html.contains(&format!(
            "The mean score is already below {:.3} at the first group, right = 0.",
            threshold.score
        )),
        "{}",
        &html[html.find("Verdict").unwrap()..][..400]
    );
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
    probe::write_report(&out, &report, "sensie probe --perturb rotate=0:180:5").unwrap();
    let rotate = &report.tests[0];
    // Classes have no order: their section names no parameter value where
    // the score is crossed ("crosses 0.821 at 0.000 [0.000, 0.000]").
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    // The sweep's example grid names its rows (example and label) and columns.
    let labels: Vec<i64> =
        Array1::<i64>::read_npy(std::fs::File::open(dir.path().join("y.npy")).unwrap())
            .unwrap()
            .to_vec();
    assert!(
        html.contains(&format!(
            "top to bottom: example 0, label {}; example 1, label {}",
            labels[0], labels[1]
        )),
        "row labels"
    );
    assert!(html.contains("angle = 0, 45, 90, 135, 180 (columns, left to right)"));
    let classes = &html[html.find("classes (class)").unwrap()..];
    assert!(!classes[..classes.find("<svg").unwrap()].contains("crosses"));

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
    let rows = probe::example_rows(&report);
    assert_eq!(
        rows[0],
        format!(
            "example {}, label {}",
            report.data.shown[0].id, report.example_labels[0]
        )
    );
    let drawn = probe::example_grid(&report.tests[0], &rows).unwrap();
    assert_eq!(grid, drawn.image);
    // The tiles begin after the bands of headings (the levels) and row labels
    // (where a font is installed), which hold text: dark pixels on white.
    let (ox, oy) = drawn.origin;
    if sensie::testing::fonts_available() {
        let dark = |xs: std::ops::Range<u32>, ys: std::ops::Range<u32>| {
            xs.flat_map(|x| ys.clone().map(move |y| (x, y)))
                .filter(|&(x, y)| grid.get_pixel(x, y).0[0] < 128)
                .count()
        };
        assert!(ox > 0 && oy > 0, "{:?}", drawn.origin);
        for column in 0..5 {
            let x = ox + 4 + column * 116;
            assert!(dark(x..x + 112, 0..oy) > 10, "heading of level {column}");
        }
        for row in 0..4 {
            let y = oy + 4 + row * 116;
            assert!(dark(0..ox, y..y + 112) > 20, "label of example {row}");
        }
    }
    // The run kept its first examples at every level as it perturbed them
    // (the raw images at the identity), so the report perturbs nothing again.
    let mut row: Vec<f32> = Vec::new();
    assert_eq!(report.tests[0].level_examples.len(), 5);
    for (level, &angle) in plan.sweeps[0].values.iter().enumerate() {
        let perturbed = sensie::perturb::perturb_batch(
            plan.sweeps[0].perturbation.as_ref(),
            report.examples.view(),
            angle,
            report.seed,
            0,
        )
        .unwrap();
        let kept = &report.tests[0].level_examples[level];
        assert_eq!(kept.dim(), report.examples.dim(), "level {level}");
        if angle == 0.0 {
            assert_eq!(kept, &report.examples, "the identity is the raw images");
        } else {
            assert_eq!(kept, &perturbed, "level {level}");
        }
        row.extend(perturbed.slice(s![0..1, .., .., ..]).iter());
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
        image::imageops::crop_imm(&grid, ox + 4 + column * (112 + 4), oy + 4, 112, 112).to_image()
    };
    assert_eq!(tile(0), expected);
    assert_ne!(tile(2), expected);
    assert_eq!(grid.dimensions(), (ox + 5 * 116 + 4, oy + 4 * 116 + 4));

    // The class test's grid: a row per class, the first 4 digits of that
    // class (in the data's order) in it, each with its own stretch.
    let classes = report.tests.iter().find(|t| t.name == "classes").unwrap();
    let grid = image::open(out.join("examples/classes.png"))
        .unwrap()
        .to_rgb8();
    let drawn = probe::group_grid(&classes.group_examples, &probe::group_names(classes)).unwrap();
    assert_eq!(grid, drawn.image);
    let (ox, oy) = drawn.origin;
    assert_eq!(oy, 0, "no column headings");
    assert_eq!(
        grid.dimensions(),
        (ox + 4 * 116 + 4, 10 * 116 + 4),
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
        image::imageops::crop_imm(&grid, ox + 4, 4 + 7 * 116, 112, 112).to_image(),
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
    probe::write_report(&out, &report, "sensie probe --property id=discrete").unwrap();
    let grid = image::open(out.join("examples/property_id.png"))
        .unwrap()
        .to_rgb8();
    // 20 rows, each labelled with its group (a band left of the tiles).
    let drawn = probe::group_grid(&ids.group_examples, &probe::group_names(ids)).unwrap();
    assert_eq!(grid, drawn.image);
    assert_eq!(probe::group_names(ids).len(), 20);
    assert_eq!(
        grid.dimensions(),
        (drawn.origin.0 + 4 * 116 + 4, 20 * 116 + 4)
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Only the first 20 of 60 groups are shown."));
}

#[test]
fn poisson_noise_sweeps_may_start_at_infinite_gain() {
    // inf is poisson-noise's identity value: that level is the unperturbed
    // image, so its mean score is the reference exactly.
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        subset(dir.path(), 30),
        &["poisson-noise=inf,100,5"],
    );
    let report = probe::execute(&config, &mut |_, _| {}).unwrap();
    let stats = &report.tests[0].stats;
    assert_eq!(stats.levels[0].value, f64::INFINITY);
    assert_eq!(
        Some(stats.levels[0].mean_score),
        stats.effect.reference_mean
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/results.json")).unwrap())
            .unwrap();
    assert_eq!(json["tests"][0]["levels"].as_array().unwrap().len(), 3);
    // A threshold between the noise-free level and gain 100: the crossing
    // lies above 100 (interpolated in 1 / gain), not NaN from inf - inf.
    let (m0, m1) = (stats.levels[0].mean_score, stats.levels[1].mean_score);
    assert!(m1 < m0, "gain 100 lowers the score: {m0} {m1}");
    let mut at = config.clone();
    at.threshold = Some((m0 + m1) / 2.0);
    at.out = dir.path().join("at");
    let report = probe::execute(&at, &mut |_, _| {}).unwrap();
    let crossing = report.tests[0].stats.threshold.clone().unwrap();
    let value = crossing.value.unwrap();
    assert!(value > 100.0 && value.is_finite(), "{value}");
    let [lo, hi] = crossing.ci95.unwrap();
    assert!(!lo.is_nan() && !hi.is_nan() && lo <= value, "{lo} {hi}");
}

#[test]
fn one_fits_file_per_band_probes_as_the_same_images_in_one_array() {
    // The lens finder on 8 g, r, i images, as test.npz and as three N x H x W
    // FITS files: the bands are stacked into a non-C-ordered array, which the
    // engine must still hand to ONNX Runtime (it refused "a non-contiguous
    // layout"); every score must match.
    use fitsio::FitsFile;
    use fitsio::images::{ImageDescription, ImageType};
    let lens = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/lens");
    let dir = tempfile::tempdir().unwrap();
    let mut npz =
        ndarray_npy::NpzReader::new(std::fs::File::open(lens.join("data/test.npz")).unwrap())
            .unwrap();
    let x: ndarray::Array4<f32> = npz.by_name("x.npy").unwrap();
    let y: Array1<i64> = npz.by_name("y.npy").unwrap();
    let (x, y) = (
        x.slice(s![..8, .., .., ..]).to_owned(),
        y.slice(s![..8]).to_owned(),
    );
    x.write_npy(std::fs::File::create(dir.path().join("x.npy")).unwrap())
        .unwrap();
    y.write_npy(std::fs::File::create(dir.path().join("y.npy")).unwrap())
        .unwrap();
    for (i, band) in ["g", "r", "i"].iter().enumerate() {
        let plane: Vec<f32> = x.slice(s![.., i, .., ..]).iter().copied().collect();
        let description = ImageDescription {
            data_type: ImageType::Float,
            dimensions: &[8, 64, 64],
        };
        let path = dir.path().join(format!("cut_{band}.fits"));
        let mut file = FitsFile::create(&path)
            .with_custom_primary(&description)
            .open()
            .unwrap();
        file.primary_hdu()
            .unwrap()
            .write_image(&mut file, &plane)
            .unwrap();
    }
    let run = |data: DataSpec, out: &str| {
        let config = ProbeConfig {
            model: lens.join("lens_finder.onnx"),
            out: dir.path().join(out),
            data,
            perturb: vec![SweepSpec::parse("magnitude=0,1").unwrap()],
            replicates: 100,
            ..ProbeConfig::default()
        };
        probe::execute(&config, &mut |_, _| {}).unwrap().tests[0]
            .stats
            .levels
            .iter()
            .map(|l| l.mean_score)
            .collect::<Vec<_>>()
    };
    let labels = Some(dir.path().join("y.npy"));
    let array = run(
        DataSpec {
            path: dir.path().join("x.npy"),
            labels: labels.clone(),
            ..DataSpec::default()
        },
        "npy",
    );
    let bands = DataSpec {
        path: dir.path().join("cut_{band}.fits"),
        labels,
        bands: vec!["g".into(), "r".into(), "i".into()],
        ..DataSpec::default()
    };
    assert_eq!(array, run(bands, "fits"));
}

/// Runs `plan` on `data` through `predictor`, unpreprocessed and unwatched:
/// the tests' results and the accuracy.
fn run_quietly(
    predictor: &mut dyn sensie::predictor::Predictor,
    data: &sensie::data::Dataset,
    plan: &sensie::probe::Plan,
    options: &sensie::probe::RunOptions,
) -> (Vec<probe::TestResult>, Option<f64>) {
    let preprocess = sensie::preprocess::Preprocess::default();
    probe::run_plan(predictor, data, &preprocess, plan, options, &mut |_, _| {}).unwrap()
}

/// Brightness done by a whole-batch perturbation (as the Python package's
/// perturbers are), counting its calls and naming the threads it ran on;
/// it fails at `fails_at` with that value in the message.
struct BatchBrightness {
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    threads: std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    fails_at: Vec<f64>,
}

impl BatchBrightness {
    fn new(calls: std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Self {
        BatchBrightness {
            calls,
            threads: Default::default(),
            fails_at: Vec::new(),
        }
    }
}

impl sensie::perturb::Perturbation for BatchBrightness {
    fn name(&self) -> &str {
        "batch-brightness"
    }

    fn parameter(&self) -> sensie::perturb::Parameter {
        sensie::perturb::Parameter {
            name: "factor",
            unit: "factor",
            identity: 1.0,
        }
    }

    fn apply(
        &self,
        image: ndarray::ArrayView3<f32>,
        value: f64,
        _rng: &mut SeededRng,
    ) -> sensie::Result<ndarray::Array3<f32>> {
        Ok(image.mapv(|v| (f64::from(v) * value) as f32))
    }

    fn apply_batch_into(
        &self,
        images: ndarray::ArrayView4<f32>,
        value: f64,
        _seed: u64,
        _first: usize,
        mut out: ndarray::ArrayViewMut4<f32>,
    ) -> sensie::Result<()> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.threads
            .lock()
            .unwrap()
            .insert(format!("{:?}", std::thread::current().id()));
        if self.fails_at.contains(&value) {
            return Err(sensie::Error::invalid(
                format!("factor {value}"),
                "refused by the test",
            ));
        }
        out.zip_mut_with(&images, |o, &v| *o = (f64::from(v) * value) as f32);
        // Long enough that every worker takes a batch.
        std::thread::sleep(std::time::Duration::from_millis(2));
        Ok(())
    }
}

#[test]
fn a_batch_perturbation_runs_once_per_batch_and_a_stop_flag_ends_the_run() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sensie::engine::{Engine, EngineOptions};
    use sensie::model::Model;
    use sensie::probe::{Plan, RunOptions, Sweep};
    use sensie::runtime::Runtime;

    let dir = tempfile::tempdir().unwrap();
    let data = sensie::data::load(&subset(dir.path(), 100)).unwrap();
    let model = Model::load(example("mnist_cnn.onnx")).unwrap();
    let mut engine = Engine::new(Runtime::new().unwrap(), model, EngineOptions::default()).unwrap();
    let builtin = probe::plan(&config(
        dir.path(),
        DataSpec::default(),
        &["brightness=0.5,1,1.5"],
    ))
    .unwrap();
    let options = RunOptions {
        batch_size: 25,
        replicates: 200,
        ..RunOptions::default()
    };
    let expected = run_quietly(&mut engine, &data, &builtin, &options);

    let calls = Arc::new(AtomicUsize::new(0));
    let perturbation = Box::new(BatchBrightness::new(calls.clone()));
    let sweep = Sweep {
        name: "mine".into(),
        perturbation,
        values: vec![0.5, 1.0, 1.5],
        options: Default::default(),
    };
    let plan = Plan {
        sweeps: vec![sweep],
        ..Plan::default()
    };
    let mine = run_quietly(&mut engine, &data, &plan, &options);
    // 4 batches at each of the 2 levels that are not the identity.
    assert_eq!(calls.load(Ordering::Relaxed), 8);
    let levels = |t: &probe::TestResult| serde_json::to_value(&t.stats.levels).unwrap();
    assert_eq!(levels(&mine.0[0]), levels(&expected.0[0]));

    stops_after_one_batch(&mut engine, &data, &plan, options);
}

/// A stop flag set after the first batch ends the run there, with
/// [`sensie::Error::Cancelled`].
fn stops_after_one_batch(
    predictor: &mut dyn sensie::predictor::Predictor,
    data: &sensie::data::Dataset,
    plan: &sensie::probe::Plan,
    options: sensie::probe::RunOptions,
) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let stop = Arc::new(AtomicBool::new(false));
    let options = sensie::probe::RunOptions {
        stop: Some(stop.clone()),
        ..options
    };
    let mut heard = 0;
    let stopped = probe::run_plan(
        predictor,
        data,
        &sensie::preprocess::Preprocess::default(),
        plan,
        &options,
        &mut |_, _| {
            heard += 1;
            stop.store(true, Ordering::Relaxed);
        },
    );
    assert!(matches!(stopped, Err(sensie::Error::Cancelled)));
    assert_eq!(heard, 1);
}

#[test]
fn a_sweep_engine_spreads_the_batches_over_its_workers_with_the_same_numbers_in_order() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use sensie::engine::{Engine, EngineOptions};
    use sensie::model::Model;
    use sensie::preprocess::Preprocess;
    use sensie::probe::{Plan, RunOptions, Sweep, ThreadBudget};
    use sensie::runtime::Runtime;

    let dir = tempfile::tempdir().unwrap();
    let data = sensie::data::load(&subset(dir.path(), 100)).unwrap();
    let model = Model::load(example("mnist_cnn.onnx")).unwrap();
    let options = RunOptions {
        batch_size: 10,
        replicates: 200,
        ..RunOptions::default()
    };
    let plan = |perturbation: BatchBrightness| Plan {
        sweeps: vec![Sweep {
            name: "mine".into(),
            perturbation: Box::new(perturbation),
            values: vec![0.5, 1.0, 1.5, 2.0],
            options: Default::default(),
        }],
        ..Plan::default()
    };
    let run = |engine: &mut Engine| {
        let perturbation = BatchBrightness::new(Arc::new(AtomicUsize::new(0)));
        let threads = perturbation.threads.clone();
        let (tests, _) = run_quietly(engine, &data, &plan(perturbation), &options);
        let threads = threads.lock().unwrap().len();
        (
            serde_json::to_value(&tests[0].stats.levels).unwrap(),
            threads,
        )
    };
    // One session: a producer thread perturbs ahead of the model.
    let mut single = Engine::new(
        Runtime::new().unwrap(),
        model.clone(),
        EngineOptions {
            batch_size: 10,
            threads: 1,
        },
    )
    .unwrap();
    assert_eq!(single.forwards().len(), 1);
    let (expected, threads) = run(&mut single);
    assert_eq!(threads, 1);
    // Two workers, each perturbing on its own thread with a session of its
    // own: the 30 perturbed batches go to both, and the scores are the same.
    let budget = ThreadBudget::for_cores(2, 0, true);
    assert_eq!((budget.workers, budget.model), (2, 1));
    let mut engine = probe::sweep_engine(model, 10, budget).unwrap();
    assert_eq!(engine.forwards().len(), 2);
    let (spread, threads) = run(&mut engine);
    assert_eq!(threads, 2);
    assert_eq!(spread, expected);

    // The first failure in the order of the batches is the run's error,
    // whichever worker met it first.
    for _ in 0..5 {
        let mut failing = BatchBrightness::new(Arc::new(AtomicUsize::new(0)));
        failing.fails_at = vec![1.5, 2.0];
        let failed = probe::run_plan(
            &mut engine,
            &data,
            &Preprocess::default(),
            &plan(failing),
            &options,
            &mut |_, _| {},
        );
        let Err(error) = failed else {
            panic!("the sweep should have failed")
        };
        let message = error.to_string();
        assert!(message.contains("factor 1.5"), "{message}");
    }

    // A stop flag set after the first batch ends the run there.
    let counted = plan(BatchBrightness::new(Arc::new(AtomicUsize::new(0))));
    stops_after_one_batch(&mut engine, &data, &counted, options);
}

/// A model that is no ONNX graph: it scores class 1 at probability 0.9 and
/// spreads the rest over the other nine, whatever the image.
struct AlwaysOne {
    info: sensie::model::ModelInfo,
    batches: usize,
}

impl sensie::predictor::Described for AlwaysOne {
    fn info(&self) -> &sensie::model::ModelInfo {
        &self.info
    }
    fn path(&self) -> &Path {
        Path::new("<always one>")
    }
    fn class_names(&self) -> Option<Vec<String>> {
        None
    }
}

impl sensie::predictor::Predictor for AlwaysOne {
    fn predict(&mut self, batch: ndarray::ArrayViewD<f32>) -> sensie::Result<ndarray::Array2<f32>> {
        self.batches += 1;
        Ok(ndarray::Array2::from_shape_fn(
            (batch.shape()[0], 10),
            |(_, k)| {
                if k == 1 { 0.9 } else { 0.1 / 9.0 }
            },
        ))
    }
    fn threads(&self) -> usize {
        0
    }
}

#[test]
fn any_predictor_can_be_probed() {
    use sensie::model::{Layout, ModelInfo, OutputKind, TensorInfo};
    use sensie::probe::RunOptions;

    let dir = tempfile::tempdir().unwrap();
    let spec = subset(dir.path(), 60);
    let data = sensie::data::load(&spec).unwrap();
    let tensor = |name: &str, rank| TensorInfo {
        name: name.into(),
        shape: vec![None; rank],
    };
    let mut model = AlwaysOne {
        info: ModelInfo {
            input: tensor("x", 4),
            layout: Some(Layout::Nchw),
            outputs: vec![tensor("p", 2)],
            output_kind: OutputKind::Probabilities,
            output_kind_detected: false,
            opset: 0,
            producer: "a test".into(),
        },
        batches: 0,
    };
    let plan = probe::plan(&config(dir.path(), spec.clone(), &["rotate=0,90"])).unwrap();
    let options = RunOptions {
        batch_size: 32,
        replicates: 100,
        ..RunOptions::default()
    };
    let (tests, accuracy) = run_quietly(&mut model, &data, &plan, &options);
    // Two batches of the unperturbed pass and two at 90 degrees (0 is the identity).
    assert_eq!(model.batches, 4);
    let y = Array1::<i64>::read_npy(std::fs::File::open(spec.labels.unwrap()).unwrap()).unwrap();
    let ones = y.iter().filter(|&&k| k == 1).count() as f64;
    assert_eq!(accuracy, Some(ones / 60.0));
    // Rotation changes nothing this model sees.
    let stats = &tests[0].stats;
    let accuracies: Vec<_> = stats.levels.iter().map(|l| l.accuracy).collect();
    assert_eq!(accuracies, vec![Some(ones / 60.0); 2]);
    // The score is the true class's probability: 0.9 for the ones, 0.1 / 9 for the rest.
    let mean = (0.9 * ones + 0.1 / 9.0 * (60.0 - ones)) / 60.0;
    assert!(
        stats
            .levels
            .iter()
            .all(|l| (l.mean_score - mean).abs() < 1e-6)
    );
    assert_eq!(stats.verdict, Verdict::Low);
}

#[test]
fn a_column_tested_twice_is_two_tests_with_their_own_files() {
    // The same column in quartiles and in halves: both were named
    // property:noise, and the second chart was written over the first.
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), subset(dir.path(), 40), &[]);
    config.property = vec![
        PropertySpec::parse("noise=q4"),
        PropertySpec::parse("noise=q2"),
    ];
    config.replicates = 100;
    let report = probe::execute(&config, &mut |_, _| {}).unwrap();
    let names: Vec<&str> = report.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["property:noise", "property:noise#2"]);
    assert_eq!(
        report
            .tests
            .iter()
            .map(|t| t.stats.levels.len())
            .collect::<Vec<_>>(),
        [4, 2]
    );
    let out = dir.path().join("out");
    probe::write_report(&out, &report, "sensie probe").unwrap();
    let charts = std::fs::read_dir(out.join("plots"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("svg".as_ref()))
        .count();
    assert_eq!(charts, 2);
}
