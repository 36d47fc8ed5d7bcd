//! FITS images through cfitsio (the `fitsio` crate, built from source), which
//! reads every variant we tried: gzip'd and tile-compressed files, floats and
//! scaled integers (BSCALE/BZERO applied in double precision).
//!
//! The science image is the HDU the user names ([`Extensions::science`], by
//! EXTNAME or index), else the first HDU holding image data: the primary HDU,
//! or the first image extension when the primary is empty (as in compressed
//! files). Axes come out in C order, slowest first: a cube of NAXIS3 = bands
//! is bands x H x W.
//!
//! Survey cutouts record their band order in the header: `FILTER1..n` or
//! `BAND1..n` on a cube, or one `FILTER` (or `BAND`) keyword on each of
//! several single-band extensions. [`read_bands`] picks the bands asked for by
//! those names, in the order asked, so that files written in different orders
//! come out alike. A mask extension (nonzero = bad) or a weight extension
//! (zero, negative or NaN weight = bad), of the image's shape or its H x W,
//! marks bad pixels, which become NaN: the data loader then treats them as it
//! treats any NaN pixel (refused with their count, or the image left out).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use fitsio::FitsFile;
use fitsio::hdu::{FitsHdu, HduInfo};
use ndarray::{ArrayD, Axis, IxDyn, Zip};
use serde::{Deserialize, Serialize};

use crate::limits::MAX_ARRAY_BYTES;
use crate::{Error, Result};

/// One HDU of a FITS file: its EXTNAME (e.g. `SCI`) or its index (0 is the
/// primary HDU, 1 the first extension, as astropy counts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Hdu {
    /// The HDU at this index (0 is the primary HDU).
    Index(usize),
    /// The HDU whose EXTNAME is this.
    Name(String),
}

impl FromStr for Hdu {
    type Err = Error;

    /// A number is an index, anything else an EXTNAME.
    fn from_str(text: &str) -> Result<Hdu> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::invalid(
                "HDU",
                "give an EXTNAME (e.g. SCI) or an index (0 = primary)",
            ));
        }
        Ok(text
            .parse()
            .map_or_else(|_| Hdu::Name(text.to_string()), Hdu::Index))
    }
}

impl fmt::Display for Hdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hdu::Index(i) => write!(f, "{i}"),
            Hdu::Name(name) => write!(f, "'{name}'"),
        }
    }
}

/// Which HDUs of each FITS file to read: the science image and, optionally,
/// a mask or weight image marking its bad pixels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extensions {
    /// The HDU holding the image; the first with image data when `None`.
    pub science: Option<Hdu>,
    /// An HDU whose nonzero pixels are bad.
    pub mask: Option<Hdu>,
    /// An HDU of weights; pixels of zero, negative or NaN weight are bad.
    pub weight: Option<Hdu>,
}

/// A science image and the band names its header gives, if any.
pub(crate) struct Image {
    pub pixels: ArrayD<f32>,
    /// `FILTER1..n` or `BAND1..n` of a cube, one per plane of its band axis.
    pub bands: Option<Vec<String>>,
    /// The science HDU's own `FILTER` (or `BAND`): a single band's name.
    pub filter: Option<String>,
}

/// Header keywords that name a band, tried in order.
const BAND_KEYS: [&str; 2] = ["FILTER", "BAND"];

/// An open FITS file and its path, for messages.
struct Reader {
    file: FitsFile,
    path: PathBuf,
}

impl Reader {
    fn open(path: &Path) -> Result<Reader> {
        // The system's own words ("No such file or directory"), not the
        // bare kind's ("entity not found").
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.len() == 0 {
            return Err(Error::data(
                path,
                "the file is empty; expected a FITS image",
            ));
        }
        super::fits_check::check(path, gzipped(path))?;
        let file = FitsFile::open(path).map_err(|e| unreadable(path, e))?;
        Ok(Reader {
            file,
            path: path.to_path_buf(),
        })
    }

    fn fail(&self, e: fitsio::errors::Error) -> Error {
        unreadable(&self.path, e)
    }

    fn count(&mut self) -> Result<usize> {
        self.file.num_hdus().map_err(|e| self.fail(e))
    }

