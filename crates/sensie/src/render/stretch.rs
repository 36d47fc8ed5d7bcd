//! Stretches: how raw pixel values (physical units, any range) become display
//! values in [0, 1].
//!
//! Astronomical images span orders of magnitude: a linear min-max stretch
//! shows a bright core and nothing else, so the usual astronomers' stretches
//! are here: percentile clipping, asinh (Lupton et al. 1999; in astropy's
//! unit-free form), log, and IRAF's zscale. A stretch is *fitted* to data
//! ([`Stretch::fit`]) to give a [`Scale`]; fitting once over many images and
//! applying that one scale to each is how images are shown on a shared scale.
//!
//! In configuration a stretch is a string: `linear`, `percentile:1,99.5`,
//! `asinh`, `asinh:0.05`, `log`, `log:100`, `zscale`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A way to map data values to [0, 1].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Stretch {
    /// Linear from the minimum to the maximum.
    Linear,
    /// Linear between two percentiles (in percent) of the data, clipping
    /// outside; percentiles interpolate linearly between ranks, as numpy's
    /// default does.
    Percentile {
        /// The lower percentile, black.
        low: f32,
        /// The upper percentile, white.
        high: f32,
    },
    /// `asinh(x / a) / asinh(1 / a)` of the min-max normalised value `x`:
    /// linear for `x` well below the softening `a`, logarithmic above, so
    /// faint structure and bright cores show together (astropy's
    /// `AsinhStretch`; `a` is a fraction of the range, so it needs no units).
    Asinh {
        /// The softening `a`, a fraction of the range.
        softening: f32,
    },
    /// `log(a x + 1) / log(a + 1)` of the min-max normalised value `x`
    /// (astropy's `LogStretch`).
    Log {
        /// The scale `a`.
        a: f32,
    },
    /// Linear between IRAF's zscale limits: a line fitted to the sorted pixel
    /// values with outliers rejected, so sky noise fills the grey range.
    ZScale,
}

impl Default for Stretch {
    /// Percentiles 1 to 99.5: robust to hot pixels and saturated stars
    /// without the parameters an asinh stretch needs.
    fn default() -> Self {
        Stretch::Percentile {
            low: 1.0,
            high: 99.5,
        }
    }
}

/// The shape of a fitted scale between its limits.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Curve {
    Linear,
    Asinh(f32),
    Log(f32),
}

/// A stretch fitted to data: limits in data units and the curve between them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    low: f32,
    high: f32,
    curve: Curve,
}

impl Scale {
    /// The data value shown as 0.
    pub fn low(&self) -> f32 {
        self.low
    }

    /// The data value shown as 1.
    pub fn high(&self) -> f32 {
        self.high
    }

    /// The display value of `v` in [0, 1]. Values outside the limits clip;
    /// NaN and infinities (masked pixels) show as 0; when the limits are equal
    /// (a constant image) everything shows as 0.
    pub fn apply(&self, v: f32) -> f32 {
        let range = self.high - self.low;
        if !v.is_finite() || range <= 0.0 {
            return 0.0;
        }
        let x = ((v - self.low) / range).clamp(0.0, 1.0);
        match self.curve {
            Curve::Linear => x,
            Curve::Asinh(a) => (x / a).asinh() / (1.0 / a).asinh(),
            Curve::Log(a) => (a * x).ln_1p() / a.ln_1p(),
        }
    }
}

impl Stretch {
    /// Fits the stretch to `values`, ignoring NaN and infinities. With no
    /// finite values the scale shows everything as 0.
    pub fn fit(&self, values: impl IntoIterator<Item = f32>) -> Result<Scale> {
        self.check()?;
        let mut finite: Vec<f32> = values.into_iter().filter(|v| v.is_finite()).collect();
        if finite.is_empty() {
            return Ok(Scale {
                low: 0.0,
                high: 0.0,
                curve: Curve::Linear,
            });
        }
        finite.sort_unstable_by(f32::total_cmp);
        let (min, max) = (finite[0], finite[finite.len() - 1]);
        let (low, high, curve) = match *self {
            Stretch::Linear => (min, max, Curve::Linear),
            Stretch::Percentile { low, high } => (
                percentile(&finite, low),
                percentile(&finite, high),
                Curve::Linear,
            ),
            Stretch::Asinh { softening } => (min, max, Curve::Asinh(softening)),
            Stretch::Log { a } => (min, max, Curve::Log(a)),
            Stretch::ZScale => {
                let (low, high) = zscale(&finite);
                (low, high, Curve::Linear)
            }
        };
        Ok(Scale { low, high, curve })
    }

