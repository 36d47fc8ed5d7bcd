//! `sensie probe --shard K/N`, `sensie merge` and `--resume` from the
//! command line: merged parts and a run killed (SIGKILL) and resumed give
//! results.json byte for byte as one uninterrupted run on this machine.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{repo, sensie, stderr};

/// The probe's arguments for MNIST's 1000 test digits, rotated at 30 levels,
/// partial scores saved every 50 digits: 40 units of work.
fn probe_args(out: &Path) -> Vec<String> {
    [
        "probe",
        "--model",
        &repo("examples/mnist/mnist_cnn.onnx"),
        "--data",
        &repo("examples/mnist/data/test_x.npy"),
        "--labels",
        &repo("examples/mnist/data/test_y.npy"),
        "--perturb",
        "rotate=0:87:30",
        "--classes",
        "--batch-size",
        "25",
        "--chunk",
        "50",
        "--replicates",
        "100",
        "--quiet",
        "--out",
        &out.to_string_lossy(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run(args: &[String]) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sensie(&refs);
    assert!(out.status.success(), "{:?}: {}", args, stderr(&out));
}

/// Saved units of partial scores in `out`.
fn saved(out: &Path) -> usize {
    std::fs::read_dir(out.join("scores/partial"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.ends_with(".npy") && !name.starts_with('.')
                })
                .count()
        })
        .unwrap_or(0)
}

/// Starts `args` and kills it (SIGKILL) once `out` holds `units` saved units.
fn kill_after(args: &[String], out: &Path, units: usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sensie"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while saved(out) < units {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before {units} units were saved");
        }
        assert!(start.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed mid-run, not finished: {status}");
}

