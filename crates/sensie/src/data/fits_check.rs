//! Checks a FITS file's headers and its tile-compressed images before cfitsio
//! reads them. cfitsio trusts what a compressed image declares: a zero
//! ZTILEn or Rice block size divides by zero as soon as the HDU is opened, a
//! BITPIX that is no pixel type panics the `fitsio` crate, a Rice tile whose
//! code runs past its bytes is read past its buffer (`fits_rdecomp`), and an
//! HCOMPRESS or PLIO tile that declares more pixels or words than it holds
//! is written or read past its buffer. So sensie walks the headers itself
//! (plain Rust, each size checked against the bytes there are) and follows
//! each tile's code far enough to know cfitsio stays inside it; only a file
//! that passes reaches cfitsio.
//!
//! What is followed per compression: RICE_1 exactly as `fits_rdecomp` reads
//! it (every byte it would read must lie inside the tile); PLIO_1's line
//! list header and every word `pl_l2pi` reads; HCOMPRESS_1's header (its
//! size must be the tile's, its bit planes at most the pixel width), which
//! decides what is written (the quadtree code after it is read by cfitsio
//! unchecked); GZIP_1/GZIP_2 only their place in the heap (zlib checks its
//! own stream and cfitsio gives it the tile's size).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::limits::MAX_ARRAY_BYTES;
use crate::{Error, Result};

const BLOCK: u64 = 2880;
/// Header blocks one HDU may have (36,000 cards), far more than surveys write.
const MAX_HEADER_BLOCKS: usize = 1000;
/// Axes of a compressed image (cfitsio's MAX_COMPRESS_DIM).
const MAX_COMPRESSED_AXES: i64 = 6;
/// Pixels of one tile: cfitsio counts them in a C int and allocates 8 bytes each.
const MAX_TILE_PIXELS: i64 = (i32::MAX / 8) as i64;
/// The FITS pixel types (BITPIX, ZBITPIX).
const PIXEL_TYPES: [i64; 6] = [8, 16, 32, 64, -32, -64];

/// Refuses, naming the HDU and what is wrong, a FITS file whose headers
/// declare something cfitsio would not survive.
pub(crate) fn check(path: &Path, gzipped: bool) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut source = if gzipped {
        Source::Gzip(Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(
            file,
        ))))
    } else {
        Source::Plain(BufReader::new(file))
    };
    let corrupt = |reason: String| {
        Error::data(
            path,
            format!("{reason}; the file is corrupt (copy or download it again)"),
        )
    };
    let mut index = 0;
    while let Some(header) = source.header(index).map_err(corrupt)? {
        let data = header.data_bytes(index).map_err(corrupt)?;
        // cfitsio allocates a column structure per declared field (FITS allows 999).
        if header
            .raw("XTENSION")
            .is_some_and(|x| matches!(x.trim(), "BINTABLE" | "TABLE"))
        {
            header
                .required("TFIELDS", 0..=999)
                .map_err(|e| corrupt(format!("table HDU {index}: {e}")))?;
        }
        let padded = data.div_ceil(BLOCK).saturating_mul(BLOCK);
        if header.logical("ZIMAGE") == Some(true)
            && header
                .raw("XTENSION")
                .is_some_and(|x| x.trim() == "BINTABLE")
        {
            if data > MAX_ARRAY_BYTES {
                return Err(corrupt(format!(
                    "compressed image HDU {index} declares {data} bytes of tiles, more than the {} GiB an array may hold",
                    MAX_ARRAY_BYTES >> 30
                )));
            }
            let mut bytes = Vec::new();
            source.take(data, &mut bytes);
            if (bytes.len() as u64) < data {
                return Err(corrupt(format!(
                    "it is truncated: compressed image HDU {index} declares {data} bytes of tiles but the file ends after {}",
                    bytes.len()
                )));
            }
            tiles(&header, &bytes)
                .map_err(|e| corrupt(format!("compressed image HDU {index}: {e}")))?;
            source.skip(padded - data);
        } else if data > MAX_ARRAY_BYTES || !source.skip(padded) {
            // cfitsio and the reader's own size check name what follows.
            break;
        }
        index += 1;
    }
    Ok(())
}

