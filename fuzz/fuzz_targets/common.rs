//! Shared by the targets: the fuzzer's bytes as a file with a given name
//! (sensie's readers take paths and choose by extension).

use std::path::PathBuf;

/// Writes `bytes` to a file named `name` in this process's scratch folder.
pub fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sensie-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("scratch file");
    path
}
