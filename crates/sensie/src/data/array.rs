//! Numeric arrays from `.npy`, `.npz` and FITS files, and image arrays brought
//! into sensie's N x C x H x W.
//!
//! `.npy` files may hold any float or integer dtype; the dtype decides whether
//! labels are class indices or continuous targets, so it is kept until the
//! labels are read, and images become float32.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use ndarray::{Array4, ArrayD, Axis, Ix4};
use ndarray_npy::{NpzReader, ReadNpyError, ReadNpyExt, ReadNpzError, ReadableElement};

use super::fits;
use crate::model::Layout;
use crate::{Error, Result};

/// An array as stored, before it is read as images or labels.
pub(crate) enum Numeric {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    Int(ArrayD<i64>),
}

impl Numeric {
    pub(crate) fn shape(&self) -> &[usize] {
        match self {
            Numeric::F32(a) => a.shape(),
            Numeric::F64(a) => a.shape(),
            Numeric::Int(a) => a.shape(),
        }
    }

    pub(crate) fn into_f32(self) -> ArrayD<f32> {
        match self {
            Numeric::F32(a) => a,
            Numeric::F64(a) => a.mapv(|v| v as f32),
            Numeric::Int(a) => a.mapv(|v| v as f32),
        }
    }
}

/// A place an `.npy` array can be read from, once per element type tried.
trait NpySource {
    fn read<T: ReadableElement>(&mut self) -> std::result::Result<ArrayD<T>, ReadNpyError>;
}

/// The bytes of an `.npy` file, read once and decoded per type tried.
struct NpyBytes(Vec<u8>);

impl NpySource for NpyBytes {
    fn read<T: ReadableElement>(&mut self) -> std::result::Result<ArrayD<T>, ReadNpyError> {
        ArrayD::<T>::read_npy(self.0.as_slice())
    }
}

/// One member of an `.npz` archive.
struct NpzMember<'a, R: Read + Seek> {
    archive: &'a mut NpzReader<R>,
    name: &'a str,
}

impl<R: Read + Seek> NpySource for NpzMember<'_, R> {
    fn read<T: ReadableElement>(&mut self) -> std::result::Result<ArrayD<T>, ReadNpyError> {
        self.archive.by_name(self.name).map_err(|e| match e {
            ReadNpzError::Npy(e) => e,
            ReadNpzError::Zip(e) => ReadNpyError::Io(std::io::Error::other(e.to_string())),
        })
    }
}

/// Tries the element types sensie reads, in order, until the file's dtype matches.
fn decode(path: &Path, source: &mut impl NpySource) -> Result<Numeric> {
    let fail = |e: ReadNpyError| {
        let reason = match e {
            ReadNpyError::MissingData => {
                "the file is truncated: it holds fewer values than its header's shape says"
                    .to_string()
            }
            ReadNpyError::ExtraBytes(n) => {
                format!("{n} bytes follow the array that its header does not account for")
            }
            other => format!("not a readable .npy array ({other})"),
        };
        Error::data(path, reason)
    };
    macro_rules! attempt {
        ($t:ty, int) => {
            attempt!($t, |a: ArrayD<$t>| Numeric::Int(a.mapv(i64::from)))
        };
        ($t:ty, $wrap:expr) => {
            match source.read::<$t>() {
                Ok(a) => return Ok($wrap(a)),
                Err(ReadNpyError::WrongDescriptor(_)) => {}
                Err(e) => return Err(fail(e)),
            }
        };
    }
    attempt!(f32, Numeric::F32);
    attempt!(f64, Numeric::F64);
    attempt!(i64, Numeric::Int);
    attempt!(i32, int);
    attempt!(i16, int);
    attempt!(i8, int);
    attempt!(u8, int);
    attempt!(u16, int);
    attempt!(u32, int);
    attempt!(bool, int);
    match source.read::<u64>() {
        Ok(a) => Ok(Numeric::Int(a.mapv(|v| v.min(i64::MAX as u64) as i64))),
        Err(ReadNpyError::WrongDescriptor(dtype)) => Err(Error::data(
            path,
            format!(
                "dtype {dtype} is not supported; save the array as float32, float64 or an integer type"
            ),
        )),
        Err(e) => Err(fail(e)),
    }
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::io(path, e))
}

/// An `.npy` file's array, whatever its float or integer dtype.
pub(crate) fn read_npy(path: &Path) -> Result<Numeric> {
    let mut bytes = Vec::new();
    BufReader::new(open(path)?)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    decode(path, &mut NpyBytes(bytes))
}

/// The array `name` of an `.npz` archive; a missing name is refused with the
/// names the archive holds.
pub(crate) fn read_npz(path: &Path, name: &str) -> Result<Numeric> {
    let mut archive = NpzReader::new(BufReader::new(open(path)?))
        .map_err(|e| Error::data(path, format!("not a readable .npz archive ({e})")))?;
    let names = archive
        .names()
        .map_err(|e| Error::data(path, format!("not a readable .npz archive ({e})")))?;
    if !names.iter().any(|n| n == name) {
        return Err(Error::unknown(
            format!("array in {}", path.display()),
            name,
            names,
        ));
    }
    decode(
        path,
        &mut NpzMember {
            archive: &mut archive,
            name,
        },
    )
}