/// The file's bytes, inflated when the whole file is gzip'd.
enum Source {
    Plain(BufReader<File>),
    Gzip(Box<flate2::read::MultiGzDecoder<BufReader<File>>>),
}

impl Source {
    fn reader(&mut self) -> &mut dyn Read {
        match self {
            Source::Plain(r) => r,
            Source::Gzip(r) => r.as_mut(),
        }
    }

    /// Up to `n` bytes onto `into` (fewer where the file ends).
    fn take(&mut self, n: u64, into: &mut Vec<u8>) {
        let _ = self.reader().take(n).read_to_end(into);
    }

    /// Skips `n` bytes; false when that cannot be done.
    fn skip(&mut self, n: u64) -> bool {
        match self {
            Source::Plain(r) => i64::try_from(n).is_ok_and(|n| r.seek_relative(n).is_ok()),
            Source::Gzip(r) => std::io::copy(&mut r.as_mut().take(n), &mut std::io::sink())
                .is_ok_and(|copied| copied == n),
        }
    }

    /// The next HDU's header; `None` at the end of the file or where what
    /// follows is not a header (trailing bytes, which cfitsio ignores too);
    /// an error when a header begins but has no END card, which leaves
    /// cfitsio to guess at its keywords.
    fn header(&mut self, index: usize) -> std::result::Result<Option<Header>, String> {
        let mut cards = Vec::new();
        for count in 0..MAX_HEADER_BLOCKS {
            let mut block = Vec::with_capacity(BLOCK as usize);
            self.take(BLOCK, &mut block);
            let opening: &[u8] = if index == 0 { b"SIMPLE" } else { b"XTENSION" };
            if count == 0 && (block.len() < BLOCK as usize || !block.starts_with(opening)) {
                return Ok(None);
            }
            if block.len() < BLOCK as usize {
                break;
            }
            // Cards are cut as bytes: a header may hold any byte (FITS
            // allows only ASCII), and text would not split at column 8.
            for card in block.chunks(80) {
                let key = String::from_utf8_lossy(&card[..8]).trim_end().to_string();
                if key == "END" {
                    return Ok(Some(Header { cards }));
                }
                if card[8..].starts_with(b"= ") {
                    cards.push((key, value(&String::from_utf8_lossy(&card[10..]))));
                }
            }
        }
        Err(format!("the header of HDU {index} has no END card"))
    }
}

/// A card's value without its comment: a string's text (quotes removed), or
/// the number or logical as written.
fn value(text: &str) -> String {
    let text = text.trim_start();
    if let Some(rest) = text.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(c);
        }
        return out.trim_end().to_string();
    }
    text.split('/').next().unwrap_or("").trim().to_string()
}

/// One HDU's header cards, keyword and value.
struct Header {
    cards: Vec<(String, String)>,
}

