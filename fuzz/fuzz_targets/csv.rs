//! CSV metadata: reading, joining to examples by order and by a key column,
//! and reading every column as numbers or text.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use sensie::data::Metadata;

fuzz_target!(|data: &[u8]| {
    let Ok(table) = Metadata::read(&common::file("m.csv", data)) else { return };
    let names = table.names().to_vec();
    for name in &names {
        let _ = table.column(name);
        let _ = table.text(name);
    }
    let ids: Vec<String> = (0..table.len()).map(|i| i.to_string()).collect();
    let _ = table.clone().join(&ids, None);
    if let Some(key) = names.first() {
        let _ = table.join(&ids, Some(key));
    }
});