    /// Rejects parameters that would give no picture, naming the stretch.
    fn check(&self) -> Result<()> {
        let bad = |reason: &str| Err(Error::invalid(format!("stretch '{self}'"), reason));
        match *self {
            Stretch::Percentile { low, high } if !(0.0 <= low && low < high && high <= 100.0) => {
                bad("percentiles must satisfy 0 <= low < high <= 100")
            }
            Stretch::Asinh { softening } if !(softening > 0.0 && softening.is_finite()) => {
                bad("the softening must be a positive number (0.1 is typical)")
            }
            Stretch::Log { a } if !(a > 0.0 && a.is_finite()) => {
                bad("the log scale factor must be positive (1000 is typical)")
            }
            _ => Ok(()),
        }
    }
}

/// The `p`-th percentile (in percent) of sorted, non-empty `sorted`, with
/// linear interpolation between the two nearest ranks.
pub(crate) fn percentile(sorted: &[f32], p: f32) -> f32 {
    let rank = f64::from(p.clamp(0.0, 100.0)) / 100.0 * (sorted.len() - 1) as f64;
    let below = rank.floor() as usize;
    let above = rank.ceil() as usize;
    let f = (rank - below as f64) as f32;
    sorted[below] + (sorted[above] - sorted[below]) * f
}

/// IRAF's zscale limits of sorted, non-empty `sorted`, with the parameters
/// and steps of astropy's `ZScaleInterval` (1000 samples, contrast 0.25,
/// 2.5-sigma rejection, at most 5 iterations, at most half the samples
/// rejected).
fn zscale(sorted: &[f32]) -> (f32, f32) {
    const SAMPLES: usize = 1000;
    const CONTRAST: f64 = 0.25;
    const KREJ: f64 = 2.5;
    const MAX_ITERATIONS: usize = 5;
    // Every stride-th value of sorted data is itself sorted.
    let stride = (sorted.len() / SAMPLES).max(1);
    let samples: Vec<f64> = sorted
        .iter()
        .step_by(stride)
        .take(SAMPLES)
        .map(|&v| f64::from(v))
        .collect();
    let n = samples.len();
    let (vmin, vmax) = (samples[0], samples[n - 1]);
    let min_pixels = 5.max(n / 2);
    let grow = (n / 100).max(1);
    let mut bad = vec![false; n];
    let mut good = n;
    let mut last_good = n + 1;
    let mut slope = None;
    for _ in 0..MAX_ITERATIONS {
        if good >= last_good || good < min_pixels {
            break;
        }
        let (s, intercept) = line_fit(&samples, &bad);
        slope = Some(s);
        let flat: Vec<f64> = samples
            .iter()
            .enumerate()
            .map(|(i, v)| v - (intercept + s * i as f64))
            .collect();
        let kept: Vec<f64> = flat
            .iter()
            .zip(&bad)
            .filter(|(_, b)| !**b)
            .map(|(f, _)| *f)
            .collect();
        let mean = kept.iter().sum::<f64>() / kept.len() as f64;
        let sd = (kept.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / kept.len() as f64).sqrt();
        let threshold = KREJ * sd;
        for (b, f) in bad.iter_mut().zip(&flat) {
            *b |= f.abs() > threshold;
        }
        bad = dilate(&bad, grow);
        last_good = good;
        good = bad.iter().filter(|b| !**b).count();
    }
    match slope {
        Some(s) if good >= min_pixels => {
            let s = s / CONTRAST;
            let centre = (n - 1) / 2;
            let median = if n % 2 == 1 {
                samples[n / 2]
            } else {
                (samples[n / 2 - 1] + samples[n / 2]) / 2.0
            };
            let low = vmin.max(median - (centre as f64 - 1.0) * s);
            let high = vmax.min(median + (n - centre) as f64 * s);
            (low as f32, high as f32)
        }
        _ => (vmin as f32, vmax as f32),
    }
}

