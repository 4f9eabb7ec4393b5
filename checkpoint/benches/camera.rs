//! Camera decoding (issue 7): the decode success rate and time per 1920×1080 frame, without
//! and with the preprocessing of `passgate_checkpoint::qr`, on one generated image set in
//! the same run.
//!
//! The set is generated here from the real renderer's recipe (the server's `qr.rs`: the
//! `qrcode` crate at error-correction level Q, a 4-module quiet zone) for the three sample
//! passes, signed with the test key, each code printed on paper and placed in a camera frame,
//! then degraded: rotation, perspective, blur, noise, low contrast and uneven light, JPEG at
//! quality 30, a small code far away, and combinations.
//!
//! ```text
//! cargo bench -p passgate-checkpoint --bench camera
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::needless_range_loop)]

use std::time::Instant;

use image::codecs::jpeg::JpegEncoder;
use image::{GrayImage, Luma};
use passgate_checkpoint::qr::{CAMERA_BUDGET, decode_ladder, decode_plain, sample};
use passgate_shared::codec::sign_to_text;
use passgate_shared::vectors::{sample_passes, test_key};
use qrcode::{Color, EcLevel, QrCode};

const W: u32 = 1920;
const H: u32 = 1080;
const QUIET_ZONE: u32 = 4;

/// The server's rendering: level Q, 4-module quiet zone, `module` px per module.
fn render(text: &str, module: u32) -> GrayImage {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::Q).unwrap();
    let n = code.width() as u32;
    let colors = code.to_colors();
    let size = (n + 2 * QUIET_ZONE) * module;
    GrayImage::from_fn(size, size, |x, y| {
        let (mx, my) = (x / module, y / module);
        let dark = mx >= QUIET_ZONE
            && my >= QUIET_ZONE
            && mx < n + QUIET_ZONE
            && my < n + QUIET_ZONE
            && colors[((my - QUIET_ZONE) * n + (mx - QUIET_ZONE)) as usize] == Color::Dark;
        Luma([if dark { 0 } else { 255 }])
    })
}

/// A small deterministic generator (no extra dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal, mean 0, standard deviation 1 (sum of 12 uniforms).
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.next()).sum::<f64>() - 6.0
    }
}

/// The homography taking `from[i]` to `to[i]` (Gaussian elimination on the 8×8 system).
fn homography(from: [(f64, f64); 4], to: [(f64, f64); 4]) -> [f64; 9] {
    let mut a = [[0.0f64; 9]; 8];
    for i in 0..4 {
        let ((x, y), (u, v)) = (from[i], to[i]);
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    for col in 0..8 {
        let pivot = (col..8)
            .max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs()))
            .unwrap();
        a.swap(col, pivot);
        for r in 0..8 {
            if r != col {
                let f = a[r][col] / a[col][col];
                for c in col..9 {
                    a[r][c] -= f * a[col][c];
                }
            }
        }
    }
    let h: Vec<f64> = (0..8).map(|r| a[r][8] / a[r][r]).collect();
    [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0]
}

/// The camera's view of the scene: a background with uneven light and clutter, the printed
/// code (paper) with its corners at `quad` in the frame.
fn frame(code: &GrayImage, quad: [(f64, f64); 4], rng: &mut Lcg) -> GrayImage {
    let s = f64::from(code.width());
    // Frame pixel → code pixel.
    let h = homography(quad, [(0.0, 0.0), (s, 0.0), (s, s), (0.0, s)]);
    let clutter: Vec<(u32, u32, u32, u32, u8)> = (0..12)
        .map(|_| {
            (
                (rng.next() * f64::from(W)) as u32,
                (rng.next() * f64::from(H)) as u32,
                20 + (rng.next() * 200.0) as u32,
                20 + (rng.next() * 120.0) as u32,
                (rng.next() * 200.0) as u8,
            )
        })
        .collect();
    GrayImage::from_fn(W, H, |x, y| {
        let (fx, fy) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
        let d = h[6] * fx + h[7] * fy + h[8];
        let (u, v) = (
            (h[0] * fx + h[1] * fy + h[2]) / d,
            (h[3] * fx + h[4] * fy + h[5]) / d,
        );
        if u >= 0.0 && v >= 0.0 && u < s && v < s {
            // Paper: not quite white, ink not quite black.
            let p = f64::from(sample(code, u - 0.5, v - 0.5, 255));
            return Luma([(25.0 + p * (235.0 - 25.0) / 255.0) as u8]);
        }
        for &(cx, cy, cw, ch, c) in &clutter {
            if x >= cx && x < cx + cw && y >= cy && y < cy + ch {
                return Luma([c]);
            }
        }
        Luma([(90.0 + 60.0 * fx / f64::from(W) + 20.0 * fy / f64::from(H)) as u8])
    })
}

