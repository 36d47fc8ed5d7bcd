//! Helpers shared by the command-line tests.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `sensie` binary built for these tests.
pub fn sensie(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sensie"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// A path in the repository, from its root.
pub fn repo(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