    fn at(&mut self, index: usize) -> Result<FitsHdu> {
        self.file.hdu(index).map_err(|e| unreadable(&self.path, e))
    }

    /// A header keyword as text, trimmed; `None` when absent or empty.
    fn key(&mut self, hdu: &FitsHdu, name: &str) -> Option<String> {
        hdu.read_key::<String>(&mut self.file, name)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Every HDU as `index (EXTNAME)`, for messages.
    fn listing(&mut self) -> Result<String> {
        let mut names = Vec::new();
        for index in 0..self.count()? {
            let hdu = self.at(index)?;
            let kind = if shape(&hdu).is_some() {
                "image"
            } else if matches!(hdu.info, HduInfo::ImageInfo { .. }) {
                "empty"
            } else {
                "table"
            };
            names.push(match self.key(&hdu, "EXTNAME") {
                Some(name) => format!("{index} {name} ({kind})"),
                None => format!("{index} ({kind})"),
            });
        }
        Ok(names.join(", "))
    }

    /// The HDU `which`, which must hold an image; `role` names it in messages.
    fn named(&mut self, which: &Hdu, role: &str) -> Result<FitsHdu> {
        let found = match which {
            Hdu::Index(i) => (*i < self.count()?).then(|| self.at(*i)).transpose()?,
            Hdu::Name(name) => self.file.hdu(name.as_str()).ok(),
        };
        let Some(hdu) = found.filter(|h| shape(h).is_some()) else {
            let listing = self.listing()?;
            return Err(Error::data(
                &self.path,
                format!("has no {role} image HDU {which}; its HDUs are {listing}"),
            ));
        };
        Ok(hdu)
    }

    /// The science HDU: the one named, else the first holding an image.
    fn science(&mut self, extensions: &Extensions) -> Result<FitsHdu> {
        if let Some(which) = &extensions.science {
            return self.named(which, "science");
        }
        let hdus = self.count()?;
        for index in 0..hdus {
            let hdu = self.at(index)?;
            if shape(&hdu).is_some() {
                return Ok(hdu);
            }
        }
        Err(Error::data(
            &self.path,
            format!("none of its {hdus} HDUs holds an image"),
        ))
    }

    fn pixels<T>(&mut self, hdu: &FitsHdu) -> Result<ArrayD<T>>
    where
        Vec<T>: fitsio::images::ReadImage,
    {
        self.shaped(hdu, |file, _| hdu.read_image(file))
    }

    /// An image HDU's pixels as float32, the pixels cfitsio knows to be
    /// undefined NaN. A floating-point image tile-compressed by quantising
    /// it to integers (fpack's default) stores its NaN pixels as ZBLANK,
    /// which cfitsio otherwise returns scaled like any other value
    /// (ZBLANK x ZSCALE + ZZERO: a NaN read as -317335.66), past the checks
    /// for bad pixels.
    fn float_pixels(&mut self, hdu: &FitsHdu) -> Result<ArrayD<f32>> {
        self.shaped(hdu, |file, n| {
            file.hdu(hdu.number)?;
            let mut values = vec![0.0f32; n];
            let (mut undefined, mut any, mut status) = (f32::NAN, 0, 0);
            // SAFETY: `values` holds the n float32s asked for, the file is
            // open with `hdu` current, and cfitsio only reads `undefined`.
            unsafe {
                fitsio::sys::ffgpv(
                    file.as_raw(),
                    fitsio::sys::TFLOAT as i32,
                    1,
                    n as i64,
                    (&raw mut undefined).cast(),
                    values.as_mut_ptr().cast(),
                    &mut any,
                    &mut status,
                );
            }
            fitsio::errors::check_status(status).map(|()| values)
        })
    }

    /// An image HDU's pixels read by `read` (given the number of values),
    /// after checking the size its header declares, in its shape.
    fn shaped<T>(
        &mut self,
        hdu: &FitsHdu,
        read: impl FnOnce(&mut FitsFile, usize) -> fitsio::errors::Result<Vec<T>>,
    ) -> Result<ArrayD<T>> {
        let shape = shape(hdu).expect("an image HDU");
        check_size(&self.path, &mut self.file, hdu, &shape)?;
        let values = read(&mut self.file, shape.iter().product()).map_err(|e| self.fail(e))?;
        ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|_| {
            Error::data(
                &self.path,
                format!(
                    "HDU {} holds fewer values than its shape {shape:?}",
                    hdu.number
                ),
            )
        })
    }

