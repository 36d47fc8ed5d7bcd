//! Many small pictures tiled into one: sensie's one tile grid, used by the
//! probe report's example grids (examples x perturbation levels, groups x
//! examples), explain's pictures (input | map | map over input) and every
//! visualisation (kernels, feature maps, optimised inputs).
//!
//! Tiles are enlarged by whole factors with nearest-neighbour sampling, so a
//! 28 x 28 digit becomes legible without inventing detail, and every source
//! pixel stays a crisp block. [`labelled`] draws a heading over each column
//! and a label left of each row into the picture itself, so a PNG copied out
//! of a report still says what its rows and columns are: the text is an SVG
//! drawn over the pixels by the charts' [`Rasteriser`] (resvg and the
//! system's DejaVu Sans), and where no font is installed the grid comes
//! without its bands, as the PNG charts fall back to SVG.

use image::{Rgb, RgbImage};

use crate::plot::Rasteriser;
use crate::plot::svg::{Anchor, Font, Svg, text_width};
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
    let factor = u64::from(layout.upscale);
    for (k, tile) in tiles.iter().enumerate() {
        let (col, row) = ((k as u64) % columns, (k as u64) / columns);
        let x = pad + col * (cell_w + pad) + (cell_w - u64::from(tile.width()) * factor) / 2;
        let y = pad + row * (cell_h + pad) + (cell_h - u64::from(tile.height()) * factor) / 2;
        paste_enlarged(&mut out, tile, layout.upscale, (x as u32, y as u32));
    }
    Ok(out)
}

/// Copies `tile` into `out` with its top-left corner at (x, y), each pixel
/// enlarged to a `factor` x `factor` block: a row is enlarged once and
/// copied `factor` times. (Enlarging pixel by pixel through `get_pixel` and
/// pasting through `imageops::replace` took 7 ms of a 19-level MNIST
/// report.) The enlarged tile must fit inside `out`.
fn paste_enlarged(out: &mut RgbImage, tile: &RgbImage, factor: u32, (x, y): (u32, u32)) {
    let (width, factor) = (out.width() as usize, factor as usize);
    let (x, y) = (x as usize, y as usize);
    let tile_row = tile.width() as usize * 3;
    if tile_row == 0 {
        return;
    }
    let row_bytes = tile_row * factor;
    let mut row = Vec::with_capacity(row_bytes);
    let buffer: &mut [u8] = out;
    for (ty, source) in tile.as_raw().chunks_exact(tile_row).enumerate() {
        row.clear();
        for pixel in source.chunks_exact(3) {
            for _ in 0..factor {
                row.extend_from_slice(pixel);
            }
        }
        for r in 0..factor {
            let start = ((y + ty * factor + r) * width + x) * 3;
            buffer[start..start + row_bytes].copy_from_slice(&row);
        }
    }
}

impl Grid {
    /// A layout of `columns` for tiles of at most `size` (width, height),
    /// each enlarged by a whole factor to about `side` pixels across, less
    /// where the picture would be wider or taller than `MAX_SIDE`.
    pub fn sized(
        columns: usize,
        count: usize,
        (w, h): (u32, u32),
        side: u32,
        padding: u32,
        background: [u8; 3],
    ) -> Grid {
        let columns = columns.clamp(1, count.max(1));
        let (w, h) = (w.max(1), h.max(1));
        let rows = count.div_ceil(columns) as u32;
        let extent = |up: u32| {
            (columns as u32 * (w * up + padding)).max(rows * (h * up + padding)) + padding
        };
        let mut upscale = side.div_ceil(w.max(h)).max(1);
        while upscale > 1 && extent(upscale) > MAX_SIDE {
            upscale -= 1;
        }
        Grid {
            columns,
            padding,
            upscale,
            background,
        }
    }
}

/// The longest side a grid's tiles are enlarged to fill.
pub const MAX_SIDE: u32 = 4096;

/// What a grid's columns and rows hold, drawn into the picture: a heading
/// over each column, a label left of each row (either may be empty).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labels {
    pub columns: Vec<String>,
    pub rows: Vec<String>,
}

/// A grid picture with its labels, and where its tiles begin: tile `k`'s
/// cell starts `padding + (k % columns) * (cell + padding)` right of
/// `origin.0`, and likewise down from `origin.1`.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelledGrid {
    /// The picture.
    pub image: RgbImage,
    /// Where the first tile's row and column begin, past the labels.
    pub origin: (u32, u32),
    /// The tiles' layout.
    pub layout: Grid,
}

/// Text size of headings and row labels, in pixels.
const LABEL_SIZE: f64 = 14.0;

