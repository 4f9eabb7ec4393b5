//! Print the test-vector data of `docs/pass-format.md` (Markdown).
//!
//! ```text
//! cargo run -p passgate-shared --example pass_vectors
//! ```
//!
//! Everything is computed with the real encoder and signer of `passgate-shared` and the
//! `qrcode` crate: the byte-by-byte annotation below is produced by an independent walk of
//! the documented layout (not by the crate's decoder), so the two cross-check each other.
//! The program stops with an error if the walk and the codec disagree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use passgate_shared::bundle::RevocationSet;
use passgate_shared::codec::{self, SIGNATURE_LEN, VERSION};
use passgate_shared::keys::public_key_b64;
use passgate_shared::pass::PROVINCES;
use passgate_shared::vectors::{TEST_SEED, issue_time, sample_passes, test_key};
use passgate_shared::{
    Bundle, CheckpointId, GateContext, IssuerKey, KeyId, KeyStatus, Pass, PassClass, Policy,
    QR_PREFIX, SIGNATURE_DOMAIN, UnixSeconds, verify,
};
use qrcode::bits::Bits;
use qrcode::{EcLevel, QrCode, QrResult, Version};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `YYYY-MM-DDTHH:MMZ` for a Unix time (proleptic Gregorian, UTC).
fn utc(t: UnixSeconds) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60
    )
}

fn version_number(v: Version) -> i16 {
    match v {
        Version::Normal(n) | Version::Micro(n) => n,
    }
}

/// Smallest normal QR version holding the data pushed by `push` as one segment at level Q,
/// checked by actually building the symbol.
fn min_version(push: impl Fn(&mut Bits) -> QrResult<()>) -> Option<i16> {
    (1..=40).find(|&v| {
        let mut bits = Bits::new(Version::Normal(v));
        push(&mut bits).is_ok()
            && bits.push_terminator(EcLevel::Q).is_ok()
            && QrCode::with_bits(bits, EcLevel::Q).is_ok()
    })
}

/// The QR version the `qrcode` crate picks on its own (mode segmentation optimised).
fn auto_version(data: &[u8]) -> i16 {
    version_number(
        QrCode::with_error_correction_level(data, EcLevel::Q)
            .unwrap()
            .version(),
    )
}

struct QrSizes {
    signed_len: usize,
    b45_chars: usize,
    b45_alnum: i16,
    b45_auto: i16,
    b64_chars: usize,
    b64_byte: i16,
    b64_auto: i16,
    raw_byte: i16,
}

fn qr_sizes(signed: &[u8], text: &str) -> QrSizes {
    let b64 = format!("{QR_PREFIX}{}", B64.encode(signed));
    QrSizes {
        signed_len: signed.len(),
        b45_chars: text.len(),
        b45_alnum: min_version(|b| b.push_alphanumeric_data(text.as_bytes())).unwrap(),
        b45_auto: auto_version(text.as_bytes()),
        b64_chars: b64.len(),
        b64_byte: min_version(|b| b.push_byte_data(b64.as_bytes())).unwrap(),
        b64_auto: auto_version(b64.as_bytes()),
        raw_byte: min_version(|b| b.push_byte_data(signed)).unwrap(),
    }
}

// ---------------------------------------------------------------------------------------
// An independent walk of the documented layout, for the annotated tables.

struct Walk<'a> {
    bytes: &'a [u8],
    pos: usize,
    rows: Vec<(usize, usize, &'static str, String, String)>,
}

impl<'a> Walk<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        s
    }

    fn row(&mut self, start: usize, field: &'static str, value: String) {
        let raw = hex(&self.bytes[start..self.pos]);
        self.rows.push((start, self.pos - start, field, raw, value));
    }

    fn fixed(&mut self, n: usize, field: &'static str, show: impl Fn(u64) -> String) -> u64 {
        let start = self.pos;
        let v = self
            .take(n)
            .iter()
            .fold(0u64, |a, &b| a << 8 | u64::from(b));
        self.row(start, field, show(v));
        v
    }

    fn varint(&mut self, field: &'static str, show: impl Fn(u64) -> String) -> u64 {
        let start = self.pos;
        let mut v = 0u64;
        for i in 0.. {
            let b = self.take(1)[0];
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        self.row(start, field, format!("varint {v}{}", show(v)));
        v
    }

    fn str8(&mut self, field: &'static str) {
        let start = self.pos;
        let n = usize::from(self.take(1)[0]);
        let s = std::str::from_utf8(self.take(n)).unwrap();
        let shown = if s.is_empty() {
            "(none)".to_owned()
        } else {
            format!("\"{s}\"")
        };
        self.row(start, field, format!("len {n}, UTF-8 {shown}"));
    }
}