    /// An image HDU's pixels as float32, with the pixels an integer image
    /// marks undefined (equal to its `BLANK` keyword) made NaN, as a mask's
    /// bad pixels are: cfitsio would scale them like any other value (an
    /// int16 BLANK of -32768 becoming -1.09 with BSCALE 1/30000). The values
    /// are read as float64, whose blank value is exactly BLANK x BSCALE +
    /// BZERO as cfitsio computes it, then rounded to float32 as cfitsio
    /// would; floating-point images mark undefined pixels NaN themselves.
    fn science_pixels(&mut self, hdu: &FitsHdu) -> Result<ArrayD<f32>> {
        // BITPIX, not fitsio's image type: a scaled integer image's type is
        // the float its BSCALE makes it.
        let integer = hdu
            .read_key::<i64>(&mut self.file, "BITPIX")
            .is_ok_and(|bitpix| bitpix > 0);
        let blank = integer
            .then(|| hdu.read_key::<i64>(&mut self.file, "BLANK").ok())
            .flatten();
        let Some(blank) = blank else {
            return self.float_pixels(hdu);
        };
        let scale = hdu.read_key::<f64>(&mut self.file, "BSCALE").unwrap_or(1.0);
        let zero = hdu.read_key::<f64>(&mut self.file, "BZERO").unwrap_or(0.0);
        let undefined = blank as f64 * scale + zero;
        let values: ArrayD<f64> = self.pixels(hdu)?;
        Ok(values.mapv(|v| if v == undefined { f32::NAN } else { v as f32 }))
    }

    /// Bad pixels from the mask and weight HDUs, NaN in `pixels`.
    fn mark_bad(&mut self, pixels: &mut ArrayD<f32>, extensions: &Extensions) -> Result<()> {
        for (which, role) in [(&extensions.mask, "mask"), (&extensions.weight, "weight")] {
            let Some(which) = which else { continue };
            let hdu = self.named(which, role)?;
            let values: ArrayD<f64> = self.pixels(&hdu)?;
            let bad = values.mapv(|v| {
                if role == "mask" {
                    v != 0.0
                } else {
                    v.is_nan() || v <= 0.0
                }
            });
            let Some(bad) = bad.broadcast(pixels.raw_dim()) else {
                return Err(Error::data(
                    &self.path,
                    format!(
                        "the {role} HDU {which} is {:?} but the image is {:?}; it must match the image or its last two axes (H x W)",
                        bad.shape(),
                        pixels.shape()
                    ),
                ));
            };
            Zip::from(&mut *pixels).and(&bad).for_each(|p, &b| {
                if b {
                    *p = f32::NAN;
                }
            });
        }
        Ok(())
    }

    /// The band names of a cube HDU with `planes` planes on its band axis:
    /// `FILTER1..n`, else `BAND1..n`. When both name the same bands in
    /// different orders, taking one would be a guess at the planes' order;
    /// different names for them (`HSC-G` and `g`) are two vocabularies, and
    /// `FILTER` is taken.
    fn cube_bands(&mut self, hdu: &FitsHdu, planes: usize) -> Result<Option<Vec<String>>> {
        let named: Vec<Option<Vec<String>>> = BAND_KEYS
            .iter()
            .map(|key| {
                (1..=planes)
                    .map(|k| self.key(hdu, &format!("{key}{k}")))
                    .collect()
            })
            .collect();
        let sorted = |names: &[String]| {
            let mut names = names.to_vec();
            names.sort();
            names
        };
        if let [Some(filters), Some(bands)] = &named[..]
            && filters != bands
            && sorted(filters) == sorted(bands)
        {
            return Err(Error::data(
                &self.path,
                format!(
                    "its header's FILTER1..{planes} name the bands {} but its BAND1..{planes} name {}; make them agree",
                    filters.join(", "),
                    bands.join(", ")
                ),
            ));
        }
        Ok(named.into_iter().flatten().next())
    }

