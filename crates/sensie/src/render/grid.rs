//! Many small pictures tiled into one: examples x perturbation levels, or the
//! channels of a feature map.
//!
//! Tiles are enlarged by whole factors with nearest-neighbour sampling, so a
//! 28 x 28 digit becomes legible without inventing detail, and every source
//! pixel stays a crisp block. Labels are left to the page around the picture
//! (the HTML report), which keeps fonts out of the pixels.

use image::{Rgb, RgbImage, imageops};

use crate::{Error, Result};

/// How tiles are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Tiles per row; rows follow from the tile count.
    pub columns: usize,
    /// Pixels between tiles and around the edge.
    pub padding: u32,
    /// Whole-number enlargement of every tile (1 for none).
    pub upscale: u32,
    /// Colour of the padding and of cells without a tile.
    pub background: [u8; 3],
}

impl Default for Grid {
    fn default() -> Self {
        Grid {
            columns: 8,
            padding: 2,
            upscale: 1,
            background: [255, 255, 255],
        }
    }
}

/// Largest picture made, in pixels (a 16384 x 16384 RGB image is 768 MiB).
const MAX_PIXELS: u64 = 1 << 28;

/// The tiles in row-major order. Tiles may differ in size: each cell is as
/// large as the largest tile, with smaller tiles centred in it.
pub fn grid(tiles: &[RgbImage], layout: &Grid) -> Result<RgbImage> {
    if tiles.is_empty() {
        return Err(Error::invalid("image grid", "there are no tiles"));
    }
    if layout.columns == 0 || layout.upscale == 0 {
        return Err(Error::invalid(
            "image grid",
            "columns and upscale must be at least 1",
        ));
    }
    let cell_w = tiles
        .iter()
        .map(|t| u64::from(t.width()))
        .max()
        .unwrap_or(0)
        * u64::from(layout.upscale);
    let cell_h = tiles
        .iter()
        .map(|t| u64::from(t.height()))
        .max()
        .unwrap_or(0)
        * u64::from(layout.upscale);
    let columns = layout.columns.min(tiles.len()) as u64;
    let rows = tiles.len().div_ceil(layout.columns) as u64;
    let pad = u64::from(layout.padding);
    let width = columns * (cell_w + pad) + pad;
    let height = rows * (cell_h + pad) + pad;
    if width * height > MAX_PIXELS {
        return Err(Error::invalid(
            "image grid",
            format!(
                "{width} x {height} pixels is too large; use fewer tiles, columns or a smaller upscale"
            ),
        ));
    }
    let mut out = RgbImage::from_pixel(width as u32, height as u32, Rgb(layout.background));
    for (k, tile) in tiles.iter().enumerate() {
        let big = upscale(tile, layout.upscale)?;
        let (col, row) = ((k as u64) % columns, (k as u64) / columns);
        let x = pad + col * (cell_w + pad) + (cell_w - u64::from(big.width())) / 2;
        let y = pad + row * (cell_h + pad) + (cell_h - u64::from(big.height())) / 2;
        imageops::replace(&mut out, &big, x as i64, y as i64);
    }
    Ok(out)
}

/// `image` enlarged `factor` times, each pixel becoming a square block.
pub fn upscale(image: &RgbImage, factor: u32) -> Result<RgbImage> {
    let (w, h) = image.dimensions();
    let (big_w, big_h) = (
        u64::from(w) * u64::from(factor),
        u64::from(h) * u64::from(factor),
    );
    if factor == 0 || big_w * big_h > MAX_PIXELS {
        return Err(Error::invalid(
            format!("enlarging a {w} x {h} image {factor} times"),
            "the factor must be at least 1 and the result at most 2^28 pixels",
        ));
    }
    Ok(RgbImage::from_fn(big_w as u32, big_h as u32, |x, y| {
        *image.get_pixel(x / factor, y / factor)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(k: u8, w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb([k, x as u8, y as u8]))
    }

    #[test]
    fn a_pixel_of_a_tile_lands_where_the_layout_says() {
        let tiles: Vec<RgbImage> = (0..5).map(|k| tile(k, 3, 2)).collect();
        let layout = Grid {
            columns: 3,
            padding: 1,
            upscale: 2,
            background: [9, 9, 9],
        };
        let g = grid(&tiles, &layout).unwrap();
        // Cells are 6 x 4 after upscaling: 3 * (6 + 1) + 1 by 2 * (4 + 1) + 1.
        assert_eq!(g.dimensions(), (22, 11));
        // Tile 4 is row 1, column 1; its source pixel (2, 1) covers output
        // (1 + 7 + 4 .. +6, 1 + 5 + 2 .. +4).
        assert_eq!(
            g.get_pixel(1 + 7 + 4, 1 + 5 + 2).0,
            tiles[4].get_pixel(2, 1).0
        );
        assert_eq!(
            g.get_pixel(1 + 7 + 5, 1 + 5 + 3).0,
            tiles[4].get_pixel(2, 1).0
        );
        assert_eq!(g.get_pixel(0, 0).0, [9, 9, 9], "padding");
        assert_eq!(
            g.get_pixel(1 + 14, 1 + 5).0,
            [9, 9, 9],
            "cell without a tile"
        );
    }

    #[test]
    fn smaller_tiles_are_centred_in_their_cell() {
        let g = grid(
            &[tile(1, 4, 4), tile(2, 2, 2)],
            &Grid {
                columns: 2,
                padding: 0,
                ..Grid::default()
            },
        )
        .unwrap();
        assert_eq!(g.dimensions(), (8, 4));
        assert_eq!(g.get_pixel(5, 1).0, [2, 0, 0]);
        assert_eq!(g.get_pixel(4, 0).0, [255, 255, 255]);
    }

    #[test]
    fn upscale_makes_blocks_and_bad_layouts_are_refused() {
        let big = upscale(&tile(0, 2, 1), 3).unwrap();
        assert_eq!(big.dimensions(), (6, 3));
        assert_eq!(big.get_pixel(5, 2).0, [0, 1, 0]);
        assert!(upscale(&tile(0, 2, 1), 0).is_err());
        assert!(grid(&[], &Grid::default()).is_err());
        assert!(
            grid(
                &[tile(0, 1, 1)],
                &Grid {
                    columns: 0,
                    ..Grid::default()
                }
            )
            .is_err()
        );
        assert!(
            grid(
                &[tile(0, 100, 100)],
                &Grid {
                    upscale: 1000,
                    ..Grid::default()
                }
            )
            .is_err()
        );
    }
}
