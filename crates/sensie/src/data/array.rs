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
use ndarray_npy::{ReadNpyError, ReadNpyExt, ReadableElement};

use super::fits::{self, Extensions};
use super::name::is_fits;
use crate::limits::MAX_ARRAY_BYTES;
use crate::model::Layout;
use crate::{Error, Result};

/// An array as stored, before it is read as images or labels.
pub(crate) enum Numeric {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    Int(ArrayD<i64>),
    /// uint64, kept apart: its values above `i64::MAX` would not survive
    /// `Int` (a label of 2^64 - 1 was reported as 2^63).
    UInt(ArrayD<u64>),
}

impl Numeric {
    pub(crate) fn shape(&self) -> &[usize] {
        match self {
            Numeric::F32(a) => a.shape(),
            Numeric::F64(a) => a.shape(),
            Numeric::Int(a) => a.shape(),
            Numeric::UInt(a) => a.shape(),
        }
    }

    pub(crate) fn into_f32(self) -> ArrayD<f32> {
        match self {
            Numeric::F32(a) => a,
            Numeric::F64(a) => a.mapv(|v| v as f32),
            Numeric::Int(a) => a.mapv(|v| v as f32),
            Numeric::UInt(a) => a.mapv(|v| v as f32),
        }
    }
}

/// The bytes of an `.npy` array, decoded once per element type tried.
struct NpyBytes(Vec<u8>);

impl NpyBytes {
    fn read<T: ReadableElement>(&self) -> std::result::Result<ArrayD<T>, ReadNpyError> {
        ArrayD::<T>::read_npy(self.0.as_slice())
    }
}

/// Tries the element types sensie reads, in order, until the file's dtype matches.
fn decode(path: &Path, source: &NpyBytes) -> Result<Numeric> {
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
        Ok(a) => Ok(Numeric::UInt(a)),
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

/// What an `.npy` header says.
struct NpyHeader {
    /// The header's length with the magic bytes: where the values start.
    len: usize,
    dims: Vec<u64>,
    /// The dtype, e.g. `<f4`.
    descr: String,
    fortran_order: bool,
}

/// Reads and checks the header of an `.npy` array from `reader`, of which
/// `size` bytes are held in all, before any array its header declares is
/// allocated: a 4 KB file declaring 10^11 images is refused instead of
/// aborting on a failed allocation. Returns the header's bytes too.
fn read_npy_header(
    path: &Path,
    reader: &mut impl Read,
    size: u64,
    fail: &impl Fn(std::io::Error) -> Error,
) -> Result<(NpyHeader, Vec<u8>)> {
    let not_npy = |why: &str| {
        Error::data(
            path,
            format!("{why}; expected a NumPy .npy array (save it with numpy.save)"),
        )
    };
    let mut bytes = Vec::with_capacity(128);
    reader.take(12).read_to_end(&mut bytes).map_err(fail)?;
    if bytes.is_empty() {
        return Err(not_npy("the file is empty"));
    }
    if bytes.len() < 10 || !bytes.starts_with(b"\x93NUMPY") {
        return Err(not_npy("the file does not start with the .npy magic bytes"));
    }
    let (header_start, header_len) = match bytes[6] {
        1 => (10usize, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        2 | 3 if bytes.len() >= 12 => (
            12,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        v => return Err(not_npy(&format!("unknown .npy format version {v}"))),
    };
    let len = header_start.saturating_add(header_len);
    let missing = len.saturating_sub(bytes.len()) as u64;
    reader.take(missing).read_to_end(&mut bytes).map_err(fail)?;
    let Some(header) = bytes.get(header_start..len) else {
        return Err(Error::data(
            path,
            "the file is truncated inside its .npy header",
        ));
    };
    let header = String::from_utf8_lossy(header);
    let field = |key: &str| header.find(key).map(|at| &header[at + key.len()..]);
    let Some(shape) = field("'shape':")
        .and_then(|rest| rest.trim_start().strip_prefix('('))
        .and_then(|rest| rest.split_once(')'))
    else {
        return Err(not_npy("its header declares no shape"));
    };
    let mut dims = Vec::new();
    for d in shape.0.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        dims.push(d.trim_end_matches('L').parse::<u64>().map_err(|_| {
            not_npy(&format!(
                "its header's shape ({}) is not a list of sizes",
                shape.0
            ))
        })?);
    }
    let descr = field("'descr':")
        .and_then(|rest| rest.trim_start().strip_prefix('\'')?.split_once('\''))
        .map_or(String::new(), |(descr, _)| descr.to_string());
    let fortran_order =
        field("'fortran_order':").is_some_and(|rest| rest.trim_start().starts_with("True"));
    // The item size is the number closing the dtype, e.g. '<f4' or '|u1'.
    let item = descr
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse::<u64>()
        .unwrap_or(1);
    let declared = dims.iter().try_fold(item, |acc, &d| acc.checked_mul(d));
    // An empty array's other sizes must still multiply within what an array
    // can index: (0, 1e12, 1e12) holds no bytes but overflows ndarray.
    let extent = dims
        .iter()
        .try_fold(item, |acc, &d| acc.checked_mul(d.max(1)));
    if declared == Some(0) && extent.is_none_or(|e| e > isize::MAX as u64) {
        return Err(not_npy(&format!(
            "its header's shape {dims:?} has sizes whose product overflows an array's index"
        )));
    }
    let held = size.saturating_sub(len as u64);
    match declared {
        Some(n) if n <= MAX_ARRAY_BYTES && n <= held => Ok((
            NpyHeader {
                len,
                dims,
                descr,
                fortran_order,
            },
            bytes,
        )),
        Some(n) if n <= MAX_ARRAY_BYTES => Err(Error::data(
            path,
            format!(
                "the file is truncated: its header declares shape {dims:?} ({n} bytes) but only {held} bytes follow it"
            ),
        )),
        _ => Err(Error::data(
            path,
            format!(
                "its header declares shape {dims:?}, more than the {} GiB an array may hold; the file is corrupt or not meant for sensie",
                MAX_ARRAY_BYTES >> 30
            ),
        )),
    }
}

/// The values of a little-endian float32 array in C order, read straight
/// into the array from `reader` after its header: decoding a copy of the
/// file's bytes cost as long again as reading them (13-16 ms of a 25 MB lens
/// set). Read in pieces of at most 64 MiB, so memory follows what the file
/// holds, not what its header claims.
fn read_f32_values(
    path: &Path,
    reader: &mut impl Read,
    dims: &[u64],
    fail: &impl Fn(std::io::Error) -> Error,
) -> Result<ArrayD<f32>> {
    const PIECE: usize = 16 << 20;
    let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
    let n: usize = shape.iter().product();
    let mut values: Vec<f32> = Vec::new();
    while values.len() < n {
        let from = values.len();
        values.resize(n.min(from + PIECE), 0.0);
        reader
            .read_exact(bytemuck::cast_slice_mut(&mut values[from..]))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => Error::data(
                    path,
                    "the file is truncated: it holds fewer values than its header's shape says",
                ),
                _ => fail(e),
            })?;
    }
    let mut rest = Vec::new();
    reader
        .take(MAX_ARRAY_BYTES)
        .read_to_end(&mut rest)
        .map_err(fail)?;
    if !rest.is_empty() {
        return Err(Error::data(
            path,
            format!(
                "{} bytes follow the array that its header does not account for",
                rest.len()
            ),
        ));
    }
    ArrayD::from_shape_vec(shape, values).map_err(|e| Error::data(path, e.to_string()))
}

