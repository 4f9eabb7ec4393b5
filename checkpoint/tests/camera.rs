//! `scan --camera-dir`: a real `passgate-checkpoint` process watches a folder while camera
//! frames rendered like the server renders passes (level Q, 4-module quiet zone) are dropped
//! into it; each pass is scanned once however many frames show it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{BIN, bundle, enrol_dir, now, pass_at, text, text_of};
use image::{GrayImage, Luma};
use qrcode::{Color, EcLevel, QrCode};

/// A 1280×720 camera frame: the pass's code (level Q, 4-module quiet zone, 5 px modules)
/// printed on paper, turned by `degrees`, at (`x`, `y`) on a grey windshield.
fn frame(text: &str, x: i64, y: i64, degrees: f64) -> GrayImage {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::Q).unwrap();
    let n = code.width() as u32;
    let colors = code.to_colors();
    let module = 5;
    let side = (n + 8) * module;
    let img = GrayImage::from_fn(side, side, |px, py| {
        let (mx, my) = (px / module, py / module);
        let dark = mx >= 4
            && my >= 4
            && mx < n + 4
            && my < n + 4
            && colors[((my - 4) * n + (mx - 4)) as usize] == Color::Dark;
        Luma([if dark { 20 } else { 235 }])
    });
    let img = passgate_checkpoint::qr::rotate(&img, degrees, 235);
    let mut photo = GrayImage::from_fn(1280, 720, |px, _| Luma([(100 + px / 20) as u8]));
    image::imageops::overlay(&mut photo, &img, x, y);
    photo
}

/// Write the frame under a temporary name, then rename it (as a camera uploading by FTP
/// does), and give the watcher time to see it on its own.
fn drop_frame(dir: &Path, name: &str, img: &GrayImage) {
    drop_frame_at(dir, name, img, None);
}

