//! A folder of class subfolders holding PNG, JPEG or FITS images: the class
//! of an image is its subfolder's name, classes numbered in sorted order;
//! subfolders named by numbers alone (`0`, `7`, `12`) are those classes.
//!
//! PNG and JPEG pixels keep their stored values (0-255 for 8-bit, 0-65535
//! for 16-bit); grey images have one band, colour images three, and alpha is
//! dropped, being no part of the scene. A FITS file is a 2-D image (one band)
//! or a bands x H x W cube. With `bands` (e.g. g, r, i), an example is either
//! one 2-D FITS file per band, named `STEM_g.fits`, `STEM-g.fits` or
//! `STEM.g.fits`, or one FITS file whose header names its bands (a cube with
//! `FILTER1..n` or `BAND1..n`, or one `FILTER` per extension); either way its
//! bands are stacked in the order given. Without `bands`, cubes whose headers
//! name their bands must all name them in the same order. Files with other
//! extensions, and hidden files, are not images and are passed over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::{Array3, Array4, ArrayD, Axis, Ix3};
use rayon::prelude::*;

use super::fits::{self, Extensions};
use super::name::{self, is_fits};
use crate::{Error, Result};

/// What a class folder yields.
pub(crate) struct Folder {
    pub images: Array4<f32>,
    pub ids: Vec<String>,
    pub classes: Vec<usize>,
    pub class_names: Vec<String>,
}

/// One example: its id (path under the root) and where its bands are.
struct Example {
    id: String,
    class: usize,
    source: Source,
}

enum Source {
    /// One image file, read whole.
    Whole(PathBuf),
    /// One 2-D FITS file per band, in the order of the bands asked for.
    PerBand(Vec<PathBuf>),
    /// One FITS file whose header names its bands.
    HeaderBands(PathBuf),
}

impl Source {
    fn file(&self) -> &Path {
        match self {
            Source::Whole(file) | Source::HeaderBands(file) => file,
            Source::PerBand(files) => &files[0],
        }
    }
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|entry| entry.map(|e| e.path()).map_err(|e| Error::io(dir, e)))
        .collect::<Result<_>>()?;
    paths.retain(|p| {
        !p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
    });
    paths.sort();
    Ok(paths)
}

fn is_picture(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["png", "jpg", "jpeg"].contains(&e.to_ascii_lowercase().as_str()))
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// The examples of one class folder.
fn examples(dir: &Path, class: usize, class_name: &str, bands: &[String]) -> Result<Vec<Example>> {
    let files = entries(dir)?.into_iter().filter(|p| p.is_file());
    let id = |p: &Path| format!("{class_name}/{}", file_name(p));
    if bands.is_empty() {
        return Ok(files
            .filter(|p| is_fits(p) || is_picture(p))
            .map(|p| Example {
                id: id(&p),
                class,
                source: Source::Whole(p),
            })
            .collect());
    }
    let mut whole = Vec::new();
    let mut groups: BTreeMap<String, Vec<Option<PathBuf>>> = BTreeMap::new();
    for path in files.filter(|p| is_fits(p)) {
        let stem = name::stem(file_name(&path));
        let band = bands.iter().position(|b| {
            ["_", "-", "."]
                .iter()
                .any(|sep| stem.ends_with(&format!("{sep}{b}")))
        });
        match band {
            Some(band) => {
                let stem = stem[..stem.len() - bands[band].len() - 1].to_string();
                groups
                    .entry(stem)
                    .or_insert_with(|| vec![None; bands.len()])[band] = Some(path);
            }
            None => whole.push(Example {
                id: id(&path),
                class,
                source: Source::HeaderBands(path),
            }),
        }
    }
    let grouped = groups.into_iter().map(|(stem, found)| {
        let missing: Vec<&str> = bands
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(b, _)| b.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Error::data(
                dir,
                format!(
                    "example '{stem}' has no file for band(s) {}",
                    missing.join(", ")
                ),
            ));
        }
        Ok(Example {
            id: format!("{class_name}/{stem}"),
            class,
            source: Source::PerBand(found.into_iter().flatten().collect()),
        })
    });
    let mut all: Vec<Example> = grouped.collect::<Result<_>>()?;
    all.extend(whole);
    all.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(all)
}

/// A FITS image as C x H x W.
fn bands_first(array: ArrayD<f32>, path: &Path) -> Result<Array3<f32>> {
    match array.ndim() {
        2 => Ok(array
            .insert_axis(Axis(0))
            .into_dimensionality::<Ix3>()
            .expect("3-D")),
        3 => Ok(array.into_dimensionality::<Ix3>().expect("3-D")),
        _ => Err(Error::data(
            path,
            format!(
                "a FITS image must be 2-D or a bands x H x W cube; this one is {:?}",
                array.shape()
            ),
        )),
    }
}