fn annotate(payload: &[u8]) -> Vec<(usize, usize, &'static str, String, String)> {
    let mut w = Walk {
        bytes: payload,
        pos: 0,
        rows: Vec::new(),
    };
    w.fixed(1, "version", |v| format!("{v}"));
    let class = w.fixed(1, "class", |v| {
        let c = PassClass::from_code(v as u8).unwrap();
        format!("{v} = {} {}", c.as_str(), c.name_zh())
    });
    w.fixed(5, "number (u40 BE)", |v| format!("{v:012}"));
    w.fixed(1, "key_id", |v| format!("{v}"));
    let from = w.fixed(4, "valid_from (u32 BE, minutes since 2020-01-01Z)", |v| {
        format!("{v} = {}", utc(1_577_836_800 + v as i64 * 60))
    });
    w.varint("valid_minutes", |v| {
        format!(
            " → valid_until = {}",
            utc(1_577_836_800 + (from + v) as i64 * 60)
        )
    });
    let start = w.pos;
    let head = w.take(1)[0];
    let province = PROVINCES[usize::from(head & 0x7f)];
    let new_energy = head & 0x80 != 0;
    let tail = std::str::from_utf8(w.take(if new_energy { 7 } else { 6 })).unwrap();
    w.row(
        start,
        "plate",
        format!(
            "index {} = {province}, new-energy {}, tail \"{tail}\" → {province}{tail}",
            head & 0x7f,
            if new_energy { "yes (0x80)" } else { "no" }
        ),
    );
    w.str8("driver (str8)");
    w.str8("co_driver (str8)");
    w.fixed(3, "origin (u24 BE)", |v| format!("{v:06}"));
    w.fixed(3, "destination (u24 BE)", |v| format!("{v:06}"));
    w.varint("enterprise", |_| String::new());
    w.fixed(1, "cargo", |v| {
        let c = passgate_shared::Cargo::from_code(v as u8).unwrap();
        format!("{v} = {} {}", c.as_str(), c.name_zh())
    });
    match PassClass::from_code(class as u8).unwrap() {
        PassClass::LongHaul => {
            let n = w.fixed(1, "checkpoint count", |v| format!("{v}"));
            for _ in 0..n {
                w.varint("checkpoint id", |_| String::new());
            }
        }
        PassClass::LoadUnloadLeave => {
            w.varint("max_dwell_minutes", |_| String::new());
        }
        PassClass::ShortHaul => {}
    }
    assert_eq!(
        w.pos,
        payload.len(),
        "the documented layout does not cover the payload"
    );
    w.rows
}

// ---------------------------------------------------------------------------------------

fn gate_for(pass: &Pass) -> GateContext {
    match pass.class {
        PassClass::LongHaul => GateContext {
            checkpoint: pass.route.checkpoints[0],
            inside_zone: true,
            enterprise: None,
        },
        PassClass::ShortHaul => GateContext {
            checkpoint: CheckpointId(5),
            inside_zone: true,
            enterprise: Some(pass.enterprise),
        },
        PassClass::LoadUnloadLeave => GateContext {
            checkpoint: CheckpointId(8),
            inside_zone: true,
            enterprise: Some(pass.enterprise),
        },
    }
}

