//! Seeded random draws for SmoothGrad's noise, noise baselines and the
//! sanity check's random weights.
//!
//! Each stream is seeded from the user's seed and the coordinates of what it
//! draws for (method, the example's values, sample), so a map depends only on
//! the seed and the example, never on the batch size, on the example's
//! position or on which other examples are explained with it. The generator is SplitMix64 (Steele, Lea & Flood 2014):
//! small, fast and well mixed, enough for noise that only has to look random.

/// A stream of uniform and Gaussian draws.
pub struct Stream {
    state: u64,
    /// Box-Muller gives two normals per pair of uniforms; the second waits here.
    spare: Option<f64>,
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Stream {
    /// The stream for `seed` at the coordinates `parts`.
    pub fn new(seed: u64, parts: &[u64]) -> Stream {
        let state = parts.iter().fold(mix(seed ^ 0x9E37_79B9_7F4A_7C15), |acc, &p| mix(acc ^ mix(p.wrapping_add(0x9E37_79B9_7F4A_7C15))));
        Stream { state, spare: None }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// Uniform on [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        let r = (-2.0 * u.ln()).sqrt();
        let t = std::f64::consts::TAU * v;
        self.spare = Some(r * t.sin());
        r * t.cos()
    }
}

/// A stable number for a name, to tell streams of different methods apart.
pub fn name_hash(name: &str) -> u64 {
    fnv1a(name.bytes())
}

fn fnv1a(bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
}

/// A stable number for an example's values (FNV-1a over their bits).
pub fn content_hash(values: ndarray::ArrayViewD<f32>) -> u64 {
    fnv1a(values.iter().flat_map(|v| v.to_bits().to_le_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100,000 draws: the means lie within 5 standard errors of 1/2 and 0 and
    /// the variances near 1/12 and 1 (a correct sampler fails this with
    /// probability below 1e-6; the seed is fixed anyway).
    #[test]
    fn uniform_and_normal_moments() {
        let n = 100_000;
        let mut s = Stream::new(3, &[1, 2]);
        let u: Vec<f64> = (0..n).map(|_| s.uniform()).collect();
        let z: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        let moments = |v: &[f64]| {
            let m = v.iter().sum::<f64>() / n as f64;
            (m, v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64)
        };
        let (mu, vu) = moments(&u);
        let (mz, vz) = moments(&z);
        assert!((mu - 0.5).abs() < 5.0 * (1.0 / 12.0 / n as f64).sqrt(), "{mu}");
        assert!((vu - 1.0 / 12.0).abs() < 0.002, "{vu}");
        assert!(mz.abs() < 5.0 / (n as f64).sqrt(), "{mz}");
        assert!((vz - 1.0).abs() < 0.03, "{vz}");
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
    }

    #[test]
    fn streams_depend_on_seed_and_coordinates_only() {
        let draw = |seed, parts: &[u64]| {
            let mut s = Stream::new(seed, parts);
            (0..3).map(|_| s.uniform()).collect::<Vec<_>>()
        };
        assert_eq!(draw(1, &[2, 3]), draw(1, &[2, 3]));
        assert_ne!(draw(1, &[2, 3]), draw(1, &[3, 2]));
        assert_ne!(draw(1, &[2, 3]), draw(2, &[2, 3]));
    }
}