/// The corners of a `side`-pixel square centred at (`cx`, `cy`), turned by `degrees`.
fn square(cx: f64, cy: f64, side: f64, degrees: f64) -> [(f64, f64); 4] {
    let (s, c) = degrees.to_radians().sin_cos();
    let r = side / 2.0;
    [(-r, -r), (r, -r), (r, r), (-r, r)].map(|(x, y)| (cx + c * x - s * y, cy + s * x + c * y))
}

/// Separable box blur of radius `r`, `passes` times (three passes ≈ Gaussian).
fn blur(img: &GrayImage, r: i64, passes: usize) -> GrayImage {
    let mut cur = img.clone();
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    for _ in 0..passes {
        for horizontal in [true, false] {
            let src = cur.clone();
            cur = GrayImage::from_fn(src.width(), src.height(), |x, y| {
                let (x, y) = (i64::from(x), i64::from(y));
                let mut sum = 0u32;
                for k in -r..=r {
                    let (sx, sy) = if horizontal {
                        ((x + k).clamp(0, w - 1), y)
                    } else {
                        (x, (y + k).clamp(0, h - 1))
                    };
                    sum += u32::from(src.get_pixel(sx as u32, sy as u32).0[0]);
                }
                Luma([(sum / (2 * r as u32 + 1)) as u8])
            });
        }
    }
    cur
}

fn noise(img: &GrayImage, sigma: f64, rng: &mut Lcg) -> GrayImage {
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        let v = f64::from(img.get_pixel(x, y).0[0]) + sigma * rng.normal();
        Luma([v.clamp(0.0, 255.0) as u8])
    })
}

/// Squeeze the levels into `lo..=hi`, and optionally darken towards the right (uneven light).
fn contrast(img: &GrayImage, lo: f64, hi: f64, dim_right: bool) -> GrayImage {
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        let v = lo + f64::from(img.get_pixel(x, y).0[0]) * (hi - lo) / 255.0;
        let light = if dim_right {
            1.0 - 0.6 * f64::from(x) / f64::from(img.width())
        } else {
            1.0
        };
        Luma([(v * light).clamp(0.0, 255.0) as u8])
    })
}

fn jpeg(img: &GrayImage, quality: u8) -> GrayImage {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(img)
        .unwrap();
    image::load_from_memory(&bytes).unwrap().to_luma8()
}

struct Case {
    name: &'static str,
    frames: Vec<(String, GrayImage)>,
}