#[test]
fn a_run_killed_at_several_points_and_resumed_gives_the_uninterrupted_results() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    run(&probe_args(&whole));
    let cut = dir.path().join("cut");
    let args = probe_args(&cut);
    kill_after(&args, &cut, 2);
    let mut resume = args.clone();
    resume.push("--resume".into());
    kill_after(&resume, &cut, 12);
    kill_after(&resume, &cut, 22);
    assert!(!cut.join("results.json").exists());
    run(&resume);
    for file in [
        "results.json",
        "results.csv",
        "scores/sweep-0.score.npy",
        "scores/reference.correct.npy",
        // The example grid's images, of a sweep unit restored from partial scores.
        "scores/sweep-0.shown.npy",
        "examples/rotate.png",
    ] {
        assert!(
            std::fs::read(whole.join(file)).unwrap() == std::fs::read(cut.join(file)).unwrap(),
            "{file} differs after resuming"
        );
    }
    assert!(!cut.join("scores/partial").exists());
    // What the interrupted runs wrote is this run's: a forced run removes it.
    let listed = std::fs::read_to_string(cut.join(".sensie-outputs")).unwrap();
    assert!(listed.lines().any(|l| l == "scores"), "{listed}");
    // Resuming a finished run measures nothing again and writes the same results.
    run(&resume);
    assert_eq!(
        std::fs::read(whole.join("results.json")).unwrap(),
        std::fs::read(cut.join("results.json")).unwrap()
    );
    // Another run's partial scores are refused.
    let other = dir.path().join("other");
    let mut seeded = probe_args(&other);
    seeded.extend(["--seed".into(), "5".into()]);
    kill_after(&seeded, &other, 1);
    let mut resumed = probe_args(&other);
    resumed.push("--resume".into());
    let refs: Vec<&str> = resumed.iter().map(String::as_str).collect();
    let refused = sensie(&refs);
    assert!(
        !refused.status.success() && stderr(&refused).contains("another run"),
        "{}",
        stderr(&refused)
    );
    // So are another run's finished scores.
    let mut reseeded = resume.clone();
    reseeded.extend(["--seed".into(), "5".into()]);
    let refs: Vec<&str> = reseeded.iter().map(String::as_str).collect();
    let refused = sensie(&refs);
    assert!(
        !refused.status.success() && stderr(&refused).contains("finished scores of another run"),
        "{}",
        stderr(&refused)
    );
    // Resumed with another --chunk: the message says which flag to give
    // back instead of only offering to throw the saved work away.
    let chunked = dir.path().join("chunked");
    let args = probe_args(&chunked);
    kill_after(&args, &chunked, 2);
    let mut other_chunk: Vec<String> = args
        .iter()
        .map(|a| {
            if a == "50" {
                "150".to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    other_chunk.push("--resume".into());
    let refs: Vec<&str> = other_chunk.iter().map(String::as_str).collect();
    let refused = sensie(&refs);
    assert!(
        !refused.status.success()
            && stderr(&refused).contains("resume with the --chunk it was started with"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn shards_merged_on_the_command_line_give_the_unsharded_results() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    run(&probe_args(&whole));
    let parts: Vec<String> = (0..3)
        .map(|k| {
            let part = dir.path().join(format!("part-{k}"));
            let mut args = probe_args(&part);
            args.extend(["--shard".into(), format!("{k}/3")]);
            run(&args);
            assert!(!part.join("results.json").exists());
            part.to_string_lossy().into_owned()
        })
        .collect();
    let merged = dir.path().join("merged");
    let merged_arg = merged.to_string_lossy().into_owned();
    let mut args: Vec<&str> = vec!["merge"];
    args.extend(parts.iter().map(String::as_str));
    args.extend(["--out", &merged_arg]);
    let out = sensie(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    for file in [
        "results.json",
        "results.csv",
        "scores/sweep-0.score.npy",
        "examples/rotate.png",
        "examples/classes.png",
    ] {
        assert!(
            std::fs::read(whole.join(file)).unwrap() == std::fs::read(merged.join(file)).unwrap(),
            "{file} differs after merging"
        );
    }
    assert!(merged.join("report.html").exists() && merged.join("plots").exists());
    // A relative --out is stored whole, as a probe stores its own, so the
    // merged run's scores name where they are from anywhere.
    let relative = Command::new(env!("CARGO_BIN_EXE_sensie"))
        .current_dir(dir.path())
        .args([
            "merge", &parts[0], &parts[1], &parts[2], "--out", "relative",
        ])
        .output()
        .unwrap();
    assert!(relative.status.success(), "{}", stderr(&relative));
    let stored: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("relative/scores/run.json")).unwrap(),
    )
    .unwrap();
    let stored = Path::new(stored["config"]["out"].as_str().unwrap());
    assert!(stored.is_absolute(), "{stored:?}");
    assert_eq!(
        stored.canonicalize().unwrap(),
        dir.path().join("relative").canonicalize().unwrap()
    );
    // A merge that must fail says why in one line.
    let refused = |parts: &[&String], want: &str| {
        let out = dir.path().join("refused").to_string_lossy().into_owned();
        let mut args = vec!["merge"];
        args.extend(parts.iter().map(|p| p.as_str()));
        args.extend(["--out", &out]);
        let result = sensie(&args);
        let err = stderr(&result);
        assert!(
            !result.status.success() && err.contains(want) && err.lines().count() == 1,
            "{err}"
        );
    };
    // A missing part is named by the examples no part holds.
    refused(&[&parts[0], &parts[2]], "no part holds examples");
    // A part of the same run cut in halves, beside thirds: named as such
    // (the message named a shard 2/3 as missing, or "the same shard twice").
    let half = dir.path().join("half-1");
    let mut args = probe_args(&half);
    args.extend(["--shard".into(), "1/2".into()]);
    run(&args);
    let half = half.to_string_lossy().into_owned();
    refused(&[&parts[0], &half], "is shard 1/2 but");
    // A part whose scores were cut short is named, with what to do.
    let cut = Path::new(&parts[1]).join("scores/positions.npy");
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 8]).unwrap();
    refused(
        &[&parts[0], &parts[1], &parts[2]],
        "positions.npy: it is truncated; run that probe (or shard) again",
    );
    let bad = sensie(&["probe", "--model", "m.onnx", "--shard", "3/3", "--out", "x"]);
    assert!(stderr(&bad).contains("below N"), "{}", stderr(&bad));
}

/// A run of fewer batches than shards (1000 digits in 3 batches of 400, cut
/// into 5 shards) leaves two shards empty: they were refused, so a job array
/// had to be sized by the data. Now they write empty parts, the merge of all
/// five equals the unsharded run byte for byte, and an empty part left out
/// or given twice is refused by its name.
#[test]
fn shards_beyond_the_runs_batches_are_empty_parts_that_merge_requires() {
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path| {
        let mut args = probe_args(out);
        let at = args.iter().position(|a| a == "--batch-size").unwrap();
        args[at + 1] = "400".into();
        args
    };
    let whole = dir.path().join("whole");
    run(&args(&whole));
    let parts: Vec<String> = (0..5)
        .map(|k| {
            let part = dir.path().join(format!("part-{k}"));
            let mut args = args(&part);
            args.extend(["--shard".into(), format!("{k}/5")]);
            run(&args);
            part.to_string_lossy().into_owned()
        })
        .collect();
    let merge = |parts: &[&String], out: &str| {
        let out = dir.path().join(out).to_string_lossy().into_owned();
        let mut args = vec!["merge"];
        args.extend(parts.iter().map(|p| p.as_str()));
        args.extend(["--out", &out]);
        sensie(&args)
    };
    let all: Vec<&String> = parts.iter().collect();
    let merged = merge(&all, "merged");
    assert!(merged.status.success(), "{}", stderr(&merged));
    for file in ["results.json", "results.csv", "scores/sweep-0.score.npy"] {
        assert!(
            std::fs::read(whole.join(file)).unwrap()
                == std::fs::read(dir.path().join("merged").join(file)).unwrap(),
            "{file} differs after merging"
        );
    }
    let empty: Vec<usize> = (0..5)
        .filter(|k| {
            let run: serde_json::Value = serde_json::from_slice(
                &std::fs::read(Path::new(&parts[*k]).join("scores/run.json")).unwrap(),
            )
            .unwrap();
            run["start"] == run["end"]
        })
        .collect();
    assert_eq!(empty.len(), 2, "3 batches among 5 shards");
    let left_out: Vec<&String> = (0..5)
        .filter(|k| *k != empty[0])
        .map(|k| &parts[k])
        .collect();
    let err = stderr(&merge(&left_out, "refused-1"));
    assert!(
        err.contains(&format!("shard {}/5 is missing", empty[0])),
        "{err}"
    );
    let mut twice = all.clone();
    twice.push(&parts[empty[1]]);
    let err = stderr(&merge(&twice, "refused-2"));
    assert!(
        err.contains(&format!("is shard {}/5", empty[1])) && err.contains("twice"),
        "{err}"
    );
}

/// Shards run with relative paths, as a job script runs them from the
/// project's folder, merge into the unsharded run's results.json byte for
/// byte: the merge wrote the paths made absolute ("model": "/home/...")
/// where the run wrote them as given, from any folder it is run in.
#[test]
fn a_merge_names_the_model_and_data_as_the_shards_were_given_them() {
    let dir = tempfile::tempdir().unwrap();
    let relative = |out: &Path| {
        let mut args = probe_args(out);
        for (flag, rel) in [
            ("--model", "examples/mnist/mnist_cnn.onnx"),
            ("--data", "examples/mnist/data/test_x.npy"),
            ("--labels", "examples/mnist/data/test_y.npy"),
        ] {
            let at = args.iter().position(|a| a == flag).unwrap();
            args[at + 1] = rel.into();
        }
        args
    };
    let in_repo = |args: &[String]| {
        let run = Command::new(env!("CARGO_BIN_EXE_sensie"))
            .current_dir(repo(""))
            .args(args)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", stderr(&run));
    };
    let whole = dir.path().join("whole");
    in_repo(&relative(&whole));
    for k in 0..2 {
        let mut args = relative(&dir.path().join(format!("part-{k}")));
        args.extend(["--shard".into(), format!("{k}/2")]);
        in_repo(&args);
    }
    let merged = Command::new(env!("CARGO_BIN_EXE_sensie"))
        .current_dir(dir.path())
        .args(["merge", "part-0", "part-1", "--out", "merged"])
        .output()
        .unwrap();
    assert!(merged.status.success(), "{}", stderr(&merged));
    let read =
        |run: &str| std::fs::read_to_string(dir.path().join(run).join("results.json")).unwrap();
    assert!(
        read("whole").contains("\"path\": \"examples/mnist/mnist_cnn.onnx\""),
        "{}",
        read("whole")
    );
    assert!(read("whole") == read("merged"), "{}", read("merged"));
}
