//! Survey cutouts as they come (tests/data/survey, written by astropy with
//! python/make_survey_fixtures.py): gzip'd float32 cubes, 16-bit integers
//! with BSCALE/BZERO, Rice tile-compressed floats, multi-extension files with
//! SCI, MASK and WEIGHT, band orders from FILTERn/BANDn or one FILTER per
//! extension, and a catalogue keyed by object name. Every pixel is checked
//! against astropy's own reading (reference.npz).

use std::fs::File;
use std::path::PathBuf;

use ndarray::{Array3, ArrayD, Axis, Ix3};
use ndarray_npy::NpzReader;
use sensie::data::{self, Column, DataSpec, Hdu};

fn survey(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/survey")
        .join(rel)
}

fn gri() -> Vec<String> {
    ["g", "r", "i"].map(String::from).to_vec()
}

/// astropy's g, r, i planes of the example with this id.
fn reference(id: &str) -> Array3<f64> {
    let mut npz = NpzReader::new(File::open(survey("reference.npz")).unwrap()).unwrap();
    let array: ArrayD<f64> = npz.by_name(&format!("{id}.npy")).unwrap();
    array.into_dimensionality::<Ix3>().unwrap()
}

/// Every pixel of every example equals astropy's reading, to float32
/// precision (sensie keeps float32; BSCALE/BZERO and dequantisation are
/// applied in double precision by cfitsio first).
fn assert_pixels_match(data: &data::Dataset) {
    for (i, id) in data.ids.iter().enumerate() {
        let want = reference(id);
        let got = data.images.index_axis(Axis(0), i);
        assert_eq!(got.shape(), want.shape(), "{id}");
        for (g, w) in got.iter().zip(want.iter()) {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{id}: {g} against astropy's {w}"
            );
        }
    }
}

#[test]
fn compressed_and_scaled_cubes_read_as_astropy_reads_them_with_bands_from_their_headers() {
    let spec = DataSpec {
        path: survey("cutouts"),
        bands: gri(),
        ..DataSpec::default()
    };
    let data = data::load(&spec).unwrap();
    assert_eq!(
        data.ids,
        [
            "lens/hl000.fits.gz",
            "lens/hl001.fits.gz",
            "nonlens/nl000.fits",
            "nonlens/nl001.fits.fz"
        ]
    );
    assert_eq!(data.images.dim(), (4, 3, 8, 8));
    // hl001 stores its bands as i, g, r: the reference is astropy's planes put back in g, r, i.
    assert_pixels_match(&data);
    // The 16-bit file really is scaled: its values are not integers.
    assert!(
        data.images
            .index_axis(Axis(0), 2)
            .iter()
            .any(|v| v.fract() != 0.0)
    );

    // Bands in another order come out in that order.
    let irg = data::load(&DataSpec {
        bands: ["i", "r", "g"].map(String::from).to_vec(),
        ..spec.clone()
    })
    .unwrap();
    assert_eq!(
        irg.images.index_axis(Axis(1), 0),
        data.images.index_axis(Axis(1), 2)
    );
    assert_eq!(
        irg.images.index_axis(Axis(1), 2),
        data.images.index_axis(Axis(1), 0)
    );
    // Two bands make a two-band image.
    let gi = data::load(&DataSpec {
        bands: ["g", "i"].map(String::from).to_vec(),
        ..spec.clone()
    })
    .unwrap();
    assert_eq!(gi.images.dim(), (4, 2, 8, 8));
}

#[test]
fn a_missing_band_names_the_file_and_the_band() {
    let spec = DataSpec {
        path: survey("cutouts"),
        bands: ["g", "r", "z"].map(String::from).to_vec(),
        ..DataSpec::default()
    };
    let err = data::load(&spec).unwrap_err().to_string();
    assert!(
        err.contains("hl000.fits.gz") && err.contains("no band 'z'") && err.contains("g, r, i"),
        "{err}"
    );
}

