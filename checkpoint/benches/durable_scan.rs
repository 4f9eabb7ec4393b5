//! A durable scan (decide + record committed with WAL and `synchronous=FULL`) against one
//! bare committed SQLite insert of a record-sized row on the same disk, measured in the same
//! run, interleaved. Goal: ≤ 2×.
//!
//! ```text
//! cargo bench -p passgate-checkpoint --bench durable_scan
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use ed25519_dalek::SigningKey;
use passgate_checkpoint::scan::{ScanMeta, scan};
use passgate_checkpoint::sync::{EnrollResponse, install};
use passgate_checkpoint::{Gate, Store};
use passgate_shared::bundle::RevocationSet;
use passgate_shared::bundle_file::encode_snapshot;
use passgate_shared::codec::sign_to_text;
use passgate_shared::record::DeviceId;
use passgate_shared::sync::Direction;
use passgate_shared::vectors::{issue_time, sample_passes, test_key};
use passgate_shared::{
    Bundle, CheckpointId, CheckpointInfo, DivisionCode, EnterpriseId, IssuerKey, KeyId, KeyStatus,
    PassNumber, Policy,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

const ROUNDS: usize = 7;
const PER_ROUND: usize = 150;

fn key(id: u8, k: &SigningKey) -> IssuerKey {
    IssuerKey {
        id: KeyId(id),
        public: k.verifying_key(),
        status: KeyStatus::Active,
        not_before: None,
        not_after: None,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir_in(
        std::env::var("PASSGATE_BENCH_DIR").unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").into()),
    )
    .unwrap();
    let now = issue_time() + 3600;

    // A gate enrolled with a real signed bundle holding 1,000,000 revocations.
    let area = DivisionCode::parse("410102").unwrap();
    let revoked: RevocationSet = (0..1_000_000u32)
        .map(|s| PassNumber::new(area, s).unwrap())
        .collect();
    let bundle_key = SigningKey::from_bytes(&[9; 32]);
    let bundle = Bundle {
        version: 1,
        generated_at: now - 60,
        keys: vec![key(1, &test_key())],
        revoked,
        policy: Policy::default(),
        checkpoints: vec![CheckpointInfo {
            id: CheckpointId(3),
            name: "东门".into(),
            inside_zone: true,
            enterprise_id: Some(EnterpriseId(2)),
        }],
    };
    let trusted = vec![key(1, &bundle_key)];
    let bytes = encode_snapshot(&bundle, &trusted, KeyId(1), &bundle_key);
    let gate_dir = dir.path().join("gate");
    let store = Store::create(&gate_dir).await.unwrap();
    let answer = EnrollResponse {
        device_id: DeviceId(1),
        checkpoint_id: CheckpointId(3),
        checkpoint_name: "东门".into(),
        token: "pgt_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
        bundle_keys: trusted,
    };
    install(
        &store,
        &SigningKey::from_bytes(&[4; 32]),
        &answer,
        "http://127.0.0.1:8080",
        None,
        &bytes,
        now,
    )
    .await
    .unwrap();
    let gate = Gate::load(&store).await.unwrap();
    let text = sign_to_text(&sample_passes()[1], &test_key()).unwrap();
    let meta = ScanMeta::default();

    // The baseline: the same pragmas, one committed insert of a row as large as a record.
    let base = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(dir.path().join("bare.db"))
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full),
        )
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .execute(&base)
        .await
        .unwrap();
    let first = scan(&store, &gate, &text, Direction::In, &meta, now)
        .await
        .unwrap();
    let row = serde_json::to_string(&first.record).unwrap();
    assert!(first.accepted(), "{:?}", first.verdict);

    let (mut scans, mut inserts) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for i in 0..PER_ROUND {
            let out = scan(
                &store,
                &gate,
                &text,
                if i.is_multiple_of(2) {
                    Direction::Out
                } else {
                    Direction::In
                },
                &meta,
                now,
            )
            .await
            .unwrap();
            assert!(out.accepted());
        }
        scans.push(t.elapsed().as_secs_f64() / PER_ROUND as f64);
        let t = Instant::now();
        for _ in 0..PER_ROUND {
            sqlx::query("INSERT INTO t (body) VALUES (?)")
                .bind(&row)
                .execute(&base)
                .await
                .unwrap();
        }
        inserts.push(t.elapsed().as_secs_f64() / PER_ROUND as f64);
    }
    let (s, b) = (median(scans), median(inserts));
    println!(
        "durable scan (decide with 1M revocations + chained record committed): {:.3} ms",
        s * 1e3
    );
    println!(
        "bare committed insert of a {}-byte row:                              {:.3} ms",
        row.len(),
        b * 1e3
    );
    println!("durable scan / bare insert = {:.2}x (goal <= 2x)", s / b);
    println!(
        "FIGURE | durable scan (decide with 1M revocations + chained record committed, WAL, synchronous=FULL) | one bare committed insert of a {}-byte row: {:.3} ms | {:.3} ms = **{:.2}×** | ≤ 2× | {} |",
        row.len(),
        b * 1e3,
        s * 1e3,
        s / b,
        if s / b <= 2.0 { "yes" } else { "**no**" }
    );
}
