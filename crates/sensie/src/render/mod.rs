//! Arrays as pictures: colour maps, stretches, colour composites, attribution
//! overlays and image grids, written as PNG.
//!
//! Inputs are `ndarray` views of f32 in sensie's raw layout (C x H x W, or
//! H x W for one band or one map); outputs are [`image::RgbImage`]s, so the
//! pieces compose: a composite is the base of an overlay, overlays are the
//! tiles of a grid, and any of them becomes PNG bytes for a file or a report.
//! Everything is computed from the data given: no state is kept between
//! calls.

mod colormap;
mod composite;
mod grid;
mod heatmap;
mod stretch;
mod viridis;

use std::path::Path;

pub use colormap::{Colormap, Orientation};
pub use composite::{Colouring, Composite, composite, mono};
pub(crate) use composite::{band_colours, display_bands};
#[cfg(test)]
pub(crate) use grid::MAX_SIDE;
pub use grid::{Grid, LabelledGrid, upscale};
pub(crate) use grid::{Labels, labelled};
pub use heatmap::{HeatScale, Overlay, Resample, heatmap, heatmaps, overlay, resize};
pub use image::RgbImage;
pub use stretch::{Scale, Stretch};

use crate::{Error, Result};

/// Loads the system's fonts for PNG charts and labelled grids now, once per
/// process, so that a report drawn later does not wait for them: `sensie
/// probe` calls it on a thread of its own while the run starts. Later calls
/// return at once.
pub fn load_fonts() {
    // Without fonts the report falls back to SVG charts and says so then.
    let _ = crate::plot::Rasteriser::system();
}

/// `image` as PNG bytes.
pub(crate) fn encode_png(image: &RgbImage) -> Result<Vec<u8>> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|e| {
            Error::invalid(
                format!("a {} x {} picture", image.width(), image.height()),
                e.to_string(),
            )
        })?;
    Ok(bytes.into_inner())
}

/// `image` written to `path` as PNG.
pub(crate) fn write_png(image: &RgbImage, path: &Path) -> Result<()> {
    crate::output::write_atomic(path, &encode_png(image)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_decodes_back_to_the_same_pixels() {
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8, y as u8, 200]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.png");
        write_png(&img, &path).unwrap();
        let back = image::open(&path).unwrap().to_rgb8();
        assert_eq!(back, img);
        let e = write_png(&img, &dir.path().join("missing/p.png"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
