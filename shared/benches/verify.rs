//! Gate-decision cost against the bare signature check.
//!
//! ```text
//! cargo bench -p passgate-shared                 # full run
//! cargo bench -p passgate-shared -- --quick      # short run
//! ```
//!
//! Criterion measures (a) the full gate decision `verify(text, &bundle, &gate, now)` for the
//! long-haul reference pass with 1,000,000 revoked numbers in the bundle, (b) a bare
//! `VerifyingKey::verify_strict` over the same message and signature, (c) encode + sign of
//! one pass, (d) decode only. Afterwards a manual, interleaved timing of (a) and (b) prints
//! their ratio; the goal is a gate decision within 1.25× of the bare signature check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use ed25519_dalek::{Signature, VerifyingKey};
use passgate_shared::bundle::RevocationSet;
use passgate_shared::codec::{self, SIGNATURE_LEN};
use passgate_shared::vectors::{issue_time, sample_passes, test_key};
use passgate_shared::{
    Bundle, DivisionCode, GateContext, IssuerKey, KeyId, KeyStatus, PassNumber, Policy,
    UnixSeconds, verify,
};

struct Fixture {
    text: String,
    bundle: Bundle,
    gate: GateContext,
    now: UnixSeconds,
    public: VerifyingKey,
    message: Vec<u8>,
    signature: Signature,
}

/// 1,000,000 distinct revoked numbers spread over four areas (a fixed permutation of the
/// 4,000,000 possible numbers, so about one in four is revoked), never the pass under test.
fn revoked_million(keep: PassNumber) -> RevocationSet {
    let areas = ["419001", "410102", "410105", "140502"].map(|a| DivisionCode::parse(a).unwrap());
    let space: u64 = 4_000_000;
    let mut set = RevocationSet::new();
    let mut i: u64 = 0;
    while set.len() < 1_000_000 {
        let k = i * 2_654_435_761 % space;
        i += 1;
        let n = PassNumber::new(areas[(k / 1_000_000) as usize], (k % 1_000_000) as u32).unwrap();
        if n != keep {
            set.insert(n);
        }
    }
    assert!(!set.contains(keep));
    set
}

fn fixture() -> Fixture {
    let key = test_key();
    let pass = sample_passes().swap_remove(0);
    let signed = codec::sign(&pass, &key).unwrap();
    let text = codec::encode_text(&signed);
    let (payload, sig) = signed.split_at(signed.len() - SIGNATURE_LEN);
    let now = issue_time() + 3600;
    let bundle = Bundle {
        version: 1,
        generated_at: now - 600,
        keys: vec![IssuerKey {
            id: KeyId(1),
            public: key.verifying_key(),
            status: KeyStatus::Active,
            not_before: None,
            not_after: None,
        }],
        revoked: revoked_million(pass.number),
        policy: Policy::default(),
        checkpoints: vec![],
    };
    let gate = GateContext {
        checkpoint: pass.route.checkpoints[0],
        inside_zone: true,
        enterprise: None,
    };
    let f = Fixture {
        text,
        bundle,
        gate,
        now,
        public: key.verifying_key(),
        message: codec::signature_input(payload),
        signature: Signature::from_bytes(&sig.try_into().unwrap()),
    };
    let v = verify(&f.text, &f.bundle, &f.gate, f.now);
    assert!(v.accepted() && v.warnings.is_empty(), "{v:?}");
    assert!(f.public.verify_strict(&f.message, &f.signature).is_ok());
    f
}

fn gate_decision(f: &Fixture) -> bool {
    verify(black_box(&f.text), &f.bundle, &f.gate, black_box(f.now)).accepted()
}

fn bare_verify(f: &Fixture) -> bool {
    f.public
        .verify_strict(black_box(&f.message), black_box(&f.signature))
        .is_ok()
}

