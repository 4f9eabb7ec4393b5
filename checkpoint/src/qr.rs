//! QR codes from image files (PNG or JPEG): a photo of a windshield pass, a screenshot from
//! a phone, or a snapshot an IP camera drops into a folder (`scan --camera-dir`).
//!
//! [`decode_luma`] runs a short ladder of attempts and stops at the first that reads a code:
//!
//! 1. the frame scaled down by a whole factor to at most [`WORK_SIDE`] pixels on the long
//!    side (block means: fast, and they smooth sensor noise), thresholded by `rqrr` itself;
//! 2. when it was scaled down, the full-resolution frame the same way (a small code);
//! 3. the scaled frame denoised (3×3 mean) and binarised against the mean of its
//!    neighbourhood (an adaptive threshold: uneven light, low contrast, blur), then the same
//!    with light as dark (dark-mode screenshots);
//! 4. the full-resolution frame through the adaptive threshold (a small code far away);
//! 5. a stronger denoise (5×5 mean) before the adaptive threshold (heavy noise);
//! 6. an unsharp mask on the full-resolution frame (blur);
//! 7. crops: where a finder-pattern group was found but did not decode, that region cut from
//!    the full-resolution frame, scaled up 2× when small and retried;
//! 8. the scaled frame turned by ±15° and 90° (finder patterns the row scanner missed).
//!
//! [`decode_plain`] is `rqrr` on the frame as it is, the baseline the benchmark
//! (`benches/camera.rs`) compares against.

use std::path::Path;
use std::time::{Duration, Instant};

use image::{GrayImage, ImageReader, Luma};
use passgate_shared::QR_PREFIX;

use crate::error::{CheckpointError, Result};

/// The long side large frames are scaled down to for the first attempts, in pixels.
pub const WORK_SIDE: u32 = 1280;

/// How many crops around unreadable finder-pattern groups are retried.
const MAX_CROPS: usize = 2;

/// Read an image file and return the text of the QR code in it.
///
/// When the image holds several codes, the first one that looks like a pass (`PG:` prefix)
/// wins, else the first one that decodes at all. No readable code is
/// [`CheckpointError::NoQrFound`].
pub fn decode_file(path: &Path) -> Result<String> {
    decode_file_within(path, None)
}

/// [`decode_file`] with an optional time budget for the decoding ([`decode_luma_within`]).
pub fn decode_file_within(path: &Path, budget: Option<Duration>) -> Result<String> {
    let img = load_luma(path)?;
    decode_ladder(img, budget)
        .map(|(text, _)| text)
        .ok_or_else(|| CheckpointError::NoQrFound {
            path: path.to_path_buf(),
        })
}

/// The decoding budget of a camera frame (`scan --camera-dir`): the goal per
/// 1080p frame.
pub const CAMERA_BUDGET: Duration = Duration::from_millis(150);