    /// The single-band image HDUs with a `FILTER` (or `BAND`) keyword and the
    /// science image's shape, in file order: a multi-extension file holding
    /// one band per extension. When the science HDU was named by EXTNAME,
    /// only extensions of that name count (HST's SCI,1 SCI,2 ...).
    fn band_extensions(
        &mut self,
        science: &FitsHdu,
        extensions: &Extensions,
    ) -> Result<Vec<(String, FitsHdu)>> {
        let mut skip = Vec::new();
        for which in [&extensions.mask, &extensions.weight].into_iter().flatten() {
            skip.push(self.named(which, "mask or weight")?.number);
        }
        let wanted = shape(science);
        let mut found = Vec::new();
        for index in (0..self.count()?).filter(|i| !skip.contains(i)) {
            let hdu = self.at(index)?;
            if shape(&hdu) != wanted {
                continue;
            }
            if let Some(Hdu::Name(name)) = &extensions.science
                && !self
                    .key(&hdu, "EXTNAME")
                    .is_some_and(|extname| extname.eq_ignore_ascii_case(name))
            {
                continue;
            }
            if let Some(band) = BAND_KEYS.iter().find_map(|key| self.key(&hdu, key)) {
                found.push((band, hdu));
            }
        }
        Ok(found)
    }
}

/// The one wording of cfitsio's errors: its message and status, and what to check.
fn unreadable(path: &Path, e: fitsio::errors::Error) -> Error {
    match e {
        fitsio::errors::Error::Fits(e) => Error::data(
            path,
            format!(
                "not a readable FITS file: {} (cfitsio status {}); is it complete?",
                e.message, e.status
            ),
        ),
        e => Error::data(path, format!("not a readable FITS file ({e})")),
    }
}

/// An HDU's image shape in C order, when it holds image data.
fn shape(hdu: &FitsHdu) -> Option<Vec<usize>> {
    match &hdu.info {
        HduInfo::ImageInfo { shape, .. } if !shape.is_empty() && shape.iter().all(|&d| d > 0) => {
            Some(shape.clone())
        }
        _ => None,
    }
}

/// The science image of the FITS file at `path`, as float32 in C axis order,
/// its bad pixels NaN, with the band names of a cube's header.
pub(crate) fn read(path: &Path, extensions: &Extensions) -> Result<Image> {
    let mut reader = Reader::open(path)?;
    let science = reader.science(extensions)?;
    let mut pixels = reader.science_pixels(&science)?;
    reader.mark_bad(&mut pixels, extensions)?;
    let dims = pixels.ndim();
    let bands = if dims >= 3 {
        reader.cube_bands(&science, pixels.shape()[dims - 3])?
    } else {
        None
    };
    let filter = BAND_KEYS.iter().find_map(|key| reader.key(&science, key));
    Ok(Image {
        pixels,
        bands,
        filter,
    })
}

/// The pixels of a FITS file read as band `band` of `bands` (one file per
/// band), refused when its header's `FILTER` (or `BAND`) names another of
/// `bands` instead: two bands' files swapped, or named for the wrong band,
/// would mix the model's colours in silence. A header name is this band's
/// when it is the name ignoring case or one of its words (`HSC-G` and
/// `g DECam SDSS c0001` are g); a name that is no band asked for is left
/// alone, surveys naming their filters in their own ways.
pub(crate) fn read_band(
    path: &Path,
    extensions: &Extensions,
    band: &str,
    bands: &[String],
) -> Result<ArrayD<f32>> {
    let image = read(path, extensions)?;
    if let Some(filter) = &image.filter {
        let names = |band: &str| {
            filter.eq_ignore_ascii_case(band)
                || filter
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|word| word.eq_ignore_ascii_case(band))
        };
        if !names(band)
            && let Some(other) = bands.iter().find(|b| names(b))
        {
            return Err(Error::data(
                path,
                format!(
                    "is read as band '{band}' but its header says FILTER = '{filter}', band '{other}'; \
                     check that the bands' files are not swapped or misnamed"
                ),
            ));
        }
    }
    Ok(image.pixels)
}

