//! Timing shared by the bench binaries.

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
