//! Test data: raw images in physical units, the right answers, and optional
//! per-example metadata.
//!
//! Whatever the file layout, images are held as float32 N x C x H x W with
//! their stored values (counts, fluxes, 0-255 pixels): perturbations such as
//! `magnitude` or `poisson-noise` need physical units, and the model's own
//! scaling is the separate, declared [`crate::preprocess`] step.
//!
//! Sources, chosen by what `path` names:
//! - a folder of class subfolders holding PNG, JPEG or FITS images;
//! - an `.npz` archive with an image array and a label array (`x`, `y` by default);
//! - an `.npy` or FITS file holding all images (N x H x W, N x C x H x W or
//!   N x H x W x C), with labels from a second `.npy` file or a metadata column
//!   (a 2-D FITS image, or a cube whose header names its bands, is one example);
//! - one such file per band: a path containing `{band}`, filled in with each
//!   of `bands` (e.g. `cutouts_{band}.fits` with g, r, i), each N x H x W; a
//!   FITS file whose FILTER names another of `bands` is refused as swapped.
//!
//! FITS files may be gzip'd or tile-compressed; `bands` picks and orders the
//! bands of cubes and multi-extension files by the names in their headers
//! (`fits.rs`), and mask or weight extensions mark bad pixels, which are
//! treated as NaN pixels are. Every example has one name ([`name`]): its id
//! and its stem, used by metadata joins and in every output.

mod array;
mod fits;
mod fits_check;
mod folder;
mod labels;
mod metadata;
pub mod name;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ndarray::{Array4, ArrayD, ArrayView, ArrayViewD, Axis, Ix3};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use array::{guess_layout, read_array};
pub use fits::{Extensions, Hdu};
pub use labels::{Labels, Task, from_rows as labels_from_rows, from_values as labels_from_values};
pub use metadata::{Column, Metadata};

use crate::model::Layout;
use crate::{Error, Result};

/// Where the data is and how to read it: the `[data]` table of a probe
/// config, or the command line's data flags.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataSpec {
    /// A class folder, `.npz`, `.npy` or FITS file, or a per-band path with `{band}`.
    pub path: PathBuf,
    /// An `.npy` file of labels, for `.npy` and FITS image files.
    pub labels: Option<PathBuf>,
    /// Take the labels from this metadata column instead (numbers, or class
    /// names that become classes in sorted order).
    pub label_column: Option<String>,
    /// Layout of a 4-D image array in its file; guessed when absent (see [`guess_layout`]).
    pub layout: Option<Layout>,
    /// Names of the image and label arrays in an `.npz` archive.
    pub x: String,
    /// The label array's name in an `.npz` archive.
    pub y: String,
    /// Band names: for per-band FITS files, or to pick and order the bands
    /// of cubes and multi-extension files by the names in their headers.
    pub bands: Vec<String>,
    /// The FITS HDU holding the science image: EXTNAME (e.g. "SCI") or index
    /// (0 = primary); the first HDU holding an image when absent.
    pub hdu: Option<Hdu>,
    /// A FITS HDU whose nonzero pixels mark bad pixels of the science image.
    pub mask_hdu: Option<Hdu>,
    /// A FITS HDU of weights; pixels of zero (or negative, or NaN) weight are bad.
    pub weight_hdu: Option<Hdu>,
    /// Whether the labels are classes or regression targets.
    pub task: Task,
    /// A CSV table of per-example properties.
    pub metadata: Option<PathBuf>,
    /// The metadata column that identifies examples; rows join by order without it.
    pub metadata_key: Option<String>,
    /// Leave out examples whose images hold NaN, infinite or bad (masked, zero-weight) pixels instead of refusing the data.
    pub skip_bad: bool,
    /// Names of the classes, in index order, when the files do not give them.
    pub class_names: Option<Vec<String>>,
    /// Keep only the examples whose metadata cell in a column is a value,
    /// written `column=value` (e.g. `class=lens`: probe a regression model of
    /// lenses on the lenses of a mixed test set).
    pub only: Option<String>,
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            path: PathBuf::new(),
            labels: None,
            label_column: None,
            layout: None,
            x: "x".into(),
            y: "y".into(),
            bands: Vec::new(),
            hdu: None,
            mask_hdu: None,
            weight_hdu: None,
            task: Task::Auto,
            metadata: None,
            metadata_key: None,
            skip_bad: false,
            class_names: None,
            only: None,
        }
    }
}

/// A loaded data set, every per-example field in the same order.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Raw images, N x C x H x W, physical units.
    pub images: Array4<f32>,
    /// Per-example classes or regression targets.
    pub labels: Labels,
    /// Per-example ids: the path under the data folder, or the index in the
    /// array file (see [`name`] for the stem derived from it).
    pub ids: Vec<String>,
    /// Each example's position in the data as read, before `only` and
    /// `skip_bad` left examples out: what `--indices` and every output count.
    pub positions: Vec<usize>,
    /// The class names in class index order, when the data or the model gives them.
    pub class_names: Option<Vec<String>>,
    /// Metadata rows, already joined to the examples.
    pub metadata: Option<Metadata>,
    /// The metadata column the labels were read from, if they were.
    pub label_column: Option<String>,
    /// Ids of examples left out because their images held NaN, infinite or bad (masked, zero-weight) pixels.
    pub skipped: Vec<String>,
    /// The data file or folder, as errors and results name it.
    pub path: PathBuf,
    /// The task the labels were read for: `Auto` when sensie chose from the
    /// labels alone, so that a classifier's model can refuse targets it
    /// cannot be scored on while an explicit `regress` stays the user's word.
    pub task: Task,
}

impl Dataset {
    /// The number of examples.
    pub fn len(&self) -> usize {
        self.images.len_of(Axis(0))
    }