impl Header {
    /// A keyword's value: a string's text, or a number or logical as written.
    fn raw(&self, key: &str) -> Option<&str> {
        self.cards
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn logical(&self, key: &str) -> Option<bool> {
        match self.raw(key)? {
            "T" => Some(true),
            "F" => Some(false),
            _ => None,
        }
    }

    /// An integer keyword; an error when present but not an integer.
    fn int(&self, key: &str) -> std::result::Result<Option<i64>, String> {
        self.raw(key)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| format!("{key} = {v} is not an integer"))
            })
            .transpose()
    }

    /// An integer keyword that must be present and within `range`.
    fn required(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> std::result::Result<i64, String> {
        let v = self.int(key)?.ok_or_else(|| format!("it has no {key}"))?;
        within(key, v, range)
    }

    /// Bytes of the data unit (before padding), from BITPIX, NAXISn, PCOUNT and GCOUNT.
    fn data_bytes(&self, index: usize) -> std::result::Result<u64, String> {
        let bitpix = self.required("BITPIX", i64::MIN..=i64::MAX)?;
        if !PIXEL_TYPES.contains(&bitpix) {
            return Err(format!(
                "HDU {index} declares BITPIX = {bitpix}, which is no FITS pixel type (8, 16, 32, 64, -32 or -64)"
            ));
        }
        let naxis = self.required("NAXIS", 0..=999)?;
        if naxis == 0 {
            return Ok(0);
        }
        let mut count: u64 = 1;
        for axis in 1..=naxis {
            let n = self.required(&format!("NAXIS{axis}"), 0..=i64::MAX)?;
            count = count.saturating_mul(n as u64);
        }
        let pcount = self.int("PCOUNT")?.unwrap_or(0);
        let gcount = self.int("GCOUNT")?.unwrap_or(1);
        let pcount = within("PCOUNT", pcount, 0..=i64::MAX)? as u64;
        let gcount = within("GCOUNT", gcount, 0..=i64::MAX)? as u64;
        Ok((bitpix.unsigned_abs() / 8)
            .saturating_mul(gcount)
            .saturating_mul(count.saturating_add(pcount)))
    }
}

fn within(
    key: &str,
    v: i64,
    range: std::ops::RangeInclusive<i64>,
) -> std::result::Result<i64, String> {
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(format!("{key} = {v} is out of range"))
    }
}

/// The compressions cfitsio decodes, and what each keeps in its tiles.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Compression {
    Rice { block: usize, bytepix: usize },
    Gzip,
    Plio,
    Hcompress,
    None,
}

/// A binary table column holding one variable-length array per row.
struct ArrayColumn {
    /// Byte offset of its descriptor in a row.
    offset: usize,
    /// 64-bit descriptors (`Q`) rather than 32-bit (`P`).
    wide: bool,
    /// Bytes per element.
    element: usize,
}

impl ArrayColumn {
    /// Row `row`'s array as (elements, heap offset).
    fn descriptor(&self, table: &[u8], width: usize, row: usize) -> (i64, i64) {
        let at = row * width + self.offset;
        if self.wide {
            let n = i64::from_be_bytes(table[at..at + 8].try_into().expect("8 bytes"));
            let o = i64::from_be_bytes(table[at + 8..at + 16].try_into().expect("8 bytes"));
            (n, o)
        } else {
            let n = i32::from_be_bytes(table[at..at + 4].try_into().expect("4 bytes"));
            let o = i32::from_be_bytes(table[at + 4..at + 8].try_into().expect("4 bytes"));
            (n.into(), o.into())
        }
    }

    /// Row `row`'s bytes in the heap, or why they are not there.
    fn bytes<'a>(
        &self,
        table: &[u8],
        width: usize,
        heap: &'a [u8],
        row: usize,
    ) -> std::result::Result<&'a [u8], String> {
        let (n, offset) = self.descriptor(table, width, row);
        let start = usize::try_from(offset).ok();
        let len = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(self.element));
        match (start, len) {
            (Some(start), Some(len))
                if start.checked_add(len).is_some_and(|end| end <= heap.len()) =>
            {
                Ok(&heap[start..start + len])
            }
            _ => Err(format!(
                "tile {} declares {n} elements at heap offset {offset}, outside its {}-byte heap",
                row + 1,
                heap.len()
            )),
        }
    }
}

