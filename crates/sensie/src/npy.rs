//! Writing NumPy `.npy` arrays: writes go to a temporary file that is
//! renamed into place, so a result is never half-written. Reading is
//! [`crate::data::read_array`].

use std::path::Path;

use ndarray_npy::WriteNpyExt;

use crate::{Error, Result};

/// Writes an array as `.npy` through a temporary file and a rename.
pub fn write<A: WriteNpyExt>(path: &Path, array: &A) -> Result<()> {
    let tmp = path.with_extension("npy.partial");
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    array
        .write_npy(std::io::BufWriter::new(file))
        .map_err(|e| Error::Data {
            path: tmp.clone(),
            reason: format!("writing failed: {e}"),
        })?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