    /// Whether the data set holds no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Refuses class labels that a model with `n_classes` outputs cannot score,
    /// and class names that do not match that count.
    pub fn check_classes(&self, n_classes: usize) -> Result<()> {
        if let Some(names) = self
            .class_names
            .as_ref()
            .filter(|names| names.len() > n_classes)
        {
            return Err(Error::data(
                &self.path,
                format!(
                    "the data has {} classes but the model scores {n_classes}",
                    names.len()
                ),
            ));
        }
        if let Labels::Classes(classes) = &self.labels
            && let Some(i) = classes.iter().position(|&c| c >= n_classes)
        {
            // Whole-number regression targets read as classes under `auto`
            // (a one-output regressor of counts or radii in pixels) end here.
            let targets = if self.task == Task::Auto {
                "; if the labels are regression targets, pass --task regress"
            } else {
                ""
            };
            return Err(Error::data(
                &self.path,
                format!(
                    "label {} of {} is out of range for a model with {n_classes} classes (0 to {}){targets}",
                    classes[i],
                    self.example(i),
                    n_classes - 1
                ),
            ));
        }
        Ok(())
    }

    /// Example `i` as the user can find it: its position in the data and
    /// its id and, when its label came from a metadata column, the file's
    /// row holding that label (a join by key or `--only` reorders rows).
    pub fn example(&self, i: usize) -> String {
        let mut text = format!("example {} ('{}')", self.positions[i], self.ids[i]);
        if let (Some(column), Some(metadata)) = (&self.label_column, &self.metadata) {
            text += &format!(
                ", row {} of column '{column}' of {}",
                metadata.row_number(i),
                metadata.path().display()
            );
        }
        text
    }

    fn select(self, keep: &[usize], skipped: Vec<String>) -> Dataset {
        Dataset {
            images: self.images.select(Axis(0), keep),
            labels: self.labels.select(keep),
            ids: keep.iter().map(|&i| self.ids[i].clone()).collect(),
            positions: keep.iter().map(|&i| self.positions[i]).collect(),
            class_names: self.class_names,
            metadata: self.metadata.map(|m| m.select(keep)),
            label_column: self.label_column,
            skipped,
            path: self.path,
            task: self.task,
        }
    }
}

/// A data set from arrays already in memory (NumPy arrays handed over by the
/// Python package), checked as [`load`] checks files: one label and one
/// metadata row per image, every pixel finite (or, with `skip_bad`, the bad
/// images left out). `name` stands for the path in messages and results.
/// Its task is `Auto`; set [`Dataset::task`] when the labels were read for
/// a task the caller asked for.
pub fn from_memory(
    name: &str,
    images: Array4<f32>,
    labels: Labels,
    metadata: Option<Metadata>,
    skip_bad: bool,
) -> Result<Dataset> {
    let n = images.len_of(Axis(0));
    let path = PathBuf::from(name);
    if labels.len() != n {
        return Err(Error::data(
            &path,
            format!(
                "{n} images but {} labels; every image needs one label",
                labels.len()
            ),
        ));
    }
    if let Some(rows) = metadata
        .as_ref()
        .map(Metadata::len)
        .filter(|&rows| rows != n)
    {
        return Err(Error::data(
            &path,
            format!("{n} images but {rows} metadata rows; every image needs one row"),
        ));
    }
    let dataset = Dataset {
        images,
        labels,
        ids: (0..n).map(|i| i.to_string()).collect(),
        positions: (0..n).collect(),
        class_names: None,
        metadata,
        label_column: None,
        skipped: Vec::new(),
        path,
        task: Task::Auto,
    };
    finite_only(dataset, skip_bad)
}

/// Reads the data `spec` describes, joins its metadata and checks that every
/// count agrees and every pixel is finite.
pub fn load(spec: &DataSpec) -> Result<Dataset> {
    filter(read_all(spec)?, spec)
}

/// Band names as given: each named, and none twice (`g,g,r` would feed
/// the model one band in two of its channels, with nothing said).
fn check_bands(bands: &[String]) -> Result<()> {
    let bad = |why: String| Error::invalid(format!("bands '{}'", bands.join(",")), why);
    if let Some(i) = bands.iter().position(|b| b.trim().is_empty()) {
        return Err(bad(format!(
            "band {} has no name; list the band names, e.g. --bands g,r,i",
            i + 1
        )));
    }
    if let Some((i, band)) = bands
        .iter()
        .enumerate()
        .find(|(i, b)| bands[..*i].contains(b))
    {
        return Err(bad(format!(
            "band '{band}' is given twice (band {}); each band once, in the model's order",
            i + 1
        )));
    }
    Ok(())
}