/// Least-squares line through `(i, y[i])` for the points not marked bad:
/// (slope, intercept).
fn line_fit(y: &[f64], bad: &[bool]) -> (f64, f64) {
    let points = || {
        y.iter()
            .enumerate()
            .filter(|(i, _)| !bad[*i])
            .map(|(i, v)| (i as f64, *v))
    };
    let n = points().count() as f64;
    let (mx, my) = points().fold((0.0, 0.0), |(sx, sy), (x, v)| (sx + x / n, sy + v / n));
    let (sxy, sxx) = points().fold((0.0, 0.0), |(a, b), (x, v)| {
        (a + (x - mx) * (v - my), b + (x - mx).powi(2))
    });
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (slope, my - slope * mx)
}

/// numpy's `convolve(mask, ones(width), mode="same") > 0`: each point is bad
/// when any point in its window is.
fn dilate(mask: &[bool], width: usize) -> Vec<bool> {
    let half = (width - 1) / 2;
    (0..mask.len())
        .map(|i| {
            let end = (i + half).min(mask.len() - 1);
            let start = (i + half).saturating_sub(width - 1);
            mask[start..=end].iter().any(|b| *b)
        })
        .collect()
}

impl fmt::Display for Stretch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stretch::Linear => write!(f, "linear"),
            Stretch::Percentile { low, high } => write!(f, "percentile:{low},{high}"),
            Stretch::Asinh { softening } => write!(f, "asinh:{softening}"),
            Stretch::Log { a } => write!(f, "log:{a}"),
            Stretch::ZScale => write!(f, "zscale"),
        }
    }
}

impl FromStr for Stretch {
    type Err = Error;

    /// `name` or `name:p1,p2`; parameters left out take their usual values
    /// (percentile 1,99.5; asinh 0.1; log 1000).
    fn from_str(s: &str) -> Result<Self> {
        let (name, args) = s.trim().split_once(':').unwrap_or((s.trim(), ""));
        let numbers: Vec<f32> = args
            .split(',')
            .filter(|a| !a.trim().is_empty())
            .map(|a| a.trim().parse::<f32>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| {
                Error::invalid(
                    format!("stretch '{s}'"),
                    format!("parameters must be numbers ({e})"),
                )
            })?;
        let stretch = match (name.to_ascii_lowercase().as_str(), numbers.as_slice()) {
            ("linear", []) => Stretch::Linear,
            ("percentile", []) => Stretch::default(),
            ("percentile", [high]) => Stretch::Percentile {
                low: 100.0 - high,
                high: *high,
            },
            ("percentile", [low, high]) => Stretch::Percentile {
                low: *low,
                high: *high,
            },
            ("asinh", []) => Stretch::Asinh { softening: 0.1 },
            ("asinh", [a]) => Stretch::Asinh { softening: *a },
            ("log", []) => Stretch::Log { a: 1000.0 },
            ("log", [a]) => Stretch::Log { a: *a },
            ("zscale", []) => Stretch::ZScale,
            _ => {
                return Err(Error::invalid(
                    format!("stretch '{s}'"),
                    "expected linear, percentile[:low,high], asinh[:softening], log[:a] or zscale",
                ));
            }
        };
        stretch.check()?;
        Ok(stretch)
    }
}

