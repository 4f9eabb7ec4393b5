//! The local store under concurrency and misuse: two writers on one data directory never
//! share a sequence number or fork the chain, and an enrolled directory keeps its key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_chain, bundle, enrol_dir, now, text};
use passgate_checkpoint::scan::{self, Gate, ScanMeta};
use passgate_checkpoint::{CheckpointError, Store, device};
use passgate_shared::sync::Direction;

#[tokio::test]
async fn concurrent_writers_never_share_a_sequence_number_or_fork_the_chain() {
    let tmp = tempfile::tempdir().unwrap();
    enrol_dir(tmp.path(), "http://127.0.0.1:9", 3, &bundle(1)).await;
    let mut tasks = Vec::new();
    for w in 0..2 {
        let store = Store::open(tmp.path()).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let gate = Gate::load(&store).await.unwrap();
            let meta = ScanMeta {
                guard_id: Some(format!("writer-{w}")),
                ..Default::default()
            };
            let mut seqs = Vec::new();
            for i in 0..25 {
                let t = if i % 2 == 0 { text(w) } else { "junk".into() };
                let o = scan::scan(&store, &gate, &t, Direction::In, &meta, now())
                    .await
                    .unwrap();
                seqs.push(o.record.seq);
            }
            store.close().await;
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=50).collect::<Vec<u64>>());
    let store = Store::open(tmp.path()).await.unwrap();
    assert_eq!(assert_chain(&store).await.len(), 50);
    store.close().await;
}

#[tokio::test]
async fn an_enrolled_directory_keeps_its_key() {
    let tmp = tempfile::tempdir().unwrap();
    let key = enrol_dir(tmp.path(), "http://127.0.0.1:9", 3, &bundle(1)).await;
    let store = Store::open(tmp.path()).await.unwrap();
    let other = device::generate().unwrap();
    let answer = passgate_checkpoint::sync::EnrollResponse {
        device_id: passgate_shared::record::DeviceId(9),
        checkpoint_id: passgate_shared::CheckpointId(3),
        checkpoint_name: "x".into(),
        token: "t".into(),
        bundle_keys: vec![common::bundle_key_info(1)],
    };
    let err = passgate_checkpoint::sync::install(
        &store,
        &other,
        &answer,
        "http://127.0.0.1:9",
        None,
        &common::snapshot(&bundle(2)),
        now(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, CheckpointError::AlreadyEnrolled { .. }),
        "{err}"
    );
    assert_eq!(device::load(tmp.path()).unwrap().to_bytes(), key.to_bytes());
    assert_eq!(
        store.require_config().await.unwrap().device_id,
        passgate_shared::record::DeviceId(5)
    );
    store.close().await;
}

/// A clock that ran two days ahead left the time floor there for good; the server's time
/// at a sync resets it (scans so far stop raising it), and the floor rises again with the
/// scans after the reset. A floor within the tolerance of the server's time is left alone.
#[tokio::test]
async fn the_servers_time_resets_a_time_floor_that_ran_ahead() {
    let tmp = tempfile::tempdir().unwrap();
    enrol_dir(tmp.path(), "http://127.0.0.1:9", 3, &bundle(1)).await;
    let store = Store::open(tmp.path()).await.unwrap();
    let gate = Gate::load(&store).await.unwrap();
    let meta = ScanMeta::default();
    let t = now();
    let ahead = t + 2 * 86_400;
    scan::scan(&store, &gate, &text(0), Direction::In, &meta, t)
        .await
        .unwrap();
    scan::scan(&store, &gate, &text(0), Direction::In, &meta, ahead)
        .await
        .unwrap();
    assert_eq!(store.latest_scanned_at().await.unwrap(), Some(ahead));
    // Clock corrected: the floor still says two days later, so the pass looks expired.
    let o = scan::scan(&store, &gate, &text(0), Direction::In, &meta, t)
        .await
        .unwrap();
    assert_eq!(o.time_floor, ahead);
    assert!(!o.accepted(), "{o:?}");

    assert!(store.note_server_time(t, t, 600).await.unwrap());
    assert_eq!(store.latest_scanned_at().await.unwrap(), Some(t));
    assert_eq!(store.latest_scan_time().await.unwrap(), Some(ahead));
    let c = store.require_config().await.unwrap();
    assert_eq!(
        (c.clock_offset_seconds, c.clock_reset_at),
        (Some(0), Some(t))
    );
    let o = scan::scan(&store, &gate, &text(0), Direction::In, &meta, t + 60)
        .await
        .unwrap();
    assert_eq!(o.time_floor, t);
    assert!(o.accepted(), "{o:?}");
    assert_eq!(store.latest_scanned_at().await.unwrap(), Some(t + 60));

    // Within the tolerance: nothing is reset, the offset is kept.
    assert!(!store.note_server_time(t + 300, t, 600).await.unwrap());
    assert_eq!(store.latest_scanned_at().await.unwrap(), Some(t + 60));
    let c = store.require_config().await.unwrap();
    assert_eq!(
        (c.clock_offset_seconds, c.clock_reset_at),
        (Some(300), Some(t))
    );
    assert_eq!(store.check_chain().await.unwrap(), (4, None));
    assert_eq!(store.integrity_check().await.unwrap(), ["ok"]);
    store.close().await;
}

/// `check`'s chain walk names the first record that was edited or is missing.
#[tokio::test]
async fn the_chain_check_finds_an_edited_or_missing_record() {
    let edit = "UPDATE scans SET record = replace(record, '\"in\"', '\"out\"') WHERE seq = 4";
    let remove = "DELETE FROM scans WHERE seq = 2";
    for (damage, readable, named) in [(edit, 3, "#4"), (remove, 1, "#2 is missing")] {
        let tmp = tempfile::tempdir().unwrap();
        enrol_dir(tmp.path(), "http://127.0.0.1:9", 3, &bundle(1)).await;
        let store = Store::open(tmp.path()).await.unwrap();
        let gate = Gate::load(&store).await.unwrap();
        for _ in 0..5 {
            scan::scan(
                &store,
                &gate,
                "junk",
                Direction::In,
                &ScanMeta::default(),
                now(),
            )
            .await
            .unwrap();
        }
        assert_eq!(store.check_chain().await.unwrap(), (5, None));
        sqlx::query(damage).execute(store.pool()).await.unwrap();
        let (n, problem) = store.check_chain().await.unwrap();
        assert_eq!(n, readable, "{damage}");
        let problem = problem.unwrap();
        assert!(problem.contains(named), "{damage}: {problem}");
        store.close().await;
    }
}