#[test]
fn cubes_in_different_band_orders_are_refused_without_bands() {
    let err = data::load(&DataSpec {
        path: survey("cutouts"),
        ..DataSpec::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("hl001.fits.gz") && err.contains("i, g, r") && err.contains("--bands g,r,i"),
        "{err}"
    );
}

#[test]
fn a_catalogue_keyed_by_object_name_joins_compressed_files() {
    let spec = DataSpec {
        path: survey("cutouts"),
        bands: gri(),
        metadata: Some(survey("catalogue.csv")),
        metadata_key: Some("object".into()),
        ..DataSpec::default()
    };
    let data = data::load(&spec).unwrap();
    // catalogue.csv: hl000 1.0, hl001 1.1, nl000 1.2, nl001 1.3 (shuffled, with an extra row).
    let radius = data.metadata.unwrap().column("einstein_radius").unwrap();
    assert_eq!(
        radius,
        Column::Numeric(vec![Some(1.0), Some(1.1), Some(1.2), Some(1.3)])
    );
    assert_eq!(data::name::stem(&data.ids[3]), "nl001");
}

#[test]
fn multi_extension_files_by_extname_with_masks_and_weights() {
    let spec = DataSpec {
        path: survey("mef"),
        bands: gri(),
        hdu: Some(Hdu::Name("SCI".into())),
        ..DataSpec::default()
    };
    // m000 holds a SCI cube with FILTER1..3; m001 three SCI extensions, one FILTER each, stored r, g, i.
    let data = data::load(&spec).unwrap();
    assert_eq!(
        data.ids,
        [
            "lens/m000.fits.gz",
            "lens/m001.fits.gz",
            "nonlens/m002.fits.gz",
            "nonlens/m003.fits.gz"
        ]
    );
    assert_pixels_match(&data);

    // m002 has two masked pixels (in each of 3 bands: 6), m003 one of zero weight (3).
    let masked = DataSpec {
        mask_hdu: Some(Hdu::Name("MASK".into())),
        weight_hdu: Some(Hdu::Name("WEIGHT".into())),
        ..spec.clone()
    };
    let err = data::load(&masked).unwrap_err().to_string();
    assert!(
        err.contains("2 of 4 images hold 9 bad pixel(s)")
            && err.contains("nonlens/m002.fits.gz")
            && err.contains("--skip-bad"),
        "{err}"
    );
    let kept = data::load(&DataSpec {
        skip_bad: true,
        ..masked.clone()
    })
    .unwrap();
    assert_eq!(kept.ids, ["lens/m000.fits.gz", "lens/m001.fits.gz"]);
    assert_eq!(
        kept.skipped,
        ["nonlens/m002.fits.gz", "nonlens/m003.fits.gz"]
    );
    assert_pixels_match(&kept);
    // The mask alone marks only m002.
    let mask_only = data::load(&DataSpec {
        weight_hdu: None,
        skip_bad: true,
        ..masked
    })
    .unwrap();
    assert_eq!(mask_only.skipped, ["nonlens/m002.fits.gz"]);

    // By index: HDU 1 is the SCI cube of m002, one example once its bands are picked.
    let by_index = DataSpec {
        path: survey("mef/nonlens/m002.fits.gz"),
        hdu: Some(Hdu::Index(1)),
        ..spec
    };
    let images = data::load_images(&by_index).unwrap().images;
    assert_eq!(images.dim(), (1, 3, 8, 8));
    let want = reference("nonlens/m002.fits.gz");
    assert!(
        images
            .index_axis(Axis(0), 0)
            .iter()
            .zip(want.iter())
            .all(|(g, w)| (f64::from(*g) - w).abs() <= 1e-6)
    );
}

#[test]
fn a_missing_extension_lists_the_files_hdus() {
    let spec = DataSpec {
        path: survey("mef"),
        hdu: Some(Hdu::Name("DATA".into())),
        ..DataSpec::default()
    };
    let err = data::load(&spec).unwrap_err().to_string();
    assert!(
        err.contains("m000.fits.gz")
            && err.contains("no science image HDU 'DATA'")
            && err.contains("1 SCI (image)"),
        "{err}"
    );
    let spec = DataSpec {
        path: survey("mef"),
        mask_hdu: Some(Hdu::Index(9)),
        ..DataSpec::default()
    };
    let err = data::load(&spec).unwrap_err().to_string();
    assert!(err.contains("no mask image HDU 9"), "{err}");
}

#[test]
fn bands_of_an_array_file_without_band_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    ndarray_npy::write_npy(&x, &ndarray::Array4::<f32>::zeros((2, 3, 4, 4))).unwrap();
    let err = data::load_images(&DataSpec {
        path: x,
        bands: gri(),
        ..DataSpec::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("x.npy") && err.contains("no band 'g'"),
        "{err}"
    );
}

#[test]
fn hdus_parse_as_index_or_extname_from_flags_and_toml() {
    assert_eq!("1".parse::<Hdu>().unwrap(), Hdu::Index(1));
    assert_eq!("SCI".parse::<Hdu>().unwrap(), Hdu::Name("SCI".into()));
    let spec: DataSpec = toml::from_str(
        "path = \"x\"\nhdu = \"SCI\"\nmask_hdu = 2\nweight_hdu = \"WHT\"\nbands = [\"g\"]",
    )
    .unwrap();
    assert_eq!(
        spec.extensions(),
        data::Extensions {
            science: Some(Hdu::Name("SCI".into())),
            mask: Some(Hdu::Index(2)),
            weight: Some(Hdu::Name("WHT".into()))
        }
    );
}

/// A FITS file given as the data, not in a class folder: a cube whose header
/// names its planes' bands is one example of those bands (the README's
/// "FITS cubes (bands x H x W)"), read as a class folder reads it; it was
/// read as three one-band examples, which a one-band model took in silence.
/// A 2-D image is one example (it was refused as not N x H x W), and a cube
/// whose header names no bands is still a stack of N x H x W examples.
#[test]
fn a_fits_file_given_as_the_data_is_one_image_or_cube_when_its_header_says_so() {
    for (id, bands) in [
        ("lens/hl000.fits.gz", Vec::new()),
        ("lens/hl001.fits.gz", gri()),
        ("nonlens/nl000.fits", Vec::new()),
        ("nonlens/nl001.fits.fz", Vec::new()),
    ] {
        let images = data::load_images(&DataSpec {
            path: survey("cutouts").join(id),
            bands,
            ..DataSpec::default()
        })
        .unwrap();
        assert_eq!(images.images.dim(), (1, 3, 8, 8), "{id}");
        let want = reference(id);
        for (g, w) in images.images.iter().zip(want.iter()) {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{id}: {g} against astropy's {w}"
            );
        }
    }
    // m001's first SCI extension is its r plane, 2-D.
    let plane = data::load_images(&DataSpec {
        path: survey("mef/lens/m001.fits.gz"),
        hdu: Some(Hdu::Index(1)),
        ..DataSpec::default()
    })
    .unwrap();
    assert_eq!(plane.images.dim(), (1, 1, 8, 8));
    let r = reference("lens/m001.fits.gz");
    for (g, w) in plane.images.iter().zip(r.index_axis(Axis(0), 1).iter()) {
        assert!((f64::from(*g) - w).abs() <= 1e-6 * w.abs().max(1.0));
    }
    let stack = data::load_images(&DataSpec {
        path: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/probe/fits/arange.fits"),
        ..DataSpec::default()
    })
    .unwrap();
    assert_eq!(stack.images.dim(), (7, 1, 10, 11));
}
