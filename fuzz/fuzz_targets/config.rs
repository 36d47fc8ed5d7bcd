//! probe.toml: any text parses into a config or an error, and a config that
//! parses gives a plan (every sweep's levels and perturbation built) or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensie::probe::{ProbeConfig, plan};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = toml::from_str::<ProbeConfig>(text) {
        let _ = plan(&config);
    }
});