/// The tiles in `layout`, with `labels` drawn in bands above and left of them.
pub fn labelled(tiles: &[RgbImage], layout: &Grid, labels: &Labels) -> Result<LabelledGrid> {
    let body = grid(tiles, layout)?;
    let unlabelled = labels.columns.is_empty() && labels.rows.is_empty();
    let Some(rasteriser) = Rasteriser::system().ok().filter(|_| !unlabelled) else {
        return Ok(LabelledGrid {
            image: body,
            origin: (0, 0),
            layout: *layout,
        });
    };
    let (svg, origin, size) = label_svg(tiles, layout, labels, body.dimensions());
    let mut image = RgbImage::from_pixel(size.0, size.1, Rgb(layout.background));
    paste_enlarged(&mut image, &body, 1, origin);
    rasteriser.draw_on(&svg, &mut image)?;
    Ok(LabelledGrid {
        image,
        origin,
        layout: *layout,
    })
}

/// The SVG of a grid's labels (text only, on no background), where the
/// tiles begin and the whole picture's size.
fn label_svg(
    tiles: &[RgbImage],
    layout: &Grid,
    labels: &Labels,
    (body_w, body_h): (u32, u32),
) -> (String, (u32, u32), (u32, u32)) {
    let gap = 6.0;
    let top = if labels.columns.is_empty() {
        0.0
    } else {
        (LABEL_SIZE * 1.6).ceil()
    };
    let left = labels
        .rows
        .iter()
        .map(|l| text_width(l, LABEL_SIZE))
        .fold(0.0, f64::max);
    let left = if left > 0.0 {
        (left + 2.0 * gap).ceil()
    } else {
        0.0
    };
    let cell = |size: fn(&RgbImage) -> u32| {
        f64::from(tiles.iter().map(size).max().unwrap_or(0) * layout.upscale)
    };
    let (cell_w, cell_h) = (cell(RgbImage::width), cell(RgbImage::height));
    let pad = f64::from(layout.padding);
    let size = (left as u32 + body_w, top as u32 + body_h);
    let [r, g, b] = layout.background;
    let light = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b) > 128.0;
    let colour = if light { "#222222" } else { "#eeeeee" };
    let mut svg = Svg::transparent(f64::from(size.0), f64::from(size.1), colour);
    for (c, heading) in labels.columns.iter().enumerate().take(layout.columns) {
        let x = left + pad + c as f64 * (cell_w + pad) + cell_w / 2.0;
        svg.text(
            (x, top - gap),
            heading,
            Font::new(LABEL_SIZE, Anchor::Middle),
        );
    }
    for (r, label) in labels.rows.iter().enumerate() {
        let y = top + pad + r as f64 * (cell_h + pad) + cell_h / 2.0 + LABEL_SIZE / 3.0;
        svg.text((left - gap, y), label, Font::new(LABEL_SIZE, Anchor::End));
    }
    (svg.finish(), (left as u32, top as u32), size)
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
    let mut big = RgbImage::new(big_w as u32, big_h as u32);
    paste_enlarged(&mut big, image, factor, (0, 0));
    Ok(big)
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
    fn labels_are_drawn_in_bands_above_and_left_of_the_tiles() {
        let tiles: Vec<RgbImage> = (0..6).map(|k| tile(k, 8, 8)).collect();
        let layout = Grid {
            columns: 3,
            padding: 2,
            upscale: 4,
            background: [255; 3],
        };
        let labels = Labels {
            columns: vec!["0".into(), "45".into(), "90 & more".into()],
            rows: vec!["digit 7".into(), "digit 2".into()],
        };
        let body = grid(&tiles, &layout).unwrap();
        let (svg, origin, size) = label_svg(&tiles, &layout, &labels, body.dimensions());
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(texts, ["0", "45", "90 & more", "digit 7", "digit 2"]);
        assert!(origin.0 > 0 && origin.1 > 0, "{origin:?}");
        assert_eq!(size, (origin.0 + body.width(), origin.1 + body.height()));
        let drawn = labelled(&tiles, &layout, &labels).unwrap();
        if Rasteriser::system().is_err() {
            // No font: the grid alone, as the PNG charts fall back to SVG.
            assert_eq!(drawn.image, body);
            return;
        }
        assert_eq!(drawn.origin, origin);
        // The tiles are where they were, moved by the bands.
        let (ox, oy) = origin;
        assert_eq!(
            *drawn.image.get_pixel(ox + 2 + 5, oy + 2 + 9),
            *body.get_pixel(2 + 5, 2 + 9)
        );
        // Each heading and each row label puts dark pixels in its band.
        let dark = |xs: std::ops::Range<u32>, ys: std::ops::Range<u32>| {
            xs.flat_map(|x| ys.clone().map(move |y| (x, y)))
                .filter(|&(x, y)| drawn.image.get_pixel(x, y).0[1] < 128)
                .count()
        };
        for column in 0..3 {
            let x = ox + 2 + column * 34;
            assert!(dark(x..x + 32, 0..oy) > 5, "heading {column}");
        }
        for row in 0..2 {
            let y = oy + 2 + row * 34;
            assert!(dark(0..ox, y..y + 32) > 20, "row label {row}");
        }
        // No labels: the plain grid.
        assert_eq!(
            labelled(&tiles, &layout, &Labels::default()).unwrap().image,
            body
        );
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