/// Read a PNG or JPEG file as a greyscale image.
pub fn load_luma(path: &Path) -> Result<GrayImage> {
    let image_err = |why: String| CheckpointError::Image {
        path: path.to_path_buf(),
        why,
    };
    let reader = ImageReader::open(path)
        .map_err(|e| image_err(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| image_err(e.to_string()))?;
    let img = reader.decode().map_err(|e| image_err(e.to_string()))?;
    Ok(img.to_luma8())
}

/// `rqrr` on the image as it is, nothing else: the benchmark's baseline.
pub fn decode_plain(img: &GrayImage) -> Option<String> {
    let mut failed = Vec::new();
    decode_grey(img, &mut failed)
}

/// The QR text in a greyscale image, trying the preprocessing ladder (module docs) in turn.
pub fn decode_luma(img: GrayImage) -> Option<String> {
    decode_ladder(img, None).map(|(text, _)| text)
}

/// [`decode_luma`] for a camera stream: attempts that would end after `budget` are skipped
/// (the next frame gets its own chance). Each attempt's cost is predicted from its pixel
/// count and the time the first attempt took.
pub fn decode_luma_within(img: GrayImage, budget: Duration) -> Option<String> {
    decode_ladder(img, Some(budget)).map(|(text, _)| text)
}

/// The time limit of one frame.
struct Budget {
    start: Instant,
    limit: Option<Duration>,
    /// Seconds per pixel of one attempt, measured on the first.
    per_pixel: f64,
}

impl Budget {
    /// Learn from an attempt over `pixels` pixels (weighted) that started at `since`: the
    /// slowest rate seen predicts the next attempts.
    fn learn(&mut self, since: Instant, pixels: f64) {
        self.per_pixel = self
            .per_pixel
            .max(since.elapsed().as_secs_f64() / pixels.max(1.0));
    }

    /// Whether an attempt over `pixels` pixels (weighted) would still end within the limit.
    fn allows(&self, pixels: f64) -> bool {
        self.limit.is_none_or(|limit| {
            self.start.elapsed().as_secs_f64() + self.per_pixel * pixels <= limit.as_secs_f64()
        })
    }
}

/// [`decode_luma`] with an optional time budget, also naming the attempt that read the code
/// (for the benchmark).
pub fn decode_ladder(img: GrayImage, budget: Option<Duration>) -> Option<(String, &'static str)> {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return None;
    }
    let mut budget = Budget {
        start: Instant::now(),
        limit: budget,
        per_pixel: 0.0,
    };
    let work = downscale(&img, WORK_SIDE);
    let scaled = work.dimensions() != img.dimensions();
    let (full_px, work_px) = (
        f64::from(w) * f64::from(h),
        f64::from(work.width()) * f64::from(work.height()),
    );
    // Finder-pattern groups that did not decode, in working-frame coordinates.
    let mut failed: Vec<[(f64, f64); 4]> = Vec::new();

    if let Some(text) = decode_grey(&work, &mut failed) {
        return Some((text, "scaled, rqrr threshold"));
    }
    budget.per_pixel = budget.start.elapsed().as_secs_f64() / work_px.max(1.0);
    let (fx, fy) = (
        f64::from(w) / f64::from(work.width()),
        f64::from(h) / f64::from(work.height()),
    );
    // Groups found at full resolution, scaled to working-frame coordinates.
    let mut at_full = Vec::new();
    let t = Instant::now();
    if scaled
        && budget.allows(full_px)
        && let Some(text) = decode_grey(&img, &mut at_full)
    {
        return Some((text, "full resolution, rqrr threshold"));
    }
    if scaled {
        budget.learn(t, full_px);
    }
    failed.extend(at_full.iter().map(|q| q.map(|(x, y)| (x / fx, y / fy))));
    let smooth = box_mean(&work, 1);
    if budget.allows(work_px * 1.2) {
        let t = Instant::now();
        let bits = adaptive_threshold(&smooth, false);
        if let Some(text) = decode_bits(&bits, work.width(), work.height(), &mut failed) {
            return Some((text, "scaled, adaptive"));
        }
        budget.learn(t, work_px * 1.2);
    }
    if budget.allows(work_px * 1.2) {
        let t = Instant::now();
        let bits = adaptive_threshold(&smooth, true);
        if let Some(text) = decode_bits(&bits, work.width(), work.height(), &mut failed) {
            return Some((text, "scaled, adaptive, inverted"));
        }
        budget.learn(t, work_px * 1.2);
    }
    if scaled && budget.allows(full_px * 1.2) {
        // A small code far away: the full-resolution frame, without smoothing.
        let t = Instant::now();
        let bits = adaptive_threshold(&img, false);
        let mut at_full = Vec::new();
        if let Some(text) = decode_bits(&bits, w, h, &mut at_full) {
            return Some((text, "full resolution, adaptive"));
        }
        failed.extend(at_full.iter().map(|q| q.map(|(x, y)| (x / fx, y / fy))));
        budget.learn(t, full_px * 1.2);
    }
    if budget.allows(work_px * 1.3) {
        let t = Instant::now();
        let bits = adaptive_threshold(&box_mean(&work, 2), false);
        if let Some(text) = decode_bits(&bits, work.width(), work.height(), &mut failed) {
            return Some((text, "scaled, 5x5 denoise, adaptive"));
        }
        budget.learn(t, work_px * 1.3);
    }
    if budget.allows(full_px * 1.3) {
        let t = Instant::now();
        // Blur (focus, motion): unsharp mask at full resolution.
        let sharp = sharpen(&img);
        let mut at_full = Vec::new();
        if let Some(text) = decode_grey(&sharp, &mut at_full) {
            return Some((text, "full resolution, sharpened"));
        }
        failed.extend(at_full.iter().map(|q| q.map(|(x, y)| (x / fx, y / fy))));
        budget.learn(t, full_px * 1.3);
    }
    let mut tried: Vec<[(f64, f64); 4]> = Vec::new();
    if let Some(text) = decode_crops(&img, &failed, (fx, fy), &mut tried, &mut budget) {
        return Some((text, "crop"));
    }
    for degrees in [15.0, -15.0, 90.0] {
        if !budget.allows(work_px * 1.8) {
            break;
        }
        let t = Instant::now();
        let turned = rotate(&smooth, degrees, 255);
        let bits = adaptive_threshold(&turned, false);
        let mut ignored = Vec::new();
        if let Some(text) = decode_bits(&bits, turned.width(), turned.height(), &mut ignored) {
            return Some((text, "rotated"));
        }
        budget.learn(t, work_px * 1.8);
    }
    None
}

