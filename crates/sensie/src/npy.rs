//! Writing NumPy `.npy` arrays, atomically ([`crate::output::write_atomic_with`]),
//! so a result is never half-written. Reading is [`crate::data::read_array`].

use std::path::Path;

use ndarray_npy::WriteNpyExt;

use crate::{Error, Result};

/// Writes an array as `.npy`, atomically.
pub fn write<A: WriteNpyExt>(path: &Path, array: &A) -> Result<()> {
    crate::output::write_atomic_with(path, |out| {
        array.write_npy(out).map_err(|e| Error::Data {
            path: path.to_path_buf(),
            reason: format!("writing failed: {e}"),
        })
    })
}
