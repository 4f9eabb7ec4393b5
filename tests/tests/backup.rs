//! Online SQLite backup with the real binaries: `passgate-server backup` runs while a gate
//! keeps uploading through the serving process; the copy is restored the way
//! docs/operations.md says (stop, put the file in place as `passgate.db`, start) and holds a
//! consistent state: whole batches only, at least every batch acknowledged before the
//! backup began, at most those acknowledged when it ended.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use passgate_shared::sync::Direction;
use passgate_shared::time::local_day;
use passgate_shared::{PassClass, PassNumber};
use passgate_tests::{Server, SimGate, binary};
use serde_json::json;

const BATCH: u64 = 50;
const MAX_BATCHES: u64 = 400;
/// 2026-12-01 08:00 Beijing time.
const T: i64 = 1_796_083_200;

#[test]
fn backup_while_serving_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).unwrap();
    let ops = server.api(&server.token("ops", "ops", None).unwrap());
    let cp = ops
        .create(
            "/checkpoints",
            &json!({"name": "东卡口", "inside_zone": false}),
        )
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    // A simulated gate with every record it will send, chained and signed as a real one.
    let mut sim = SimGate::enroll(&ops, cp, 1).unwrap();
    let pass = Some((
        PassNumber::parse("419001000001").unwrap(),
        PassClass::ShortHaul,
    ));
    for _ in 0..BATCH * MAX_BATCHES {
        sim.scan(T, Direction::In, pass, None);
    }
    let gate = sim.api(&server);
    let transport_token = server.token("transport", "transport", None).unwrap();

    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop) = (acked.clone(), stop.clone());
        thread::spawn(move || {
            for b in 0..MAX_BATCHES {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let (from, to) = ((b * BATCH) as usize, ((b + 1) * BATCH) as usize);
                let body = serde_json::to_value(sim.batch(from..to)).unwrap();
                gate.create("/sync/upload", &body).unwrap();
                acked.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    // Let some batches land, then back up while the writer goes on.
    while acked.load(Ordering::SeqCst) < 5 {
        thread::sleep(std::time::Duration::from_millis(10));
    }
    let copy = dir.path().join("backup.db");
    let before = acked.load(Ordering::SeqCst);
    let out = Command::new(binary("passgate-server").unwrap())
        .args(["backup", "--to"])
        .arg(&copy)
        .arg("--data-dir")
        .arg(dir.path())
        .env("PASSGATE_LOG", "warn")
        .output()
        .unwrap();
    let after = acked.load(Ordering::SeqCst);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A second backup to the same file is refused rather than overwriting it.
    let again = Command::new(binary("passgate-server").unwrap())
        .args(["backup", "--to"])
        .arg(&copy)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!again.status.success());
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    drop(server);

    // Restore: a new data directory with the copy as its database and the same keys.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&copy, restored.path().join("passgate.db")).unwrap();
    let keys = restored.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    for f in std::fs::read_dir(dir.path().join("keys")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), keys.join(f.file_name())).unwrap();
    }
    let server = Server::start(restored.path()).unwrap();
    let transport = server.api(&transport_token);
    let (s, usage) = transport
        .get(&format!("/usage/daily?date={}", local_day(T)))
        .unwrap();
    assert_eq!(s, 200, "{usage}");
    let total = usage["total"].as_u64().unwrap();
    assert_eq!(total % BATCH, 0, "a batch was torn: {total}");
    let batches = total / BATCH;
    eprintln!("backup: {batches} batches; acknowledged {before} before, {after} after");
    assert!(
        (before..=after).contains(&batches),
        "backup has {batches} batches; {before} were acknowledged before it began, {after} when it ended"
    );
    // The restored server works: tokens from before the backup are valid, writes go on.
    let ops = server.api(&ops.token);
    ops.create("/enterprises", &json!({"name": "恢复后"}))
        .unwrap();
}
