//! The probe's report.html in a real browser: headless Chromium loads the
//! page from disk, with no network, and must log no console message (a
//! script error, a refused request, a broken data URI) and draw a page that
//! is not blank. CI installs Chromium (scripts/test.sh); without it this
//! test fails rather than pass unseen.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use common::{repo, sensie, stderr};

const CHROMIUM: &str = "/usr/bin/chromium";

#[test]
fn the_probe_report_loads_cleanly_in_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/test.sh as root (it installs chromium, as CI does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = sensie(&[
        "probe",
        "--model",
        &repo("examples/mnist/mnist_cnn.onnx"),
        "--data",
        &repo("examples/mnist/data/test_x.npy"),
        "--labels",
        &repo("examples/mnist/data/test_y.npy"),
        "--perturb",
        "rotate=0:180:5",
        "--classes",
        "--replicates",
        "300",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));

    let screenshot = dir.path().join("report.png");
    let profile = dir.path().join("profile");
    let browser = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,2400",
            &format!("--screenshot={}", screenshot.display()),
            &format!("file://{}", out.join("report.html").display()),
        ])
        .output()
        .expect("chromium runs");
    let log = stderr(&browser);
    assert!(browser.status.success(), "chromium failed: {log}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "the page logged to the console:\n{}",
        console.join("\n")
    );

    let shot = image::open(&screenshot)
        .expect("the screenshot decodes")
        .to_rgb8();
    assert_eq!(shot.dimensions(), (1200, 2400));
    let colours: HashSet<[u8; 3]> = shot.pixels().map(|p| p.0).collect();
    assert!(
        colours.len() > 50,
        "the page looks blank: {} colours",
        colours.len()
    );
}