fn main() {
    let key = test_key();
    let public = key.verifying_key();
    let now = issue_time() + 3600;
    let bundle = Bundle {
        version: 1,
        generated_at: issue_time(),
        keys: vec![IssuerKey {
            id: KeyId(1),
            public,
            status: KeyStatus::Active,
            not_before: None,
            not_after: None,
        }],
        revoked: RevocationSet::new(),
        policy: Policy::default(),
        checkpoints: vec![],
    };

    println!("<!-- generated by `cargo run -p passgate-shared --example pass_vectors` -->");
    println!();
    println!("### Test key (key id 1)");
    println!();
    println!("| item | value |");
    println!("|---|---|");
    println!("| Ed25519 seed (private, hex) | `{}` |", hex(&TEST_SEED));
    println!("| public key (hex) | `{}` |", hex(public.as_bytes()));
    println!("| public key (base64) | `{}` |", public_key_b64(&public));
    println!("| `SIGNATURE_DOMAIN` (hex) | `{}` |", hex(SIGNATURE_DOMAIN));
    println!(
        "| `SIGNATURE_DOMAIN` (ASCII) | `{}` + NUL ({} bytes) |",
        String::from_utf8_lossy(&SIGNATURE_DOMAIN[..SIGNATURE_DOMAIN.len() - 1]),
        SIGNATURE_DOMAIN.len()
    );
    println!("| format version | {VERSION} |");
    println!(
        "| verified at | {} (Unix {now}), bundle with key 1 active, default policy |",
        utc(now)
    );
    println!();

    let mut sizes = Vec::new();
    for (i, pass) in sample_passes().iter().enumerate() {
        let payload = codec::encode_payload(pass);
        let signed = codec::sign(pass, &key).unwrap();
        let text = codec::encode_text(&signed);
        assert_eq!(codec::sign_to_text(pass, &key).unwrap(), text);
        assert_eq!(&signed[..payload.len()], &payload[..]);
        let signature = &signed[payload.len()..];
        assert_eq!(signature.len(), SIGNATURE_LEN);
        let back = codec::decode_text(&text).unwrap();
        assert_eq!(&back.pass, pass);
        assert!(back.signature_valid(&public));
        let gate = gate_for(pass);
        let verdict = verify(&text, &bundle, &gate, now);
        assert!(verdict.accepted(), "{verdict:?}");

        let q = qr_sizes(&signed, &text);
        println!(
            "### Vector {} — {} ({} / {})",
            i + 1,
            pass.class.as_str(),
            pass.class.name_zh(),
            pass.class.name_en()
        );
        println!();
        println!("Input fields:");
        println!();
        println!("| field | value |");
        println!("|---|---|");
        println!("| number | `{}` |", pass.number);
        println!(
            "| class | `{}` (code {})|",
            pass.class.as_str(),
            pass.class.code()
        );
        println!("| key_id | {} |", pass.key_id);
        println!(
            "| validity | {} → {} ({} minutes) |",
            utc(pass.validity.from().to_unix()),
            utc(pass.validity.until().to_unix()),
            pass.validity.minutes()
        );
        println!("| plate | {} |", pass.plate);
        println!("| driver | {} |", pass.crew.driver);
        println!(
            "| co_driver | {} |",
            pass.crew
                .co_driver
                .as_ref()
                .map_or("(none)".to_owned(), ToString::to_string)
        );
        println!("| origin | {} |", pass.route.origin);
        println!("| destination | {} |", pass.route.destination);
        let cps: Vec<String> = pass
            .route
            .checkpoints
            .iter()
            .map(ToString::to_string)
            .collect();
        println!(
            "| route checkpoints | {} |",
            if cps.is_empty() {
                "(none)".to_owned()
            } else {
                cps.join(", ")
            }
        );
        println!("| enterprise | {} |", pass.enterprise);
        println!(
            "| cargo | `{}` (code {}, {}) |",
            pass.cargo.as_str(),
            pass.cargo.code(),
            pass.cargo.name_zh()
        );
        println!(
            "| max_dwell_minutes | {} |",
            pass.max_dwell_minutes
                .map_or("(none)".to_owned(), |m| m.to_string())
        );
        println!(
            "| accepted at | checkpoint {}, inside zone {}, enterprise gate {} |",
            gate.checkpoint,
            gate.inside_zone,
            gate.enterprise
                .map_or("(none)".to_owned(), |e| e.to_string())
        );
        println!();
        println!("Payload, field by field:");
        println!();
        println!("| offset | size | field | bytes (hex) | value |");
        println!("|---:|---:|---|---|---|");
        for (off, size, field, raw, value) in annotate(&payload) {
            println!("| {off} | {size} | {field} | `{raw}` | {value} |");
        }
        println!();
        println!("```text");
        println!("payload ({} bytes):", payload.len());
        println!("{}", hex(&payload));
        println!(
            "signature input = SIGNATURE_DOMAIN || payload ({} bytes):",
            SIGNATURE_DOMAIN.len() + payload.len()
        );
        println!("{}", hex(&codec::signature_input(&payload)));
        println!("signature (64 bytes):");
        println!("{}", hex(signature));
        println!(
            "QR text ({} characters = \"{QR_PREFIX}\" + base45 of {} signed bytes):",
            text.len(),
            signed.len()
        );
        println!("{text}");
        println!("```");
        println!();
        println!(
            "Signed length {} bytes, text length {} characters, QR version {} at level Q \
             (alphanumeric mode).",
            q.signed_len, q.b45_chars, q.b45_auto
        );
        println!();
        sizes.push((i, pass.class, q));
    }

    println!("### QR size at error-correction level Q");
    println!();
    println!(
        "| vector | signed bytes | `PG:`+base45 chars | QR version, alphanumeric mode | \
         QR version, `qrcode` auto | `PG:`+base64 chars | QR version, byte mode | \
         QR version, `qrcode` auto | raw bytes, byte mode |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, class, q) in &sizes {
        println!(
            "| {} {} | {} | {} | **{}** | {} | {} | **{}** | {} | {} |",
            i + 1,
            class.as_str(),
            q.signed_len,
            q.b45_chars,
            q.b45_alnum,
            q.b45_auto,
            q.b64_chars,
            q.b64_byte,
            q.b64_auto,
            q.raw_byte
        );
    }
    println!();
    let v9_alnum = (0..400)
        .take_while(|&n| min_version(|b| b.push_alphanumeric_data(&vec![b'A'; n])) <= Some(9))
        .last()
        .unwrap_or(0);
    let v9_byte = (0..400)
        .take_while(|&n| min_version(|b| b.push_byte_data(&vec![0u8; n])) <= Some(9))
        .last()
        .unwrap_or(0);
    let max_signed = (0..200)
        .take_while(|&n| QR_PREFIX.len() + passgate_shared::base45::encoded_len(n) <= v9_alnum)
        .last()
        .unwrap_or(0);
    println!(
        "Version 9 at level Q holds {v9_alnum} alphanumeric characters or {v9_byte} bytes; \
         `PG:` + base45 therefore fits signed passes of up to {max_signed} bytes \
         (payload ≤ {} bytes) in version 9.",
        max_signed - SIGNATURE_LEN
    );
    println!();
    print_provinces();
    print_reasons();
}

