//! Images as pictures: one band through a colour map, or several bands as a
//! colour composite.
//!
//! Bands are chosen per display channel, because astronomers order filters by
//! wavelength (g, r, i) but show the reddest as red: bands `[2, 1, 0]` put
//! band 2 (i) in red. With no choice made, the band count decides:
//! - 1 band: grey (the band in all three channels);
//! - 2 bands: band 0 red, band 1 blue, their mean green, the usual two-filter
//!   composite;
//! - 3 bands: in order, red, green, blue;
//! - more than 3: the first three, as red, green, blue.
//!
//! Colours are made either by one [`Stretch`] fitted over all three chosen
//! bands together, which keeps the bands' ratios (their colour), or by the
//! asinh composite of Lupton et al. (2004), which stretches the intensity and
//! scales the bands by a common factor, so bright cores keep their colour
//! instead of turning white.
//!
//! Row 0 of the array is the top of the picture (numpy's and matplotlib's
//! `origin="upper"`).

use image::{Rgb, RgbImage};
use ndarray::{Array2, ArrayView2, ArrayView3, Axis};

use super::colormap::{Colormap, unit_to_u8};
use super::stretch::{Scale, Stretch, percentile};
use crate::{Error, Result};

/// The bands shown as red, green and blue on every page sensie writes (the
/// probe's example grids and explain's pictures): with three bands, band 2
/// as red and band 0 as blue, because multi-band data list filters from the
/// shortest wavelength (g, r, i), and the reddest is shown red. Other band
/// counts take the default of [`Composite::bands`].
pub fn display_bands(bands: usize) -> Option<[usize; 3]> {
    (bands == 3).then_some([2, 1, 0])
}

/// The sentence that states [`display_bands`] on a page, for `bands` bands
/// (empty for one band).
pub fn band_colours(bands: usize) -> &'static str {
    match bands {
        1 => "",
        3 => " Bands 2, 1, 0 (i, r, g for g, r, i data) are shown as red, green, blue.",
        2 => " Band 0 is shown as red, band 1 as blue and their mean as green.",
        _ => " Bands 0, 1 and 2 are shown as red, green and blue.",
    }
}

/// How a multi-band image becomes a colour picture.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Composite {
    /// The bands shown as red, green and blue; `None` for the default of the
    /// band count (see the module docs).
    pub bands: Option<[usize; 3]>,
    /// How band values become colours.
    pub colouring: Colouring,
}

/// How band values become channel intensities.
#[derive(Clone, Debug, PartialEq)]
pub enum Colouring {
    /// One stretch fitted over the three chosen bands together.
    Stretch(Stretch),
    /// A stretch already fitted, e.g. over several images, so that they are
    /// shown on one scale and their differences in brightness stay visible.
    Scale(Scale),
    /// Lupton et al. (2004): intensity `I` = mean of the bands minus
    /// `minimum`, each band scaled by `asinh(Q I / stretch) / (Q I)`, in
    /// astropy's `make_lupton_rgb` normalisation; a pixel brighter than 1
    /// in any channel is scaled down as a whole, keeping its colour.
    Lupton {
        /// Asinh softening: how far the faint end is lifted. Full brightness
        /// is reached at about `sinh(asinh(0.1 Q) / 0.1) / Q` times the
        /// stretch: 7 for Q = 2 (gentle), 95 for Q = 8 (astropy's default,
        /// which lifts faint arcs and sky noise alike).
        q: f32,
        /// The intensity where the stretch turns from linear to logarithmic,
        /// in data units; `None` chooses it so that the 99.5th percentile of
        /// the intensity reaches full brightness, which needs no units.
        stretch: Option<f32>,
        /// The black level in data units (the sky, 0 after sky subtraction).
        minimum: f32,
    },
}

impl Default for Colouring {
    fn default() -> Self {
        Colouring::Stretch(Stretch::default())
    }
}

/// One band (H x W) through a stretch and a colour map.
pub fn mono(band: ArrayView2<f32>, stretch: &Stretch, map: Colormap) -> Result<RgbImage> {
    let scale = stretch.fit(band.iter().copied())?;
    let (h, w) = picture_size(band.dim())?;
    Ok(RgbImage::from_fn(w, h, |x, y| {
        Rgb(map.rgb(scale.apply(band[[y as usize, x as usize]])))
    }))
}

