//! Generates the ONNX protobuf types from `proto/onnx.proto` (copied from the
//! `onnx` package, version 1.23) with protox, a protobuf compiler written in
//! Rust, so building needs no `protoc` on the machine.
//!
//! Also records where `scripts/setup.sh` installs ONNX Runtime's shared
//! library, so a built binary finds it without environment variables.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let descriptors =
        protox::compile(["onnx.proto"], ["proto"]).expect("proto/onnx.proto compiles");
    prost_build::Config::new()
        .compile_fds(descriptors)
        .expect("prost generates the ONNX types");

    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest.parent().and_then(|p| p.parent()).unwrap();
    let lib = workspace
        .join(".sensie")
        .join("lib")
        .join("libonnxruntime.so");
    println!("cargo:rustc-env=SENSIE_SETUP_ORT_LIB={}", lib.display());
}
