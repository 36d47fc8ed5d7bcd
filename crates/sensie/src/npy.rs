//! Reading and writing NumPy `.npy` arrays, with the checks users need:
//! float32 or float64 or integer data accepted (converted to f32), anything
//! else refused with the file named; writes go to a temporary file that is
//! renamed into place, so a result is never half-written.

use std::path::Path;

use ndarray::ArrayD;
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};

use crate::{Error, Result};

/// Reads an `.npy` array as f32.
pub fn read_f32(path: &Path) -> Result<ArrayD<f32>> {
    let open = || std::fs::File::open(path).map_err(|e| Error::io(path, e));
    let bad = |e: ReadNpyError| Error::Data { path: path.to_path_buf(), reason: format!("not a readable .npy array: {e}") };
    match ArrayD::<f32>::read_npy(open()?) {
        Ok(a) => Ok(a),
        Err(ReadNpyError::WrongDescriptor(_)) => {
            if let Ok(a) = ArrayD::<f64>::read_npy(open()?) {
                return Ok(a.mapv(|v| v as f32));
            }
            if let Ok(a) = ArrayD::<u8>::read_npy(open()?) {
                return Ok(a.mapv(f32::from));
            }
            if let Ok(a) = ArrayD::<i64>::read_npy(open()?) {
                return Ok(a.mapv(|v| v as f32));
            }
            Err(Error::Data { path: path.to_path_buf(), reason: "unsupported dtype; use float32, float64, uint8 or int64".into() })
        }
        Err(e) => Err(bad(e)),
    }
}

/// Writes an array as `.npy` through a temporary file and a rename.
pub fn write<A: WriteNpyExt>(path: &Path, array: &A) -> Result<()> {
    let tmp = path.with_extension("npy.partial");
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    array
        .write_npy(std::io::BufWriter::new(file))
        .map_err(|e| Error::Data { path: tmp.clone(), reason: format!("writing failed: {e}") })?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