/// A C x H x W image as a colour picture.
pub fn composite(image: ArrayView3<f32>, how: &Composite) -> Result<RgbImage> {
    let (c, h, w) = image.dim();
    let (height, width) = picture_size((h, w))?;
    let channels = channels(image, how.bands)?;
    let [r, g, b] = [channels[0].view(), channels[1].view(), channels[2].view()];
    let scaled = |scale: Scale| -> Box<dyn Fn(usize, usize) -> [f32; 3]> {
        Box::new(move |i, j| [r[[i, j]], g[[i, j]], b[[i, j]]].map(|v| scale.apply(v)))
    };
    let pixel = match &how.colouring {
        Colouring::Stretch(stretch) => {
            scaled(stretch.fit(r.iter().chain(g.iter()).chain(b.iter()).copied())?)
        }
        Colouring::Scale(scale) => scaled(*scale),
        Colouring::Lupton {
            q,
            stretch,
            minimum,
        } => {
            let lupton = Lupton::fit([r, g, b], *q, *stretch, *minimum, c)?;
            Box::new(move |i, j| lupton.apply([r[[i, j]], g[[i, j]], b[[i, j]]]))
        }
    };
    Ok(RgbImage::from_fn(width, height, |x, y| {
        Rgb(pixel(y as usize, x as usize).map(unit_to_u8))
    }))
}

/// The three display channels (owned, as a 2-band composite makes one).
fn channels(image: ArrayView3<f32>, bands: Option<[usize; 3]>) -> Result<[Array2<f32>; 3]> {
    let c = image.dim().0;
    let band = |i: usize| image.index_axis(Axis(0), i).to_owned();
    match (bands, c) {
        (_, 0) => Err(Error::invalid("image", "it has no bands")),
        (Some(chosen), _) => {
            if let Some(bad) = chosen.iter().find(|&&i| i >= c) {
                return Err(Error::invalid(
                    format!("band {bad}"),
                    format!("the image has {c} band(s), numbered from 0"),
                ));
            }
            Ok(chosen.map(band))
        }
        (None, 1) => Ok([band(0), band(0), band(0)]),
        (None, 2) => Ok([band(0), (&band(0) + &band(1)) / 2.0, band(1)]),
        (None, _) => Ok([band(0), band(1), band(2)]),
    }
}

/// Lupton et al.'s composite with its constants resolved for one image.
struct Lupton {
    minimum: f32,
    soften: f32,
    slope: f32,
}

impl Lupton {
    /// astropy's `AsinhMapping` constants; `c` is only for error messages.
    fn fit(
        bands: [ArrayView2<f32>; 3],
        q: f32,
        stretch: Option<f32>,
        minimum: f32,
        c: usize,
    ) -> Result<Self> {
        let what = || format!("Lupton composite of a {c}-band image");
        if !(q > 0.0 && q.is_finite()) {
            return Err(Error::invalid(
                what(),
                format!("Q must be positive, not {q}"),
            ));
        }
        // astropy: slope = frac / asinh(frac Q), frac = 0.1 (in [0, 1] units).
        let slope = 0.1 / (0.1 * q).asinh();
        let stretch = match stretch {
            Some(s) if s > 0.0 && s.is_finite() => s,
            Some(s) => {
                return Err(Error::invalid(
                    what(),
                    format!("the stretch must be positive, not {s}"),
                ));
            }
            None => {
                let [r, g, b] = bands;
                let mut intensity: Vec<f32> = ndarray::Zip::from(&r)
                    .and(&g)
                    .and(&b)
                    .map_collect(|r, g, b| (r + g + b) / 3.0 - minimum)
                    .into_iter()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .collect();
                intensity.sort_unstable_by(f32::total_cmp);
                // Full brightness where asinh(Q I / s) * slope = 1.
                let bright = if intensity.is_empty() {
                    1.0
                } else {
                    percentile(&intensity, 99.5)
                };
                q * bright / (1.0 / slope).sinh()
            }
        };
        Ok(Lupton {
            minimum,
            soften: q / stretch,
            slope,
        })
    }

    fn apply(&self, rgb: [f32; 3]) -> [f32; 3] {
        let x = rgb.map(|v| if v.is_finite() { v - self.minimum } else { 0.0 });
        let intensity = (x[0] + x[1] + x[2]) / 3.0;
        if intensity <= 0.0 {
            return [0.0; 3];
        }
        let factor = (intensity * self.soften).asinh() * self.slope / intensity;
        let scaled = x.map(|v| (v * factor).max(0.0));
        let peak = scaled.iter().copied().fold(0.0, f32::max);
        if peak > 1.0 {
            scaled.map(|v| v / peak)
        } else {
            scaled
        }
    }
}

/// (height, width) as picture dimensions, refusing empty and oversized arrays.
pub(crate) fn picture_size((h, w): (usize, usize)) -> Result<(u32, u32)> {
    const MAX_SIDE: usize = 1 << 15;
    if h == 0 || w == 0 || h > MAX_SIDE || w > MAX_SIDE {
        return Err(Error::invalid(
            format!("a {h} x {w} image"),
            format!("pictures need 1 to {MAX_SIDE} pixels a side"),
        ));
    }
    Ok((h as u32, w as u32))
}

#[cfg(test)]
mod tests {
    use ndarray::Array3;

    use super::*;

    fn linear() -> Composite {
        Composite {
            bands: None,
            colouring: Colouring::Stretch(Stretch::Linear),
        }
    }