/// An `.npy` array from `reader` (`size` bytes in all), whatever its float
/// or integer dtype: float32 straight into the array, others decoded.
fn read_npy_from(
    path: &Path,
    mut reader: impl Read,
    size: u64,
    fail: impl Fn(std::io::Error) -> Error,
) -> Result<Numeric> {
    let (header, mut bytes) = read_npy_header(path, &mut reader, size, &fail)?;
    if header.descr == "<f4" && !header.fortran_order && cfg!(target_endian = "little") {
        return read_f32_values(path, &mut reader, &header.dims, &fail).map(Numeric::F32);
    }
    debug_assert_eq!(bytes.len(), header.len);
    reader
        .take(MAX_ARRAY_BYTES + (1 << 20))
        .read_to_end(&mut bytes)
        .map_err(fail)?;
    decode(path, &NpyBytes(bytes))
}

/// An `.npy` file's array, whatever its float or integer dtype.
pub(crate) fn read_npy(path: &Path) -> Result<Numeric> {
    let file = open(path)?;
    let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
    read_npy_from(path, file, size, |e| Error::io(path, e))
}

/// The `.npz` archive at `path`, opened; one that cannot be is refused.
fn open_npz(path: &Path) -> Result<zip::ZipArchive<BufReader<std::fs::File>>> {
    zip::ZipArchive::new(BufReader::new(open(path)?)).map_err(|e| unreadable_npz(path, e))
}

/// An archive's error, named as the user's file that is not an `.npz`.
fn unreadable_npz(path: &Path, e: zip::result::ZipError) -> Error {
    Error::data(
        path,
        format!("not a readable .npz archive ({e}); save it with numpy.savez"),
    )
}

/// The index of array `name` (as `name.npy` or `name`) in an archive.
fn npz_member<R: Read + Seek>(archive: &zip::ZipArchive<R>, name: &str) -> Option<usize> {
    [format!("{name}.npy"), name.to_string()]
        .iter()
        .find_map(|n| archive.index_for_name(n))
}