/// Every example of the data, before `only` and `skip_bad` leave any out.
fn read_all(spec: &DataSpec) -> Result<Dataset> {
    check_bands(&spec.bands)?;
    let path = &spec.path;
    if path.as_os_str().is_empty() {
        return Err(Error::invalid(
            "data",
            "no data path given (--data, or path in [data])",
        ));
    }
    let refuse_labels_file = |source: &str| match &spec.labels {
        Some(labels) => Err(Error::data(
            labels,
            format!("a separate labels file is only read for .npy and FITS image files; {source}"),
        )),
        None => Ok(()),
    };
    let extensions = spec.extensions();
    let (images, stored, mut class_names) = if path.is_dir() {
        refuse_labels_file("a folder's labels are its class subfolders")?;
        let folder = folder::read(path, &spec.bands, &extensions)?;
        (
            folder.images,
            Some(StoredLabels {
                labels: Labels::Classes(folder.classes),
                ids: folder.ids,
            }),
            Some(folder.class_names),
        )
    } else if is_npz(path) {
        refuse_labels_file("an .npz archive holds its labels as an array (y)")?;
        let images = npz_images(spec)?;
        let labels = match spec.label_column {
            Some(_) => None,
            None => Some(labels::from_array(
                array::read_npz(path, &spec.y)?,
                spec.task,
                path,
            )?),
        };
        (images, labels.map(StoredLabels::unnamed), None)
    } else {
        let images = read_images(path, &spec.bands, spec.layout, &extensions)?;
        let labels = spec
            .labels
            .as_ref()
            .map(|l| labels::from_array(array::read_npy(l)?, spec.task, l))
            .transpose()?;
        (images, labels.map(StoredLabels::unnamed), None)
    };
    let n = images.len_of(Axis(0));
    let ids = match &stored {
        Some(stored) if !stored.ids.is_empty() => stored.ids.clone(),
        _ => (0..n).map(|i| i.to_string()).collect(),
    };
    let metadata = spec
        .metadata
        .as_ref()
        .map(|m| Metadata::read(m)?.join(&ids, spec.metadata_key.as_deref()))
        .transpose()?;
    let labels = match (&spec.label_column, stored, &metadata) {
        (Some(column), _, _) if spec.labels.is_some() => {
            return Err(Error::invalid(
                format!("label column '{column}'"),
                "given with a labels file (--labels): which labels to use would be a guess; give one of the two",
            ));
        }
        (Some(column), _, Some(metadata)) => {
            let read = labels_from_column(metadata, column, spec.task)?;
            // A folder's class names belong to its folder labels, not to these.
            class_names = read.class_names;
            read.labels
        }
        (Some(column), _, None) => {
            return Err(Error::invalid(
                format!("label column '{column}'"),
                "needs a metadata table (--metadata)",
            ));
        }
        (None, Some(stored), _) => stored.labels,
        (None, None, _) => {
            return Err(Error::data(
                path,
                "no labels: give a labels .npy file (--labels) or a metadata column (--label-column)",
            ));
        }
    };
    // Text labels (folder names, a word column) follow the given class names.
    let labels = match (&spec.class_names, &class_names, labels) {
        (Some(given), Some(found), Labels::Classes(classes)) => {
            Labels::Classes(renumber(&classes, found, given, path)?)
        }
        (_, _, labels) => labels,
    };
    if labels.len() != n {
        let source = spec.labels.as_deref().unwrap_or(path);
        return Err(Error::data(
            path,
            format!(
                "{n} images but {} labels in {}; every image needs one label",
                labels.len(),
                source.display()
            ),
        ));
    }
    let dataset = Dataset {
        images,
        labels,
        positions: (0..ids.len()).collect(),
        ids,
        class_names: spec.class_names.clone().or(class_names),
        metadata,
        label_column: spec.label_column.clone(),
        skipped: Vec::new(),
        path: path.clone(),
        task: spec.task,
    };
    if let Some(names) = &dataset.class_names {
        dataset.check_classes(names.len())?;
    }
    Ok(dataset)
}

/// Class numbers from the data's sorted text labels (`found`) renumbered
/// to the positions of the same names in `given`.
fn renumber(
    classes: &[usize],
    found: &[String],
    given: &[String],
    path: &Path,
) -> Result<Vec<usize>> {
    let index: Vec<usize> = found
        .iter()
        .map(|name| {
            given.iter().position(|g| g.trim() == name.trim()).ok_or_else(|| {
                Error::data(path, format!("class '{name}' of the data is not among the class names given ({}); add it or fix the label", given.join(", ")))
            })
        })
        .collect::<Result<_>>()?;
    Ok(classes.iter().map(|&c| index[c]).collect())
}

/// Which class index each class name stands for, and where the names came
/// from: said on stderr and in results.json, because a wrong mapping makes
/// every score wrong without any other sign.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClassMapping {
    /// Class names in index order: name i is class i.
    pub names: Vec<String>,
    /// `given` (--class-names or class_names), `model` (the model's
    /// metadata), `numbers` (class folders named by the class numbers
    /// themselves) or `sorted` (the data's text labels in sorted order, as no
    /// names were given).
    pub source: &'static str,
}

impl ClassMapping {
    /// The names to read `spec`'s data with: the given ones, else the model's.
    pub fn names_for(spec: &DataSpec, model_names: Option<Vec<String>>) -> DataSpec {
        DataSpec {
            class_names: spec.class_names.clone().or(model_names),
            ..spec.clone()
        }
    }

    /// The mapping the data was read with, when it has class names.
    pub fn of(
        data_names: Option<&Vec<String>>,
        spec: &DataSpec,
        model_names: Option<&Vec<String>>,
    ) -> Option<ClassMapping> {
        let names = data_names?.clone();
        let source = if spec.class_names.is_some() {
            "given"
        } else if model_names.is_some() {
            "model"
        } else if names.iter().enumerate().all(|(i, n)| *n == i.to_string()) {
            "numbers"
        } else {
            "sorted"
        };
        Some(ClassMapping { names, source })
    }
}

impl std::fmt::Display for ClassMapping {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let pairs: Vec<String> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{i}={n}"))
            .collect();
        let from = match self.source {
            "given" => "as given (--class-names or class_names)",
            "model" => "from the model's metadata",
            "numbers" => "as the data's class folders number them",
            _ => {
                "in sorted order of the data's text labels, as no class names were given: pass --class-names if the model numbers them otherwise"
            }
        };
        write!(f, "classes {} {from}", pairs.join(", "))
    }
}

