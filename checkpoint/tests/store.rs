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