/// The first decoded text of the grids found, preferring one that looks like a pass;
/// records the corners of grids that were found but did not decode.
fn first_text<G: rqrr::BitGrid>(
    grids: Vec<rqrr::Grid<G>>,
    failed: &mut Vec<[(f64, f64); 4]>,
) -> Option<String> {
    let mut first = None;
    for grid in grids {
        match grid.decode() {
            Ok((_, text)) => {
                if text.starts_with(QR_PREFIX) {
                    return Some(text);
                }
                first.get_or_insert(text);
            }
            Err(_) => failed.push(grid.bounds.map(|p| (f64::from(p.x), f64::from(p.y)))),
        }
    }
    first
}

/// `rqrr` with its own (row moving-average) threshold.
fn decode_grey(img: &GrayImage, failed: &mut Vec<[(f64, f64); 4]>) -> Option<String> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        raw.get(y * w + x).copied().unwrap_or(255)
    });
    first_text(prepared.detect_grids(), failed)
}

/// `rqrr` on a bitmap of ours (`true` is dark).
fn decode_bits(bits: &[bool], w: u32, h: u32, failed: &mut Vec<[(f64, f64); 4]>) -> Option<String> {
    let w = w as usize;
    let mut prepared = rqrr::PreparedImage::prepare_from_bitmap(w, h as usize, |x, y| {
        bits.get(y * w + x).copied().unwrap_or(false)
    });
    first_text(prepared.detect_grids(), failed)
}

/// Retry up to [`MAX_CROPS`] regions around `quads` (scaled by `scale` to full-resolution
/// coordinates) not tried yet.
fn decode_crops(
    img: &GrayImage,
    quads: &[[(f64, f64); 4]],
    scale: (f64, f64),
    tried: &mut Vec<[(f64, f64); 4]>,
    budget: &mut Budget,
) -> Option<String> {
    let scaled: Vec<[(f64, f64); 4]> = quads
        .iter()
        .map(|q| q.map(|(x, y)| (x * scale.0, y * scale.1)))
        .collect();
    for quad in dedup_quads(&scaled) {
        if tried.len() >= MAX_CROPS {
            break;
        }
        if tried.iter().any(|t| near(t, &quad)) {
            continue;
        }
        tried.push(quad);
        if let Some(text) = decode_crop(img, &quad, budget) {
            return Some(text);
        }
    }
    None
}

fn centre(q: &[(f64, f64); 4]) -> (f64, f64) {
    (
        q.iter().map(|p| p.0).sum::<f64>() / 4.0,
        q.iter().map(|p| p.1).sum::<f64>() / 4.0,
    )
}

/// Two quads with centres within a few pixels of each other.
fn near(a: &[(f64, f64); 4], b: &[(f64, f64); 4]) -> bool {
    let (ca, cb) = (centre(a), centre(b));
    (ca.0 - cb.0).abs() + (ca.1 - cb.1).abs() <= 8.0
}

/// Drop quads near an earlier one.
fn dedup_quads(quads: &[[(f64, f64); 4]]) -> Vec<[(f64, f64); 4]> {
    let mut out: Vec<[(f64, f64); 4]> = Vec::new();
    for q in quads {
        if !out.iter().any(|o| near(o, q)) {
            out.push(*q);
        }
    }
    out
}

