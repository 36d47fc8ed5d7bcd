//! Timing, memory and argument parsing shared by the bench binaries.
// Each bench binary compiles its own copy of this module and uses part of it.
#![allow(dead_code)]

use std::str::FromStr;
use std::time::{Duration, Instant};

/// Median seconds per call of `f`, after warm-up, over at least `budget`.
pub fn median_seconds(budget: Duration, mut f: impl FnMut()) -> (f64, usize) {
    for _ in 0..3 {
        f();
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || times.len() < 5 {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times.len())
}

/// A field of /proc/self/status in MiB: `VmRSS` (resident now) or `VmHWM`
/// (the resident peak since the process started or since [`reset_peak`]).
pub fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux: /proc/self/status");
    let kib: f64 = status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .strip_prefix(':')?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    kib / 1024.0
}

/// Sets VmHWM back to the current resident size (Linux's clear_refs "5"), so
/// that the peak read afterwards belongs to what runs afterwards, not to
/// loading. `bench/explain.py` does the same to Captum's process.
pub fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("Linux: write /proc/self/clear_refs");
}

/// The command line after the program's name (without cargo's `--bench`),
/// as exactly `N` arguments, or the usage and exit status 2.
pub fn args<const N: usize>(usage: &str) -> [String; N] {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    args.try_into().unwrap_or_else(|args: Vec<String>| {
        fail(
            usage,
            &format!("expected {N} arguments, got {}", args.len()),
        )
    })
}

/// `text` parsed as `what`, or the usage and exit status 2.
pub fn parse<T: FromStr>(usage: &str, what: &str, text: &str) -> T {
    text.parse()
        .unwrap_or_else(|_| fail(usage, &format!("{what} must be a number, not '{text}'")))
}

/// Prints why and the usage, and exits with status 2 (a bad command line).
pub fn fail(usage: &str, why: &str) -> ! {
    eprintln!("error: {why}\nusage: {usage}");
    std::process::exit(2)
}
