//! Sync ingest of 1,000,000 records (signature and chain check + store, in upload batches of
//! 500, as the server does for `POST /sync/upload`) against a bare batched insert of the
//! same rows into a plain table with the same columns, measured in the same run on the same
//! database file system. Goal: ingest at ≥ 0.5× the bare rate.
//!
//! ```text
//! cargo bench -p passgate-server --bench ingest                 # SQLite
//! INGEST_RECORDS=200000 cargo bench -p passgate-server --bench ingest
//! PASSGATE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1/bench cargo bench -p passgate-server --bench ingest
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use passgate_server::store::ReportStore;
use passgate_server::store::sql::values_rows;
use passgate_server::store::{CheckpointKind, NewCheckpoint, SqlStore, Store};
use passgate_shared::record::{
    DeviceId, GENESIS_HASH, GateRecord, Observations, check_batch_sealed, sign_batch,
};
use passgate_shared::sync::Direction;
use passgate_shared::time::local_day;
use passgate_shared::{CheckpointId, PassClass, PassNumber};

const BATCH: usize = 500;
/// 2026-12-01 00:00 Beijing time.
const DAY_START: i64 = 1_796_054_400;
const DAY: &str = "2026-12-01";
/// Rows per multi-row INSERT statement in the baseline: the fastest measured per backend
/// (`BARE_CHUNK` to try others).
fn bare_chunk() -> usize {
    let best = if std::env::var("PASSGATE_BENCH_POSTGRES_URL").is_ok() {
        BATCH
    } else {
        32
    };
    std::env::var("BARE_CHUNK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(best)
}

/// The next `n` records of a device's chain.
fn records(
    device: DeviceId,
    cp: CheckpointId,
    from_seq: u64,
    n: usize,
    prev: &mut String,
) -> Vec<GateRecord> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let seq = from_seq + i;
        let r = GateRecord {
            id: format!("{:016x}{:016x}", device.0, seq),
            device_id: device,
            seq,
            prev_hash: prev.clone(),
            checkpoint_id: cp,
            // All on one Beijing day (2026-12-01), for the daily-report query.
            scanned_at: DAY_START + (seq % 80_000) as i64,
            direction: if seq.is_multiple_of(2) {
                Direction::In
            } else {
                Direction::Out
            },
            number: PassNumber::parse(&format!("419001{:06}", seq % 5_000)).ok(),
            class: Some(PassClass::ShortHaul),
            plate: Some("豫U12345".into()),
            accepted: !seq.is_multiple_of(9),
            reason: seq.is_multiple_of(9).then(|| "expired".into()),
            warnings: vec![],
            bundle_version: 7,
            guard_id: Some("guard-1".into()),
            observations: Observations::default(),
            override_by: None,
            overrides_seq: None,
            dwell_minutes: None,
        };
        *prev = r.hash_hex();
        out.push(r);
    }
    out
}

