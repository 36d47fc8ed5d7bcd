//! FITS images through cfitsio (the `fitsio` crate, built from source), which
//! reads every variant we tried, tile-compressed images included, and applies
//! BSCALE/BZERO.
//!
//! The array read is the first HDU holding image data: the primary HDU, or the
//! first image extension when the primary is empty (as in compressed files).
//! Axes come out in C order, slowest first: a cube of NAXIS3 = bands is
//! bands x H x W.

use std::path::Path;

use fitsio::FitsFile;
use fitsio::hdu::HduInfo;
use ndarray::{ArrayD, IxDyn};

use crate::limits::MAX_ARRAY_BYTES;
use crate::{Error, Result};

/// The first image in the FITS file at `path`, as float32 in C axis order.
pub(crate) fn read(path: &Path) -> Result<ArrayD<f32>> {
    let fail = |e: fitsio::errors::Error| match e {
        fitsio::errors::Error::Fits(e) => Error::data(
            path,
            format!(
                "not a readable FITS file: {} (cfitsio status {}); is it complete?",
                e.message, e.status
            ),
        ),
        e => Error::data(path, format!("not a readable FITS file ({e})")),
    };
    if !path.exists() {
        return Err(Error::data(path, "no such file; check the path"));
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        return Err(Error::data(
            path,
            "the file is empty; expected a FITS image",
        ));
    }
    let mut file = FitsFile::open(path).map_err(fail)?;
    let hdus = file.num_hdus().map_err(fail)?;
    for index in 0..hdus {
        let hdu = file.hdu(index).map_err(fail)?;
        if let HduInfo::ImageInfo { shape, .. } = &hdu.info
            && !shape.is_empty()
            && shape.iter().all(|&d| d > 0)
        {
            let shape = shape.clone();
            check_size(path, &mut file, &hdu, &shape)?;
            let values: Vec<f32> = hdu.read_image(&mut file).map_err(fail)?;
            return ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|_| {
                Error::data(
                    path,
                    format!("HDU {index} holds fewer values than its shape {shape:?}"),
                )
            });
        }
    }
    Err(Error::data(
        path,
        format!("none of its {hdus} HDUs holds an image"),
    ))
}

/// Checks an image's declared size before it is allocated: an uncompressed
/// image must fit in the file, a tile-compressed one (whose header declares
/// the inflated size) under [`MAX_ARRAY_BYTES`].
fn check_size(
    path: &Path,
    file: &mut FitsFile,
    hdu: &fitsio::hdu::FitsHdu,
    shape: &[usize],
) -> Result<()> {
    let declared = shape
        .iter()
        .try_fold(4u64, |acc, &d| acc.checked_mul(d as u64));
    let compressed = hdu.read_key::<bool>(file, "ZIMAGE").unwrap_or(false);
    let length = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    // The smallest pixels (8-bit) take a quarter of the float32 size counted above.
    match declared {
        Some(n) if n <= MAX_ARRAY_BYTES && (compressed || n / 4 <= length) => Ok(()),
        Some(n) if n <= MAX_ARRAY_BYTES => Err(Error::data(
            path,
            format!(
                "the file is truncated: its header declares an image of {shape:?} pixels but the file holds only {length} bytes"
            ),
        )),
        _ => Err(Error::data(
            path,
            format!(
                "its header declares an image of {shape:?} pixels, more than the {} GiB an array may hold; the file is corrupt",
                MAX_ARRAY_BYTES >> 30
            ),
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    use fitsio::FitsFile;
    use fitsio::images::{ImageDescription, ImageType};
    use ndarray::ArrayD;

    use super::*;

    /// Writes `values` (C order, `shape` slowest axis first) as a float image
    /// in the primary HDU, or in an extension after an empty primary.
    pub fn write(path: &Path, shape: &[usize], values: &[f32], in_extension: bool) {
        let description = ImageDescription {
            data_type: ImageType::Float,
            dimensions: shape,
        };
        let mut file = if in_extension {
            FitsFile::create(path).open().unwrap()
        } else {
            FitsFile::create(path)
                .with_custom_primary(&description)
                .open()
                .unwrap()
        };
        let hdu = if in_extension {
            file.create_image("SCI", &description).unwrap()
        } else {
            file.primary_hdu().unwrap()
        };
        hdu.write_image(&mut file, values).unwrap();
    }

    #[test]
    fn reads_a_cube_in_c_order_from_the_primary_or_an_extension() {
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<f32> = (0..24).map(|v| v as f32).collect();
        for in_extension in [false, true] {
            let path = dir.path().join(format!("cube{in_extension}.fits"));
            write(&path, &[2, 3, 4], &values, in_extension);
            let cube: ArrayD<f32> = read(&path).unwrap();
            assert_eq!(cube.shape(), &[2, 3, 4]);
            // Band 1, row 2, column 3 is the last value written.
            assert_eq!(cube[[1, 2, 3]], 23.0);
            assert_eq!(cube[[0, 1, 0]], 4.0);
        }
    }

    fn astropy(name: &str) -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/probe/fits")
            .join(name)
    }

    #[test]
    fn reads_astropys_test_cube_and_compressed_image() {
        // arange.fits: a 7 x 10 x 11 int32 cube of (almost) numpy.arange(770),
        // its data big-endian right after one 2880-byte header block. The
        // reference decodes those bytes directly, without cfitsio.
        let cube = read(&astropy("arange.fits")).unwrap();
        assert_eq!(cube.shape(), &[7, 10, 11]);
        assert_eq!(cube[[3, 2, 5]], 357.0);
        let bytes = std::fs::read(astropy("arange.fits")).unwrap();
        let expected: Vec<f32> = bytes[2880..2880 + 770 * 4]
            .chunks(4)
            .map(|b| i32::from_be_bytes(b.try_into().unwrap()) as f32)
            .collect();
        assert_eq!(cube.iter().copied().collect::<Vec<_>>(), expected);
        // RICE_1 is lossless on integers: the compressed file reads as the plain one.
        let plain = read(&astropy("m13.fits")).unwrap();
        let rice = read(&astropy("m13_rice.fits")).unwrap();
        assert_eq!(plain.shape(), &[300, 300]);
        assert_eq!(plain, rice);
        assert!(plain.iter().any(|&v| v != plain[[0, 0]]));
    }

    #[test]
    fn truncated_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.fits");
        write(&path, &[64, 64], &vec![1.0; 64 * 64], false);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("cut.fits"), "{err}");
        assert!(
            read(&dir.path().join("absent.fits"))
                .unwrap_err()
                .to_string()
                .contains("absent.fits")
        );
    }
}
