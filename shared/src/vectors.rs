//! Reference passes and the fixed test key behind `docs/pass-format.md`. They are data, not
//! test code, so the documentation generator, benchmarks and other crates' tests share them.

use ed25519_dalek::SigningKey;

use crate::keys::KeyId;
use crate::pass::{
    Cargo, CheckpointId, Crew, DivisionCode, EnterpriseId, MaskedName, Pass, PassClass, PassNumber,
    Plate, Route,
};
use crate::time::{Minute, UnixSeconds, Validity};

/// The test signing key's seed: the bytes 0x00, 0x01, … 0x1f. Never use it for real passes.
pub const TEST_SEED: [u8; 32] = {
    let mut s = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        s[i] = i as u8;
        i += 1;
    }
    s
};

pub fn test_key() -> SigningKey {
    SigningKey::from_bytes(&TEST_SEED)
}

/// 2026-12-01T00:00:00Z (08:00 Beijing time), when the reference passes start.
pub fn issue_time() -> UnixSeconds {
    1_796_083_200
}

fn parsed<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("reference data is invalid: {e:?}"),
    }
}

fn code(s: &str) -> DivisionCode {
    parsed(DivisionCode::parse(s))
}

fn window(days: u32) -> Validity {
    let from = Minute::from_unix(issue_time()).unwrap_or(Minute(0));
    Validity::new(from, Minute(from.0 + days * 24 * 60)).unwrap_or_else(|| panic!("bad window"))
}

/// One reference pass per class, in the order long-haul, short-haul, load-unload-leave.
/// The long-haul one is the size goal's reference: plate, two masked crew names, a route
/// with three checkpoints, 7-day validity, enterprise and cargo.
pub fn sample_passes() -> Vec<Pass> {
    vec![
        Pass {
            number: parsed(PassNumber::parse("419001000001")),
            class: PassClass::LongHaul,
            key_id: KeyId(1),
            validity: window(7),
            plate: parsed(Plate::parse("豫U12345")),
            crew: Crew {
                driver: parsed(MaskedName::parse("张*明")),
                co_driver: Some(parsed(MaskedName::parse("李*"))),
            },
            route: Route {
                origin: code("419001"),
                destination: code("410102"),
                checkpoints: vec![CheckpointId(3), CheckpointId(7), CheckpointId(12)],
            },
            enterprise: EnterpriseId(1),
            cargo: Cargo::ProductionMaterials,
            max_dwell_minutes: None,
        },
        Pass {
            number: parsed(PassNumber::parse("419001000002")),
            class: PassClass::ShortHaul,
            key_id: KeyId(1),
            validity: window(1),
            plate: parsed(Plate::parse("豫UD12345")),
            crew: Crew {
                driver: parsed(MaskedName::parse("王*")),
                co_driver: None,
            },
            route: Route {
                origin: code("419001"),
                destination: code("419001"),
                checkpoints: vec![],
            },
            enterprise: EnterpriseId(2),
            cargo: Cargo::DailyNecessities,
            max_dwell_minutes: None,
        },
        Pass {
            number: parsed(PassNumber::parse("419001000003")),
            class: PassClass::LoadUnloadLeave,
            key_id: KeyId(1),
            validity: window(2),
            plate: parsed(Plate::parse("晋E23456")),
            crew: Crew {
                driver: parsed(MaskedName::parse("赵**华")),
                co_driver: Some(parsed(MaskedName::parse("钱*"))),
            },
            route: Route {
                origin: code("140502"),
                destination: code("419001"),
                checkpoints: vec![],
            },
            enterprise: EnterpriseId(1),
            cargo: Cargo::EpidemicSupplies,
            max_dwell_minutes: Some(120),
        },
    ]
}
