//! Enrolment and sync against the fake server of `common`, which speaks the real protocol:
//! real signed bundle files, uploads checked with `record::check_batch` and the device's
//! enrolled key, chain links checked across batches, idempotent on (device, seq).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};

use common::{BIN, FakeServer, Fault, assert_chain, bundle, enrol_dir, fast, now, text};
use passgate_checkpoint::scan::{self, Gate, ScanMeta};
use passgate_checkpoint::sync::{SyncClient, sync_with};
use passgate_checkpoint::{CheckpointError, Store};
use passgate_shared::record::DeviceId;
use passgate_shared::sync::Direction;
use serde_json::Value;

fn cmd(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("PASSGATE_CHECKPOINT_FAKE_NOW")
        .output()
        .unwrap()
}

fn client(server: &FakeServer) -> SyncClient {
    SyncClient::new(&server.url)
        .unwrap()
        .with_token("test-token")
        .unwrap()
        .with_retry(fast())
}

/// `n` scans (every third one junk) at gate times from `start`, `step` seconds apart.
async fn record(store: &Store, n: usize, start: i64, step: i64) {
    let gate = Gate::load(store).await.unwrap();
    let good = text(0);
    let meta = ScanMeta::default();
    for i in 0..n {
        let t = if i % 3 == 0 { "junk" } else { good.as_str() };
        scan::scan(
            store,
            &gate,
            t,
            Direction::In,
            &meta,
            start + i as i64 * step,
        )
        .await
        .unwrap();
    }
}

/// A gate enrolled locally as device 5, and a server that knows its key.
async fn setup(server_version: u64, gate_version: u64) -> (tempfile::TempDir, FakeServer, Store) {
    let server = FakeServer::start(bundle(server_version));
    let tmp = tempfile::tempdir().unwrap();
    let key = enrol_dir(tmp.path(), &server.url, 3, &bundle(gate_version)).await;
    server.register(&key);
    let store = Store::open(tmp.path()).await.unwrap();
    (tmp, server, store)
}