/// The examples `only` and `skip_bad` keep.
fn filter(dataset: Dataset, spec: &DataSpec) -> Result<Dataset> {
    let dataset = match &spec.only {
        Some(only) => only_where(dataset, only)?,
        None => dataset,
    };
    finite_only(dataset, spec.skip_bad)
}

/// The examples whose metadata cell in `column` is `value`, for
/// `only = "column=value"`.
fn only_where(dataset: Dataset, only: &str) -> Result<Dataset> {
    let what = || format!("only '{only}'");
    let Some((column, value)) = only.split_once('=') else {
        return Err(Error::invalid(
            what(),
            "write it as COLUMN=VALUE, e.g. class=lens",
        ));
    };
    let Some(metadata) = &dataset.metadata else {
        return Err(Error::invalid(
            what(),
            "needs a metadata table (--metadata)",
        ));
    };
    let cells = metadata.text(column.trim())?;
    let keep: Vec<usize> = (0..cells.len())
        .filter(|&i| cells[i] == value.trim())
        .collect();
    if keep.is_empty() {
        let mut seen: Vec<&str> = cells.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        let shown = seen.iter().take(10).copied().collect::<Vec<_>>().join(", ");
        return Err(Error::invalid(
            what(),
            format!("no example has that value; the column holds {shown}"),
        ));
    }
    let skipped = dataset.skipped.clone();
    Ok(dataset.select(&keep, skipped))
}

/// Images read for work that can do without right answers (explaining the
/// class a model predicts, predicting).
#[derive(Clone, Debug)]
pub struct Images {
    /// Raw images, N x C x H x W, physical units.
    pub images: Array4<f32>,
    /// Per-example labels, when the data has them.
    pub labels: Option<Labels>,
    /// Per-example ids, as [`Dataset::ids`].
    pub ids: Vec<String>,
    /// Each image's position in the data as read ([`Dataset::positions`]).
    pub positions: Vec<usize>,
    /// Ids of images left out for NaN, infinite or bad pixels.
    pub skipped: Vec<String>,
    /// How many examples the data holds, kept or not.
    pub total: usize,
    /// Class names in index order, when the data or the spec has them.
    pub class_names: Option<Vec<String>>,
}

/// Images, their ids and, when the data has them, their labels: [`load`]
/// without the need for labels. An `.npy` or FITS source given without
/// labels or a label column, or an `.npz` archive without its label array,
/// is read without labels; every other source goes through [`load`].
/// Images with NaN, infinite or bad pixels are refused, or
/// left out with `skip_bad` (the ids and positions say which remain).
pub fn load_images(spec: &DataSpec) -> Result<Images> {
    check_bands(&spec.bands)?;
    let path = &spec.path;
    let (data, total) = if spec.labels.is_some()
        || spec.label_column.is_some()
        || spec.only.is_some()
        || path.is_dir()
        || (is_npz(path) && array::npz_holds(path, &spec.y)?)
    {
        let all = read_all(spec)?;
        let total = all.len();
        (filter(all, spec)?, total)
    } else {
        let images = if is_npz(path) {
            npz_images(spec)?
        } else {
            read_images(path, &spec.bands, spec.layout, &spec.extensions())?
        };
        let n = images.len_of(Axis(0));
        let ids: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        let bad = bad_images(images.view());
        if !bad.is_empty() && !spec.skip_bad {
            return Err(Error::data(
                path,
                bad_message(&bad, &ids, "leave them out with --skip-bad"),
            ));
        }
        let keep = good(n, &bad);
        return Ok(Images {
            images: images.select(Axis(0), &keep),
            labels: None,
            ids: keep.iter().map(|&i| ids[i].clone()).collect(),
            positions: keep,
            skipped: bad.iter().map(|b| ids[b.index].clone()).collect(),
            total: n,
            class_names: spec.class_names.clone(),
        });
    };
    Ok(Images {
        images: data.images,
        labels: Some(data.labels),
        ids: data.ids,
        positions: data.positions,
        skipped: data.skipped,
        total,
        class_names: data.class_names,
    })
}

impl DataSpec {
    /// The FITS HDUs to read, as the spec names them.
    pub fn extensions(&self) -> Extensions {
        Extensions {
            science: self.hdu.clone(),
            mask: self.mask_hdu.clone(),
            weight: self.weight_hdu.clone(),
        }
    }
}

/// The error for `bands` asked of a source that holds no band names (`.npy`, `.npz`).
fn no_bands(path: &Path, band: &str) -> Error {
    Error::data(
        path,
        format!(
            "has no band '{band}': bands are picked from FITS headers, per-band files ({{band}} in the path) or class folders; leave out --bands"
        ),
    )
}

/// The images of an `.npz` archive: its array named `spec.x`. An archive
/// holds no band names to pick by.
fn npz_images(spec: &DataSpec) -> Result<Array4<f32>> {
    if let Some(band) = spec.bands.first() {
        return Err(no_bands(&spec.path, band));
    }
    array::images_from_array(
        array::read_npz(&spec.path, &spec.x)?.into_f32(),
        spec.layout,
        &spec.path,
    )
}

