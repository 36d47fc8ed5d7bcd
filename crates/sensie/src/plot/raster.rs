//! PNG charts, rasterised from the same SVG the vector charts are.
//!
//! Why this route: one drawing code path gives identical SVG and PNG figures,
//! and resvg (with tiny-skia and fontdb) is pure Rust, so it builds offline
//! with no system libraries. plotters' bitmap backend was the alternative,
//! but its text needs fontconfig and freetype (or fonts registered in global
//! state) and would have meant drawing every chart twice.
//!
//! Text still needs a font file. [`Rasteriser::system`] loads the system's
//! fonts once per process (DejaVu Sans from Debian's `fonts-dejavu-core`,
//! which `scripts/setup.sh` installs) for every chart and labelled grid;
//! with none it returns an error that says so, and callers fall back to the
//! SVG, which needs no font until a reader's browser draws it.

use std::sync::{Arc, OnceLock};

use image::RgbImage;
use resvg::{tiny_skia, usvg};

use crate::{Error, Result};

/// Turns SVG documents into pictures; holds the font database, so make one
/// and reuse it.
pub struct Rasteriser {
    options: usvg::Options<'static>,
}

impl Rasteriser {
    /// The rasteriser with the system's fonts, made on first use and shared
    /// by every chart and grid of the process: loading the fonts opens every
    /// font file installed (2-3 ms, once per report and grid before).
    pub fn system() -> Result<&'static Rasteriser> {
        static SYSTEM: OnceLock<std::result::Result<Rasteriser, String>> = OnceLock::new();
        SYSTEM
            .get_or_init(|| {
                let mut fonts = usvg::fontdb::Database::new();
                fonts.load_system_fonts();
                Rasteriser::with_fonts(
                    fonts,
                    "no fonts were found on this system (install fonts-dejavu-core)",
                )
            })
            .as_ref()
            .map_err(|why| Error::invalid("PNG charts", why.clone()))
    }

    /// A rasteriser that draws all text with the font in `path` (TTF or OTF).
    #[cfg(test)]
    pub fn with_font_file(path: &std::path::Path) -> Result<Self> {
        let mut fonts = usvg::fontdb::Database::new();
        fonts.load_font_file(path).map_err(|e| Error::io(path, e))?;
        Self::with_fonts(fonts, &format!("{} holds no usable font", path.display()))
            .map_err(|why| Error::invalid("PNG charts", why))
    }

    /// A rasteriser drawing text with `fonts` (DejaVu Sans when there);
    /// with no font at all, why not.
    fn with_fonts(
        mut fonts: usvg::fontdb::Database,
        missing: &str,
    ) -> std::result::Result<Self, String> {
        let family = |name: &str| {
            fonts
                .faces()
                .any(|f| f.families.iter().any(|(n, _)| n == name))
        };
        let preferred = if family("DejaVu Sans") {
            Some("DejaVu Sans".to_string())
        } else {
            fonts
                .faces()
                .next()
                .and_then(|f| f.families.first())
                .map(|(n, _)| n.clone())
        };
        let Some(preferred) = preferred else {
            return Err(format!("{missing}; SVG charts need no font"));
        };
        hold_in_memory(&mut fonts, &preferred);
        fonts.set_sans_serif_family(preferred.clone());
        let options = usvg::Options {
            font_family: preferred,
            fontdb: Arc::new(fonts),
            ..usvg::Options::default()
        };
        Ok(Rasteriser { options })
    }

    /// `svg` drawn at `scale` times its size (2 for print-quality PNGs from
    /// sensie's charts), on white.
    pub fn rgb(&self, svg: &str, scale: f32) -> Result<RgbImage> {
        let tree = usvg::Tree::from_str(svg, &self.options)
            .map_err(|e| Error::invalid("SVG to rasterise", e.to_string()))?;
        let size = tree.size().to_int_size().scale_by(scale);
        let pixmap = size.and_then(|s| tiny_skia::Pixmap::new(s.width(), s.height()));
        let Some(mut pixmap) =
            pixmap.filter(|p| u64::from(p.width()) * u64::from(p.height()) <= 1 << 28)
        else {
            return Err(Error::invalid(
                "SVG to rasterise",
                format!(
                    "a {} x {} document at scale {scale} gives no picture of a usable size",
                    tree.size().width(),
                    tree.size().height()
                ),
            ));
        };
        pixmap.fill(tiny_skia::Color::WHITE);
        resvg::render(
            &tree,
            tiny_skia::Transform::from_scale(scale, scale),
            &mut pixmap.as_mut(),
        );
        // Opaque white under everything: premultiplied equals straight RGB,
        // packed in place (pixel i moves from 4i to 3i, never ahead of where
        // it is read) instead of into a second picture's worth of memory.
        let (width, height) = (pixmap.width(), pixmap.height());
        let mut rgb = pixmap.take();
        for i in 0..rgb.len() / 4 {
            rgb.copy_within(4 * i..4 * i + 3, 3 * i);
        }
        rgb.truncate(rgb.len() / 4 * 3);
        RgbImage::from_raw(width, height, rgb).ok_or_else(|| {
            Error::invalid("SVG to rasterise", "the rendered buffer has the wrong size")
        })
    }

    /// Draws `svg` (of `image`'s size, e.g. text on no background) over `image`.
    pub(crate) fn draw_on(&self, svg: &str, image: &mut RgbImage) -> Result<()> {
        let tree = usvg::Tree::from_str(svg, &self.options)
            .map_err(|e| Error::invalid("SVG to rasterise", e.to_string()))?;
        let (w, h) = image.dimensions();
        let mut pixmap = tiny_skia::Pixmap::new(w, h)
            .ok_or_else(|| Error::invalid("SVG to rasterise", format!("no {w} x {h} picture")))?;
        // Opaque pixels: premultiplied equals straight RGB, both ways.
        for (to, from) in pixmap.data_mut().chunks_exact_mut(4).zip(image.pixels()) {
            to[..3].copy_from_slice(&from.0);
            to[3] = 255;
        }
        resvg::render(
            &tree,
            tiny_skia::Transform::identity(),
            &mut pixmap.as_mut(),
        );
        for (from, to) in pixmap.data().chunks_exact(4).zip(image.pixels_mut()) {
            to.0.copy_from_slice(&from[..3]);
        }
        Ok(())
    }

    /// `svg` as PNG bytes at `scale` times its size.
    pub fn png(&self, svg: &str, scale: f32) -> Result<Vec<u8>> {
        crate::render::encode_png(&self.rgb(svg, scale)?)
    }
}