/// [`drop_frame`] with the file time the camera would have given it, set before the frame
/// appears, so the repeat window sees the time of the shot and not how long a loaded machine
/// took to encode the image.
fn drop_frame_at(dir: &Path, name: &str, img: &GrayImage, shot_at: Option<std::time::SystemTime>) {
    let tmp = dir.join(format!("{name}.part"));
    let format = if name.ends_with(".jpg") {
        image::ImageFormat::Jpeg
    } else {
        image::ImageFormat::Png
    };
    img.save_with_format(&tmp, format).unwrap();
    if let Some(t) = shot_at {
        std::fs::File::options()
            .write(true)
            .open(&tmp)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
    std::fs::rename(&tmp, dir.join(name)).unwrap();
    std::thread::sleep(Duration::from_millis(400));
}

/// The watcher and the lines it has written to stderr so far.
struct Watcher {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

/// Start the watcher and wait until it says it is watching.
fn start(data: &Path, cam: &Path, extra: &[&str]) -> Watcher {
    start_with(data, cam, &["--json"], extra)
}

/// [`start`] with the output options given (`--json` or none).
fn start_with(data: &Path, cam: &Path, output: &[&str], extra: &[&str]) -> Watcher {
    let mut child = Command::new(BIN)
        .arg("scan")
        .args(output)
        .arg("--camera-dir")
        .arg(cam)
        .arg("--data-dir")
        .arg(data)
        // Debug builds decode ~10× slower than release: no budget here.
        .args(["--decode-budget-ms", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let pipe = child.stderr.take().unwrap();
    let sink = Arc::clone(&stderr);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let line = line.unwrap();
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !stderr.lock().unwrap().contains("监视相机目录")
        && !stderr.lock().unwrap().contains("watching camera folder")
    {
        assert!(Instant::now() < deadline, "the watcher did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Watcher {
        child,
        stderr,
        reader,
    }
}

/// Wait for the process to stop on its own (killed after two minutes), return its stdout
/// verdicts and its stderr.
fn finish(watcher: Watcher) -> (Vec<serde_json::Value>, String) {
    let (out, err) = finish_raw(watcher);
    let verdicts = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (verdicts, err)
}

/// Wait for the process to stop on its own, return its stdout and stderr.
fn finish_raw(watcher: Watcher) -> (String, String) {
    let Watcher {
        mut child,
        stderr,
        reader,
    } = watcher;
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the camera watcher did not stop");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    reader.join().unwrap();
    let err = stderr.lock().unwrap().clone();
    assert!(status.success(), "{status}: {out}\n{err}");
    (out, err)
}

async fn numbers_logged(data: &Path) -> Vec<Option<String>> {
    let store = passgate_checkpoint::Store::open(data).await.unwrap();
    let rows = store.records(1, u32::MAX).await.unwrap();
    store.close().await;
    rows.into_iter()
        .map(|r| r.record.number.map(|n| n.to_string()))
        .collect()
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("gate");
    let cam = tmp.path().join("camera");
    std::fs::create_dir(&cam).unwrap();
    (tmp, data, cam)
}

#[tokio::test]
async fn camera_frames_scan_each_pass_once() {
    let (_tmp, data, cam) = setup();
    enrol_dir(&data, "http://127.0.0.1:9", 3, &bundle(1)).await;
    let expired = text_of(&pass_at(2, now() - 48 * 3600, 1));

    // A frame left over from before the watcher started is not scanned.
    drop_frame(&cam, "0000.png", &frame(&text(2), 300, 100, 0.0));
    // The window is wide so that the three frames of pass 0 count as one truck however slowly a
    // loaded machine writes them (the window compares the frames' file times).
    let child = start(
        &data,
        &cam,
        &["--max-frames", "6", "--repeat-window", "120"],
    );
    // Six frames into an empty folder: pass 0 three times (PNG, a JPEG from another angle, a PNG), a frame without
    // a code, pass 1, and an expired pass.
    drop_frame(&cam, "0001.png", &frame(&text(0), 300, 100, 0.0));
    drop_frame(&cam, "0002.jpg", &frame(&text(0), 420, 140, 8.0));
    drop_frame(&cam, "0003.png", &frame(&text(0), 380, 90, -5.0));
    drop_frame(
        &cam,
        "0004.png",
        &GrayImage::from_pixel(1280, 720, Luma([120])),
    );
    drop_frame(&cam, "0005.jpg", &frame(&text(1), 500, 120, 3.0));
    drop_frame(&cam, "0006.png", &frame(&expired, 200, 200, 0.0));
    let (verdicts, err) = finish(child);

    let got: Vec<(String, bool)> = verdicts
        .iter()
        .map(|v| {
            (
                v["number"].as_str().unwrap().to_owned(),
                v["accepted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("419001000001".to_owned(), true),
            ("419001000002".to_owned(), true),
            ("419001000003".to_owned(), false),
        ],
        "{err}"
    );
    assert_eq!(verdicts[2]["reason"], "expired");
    assert!(err.contains("已有 1 张旧画面"), "{err}");
    assert_eq!(err.matches("不重复记录").count(), 2, "{err}");
    assert_eq!(err.matches("未识别到二维码").count(), 1, "{err}");
    // The durable log holds each pass once.
    assert_eq!(
        numbers_logged(&data).await,
        vec![
            Some("419001000001".to_owned()),
            Some("419001000002".to_owned()),
            Some("419001000003".to_owned()),
        ]
    );
}

#[tokio::test]
async fn the_same_pass_after_the_repeat_window_is_a_new_scan() {
    let (_tmp, data, cam) = setup();
    enrol_dir(&data, "http://127.0.0.1:9", 3, &bundle(1)).await;

    let child = start(
        &data,
        &cam,
        &[
            "--max-frames",
            "3",
            "--repeat-window",
            "1.5",
            "--lang",
            "en",
        ],
    );
    // Shots at 0 s, 0.5 s (inside the window) and 3 s (outside it).
    let shot = std::time::SystemTime::now();
    let at = |ms| Some(shot + Duration::from_millis(ms));
    drop_frame_at(&cam, "a.png", &frame(&text(1), 300, 100, 0.0), at(0));
    drop_frame_at(&cam, "b.png", &frame(&text(1), 320, 110, 2.0), at(500));
    drop_frame_at(&cam, "c.png", &frame(&text(1), 340, 120, -2.0), at(3000));
    let (verdicts, err) = finish(child);

    assert_eq!(verdicts.len(), 2, "{err}");
    assert!(verdicts.iter().all(|v| v["number"] == "419001000002"));
    assert_eq!(err.matches("not scanned again").count(), 1, "{err}");
    assert_eq!(numbers_logged(&data).await.len(), 2);
}

#[test]
fn a_missing_camera_folder_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["scan", "--camera-dir"])
        .arg(tmp.path().join("nope"))
        .arg("--data-dir")
        .arg(tmp.path().join("gate"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn the_guard_reads_the_verdict_as_with_a_scanner() {
    let (_tmp, data, cam) = setup();
    enrol_dir(&data, "http://127.0.0.1:9", 3, &bundle(1)).await;
    let expired = text_of(&pass_at(0, now() - 48 * 3600, 1));

    let child = start_with(&data, &cam, &[], &["--max-frames", "2"]);
    drop_frame(&cam, "a.jpg", &frame(&text(0), 300, 100, 4.0));
    drop_frame(&cam, "b.png", &frame(&expired, 300, 100, 0.0));
    let (out, err) = finish_raw(child);

    let verdicts: Vec<&str> = out.split("\n\n").filter(|b| !b.trim().is_empty()).collect();
    assert_eq!(verdicts.len(), 2, "{out}\n{err}");
    assert_eq!(verdicts[0].lines().next(), Some("放行 ACCEPTED"), "{out}");
    assert!(verdicts[0].contains("豫"), "{out}");
    assert!(verdicts[1].starts_with("拒绝"), "{out}");
}