/// The region around `quad` (full-resolution coordinates) with a margin of a quarter of
/// its size, scaled up 2× when small, tried as grey and through the adaptive threshold.
fn decode_crop(img: &GrayImage, quad: &[(f64, f64); 4], budget: &mut Budget) -> Option<String> {
    let (min_x, max_x) = quad
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (min_y, max_y) = quad
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let margin = (max_x - min_x).max(max_y - min_y) / 4.0 + 8.0;
    let clamp = |v: f64, hi: u32| v.clamp(0.0, f64::from(hi)) as u32;
    let (x0, y0) = (
        clamp(min_x - margin, img.width()),
        clamp(min_y - margin, img.height()),
    );
    let (x1, y1) = (
        clamp(max_x + margin, img.width()),
        clamp(max_y + margin, img.height()),
    );
    if x1 <= x0 + 16 || y1 <= y0 + 16 {
        return None;
    }
    let crop = image::imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image();
    let crop = if crop.width().max(crop.height()) < 800 {
        image::imageops::resize(
            &crop,
            crop.width() * 2,
            crop.height() * 2,
            image::imageops::FilterType::Triangle,
        )
    } else {
        crop
    };
    let mut ignored = Vec::new();
    let px = f64::from(crop.width()) * f64::from(crop.height());
    if !budget.allows(px) {
        return None;
    }
    let t = Instant::now();
    if let Some(text) = decode_grey(&crop, &mut ignored) {
        return Some(text);
    }
    budget.learn(t, px);
    if !budget.allows(px * 1.2) {
        return None;
    }
    let bits = adaptive_threshold(&box_mean(&crop, 1), false);
    decode_bits(&bits, crop.width(), crop.height(), &mut ignored)
}

/// Scale down by the smallest whole factor that brings the long side to at most `max_side`,
/// each output pixel the mean of a factor × factor block (fast, and it smooths sensor
/// noise); a copy when the image is small enough already.
pub fn downscale(img: &GrayImage, max_side: u32) -> GrayImage {
    let (w, h) = img.dimensions();
    let long = w.max(h);
    if long <= max_side || max_side == 0 {
        return img.clone();
    }
    let k = long.div_ceil(max_side);
    let (nw, nh) = ((w / k).max(1), (h / k).max(1));
    let (ku, wu) = (k as usize, w as usize);
    let raw = img.as_raw();
    let mut out = vec![0u8; nw as usize * nh as usize];
    let mut row = vec![0u32; nw as usize];
    for oy in 0..nh as usize {
        row.fill(0);
        for y in oy * ku..((oy + 1) * ku).min(h as usize) {
            let line = &raw[y * wu..(y + 1) * wu];
            for (ox, acc) in row.iter_mut().enumerate() {
                *acc += line[ox * ku..(ox + 1) * ku]
                    .iter()
                    .map(|&v| u32::from(v))
                    .sum::<u32>();
            }
        }
        for (ox, acc) in row.iter().enumerate() {
            out[oy * nw as usize + ox] = u8::try_from(acc / (k * k)).unwrap_or(u8::MAX);
        }
    }
    GrayImage::from_raw(nw, nh, out).unwrap_or_else(|| img.clone())
}

/// Summed-area table with a zero first row and column: `(w + 1) * (h + 1)` entries.
fn integral(img: &GrayImage) -> Vec<u32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let mut sum = vec![0u32; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0u32;
        for x in 0..w {
            row += u32::from(raw[y * w + x]);
            sum[(y + 1) * (w + 1) + x + 1] = sum[y * (w + 1) + x + 1] + row;
        }
    }
    sum
}

/// The mean over the window of radius `r` around each pixel (clipped at the edges).
fn window_means(img: &GrayImage, r: usize, mut each: impl FnMut(usize, u8, u32)) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let sum = integral(img);
    let raw = img.as_raw();
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let total = sum[y1 * (w + 1) + x1] + sum[y0 * (w + 1) + x0]
                - sum[y0 * (w + 1) + x1]
                - sum[y1 * (w + 1) + x0];
            let n = ((x1 - x0) * (y1 - y0)) as u32;
            each(y * w + x, raw[y * w + x], total / n.max(1));
        }
    }
}

/// Mean filter of radius `r` (3×3 for 1, 5×5 for 2).
pub fn box_mean(img: &GrayImage, r: usize) -> GrayImage {
    let mut out = vec![0u8; img.as_raw().len()];
    window_means(img, r, |i, _, mean| {
        out[i] = u8::try_from(mean).unwrap_or(u8::MAX);
    });
    GrayImage::from_raw(img.width(), img.height(), out).unwrap_or_else(|| img.clone())
}

/// Unsharp mask: each pixel pushed away from the 5×5 mean around it (twice the difference).
pub fn sharpen(img: &GrayImage) -> GrayImage {
    let mut out = vec![0u8; img.as_raw().len()];
    window_means(img, 2, |i, v, mean| {
        let v = i32::from(v);
        let m = i32::try_from(mean).unwrap_or(255);
        out[i] = u8::try_from((v + 2 * (v - m)).clamp(0, 255)).unwrap_or(u8::MAX);
    });
    GrayImage::from_raw(img.width(), img.height(), out).unwrap_or_else(|| img.clone())
}