/// Reads the files of `family`'s upright faces of normal width (those the
/// charts draw with) into memory once. usvg asks for a face's data for every
/// piece of text, and a face that stays a file is mapped and unmapped each
/// time: on a chart's 15 labels that was about a third of turning its SVG
/// into a picture. A file that cannot be read stays as it was (usvg then
/// skips it as it would have).
fn hold_in_memory(fonts: &mut usvg::fontdb::Database, family: &str) {
    use usvg::fontdb::{Source, Stretch, Style};
    let mut files: Vec<std::path::PathBuf> = fonts
        .faces()
        .filter(|f| f.families.iter().any(|(name, _)| name == family))
        .filter(|f| f.style == Style::Normal && f.stretch == Stretch::Normal)
        .filter_map(|f| match &f.source {
            Source::File(path) => Some(path.clone()),
            _ => None,
        })
        .collect();
    files.sort();
    files.dedup();
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let faces: Vec<_> = fonts
            .faces()
            .filter(|f| matches!(&f.source, Source::File(p) if *p == path))
            .map(|f| f.id)
            .collect();
        for id in faces {
            fonts.remove_face(id);
        }
        fonts.load_font_data(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::line::tests::probe_chart;

    #[test]
    fn a_chart_rasterises_at_its_size_times_the_scale_with_text_drawn() {
        let Ok(raster) = Rasteriser::system() else {
            // No system font: the error path is what can be checked here.
            let e = Rasteriser::system().err().unwrap().to_string();
            assert!(e.contains("fonts-dejavu-core"), "{e}");
            return;
        };
        let chart = probe_chart();
        let png = raster.png(&chart.svg(), 2.0).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (1280, 800));
        // The title is drawn: dark pixels in the top band, centred.
        let dark_in_title = (0..1280)
            .flat_map(|x| (10..50).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 100)
            .count();
        assert!(
            dark_in_title > 200,
            "title text rendered ({dark_in_title} dark pixels)"
        );
        assert_eq!(img.get_pixel(2, 2).0, [255, 255, 255]);
    }

    #[test]
    fn bad_svg_and_missing_font_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let e = Rasteriser::with_font_file(&dir.path().join("none.ttf"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("none.ttf"), "{e}");
        let empty = dir.path().join("empty.ttf");
        std::fs::write(&empty, b"").unwrap();
        let e = Rasteriser::with_font_file(&empty)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("no usable font"), "{e}");
        if let Ok(raster) = Rasteriser::system() {
            assert!(raster.rgb("<svg", 1.0).is_err());
            assert!(raster.rgb(&probe_chart().svg(), 0.0).is_err());
        }
    }
}