async fn open(dir: &std::path::Path, name: &str) -> SqlStore {
    match std::env::var("PASSGATE_BENCH_POSTGRES_URL") {
        Ok(url) => {
            // A fresh database per run: drop what a previous run left.
            let store = SqlStore::open_url(&url).await.unwrap();
            for t in [
                "DROP TABLE IF EXISTS bare",
                "DELETE FROM scans",
                "DELETE FROM incidents",
                "DELETE FROM api_tokens",
                "DELETE FROM enrollment_codes",
                "DELETE FROM devices",
            ] {
                sqlx::query(t).execute(store.pool()).await.unwrap();
            }
            store
        }
        Err(_) => SqlStore::open_sqlite_file(&dir.join(name)).await.unwrap(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let total: usize = std::env::var("INGEST_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir_in(
        std::env::var("PASSGATE_BENCH_DIR").unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").into()),
    )
    .unwrap();
    let store = open(dir.path(), "ingest.db").await;
    let cp = store
        .create_checkpoint(
            &NewCheckpoint {
                name: "东卡口".into(),
                kind: CheckpointKind::ZoneBorder,
                inside_zone: false,
                enterprise_id: None,
            },
            1,
        )
        .await
        .unwrap();
    let key = SigningKey::from_bytes(&[3; 32]);
    store
        .create_enrollment_code(cp.id, "bench-code", i64::MAX, 1)
        .await
        .unwrap();
    let public = passgate_shared::keys::public_key_b64(&key.verifying_key());
    let device = store
        .enroll_device("bench-code", &public, "bench", "bench-token", 2)
        .await
        .unwrap()
        .id;

    // The product path: check the signed batch, then store it.
    let mut prev = GENESIS_HASH.to_owned();
    let mut ingest = Duration::ZERO;
    let mut seq = 1u64;
    while (seq as usize) <= total {
        let n = BATCH.min(total + 1 - seq as usize);
        let batch = sign_batch(
            device,
            cp.id,
            records(device, cp.id, seq, n, &mut prev),
            &key,
        );
        let body = serde_json::to_vec(&batch).unwrap();
        let t = Instant::now();
        let batch: passgate_shared::record::UploadBatch = serde_json::from_slice(&body).unwrap();
        let sealed = check_batch_sealed(&batch, &key.verifying_key()).unwrap();
        let out = store
            .ingest_batch(device, &batch.records, &sealed, 3)
            .await
            .unwrap();
        ingest += t.elapsed();
        assert_eq!(out.stored as usize, n);
        seq += n as u64;
    }

    // The baseline: the same rows into a table with the same columns, key, unique id and
    // indexes as `scans`, in transactions of 500 rows of plain multi-row inserts — what
    // storing costs with none of the protocol's work (parse, signature, chain, duplicate and
    // gap checks).
    for ddl in [
        "CREATE TABLE bare (device_id BIGINT NOT NULL, seq BIGINT NOT NULL, id TEXT NOT NULL UNIQUE, hash TEXT NOT NULL, \
         prev_hash TEXT NOT NULL, checkpoint_id BIGINT NOT NULL, scanned_at BIGINT NOT NULL, day TEXT NOT NULL, \
         direction TEXT NOT NULL, number TEXT, class TEXT, plate TEXT, accepted BIGINT NOT NULL, verdict TEXT NOT NULL, \
         record TEXT NOT NULL, received_at BIGINT NOT NULL, PRIMARY KEY (device_id, seq))",
        "CREATE INDEX bare_day ON bare(day, checkpoint_id)",
        "CREATE INDEX bare_number ON bare(number, day)",
    ] {
        sqlx::query(ddl).execute(store.pool()).await.unwrap();
    }
    let mut prev = GENESIS_HASH.to_owned();
    let mut bare = Duration::ZERO;
    let mut seq = 1u64;
    while (seq as usize) <= total {
        let n = BATCH.min(total + 1 - seq as usize);
        let rows = records(DeviceId(99), cp.id, seq, n, &mut prev);
        let rendered: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.hash_hex(), serde_json::to_string(r).unwrap()))
            .collect();
        let t = Instant::now();
        let mut tx = store.pool().begin().await.unwrap();
        for (rows, rendered) in rows.chunks(bare_chunk()).zip(rendered.chunks(bare_chunk())) {
            let mut sql = String::from("INSERT INTO bare VALUES ");
            sql.push_str(&values_rows(rows.len(), 16));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (r, (hash, json)) in rows.iter().zip(rendered) {
                q = q
                    .bind(i64::from(r.device_id.0))
                    .bind(r.seq as i64)
                    .bind(r.id.clone())
                    .bind(hash.clone())
                    .bind(r.prev_hash.clone())
                    .bind(i64::from(r.checkpoint_id.0))
                    .bind(r.scanned_at)
                    .bind(local_day(r.scanned_at))
                    .bind(r.direction.as_str())
                    .bind(r.number.map(|x| x.to_string()))
                    .bind(r.class.map(|c| c.as_str()))
                    .bind(r.plate.clone())
                    .bind(i64::from(r.accepted))
                    .bind(r.verdict_label())
                    .bind(json.clone())
                    .bind(3i64);
            }
            q.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        bare += t.elapsed();
        seq += n as u64;
    }
    let (ri, rb) = (
        total as f64 / ingest.as_secs_f64(),
        total as f64 / bare.as_secs_f64(),
    );
    let backend = if std::env::var("PASSGATE_BENCH_POSTGRES_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("{backend}, {total} records in batches of {BATCH}:");
    println!(
        "  sync ingest (parse + signature + chain check + store): {:>9.0} records/s ({:.1} s)",
        ri,
        ingest.as_secs_f64()
    );
    println!(
        "  bare batched insert of the same rows:                  {:>9.0} records/s ({:.1} s)",
        rb,
        bare.as_secs_f64()
    );
    println!("  ingest / bare = {:.2}x (goal >= 0.5x)", ri / rb);
    println!(
        "FIGURE | sync ingest of {total} records, {backend} (parse + signature + chain + store) | bare batched insert: {rb:.0} records/s | {ri:.0} records/s = **{:.2}×** | ≥ 0.5× | {} |",
        ri / rb,
        if ri / rb >= 0.5 { "yes" } else { "**no**" }
    );

    // The transport bureau's daily report over the day that now holds every record: the
    // usage counts per pass and the scan counts per checkpoint (median of 5 runs each).
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let usage = store.daily_usage(DAY).await.unwrap();
        let counts = store.scan_counts(DAY, DAY).await.unwrap();
        times.push(t.elapsed());
        assert!(!usage.is_empty() && !counts.is_empty());
    }
    times.sort();
    let q = times[times.len() / 2].as_secs_f64() * 1e3;
    println!("  daily report over {DAY} ({total} scans): {q:.1} ms (median of 5; goal <= 50 ms)");
    println!(
        "FIGURE | daily-report query over a day with {total} scans, {backend} (usage per pass + counts per checkpoint) | — | {q:.1} ms | ≤ 50 ms | {} |",
        if q <= 50.0 { "yes" } else { "**no**" }
    );
}