/// One example as read.
struct Read {
    /// Its pixels, C x H x W.
    pixels: Array3<f32>,
    /// A FITS cube's band names, from its header.
    bands: Option<Vec<String>>,
    /// A picture's bits per sample (8 or 16), which set its value range.
    bits: Option<u8>,
}

impl Read {
    fn pixels(pixels: Array3<f32>) -> Read {
        Read {
            pixels,
            bands: None,
            bits: None,
        }
    }
}

/// One image as C x H x W, with the band names of a FITS cube's header or
/// a picture's bits per sample.
fn read_image(path: &Path, extensions: &Extensions) -> Result<Read> {
    if is_fits(path) {
        let image = fits::read(path, extensions)?;
        return Ok(Read {
            pixels: bands_first(image.pixels, path)?,
            bands: image.bands,
            bits: None,
        });
    }
    let picture = image::open(path)
        .map_err(|e| Error::data(path, format!("cannot decode the image ({e})")))?;
    let sixteen_bit = matches!(
        picture.color().bytes_per_pixel() / picture.color().channel_count(),
        2..
    );
    let (w, h) = (picture.width() as usize, picture.height() as usize);
    let (bands, values): (usize, Vec<f32>) = match (picture.color().has_color(), sixteen_bit) {
        (false, false) => (
            1,
            picture
                .to_luma8()
                .into_raw()
                .into_iter()
                .map(f32::from)
                .collect(),
        ),
        (false, true) => (
            1,
            picture
                .to_luma16()
                .into_raw()
                .into_iter()
                .map(f32::from)
                .collect(),
        ),
        (true, false) => (
            3,
            picture
                .to_rgb8()
                .into_raw()
                .into_iter()
                .map(f32::from)
                .collect(),
        ),
        (true, true) => (
            3,
            picture
                .to_rgb16()
                .into_raw()
                .into_iter()
                .map(f32::from)
                .collect(),
        ),
    };
    let hwc = ndarray::Array3::from_shape_vec((h, w, bands), values)
        .expect("the decoder's buffer is h x w x bands");
    Ok(Read {
        pixels: hwc
            .permuted_axes([2, 0, 1])
            .as_standard_layout()
            .into_owned(),
        bands: None,
        bits: Some(if sixteen_bit { 16 } else { 8 }),
    })
}

/// The bands of one example, each a 2-D FITS image (`files` in the order of
/// `bands`), stacked.
fn read_bands(files: &[PathBuf], bands: &[String], extensions: &Extensions) -> Result<Array3<f32>> {
    let planes: Vec<ArrayD<f32>> = files
        .iter()
        .zip(bands)
        .map(|(f, band)| fits::read_band(f, extensions, band, bands))
        .collect::<Result<_>>()?;
    for (plane, file) in planes.iter().zip(files) {
        if plane.ndim() != 2 || plane.shape() != planes[0].shape() {
            return Err(Error::data(
                file,
                format!(
                    "band image is {:?}; every band must be 2-D and the shape of {} ({:?})",
                    plane.shape(),
                    files[0].display(),
                    planes[0].shape()
                ),
            ));
        }
    }
    let views: Vec<_> = planes
        .iter()
        .map(|p| p.view().into_dimensionality::<ndarray::Ix2>().expect("2-D"))
        .collect();
    Ok(ndarray::stack(Axis(0), &views).expect("same shapes"))
}

/// One example's image (C x H x W) and the band names its header gave.
fn read_example(example: &Example, bands: &[String], extensions: &Extensions) -> Result<Read> {
    match &example.source {
        Source::Whole(file) => read_image(file, extensions),
        Source::PerBand(files) => Ok(Read::pixels(read_bands(files, bands, extensions)?)),
        Source::HeaderBands(file) => Ok(Read::pixels(bands_first(
            fits::read_bands(file, extensions, bands)?,
            file,
        )?)),
    }
}

