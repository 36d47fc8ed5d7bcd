//! Colour maps: a value in [0, 1] to an sRGB colour.
//!
//! Three maps cover what sensie shows. Viridis for unsigned data (scores,
//! attribution magnitudes): it is perceptually uniform and reads correctly in
//! grey print and for colour-blind readers. Grey for single-band images,
//! where any hue would be invented. A diverging map for signed data
//! (gradients, occlusion differences): ColorBrewer's RdBu, reversed so that
//! negative is blue and positive red, with its near-white centre at 0.5, so
//! that "no effect" looks neutral once [`crate::render::HeatScale`] puts 0
//! there.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::viridis::VIRIDIS;

/// ColorBrewer RdBu (11 classes), from most negative (dark blue) to most
/// positive (dark red); entry 5 is the neutral centre.
const DIVERGING: [[f32; 3]; 11] = [
    hex(0x05, 0x30, 0x61),
    hex(0x21, 0x66, 0xac),
    hex(0x43, 0x93, 0xc3),
    hex(0x92, 0xc5, 0xde),
    hex(0xd1, 0xe5, 0xf0),
    hex(0xf7, 0xf7, 0xf7),
    hex(0xfd, 0xdb, 0xc7),
    hex(0xf4, 0xa5, 0x82),
    hex(0xd6, 0x60, 0x4d),
    hex(0xb2, 0x18, 0x2b),
    hex(0x67, 0x00, 0x1f),
];

const fn hex(r: u8, g: u8, b: u8) -> [f32; 3] {
    [r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0]
}

/// A colour map, named in configuration files as `viridis`, `grey` or
/// `diverging` (alias `rdbu`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colormap {
    /// Dark blue through green to yellow: unsigned values.
    Viridis,
    /// Black to white.
    #[serde(alias = "gray")]
    Grey,
    /// Blue through white to red, white at the middle: signed values.
    #[serde(alias = "rdbu")]
    Diverging,
}

/// Which way a colour bar runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    /// Low values on the left.
    Horizontal,
    /// Low values at the bottom, as beside a figure.
    Vertical,
}

impl Colormap {
    /// The colour of `t`, clamped to [0, 1]; a NaN gets the colour of 0.
    pub fn rgb(self, t: f32) -> [u8; 3] {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let table: &[[f32; 3]] = match self {
            Colormap::Viridis => &VIRIDIS,
            Colormap::Diverging => &DIVERGING,
            Colormap::Grey => return [unit_to_u8(t); 3],
        };
        interpolate(table, t).map(unit_to_u8)
    }

    /// A strip of the map, `length` pixels along the value axis and
    /// `thickness` across, to sit beside a heat map.
    pub fn bar(self, length: u32, thickness: u32, orientation: Orientation) -> RgbImage {
        let position = |i: u32| {
            if length > 1 {
                i as f32 / (length - 1) as f32
            } else {
                0.5
            }
        };
        match orientation {
            Orientation::Horizontal => {
                RgbImage::from_fn(length, thickness, |x, _| image::Rgb(self.rgb(position(x))))
            }
            Orientation::Vertical => RgbImage::from_fn(thickness, length, |_, y| {
                image::Rgb(self.rgb(position(length - 1 - y)))
            }),
        }
    }
}

/// Linear interpolation in a table of evenly spaced colours, `t` in [0, 1].
fn interpolate(table: &[[f32; 3]], t: f32) -> [f32; 3] {
    let last = table.len() - 1;
    let position = t * last as f32;
    let i = (position.floor() as usize).min(last);
    let j = (i + 1).min(last);
    let f = position - i as f32;
    std::array::from_fn(|k| table[i][k] + (table[j][k] - table[i][k]) * f)
}

/// A value in [0, 1] as an 8-bit channel, rounded to nearest.
pub(crate) fn unit_to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_endpoints_are_the_published_values() {
        // matplotlib's first and last entries: (0.267004, 0.004874, 0.329415)
        // and (0.993248, 0.906157, 0.143936), i.e. #440154 and #fde725.
        assert_eq!(VIRIDIS[0], [0.267004, 0.004874, 0.329415]);
        assert_eq!(VIRIDIS[255], [0.993248, 0.906157, 0.143936]);
        assert_eq!(Colormap::Viridis.rgb(0.0), [0x44, 0x01, 0x54]);
        assert_eq!(Colormap::Viridis.rgb(1.0), [0xfd, 0xe7, 0x25]);
    }

    #[test]
    fn viridis_midpoint_interpolates_entries_127_and_128() {
        // t = 0.5 sits at 127.5: halfway between the two published entries.
        let [r, g, b] = Colormap::Viridis.rgb(0.5);
        let expect = |k: usize| unit_to_u8((VIRIDIS[127][k] + VIRIDIS[128][k]) / 2.0);
        assert_eq!([r, g, b], [expect(0), expect(1), expect(2)]);
    }

    #[test]
    fn diverging_maps_the_centre_to_neutral_and_ends_to_blue_and_red() {
        assert_eq!(Colormap::Diverging.rgb(0.5), [0xf7, 0xf7, 0xf7]);
        let [r, _, b] = Colormap::Diverging.rgb(0.0);
        assert!(b > r, "negative end is blue");
        let [r, _, b] = Colormap::Diverging.rgb(1.0);
        assert!(r > b, "positive end is red");
    }

    #[test]
    fn grey_is_linear_and_values_are_clamped() {
        assert_eq!(Colormap::Grey.rgb(0.0), [0, 0, 0]);
        assert_eq!(Colormap::Grey.rgb(0.5), [128, 128, 128]);
        assert_eq!(Colormap::Grey.rgb(7.0), [255, 255, 255]);
        assert_eq!(Colormap::Grey.rgb(f32::NAN), [0, 0, 0]);
    }

    #[test]
    fn bar_runs_from_low_to_high() {
        let h = Colormap::Viridis.bar(10, 3, Orientation::Horizontal);
        assert_eq!(h.dimensions(), (10, 3));
        assert_eq!(h.get_pixel(0, 2).0, Colormap::Viridis.rgb(0.0));
        assert_eq!(h.get_pixel(9, 0).0, Colormap::Viridis.rgb(1.0));
        let v = Colormap::Grey.bar(5, 2, Orientation::Vertical);
        assert_eq!(v.dimensions(), (2, 5));
        assert_eq!(v.get_pixel(1, 0).0, [255, 255, 255], "top is high");
        assert_eq!(v.get_pixel(0, 4).0, [0, 0, 0], "bottom is low");
    }

    #[test]
    fn names_parse_from_configuration() {
        let m: Colormap = serde_json::from_str("\"rdbu\"").unwrap();
        assert_eq!(m, Colormap::Diverging);
        let m: Colormap = serde_json::from_str("\"viridis\"").unwrap();
        assert_eq!(m, Colormap::Viridis);
    }
}
