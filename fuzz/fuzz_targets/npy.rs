//! `.npy` and `.npz` reading: any bytes give an array or an error, never a
//! panic or an allocation the file cannot back. The first byte picks the format.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use sensie::data::{DataSpec, load, read_array};

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    if kind % 2 == 0 {
        let _ = read_array(&common::file("x.npy", bytes));
    } else {
        let _ = load(&DataSpec {
            path: common::file("d.npz", bytes),
            ..DataSpec::default()
        });
    }
});