/// Reads every example under `root`, in parallel, taking the HDUs
/// `extensions` names from each FITS file.
pub(crate) fn read(root: &Path, bands: &[String], extensions: &Extensions) -> Result<Folder> {
    let class_dirs: Vec<PathBuf> = entries(root)?.into_iter().filter(|p| p.is_dir()).collect();
    if class_dirs.is_empty() {
        return Err(Error::data(
            root,
            "expected one subfolder per class holding its images, and found no subfolder",
        ));
    }
    let class_names: Vec<String> = class_dirs
        .iter()
        .map(|d| file_name(d).to_string())
        .collect();
    let numbers = class_numbers(&class_names);
    let mut all = Vec::new();
    for (position, (dir, name)) in class_dirs.iter().zip(&class_names).enumerate() {
        let class = numbers.as_ref().map_or(position, |n| n[position]);
        let found = examples(dir, class, name, bands)?;
        // A class whose files sensie cannot read (TIFFs, images kept a
        // folder deeper) would silently add no examples; an empty folder
        // (a class the test set lacks) is fine.
        if found.is_empty()
            && let Some(other) = entries(dir)?.first()
        {
            return Err(Error::data(
                dir,
                format!(
                    "class folder '{name}' holds no image sensie reads (PNG, JPEG or FITS{}, directly inside it) but holds {}; \
                     convert or move its images, or remove the folder",
                    if bands.is_empty() {
                        ""
                    } else {
                        ", one file per band"
                    },
                    file_name(other)
                ),
            ));
        }
        all.extend(found);
    }
    if all.is_empty() {
        let what = if bands.is_empty() {
            "PNG, JPEG or FITS images"
        } else {
            "FITS images"
        };
        return Err(Error::data(
            root,
            format!("the class subfolders hold no {what}"),
        ));
    }
    // Read in parallel, but a failure is reported for the first bad file in
    // the folder's order, so the same folder always gives the same message.
    let read: Vec<Result<_>> = all
        .par_iter()
        .map(|e| read_example(e, bands, extensions))
        .collect();
    let read = read.into_iter().collect::<Result<Vec<_>>>()?;
    let named: Vec<Option<Vec<String>>> = read.iter().map(|r| r.bands.clone()).collect();
    same_band_order(&all, &named)?;
    same_bit_depth(&all, &read)?;
    let images: Vec<Array3<f32>> = read.into_iter().map(|r| r.pixels).collect();
    let shape = images[0].dim();
    if let Some(i) = images.iter().position(|im| im.dim() != shape) {
        return Err(Error::data(
            all[i].source.file(),
            format!(
                "image is {:?} (bands, height, width) but {} is {shape:?}; every image must have the same shape",
                images[i].dim(),
                all[0].id
            ),
        ));
    }
    let views: Vec<_> = images.iter().map(|im| im.view()).collect();
    Ok(Folder {
        images: ndarray::stack(Axis(0), &views).expect("same shapes"),
        ids: all.iter().map(|e| e.id.clone()).collect(),
        classes: all.iter().map(|e| e.class).collect(),
        class_names: match numbers {
            Some(numbers) => (0..=numbers.into_iter().max().unwrap_or(0))
                .map(|class| class.to_string())
                .collect(),
            None => class_names,
        },
    })
}

/// The largest folder number taken as a class: beyond it the names are
/// taken as text, so a folder named `20240101` does not make a table of 20
/// million class names.
const MAX_CLASS_NUMBER: usize = 65_535;

/// Each class folder's number, when every name is a number in its plain
/// form (`7`, not `07` or `+7`) no larger than [`MAX_CLASS_NUMBER`]: the
/// folders then name the model's classes themselves. Numbered by sorted
/// position instead, a test set lacking a class (folders 0 to 3 and 7 to 9)
/// would score the 7s as class 4, and one of more than ten classes would put
/// folder 10 before 2.
fn class_numbers(names: &[String]) -> Option<Vec<usize>> {
    names
        .iter()
        .map(|name| {
            name.parse::<usize>()
                .ok()
                .filter(|&n| n <= MAX_CLASS_NUMBER && n.to_string() == *name)
        })
        .collect()
}

/// Refuses 8-bit and 16-bit pictures side by side: their values are read
/// as stored (0 to 255, 0 to 65535), so one `--scale` cannot suit both.
fn same_bit_depth(all: &[Example], read: &[Read]) -> Result<()> {
    let mut depths = read
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.bits?)));
    let Some((first, bits)) = depths.next() else {
        return Ok(());
    };
    if let Some((i, other)) = depths.find(|&(_, b)| b != bits) {
        return Err(Error::data(
            all[i].source.file(),
            format!(
                "its samples have {other} bits but '{}' has {bits}: their values (0 to {} against 0 to {}) cannot share one --scale; \
                 save every image at one bit depth",
                all[first].id,
                (1u32 << other) - 1,
                (1u32 << bits) - 1
            ),
        ));
    }
    Ok(())
}