/// Bytes per row, and the named variable-length column, from TFORMn and TTYPEn.
fn columns(
    header: &Header,
    name: &str,
) -> std::result::Result<(usize, Option<ArrayColumn>), String> {
    let fields = header.required("TFIELDS", 0..=999)?;
    let mut width = 0usize;
    let mut found = None;
    for i in 1..=fields {
        let form = header
            .raw(&format!("TFORM{i}"))
            .ok_or_else(|| format!("it has no TFORM{i}"))?
            .trim()
            .to_ascii_uppercase();
        let digits = form.chars().take_while(|c| c.is_ascii_digit()).count();
        let repeat: usize = if digits == 0 {
            1
        } else {
            form[..digits]
                .parse()
                .map_err(|_| format!("TFORM{i} = '{form}' is not a column format"))?
        };
        let mut kind = form[digits..].chars();
        let code = kind
            .next()
            .ok_or_else(|| format!("TFORM{i} = '{form}' is not a column format"))?;
        let bytes: usize = match code {
            'L' | 'B' | 'A' => 1,
            'I' => 2,
            'J' | 'E' => 4,
            'K' | 'D' | 'C' | 'P' => 8,
            'M' | 'Q' => 16,
            'X' => 0,
            _ => return Err(format!("TFORM{i} = '{form}' is not a column format")),
        };
        let size = if code == 'X' {
            Some(repeat.div_ceil(8))
        } else {
            repeat.checked_mul(bytes)
        }
        .ok_or_else(|| format!("TFORM{i} = '{form}' is wider than any row"))?;
        if header
            .raw(&format!("TTYPE{i}"))
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(name))
        {
            let element = match kind.next() {
                Some('B') if matches!(code, 'P' | 'Q') => 1,
                Some('I') if matches!(code, 'P' | 'Q') => 2,
                Some('J') if matches!(code, 'P' | 'Q') => 4,
                _ => {
                    return Err(format!(
                        "its {name} column has format '{form}', not an array of bytes, shorts or ints (1PB, 1PI, 1PJ or 1Q...)"
                    ));
                }
            };
            found = Some(ArrayColumn {
                offset: width,
                wide: code == 'Q',
                element,
            });
        }
        width = width.checked_add(size).ok_or("its rows are too wide")?;
    }
    Ok((width, found))
}