pub(crate) fn is_fits(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    [".fits", ".fit", ".fts", ".fits.fz", ".fits.gz"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// A float32 array from an `.npy` or FITS file (chosen by extension), as
/// used for whole data sets and for PSF kernels.
pub fn read_array(path: &Path) -> Result<ArrayD<f32>> {
    if is_fits(path) {
        fits::read(path)
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
    {
        Ok(read_npy(path)?.into_f32())
    } else {
        Err(Error::data(
            path,
            "expected a .npy or FITS (.fits, .fit, .fts, .fits.fz) file",
        ))
    }
}

/// The layout of a 4-D image array N x a x b x c when the user did not say:
/// channels first when a is 1, 3 or 4 and smaller than both b and c; channels
/// last when c is; nothing when neither or both fit.
pub fn guess_layout(shape: &[usize]) -> Option<Layout> {
    let &[_, a, b, c] = shape else { return None };
    let channels = |d: usize, x: usize, y: usize| matches!(d, 1 | 3 | 4) && d < x && d < y;
    match (channels(a, b, c), channels(c, a, b)) {
        (true, false) => Some(Layout::Nchw),
        (false, true) => Some(Layout::Nhwc),
        _ => None,
    }
}

/// A whole data set's images (N x H x W, N x C x H x W or N x H x W x C) as
/// N x C x H x W.
pub(crate) fn images_from_array(
    array: ArrayD<f32>,
    layout: Option<Layout>,
    path: &Path,
) -> Result<Array4<f32>> {
    let shape = array.shape().to_vec();
    let array = match shape.len() {
        3 => array.insert_axis(Axis(1)),
        4 => array,
        _ => {
            return Err(Error::data(
                path,
                format!(
                    "images must be N x H x W, N x C x H x W or N x H x W x C; this array is {shape:?}"
                ),
            ));
        }
    };
    let array = array
        .into_dimensionality::<Ix4>()
        .expect("4-D by construction");
    let layout = if shape.len() == 3 {
        Layout::Nchw
    } else {
        layout.or_else(|| guess_layout(&shape)).ok_or_else(|| {
            Error::data(path, format!("cannot tell which axis of shape {shape:?} holds the channels; pass --data-layout nchw or nhwc"))
        })?
    };
    Ok(match layout {
        Layout::Nchw => array,
        Layout::Nhwc => array
            .permuted_axes([0, 3, 1, 2])
            .as_standard_layout()
            .into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array3, ArrayD, IxDyn};
    use ndarray_npy::{NpzWriter, WriteNpyExt};

    use super::*;

    #[test]
    fn the_layout_guess_takes_the_small_axis_of_1_3_or_4() {
        assert_eq!(guess_layout(&[10, 3, 32, 32]), Some(Layout::Nchw));
        assert_eq!(guess_layout(&[10, 28, 28, 1]), Some(Layout::Nhwc));
        assert_eq!(guess_layout(&[10, 4, 8, 4]), None);
        assert_eq!(guess_layout(&[10, 5, 8, 8]), None);
    }

    #[test]
    fn nhwc_arrays_become_nchw() {
        let nhwc = ArrayD::from_shape_fn(IxDyn(&[2, 4, 5, 3]), |i| {
            (i[0] * 1000 + i[1] * 100 + i[2] * 10 + i[3]) as f32
        });
        let images = images_from_array(nhwc, None, Path::new("x.npy")).unwrap();
        assert_eq!(images.dim(), (2, 3, 4, 5));
        assert_eq!(images[[1, 2, 3, 4]], 1342.0);
        let grey = ArrayD::<f32>::zeros(IxDyn(&[2, 4, 5]));
        assert_eq!(
            images_from_array(grey, None, Path::new("x.npy"))
                .unwrap()
                .dim(),
            (2, 1, 4, 5)
        );
        let err =
            images_from_array(ArrayD::zeros(IxDyn(&[2, 4])), None, Path::new("x.npy")).unwrap_err();
        assert!(err.to_string().contains("x.npy") && err.to_string().contains("[2, 4]"));
        let err = images_from_array(
            ArrayD::zeros(IxDyn(&[2, 4, 4, 4])),
            None,
            Path::new("x.npy"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("--data-layout"));
    }

    #[test]
    fn npy_dtypes_are_kept_apart_and_truncation_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let ints = dir.path().join("y.npy");
        Array1::from(vec![3u8, 1, 2])
            .write_npy(File::create(&ints).unwrap())
            .unwrap();
        assert!(
            matches!(read_npy(&ints).unwrap(), Numeric::Int(a) if a.as_slice().unwrap() == [3, 1, 2])
        );
        let floats = dir.path().join("x.npy");
        Array3::<f64>::ones((2, 3, 4))
            .write_npy(File::create(&floats).unwrap())
            .unwrap();
        assert!(matches!(read_npy(&floats).unwrap(), Numeric::F64(_)));
        let bytes = std::fs::read(&floats).unwrap();
        std::fs::write(&floats, &bytes[..bytes.len() - 8]).unwrap();
        let err = read_npy(&floats).err().unwrap().to_string();
        assert!(err.contains("x.npy") && err.contains("truncated"), "{err}");
    }

    #[test]
    fn npz_members_are_found_by_name_and_missing_ones_listed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.npz");
        let mut npz = NpzWriter::new(File::create(&path).unwrap());
        npz.add_array("images", &Array3::<f32>::zeros((2, 2, 2)))
            .unwrap();
        npz.add_array("y", &Array1::from(vec![0i64, 1])).unwrap();
        npz.finish().unwrap();
        assert_eq!(read_npz(&path, "images").unwrap().shape(), &[2, 2, 2]);
        let err = read_npz(&path, "x").err().unwrap().to_string();
        assert!(err.contains("'x'") && err.contains("images, y"), "{err}");
    }
}
