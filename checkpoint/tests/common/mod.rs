//! Helpers shared by the integration tests: a bundle and passes signed with the reference
//! test key, valid around the real clock, and a data directory set up without a server.

#![allow(dead_code)]

use std::path::Path;

use passgate_shared::bundle::RevocationSet;
use passgate_shared::codec::sign_to_text;
use passgate_shared::vectors::{sample_passes, test_key};
use passgate_shared::{
    Bundle, CheckpointId, CheckpointInfo, EnterpriseId, IssuerKey, KeyId, KeyStatus, Minute, Pass,
    Policy, Validity,
};

pub const BIN: &str = env!("CARGO_BIN_EXE_passgate-checkpoint");

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Checkpoint 3 is on the long-haul sample route, inside the zone, enterprise 1's gate;
/// checkpoint 4 is not on the route.
pub fn bundle(version: u64) -> Bundle {
    Bundle {
        version,
        generated_at: now() - 3600,
        keys: vec![IssuerKey {
            id: KeyId(1),
            public: test_key().verifying_key(),
            status: KeyStatus::Active,
            not_before: None,
            not_after: None,
        }],
        revoked: RevocationSet::new(),
        policy: Policy::default(),
        checkpoints: vec![
            CheckpointInfo {
                id: CheckpointId(3),
                name: "东门卡口".into(),
                inside_zone: true,
                enterprise_id: Some(EnterpriseId(1)),
            },
            CheckpointInfo {
                id: CheckpointId(4),
                name: "西门卡口".into(),
                inside_zone: true,
                enterprise_id: None,
            },
        ],
    }
}

/// Sample pass `i` (0 long-haul, 1 short-haul, 2 load-unload-leave), valid from an hour
/// ago for a day.
pub fn pass(i: usize) -> Pass {
    let mut p = sample_passes()[i].clone();
    let from = Minute::from_unix(now() - 3600).unwrap();
    p.validity = Validity::new(from, Minute(from.0 + 24 * 60)).unwrap();
    p
}

pub fn text(i: usize) -> String {
    sign_to_text(&pass(i), &test_key()).unwrap()
}

/// A data directory initialised as `checkpoint` with `bundle`, without a server.
pub async fn init_dir(dir: &Path, server: &str, checkpoint: u32, bundle: &Bundle) {
    let store = passgate_checkpoint::Store::create(dir).await.unwrap();
    store
        .save_init(server, "test-token", CheckpointId(checkpoint), bundle)
        .await
        .unwrap();
    store.close().await;
}

/// Render `text` as a QR code into a greyscale image: `module` pixels per module, a
/// 4-module quiet zone, `dark` modules on `light` background.
pub fn render_qr(text: &str, module: u32, dark: u8, light: u8) -> image::GrayImage {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let width = code.width() as u32;
    let side = (width + 8) * module;
    let mut img = image::GrayImage::from_pixel(side, side, image::Luma([light]));
    for (i, c) in code.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (mx, my) = (i as u32 % width + 4, i as u32 / width + 4);
            for dy in 0..module {
                for dx in 0..module {
                    img.put_pixel(mx * module + dx, my * module + dy, image::Luma([dark]));
                }
            }
        }
    }
    img
}