/// The compression and tiles of a compressed image HDU, checked against its
/// table and heap (`data`, the whole data unit).
fn tiles(header: &Header, data: &[u8]) -> std::result::Result<(), String> {
    let zbitpix = header.required("ZBITPIX", i64::MIN..=i64::MAX)?;
    if !PIXEL_TYPES.contains(&zbitpix) {
        return Err(format!(
            "ZBITPIX = {zbitpix} is no FITS pixel type (8, 16, 32, 64, -32 or -64)"
        ));
    }
    let compression = compression(header)?;
    let axes = header.required("ZNAXIS", 1..=MAX_COMPRESSED_AXES)? as usize;
    let mut shape = Vec::with_capacity(axes);
    let mut tile = Vec::with_capacity(axes);
    for axis in 1..=axes {
        let n = header.required(&format!("ZNAXIS{axis}"), 1..=i64::MAX)?;
        let default = if axis == 1 { n } else { 1 };
        let t = header.int(&format!("ZTILE{axis}"))?.unwrap_or(default);
        if !(1..=n).contains(&t) {
            return Err(format!(
                "ZTILE{axis} = {t} is not a tile size of an axis of {n} pixels (1 to {n})"
            ));
        }
        shape.push(n as u64);
        tile.push(t as u64);
    }
    let pixels = shape.iter().try_fold(1u64, |acc, &n| acc.checked_mul(n));
    if pixels
        .and_then(|p| p.checked_mul(zbitpix.unsigned_abs() / 8))
        .is_none_or(|bytes| bytes > MAX_ARRAY_BYTES)
    {
        return Err(format!(
            "its header declares an image of {shape:?} pixels, more than the {} GiB an array may hold",
            MAX_ARRAY_BYTES >> 30
        ));
    }
    if tile.iter().product::<u64>() > MAX_TILE_PIXELS as u64 {
        return Err(format!(
            "its tiles of {tile:?} pixels are larger than cfitsio reads"
        ));
    }
    let per_axis: Vec<u64> = shape
        .iter()
        .zip(&tile)
        .map(|(n, t)| n.div_ceil(*t))
        .collect();
    let rows = per_axis.iter().product::<u64>();
    let width = header.required("NAXIS1", 0..=i64::MAX)? as u64;
    let declared_rows = header.required("NAXIS2", 0..=i64::MAX)? as u64;
    if declared_rows != rows {
        return Err(format!(
            "it holds {declared_rows} tiles but an image of {shape:?} pixels in tiles of {tile:?} needs {rows}"
        ));
    }
    let (row_bytes, compressed) = columns(header, "COMPRESSED_DATA")?;
    if row_bytes as u64 != width {
        return Err(format!(
            "its columns take {row_bytes} bytes a row but NAXIS1 = {width}"
        ));
    }
    let compressed = compressed.ok_or("it has no COMPRESSED_DATA column")?;
    let fallback = match columns(header, "GZIP_COMPRESSED_DATA")?.1 {
        Some(column) => Some(column),
        None => columns(header, "UNCOMPRESSED_DATA")?.1,
    };
    let table = (width * rows) as usize;
    let theap = header.int("THEAP")?.unwrap_or(table as i64);
    let heap = usize::try_from(theap)
        .ok()
        .filter(|&t| t >= table && t <= data.len())
        .map(|t| &data[t..])
        .ok_or_else(|| format!("THEAP = {theap} lies outside its data"))?;
    let width = width as usize;
    for row in 0..rows as usize {
        // The tile's size: tiles run along the first axis fastest, the last ones clipped.
        let mut rest = row as u64;
        let mut dims = Vec::with_capacity(axes);
        for a in 0..axes {
            let k = rest % per_axis[a];
            rest /= per_axis[a];
            dims.push(tile[a].min(shape[a] - k * tile[a]) as usize);
        }
        let count: usize = dims.iter().product();
        let stream = compressed.bytes(data, width, heap, row)?;
        if stream.is_empty() {
            // A tile cfitsio could not compress is kept gzip'd or raw in another column.
            let column = fallback
                .as_ref()
                .ok_or_else(|| format!("tile {} is empty", row + 1))?;
            column.bytes(data, width, heap, row)?;
            continue;
        }
        let checked = match compression {
            Compression::Rice { block, bytepix } => rice(stream, count, block, bytepix),
            Compression::Plio => plio(stream, count),
            Compression::Hcompress => hcompress(stream, &dims, zbitpix),
            Compression::Gzip | Compression::None => Ok(()),
        };
        checked.map_err(|e| format!("tile {} {e}", row + 1))?;
    }
    Ok(())
}

/// ZCMPTYPE and its parameters (ZVALn), as cfitsio reads them.
fn compression(header: &Header) -> std::result::Result<Compression, String> {
    let name = header
        .raw("ZCMPTYPE")
        .ok_or("it has no ZCMPTYPE")?
        .trim()
        .to_ascii_uppercase();
    Ok(match name.as_str() {
        "RICE_1" | "RICE_ONE" => {
            let mut block = header
                .int("ZVAL1")?
                .ok_or("its Rice tiles have no block size (ZVAL1)")?;
            let old = header.raw("ZNAME2").is_some_and(|n| n.trim() == "NOISEBIT");
            let mut bytepix = if old {
                4
            } else {
                header.int("ZVAL2")?.unwrap_or(4)
            };
            // cfitsio's rule for files that wrote the two the other way round.
            if block < 16 && bytepix > 8 {
                std::mem::swap(&mut block, &mut bytepix);
            }
            if !(1..=MAX_TILE_PIXELS).contains(&block) {
                return Err(format!(
                    "its Rice block size (ZVAL1) is {block}; it must be positive"
                ));
            }
            if ![1, 2, 4, 8].contains(&bytepix) {
                return Err(format!(
                    "its Rice bytes per pixel (ZVAL2) is {bytepix}; it must be 1, 2, 4 or 8"
                ));
            }
            Compression::Rice {
                block: block as usize,
                bytepix: bytepix as usize,
            }
        }
        "GZIP_1" | "GZIP_2" => Compression::Gzip,
        "PLIO_1" => Compression::Plio,
        "HCOMPRESS_1" => Compression::Hcompress,
        "NOCOMPRESS" => Compression::None,
        other => {
            return Err(format!(
                "ZCMPTYPE = '{other}' is no compression sensie reads (RICE_1, GZIP_1, GZIP_2, PLIO_1, HCOMPRESS_1)"
            ));
        }
    })
}