    #[test]
    fn every_page_shows_the_reddest_of_three_bands_as_red() {
        // g, r, i with light only in i (band 2): red on the probe's grids and
        // explain's pictures alike, and the page says so.
        let mut img = Array3::<f32>::zeros((3, 1, 2));
        img[[2, 0, 0]] = 1.0;
        let p = composite(
            img.view(),
            &Composite {
                bands: display_bands(3),
                ..linear()
            },
        )
        .unwrap();
        assert_eq!(p.get_pixel(0, 0).0, [255, 0, 0]);
        assert!(band_colours(3).contains("Bands 2, 1, 0") && band_colours(1).is_empty());
        assert_eq!(display_bands(1), None);
    }

    #[test]
    fn one_band_is_grey_and_mono_uses_the_map() {
        let img = Array3::from_shape_vec((1, 1, 3), vec![0.0, 5.0, 10.0]).unwrap();
        let p = composite(img.view(), &linear()).unwrap();
        assert_eq!(p.dimensions(), (3, 1));
        assert_eq!(p.get_pixel(1, 0).0, [128, 128, 128]);
        let m = mono(
            img.index_axis(Axis(0), 0),
            &Stretch::Linear,
            Colormap::Viridis,
        )
        .unwrap();
        assert_eq!(m.get_pixel(2, 0).0, Colormap::Viridis.rgb(1.0));
    }

    #[test]
    fn band_order_puts_the_chosen_bands_in_red_green_blue() {
        // Bands g, r, i as 0, 1, 2; each pixel bright in one band.
        let mut img = Array3::<f32>::zeros((3, 1, 3));
        img[[0, 0, 0]] = 1.0;
        img[[1, 0, 1]] = 1.0;
        img[[2, 0, 2]] = 1.0;
        let how = Composite {
            bands: Some([2, 1, 0]),
            ..linear()
        };
        let p = composite(img.view(), &how).unwrap();
        assert_eq!(p.get_pixel(0, 0).0, [0, 0, 255], "g shown as blue");
        assert_eq!(p.get_pixel(1, 0).0, [0, 255, 0], "r shown as green");
        assert_eq!(p.get_pixel(2, 0).0, [255, 0, 0], "i shown as red");
    }

    #[test]
    fn two_bands_make_red_and_blue_with_their_mean_green() {
        // Band 0 = [1, 0], band 1 = [0, 1]: the first pixel is red plus half green.
        let img = Array3::from_shape_vec((2, 1, 2), vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let p = composite(img.view(), &linear()).unwrap();
        assert_eq!(p.get_pixel(0, 0).0, [255, 128, 0]);
    }

    #[test]
    fn a_missing_band_is_an_error_naming_it() {
        let img = Array3::<f32>::zeros((2, 2, 2));
        let how = Composite {
            bands: Some([0, 1, 4]),
            ..linear()
        };
        let e = composite(img.view(), &how).unwrap_err().to_string();
        assert!(e.contains("band 4") && e.contains("2 band"), "{e}");
        assert!(composite(Array3::<f32>::zeros((0, 2, 2)).view(), &linear()).is_err());
        assert!(composite(Array3::<f32>::zeros((1, 0, 2)).view(), &linear()).is_err());
    }

    #[test]
    fn lupton_matches_astropy_for_a_grey_pixel_and_keeps_colour_when_saturated() {
        // astropy: value = x * asinh(Q I / s) * (0.1 / asinh(0.1 Q)) / I;
        // Q = 8, s = 5, grey pixel x = I = 2: asinh(3.2) * 0.1 / asinh(0.8)
        // = 1.8798 * 0.1 / 0.73267 = 0.25657.
        let grey = Array3::from_elem((3, 1, 1), 2.0f32);
        let how = Composite {
            bands: None,
            colouring: Colouring::Lupton {
                q: 8.0,
                stretch: Some(5.0),
                minimum: 0.0,
            },
        };
        let p = composite(grey.view(), &how).unwrap();
        assert_eq!(p.get_pixel(0, 0).0, [65, 65, 65], "0.25657 * 255 = 65.4");
        // A very bright red pixel saturates as red, not white.
        let red = Array3::from_shape_vec((3, 1, 1), vec![1e6, 2e5, 0.0]).unwrap();
        let p = composite(red.view(), &how).unwrap();
        assert_eq!(p.get_pixel(0, 0).0, [255, 51, 0]);
    }

    #[test]
    fn lupton_default_stretch_brings_the_bright_end_to_full() {
        let img = Array3::from_shape_fn((3, 20, 20), |(_, i, j)| (i * 20 + j) as f32);
        let how = Composite {
            bands: None,
            colouring: Colouring::Lupton {
                q: 8.0,
                stretch: None,
                minimum: 0.0,
            },
        };
        let p = composite(img.view(), &how).unwrap();
        assert_eq!(p.get_pixel(19, 19).0, [255, 255, 255]);
        assert_eq!(p.get_pixel(0, 0).0, [0, 0, 0]);
        let mid = p.get_pixel(0, 10).0[0];
        assert!(mid > 200, "asinh lifts the middle: {mid}");
    }
}
