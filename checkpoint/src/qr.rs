//! QR codes from image files (PNG or JPEG): a photo of a windshield pass or a screenshot
//! from a phone.
//!
//! The decoder tries the image as it is first; if no code is found it retries on a
//! preprocessed copy (large photos scaled down to at most [`MAX_SIDE`] pixels on the long
//! side, contrast stretched), and finally on that copy inverted (dark-mode screenshots show
//! light modules on a dark background).

use std::path::Path;

use image::imageops::FilterType;
use image::{GrayImage, ImageReader};
use passgate_shared::QR_PREFIX;

use crate::error::{CheckpointError, Result};

/// The long side preprocessing scales large images down to, in pixels.
pub const MAX_SIDE: u32 = 1600;

/// Read an image file and return the text of the QR code in it.
///
/// When the image holds several codes, the first one that looks like a pass (`PG:` prefix)
/// wins, else the first one that decodes at all. No readable code is
/// [`CheckpointError::NoQrFound`].
pub fn decode_file(path: &Path) -> Result<String> {
    let image_err = |why: String| CheckpointError::Image {
        path: path.to_path_buf(),
        why,
    };
    let reader = ImageReader::open(path)
        .map_err(|e| image_err(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| image_err(e.to_string()))?;
    let img = reader.decode().map_err(|e| image_err(e.to_string()))?;
    decode_luma(img.to_luma8()).ok_or_else(|| CheckpointError::NoQrFound {
        path: path.to_path_buf(),
    })
}

/// The QR text in a greyscale image, trying the preprocessing fallbacks in turn.
pub fn decode_luma(img: GrayImage) -> Option<String> {
    if let Some(text) = decode_once(img.clone()) {
        return Some(text);
    }
    let mut prepared = preprocess(&img);
    if let Some(text) = decode_once(prepared.clone()) {
        return Some(text);
    }
    image::imageops::invert(&mut prepared);
    decode_once(prepared)
}

/// One detection pass over `img`.
fn decode_once(img: GrayImage) -> Option<String> {
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let mut first = None;
    for grid in prepared.detect_grids() {
        if let Ok((_, text)) = grid.decode() {
            if text.starts_with(QR_PREFIX) {
                return Some(text);
            }
            first.get_or_insert(text);
        }
    }
    first
}

/// Scale down to at most [`MAX_SIDE`] on the long side, then stretch contrast so the 1st
/// and 99th percentiles of brightness become black and white.
pub fn preprocess(img: &GrayImage) -> GrayImage {
    let (w, h) = img.dimensions();
    let long = w.max(h);
    let mut out = if long > MAX_SIDE {
        let scale = f64::from(MAX_SIDE) / f64::from(long);
        let nw = ((f64::from(w) * scale).round() as u32).max(1);
        let nh = ((f64::from(h) * scale).round() as u32).max(1);
        image::imageops::resize(img, nw, nh, FilterType::Triangle)
    } else {
        img.clone()
    };
    stretch_contrast(&mut out);
    out
}

fn stretch_contrast(img: &mut GrayImage) {
    let mut hist = [0u64; 256];
    for p in img.pixels() {
        hist[usize::from(p.0[0])] += 1;
    }
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return;
    }
    let cut = total / 100;
    let percentile = |from_top: bool| -> u8 {
        let mut seen = 0;
        let order: Box<dyn Iterator<Item = usize>> = if from_top {
            Box::new((0..256).rev())
        } else {
            Box::new(0..256)
        };
        for v in order {
            seen += hist[v];
            if seen > cut {
                return u8::try_from(v).unwrap_or(u8::MAX);
            }
        }
        if from_top { 255 } else { 0 }
    };
    let (lo, hi) = (percentile(false), percentile(true));
    if hi <= lo {
        return;
    }
    let (lo, span) = (i32::from(lo), i32::from(hi) - i32::from(lo));
    for p in img.pixels_mut() {
        let v = (i32::from(p.0[0]) - lo) * 255 / span;
        p.0[0] = u8::try_from(v.clamp(0, 255)).unwrap_or(u8::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// Render `text` as a QR code: `module` pixels per module, a 4-module quiet zone,
    /// dark = `dark`, light = `light`.
    pub(crate) fn render(text: &str, module: u32, dark: u8, light: u8) -> GrayImage {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let width = code.width() as u32;
        let colors = code.to_colors();
        let side = (width + 8) * module;
        let mut img = GrayImage::from_pixel(side, side, Luma([light]));
        for (i, c) in colors.iter().enumerate() {
            if *c == qrcode::Color::Dark {
                let (mx, my) = (i as u32 % width + 4, i as u32 / width + 4);
                for dy in 0..module {
                    for dx in 0..module {
                        img.put_pixel(mx * module + dx, my * module + dy, Luma([dark]));
                    }
                }
            }
        }
        img
    }

    #[test]
    fn decodes_a_clean_code() {
        let img = render("PG:HELLO", 8, 0, 255);
        assert_eq!(decode_luma(img).as_deref(), Some("PG:HELLO"));
    }

    #[test]
    fn low_contrast_needs_the_fallback_or_not_but_decodes() {
        let img = render("PG:LOWCONTRAST", 6, 110, 150);
        assert_eq!(decode_luma(img).as_deref(), Some("PG:LOWCONTRAST"));
    }

    #[test]
    fn inverted_code_decodes() {
        let img = render("PG:DARKMODE", 6, 255, 0);
        assert_eq!(decode_luma(img).as_deref(), Some("PG:DARKMODE"));
    }

    #[test]
    fn blank_image_has_no_code() {
        let img = GrayImage::from_pixel(200, 200, Luma([255]));
        assert_eq!(decode_luma(img), None);
    }

    #[test]
    fn preprocess_scales_down_and_stretches() {
        let mut img = GrayImage::from_pixel(3200, 1000, Luma([120]));
        img.put_pixel(0, 0, Luma([100]));
        for x in 0..1000 {
            img.put_pixel(x, 1, Luma([100]));
            img.put_pixel(x, 2, Luma([140]));
        }
        for y in 500..1000 {
            for x in 0..3200 {
                img.put_pixel(x, y, Luma([140]));
            }
        }
        let out = preprocess(&img);
        assert_eq!(out.dimensions(), (1600, 500));
        let min = out.pixels().map(|p| p.0[0]).min().unwrap();
        let max = out.pixels().map(|p| p.0[0]).max().unwrap();
        assert!(min < 10 && max > 245, "{min}..{max}");
    }
}