/// Refuses cubes whose headers name their bands in different orders, read
/// without `bands`: their planes would be mixed up silently.
fn same_band_order(all: &[Example], named: &[Option<Vec<String>>]) -> Result<()> {
    let mut first: Option<(usize, &Vec<String>)> = None;
    for (i, bands) in named.iter().enumerate() {
        let Some(bands) = bands else { continue };
        match first {
            None => first = Some((i, bands)),
            Some((j, other)) if other != bands => {
                return Err(Error::data(
                    all[i].source.file(),
                    format!(
                        "its header names the bands {} but '{}' has {}; give --bands {} to read every file in one order",
                        bands.join(", "),
                        all[j].id,
                        other.join(", "),
                        other.join(",")
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    // A FITS cube that names no bands beside ones that do: its planes may
    // be in any order, and would be mixed with theirs unchecked.
    if let Some((j, bands)) = first
        && let Some(i) =
            (0..all.len()).find(|&i| named[i].is_none() && is_fits(all[i].source.file()))
    {
        return Err(Error::data(
            all[i].source.file(),
            format!(
                "its header names no bands, but '{}' names {}: the order of its planes is unknown; \
                 name them in its header (FILTER1..n) as the others do",
                all[j].id,
                bands.join(", ")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::fits::tests::write as write_fits;

    #[test]
    fn pngs_keep_their_values_and_classes_follow_sorted_folders() {
        let dir = tempfile::tempdir().unwrap();
        for (class, value) in [("zebra", 200u8), ("ant", 7u8)] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            let grey =
                image::GrayImage::from_fn(3, 2, |x, y| image::Luma([value + (y * 3 + x) as u8]));
            grey.save(dir.path().join(class).join("a.png")).unwrap();
        }
        std::fs::write(dir.path().join("ant").join("notes.txt"), "not an image").unwrap();
        let folder = read(dir.path(), &[], &Extensions::default()).unwrap();
        assert_eq!(folder.class_names, vec!["ant", "zebra"]);
        assert_eq!(folder.ids, vec!["ant/a.png", "zebra/a.png"]);
        assert_eq!(folder.classes, vec![0, 1]);
        assert_eq!(folder.images.dim(), (2, 1, 2, 3));
        assert_eq!(folder.images[[0, 0, 1, 2]], 12.0);
        assert_eq!(folder.images[[1, 0, 0, 0]], 200.0);
    }

    #[test]
    fn folders_named_by_numbers_are_those_classes() {
        // Classes 4 to 6 absent, and 10 beside 2 (sorted as text, 10 would
        // come first): each folder's number is its class.
        let numbered = ["0", "1", "10", "2", "3", "7"];
        let dir = tempfile::tempdir().unwrap();
        for name in numbered {
            std::fs::create_dir(dir.path().join(name)).unwrap();
            image::GrayImage::from_pixel(2, 2, image::Luma([1u8]))
                .save(dir.path().join(name).join("a.png"))
                .unwrap();
        }
        let folder = read(dir.path(), &[], &Extensions::default()).unwrap();
        let expected: Vec<usize> = folder
            .ids
            .iter()
            .map(|id| id.split('/').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(folder.classes, expected);
        assert_eq!(folder.classes.iter().max(), Some(&10));
        let names: Vec<String> = (0..=10).map(|c| c.to_string()).collect();
        assert_eq!(folder.class_names, names);
        // A name that is not a plain number keeps the sorted numbering.
        std::fs::create_dir(dir.path().join("07")).unwrap();
        image::GrayImage::from_pixel(2, 2, image::Luma([1u8]))
            .save(dir.path().join("07").join("a.png"))
            .unwrap();
        let folder = read(dir.path(), &[], &Extensions::default()).unwrap();
        assert_eq!(folder.class_names[..3], ["0", "07", "1"]);
        assert_eq!(folder.classes.iter().max(), Some(&6));
    }

    #[test]
    fn pictures_of_two_bit_depths_are_refused() {
        // 8-bit values up to 255 beside 16-bit ones up to 65535: one
        // --scale cannot bring both to the model's range.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        image::GrayImage::from_pixel(2, 2, image::Luma([200]))
            .save(dir.path().join("a/eight.png"))
            .unwrap();
        read(dir.path(), &[], &Extensions::default()).unwrap();
        image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_pixel(2, 2, image::Luma([60000]))
            .save(dir.path().join("a/sixteen.png"))
            .unwrap();
        let err = read(dir.path(), &[], &Extensions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("sixteen.png") && err.contains("16 bits but 'a/eight.png' has 8"),
            "{err}"
        );
    }

    #[test]
    fn a_class_folder_of_files_sensie_cannot_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for class in ["cat", "dog", "empty"] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
        }
        image::GrayImage::new(2, 2)
            .save(dir.path().join("cat/a.png"))
            .unwrap();
        // An empty class folder adds no examples, and no error.
        assert_eq!(
            read(dir.path(), &[], &Extensions::default()).unwrap().ids,
            ["cat/a.png"]
        );
        // TIFFs, or PNGs a folder deeper, used to add none without a word.
        std::fs::write(dir.path().join("dog/b.tif"), "tiff").unwrap();
        let err = read(dir.path(), &[], &Extensions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("class folder 'dog'") && err.contains("b.tif"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("dog/b.tif")).unwrap();
        std::fs::create_dir(dir.path().join("dog/batch1")).unwrap();
        image::GrayImage::new(2, 2)
            .save(dir.path().join("dog/batch1/b.png"))
            .unwrap();
        let err = read(dir.path(), &[], &Extensions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("'dog'") && err.contains("batch1"), "{err}");
    }

    #[test]
    fn colour_jpegs_have_three_bands_and_mismatched_shapes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("c")).unwrap();
        image::RgbImage::from_pixel(4, 4, image::Rgb([255, 0, 0]))
            .save(dir.path().join("c/x.jpg"))
            .unwrap();
        let folder = read(dir.path(), &[], &Extensions::default()).unwrap();
        assert_eq!(folder.images.dim(), (1, 3, 4, 4));
        // JPEG is lossy: pure red comes back within a few levels.
        assert!(folder.images[[0, 0, 1, 1]] > 240.0 && folder.images[[0, 2, 1, 1]] < 15.0);
        image::RgbImage::from_pixel(5, 4, image::Rgb([0, 0, 0]))
            .save(dir.path().join("c/y.png"))
            .unwrap();
        let err = read(dir.path(), &[], &Extensions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("y.png") && err.contains("same shape"), "{err}");
    }

    #[test]
    fn fits_cubes_and_per_band_files() {
        let dir = tempfile::tempdir().unwrap();
        let lens = dir.path().join("lens");
        std::fs::create_dir(&lens).unwrap();
        let plane = |v: f32| vec![v; 6];
        for (band, v) in [("g", 1.0), ("r", 2.0), ("i", 3.0)] {
            write_fits(
                &lens.join(format!("obj1_{band}.fits")),
                &[2, 3],
                &plane(v),
                false,
            );
        }
        let bands: Vec<String> = ["g", "r", "i"].map(String::from).to_vec();
        let folder = read(dir.path(), &bands, &Extensions::default()).unwrap();
        assert_eq!(folder.ids, vec!["lens/obj1"]);
        assert_eq!(folder.images.dim(), (1, 3, 2, 3));
        assert_eq!(
            (folder.images[[0, 0, 0, 0]], folder.images[[0, 2, 1, 2]]),
            (1.0, 3.0)
        );
        // A band's file whose header names another band is refused by name.
        let mut file = fitsio::FitsFile::edit(lens.join("obj1_i.fits")).unwrap();
        let hdu = file.primary_hdu().unwrap();
        hdu.write_key(&mut file, "FILTER", "g").unwrap();
        drop(file);
        let err = read(dir.path(), &bands, &Extensions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("obj1_i.fits") && err.contains("FILTER = 'g', band 'g'"),
            "{err}"
        );
        std::fs::remove_file(lens.join("obj1_r.fits")).unwrap();
        let err = read(dir.path(), &bands, &Extensions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("'obj1'") && err.contains("band(s) r"), "{err}");
        let cubes = tempfile::tempdir().unwrap();
        std::fs::create_dir(cubes.path().join("a")).unwrap();
        write_fits(
            &cubes.path().join("a/c.fits"),
            &[3, 2, 2],
            &(0..12).map(|v| v as f32).collect::<Vec<_>>(),
            true,
        );
        let folder = read(cubes.path(), &[], &Extensions::default()).unwrap();
        assert_eq!(folder.images.dim(), (1, 3, 2, 2));
        assert_eq!(folder.images[[0, 2, 1, 1]], 11.0);
        // Beside a cube whose header names its bands (i, r, g), the unnamed
        // one's planes were taken in whatever order they were in.
        let named = cubes.path().join("a/b.fits");
        write_fits(&named, &[3, 2, 2], &[0.0; 12], false);
        let mut file = fitsio::FitsFile::edit(&named).unwrap();
        let hdu = file.primary_hdu().unwrap();
        for (k, band) in ["i", "r", "g"].iter().enumerate() {
            hdu.write_key(&mut file, &format!("FILTER{}", k + 1), *band)
                .unwrap();
        }
        drop(file);
        let err = read(cubes.path(), &[], &Extensions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("c.fits")
                && err.contains("names no bands")
                && err.contains("'a/b.fits' names i, r, g"),
            "{err}"
        );
    }
}