fn cases() -> Vec<Case> {
    let texts: Vec<String> = sample_passes()
        .iter()
        .map(|p| sign_to_text(p, &test_key()).unwrap())
        .collect();
    let mut rng = Lcg(0x5eed);
    // (name, module px, rotation degrees, perspective, degrade)
    type Degrade = fn(GrayImage, &mut Lcg) -> GrayImage;
    let specs: Vec<(&'static str, u32, f64, f64, Degrade)> = vec![
        ("clean", 6, 0.0, 0.0, |f, _| f),
        ("rotated 10°", 6, 10.0, 0.0, |f, _| f),
        ("rotated 30°", 6, 30.0, 0.0, |f, _| f),
        ("rotated 45°", 6, 45.0, 0.0, |f, _| f),
        ("rotated 90°", 6, 90.0, 0.0, |f, _| f),
        ("perspective 20%", 6, 0.0, 0.20, |f, _| f),
        ("perspective 35% + 15°", 6, 15.0, 0.35, |f, _| f),
        ("box blur r=2", 6, 0.0, 0.0, |f, _| blur(&f, 2, 1)),
        ("gaussian blur σ≈2.5", 6, 5.0, 0.0, |f, _| blur(&f, 2, 3)),
        ("noise σ=25", 6, 0.0, 0.0, |f, r| noise(&f, 25.0, r)),
        ("noise σ=45", 6, 0.0, 0.0, |f, r| noise(&f, 45.0, r)),
        ("low contrast 110–150", 6, 0.0, 0.0, |f, _| {
            contrast(&f, 110.0, 150.0, false)
        }),
        ("low contrast + uneven light", 6, 0.0, 0.0, |f, _| {
            contrast(&f, 70.0, 170.0, true)
        }),
        ("JPEG q30", 6, 0.0, 0.0, |f, _| jpeg(&f, 30)),
        ("JPEG q30, 4 px modules", 4, 8.0, 0.0, |f, _| jpeg(&f, 30)),
        ("small: 3 px modules", 3, 0.0, 0.0, |f, _| f),
        ("small: 2 px modules", 2, 0.0, 0.0, |f, _| f),
        (
            "rotated 20° + blur + noise + JPEG q30",
            6,
            20.0,
            0.0,
            |f, r| jpeg(&noise(&blur(&f, 1, 2), 15.0, r), 30),
        ),
    ];
    specs
        .into_iter()
        .map(|(name, module, degrees, skew, degrade)| {
            let frames = texts
                .iter()
                .enumerate()
                .map(|(i, text)| {
                    let code = render(text, module);
                    let side = f64::from(code.width());
                    let cx = 560.0 + 400.0 * i as f64 + 40.0 * rng.next();
                    let cy = 500.0 + 60.0 * rng.next();
                    let mut quad = square(cx, cy, side, degrees + 2.0 * rng.next());
                    if skew > 0.0 {
                        // Keystone: the top edge farther away (narrower), the right edge too.
                        let k = side * skew / 2.0;
                        quad[0].0 += k;
                        quad[1].0 -= k;
                        quad[1].1 += k / 2.0;
                        quad[2].1 -= k / 2.0;
                    }
                    let f = frame(&code, quad, &mut rng);
                    (text.clone(), degrade(f, &mut rng))
                })
                .collect();
            Case { name, frames }
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    ok: usize,
    n: usize,
    total_ms: f64,
    max_ms: f64,
    /// The slowest frame that was read.
    max_ok_ms: f64,
    all_ms: Vec<f64>,
}

impl Tally {
    fn add(&mut self, ok: bool, ms: f64) {
        self.n += 1;
        self.ok += usize::from(ok);
        self.total_ms += ms;
        self.max_ms = self.max_ms.max(ms);
        if ok {
            self.max_ok_ms = self.max_ok_ms.max(ms);
        }
        self.all_ms.push(ms);
    }
    fn p95(&self) -> f64 {
        let mut v = self.all_ms.clone();
        v.sort_by(f64::total_cmp);
        v.get((v.len() * 95).div_ceil(100).saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    }
    fn rate(&self) -> f64 {
        100.0 * self.ok as f64 / self.n.max(1) as f64
    }
    fn mean(&self) -> f64 {
        self.total_ms / self.n.max(1) as f64
    }
}

fn main() {
    let t = Instant::now();
    let cases = cases();
    let n: usize = cases.iter().map(|c| c.frames.len()).sum();
    println!(
        "generated {n} frames of {W}×{H} in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // Loading a frame from disk is the same with and without preprocessing: measure it once.
    let mut jpg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpg, 85)
        .encode_image(&cases[0].frames[0].1)
        .unwrap();
    let t = Instant::now();
    for _ in 0..10 {
        std::hint::black_box(image::load_from_memory(&jpg).unwrap().to_luma8());
    }
    println!(
        "loading a 1920×1080 JPEG (q85) as greyscale: {:.1} ms (not in the figures below)",
        t.elapsed().as_secs_f64() * 100.0
    );

    let (mut plain_all, mut pre_all, mut budget_all) =
        (Tally::default(), Tally::default(), Tally::default());
    let mut steps = std::collections::BTreeMap::<&str, usize>::new();
    println!();
    println!(
        "| degradation | frames | rqrr alone | with preprocessing | ms/frame alone (mean / max) | ms/frame preprocessed (mean / max) | 150 ms budget: read, ms/frame (mean / max) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for case in &cases {
        let (mut plain, mut pre, mut budget) =
            (Tally::default(), Tally::default(), Tally::default());
        for (text, img) in &case.frames {
            let t = Instant::now();
            let got = decode_plain(img);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            plain.add(got.as_deref() == Some(text.as_str()), ms);
            plain_all.add(got.as_deref() == Some(text.as_str()), ms);

            let copy = img.clone();
            let t = Instant::now();
            let got = decode_ladder(copy, None).map(|(text, step)| {
                *steps.entry(step).or_insert(0) += 1;
                text
            });
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            pre.add(got.as_deref() == Some(text.as_str()), ms);
            pre_all.add(got.as_deref() == Some(text.as_str()), ms);

            let copy = img.clone();
            let t = Instant::now();
            let got = decode_ladder(copy, Some(CAMERA_BUDGET));
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            let ok = got.is_some_and(|(got, _)| got == *text);
            budget.add(ok, ms);
            budget_all.add(ok, ms);
        }
        println!(
            "| {} | {} | {}/{} | {}/{} | {:.0} / {:.0} | {:.0} / {:.0} | {}/{}, {:.0} / {:.0} |",
            case.name,
            case.frames.len(),
            plain.ok,
            plain.n,
            pre.ok,
            pre.n,
            plain.mean(),
            plain.max_ms,
            pre.mean(),
            pre.max_ms,
            budget.ok,
            budget.n,
            budget.mean(),
            budget.max_ms
        );
    }
    println!(
        "| **all** | {} | **{:.1}%** ({}/{}) | **{:.1}%** ({}/{}) | {:.0} / {:.0} | {:.0} / {:.0} | **{:.1}%** ({}/{}), {:.0} / {:.0} |",
        plain_all.n,
        plain_all.rate(),
        plain_all.ok,
        plain_all.n,
        pre_all.rate(),
        pre_all.ok,
        pre_all.n,
        plain_all.mean(),
        plain_all.max_ms,
        pre_all.mean(),
        pre_all.max_ms,
        budget_all.rate(),
        budget_all.ok,
        budget_all.n,
        budget_all.mean(),
        budget_all.max_ms
    );
    for (name, t) in [
        ("rqrr alone", &plain_all),
        ("with preprocessing", &pre_all),
        ("with preprocessing, 150 ms camera budget", &budget_all),
    ] {
        println!(
            "{name}: {:.1}% ({}/{}), mean {:.0} ms, p95 {:.0} ms, max {:.0} ms, slowest frame read {:.0} ms, {} of {} frames over 150 ms",
            t.rate(),
            t.ok,
            t.n,
            t.mean(),
            t.p95(),
            t.max_ms,
            t.max_ok_ms,
            t.all_ms.iter().filter(|&&ms| ms > 150.0).count(),
            t.n
        );
    }
    println!();
    println!("attempt that read the code (with preprocessing):");
    for (step, n) in &steps {
        println!("- {step}: {n}");
    }
    for (what, t) in [
        ("whole ladder (`verify --image`)", &pre_all),
        ("150 ms camera budget (`scan --camera-dir`)", &budget_all),
    ] {
        let met = t.rate() >= 95.0 && t.mean() <= 150.0;
        println!(
            "FIGURE | camera decoding of {} degraded 1080p frames, {what} | `rqrr` alone: {:.1}%, mean {:.0} ms | **{:.1}%** read, mean {:.0} ms, p95 {:.0} ms, max {:.0} ms | ≥ 95%, ≤ 150 ms | {} |",
            t.n,
            plain_all.rate(),
            plain_all.mean(),
            t.rate(),
            t.mean(),
            t.p95(),
            t.max_ms,
            if met { "yes" } else { "**no**" }
        );
    }
}