fn is_npz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// The images of an `.npy` or FITS file, or of one such file per band; with
/// `bands`, a FITS file's bands are picked by the names in its header (an
/// N x bands x H x W array, or one bands x H x W cube).
fn read_images(
    path: &Path,
    bands: &[String],
    layout: Option<Layout>,
    extensions: &Extensions,
) -> Result<Array4<f32>> {
    let template = path.to_string_lossy();
    if !template.contains("{band}") {
        if bands.is_empty() && name::is_fits(path) {
            return fits_images(fits::read(path, extensions)?, layout, path);
        }
        if bands.is_empty() {
            return array::images_from_array(
                array::read_array_from(path, extensions)?,
                layout,
                path,
            );
        }
        if !name::is_fits(path) {
            return Err(no_bands(path, &bands[0]));
        }
        let picked = fits::read_bands(path, extensions, bands)?;
        let picked = if picked.ndim() == 3 {
            picked.insert_axis(Axis(0))
        } else {
            picked
        };
        return array::images_from_array(picked, Some(Layout::Nchw), path);
    }
    if bands.is_empty() {
        return Err(Error::data(
            path,
            "the path holds {band} but no bands are given (--bands g,r,i)",
        ));
    }
    let planes: Vec<(PathBuf, ArrayD<f32>)> = bands
        .iter()
        .map(|band| {
            let file = PathBuf::from(template.replace("{band}", band));
            let plane = if name::is_fits(&file) {
                fits::read_band(&file, extensions, band, bands)
            } else {
                array::read_array_from(&file, extensions)
            };
            plane.map(|a| (file, a))
        })
        .collect::<Result<_>>()?;
    let shape = planes[0].1.shape().to_vec();
    for (file, plane) in &planes {
        if plane.ndim() != 3 || plane.shape() != shape.as_slice() {
            return Err(Error::data(
                file,
                if plane.ndim() != 3 {
                    format!(
                        "is {:?}; a per-band file holds every example's image in that band, N x H x W \
                         (2-D files, one per example and band as STEM_g.fits, are read from class folders with --bands)",
                        plane.shape()
                    )
                } else {
                    format!(
                        "is {:?} but {} is {shape:?}; every band's file must hold the same examples",
                        plane.shape(),
                        planes[0].0.display()
                    )
                },
            ));
        }
    }
    let views: Vec<_> = planes
        .iter()
        .map(|(_, p)| p.view().into_dimensionality::<Ix3>().expect("3-D"))
        .collect();
    Ok(ndarray::stack(Axis(1), &views).expect("same shapes"))
}

/// The examples of one FITS file given as the data: a 2-D image is one
/// example, and so is a cube whose header names its planes' bands
/// (`FILTER1..n`, `BAND1..n`), as in a class folder; any other array is a
/// stack of examples (N x H x W, N x C x H x W), as an `.npy` file is.
fn fits_images(image: fits::Image, layout: Option<Layout>, path: &Path) -> Result<Array4<f32>> {
    match image.pixels.ndim() {
        2 => array::images_from_array(image.pixels.insert_axis(Axis(0)), layout, path),
        3 if image.bands.is_some() => {
            array::images_from_array(image.pixels.insert_axis(Axis(0)), Some(Layout::Nchw), path)
        }
        _ => array::images_from_array(image.pixels, layout, path),
    }
}

/// Labels as a data source stores them: a folder's classes with its
/// images' paths as ids, or an array's labels.
struct StoredLabels {
    /// The right answer per example.
    labels: Labels,
    /// Per example, its id in the source (a folder's path under the root);
    /// empty when the source names examples by index.
    ids: Vec<String>,
}

impl StoredLabels {
    /// Labels of a source that names its examples by index (an array).
    fn unnamed(labels: Labels) -> StoredLabels {
        StoredLabels {
            labels,
            ids: Vec::new(),
        }
    }
}

/// Labels read from a metadata column.
struct ColumnLabels {
    /// The right answer per example.
    labels: Labels,
    /// For a text column, the class names in index order (sorted).
    class_names: Option<Vec<String>>,
}

/// Labels from a metadata column: numbers as the task says, or text as class
/// names (classes in sorted order, returned as the class names).
fn labels_from_column(metadata: &Metadata, column: &str, task: Task) -> Result<ColumnLabels> {
    match metadata.column(column)? {
        Column::Numeric(values) => {
            if let Some(row) = values.iter().position(Option::is_none) {
                return Err(Error::data(
                    metadata.path(),
                    format!(
                        "row {} of column '{column}' has no value; every example needs a label",
                        metadata.row_number(row)
                    ),
                ));
            }
            Ok(ColumnLabels {
                labels: labels::from_values(
                    values.into_iter().flatten().collect(),
                    task,
                    metadata.path(),
                )?,
                class_names: None,
            })
        }
        Column::Text(values) => {
            let names: Vec<String> = values
                .iter()
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let classes = values
                .iter()
                .map(|v| names.binary_search(v).expect("every value is a name"))
                .collect();
            Ok(ColumnLabels {
                labels: Labels::Classes(classes),
                class_names: Some(names),
            })
        }
    }
}

/// The first example of `images` (examples first) holding a NaN or
/// infinite value, and how many it holds. Arrays given in memory (explain's
/// and visualize's inputs) are checked with it as files are on loading: such
/// an example's activations and maps would be NaN, and its gradients,
/// through ReLU's (NaN > 0 is false), silently zero.
pub fn first_non_finite(images: ArrayViewD<f32>) -> Option<(usize, usize)> {
    bad_images(images)
        .first()
        .map(|bad| (bad.index, bad.pixels))
}

/// Refuses a list of chosen examples that names one twice (`--indices
/// 0,0,1`): it would be explained or shown twice, as if it were two
/// examples, with nothing said.
pub(crate) fn distinct_indices(indices: &[usize]) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(indices.len());
    match indices.iter().find(|&&i| !seen.insert(i)) {
        Some(i) => Err(Error::invalid(
            format!("example index {i}"),
            "it is listed twice in the indices; list each example once",
        )),
        None => Ok(()),
    }
}

/// An image holding bad pixels.
struct BadImage {
    /// Its index in the data set.
    index: usize,
    /// How many of its pixels are NaN, infinite, masked or of zero weight.
    pixels: usize,
}

