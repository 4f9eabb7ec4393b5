//! QR size per pass class at error-correction level Q, as the server renders passes
//! (`QrCode::with_error_correction_level(text, EcLevel::Q)`, the crate choosing the segment
//! modes). For each class, three passes: the sample pass of the test vectors; a large pass of
//! a large zone (a new-energy plate, two crew names of 6 characters, ids up to 99,999, for
//! long haul 8 checkpoints on the route); and the largest pass the issuing rules allow (names
//! of 20 characters, every id at `u32::MAX`, the most checkpoints a route may list). Goal:
//! version ≤ 9, so a pass printed at 4 cm still has modules of about 0.7 mm.
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

/// A pass of `sample`'s class made large: a new-energy plate, two crew names of
/// `name_chars` characters, every id at `id` or below it, and for long haul `route`
/// checkpoints on the route.
fn grown(sample: &Pass, name_chars: usize, id: u32, route: usize) -> Pass {
    let mut p = sample.clone();
    p.number = PassNumber::parse("659001999999").unwrap();
    p.key_id = KeyId(u8::MAX);
    p.plate = Plate::parse("新AD12345").unwrap();
    let long = "阿卜杜热合曼·买买提艾力江·吐尔逊巴拉提";
    let name = MaskedName::mask(&long.chars().take(name_chars).collect::<String>()).unwrap();
    p.crew = Crew {
        driver: name.clone(),
        co_driver: Some(name),
    };
    p.enterprise = EnterpriseId(id);
    if p.class == PassClass::LongHaul {
        p.route = Route {
            origin: p.route.origin,
            destination: p.route.destination,
            checkpoints: (0..route as u32).map(|i| CheckpointId(id - i)).collect(),
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
    println!(
        "| class | sample pass | large zone: 8 checkpoints, ids ≤ 99,999, 6-character names | largest the rules allow: {MAX_ROUTE_CHECKPOINTS} checkpoints, ids at u32::MAX, 20-character names |"
    );
    println!("|---|---|---|---|");
    for sample in sample_passes() {
        let tiers = [
            sample.clone(),
            grown(&sample, 6, 99_999, 8),
            grown(&sample, 20, u32::MAX, MAX_ROUTE_CHECKPOINTS),
        ];
        let t: Vec<(usize, i16)> = tiers
            .iter()
            .map(|p| {
                let text = sign_to_text(p, &key).unwrap();
                (text.chars().count(), version(&text))
            })
            .collect();
        let class = sample.class.as_str();
        let cell = |(chars, v): (usize, i16)| format!("V{v} ({chars} chars)");
        println!(
            "| {class} | {} | {} | {} |",
            cell(t[0]),
            cell(t[1]),
            cell(t[2])
        );
        let met = |v: i16| if v <= 9 { "yes" } else { "**no**" };
        println!(
            "FIGURE | QR version at level Q, {class}: sample / large zone / largest allowed | — | {} / {} / {} | ≤ 9 | {} / {} / {} |",
            cell(t[0]),
            cell(t[1]),
            cell(t[2]),
            met(t[0].1),
            met(t[1].1),
            met(t[2].1)
        );
    }
}