/// Adaptive threshold: a pixel is dark when it is at least 5% darker than the mean of the
/// window around it (a window of about a sixteenth of the long side, at least 17 px); flat
/// dark areas stay dark. With `invert`, light is dark (dark-mode screenshots).
pub fn adaptive_threshold(img: &GrayImage, invert: bool) -> Vec<bool> {
    let r = (img.width().max(img.height()) as usize / 32).max(8);
    let mut bits = vec![false; img.as_raw().len()];
    window_means(img, r, |i, v, mean| {
        let (v, mean) = if invert {
            (255 - u32::from(v), 255u32.saturating_sub(mean))
        } else {
            (u32::from(v), mean)
        };
        bits[i] = v * 100 <= mean * 95;
    });
    bits
}

/// `img` rotated by `degrees` (counter-clockwise) about its centre, on a canvas large
/// enough for the whole of it, the corners filled with `fill`; bilinear sampling.
pub fn rotate(img: &GrayImage, degrees: f64, fill: u8) -> GrayImage {
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    let (s, c) = degrees.to_radians().sin_cos();
    let nw = (w * c.abs() + h * s.abs()).ceil().max(1.0) as u32;
    let nh = (w * s.abs() + h * c.abs()).ceil().max(1.0) as u32;
    let (cx, cy) = (w / 2.0, h / 2.0);
    let (ncx, ncy) = (f64::from(nw) / 2.0, f64::from(nh) / 2.0);
    GrayImage::from_fn(nw, nh, |x, y| {
        let (dx, dy) = (f64::from(x) + 0.5 - ncx, f64::from(y) + 0.5 - ncy);
        let sx = c * dx - s * dy + cx - 0.5;
        let sy = s * dx + c * dy + cy - 0.5;
        Luma([sample(img, sx, sy, fill)])
    })
}

/// Bilinear sample of `img` at (`x`, `y`); `fill` outside.
pub fn sample(img: &GrayImage, x: f64, y: f64, fill: u8) -> u8 {
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as i64, y0 as i64);
    let px = |xx: i64, yy: i64| -> f64 {
        if xx < 0 || yy < 0 || xx >= w || yy >= h {
            f64::from(fill)
        } else {
            f64::from(img.as_raw()[(yy * w + xx) as usize])
        }
    };
    let top = px(x0, y0) * (1.0 - fx) + px(x0 + 1, y0) * fx;
    let bottom = px(x0, y0 + 1) * (1.0 - fx) + px(x0 + 1, y0 + 1) * fx;
    (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
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
    fn downscale_keeps_the_aspect_and_small_images() {
        let img = GrayImage::from_pixel(3200, 1000, Luma([120]));
        // A whole factor (3 here): 1066 × 333.
        assert_eq!(downscale(&img, 1280).dimensions(), (1066, 333));
        let small = GrayImage::from_pixel(300, 200, Luma([120]));
        assert_eq!(downscale(&small, 1280).dimensions(), (300, 200));
    }

    #[test]
    fn adaptive_threshold_follows_uneven_light() {
        // A dark dot on a bright left half and one on a dim right half.
        let mut img = GrayImage::from_fn(400, 100, |x, _| Luma([if x < 200 { 220 } else { 60 }]));
        img.put_pixel(50, 50, Luma([150]));
        img.put_pixel(350, 50, Luma([30]));
        let bits = adaptive_threshold(&img, false);
        assert!(bits[50 * 400 + 50] && bits[50 * 400 + 350]);
        assert!(!bits[10 * 400 + 10] && !bits[90 * 400 + 390] && !bits[50 * 400 + 100]);
    }

    #[test]
    fn rotated_and_noisy_codes_decode() {
        let code = render("PG:ROTATED", 6, 0, 255);
        let turned = rotate(&code, 30.0, 255);
        assert!(turned.width() > code.width());
        assert_eq!(decode_luma(turned).as_deref(), Some("PG:ROTATED"));
        let mut seed = 7u32;
        let noisy = GrayImage::from_fn(code.width(), code.height(), |x, y| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let n = i32::from((seed >> 24) as u8) - 128;
            Luma([(i32::from(code.get_pixel(x, y).0[0]) + n).clamp(0, 255) as u8])
        });
        assert_eq!(decode_luma(noisy).as_deref(), Some("PG:ROTATED"));
    }

    #[test]
    fn empty_and_tiny_images_are_not_a_panic() {
        assert_eq!(decode_luma(GrayImage::new(0, 0)), None);
        assert_eq!(decode_luma(GrayImage::new(1, 1)), None);
        assert_eq!(decode_luma(GrayImage::new(3, 2000)), None);
    }
}
