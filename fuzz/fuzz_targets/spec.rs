//! The command line's SPEC strings: `--perturb NAME(options)=SPEC` built into
//! a perturbation and applied to a small image at every level, and
//! `--property COLUMN=BINS`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensie::probe::{ProbeConfig, PropertySpec, SweepSpec, plan};
use sensie::rng::SeededRng;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = sensie::stats::Binning::parse(PropertySpec::parse(text).bins.as_str());
    let Ok(sweep) = SweepSpec::parse(text) else {
        return;
    };
    let config = ProbeConfig {
        perturb: vec![sweep],
        ..ProbeConfig::default()
    };
    let Ok(plan) = plan(&config) else { return };
    let image =
        ndarray::Array3::<f32>::from_shape_fn((2, 9, 7), |(c, y, x)| (c * 63 + y * 7 + x) as f32);
    for sweep in &plan.sweeps {
        for &level in &sweep.values {
            let _ = sweep
                .perturbation
                .apply(image.view(), level, &mut SeededRng::new(0, &[]));
        }
    }
});
