//! The largest amounts of work sensie accepts from a command line, a config
//! file or a file header. Each guards against a typo or a hostile input that
//! would otherwise exhaust memory or run for days; a value past its limit is
//! refused with the limit named, never clamped in silence.

use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// Bytes one array read from a file may hold (16 GiB).
pub const MAX_ARRAY_BYTES: u64 = 1 << 34;
/// Levels in one perturbation sweep (each runs the model on every example).
pub const MAX_LEVELS: usize = 1000;
/// Bins of one property test.
pub const MAX_BINS: usize = 1000;
/// Bootstrap replicates behind every interval.
pub const MAX_REPLICATES: usize = 100_000;
/// ONNX Runtime threads per operator.
pub const MAX_THREADS: usize = 1024;
/// Iterative steps: Integrated Gradients' steps, SmoothGrad's samples,
/// faithfulness curve steps, activation maximisation's and Deep Dream's
/// steps, and Deep Dream's octaves.
pub const MAX_STEPS: usize = 100_000;
/// Activation maximisation's restarts: they run as one batch, so each costs
/// the model's activations for one image at once (100,000 restarts of a
/// 28 x 28 digit asked for more than 12 GB).
pub const MAX_RESTARTS: usize = 1024;
/// A blur's sigma in pixels: its kernel has 8 sigma + 1 taps (a sigma of
/// 1e9 asked for 64 GB), and a sigma past any image's size blurs it flat.
pub const MAX_SIGMA: f32 = 10_000.0;

/// Bytes of an ONNX model file, read whole: protobuf's own limit (2 GiB);
/// larger weights live in external data files.
pub const MAX_MODEL_BYTES: u64 = 1 << 31;
/// Bytes of a probe config file.
pub const MAX_CONFIG_BYTES: u64 = 1 << 24;

/// A whole file of at most `limit` bytes. A longer one, a pipe that never
/// ends, or a device (`/dev/zero`, whose size reads as 0) is refused naming
/// the file, instead of being read until memory runs out.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = file.metadata().map_err(|e| Error::io(path, e))?.file_type();
        if kind.is_char_device() || kind.is_block_device() {
            return Err(Error::data(
                path,
                "a device, not a file; give the file itself",
            ));
        }
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::data(
            path,
            format!(
                "larger than {} MiB, the most sensie reads of such a file; is it the right file?",
                limit >> 20
            ),
        ));
    }
    Ok(bytes)
}

/// Refuses `value` above `limit`, naming both.
pub fn at_most(what: &str, value: usize, limit: usize) -> Result<()> {
    if value > limit {
        return Err(Error::invalid(
            format!("{what} {value}"),
            format!("sensie accepts at most {limit}"),
        ));
    }
    Ok(())
}

/// A count from the command line, written as digits (`1000`) or a whole
/// number in exponent form (`1e3`), at most `limit`.
pub fn parse_count(text: &str, what: &str, limit: usize) -> Result<usize> {
    let value = text
        .trim()
        .parse::<usize>()
        .ok()
        .or_else(|| {
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| *v >= 0.0 && v.fract() == 0.0 && *v < 1e19)
                .map(|v| v as usize)
        })
        .ok_or_else(|| Error::invalid(format!("{what} '{text}'"), "expected a whole number"))?;
    at_most(what, value, limit)?;
    Ok(value)
}
