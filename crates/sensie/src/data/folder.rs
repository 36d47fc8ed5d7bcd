//! A folder of class subfolders holding PNG, JPEG or FITS images: the class
//! of an image is its subfolder's name, classes numbered in sorted order.
//!
//! PNG and JPEG pixels keep their stored values (0-255 for 8-bit, 0-65535
//! for 16-bit); grey images have one band, colour images three, and alpha is
//! dropped, being no part of the scene. A FITS file is a 2-D image (one band)
//! or a bands x H x W cube. With `bands` (e.g. g, r, i), each example is
//! instead one 2-D FITS file per band, named `STEM_g.fits`, `STEM-g.fits` or
//! `STEM.g.fits`, stacked in the order the bands are given. Files with other
//! extensions, and hidden files, are not images and are passed over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::{Array3, Array4, ArrayD, Axis, Ix3};
use rayon::prelude::*;

use super::array::is_fits;
use super::fits;
use crate::{Error, Result};

/// What a class folder yields.
pub(crate) struct Folder {
    pub images: Array4<f32>,
    pub ids: Vec<String>,
    pub classes: Vec<usize>,
    pub class_names: Vec<String>,
}

/// One example: its id (path under the root) and its file, or files by band.
struct Example {
    id: String,
    class: usize,
    files: Vec<PathBuf>,
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

/// The FITS file's name without its FITS extension(s).
fn fits_stem(path: &Path) -> &str {
    let name = file_name(path);
    let lower = name.to_ascii_lowercase();
    [".fits.fz", ".fits.gz", ".fits", ".fit", ".fts"]
        .iter()
        .find(|ext| lower.ends_with(*ext))
        .map_or(name, |ext| &name[..name.len() - ext.len()])
}

/// The examples of one class folder.
fn examples(dir: &Path, class: usize, class_name: &str, bands: &[String]) -> Result<Vec<Example>> {
    let files = entries(dir)?.into_iter().filter(|p| p.is_file());
    if bands.is_empty() {
        return Ok(files
            .filter(|p| is_fits(p) || is_picture(p))
            .map(|p| Example {
                id: format!("{class_name}/{}", file_name(&p)),
                class,
                files: vec![p],
            })
            .collect());
    }
    let mut groups: BTreeMap<String, Vec<Option<PathBuf>>> = BTreeMap::new();
    for path in files.filter(|p| is_fits(p)) {
        let stem = fits_stem(&path);
        let band = bands.iter().position(|b| {
            ["_", "-", "."]
                .iter()
                .any(|sep| stem.ends_with(&format!("{sep}{b}")))
        });
        if let Some(band) = band {
            let stem = stem[..stem.len() - bands[band].len() - 1].to_string();
            groups
                .entry(stem)
                .or_insert_with(|| vec![None; bands.len()])[band] = Some(path);
        }
    }
    groups
        .into_iter()
        .map(|(stem, found)| {
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
                files: found.into_iter().flatten().collect(),
            })
        })
        .collect()
}

/// One image as C x H x W.
fn read_image(path: &Path) -> Result<Array3<f32>> {
    if is_fits(path) {
        let array = fits::read(path)?;
        return match array.ndim() {
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
        };
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
    Ok(hwc
        .permuted_axes([2, 0, 1])
        .as_standard_layout()
        .into_owned())
}

/// The bands of one example, each a 2-D FITS image, stacked.
fn read_bands(files: &[PathBuf]) -> Result<Array3<f32>> {
    let planes: Vec<ArrayD<f32>> = files.iter().map(|f| fits::read(f)).collect::<Result<_>>()?;
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

/// Reads every example under `root`, in parallel.
pub(crate) fn read(root: &Path, bands: &[String]) -> Result<Folder> {
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
    let mut all = Vec::new();
    for (class, (dir, name)) in class_dirs.iter().zip(&class_names).enumerate() {
        all.extend(examples(dir, class, name, bands)?);
    }
    if all.is_empty() {
        return Err(Error::data(
            root,
            "the class subfolders hold no PNG, JPEG or FITS images",
        ));
    }
    let images: Vec<Array3<f32>> = all
        .par_iter()
        .map(|e| {
            if bands.is_empty() {
                read_image(&e.files[0])
            } else {
                read_bands(&e.files)
            }
        })
        .collect::<Result<_>>()?;
    let shape = images[0].dim();
    if let Some(i) = images.iter().position(|im| im.dim() != shape) {
        return Err(Error::data(
            &all[i].files[0],
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
        class_names,
    })
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
        let folder = read(dir.path(), &[]).unwrap();
        assert_eq!(folder.class_names, vec!["ant", "zebra"]);
        assert_eq!(folder.ids, vec!["ant/a.png", "zebra/a.png"]);
        assert_eq!(folder.classes, vec![0, 1]);
        assert_eq!(folder.images.dim(), (2, 1, 2, 3));
        assert_eq!(folder.images[[0, 0, 1, 2]], 12.0);
        assert_eq!(folder.images[[1, 0, 0, 0]], 200.0);
    }

    #[test]
    fn colour_jpegs_have_three_bands_and_mismatched_shapes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("c")).unwrap();
        image::RgbImage::from_pixel(4, 4, image::Rgb([255, 0, 0]))
            .save(dir.path().join("c/x.jpg"))
            .unwrap();
        let folder = read(dir.path(), &[]).unwrap();
        assert_eq!(folder.images.dim(), (1, 3, 4, 4));
        // JPEG is lossy: pure red comes back within a few levels.
        assert!(folder.images[[0, 0, 1, 1]] > 240.0 && folder.images[[0, 2, 1, 1]] < 15.0);
        image::RgbImage::from_pixel(5, 4, image::Rgb([0, 0, 0]))
            .save(dir.path().join("c/y.png"))
            .unwrap();
        let err = read(dir.path(), &[]).err().unwrap().to_string();
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
        let folder = read(dir.path(), &bands).unwrap();
        assert_eq!(folder.ids, vec!["lens/obj1"]);
        assert_eq!(folder.images.dim(), (1, 3, 2, 3));
        assert_eq!(
            (folder.images[[0, 0, 0, 0]], folder.images[[0, 2, 1, 2]]),
            (1.0, 3.0)
        );
        std::fs::remove_file(lens.join("obj1_r.fits")).unwrap();
        let err = read(dir.path(), &bands).err().unwrap().to_string();
        assert!(err.contains("'obj1'") && err.contains("band(s) r"), "{err}");
        let cubes = tempfile::tempdir().unwrap();
        std::fs::create_dir(cubes.path().join("a")).unwrap();
        write_fits(
            &cubes.path().join("a/c.fits"),
            &[3, 2, 2],
            &(0..12).map(|v| v as f32).collect::<Vec<_>>(),
            true,
        );
        let folder = read(cubes.path(), &[]).unwrap();
        assert_eq!(folder.images.dim(), (1, 3, 2, 2));
        assert_eq!(folder.images[[0, 2, 1, 1]], 11.0);
    }
}