fn print_provinces() {
    println!("### Province index table (`PROVINCES`)");
    println!();
    println!("| index | head byte, ordinary | head byte, new-energy | character | code point |");
    println!("|---:|---|---|---|---|");
    for (i, c) in PROVINCES.iter().enumerate() {
        println!(
            "| {i} | `{i:02x}` | `{:02x}` | {c} | U+{:04X} |",
            i | 0x80,
            u32::from(*c)
        );
    }
    println!();
}

fn print_reasons() {
    use passgate_shared::codec::DecodeError;
    use passgate_shared::{Lang, PassError, RejectReason, Warning};

    let reasons = [
        (
            RejectReason::Malformed(DecodeError::Prefix),
            "the English text carries the `DecodeError` detail; the Chinese text stays short for the guard",
        ),
        (
            RejectReason::UnsupportedVersion(2),
            "shown for a version byte 2",
        ),
        (RejectReason::UnknownKey(KeyId(9)), ""),
        (RejectReason::KeyCompromised(KeyId(1)), ""),
        (RejectReason::KeyNotValid(KeyId(1)), ""),
        (RejectReason::BadSignature, ""),
        (RejectReason::NotYetValid, ""),
        (RejectReason::Expired, ""),
        (RejectReason::Revoked, ""),
        (RejectReason::OffRoute, ""),
        (RejectReason::OutsideZone, ""),
        (RejectReason::WrongEnterprise, ""),
        (RejectReason::BundleStale, ""),
        (
            RejectReason::AlreadyInside,
            "load-unload-leave entry while inside (needs the gate's history)",
        ),
        (
            RejectReason::DailyLimit,
            "class policy's daily entry limit (needs the gate's history)",
        ),
    ];
    let codes: Vec<&str> = reasons.iter().map(|(r, _)| r.code()).collect();
    assert_eq!(
        codes,
        RejectReason::CODES,
        "a reject reason is missing from this table"
    );
    println!("### Reject reasons (`RejectReason::CODES`)");
    println!();
    println!("| code | 中文 | English | note |");
    println!("|---|---|---|---|");
    for (r, note) in &reasons {
        println!(
            "| `{}` | {} | {} | {note} |",
            r.code(),
            r.message(Lang::Zh),
            r.message(Lang::En)
        );
    }
    println!();
    println!("### Warnings on an accepted pass");
    println!();
    println!("| code | 中文 | English |");
    println!("|---|---|---|");
    for w in [
        Warning::BundleStale { age_hours: 80 },
        Warning::ClockTolerance,
        Warning::RetiredKey,
        Warning::ClockBehind { seconds: 1800 },
        Warning::Overstayed { minutes: 150 },
        Warning::NoEntryRecorded,
    ] {
        println!(
            "| `{}` | {} | {} |",
            w.code(),
            w.message(Lang::Zh),
            w.message(Lang::En)
        );
    }
    println!();
    println!("### Details carried by `malformed` (`DecodeError`)");
    println!();
    println!("| detail (English, shown inside the English malformed message) |");
    println!("|---|");
    let details = [
        DecodeError::Prefix,
        DecodeError::Base45(passgate_shared::base45::Base45Error::BadCharacter('a', 5)),
        DecodeError::Base45(passgate_shared::base45::Base45Error::BadLength(4)),
        DecodeError::Base45(passgate_shared::base45::Base45Error::Overflow(3)),
        DecodeError::TooShort(64),
        DecodeError::Truncated("plate"),
        DecodeError::Field("plate"),
        DecodeError::Rule(PassError::RouteCheckpoints),
        DecodeError::Trailing(1),
        DecodeError::NonCanonical,
    ];
    for d in details {
        println!("| {} |", d.to_string().replace('|', "\\|"));
    }
}
