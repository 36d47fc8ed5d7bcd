//! An example's name, one notion used everywhere a person or a catalogue
//! meets the examples: metadata joins, results.json, the report's example
//! grids and explain.json.
//!
//! An example's id is its path under the data folder (`lens/hl000.fits.gz`),
//! or its index in an array file (`17`); its stem is the file's name without
//! its FITS, image or compression suffix (`hl000`), which is how survey
//! catalogues name objects. A FITS file may be gzip'd (`.fits.gz`) or
//! tile-compressed (`.fits.fz`, or just `.fz`); both suffixes come off.

use std::path::Path;

use serde::Serialize;

/// An example's name as outputs write it: its id and its stem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Name {
    /// The path under the data folder, or the index in an array file.
    pub id: String,
    /// The file name without FITS, image or compression suffix; what a catalogue's key matches.
    pub stem: String,
}

impl Name {
    /// The name of the example with this id.
    pub fn of(id: &str) -> Name {
        Name {
            id: id.to_string(),
            stem: stem(id).to_string(),
        }
    }
}

/// Compression suffixes that wrap a FITS file's own extension.
const COMPRESSION: [&str; 2] = [".gz", ".fz"];

/// FITS extensions, without compression.
const FITS: [&str; 3] = [".fits", ".fit", ".fts"];

/// `name` without a trailing compression suffix (case-insensitive).
fn uncompressed(name: &str) -> &str {
    let lower = name.to_ascii_lowercase();
    COMPRESSION
        .iter()
        .find(|ext| lower.ends_with(*ext))
        .map_or(name, |ext| &name[..name.len() - ext.len()])
}

/// Whether `path` names a FITS file: `.fits`, `.fit` or `.fts`, each
/// optionally gzip'd or tile-compressed (`.gz`, `.fz`), or a bare `.fz`.
pub(crate) fn is_fits(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let lower = name.to_ascii_lowercase();
    let inner = uncompressed(&lower);
    FITS.iter().any(|ext| inner.ends_with(ext)) || lower.ends_with(".fz")
}

/// The stem of an example's id: its last path component without a
/// compression suffix and then without its extension (`lens/hl000.fits.gz`
/// -> `hl000`, `a/b.png` -> `b`, `17` -> `17`).
pub fn stem(id: &str) -> &str {
    let name = id.rsplit(['/', '\\']).next().unwrap_or(id);
    let inner = uncompressed(name);
    match inner.rfind('.') {
        Some(dot) if dot > 0 => &inner[..dot],
        _ if inner.len() < name.len() => inner,
        _ => name,
    }
}

/// An example as a message names it: its position in the data (what
/// `--indices` counts), and its id when that says more (a file's path
/// under the data folder): `example 2`, `example 1 ('lens/a.fits.gz')`.
pub fn describe(position: usize, id: &str) -> String {
    if id == position.to_string() {
        format!("example {position}")
    } else {
        format!("example {position} ('{id}')")
    }
}

/// The file name of an example's id (its last path component).
pub fn file_name(id: &str) -> &str {
    id.rsplit(['/', '\\']).next().unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_drop_fits_image_and_compression_suffixes() {
        for (id, expected) in [
            ("lens/hl000.fits.gz", "hl000"),
            ("lens/hl000.fits.fz", "hl000"),
            ("hl000.FITS.GZ", "hl000"),
            ("a/hl000.fit", "hl000"),
            ("a/hl000.fts", "hl000"),
            ("a/hl000.fz", "hl000"),
            ("a/hl000.gz", "hl000"),
            ("a/obj.v2.fits", "obj.v2"),
            ("zebra/a.png", "a"),
            ("lens/obj1", "obj1"),
            ("17", "17"),
        ] {
            assert_eq!(stem(id), expected, "{id}");
        }
        assert_eq!(file_name("lens/hl000.fits.gz"), "hl000.fits.gz");
        assert_eq!(describe(4, "4"), "example 4");
        assert_eq!(describe(4, "a/b.png"), "example 4 ('a/b.png')");
        assert_eq!(
            Name::of("lens/hl000.fits.gz"),
            Name {
                id: "lens/hl000.fits.gz".into(),
                stem: "hl000".into()
            }
        );
    }

    #[test]
    fn fits_files_are_known_by_any_of_their_suffixes() {
        for name in [
            "a.fits",
            "a.fit",
            "a.FTS",
            "a.fits.gz",
            "a.fits.fz",
            "a.fit.gz",
            "a.fz",
        ] {
            assert!(is_fits(Path::new(name)), "{name}");
        }
        for name in ["a.npy", "a.png", "a.gz", "a.csv.gz", "fits"] {
            assert!(!is_fits(Path::new(name)), "{name}");
        }
    }
}
