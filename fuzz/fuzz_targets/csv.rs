//! CSV metadata: reading every column as numbers or text, and joining it to
//! three examples by row order and by a key column, with labels from a column.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use sensie::data::{DataSpec, Metadata, load};

fuzz_target!(|data: &[u8]| {
    let csv = common::file("m.csv", data);
    let Ok(table) = Metadata::read(&csv) else {
        return;
    };
    for name in table.names() {
        let _ = table.column(name);
        let _ = table.text(name);
    }
    let images = common::file("x.npy", &[]);
    sensie::output::write_npy(&images, &ndarray::Array4::<f32>::zeros((3, 1, 2, 2)))
        .expect("scratch array");
    let first = table.names().first().cloned();
    for key in [None, first.clone()] {
        let spec = DataSpec {
            path: images.clone(),
            metadata: Some(csv.clone()),
            metadata_key: key,
            label_column: first.clone(),
            ..DataSpec::default()
        };
        let _ = load(&spec);
    }
});
