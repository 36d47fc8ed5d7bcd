//! Axes: ranges, "nice" tick values (1, 2 or 5 times a power of ten, after
//! Heckbert's "Nice numbers for graph labels", Graphics Gems 1990) and tick
//! labels with just the decimals the step needs.

/// A chart axis.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Axis {
    /// The quantity with its units, e.g. "rotation (deg)".
    pub label: String,
    /// Fixed limits; `None` fits the data, widened to whole tick steps.
    pub range: Option<(f64, f64)>,
}

impl Axis {
    pub fn new(label: impl Into<String>) -> Self {
        Axis {
            label: label.into(),
            range: None,
        }
    }

    /// This axis with fixed limits, e.g. (0, 1) for scores.
    pub fn with_range(self, low: f64, high: f64) -> Self {
        Axis {
            range: Some((low, high)),
            ..self
        }
    }

    /// The limits and ticks for `data` (non-finite values ignored). Fitted
    /// limits are widened to whole tick steps, unless `tight`: then they are
    /// the data's own (for a parameter swept over a chosen range).
    pub(crate) fn ticks(&self, data: impl IntoIterator<Item = f64>, tight: bool) -> Ticks {
        const TARGET: usize = 6;
        let fixed = self
            .range
            .filter(|(lo, hi)| lo.is_finite() && hi.is_finite() && lo < hi);
        let (lo, hi) = fixed.unwrap_or_else(|| data_range(data));
        let step = step(lo, hi, TARGET);
        // Ranges at the edge of f64 (subnormal or overflowing spans) get no
        // ticks rather than a step of 0 or infinity.
        let ticks = |first: i64, last: i64| match last.checked_sub(first) {
            Some(0..=100) if step.is_finite() && step > 0.0 => {
                (first..=last).map(|k| k as f64 * step).collect()
            }
            _ => Vec::new(),
        };
        if fixed.is_some() || tight {
            let (first, last) = (
                (lo / step - 1e-9).ceil() as i64,
                (hi / step + 1e-9).floor() as i64,
            );
            Ticks {
                low: lo,
                high: hi,
                values: ticks(first, last),
                step,
            }
        } else {
            let (first, last) = (
                (lo / step + 1e-9).floor() as i64,
                (hi / step - 1e-9).ceil() as i64,
            );
            Ticks {
                low: first as f64 * step,
                high: last as f64 * step,
                values: ticks(first, last),
                step,
            }
        }
    }
}

/// The finite extent of `data`, widened when it is a single value and (0, 1)
/// when there is none.
fn data_range(data: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = data
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        (0.0, 1.0)
    } else if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    } else {
        (lo, hi)
    }
}

/// An axis's limits and tick values.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ticks {
    pub low: f64,
    pub high: f64,
    pub values: Vec<f64>,
    pub step: f64,
}

impl Ticks {
    /// Tick labels, all with the same number of decimals.
    pub fn labels(&self) -> Vec<String> {
        self.values.iter().map(|v| label(*v, self.step)).collect()
    }
}

/// A tick step giving about `target` ticks over `lo..hi`.
fn step(lo: f64, hi: f64, target: usize) -> f64 {
    let range = nice(hi - lo, false);
    nice(range / (target - 1) as f64, true)
}

/// A number near `x` that is 1, 2, 5 or 10 times a power of ten; `round`
/// picks the nearest, otherwise the next one up.
fn nice(x: f64, round: bool) -> f64 {
    let exp = x.log10().floor();
    let f = x / 10f64.powf(exp);
    let nf = match (round, f) {
        (true, f) if f < 1.5 => 1.0,
        (true, f) if f < 3.0 => 2.0,
        (true, f) if f < 7.0 => 5.0,
        (false, f) if f <= 1.0 => 1.0,
        (false, f) if f <= 2.0 => 2.0,
        (false, f) if f <= 5.0 => 5.0,
        _ => 10.0,
    };
    nf * 10f64.powf(exp)
}

/// `v` as a tick label for ticks `step` apart, with a true minus sign.
pub(crate) fn label(v: f64, step: f64) -> String {
    let v = if v.abs() < step * 1e-6 { 0.0 } else { v };
    let text = if v != 0.0 && (v.abs() >= 1e6 || step < 1e-4) {
        format!("{v:.1e}")
    } else {
        let decimals = (-step.log10().floor()).clamp(0.0, 10.0) as usize;
        format!("{v:.decimals$}")
    };
    text.replace('-', "\u{2212}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_cover_the_data() {
        let t = Axis::new("x").ticks([0.13, 0.87], false);
        assert_eq!(t.step, 0.2);
        assert_eq!((t.low, t.high), (0.0, 1.0));
        assert_eq!(t.labels(), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let t = Axis::new("rotation (deg)").ticks([0.0, 180.0], false);
        assert_eq!(t.step, 50.0);
        assert_eq!(t.labels(), ["0", "50", "100", "150", "200"]);
        let t = Axis::new("rotation (deg)").ticks([180.0, 0.0], true);
        assert_eq!((t.low, t.high), (0.0, 180.0));
        assert_eq!(t.labels(), ["0", "50", "100", "150"]);
    }

    #[test]
    fn fixed_ranges_are_kept_and_degenerate_data_widened() {
        let t = Axis::new("score").with_range(0.0, 1.0).ticks([5.0], false);
        assert_eq!((t.low, t.high), (0.0, 1.0));
        assert_eq!(t.values.len(), 6);
        let t = Axis::new("y").ticks([3.0, 3.0], false);
        assert!(t.low < 3.0 && t.high > 3.0);
        let t = Axis::new("y").ticks([f64::NAN], false);
        assert_eq!((t.low, t.high), (0.0, 1.0));
        for extreme in [
            [0.0, 1e-320],
            [-1e308, 1e308],
            [f64::MIN_POSITIVE, 2.0 * f64::MIN_POSITIVE],
        ] {
            assert!(Axis::new("y").ticks(extreme, false).values.len() <= 101);
            assert!(Axis::new("y").ticks(extreme, true).values.len() <= 101);
        }
    }

    #[test]
    fn labels_use_a_minus_sign_and_scientific_notation_for_extremes() {
        assert_eq!(label(-0.5, 0.5), "\u{2212}0.5");
        assert_eq!(label(1e-17, 0.1), "0.0");
        assert_eq!(label(2e-5, 1e-5), "2.0e\u{2212}5");
        assert_eq!(label(3e6, 1e6), "3.0e6");
    }
}