/// Whether the `.npz` archive at `path` holds an array `name`.
pub(crate) fn npz_holds(path: &Path, name: &str) -> Result<bool> {
    Ok(npz_member(&open_npz(path)?, name).is_some())
}

/// The array `name` of an `.npz` archive; a missing name is refused with the
/// names the archive holds. The member's header is checked against the size
/// the archive's directory gives it, as for an `.npy` file, and it is
/// inflated up to the size limit.
pub(crate) fn read_npz(path: &Path, name: &str) -> Result<Numeric> {
    let mut archive = open_npz(path)?;
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.strip_suffix(".npy").unwrap_or(n).to_string())
        .collect();
    let Some(index) = npz_member(&archive, name) else {
        return Err(Error::data(
            path,
            format!(
                "it holds no array '{name}' (its arrays: {}); name the images' and the labels' arrays \
                 (--npz-x, --npz-y)",
                names.join(", ")
            ),
        ));
    };
    let member = archive
        .by_index(index)
        .map_err(|e| unreadable_npz(path, e))?;
    let size = member.size();
    read_npy_from(&path.join(name), member, size, |e| {
        Error::data(path, format!("array '{name}' cannot be inflated ({e})"))
    })
}

/// A float32 array from an `.npy` or FITS file (chosen by extension), as
/// used for whole data sets and for PSF kernels.
pub fn read_array(path: &Path) -> Result<ArrayD<f32>> {
    read_array_from(path, &Extensions::default())
}

/// [`read_array`] with the HDUs to read from a FITS file (its bad pixels NaN).
pub(crate) fn read_array_from(path: &Path, extensions: &Extensions) -> Result<ArrayD<f32>> {
    if is_fits(path) {
        Ok(fits::read(path, extensions)?.pixels)
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
    {
        Ok(read_npy(path)?.into_f32())
    } else {
        Err(Error::data(
            path,
            "expected a .npy or FITS (.fits, .fit, .fts, .fits.gz, .fits.fz) file",
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
    fn npy_headers_are_checked_against_the_bytes_that_follow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let header = |shape: &str| {
            let mut h = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
            h.push_str(&" ".repeat(117 - h.len()));
            h.push('\n');
            let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
            bytes.extend((h.len() as u16).to_le_bytes());
            bytes.extend(h.as_bytes());
            bytes.extend([0u8; 64]);
            bytes
        };
        std::fs::write(&path, header("(16,)")).unwrap();
        assert_eq!(read_npy(&path).unwrap().shape(), &[16]);
        std::fs::write(&path, header("(17,)")).unwrap();
        let err = read_npy(&path).err().unwrap().to_string();
        assert!(
            err.contains(
                "truncated: its header declares shape [17] (68 bytes) but only 64 bytes follow it"
            ),
            "{err}"
        );
        std::fs::write(&path, header("(100000000000, 100000000000)")).unwrap();
        assert!(
            read_npy(&path)
                .err()
                .unwrap()
                .to_string()
                .contains("more than the 16 GiB")
        );
        std::fs::write(&path, b"").unwrap();
        assert!(
            read_npy(&path)
                .err()
                .unwrap()
                .to_string()
                .contains("the file is empty")
        );
    }

    #[test]
    fn float32_arrays_read_straight_in_keep_their_values_and_refuse_extra_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let values =
            Array3::from_shape_fn((3, 4, 5), |(i, j, k)| (i * 100 + j * 10 + k) as f32 - 0.5);
        values.write_npy(File::create(&path).unwrap()).unwrap();
        let Numeric::F32(read) = read_npy(&path).unwrap() else {
            panic!("float32 read as another type")
        };
        assert_eq!(read, values.clone().into_dyn());
        // Fortran order goes through the decoder, and comes out the same.
        let fortran = values.t().as_standard_layout().to_owned().reversed_axes();
        fortran.write_npy(File::create(&path).unwrap()).unwrap();
        assert_eq!(
            read_npy(&path).unwrap().into_f32(),
            values.clone().into_dyn()
        );
        // Bytes beyond what the header accounts for are refused, not ignored.
        values.write_npy(File::create(&path).unwrap()).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend([0u8; 8]);
        std::fs::write(&path, &bytes).unwrap();
        let err = read_npy(&path).err().unwrap().to_string();
        assert!(err.contains("8 bytes follow the array"), "{err}");
        // In an .npz archive, compressed as numpy.savez_compressed writes.
        let npz_path = dir.path().join("d.npz");
        let mut npz = NpzWriter::new_compressed(File::create(&npz_path).unwrap());
        npz.add_array("x", &values).unwrap();
        npz.finish().unwrap();
        assert_eq!(
            read_npz(&npz_path, "x").unwrap().into_f32(),
            values.into_dyn()
        );
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
