//! QR rendering for print and screen.

use image::{GrayImage, ImageFormat, Luma};
use qrcode::{Color, EcLevel, QrCode};

/// Quiet zone width in modules (the QR standard asks for 4).
pub const QUIET_ZONE: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the text does not fit in a QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] image::ImageError),
}

/// The QR code of a pass text at error-correction level Q.
pub fn code(text: &str) -> Result<QrCode, QrError> {
    Ok(QrCode::with_error_correction_level(
        text.as_bytes(),
        EcLevel::Q,
    )?)
}

/// A PNG with `module_px` pixels per module and a 4-module quiet zone. At 10 px per module
/// a version-9 code (53 modules + quiet zone) is 610 px: 52 mm at 300 dpi.
pub fn png(text: &str, module_px: u32) -> Result<Vec<u8>, QrError> {
    let code = code(text)?;
    let n = code.width() as u32;
    let colors = code.to_colors();
    let size = (n + 2 * QUIET_ZONE) * module_px;
    let img = GrayImage::from_fn(size, size, |x, y| {
        let (mx, my) = (x / module_px, y / module_px);
        let dark = mx >= QUIET_ZONE
            && my >= QUIET_ZONE
            && mx < n + QUIET_ZONE
            && my < n + QUIET_ZONE
            && colors[((my - QUIET_ZONE) * n + (mx - QUIET_ZONE)) as usize] == Color::Dark;
        Luma([if dark { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// An SVG sized for print: `mm` millimetres wide, quiet zone included.
pub fn svg(text: &str, mm: u32) -> Result<String, QrError> {
    let code = code(text)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(200, 200)
        .build();
    // Give the drawing a physical size; the viewBox keeps the modules crisp.
    let sized = format!(r#"width="{mm}mm" height="{mm}mm" viewBox"#);
    let start = svg.find(" width=\"").map(|i| i + 1);
    let end = svg.find("viewBox");
    Ok(match (start, end) {
        (Some(s), Some(e)) if s < e => {
            format!("{}{}{}", &svg[..s], sized, &svg[e + "viewBox".len()..])
        }
        _ => svg,
    })
}
