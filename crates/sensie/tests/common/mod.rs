//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use ndarray::{ArrayD, Axis};
use sensie::runtime::Runtime;

/// `crates/sensie/tests/data/<rel>`.
pub fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(rel)
}

pub fn runtime() -> Runtime {
    Runtime::new().expect("ONNX Runtime loads (run scripts/setup.sh first)")
}

/// Reads one array from an `.npz` file as f32 (f32 or f64 stored).
pub fn npz_f32(path: &std::path::Path, key: &str) -> Option<ArrayD<f32>> {
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(path).ok()?).ok()?;
    let names = npz.names().ok()?;
    let name = names
        .iter()
        .find(|n| n.as_str() == key || n.as_str() == format!("{key}.npy"))?
        .clone();
    npz.by_name::<ndarray::OwnedRepr<f32>, ndarray::IxDyn>(&name)
        .ok()
        .or_else(|| {
            npz.by_name::<ndarray::OwnedRepr<f64>, ndarray::IxDyn>(&name)
                .ok()
                .map(|a| a.mapv(|v| v as f32))
        })
}

pub fn npz_i64(path: &std::path::Path, key: &str) -> Option<ArrayD<i64>> {
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(path).ok()?).ok()?;
    let names = npz.names().ok()?;
    let name = names
        .iter()
        .find(|n| n.as_str() == key || n.as_str() == format!("{key}.npy"))?
        .clone();
    npz.by_name::<ndarray::OwnedRepr<i64>, ndarray::IxDyn>(&name)
        .ok()
}

/// Per example (axis 0): `||a - b|| / ||b||` (the absolute norm when `b` is 0).
pub fn relative_errors(a: &ArrayD<f32>, b: &ArrayD<f32>) -> Vec<f64> {
    assert_eq!(a.shape(), b.shape(), "shapes differ");
    a.axis_iter(Axis(0))
        .zip(b.axis_iter(Axis(0)))
        .map(|(x, y)| {
            let diff: f64 = x
                .iter()
                .zip(y.iter())
                .map(|(p, q)| ((p - q) as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            let norm: f64 = y.iter().map(|q| (*q as f64).powi(2)).sum::<f64>().sqrt();
            if norm > 0.0 { diff / norm } else { diff }
        })
        .collect()
}

/// Asserts every example's relative error is below `tol`, naming `what`.
pub fn assert_close(what: &str, got: &ArrayD<f32>, want: &ArrayD<f32>, tol: f64) {
    let errs = relative_errors(got, want);
    eprintln!(
        "{what}: max rel err {:.2e}",
        errs.iter().cloned().fold(0.0, f64::max)
    );
    for (i, e) in errs.iter().enumerate() {
        assert!(
            *e < tol,
            "{what}: example {i} relative error {e:.3e} exceeds {tol:.0e}"
        );
    }
}

/// `<repository>/<rel>`.
pub fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// Where `got` and `want` first differ, as a JSON path; numbers agree when
/// they are within 1e-12 relative (ONNX Runtime's kernels may round the last
/// bit differently on another CPU; a change in what is perturbed, with which
/// seed, or how it is scored moves numbers far more).
pub fn json_difference(
    got: &serde_json::Value,
    want: &serde_json::Value,
    at: String,
) -> Option<String> {
    use serde_json::Value;
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            ((a - b).abs() > 1e-12 * a.abs().max(b.abs())).then(|| format!("{at}: {a} vs {b}"))
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (a, b))| json_difference(a, b, format!("{at}[{i}]"))),
        (Value::Object(a), Value::Object(b))
            if a.keys().collect::<Vec<_>>() == b.keys().collect::<Vec<_>>() =>
        {
            a.iter()
                .find_map(|(k, v)| json_difference(v, &b[k], format!("{at}.{k}")))
        }
        (a, b) => (a != b).then(|| format!("{at}: {a} vs {b}")),
    }
}