/// Follows a Rice code as cfitsio's `fits_rdecomp` (and its byte and short
/// variants) reads it: a first pixel of `bytepix` bytes, then for each block
/// of `block` pixels a code FS of 3, 4 or 5 bits (low entropy, Rice, or
/// pixels written whole). Errs where a byte past the tile would be read or a
/// code is one no encoder writes.
fn rice(
    stream: &[u8],
    pixels: usize,
    block: usize,
    bytepix: usize,
) -> std::result::Result<(), String> {
    let (fsbits, fsmax, bbits, first): (i64, i64, i64, usize) = match bytepix {
        1 => (3, 6, 8, 1),
        2 => (4, 14, 16, 2),
        _ => (5, 25, 32, 4),
    };
    let past = || format!("has a Rice code that runs past its {} bytes", stream.len());
    let mut at = first;
    let mut next = || -> std::result::Result<u32, String> {
        let byte = *stream.get(at).ok_or_else(past)?;
        at += 1;
        Ok(u32::from(byte))
    };
    let mut b = next()?;
    let mut nbits: i64 = 8;
    let mut i = 0;
    while i < pixels {
        nbits -= fsbits;
        while nbits < 0 {
            b = (b << 8) | next()?;
            nbits += 8;
        }
        let fs = i64::from(b >> nbits) - 1;
        b &= (1u32 << nbits) - 1;
        let end = (i + block).min(pixels);
        if fs > fsmax {
            return Err(format!(
                "has a Rice block code {fs}, above the largest ({fsmax})"
            ));
        }
        if fs < 0 {
            i = end;
        } else if fs == fsmax {
            // Each pixel written whole in bbits bits.
            for _ in i..end {
                let mut k = bbits - nbits - 8;
                while k >= 0 {
                    next()?;
                    k -= 8;
                }
                if nbits > 0 {
                    b = next()? & ((1u32 << nbits) - 1);
                } else {
                    b = 0;
                }
            }
            i = end;
        } else {
            for _ in i..end {
                while b == 0 {
                    nbits += 8;
                    b = next()?;
                }
                let nzero = nbits - i64::from(32 - b.leading_zeros());
                nbits -= nzero + 1;
                b ^= 1u32 << nbits;
                nbits -= fs;
                while nbits < 0 {
                    b = (b << 8) | next()?;
                    nbits += 8;
                }
                b &= (1u32 << nbits) - 1;
            }
            i = end;
        }
    }
    Ok(())
}