/// The bands named `bands`, in that order, of the FITS file at `path`: the
/// planes of a cube whose header names them (`FILTER1..n`, `BAND1..n`; the
/// band axis is the third from last, so an N x bands x H x W array works
/// too), or single-band extensions each with a `FILTER` or `BAND` keyword,
/// stacked (bands x H x W). Bad pixels are NaN.
pub(crate) fn read_bands(
    path: &Path,
    extensions: &Extensions,
    bands: &[String],
) -> Result<ArrayD<f32>> {
    let mut reader = Reader::open(path)?;
    let science = reader.science(extensions)?;
    let dims = shape(&science).expect("an image HDU");
    let cube = match dims.len() {
        3.. => reader.cube_bands(&science, dims[dims.len() - 3])?,
        _ => None,
    };
    if let Some(names) = cube {
        let picks = pick(
            bands,
            &names,
            path,
            "its header (FILTERn or BANDn) names the bands",
        )?;
        let mut pixels = reader.science_pixels(&science)?;
        reader.mark_bad(&mut pixels, extensions)?;
        return Ok(pixels.select(Axis(dims.len() - 3), &picks));
    }
    let found = reader.band_extensions(&science, extensions)?;
    if found.is_empty() {
        return Err(Error::data(
            path,
            format!(
                "has no band '{}': its header names no bands (FILTER1..n or BAND1..n on a cube, or FILTER on each extension); \
                 name them in the header, give one file per band (STEM_g.fits), or leave out --bands",
                bands[0]
            ),
        ));
    }
    let names: Vec<String> = found.iter().map(|(name, _)| name.clone()).collect();
    let picks = pick(
        bands,
        &names,
        path,
        "the FILTER keywords of its extensions name the bands",
    )?;
    let planes: Vec<ArrayD<f32>> = picks
        .iter()
        .map(|&k| reader.science_pixels(&found[k].1))
        .collect::<Result<_>>()?;
    let views: Vec<_> = planes.iter().map(|p| p.view()).collect();
    let mut pixels = ndarray::stack(Axis(0), &views).expect("extensions of one shape");
    reader.mark_bad(&mut pixels, extensions)?;
    Ok(pixels)
}

/// The index in `names` of each of `wanted`: exact, else ignoring case.
fn pick(wanted: &[String], names: &[String], path: &Path, source: &str) -> Result<Vec<usize>> {
    wanted
        .iter()
        .map(|band| {
            names
                .iter()
                .position(|n| n == band)
                .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(band)))
                .ok_or_else(|| {
                    Error::data(
                        path,
                        format!("has no band '{band}'; {source} {}", names.join(", ")),
                    )
                })
        })
        .collect()
}

/// Whether the whole file is gzip'd (cfitsio inflates it in memory, so its
/// length on disk says nothing of the images' sizes).
fn gzipped(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == [0x1f, 0x8b])
}