#[tokio::test]
async fn enroll_with_the_binary_then_verify_and_sync() {
    let server = FakeServer::start(bundle(3));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gate");
    let out = cmd(
        &[
            "enroll",
            "--json",
            "--server",
            &server.url,
            "--code",
            "GOOD-CODE",
            "--name",
            "east gate 1",
        ],
        &dir,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["device_id"], 100);
    assert_eq!(v["checkpoint_id"], 3);
    assert_eq!(v["checkpoint_name"], "东门卡口");
    assert_eq!(v["bundle_version"], 3);
    assert_eq!(v["inside_zone"], true);

    // The key on disk is private and is the one the server registered.
    let key = passgate_checkpoint::device::load(&dir).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("device.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    server.with(|s| {
        assert_eq!(s.devices[&100].key, key.verifying_key());
    });
    let reqs = server.requests();
    let enroll: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(enroll["name"], "east gate 1");
    assert_eq!(reqs[0].auth, None, "the code is the credential");
    assert_eq!(reqs[1].auth.as_deref(), Some("Bearer device-token-100"));
    assert_eq!(reqs[1].path, "/api/v1/sync/bundle");

    let out = cmd(&["verify", "--json", &text(0)], &dir);
    assert_eq!(out.status.code(), Some(0));
    let out = cmd(&["sync", "--json"], &dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["uploaded"].as_u64(), v["stored"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(v["last_seq"], 1);
    assert_eq!(server.with(|s| s.device_records(100).len()), 1);

    // Enrolling the same directory again is refused before anything is sent.
    let before = server.requests().len();
    let out = cmd(
        &["enroll", "--server", &server.url, "--code", "GOOD-CODE"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already holds the enrolment of device 100")
    );
    assert_eq!(server.requests().len(), before);
}

#[tokio::test]
async fn enrolment_code_errors_are_clear_and_leave_nothing_behind() {
    let server = FakeServer::start(bundle(3));
    let tmp = tempfile::tempdir().unwrap();
    for (code, error, words) in [
        ("USED-CODE", "code_used", "already been used"),
        ("OLD-CODE", "code_expired", "expired"),
        ("NO-SUCH-CODE", "code_unknown", "not known to the server"),
    ] {
        let dir = tmp.path().join(code);
        let out = cmd(
            &["enroll", "--json", "--server", &server.url, "--code", code],
            &dir,
        );
        assert_eq!(out.status.code(), Some(3), "{code}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "{code}: {err}");
        assert!(
            err.contains("ask the operations bureau for a new enrolment code")
                && err.contains("请向运行局重新申请注册码"),
            "{err}"
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["error"], error);
        assert!(!dir.join("device.key").exists());
        let out = cmd(&["status"], &dir);
        assert_eq!(out.status.code(), Some(2), "not enrolled after {code}");
    }
    // A code is good once.
    let dir = tmp.path().join("first");
    assert_eq!(
        cmd(
            &["enroll", "--server", &server.url, "--code", "GOOD-CODE"],
            &dir
        )
        .status
        .code(),
        Some(0)
    );
    let out = cmd(
        &[
            "enroll",
            "--json",
            "--server",
            &server.url,
            "--code",
            "GOOD-CODE",
        ],
        &tmp.path().join("second"),
    );
    assert_eq!(out.status.code(), Some(3));

    let err = passgate_checkpoint::sync::SyncClient::new("https://x").unwrap_err();
    assert!(
        matches!(err, CheckpointError::InvalidServerUrl { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn enrolment_refuses_a_bundle_that_does_not_verify() {
    let server = FakeServer::start(bundle(3));
    // The server signs with bundle key 2 but pins key 1 at enrolment: forged or broken.
    server.with(|s| s.signing_key_id = 2);
    let tmp = tempfile::tempdir().unwrap();
    let out = cmd(
        &["enroll", "--server", &server.url, "--code", "GOOD-CODE"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing the trust bundle"), "{err}");
    assert!(!tmp.path().join("device.key").exists());
    assert_eq!(cmd(&["status"], tmp.path()).status.code(), Some(2));
}

#[tokio::test]
async fn sync_uploads_signed_batches_once_and_fetches_the_delta() {
    let (_tmp, server, store) = setup(5, 5).await;
    record(&store, 503, now() - 1000, 1).await;
    server.with(|s| {
        s.publish(|b| {
            b.revoked.insert(common::pass(1).number);
        })
    });
    let client = client(&server);

    let s = sync_with(&store, &client, now()).await.unwrap();
    assert_eq!(
        (s.uploaded, s.stored, s.duplicates, s.batches, s.last_seq),
        (503, 503, 0, 2, Some(503))
    );
    assert_eq!((s.previous_bundle_version, s.bundle_version), (Some(5), 6));
    assert!(s.bundle_updated && !s.snapshot, "a delta since 5: {s:?}");
    let c = store.counts().await.unwrap();
    assert_eq!((c.total, c.unsent), (503, 0));
    assert!(store.require_config().await.unwrap().last_sync_at.is_some());

    let uploads = server.uploads();
    assert_eq!(
        uploads.iter().map(|u| u.records.len()).collect::<Vec<_>>(),
        [500, 3]
    );
    assert!(uploads.iter().all(|u| u.device_id == DeviceId(5)));
    let local = assert_chain(&store).await;
    assert_eq!(server.with(|s| s.device_records(5)), local);
    assert_eq!(server.with(|s| s.chain_gaps), 0);
    let reqs = server.requests();
    assert!(reqs.iter().any(|r| r.path == "/api/v1/sync/bundle?since=5"));

    // The delta took effect: the newly revoked pass is refused offline.
    let gate = Gate::load(&store).await.unwrap();
    assert_eq!(gate.bundle().version, 6);
    let o = scan::scan(
        &store,
        &gate,
        &text(1),
        Direction::In,
        &ScanMeta::default(),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(o.record.reason.as_deref(), Some("revoked"));

    // The next sync sends only the new record.
    let s = sync_with(&store, &client, now()).await.unwrap();
    assert_eq!((s.uploaded, s.batches), (1, 1));
    assert!(!s.bundle_updated || s.bundle_version == 6);
    let last = server.uploads().pop().unwrap();
    assert_eq!(
        last.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [504]
    );
    let s = sync_with(&store, &client, now()).await.unwrap();
    assert_eq!((s.uploaded, s.batches), (0, 0));
}

/// A sync that dies between batches (the server unreachable for the second one) resends
/// only what was not acknowledged; an answer lost after the server stored a batch comes
/// back as duplicates. Either way the server holds every record exactly once.
#[tokio::test]
async fn sync_is_exactly_once_across_a_crash_and_a_lost_answer() {
    let (_tmp, server, store) = setup(5, 5).await;
    record(&store, 1203, now() - 2000, 1).await;
    let client = client(&server);

    // Batch 1 is acknowledged; batch 2 never gets an answer (all four tries dropped).
    server.with(|s| {
        s.upload_faults.extend([
            Fault::None,
            Fault::Drop,
            Fault::Drop,
            Fault::Drop,
            Fault::Drop,
        ])
    });
    let err = sync_with(&store, &client, now()).await.unwrap_err();
    assert!(matches!(err, CheckpointError::Network(_)), "{err}");
    assert_eq!(err.exit_code(), 3);
    assert_eq!(store.counts().await.unwrap().unsent, 703);
    assert_eq!(server.with(|s| s.records.len()), 500);

    // The next sync: the first batch's answer is lost after the server stored it; the
    // retry comes back as duplicates.
    server.with(|s| s.upload_faults.extend([Fault::StoreThenFail]));
    let s = sync_with(&store, &client, now()).await.unwrap();
    assert_eq!((s.uploaded, s.batches), (703, 2), "{s:?}");
    assert_eq!((s.stored, s.duplicates), (203, 500), "{s:?}");
    assert_eq!(store.counts().await.unwrap().unsent, 0);

    let local = assert_chain(&store).await;
    assert_eq!(server.with(|s| s.device_records(5)), local);
    assert_eq!(server.with(|s| s.chain_gaps), 0);
    // Records 1–500 went up exactly once; nothing acknowledged was ever resent.
    let mut sent = std::collections::BTreeMap::<u64, u32>::new();
    for u in server.uploads() {
        for r in &u.records {
            *sent.entry(r.seq).or_default() += 1;
        }
    }
    assert_eq!(sent.len(), 1203);
    assert!(
        sent.range(1..=500).all(|(_, n)| *n == 1),
        "acknowledged records resent"
    );
}

#[tokio::test]
async fn transient_failures_are_retried_and_permanent_ones_keep_records() {
    let (tmp, server, store) = setup(5, 5).await;
    record(&store, 3, now() - 100, 1).await;
    server.with(|s| {
        s.upload_faults
            .extend([Fault::Status(503), Fault::Status(429)])
    });
    let s = sync_with(&store, &client(&server), now()).await.unwrap();
    assert_eq!((s.uploaded, s.stored), (3, 3));
    assert_eq!(server.uploads().len(), 3);

    // Always failing: an error after four tries, nothing marked uploaded.
    record(&store, 2, now() - 50, 1).await;
    server.with(|s| s.upload_faults.extend([Fault::Status(500); 4]));
    let err = sync_with(&store, &client(&server), now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CheckpointError::Http { status: 500, .. }),
        "{err}"
    );
    assert_eq!(server.uploads().len(), 7);
    assert_eq!(store.counts().await.unwrap().unsent, 2);

    // Nobody listening: a network error, records kept.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let c = SyncClient::new(&closed)
        .unwrap()
        .with_token("test-token")
        .unwrap()
        .with_retry(fast());
    let err = sync_with(&store, &c, now()).await.unwrap_err();
    assert!(matches!(err, CheckpointError::Network(_)), "{err}");
    assert_eq!(store.counts().await.unwrap().unsent, 2);

    // A record edited on disk is caught before it is sent.
    sqlx::query("UPDATE scans SET record = replace(record, '\"accepted\":true', '\"accepted\":false') WHERE seq = 5")
        .execute(store.pool())
        .await
        .unwrap();
    let err = sync_with(&store, &client(&server), now())
        .await
        .unwrap_err();
    assert!(matches!(err, CheckpointError::CorruptData(_)), "{err}");
    assert!(
        err.to_string().contains("does not match its stored hash"),
        "{err}"
    );
    assert_eq!(server.uploads().len(), 7);
    drop(tmp);
}

#[tokio::test]
async fn a_revoked_device_stops_with_the_servers_reason() {
    let (tmp, server, store) = setup(5, 5).await;
    record(&store, 4, now() - 100, 1).await;
    server.with(|s| {
        s.devices.get_mut(&5).unwrap().revoked = Some("handset lost at the east gate".into())
    });
    let err = sync_with(&store, &client(&server), now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CheckpointError::DeviceRevoked { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("handset lost at the east gate"),
        "{err}"
    );
    assert_eq!(server.uploads().len(), 1, "403 is not retried");
    assert_eq!(store.counts().await.unwrap().unsent, 4);
    store.close().await;

    let out = cmd(&["sync", "--json"], tmp.path());
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("revoked") && err.contains("handset lost"),
        "{err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"], "device_revoked");
    // Scanning offline goes on; the records stay.
    assert_eq!(
        cmd(&["verify", &text(0)], tmp.path()).status.code(),
        Some(0)
    );
}

/// The server's real batch check refuses a batch signed by a key it does not hold for this
/// device (what a batch replayed under another device's name looks like): nothing is marked
/// uploaded, the message is the server's.
#[tokio::test]
async fn a_refused_batch_is_never_marked_uploaded() {
    let (tmp, server, store) = setup(5, 5).await;
    record(&store, 4, now() - 100, 1).await;
    let other = passgate_checkpoint::device::generate().unwrap();
    server.register(&other);
    let err = sync_with(&store, &client(&server), now())
        .await
        .unwrap_err();
    match &err {
        CheckpointError::BatchRefused {
            first,
            last,
            message,
        } => {
            assert_eq!((*first, *last), (1, 4));
            assert!(message.contains("signature"), "{message}");
        }
        e => panic!("{e}"),
    }
    assert_eq!(err.exit_code(), 3);
    assert_eq!(server.uploads().len(), 1, "422 is not retried");
    assert_eq!(store.counts().await.unwrap().unsent, 4);
    assert!(server.with(|s| s.records.is_empty()));
    store.close().await;
    let out = cmd(&["sync"], tmp.path());
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused the upload batch (seq 1–4)"));
}

/// Three simulated days offline, 50,000 scans, then one sync: batches of 500 checked by the
/// server, the chain continuous, and the gate's own daily report equal to the server's
/// counts for every day.
#[tokio::test]
async fn fifty_thousand_scans_over_three_days_then_synced() {
    let server = FakeServer::start(bundle(5));
    let tmp = tempfile::tempdir().unwrap();
    let start = now() - 3 * 86_400;
    // The gate synced last just before it went offline.
    let mut b = bundle(5);
    b.generated_at = start - 600;
    let key = enrol_dir(tmp.path(), &server.url, 3, &b).await;
    server.register(&key);
    let store = Store::open(tmp.path()).await.unwrap();
    let gate = Gate::load(&store).await.unwrap();
    // 400 passes of the three classes, valid over the whole period, one in ten junk.
    let area = passgate_shared::DivisionCode::parse("419001").unwrap();
    let texts: Vec<String> = (0..400u32)
        .map(|k| {
            if k % 10 == 9 {
                return format!("junk-{k}");
            }
            let mut p = common::pass_at((k % 3) as usize, start - 3600, 24 * 4);
            p.number = passgate_shared::PassNumber::new(area, 100_000 + k).unwrap();
            common::text_of(&p)
        })
        .collect();
    let meta = ScanMeta::default();
    let n = 50_000usize;
    let step = (3 * 86_400 - 1200) / n as i64;
    let started = std::time::Instant::now();
    for i in 0..n {
        // Each pass goes in, then out, then in … as the rounds come round.
        let dir = if (i / texts.len()).is_multiple_of(2) {
            Direction::In
        } else {
            Direction::Out
        };
        scan::scan(
            &store,
            &gate,
            &texts[i % texts.len()],
            dir,
            &meta,
            start + i as i64 * step,
        )
        .await
        .unwrap();
    }
    eprintln!("50,000 durable scans: {:?}", started.elapsed());
    let s = sync_with(&store, &client(&server), now()).await.unwrap();
    assert_eq!(
        (s.uploaded, s.stored, s.duplicates, s.batches),
        (50_000, 50_000, 0, 100)
    );
    assert_eq!(server.with(|s| s.chain_gaps), 0);
    assert!(server.uploads().iter().all(|u| u.records.len() == 500));
    let local = assert_chain(&store).await;
    assert_eq!(server.with(|s| s.device_records(5)), local);
    for d in 0..4 {
        let day = passgate_shared::time::local_day(start + d * 86_400);
        let usage = passgate_checkpoint::app::daily_usage(&store, &day)
            .await
            .unwrap();
        let mine: std::collections::BTreeMap<_, _> = usage
            .rows
            .iter()
            .map(|r| {
                (
                    (
                        r.number.map(|n| n.to_string()).unwrap_or_default(),
                        r.class.map(|c| c.as_str().to_owned()).unwrap_or_default(),
                        r.direction.as_str().to_owned(),
                        r.verdict.clone(),
                    ),
                    r.count,
                )
            })
            .collect();
        assert_eq!(mine, server.with(|s| s.counts(5, &day)), "{day}");
    }
}