/// Follows a PLIO line list as cfitsio's `pl_l2pi` reads it: its header
/// gives the list's length and first word, which must lie inside the tile,
/// as must the second word of every two-word instruction.
fn plio(stream: &[u8], pixels: usize) -> std::result::Result<(), String> {
    let words: Vec<i16> = stream
        .chunks_exact(2)
        .map(|w| i16::from_be_bytes([w[0], w[1]]))
        .collect();
    let n = words.len();
    // 1-based, as pl_l2pi counts.
    let word = |k: i64| -> std::result::Result<i64, String> {
        usize::try_from(k - 1)
            .ok()
            .and_then(|k| words.get(k))
            .map(|&w| i64::from(w))
            .ok_or_else(|| format!("has a PLIO line list that points past its {n} words"))
    };
    let (length, first) = if word(3)? > 0 {
        (word(3)?, 4)
    } else {
        ((word(5)? << 15) + word(4)?, word(2)? + 1)
    };
    if pixels == 0 || length <= 0 {
        return Ok(());
    }
    // Each word moves at most 4095 pixels on: a longer list would overflow cfitsio's C int.
    if first < 1 || length > n as i64 || length > i64::from(i32::MAX) / 4096 {
        return Err(format!(
            "has a PLIO line list of {length} words from word {first}, but the tile holds {n}"
        ));
    }
    let mut k = first;
    while k <= length {
        // Opcode 1 (set the high value) takes the next word too.
        if word(k)? / 4096 == 1 {
            word(k + 1)?;
            k += 1;
        }
        k += 1;
    }
    Ok(())
}