impl TryFrom<String> for Stretch {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Stretch> for String {
    fn from(s: Stretch) -> String {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn linear_maps_min_and_max_to_0_and_1() {
        let s = Stretch::Linear.fit([2.0, 4.0, 6.0]).unwrap();
        assert_eq!((s.apply(2.0), s.apply(4.0), s.apply(6.0)), (0.0, 0.5, 1.0));
        assert_eq!(s.apply(100.0), 1.0, "clipped");
    }

    #[test]
    fn percentile_matches_a_hand_computation() {
        // Values 0..=9. Rank of the 10th percentile: 0.1 * 9 = 0.9, so 0.9;
        // of the 95th: 0.95 * 9 = 8.55, so 8.55.
        let values: Vec<f32> = (0..10).rev().map(|v| v as f32).collect();
        let s = "percentile:10,95"
            .parse::<Stretch>()
            .unwrap()
            .fit(values)
            .unwrap();
        assert!(close(s.low(), 0.9) && close(s.high(), 8.55), "{s:?}");
        assert!(close(s.apply(4.725), 0.5));
    }

    #[test]
    fn asinh_of_known_values() {
        // Data 0..=10, softening 0.1: x = v / 10, y = asinh(10 x) / asinh(10).
        let s = Stretch::Asinh { softening: 0.1 }.fit([0.0, 10.0]).unwrap();
        assert_eq!(s.apply(0.0), 0.0);
        assert!(close(s.apply(10.0), 1.0));
        // asinh(1) / asinh(10) = 0.881374 / 2.998223
        assert!(close(s.apply(1.0), 0.293965), "{}", s.apply(1.0));
    }

    #[test]
    fn log_of_known_values() {
        // log(1000 * 0.5 + 1) / log(1001) = 6.216606 / 6.908755
        let s = Stretch::Log { a: 1000.0 }.fit([0.0, 2.0]).unwrap();
        assert!(close(s.apply(1.0), 0.899816), "{}", s.apply(1.0));
    }

    #[test]
    fn zscale_of_a_ramp_is_its_range_and_clips_outliers() {
        // A straight ramp fits exactly: the limits widen past the data and
        // are clamped to its range.
        let ramp: Vec<f32> = (0..1000).map(|v| v as f32).collect();
        let s = Stretch::ZScale.fit(ramp.clone()).unwrap();
        assert_eq!((s.low(), s.high()), (0.0, 999.0));
        // Noise around 100 with a few bright stars: the upper limit stays
        // near the noise, far below the stars.
        let mut sky: Vec<f32> = (0..2000)
            .map(|i| 100.0 + ((i * 37 % 101) as f32 - 50.0) / 10.0)
            .collect();
        sky.extend([5000.0, 8000.0, 12000.0]);
        let s = Stretch::ZScale.fit(sky).unwrap();
        assert!(s.low() >= 95.0 && s.high() <= 106.0, "{s:?}");
    }

    #[test]
    fn masked_pixels_are_ignored_and_shown_as_zero() {
        let s = Stretch::Linear
            .fit([f32::NAN, 1.0, 3.0, f32::INFINITY])
            .unwrap();
        assert_eq!((s.low(), s.high()), (1.0, 3.0));
        assert_eq!(s.apply(f32::NAN), 0.0);
        let empty = Stretch::Linear.fit([f32::NAN]).unwrap();
        assert_eq!(empty.apply(1.0), 0.0);
    }

    #[test]
    fn strings_round_trip_and_bad_ones_say_why() {
        for text in [
            "linear",
            "percentile:1,99.5",
            "asinh:0.05",
            "log:100",
            "zscale",
        ] {
            let s: Stretch = text.parse().unwrap();
            assert_eq!(s.to_string(), text);
        }
        assert_eq!(
            "asinh".parse::<Stretch>().unwrap(),
            Stretch::Asinh { softening: 0.1 }
        );
        assert_eq!(
            "percentile:99".parse::<Stretch>().unwrap(),
            Stretch::Percentile {
                low: 1.0,
                high: 99.0
            }
        );
        let s: Stretch = serde_json::from_str("\"percentile:2,98\"").unwrap();
        assert_eq!(
            s,
            Stretch::Percentile {
                low: 2.0,
                high: 98.0
            }
        );
        for bad in ["sqrt", "percentile:99,1", "asinh:-1", "log:x"] {
            let e = bad.parse::<Stretch>().unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        assert!(Stretch::Asinh { softening: 0.0 }.fit([1.0]).is_err());
    }
}
