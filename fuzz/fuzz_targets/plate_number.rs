//! Plates, pass numbers, division codes, crew names, ID numbers, unified social credit codes
//! and risk-person subjects (docs/fuzzing.md).
//!
//! The input, as UTF-8 (or, when it is not, with invalid bytes replaced), goes to every
//! parser of typed text. What they accept must be stable: parsing a value's own text gives
//! the value back, the JSON form reads back, and the parts the pass codec stores (province
//! index, ASCII tail, 6 + 6 digits) are what the codec expects.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passgate_server::privacy::validate_id_number;
use passgate_shared::pass::{DivisionCode, MaskedName, PROVINCES, PassNumber, Plate};
use passgate_shared::reporting::{CreditCode, check_risk_subject};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let s: &str = &text;

    if let Ok(p) = Plate::parse(s) {
        assert_eq!(Plate::parse(p.as_str()).as_ref(), Ok(&p));
        let tail = p.tail();
        assert!(
            tail.is_ascii() && (tail.len() == 6 || tail.len() == 7),
            "{p:?}"
        );
        let province = PROVINCES[usize::from(p.province_index())];
        assert_eq!(format!("{province}{tail}"), p.as_str());
        let json = serde_json::to_string(&p).expect("a plate serialises");
        assert_eq!(serde_json::from_str::<Plate>(&json).ok(), Some(p));
    }

    if let Ok(n) = PassNumber::parse(s) {
        let t = n.to_string();
        assert_eq!(t.len(), 12);
        assert_eq!(PassNumber::parse(&t), Ok(n));
        assert_eq!(PassNumber::new(n.area(), n.serial()), Ok(n));
        assert_eq!(PassNumber::from_u64(n.get()), Some(n));
    }

    if let Ok(d) = DivisionCode::parse(s) {
        assert_eq!(DivisionCode::parse(&d.to_string()), Ok(d));
    }

    if let Ok(m) = MaskedName::mask(s) {
        // What the server masks must be what the pass codec accepts.
        assert_eq!(MaskedName::parse(m.as_str()).as_ref(), Ok(&m));
        assert!(m.as_str().len() <= usize::from(u8::MAX));
    }
    if let Ok(m) = MaskedName::parse(s) {
        assert!(m.as_str().len() <= usize::from(u8::MAX));
    }

    if let Ok(id) = validate_id_number(s) {
        assert_eq!(validate_id_number(&id).as_ref(), Ok(&id));
    }

    if let Ok(c) = CreditCode::parse(s) {
        // Canonical: 18 ASCII characters, upper case, and its own text parses back to it,
        // through JSON too (the enterprise registry stores it that way).
        assert_eq!(c.as_str().len(), 18);
        assert_eq!(c.as_str(), c.as_str().to_ascii_uppercase());
        assert_eq!(CreditCode::parse(c.as_str()).as_ref(), Ok(&c));
        let json = serde_json::to_string(&c).expect("a credit code serialises");
        assert_eq!(serde_json::from_str::<CreditCode>(&json).ok(), Some(c));
    } else if let Err(e) = CreditCode::parse(s) {
        assert!(!e.to_string().is_empty());
    }

    if let Ok(subject) = check_risk_subject(s) {
        assert_eq!(check_risk_subject(&subject).as_ref(), Ok(&subject));
    }
});