fn criterion_benches(c: &mut Criterion, f: &Fixture) {
    let key = test_key();
    let pass = sample_passes().swap_remove(0);
    c.bench_function("gate_decision/long_haul_1M_revoked", |b| {
        b.iter(|| gate_decision(f))
    });
    c.bench_function("bare_verify_strict", |b| b.iter(|| bare_verify(f)));
    c.bench_function("encode_and_sign/long_haul", |b| {
        b.iter(|| codec::sign_to_text(black_box(&pass), &key).unwrap())
    });
    c.bench_function("decode_text/long_haul", |b| {
        b.iter(|| codec::decode_text(black_box(&f.text)).unwrap())
    });
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Nanoseconds per call of `op`, over `n` calls.
fn per_call(n: u32, mut op: impl FnMut() -> bool) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        assert!(black_box(op()));
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

/// The ratio (a)/(b), measured so that load from other processes, drift and frequency
/// changes fall on both sides alike: many short rounds, each timing (a) and (b) back to back
/// in the order a b b a, the ratio taken per round and its median reported. Then the other
/// operations, for absolute figures.
fn ratio_report(f: &Fixture) {
    let (rounds, n) = (41, 300);
    per_call(n * 3, || gate_decision(f));
    per_call(n * 3, || bare_verify(f));
    let (mut gate, mut bare, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let g1 = per_call(n, || gate_decision(f));
        let b1 = per_call(n, || bare_verify(f));
        let b2 = per_call(n, || bare_verify(f));
        let g2 = per_call(n, || gate_decision(f));
        gate.extend([g1, g2]);
        bare.extend([b1, b2]);
        ratio.push((g1 + g2) / (b1 + b2));
    }

    let key = test_key();
    let pass = sample_passes().swap_remove(0);
    let decoded = codec::decode_text(&f.text).unwrap();
    let others: [(&str, u32, &dyn Fn() -> bool); 3] = [
        ("signature_valid (crate)", n, &|| {
            black_box(&decoded).signature_valid(&f.public)
        }),
        ("encode + sign", n, &|| {
            codec::sign_to_text(black_box(&pass), &key).is_ok()
        }),
        ("decode_text only", n * 20, &|| {
            codec::decode_text(black_box(&f.text)).is_ok()
        }),
    ];
    let mut times = vec![Vec::new(); others.len()];
    for round in 0..9 {
        for k in 0..others.len() {
            let i = (k + round) % others.len();
            let (_, n, op) = &others[i];
            times[i].push(per_call(*n, op));
        }
    }

    println!();
    println!(
        "manual timing (bundle: {} revoked numbers); per call, median and best round:",
        f.bundle.revoked.len()
    );
    let (gate_us, bare_us) = (
        median(&mut gate.clone()) / 1000.0,
        median(&mut bare.clone()) / 1000.0,
    );
    let rows = [
        ("gate decision (verify)", gate),
        ("bare verify_strict", bare),
    ]
    .into_iter()
    .chain(others.iter().map(|o| o.0).zip(times));
    for (name, mut t) in rows {
        let m = median(&mut t);
        println!(
            "  {name:<24} {:>7.2} µs {:>7.2} µs",
            m / 1000.0,
            t[0] / 1000.0
        );
    }
    println!(
        "gate decision / bare verify_strict = {:.2}× (goal ≤ 1.25×; median of {rounds} \
         back-to-back rounds)",
        median(&mut ratio)
    );
    let r = median(&mut ratio);
    println!(
        "FIGURE | gate decision (QR text → verdict, bundle with {} revocations) | bare `verify_strict`: {bare_us:.1} µs | {gate_us:.1} µs = **{r:.2}×** | ≤ 1.25× | {} |",
        f.bundle.revoked.len(),
        if r <= 1.25 { "yes" } else { "**no**" }
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` runs this with `--test`: check that everything works, quickly.
    let test_mode = args.iter().any(|a| a == "--test");
    let list_mode = args.iter().any(|a| a == "--list");
    let f = fixture();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    criterion_benches(&mut c, &f);
    c.final_summary();
    if !test_mode && !list_mode {
        ratio_report(&f);
    }
}
