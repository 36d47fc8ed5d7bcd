use image::ImageEncoder;
use resvg::{tiny_skia, usvg};
use std::time::Instant;
fn main() {
    let svg = std::fs::read_to_string(std::env::args().nth(1).unwrap()).unwrap();
    let t = Instant::now();
    let mut fonts = usvg::fontdb::Database::new();
    fonts.load_system_fonts();
    fonts.set_sans_serif_family("DejaVu Sans");
    eprintln!("fonts {:?}", t.elapsed());
    let options = usvg::Options {
        font_family: "DejaVu Sans".into(),
        fontdb: std::sync::Arc::new(fonts),
        ..usvg::Options::default()
    };
    for i in 0..6 {
        let t = Instant::now();
        let tree = usvg::Tree::from_str(&svg, &options).unwrap();
        let t1 = t.elapsed();
        let size = tree.size().to_int_size().scale_by(2.0).unwrap();
        let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
        pixmap.fill(tiny_skia::Color::WHITE);
        let t2 = t.elapsed();
        resvg::render(
            &tree,
            tiny_skia::Transform::from_scale(2.0, 2.0),
            &mut pixmap.as_mut(),
        );
        let t3 = t.elapsed();
        let t4 = Instant::now();
        let rgb: Vec<u8> = pixmap
            .data()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let t5 = t4.elapsed();
        let mut rgb2 = Vec::with_capacity(rgb.len());
        for p in pixmap.data().chunks_exact(4) {
            rgb2.extend_from_slice(&p[..3]);
        }
        let t6 = t4.elapsed() - t5;
        let img = image::RgbImage::from_raw(size.width(), size.height(), rgb2).unwrap();
        let t7 = Instant::now();
        let mut bytes = std::io::Cursor::new(Vec::new());
        img.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
        let t8 = t7.elapsed();
        let t9 = Instant::now();
        let mut bytes2 = Vec::new();
        image::codecs::png::PngEncoder::new_with_quality(
            &mut bytes2,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Adaptive,
        )
        .write_image(
            &img,
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
        let t10 = t9.elapsed();
        eprintln!(
            "convert flat_map {:?} loop {:?} encode {:?} ({} B) fast {:?} ({} B)",
            t5,
            t6,
            t8,
            bytes.get_ref().len(),
            t10,
            bytes2.len()
        );
        eprintln!(
            "{i}: parse {:?} fill {:?} render {:?}",
            t1,
            t2 - t1,
            t3 - t2
        );
    }
}