/// The images holding NaN or infinite pixels (bad pixels of a FITS mask or
/// weight extension are NaN by now), in index order.
fn bad_images<D: ndarray::RemoveAxis>(images: ArrayView<f32, D>) -> Vec<BadImage> {
    images
        .axis_iter(Axis(0))
        .into_par_iter()
        .enumerate()
        .map(|(index, image)| BadImage {
            index,
            pixels: image.iter().filter(|v| !v.is_finite()).count(),
        })
        .filter(|bad| bad.pixels > 0)
        .collect()
}

/// What a refusal of `bad` images says: how many, how many pixels, the
/// first one by name, and `remedy`.
fn bad_message(bad: &[BadImage], ids: &[String], remedy: &str) -> String {
    let pixels: usize = bad.iter().map(|b| b.pixels).sum();
    let BadImage {
        index: first,
        pixels: count,
    } = bad[0];
    format!(
        "{} of {} images hold {pixels} bad pixel(s): NaN, infinite, masked or of zero weight (first: example {first}, '{}', {count} pixel(s)); \
         check those pixels, or {remedy}",
        bad.len(),
        ids.len(),
        ids[first],
    )
}

/// Refuses images holding NaN, infinite or bad pixels, or leaves them out
/// when `skip` is set (their ids are kept in [`Dataset::skipped`]).
fn finite_only(dataset: Dataset, skip: bool) -> Result<Dataset> {
    let bad = bad_images(dataset.images.view());
    if bad.is_empty() {
        return Ok(dataset);
    }
    if !skip {
        return Err(Error::data(
            &dataset.path,
            bad_message(&bad, &dataset.ids, "leave them out with --skip-bad"),
        ));
    }
    let skipped = bad.iter().map(|b| dataset.ids[b.index].clone()).collect();
    let keep = good(dataset.len(), &bad);
    Ok(dataset.select(&keep, skipped))
}

