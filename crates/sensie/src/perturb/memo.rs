//! A pointwise perturbation's costly function of a pixel's value (a `powf`,
//! a Poisson distribution's set-up), remembered per distinct value.
//!
//! Images often hold far fewer distinct values than pixels: 8-bit images at
//! most 256 a band, the bundled lens cut-outs about 150 a band of 4096
//! pixels (quantised fluxes). A small direct-mapped table keyed by the
//! value's bits then computes each value about once per image; a value that
//! misses is computed exactly as without the table, so results do not change,
//! and data with every value distinct pays one table probe per pixel.

/// Slots in the table at most: a few times the distinct values of a
/// typical band, and small enough to stay in the core's cache.
const MAX_SLOTS: usize = 1024;
/// The key of an empty slot: no f32's bits.
const EMPTY: u64 = u64::MAX;

/// The last value computed for each slot, keyed by the pixel's bits.
pub(super) struct ValueMemo<T> {
    keys: Vec<u64>,
    values: Vec<T>,
}

impl<T: Copy + Default> ValueMemo<T> {
    /// A table for an image of `pixels` values: a slot per four pixels (at
    /// least 64, at most [`MAX_SLOTS`]), so that setting it up costs a small
    /// image (a 28 x 28 digit) no more than the values it saves.
    pub(super) fn for_pixels(pixels: usize) -> Self {
        let slots = (pixels / 4).clamp(64, MAX_SLOTS).next_power_of_two();
        ValueMemo {
            keys: vec![EMPTY; slots],
            values: vec![T::default(); slots],
        }
    }

    /// Forgets every value, keeping the table.
    fn clear(&mut self) {
        self.keys.fill(EMPTY);
    }

    /// `f(value)`, computed now or remembered from an equal value (same
    /// bits); lent, not copied, as it may be large (a Poisson set-up).
    #[inline]
    pub(super) fn get(&mut self, value: f32, f: impl FnOnce(f32) -> T) -> &T {
        let bits = value.to_bits();
        // Fibonacci hashing: the product's top bits depend on every bit of
        // the value, so nearby values land in different slots.
        let shift = 32 - self.keys.len().trailing_zeros();
        let slot = (bits.wrapping_mul(0x9E37_79B9) >> shift) as usize;
        if self.keys[slot] != u64::from(bits) {
            self.keys[slot] = u64::from(bits);
            self.values[slot] = f(value);
        }
        &self.values[slot]
    }
}

/// A [`ValueMemo`] a thread keeps from image to image while the function
/// it remembers stays the same: `key` holds the bits of what the function
/// depends on beside the value (a gamma stretch's exponent and band
/// extremes). Digits share their extremes (0 and 1), so a sweep level's
/// `powf` is taken once per distinct value instead of once per value and
/// image; a new key clears the table, as a new table would start empty.
pub(super) struct KeptMemo<T> {
    key: Option<[u64; 3]>,
    memo: ValueMemo<T>,
}

impl<T: Copy + Default> KeptMemo<T> {
    /// An empty table of the largest size.
    pub(super) fn new() -> Self {
        KeptMemo {
            key: None,
            memo: ValueMemo::for_pixels(4 * MAX_SLOTS),
        }
    }

    /// The table for the function `key` names, cleared if it remembered
    /// another.
    pub(super) fn for_key(&mut self, key: [u64; 3]) -> &mut ValueMemo<T> {
        if self.key != Some(key) {
            self.memo.clear();
            self.key = Some(key);
        }
        &mut self.memo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_equal_bits_and_computes_every_other_value() {
        let mut memo = ValueMemo::for_pixels(4096);
        let mut calls = 0;
        let mut square = |v: f32| {
            *memo.get(v, |v| {
                calls += 1;
                v * v
            })
        };
        // 0.0 and -0.0 are different bits (and may give different results).
        let values = [3.0f32, 3.0, -0.0, 0.0, 3.0, 1e-30, f32::MAX];
        let got: Vec<f32> = values.iter().map(|&v| square(v)).collect();
        assert_eq!(got, values.map(|v| v * v));
        assert!(got[2].is_sign_positive() && got[3].is_sign_positive());
        assert_eq!(calls, 5);
        // A kept table forgets its values when its function changes.
        let mut kept = KeptMemo::new();
        assert_eq!(*kept.for_key([1, 0, 0]).get(2.0, |v| v * 10.0), 20.0);
        assert_eq!(*kept.for_key([1, 0, 0]).get(2.0, |v| v * 99.0), 20.0);
        assert_eq!(*kept.for_key([2, 0, 0]).get(2.0, |v| v * 99.0), 198.0);
        // Every one of many distinct values still gets its own result.
        let mut memo = ValueMemo::for_pixels(4096);
        for i in 0..100_000 {
            let v = i as f32 * 0.37;
            assert_eq!(*memo.get(v, |v| v.sqrt()), v.sqrt());
        }
    }
}
