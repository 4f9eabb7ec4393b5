//! `verify --image`: QR codes from PNG and JPEG files, through the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};

use common::{BIN, bundle, enrol_dir, render_qr, text};

fn verify_image(dir: &std::path::Path, image: &std::path::Path) -> Output {
    Command::new(BIN)
        .args(["verify", "--json", "--image"])
        .arg(image)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap()
}

async fn total(dir: &std::path::Path) -> u64 {
    let store = passgate_checkpoint::Store::open(dir).await.unwrap();
    let n = store.counts().await.unwrap().total;
    store.close().await;
    n
}

#[tokio::test]
async fn png_and_jpeg_passes_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gate");
    enrol_dir(&dir, "http://127.0.0.1:9", 3, &bundle(1)).await;

    let png = tmp.path().join("pass.png");
    render_qr(&text(0), 8, 0, 255).save(&png).unwrap();
    let out = verify_image(&dir, &png);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["accepted"], true);
    assert_eq!(v["number"], "419001000001");

    // A JPEG photo: the code small in a large, low-contrast frame (the fallback may downscale it).
    let code = render_qr(&text(1), 6, 90, 170);
    let mut photo = image::GrayImage::from_pixel(3000, 2200, image::Luma([150]));
    image::imageops::overlay(&mut photo, &code, 1100, 700);
    let jpg = tmp.path().join("photo.jpg");
    photo.save(&jpg).unwrap();
    let out = verify_image(&dir, &jpg);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["class"], "short_haul");
    assert_eq!(total(&dir).await, 2);
}

#[tokio::test]
async fn images_without_a_code_record_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gate");
    enrol_dir(&dir, "http://127.0.0.1:9", 3, &bundle(1)).await;

    let blank = tmp.path().join("blank.png");
    image::GrayImage::from_pixel(400, 300, image::Luma([255]))
        .save(&blank)
        .unwrap();
    let out = verify_image(&dir, &blank);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no readable QR code"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"], "no_qr_found");

    let not_image = tmp.path().join("notes.png");
    std::fs::write(&not_image, "hello").unwrap();
    let out = verify_image(&dir, &not_image);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read image"));

    let out = verify_image(&dir, &tmp.path().join("missing.png"));
    assert_eq!(out.status.code(), Some(2));

    assert_eq!(total(&dir).await, 0);
}
