//! QR size per pass class at error-correction level Q, as the server renders passes
//! (`QrCode::with_error_correction_level(text, EcLevel::Q)`, the crate choosing the segment
//! modes). For each class: the sample pass of the test vectors, and the largest pass the
//! issuing rules allow (a new-energy plate, two crew names of 20 characters, for long haul
//! the most checkpoints a route may list, and every id at its largest). Goal: version ≤ 9,
//! so a pass printed at 4 cm still has modules of about 0.7 mm.
//!
//! ```text
//! cargo bench -p passgate-shared --bench qr_size
//! ```
//!
//! Prints one `FIGURE |` line per class for `bench/report.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use passgate_shared::codec::sign_to_text;
use passgate_shared::pass::{Crew, MAX_ROUTE_CHECKPOINTS, MaskedName, Route};
use passgate_shared::vectors::{sample_passes, test_key};
use passgate_shared::{CheckpointId, EnterpriseId, KeyId, Pass, PassClass, PassNumber, Plate};
use qrcode::{EcLevel, QrCode, Version};

fn version(text: &str) -> i16 {
    match QrCode::with_error_correction_level(text, EcLevel::Q)
        .unwrap()
        .version()
    {
        Version::Normal(v) | Version::Micro(v) => v,
    }
}

/// The largest pass of `sample`'s class the rules allow.
fn largest(sample: &Pass) -> Pass {
    let mut p = sample.clone();
    p.number = PassNumber::parse("659001999999").unwrap();
    p.key_id = KeyId(u8::MAX);
    p.plate = Plate::parse("新AD123456").unwrap_or_else(|_| Plate::parse("新AD12345").unwrap());
    let long = "阿卜杜热合曼·买买提艾力江·吐尔逊巴拉提";
    let name = MaskedName::mask(&long.chars().take(20).collect::<String>()).unwrap();
    p.crew = Crew {
        driver: name.clone(),
        co_driver: Some(name),
    };
    p.enterprise = EnterpriseId(u32::MAX);
    if p.class == PassClass::LongHaul {
        p.route = Route {
            origin: p.route.origin,
            destination: p.route.destination,
            checkpoints: (0..MAX_ROUTE_CHECKPOINTS as u32)
                .map(|i| CheckpointId(u32::MAX - i))
                .collect(),
        };
    }
    if p.class == PassClass::LoadUnloadLeave {
        p.max_dwell_minutes = Some(passgate_shared::pass::MAX_DWELL_MINUTES);
    }
    p.check().unwrap();
    p
}

fn main() {
    let key = test_key();
    println!("| class | sample pass: chars, version | largest pass: chars, version |");
    println!("|---|---|---|");
    for sample in sample_passes() {
        let big = largest(&sample);
        let (s, b) = (
            sign_to_text(&sample, &key).unwrap(),
            sign_to_text(&big, &key).unwrap(),
        );
        let (vs, vb) = (version(&s), version(&b));
        let class = sample.class.as_str();
        println!(
            "| {class} | {}, V{vs} | {}, V{vb} |",
            s.chars().count(),
            b.chars().count()
        );
        println!(
            "FIGURE | QR version at level Q, {class} | — | sample pass V{vs} ({} chars), largest allowed V{vb} ({} chars) | ≤ 9 | {} |",
            s.chars().count(),
            b.chars().count(),
            if vb <= 9 { "yes" } else { "**no**" }
        );
    }
}