/// Checks an HCOMPRESS tile's header: its magic, a size equal to the tile's
/// (cfitsio decodes into a buffer of the tile's size) and at most as many bit
/// planes per quadrant as its pixels have bits.
fn hcompress(stream: &[u8], dims: &[usize], zbitpix: i64) -> std::result::Result<(), String> {
    if stream.len() < 25 || stream[..2] != [0xDD, 0x99] {
        return Err("is not an HCOMPRESS code (no header)".into());
    }
    let int = |at: usize| i32::from_be_bytes(stream[at..at + 4].try_into().expect("4 bytes"));
    let (nx, ny, scale) = (int(2), int(6), int(10));
    let cols = dims[0] as i64;
    let rows = dims[1..].iter().product::<usize>() as i64;
    let (nx, ny) = (i64::from(nx), i64::from(ny));
    if !((nx == rows && ny == cols) || (nx == cols && ny == rows)) {
        return Err(format!(
            "declares {nx} x {ny} pixels in HCOMPRESS but the tile is {rows} x {cols}"
        ));
    }
    if scale < 0 {
        return Err(format!("declares an HCOMPRESS scale of {scale}"));
    }
    let bits = if matches!(zbitpix, 8 | 16) { 32 } else { 64 };
    if let Some(&planes) = stream[22..25].iter().find(|&&p| i64::from(p) > bits) {
        return Err(format!(
            "declares {planes} HCOMPRESS bit planes, more than its {bits}-bit pixels have"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use ndarray::ArrayD;
    use ndarray_npy::ReadNpyExt;

    use super::super::fits::{Extensions, read};

    const KINDS: [&str; 4] = ["rice", "gzip", "plio", "hcompress"];

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/compressed")
            .join(name)
    }

    /// Where the compressed HDU's data (its table, then the heap) begins: after
    /// the second header's END card, at the next 2880-byte block.
    fn data_start(bytes: &[u8]) -> usize {
        let end = (2880..bytes.len())
            .step_by(80)
            .find(|&at| bytes[at..at + 80].starts_with(b"END     "))
            .expect("an END card");
        (end / 2880 + 1) * 2880
    }

    #[test]
    fn every_coder_reads_as_astropy_wrote_the_image() {
        let image =
            ArrayD::<i32>::read_npy(std::fs::File::open(fixture("image.npy")).unwrap()).unwrap();
        for kind in KINDS {
            let pixels = read(&fixture(&format!("{kind}.fits")), &Extensions::default())
                .unwrap()
                .pixels;
            assert_eq!(pixels, image.mapv(|v| v as f32), "{kind}");
        }
    }

    #[test]
    fn corrupted_tiles_are_refused_or_read_never_crash() {
        // 200 corruptions per coder (bytes set at random places of the table
        // and heap, runs of zeros and of 0xFF, truncations): each must come
        // back as pixels or an error; a crash in cfitsio ends this process.
        let dir = tempfile::tempdir().unwrap();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut random = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for kind in KINDS {
            let clean = std::fs::read(fixture(&format!("{kind}.fits"))).unwrap();
            let start = data_start(&clean);
            let mut refused = 0;
            for trial in 0..200 {
                let mut bytes = clean.clone();
                let at = start + random(clean.len() - start);
                match trial % 4 {
                    0 => bytes[at] = random(256) as u8,
                    1 => bytes[at..(at + 1 + random(64)).min(clean.len())].fill(0),
                    2 => bytes[at..(at + 1 + random(64)).min(clean.len())].fill(0xFF),
                    _ => bytes.truncate(at),
                }
                let path = dir.path().join(format!("{kind}.fits"));
                std::fs::write(&path, &bytes).unwrap();
                if read(&path, &Extensions::default()).is_err() {
                    refused += 1;
                }
            }
            // Every truncation (50) is refused; a PLIO list has no check of
            // its own, so most changed words just decode to other pixels.
            assert!(refused >= 50, "{kind}: only {refused} of 200 refused");
        }
    }

    #[test]
    fn a_header_with_bytes_that_are_not_ascii_is_read_as_bytes() {
        // Found by fuzzing: a byte above 127 in a card (here in a keyword
        // and a value) panicked when the card was sliced as text.
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = std::fs::read(fixture("rice.fits")).unwrap();
        let card = (2880..bytes.len())
            .step_by(80)
            .find(|&at| bytes[at..at + 8].starts_with(b"ZTILE1"))
            .unwrap();
        // A byte after "ZTILE1": as text it becomes a 3-byte character
        // across column 8. The garbled card is not ZTILE1, whose
        // default (the axis, 28) is what it said.
        bytes[card + 6] = 227;
        bytes[card + 40] = 227;
        let path = dir.path().join("bytes.fits");
        std::fs::write(&path, &bytes).unwrap();
        super::check(&path, false).unwrap();
        // Found by fuzzing too: a table declaring 10^16 fields made cfitsio
        // ask for petabytes of column structures.
        let mut bytes = std::fs::read(fixture("rice.fits")).unwrap();
        let card = (2880..bytes.len())
            .step_by(80)
            .find(|&at| bytes[at..at + 8].starts_with(b"TFIELDS"))
            .unwrap();
        bytes[card + 10..card + 30].copy_from_slice(format!("{:>20}", 10i64.pow(16)).as_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let err = super::check(&path, false).unwrap_err().to_string();
        assert!(
            err.contains("table HDU 1: TFIELDS = 10000000000000000 is out of range"),
            "{err}"
        );
        // And through a table header with no END card, which cfitsio read on.
        let mut bytes = std::fs::read(fixture("rice.fits")).unwrap();
        let end = (2880..bytes.len())
            .step_by(80)
            .find(|&at| bytes[at..at + 8].starts_with(b"END     "))
            .unwrap();
        bytes[end..end + 3].fill(0xFF);
        std::fs::write(&path, &bytes).unwrap();
        let err = super::check(&path, false).unwrap_err().to_string();
        assert!(err.contains("the header of HDU 1 has no END card"), "{err}");
    }

    #[test]
    fn a_rice_code_is_followed_to_its_last_byte() {
        // First pixel (4 bytes), then FS = 0 (bits 00001) and zeros: the
        // unary run of the first difference never ends.
        let err = super::rice(&[0, 0, 0, 0, 0x08, 0, 0, 0], 16, 32, 4).unwrap_err();
        assert!(err.contains("runs past its 8 bytes"), "{err}");
        // All blocks low-entropy (FS = -1, bits 00000): every pixel is the first.
        super::rice(&[0, 0, 0, 7, 0], 32, 32, 4).unwrap();
        // FS = 30 (bits 11111) is above the largest code, 25.
        let err = super::rice(&[0, 0, 0, 0, 0xFF], 4, 32, 4).unwrap_err();
        assert!(err.contains("code 30"), "{err}");
    }
}