/// The indices below `n` that are not among the `bad` images (sorted).
fn good(n: usize, bad: &[BadImage]) -> Vec<usize> {
    (0..n)
        .filter(|i| bad.binary_search_by_key(i, |b| b.index).is_err())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use ndarray::{Array1, Array2, Array4};
    use ndarray_npy::{NpzWriter, WriteNpyExt};

    use super::*;

    fn npy(path: &Path, array: &impl WriteNpyExt) -> PathBuf {
        array.write_npy(File::create(path).unwrap()).unwrap();
        path.to_path_buf()
    }

    fn spec(path: PathBuf) -> DataSpec {
        DataSpec {
            path,
            ..DataSpec::default()
        }
    }

    #[test]
    fn only_keeps_the_examples_with_a_metadata_value() {
        let dir = tempfile::tempdir().unwrap();
        let x = npy(
            &dir.path().join("x.npy"),
            &Array4::<f32>::from_shape_fn((4, 1, 2, 2), |(i, ..)| i as f32),
        );
        std::fs::write(
            dir.path().join("m.csv"),
            "class,radius\nlens,1.5\nnonlens,0.9\nlens,2.5\nnonlens,1.1\n",
        )
        .unwrap();
        let base = DataSpec {
            metadata: Some(dir.path().join("m.csv")),
            label_column: Some("radius".into()),
            ..spec(x)
        };
        let data = load(&DataSpec {
            only: Some("class=lens".into()),
            ..base.clone()
        })
        .unwrap();
        assert_eq!(data.ids, vec!["0", "2"]);
        assert_eq!(data.labels, Labels::Targets(vec![1.5, 2.5]));
        assert_eq!(data.images[[1, 0, 0, 0]], 2.0);
        assert_eq!(
            data.metadata.unwrap().text("class").unwrap(),
            ["lens", "lens"]
        );
        let err = load(&DataSpec {
            only: Some("class=star".into()),
            ..base.clone()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("class=star") && err.contains("lens, nonlens"),
            "{err}"
        );
        let err = load(&DataSpec {
            only: Some("class".into()),
            ..base.clone()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("COLUMN=VALUE"), "{err}");
        let err = load(&DataSpec {
            only: Some("kind=lens".into()),
            ..base
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("kind") && err.contains("class"), "{err}");
    }

    #[test]
    fn npy_images_with_npy_labels_and_metadata_by_row() {
        let dir = tempfile::tempdir().unwrap();
        let x = npy(
            &dir.path().join("x.npy"),
            &Array4::<f32>::from_elem((3, 8, 8, 1), 2.0),
        );
        let y = npy(&dir.path().join("y.npy"), &Array1::from(vec![0i64, 2, 1]));
        std::fs::write(dir.path().join("m.csv"), "mag\n20\n21\n22\n").unwrap();
        let data = load(&DataSpec {
            labels: Some(y.clone()),
            metadata: Some(dir.path().join("m.csv")),
            ..spec(x.clone())
        })
        .unwrap();
        assert_eq!(data.images.dim(), (3, 1, 8, 8));
        assert_eq!(data.labels, Labels::Classes(vec![0, 2, 1]));
        assert_eq!(data.ids, vec!["0", "1", "2"]);
        assert_eq!(
            data.metadata.unwrap().column("mag").unwrap(),
            Column::Numeric(vec![Some(20.0), Some(21.0), Some(22.0)])
        );
        assert!(load(&spec(x)).unwrap_err().to_string().contains("--labels"));
        assert!(data.class_names.is_none());
    }

    #[test]
    fn images_without_labels_when_none_are_given() {
        let dir = tempfile::tempdir().unwrap();
        let x = npy(
            &dir.path().join("x.npy"),
            &Array4::<f32>::from_elem((2, 1, 4, 4), 1.0),
        );
        let read = load_images(&spec(x.clone())).unwrap();
        assert_eq!(
            (read.images.dim(), read.labels, read.ids),
            ((2, 1, 4, 4), None, vec!["0".to_string(), "1".to_string()])
        );
        let y = npy(&dir.path().join("y.npy"), &Array1::from(vec![1i64, 0]));
        let read = load_images(&DataSpec {
            labels: Some(y),
            ..spec(x)
        })
        .unwrap();
        assert_eq!(read.labels, Some(Labels::Classes(vec![1, 0])));
        let mut bad = Array4::<f32>::from_elem((3, 1, 4, 4), 1.0);
        bad[[1, 0, 2, 2]] = f32::NAN;
        let bad = npy(&dir.path().join("bad.npy"), &bad);
        let err = load_images(&spec(bad.clone())).unwrap_err().to_string();
        assert!(
            err.contains("1 of 3 images hold 1 bad pixel(s)") && err.contains("first: example 1"),
            "{err}"
        );
        // Left out, the others keep their ids and positions in the file.
        let kept = load_images(&DataSpec {
            skip_bad: true,
            ..spec(bad)
        })
        .unwrap();
        assert_eq!(
            (
                kept.images.dim(),
                kept.ids,
                kept.positions,
                kept.skipped,
                kept.total
            ),
            (
                (2, 1, 4, 4),
                vec!["0".to_string(), "2".to_string()],
                vec![0, 2],
                vec!["1".to_string()],
                3
            )
        );
    }

    #[test]
    fn text_labels_follow_the_given_class_names() {
        let dir = tempfile::tempdir().unwrap();
        let x = npy(
            &dir.path().join("x.npy"),
            &Array4::<f32>::zeros((3, 1, 2, 2)),
        );
        std::fs::write(dir.path().join("m.csv"), "class\nlens\nnonlens\nlens\n").unwrap();
        let base = DataSpec {
            metadata: Some(dir.path().join("m.csv")),
            label_column: Some("class".into()),
            ..spec(x)
        };
        assert_eq!(load(&base).unwrap().labels, Labels::Classes(vec![0, 1, 0]));
        let named = DataSpec {
            class_names: Some(vec!["nonlens".into(), "lens".into()]),
            ..base.clone()
        };
        let data = load(&named).unwrap();
        assert_eq!(
            (data.labels, data.class_names.unwrap()),
            (
                Labels::Classes(vec![1, 0, 1]),
                vec!["nonlens".to_string(), "lens".into()]
            )
        );
        let err = load(&DataSpec {
            class_names: Some(vec!["lens".into()]),
            ..base.clone()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("class 'nonlens' of the data is not among the class names given (lens)"),
            "{err}"
        );
        // A labels file as well: one of the two would be dropped unseen.
        let y = npy(&dir.path().join("y.npy"), &ndarray::arr1(&[1i64, 1, 1]));
        let err = load(&DataSpec {
            labels: Some(y),
            ..base
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("label column 'class'") && err.contains("--labels"),
            "{err}"
        );
    }

    #[test]
    fn disagreeing_counts_are_refused_with_both_files_named() {
        let dir = tempfile::tempdir().unwrap();
        let x = npy(
            &dir.path().join("x.npy"),
            &Array4::<f32>::zeros((4, 1, 5, 5)),
        );
        let y = npy(&dir.path().join("y.npy"), &Array1::from(vec![0i64, 1, 1]));
        let err = load(&DataSpec {
            labels: Some(y),
            ..spec(x.clone())
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("4 images but 3 labels") && err.contains("y.npy"),
            "{err}"
        );
        std::fs::write(dir.path().join("m.csv"), "mag\n1\n2\n").unwrap();
        let y = npy(
            &dir.path().join("y4.npy"),
            &Array1::from(vec![0i64, 1, 1, 0]),
        );
        let err = load(&DataSpec {
            labels: Some(y),
            metadata: Some(dir.path().join("m.csv")),
            ..spec(x)
        })
        .unwrap_err();
        assert!(err.to_string().contains("2 rows for 4 examples"), "{err}");
    }

    #[test]
    fn npz_with_named_arrays_and_one_hot_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.npz");
        let mut npz = NpzWriter::new(File::create(&path).unwrap());
        npz.add_array("images", &Array4::<f64>::ones((2, 3, 6, 6)))
            .unwrap();
        npz.add_array(
            "onehot",
            &Array2::from_shape_vec((2, 3), vec![0f32, 1., 0., 0., 0., 1.]).unwrap(),
        )
        .unwrap();
        npz.finish().unwrap();
        let data = load(&DataSpec {
            x: "images".into(),
            y: "onehot".into(),
            ..spec(path)
        })
        .unwrap();
        assert_eq!(data.images.dim(), (2, 3, 6, 6));
        assert_eq!(data.labels, Labels::Classes(vec![1, 2]));
        // Without labels: explain and predict need none (they refused the
        // archive for its missing 'y'); a probe still does.
        let only_x = dir.path().join("x.npz");
        let mut npz = NpzWriter::new(File::create(&only_x).unwrap());
        npz.add_array("x", &Array4::<f32>::ones((3, 1, 4, 4)))
            .unwrap();
        npz.finish().unwrap();
        let images = load_images(&spec(only_x.clone())).unwrap();
        assert_eq!((images.images.dim(), images.labels), ((3, 1, 4, 4), None));
        let err = load(&spec(only_x)).err().unwrap().to_string();
        assert!(err.contains("no array 'y'"), "{err}");
    }

    #[test]
    fn non_finite_images_are_counted_then_refused_or_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut images = Array4::<f32>::zeros((5, 1, 4, 4));
        images[[1, 0, 2, 2]] = f32::NAN;
        images[[3, 0, 0, 0]] = f32::INFINITY;
        let x = npy(&dir.path().join("x.npy"), &images);
        let y = npy(
            &dir.path().join("y.npy"),
            &Array1::from(vec![0i64, 1, 2, 3, 4]),
        );
        std::fs::write(dir.path().join("m.csv"), "z\n0\n1\n2\n3\n4\n").unwrap();
        let base = DataSpec {
            labels: Some(y),
            metadata: Some(dir.path().join("m.csv")),
            ..spec(x)
        };
        let err = load(&base).unwrap_err().to_string();
        assert!(
            err.contains("2 of 5 images hold 2 bad pixel(s)")
                && err.contains("first: example 1")
                && err.contains("--skip-bad"),
            "{err}"
        );
        let data = load(&DataSpec {
            skip_bad: true,
            ..base
        })
        .unwrap();
        assert_eq!(data.len(), 3);
        assert_eq!(data.skipped, vec!["1", "3"]);
        assert_eq!(data.labels, Labels::Classes(vec![0, 2, 4]));
        assert_eq!(
            data.metadata.unwrap().column("z").unwrap(),
            Column::Numeric(vec![Some(0.0), Some(2.0), Some(4.0)])
        );
    }

    #[test]
    fn labels_from_a_text_column_become_sorted_classes_and_are_range_checked() {
        let dir = tempfile::tempdir().unwrap();
        let x = npy(
            &dir.path().join("x.npy"),
            &Array4::<f32>::zeros((3, 1, 4, 4)),
        );
        std::fs::write(dir.path().join("m.csv"), "id,kind\n0,ring\n1,arc\n2,ring\n").unwrap();
        let data = load(&DataSpec {
            metadata: Some(dir.path().join("m.csv")),
            metadata_key: Some("id".into()),
            label_column: Some("kind".into()),
            ..spec(x)
        })
        .unwrap();
        assert_eq!(data.labels, Labels::Classes(vec![1, 0, 1]));
        assert_eq!(
            data.class_names.as_deref(),
            Some(&["arc".to_string(), "ring".to_string()][..])
        );
        let err = data.check_classes(1).unwrap_err().to_string();
        assert!(err.contains("2 classes but the model scores 1"), "{err}");
        let plain = Dataset {
            class_names: None,
            ..data
        };
        assert!(
            plain
                .check_classes(1)
                .unwrap_err()
                .to_string()
                .contains("label 1 of example 0 ('0')")
        );
        // Whole numbers read as classes may be a regressor's targets.
        let auto = plain.check_classes(1).unwrap_err().to_string();
        assert!(auto.ends_with("pass --task regress"), "{auto}");
        let classify = Dataset {
            task: Task::Classify,
            ..plain
        };
        let err = classify.check_classes(1).unwrap_err().to_string();
        assert!(!err.contains("--task"), "{err}");
    }

    #[test]
    fn one_fits_file_per_band_is_stacked_into_channels() {
        let dir = tempfile::tempdir().unwrap();
        for (band, v) in [("g", 1.0f32), ("r", 2.0)] {
            fits::tests::write(
                &dir.path().join(format!("cut_{band}.fits")),
                &[2, 3, 3],
                &[v; 18],
                false,
            );
        }
        let y = npy(&dir.path().join("y.npy"), &Array1::from(vec![1.5f64, 0.25]));
        let template = dir.path().join("cut_{band}.fits");
        let data = load(&DataSpec {
            labels: Some(y),
            bands: vec!["g".into(), "r".into()],
            ..spec(template.clone())
        })
        .unwrap();
        assert_eq!(data.images.dim(), (2, 2, 3, 3));
        assert_eq!(
            (data.images[[1, 0, 0, 0]], data.images[[1, 1, 2, 2]]),
            (1.0, 2.0)
        );
        assert_eq!(data.labels, Labels::Targets(vec![1.5, 0.25]));
        let err = load(&DataSpec {
            bands: vec!["g".into(), "z".into()],
            ..spec(template)
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("cut_z.fits"), "{err}");
    }

    /// The g file's header says r and the r file's g: the bands would come
    /// out swapped. Surveys' own filter names (HSC-G) are the band's, and a
    /// name of no band asked for is left alone.
    #[test]
    fn per_band_files_whose_headers_name_another_band_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let template = dir.path().join("cut_{band}.fits");
        let y = npy(&dir.path().join("y.npy"), &Array1::from(vec![1.5f64, 0.25]));
        let load_with = |filters: [&str; 2]| {
            for (band, filter) in ["g", "r"].into_iter().zip(filters) {
                let path = dir.path().join(format!("cut_{band}.fits"));
                let _ = std::fs::remove_file(&path);
                fits::tests::write(&path, &[2, 3, 3], &[0.5; 18], false);
                let mut file = fitsio::FitsFile::edit(&path).unwrap();
                let hdu = file.primary_hdu().unwrap();
                hdu.write_key(&mut file, "FILTER", filter).unwrap();
            }
            load(&DataSpec {
                labels: Some(y.clone()),
                bands: vec!["g".into(), "r".into()],
                ..spec(template.clone())
            })
        };
        let err = load_with(["r", "g"]).unwrap_err().to_string();
        assert!(
            err.contains("cut_g.fits")
                && err.contains("read as band 'g' but its header says FILTER = 'r'"),
            "{err}"
        );
        let err = load_with(["HSC-G", "HSC-G"]).unwrap_err().to_string();
        assert!(
            err.contains("cut_r.fits") && err.contains("band 'g'"),
            "{err}"
        );
        for fine in [
            ["HSC-G", "HSC-R"],
            ["g DECam SDSS c0001", "R"],
            ["wide", "wide"],
        ] {
            if let Err(e) = load_with(fine) {
                panic!("{fine:?}: {e}");
            }
        }
    }
}
