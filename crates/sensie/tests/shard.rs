//! A run's scores on disk, shards and their merge: the scores a probe keeps
//! in `scores/` are the numbers its results were computed from, and a run
//! split into N shards and merged gives the unsharded run's results.json in
//! every number (1e-12 relative, as tests/probe_unchanged.rs compares).

mod common;

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array4, s};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use sensie::data::DataSpec;
use sensie::probe::{self, ProbeConfig, ProbeRun, Shard, SweepSpec};

use common::{json_difference, repo};

/// The first `n` MNIST test digits as npy files in `dir`.
fn digits(dir: &Path, n: usize) -> DataSpec {
    let read = |rel: &str| std::fs::File::open(repo(rel)).unwrap();
    let x = Array4::<f32>::read_npy(read("examples/mnist/data/test_x.npy")).unwrap();
    let y = Array1::<i64>::read_npy(read("examples/mnist/data/test_y.npy")).unwrap();
    let write = |name: &str, bytes: &dyn Fn(std::fs::File)| {
        bytes(std::fs::File::create(dir.join(name)).unwrap())
    };
    write("x.npy", &|f| {
        x.slice(s![..n, .., .., ..])
            .to_owned()
            .write_npy(f)
            .unwrap()
    });
    write("y.npy", &|f| {
        y.slice(s![..n]).to_owned().write_npy(f).unwrap()
    });
    DataSpec {
        path: dir.join("x.npy"),
        labels: Some(dir.join("y.npy")),
        ..DataSpec::default()
    }
}

/// A sweep with randomness keyed by example (noise), one without, and the
/// class test, in batches of 7 (so batches, chunks and shards do not line up
/// with the 40 digits).
fn config(data: DataSpec, out: PathBuf) -> ProbeConfig {
    ProbeConfig {
        model: repo("examples/mnist/mnist_cnn.onnx"),
        out,
        data,
        perturb: ["rotate=0:90:3", "gaussian-noise=0,0.2,0.4"]
            .iter()
            .map(|p| SweepSpec::parse(p).unwrap())
            .collect(),
        classes: true,
        seed: 3,
        replicates: 200,
        batch_size: 7,
        chunk: 10,
        ..ProbeConfig::default()
    }
}

/// results.json with the paths (which differ between runs) left out.
fn results(out: &Path) -> serde_json::Value {
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    json["model"]["path"] = serde_json::Value::Null;
    json["data"]["path"] = serde_json::Value::Null;
    json
}

#[test]
fn the_scores_on_disk_are_the_numbers_the_results_summarise() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(digits(dir.path(), 40), dir.path().join("out"));
    let report = probe::execute(&config, &mut |_, _| {}).unwrap();
    let run = ProbeRun::load(&config.out).unwrap();
    assert_eq!((run.start, run.end, run.examples), (0, 40, 40));
    assert_eq!(run.positions, (0..40).collect::<Vec<_>>());
    assert_eq!(run.reference.score.dim(), (40, 1));
    // Mean score per level and the unperturbed accuracy, recomputed from
    // the arrays, are results.json's.
    for (sweep, test) in run.sweeps.iter().zip(&report.tests) {
        assert_eq!(sweep.name, test.name);
        assert_eq!(sweep.values.len(), test.stats.levels.len());
        for (l, level) in test.stats.levels.iter().enumerate() {
            let mean = sweep.grid.score.column(l).mean().unwrap();
            assert!(
                (mean - level.mean_score).abs() <= 1e-12,
                "{} level {l}: {mean} against {}",
                sweep.name,
                level.mean_score
            );
        }
    }
    let correct = run.reference.correct.iter().filter(|&&c| c).count() as f64 / 40.0;
    assert_eq!(Some(correct), report.data.unperturbed_accuracy);
    // numpy reads them: plain .npy arrays of the documented shapes.
    let scores = config.out.join("scores");
    let noise =
        Array2::<f64>::read_npy(std::fs::File::open(scores.join("sweep-1.score.npy")).unwrap())
            .unwrap();
    assert_eq!(noise, run.sweeps[1].grid.score);
    assert_eq!(noise.dim(), (40, 3), "examples x levels");
    let header: serde_json::Value =
        serde_json::from_slice(&std::fs::read(scores.join("run.json")).unwrap()).unwrap();
    assert_eq!(header["format"], 1);
    assert_eq!(header["tests"][2]["file"], "sweep-1");
    assert!(
        !scores.join("partial").exists(),
        "partial scores removed once whole"
    );
    // The run value serialises whole, as plain data, with the same numbers.
    let value = serde_json::to_value(&run).unwrap();
    assert_eq!(value["examples"], 40);
    assert_eq!(value["fingerprint"], run.fingerprint.as_str());
    let grid = &value["sweeps"][1]["grid"]["score"];
    assert_eq!(grid["dim"], serde_json::json!([40, 3]));
    assert_eq!(grid["data"][4].as_f64(), Some(noise[[1, 1]]));
    assert_eq!(value["sweeps"][1]["values"].as_array().unwrap().len(), 3);
}