/// Checks an image's declared size before it is allocated: an uncompressed
/// image must fit in the file, a compressed one (tile-compressed or a gzip'd
/// file, whose header declares the inflated size) under [`MAX_ARRAY_BYTES`].
fn check_size(
    path: &Path,
    file: &mut FitsFile,
    hdu: &fitsio::hdu::FitsHdu,
    shape: &[usize],
) -> Result<()> {
    let declared = shape
        .iter()
        .try_fold(4u64, |acc, &d| acc.checked_mul(d as u64));
    let compressed = hdu.read_key::<bool>(file, "ZIMAGE").unwrap_or(false) || gzipped(path);
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

    /// fpack's default: a float image tile-compressed by quantising it to
    /// integers, whose NaN (undefined) pixel is stored as ZBLANK: it comes
    /// back NaN (it came back a finite number, past the bad-pixel checks).
    #[test]
    fn an_undefined_pixel_of_a_quantised_compressed_image_comes_back_nan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.fits");
        // Noise, so that cfitsio quantises the tile instead of storing it
        // losslessly.
        let mut rng = crate::rng::SeededRng::new(3, &[]);
        let mut values: Vec<f32> = (0..1024)
            .map(|_| 100.0 + 5.0 * rng.normal() as f32)
            .collect();
        values[10] = -999.0;
        let description = ImageDescription {
            data_type: ImageType::Float,
            dimensions: &[32, 32],
        };
        let mut file = FitsFile::create(format!("{}[compress R]", path.display()))
            .open()
            .unwrap();
        file.create_image("SCI", &description).unwrap();
        // Pixel 10 flagged undefined (cfitsio's write with a null value), as
        // fpack and astropy flag NaN pixels: stored as ZBLANK.
        let (mut undefined, mut status) = (-999.0f32, 0);
        // SAFETY: `values` holds the 1024 float32s written; the new image is current.
        unsafe {
            fitsio::sys::ffppn(
                file.as_raw(),
                fitsio::sys::TFLOAT as i32,
                1,
                values.len() as i64,
                values.as_mut_ptr().cast(),
                (&raw mut undefined).cast(),
                &mut status,
            );
        }
        assert_eq!(status, 0);
        drop(file);
        let read = read_plain(&path).unwrap();
        let mut file = FitsFile::open(&path).unwrap();
        let table = file.hdu(1).unwrap();
        assert!(
            table.read_key::<i64>(&mut file, "ZBLANK").is_ok(),
            "the NaN is stored as ZBLANK"
        );
        for (got, want) in read.iter().zip(&values) {
            if *want == -999.0 {
                assert!(got.is_nan(), "the NaN pixel came back {got}");
            } else {
                assert!((got - want).abs() < 1.0, "{got} for {want}");
            }
        }
    }

    fn read_plain(path: &Path) -> Result<ArrayD<f32>> {
        read(path, &Extensions::default()).map(|image| image.pixels)
    }

    #[test]
    fn reads_a_cube_in_c_order_from_the_primary_or_an_extension() {
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<f32> = (0..24).map(|v| v as f32).collect();
        for in_extension in [false, true] {
            let path = dir.path().join(format!("cube{in_extension}.fits"));
            write(&path, &[2, 3, 4], &values, in_extension);
            let cube: ArrayD<f32> = read(&path, &Extensions::default()).unwrap().pixels;
            assert_eq!(cube.shape(), &[2, 3, 4]);
            // Band 1, row 2, column 3 is the last value written.
            assert_eq!(cube[[1, 2, 3]], 23.0);
            assert_eq!(cube[[0, 1, 0]], 4.0);
        }
    }

    #[test]
    fn filter_and_band_keywords_that_disagree_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cube = |name: &str, bands: [&str; 3]| {
            let path = dir.path().join(name);
            write(&path, &[3, 2, 2], &[0.0; 12], false);
            let mut file = FitsFile::edit(&path).unwrap();
            let hdu = file.primary_hdu().unwrap();
            for (key, names) in [("FILTER", ["g", "r", "i"]), ("BAND", bands)] {
                for (k, band) in names.iter().enumerate() {
                    hdu.write_key(&mut file, &format!("{key}{}", k + 1), *band)
                        .unwrap();
                }
            }
            path
        };
        let agreeing = cube("same.fits", ["g", "r", "i"]);
        // Other names for the same planes: FILTER's are taken.
        assert_eq!(
            read_plain_bands(&cube("survey.fits", ["HSC-G", "HSC-R", "HSC-I"])),
            Some(vec!["g".into(), "r".into(), "i".into()])
        );
        assert_eq!(
            read_plain_bands(&agreeing),
            Some(vec!["g".into(), "r".into(), "i".into()])
        );
        // FILTER was taken whatever BAND said.
        let err = read(&cube("other.fits", ["i", "r", "g"]), &Extensions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("FILTER1..3 name the bands g, r, i but its BAND1..3 name i, r, g"),
            "{err}"
        );
    }

    fn read_plain_bands(path: &Path) -> Option<Vec<String>> {
        read(path, &Extensions::default()).unwrap().bands
    }

    #[test]
    fn a_missing_file_is_named_in_the_systems_words() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("pb_z.fits");
        let err = read_plain(&missing).unwrap_err().to_string();
        assert!(
            err.contains("pb_z.fits") && err.contains("No such file or directory"),
            "{err}"
        );
    }

    #[test]
    fn an_integer_images_blank_pixels_are_nan_and_the_rest_scaled() {
        // The FITS standard (4.0, 4.4.2.5): a pixel whose stored integer
        // equals BLANK is undefined; the others are BZERO + BSCALE x stored.
        // int16 with BSCALE 1/30000: the blank -32768 would read -1.0923.
        let dir = tempfile::tempdir().unwrap();
        let stored: [i16; 6] = [-32768, -32767, 0, 1, 30000, 32767];
        for (name, blank) in [("blank.fits", Some(-32768i64)), ("none.fits", None)] {
            let path = dir.path().join(name);
            let description = ImageDescription {
                data_type: ImageType::Short,
                dimensions: &[2, 3],
            };
            let mut file = FitsFile::create(&path)
                .with_custom_primary(&description)
                .open()
                .unwrap();
            let hdu = file.primary_hdu().unwrap();
            hdu.write_image(&mut file, &stored).unwrap();
            hdu.write_key(&mut file, "BSCALE", 1.0 / 30000.0).unwrap();
            hdu.write_key(&mut file, "BZERO", 0.5).unwrap();
            if let Some(blank) = blank {
                hdu.write_key(&mut file, "BLANK", blank).unwrap();
            }
            drop(file);
            let got = read_plain(&path).unwrap();
            for (&s, &g) in stored.iter().zip(got.iter()) {
                let defined = (f64::from(s) / 30000.0 + 0.5) as f32;
                if blank == Some(i64::from(s)) {
                    assert!(g.is_nan(), "{name}: stored {s} read {g}");
                } else {
                    assert_eq!(g, defined, "{name}: stored {s}");
                }
            }
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
        let cube = read_plain(&astropy("arange.fits")).unwrap();
        assert_eq!(cube.shape(), &[7, 10, 11]);
        assert_eq!(cube[[3, 2, 5]], 357.0);
        let bytes = std::fs::read(astropy("arange.fits")).unwrap();
        let expected: Vec<f32> = bytes[2880..2880 + 770 * 4]
            .chunks(4)
            .map(|b| i32::from_be_bytes(b.try_into().unwrap()) as f32)
            .collect();
        assert_eq!(cube.iter().copied().collect::<Vec<_>>(), expected);
        // RICE_1 is lossless on integers: the compressed file reads as the plain one.
        let plain = read_plain(&astropy("m13.fits")).unwrap();
        let rice = read_plain(&astropy("m13_rice.fits")).unwrap();
        assert_eq!(plain.shape(), &[300, 300]);
        assert_eq!(plain, rice);
        assert!(plain.iter().any(|&v| v != plain[[0, 0]]));
    }

    #[test]
    fn a_mask_of_another_shape_is_refused_with_both_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cube.fits");
        write(&path, &[2, 3, 4], &[1.0; 24], true);
        let mut file = FitsFile::edit(&path).unwrap();
        let description = ImageDescription {
            data_type: ImageType::UnsignedByte,
            dimensions: &[5, 5],
        };
        file.create_image("MASK", &description)
            .unwrap()
            .write_image(&mut file, &[0u8; 25])
            .unwrap();
        drop(file);
        let extensions = Extensions {
            mask: Some(Hdu::Name("MASK".into())),
            ..Extensions::default()
        };
        let err = read(&path, &extensions).err().unwrap().to_string();
        assert!(
            err.contains("cube.fits") && err.contains("[5, 5]") && err.contains("[2, 3, 4]"),
            "{err}"
        );
        // Without the mask the cube reads, and its header names no bands.
        let image = read(&path, &Extensions::default()).unwrap();
        assert!(image.bands.is_none());
        let err = read_bands(&path, &Extensions::default(), &["g".to_string()])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("has no band 'g'") && err.contains("names no bands"),
            "{err}"
        );
    }

    #[test]
    fn truncated_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.fits");
        write(&path, &[64, 64], &vec![1.0; 64 * 64], false);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = read_plain(&path).unwrap_err().to_string();
        assert!(err.contains("cut.fits"), "{err}");
        assert!(
            read_plain(&dir.path().join("absent.fits"))
                .unwrap_err()
                .to_string()
                .contains("absent.fits")
        );
    }
}
