//! FITS reading through cfitsio: any bytes give an array or an error.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sensie::data::read_array(&common::file("x.fits", data));
});