/// Runs `config` as `count` shards in `dir`, merges them, and returns the merged directory.
fn sharded(config: &ProbeConfig, dir: &Path, count: usize) -> PathBuf {
    let parts: Vec<PathBuf> = (0..count)
        .map(|index| {
            let part = dir.join(format!("part-{index}"));
            let shard = ProbeConfig {
                out: part.clone(),
                shard: Some(Shard { index, count }),
                ..config.clone()
            };
            let run = probe::execute_part(&shard, &mut |_, _| {}).unwrap();
            assert!(
                !part.join("results.json").exists(),
                "a shard writes no results"
            );
            assert_eq!(run.positions.first(), Some(&run.start));
            part
        })
        .collect();
    let merged = dir.join(format!("merged-{count}"));
    // In reverse: the order parts are given in does not matter.
    let reversed: Vec<PathBuf> = parts.into_iter().rev().collect();
    probe::merge(&reversed, &merged).unwrap();
    merged
}

#[test]
fn merged_shards_give_the_unsharded_results_in_every_number() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(digits(dir.path(), 40), dir.path().join("whole"));
    probe::execute(&config, &mut |_, _| {}).unwrap();
    let whole = results(&config.out);
    let whole_run = ProbeRun::load(&config.out).unwrap();
    // 40 digits in 6 batches of 7 (the last of 5): 3 shards of 2 batches,
    // 4 of 1, 1, 2, 2 (uneven).
    for count in [1, 2, 3, 4] {
        let merged = sharded(&config, dir.path(), count);
        if let Some(at) = json_difference(&results(&merged), &whole, String::new()) {
            panic!("{count} shards: merged results.json differs at {at}");
        }
        let run = ProbeRun::load(&merged).unwrap();
        assert_eq!(run.reference, whole_run.reference, "{count} shards");
        // The example grids' images come back from the parts' scores/.
        for (merged, whole) in run.sweeps.iter().zip(&whole_run.sweeps) {
            assert_eq!(merged.shown, whole.shown, "{count} shards: {}", merged.name);
            assert_eq!(whole.shown.len(), whole.values.len());
            assert_eq!(whole.shown[0].dim().0, probe::EXAMPLES);
        }
        for index in 0..count {
            std::fs::remove_dir_all(dir.path().join(format!("part-{index}"))).unwrap();
        }
    }
}

/// With batches of 3 the run's first four examples lie in two shards: each
/// part keeps the ones it holds, and the merged report draws the same
/// example grid as the unsharded run.
#[test]
fn example_grids_survive_a_shard_boundary_among_the_first_examples() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(digits(dir.path(), 12), dir.path().join("whole"));
    config.batch_size = 3;
    config.replicates = 100;
    let whole = probe::execute(&config, &mut |_, _| {}).unwrap();
    probe::write_report(&config.out, &whole, "test").unwrap();
    let merged = sharded(&config, dir.path(), 4);
    let first = ProbeRun::load(&dir.path().join("part-0")).unwrap();
    assert_eq!(first.sweeps[0].shown[0].dim().0, 3, "shard 0 holds 0..3");
    let second = ProbeRun::load(&dir.path().join("part-1")).unwrap();
    assert_eq!(
        second.sweeps[0].shown[0].dim().0,
        1,
        "shard 1 holds example 3"
    );
    let third = ProbeRun::load(&dir.path().join("part-2")).unwrap();
    assert!(third.sweeps[0].shown.is_empty());
    let report = ProbeRun::load(&merged)
        .and_then(|r| probe::report(&r))
        .unwrap();
    probe::write_report(&merged, &report, "test").unwrap();
    for grid in ["rotate.png", "gaussian-noise.png"] {
        assert_eq!(
            std::fs::read(merged.join("examples").join(grid)).unwrap(),
            std::fs::read(config.out.join("examples").join(grid)).unwrap(),
            "{grid}"
        );
    }
}

#[test]
fn merge_names_a_missing_a_repeated_and_a_foreign_part() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(digits(dir.path(), 40), PathBuf::new());
    let part = |index: usize, seed: u64| {
        let out = dir.path().join(format!("part-{index}-seed-{seed}"));
        let shard = ProbeConfig {
            out: out.clone(),
            seed,
            shard: Some(Shard { index, count: 3 }),
            ..config.clone()
        };
        probe::execute_part(&shard, &mut |_, _| {}).unwrap();
        out
    };
    let (p0, p1, p2) = (part(0, 3), part(1, 3), part(2, 3));
    let foreign = part(1, 4);
    let out = dir.path().join("merged");
    let err = |parts: &[&PathBuf]| {
        let parts: Vec<PathBuf> = parts.iter().map(|p| p.to_path_buf()).collect();
        probe::merge(&parts, &out).unwrap_err().to_string()
    };
    let missing = err(&[&p0, &p2]);
    assert!(
        missing.contains("no part holds examples 14..28"),
        "{missing}"
    );
    let twice = err(&[&p0, &p1, &p1, &p2]);
    assert!(
        twice.contains("part-1-seed-3") && twice.contains("twice"),
        "{twice}"
    );
    let other = err(&[&p0, &foreign, &p2]);
    assert!(
        other.contains("part-1-seed-4") && other.contains("another run"),
        "{other}"
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let none = err(&[&p0, &empty]);
    assert!(
        none.contains("empty") && none.contains("holds no scores"),
        "{none}"
    );
    // A shard alone has no results.
    let run = ProbeRun::load(&p0).unwrap();
    assert!(
        probe::report(&run)
            .unwrap_err()
            .to_string()
            .contains("one shard")
    );
}
