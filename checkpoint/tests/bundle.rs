//! The gate's trust data: signed bundle files from the fake server (real `bundle_file`
//! encoding), deltas, key rotation, refused rollbacks and bad signatures, and stored files
//! damaged on disk (the gate falls back to the previous good bundle, loudly).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{
    BIN, FakeServer, bundle, bundle_key, bundle_key_info, enrol_dir, fast, now, pass, text,
};
use passgate_checkpoint::sync::{SyncClient, sync_with};
use passgate_checkpoint::{CheckpointError, Store, trust};
use passgate_shared::KeyId;
use passgate_shared::bundle_file::{BundleError, encode_delta, encode_snapshot};
use serde_json::Value;

fn cmd(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("PASSGATE_CHECKPOINT_FAKE_NOW")
        .output()
        .unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn client(server: &FakeServer) -> SyncClient {
    SyncClient::new(&server.url)
        .unwrap()
        .with_token("test-token")
        .unwrap()
        .with_retry(fast())
}

async fn setup(version: u64) -> (tempfile::TempDir, FakeServer) {
    let server = FakeServer::start(bundle(version));
    let tmp = tempfile::tempdir().unwrap();
    let key = enrol_dir(tmp.path(), &server.url, 3, &bundle(version)).await;
    server.register(&key);
    (tmp, server)
}

async fn sync(
    dir: &Path,
    server: &FakeServer,
) -> Result<passgate_checkpoint::sync::SyncSummary, CheckpointError> {
    let store = Store::open(dir).await.unwrap();
    let r = sync_with(&store, &client(server), now()).await;
    store.close().await;
    r
}

async fn exec(dir: &Path, sql: &str) {
    let store = Store::open(dir).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
}

async fn held(dir: &Path) -> trust::HeldBundle {
    let store = Store::open(dir).await.unwrap();
    let h = trust::require(&store).await.unwrap();
    store.close().await;
    h
}

/// A stored file damaged on disk (truncated, then a flipped byte) is refused when loaded:
/// the gate decides with the previous good bundle and says so on every verdict and in
/// status; a sync repairs it. With nothing good left, verify stops with a clear error and
/// sync fetches a snapshot.
#[tokio::test]
async fn damaged_stored_bundles_fall_back_to_the_previous_good_one() {
    let (tmp, server) = setup(1).await;
    let dir = tmp.path();
    // v2 revokes pass 1; the gate gets it as a delta on top of its v1 snapshot.
    server.with(|s| {
        s.publish(|b| {
            b.revoked.insert(pass(1).number);
        })
    });
    let s = sync(dir, &server).await.unwrap();
    assert!(!s.snapshot && s.bundle_version == 2, "{s:?}");
    let h = held(dir).await;
    assert_eq!(
        (h.bundle.version, h.files, h.fallback.clone()),
        (2, 2, None)
    );
    let v = json(&cmd(&["verify", "--json", &text(1)], dir));
    assert_eq!(v["reason"], "revoked");

    // The delta is truncated on disk.
    exec(
        dir,
        "UPDATE bundle_files SET bytes = substr(bytes, 1, length(bytes) - 10)
         WHERE id = (SELECT MAX(id) FROM bundle_files)",
    )
    .await;
    let out = cmd(&["verify", "--json", &text(1)], dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "decided with v1, where it is not revoked"
    );
    let v = json(&out);
    assert_eq!(v["bundle_version"], 1);
    assert_eq!(v["bundle_fallback"]["damaged_version"], 2);
    assert!(
        v["bundle_fallback"]["why"]
            .as_str()
            .unwrap()
            .contains("truncated"),
        "{v}"
    );
    let human = String::from_utf8(cmd(&["verify", &text(0)], dir).stdout).unwrap();
    assert!(
        human.contains(
            "⚠⚠ 警告：本机存储的信任数据（版本 2）已损坏，正在使用上一份完好的信任数据（版本 1）"
        ),
        "{human}"
    );
    let st = json(&cmd(&["status", "--json"], dir));
    assert_eq!(st["bundle_version"], 1);
    assert_eq!(st["bundle_fallback"]["damaged_version"], 2);

    // A sync replaces the damaged chain with a fresh snapshot (a new generation).
    let s = sync(dir, &server).await.unwrap();
    assert!(
        s.snapshot && s.bundle_updated && s.bundle_version == 2,
        "{s:?}"
    );
    let h = held(dir).await;
    assert_eq!(
        (h.bundle.version, h.files, h.fallback.clone()),
        (2, 1, None)
    );
    assert_eq!(
        json(&cmd(&["verify", "--json", &text(1)], dir))["reason"],
        "revoked"
    );

    // The new snapshot gets a flipped byte: the previous generation (v1 + the damaged
    // delta was dropped, so v1) is the fallback.
    exec(
        dir,
        "UPDATE bundle_files SET bytes = CAST(substr(bytes, 1, 20) || X'FF' || substr(bytes, 22) AS BLOB)
         WHERE id = (SELECT MAX(id) FROM bundle_files)",
    )
    .await;
    let h = held(dir).await;
    assert_eq!(h.bundle.version, 1);
    assert_eq!(h.fallback.as_ref().map(|f| f.damaged_version), Some(2));

    // Nothing good left: a clear error, status still answers, sync repairs.
    exec(dir, "UPDATE bundle_files SET bytes = X'00'").await;
    let out = cmd(&["verify", "--json", &text(0)], dir);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out)["error"], "no_usable_bundle");
    assert!(String::from_utf8_lossy(&out.stderr).contains("passgate-checkpoint sync"));
    let st = cmd(&["status", "--json"], dir);
    assert_eq!(st.status.code(), Some(0));
    let st = json(&st);
    assert_eq!(st["bundle_version"], Value::Null);
    assert!(st["bundle_error"].as_str().is_some(), "{st}");
    let s = sync(dir, &server).await.unwrap();
    assert!(s.snapshot && s.bundle_version == 2, "{s:?}");
    assert_eq!(cmd(&["verify", &text(0)], dir).status.code(), Some(0));
    // Scans recorded while falling back are all in the chain.
    let store = Store::open(dir).await.unwrap();
    assert_eq!(common::assert_chain(&store).await.len(), 5);
    store.close().await;
}

#[tokio::test]
async fn rolled_back_bundles_are_refused_and_the_held_one_kept() {
    let (tmp, server) = setup(5).await;
    let dir = tmp.path();
    assert_eq!(cmd(&["verify", &text(0)], dir).status.code(), Some(0));
    // The server (or something pretending to be it) offers version 4.
    server.with(|s| {
        s.bundle_hook = Some(Box::new(|_| Some(common::snapshot(&bundle(4)))));
    });
    let err = sync(dir, &server).await.unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointError::BundleRollback {
                held: 5,
                offered: 4
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("rolled-back bundle"), "{err}");
    assert_eq!(held(dir).await.bundle.version, 5);
    // The upload before it went through and is not repeated.
    let st = json(&cmd(&["status", "--json"], dir));
    assert_eq!(st["unsent"], 0);
    assert_eq!(st["bundle_version"], 5);

    let out = cmd(&["sync"], dir);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rolled-back bundle"));
}

#[tokio::test]
async fn bundles_with_bad_signatures_are_refused_and_the_held_one_kept() {
    let (tmp, server) = setup(5).await;
    let dir = tmp.path();
    // Signed under the trusted key's id by another key: a forgery.
    server.with(|s| {
        s.bundle_hook = Some(Box::new(|_| {
            Some(encode_snapshot(
                &bundle(9),
                &[bundle_key_info(1)],
                KeyId(1),
                &bundle_key(7),
            ))
        }));
    });
    let err = sync(dir, &server).await.unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointError::BundleRefused(BundleError::BadSignature)
        ),
        "{err}"
    );
    // A genuine file altered on the way.
    server.with(|s| {
        s.bundle_hook = Some(Box::new(|_| {
            let mut b = common::snapshot(&bundle(9));
            let i = b.len() / 2;
            b[i] ^= 0x20;
            Some(b)
        }));
    });
    let err = sync(dir, &server).await.unwrap_err();
    assert!(matches!(err, CheckpointError::BundleRefused(_)), "{err}");
    assert_eq!(held(dir).await.bundle.version, 5);

    let out = cmd(&["sync", "--json"], dir);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(json(&out)["error"], "bundle_refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing the trust bundle"));
    assert_eq!(cmd(&["verify", &text(0)], dir).status.code(), Some(0));
}

/// A delta that does not start where the gate is makes the gate ask for a snapshot.
#[tokio::test]
async fn a_mismatched_delta_is_replaced_by_a_snapshot() {
    let (tmp, server) = setup(5).await;
    let dir = tmp.path();
    server.with(|s| {
        s.publish(|b| {
            b.revoked.insert(pass(0).number);
        });
        let cur = s.current().clone();
        s.bundle_hook = Some(Box::new(move |since| {
            since.map(|_| {
                encode_delta(
                    &cur,
                    3,
                    &passgate_shared::bundle::RevocationSet::new(),
                    &[bundle_key_info(1)],
                    KeyId(1),
                    &bundle_key(1),
                )
            })
        }));
    });
    let s = sync(dir, &server).await.unwrap();
    assert!(s.snapshot && s.bundle_version == 6, "{s:?}");
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .filter(|p| p.starts_with("/api/v1/sync/bundle"))
        .collect();
    assert_eq!(
        paths,
        ["/api/v1/sync/bundle?since=5", "/api/v1/sync/bundle"]
    );
    assert_eq!(
        json(&cmd(&["verify", "--json", &text(0)], dir))["reason"],
        "revoked"
    );
}

/// The bundle key rotates through the bundle: a file signed by the trusted key lists the
/// next one; the gate trusts it from then on, and files stored earlier still load.
#[tokio::test]
async fn the_bundle_key_rotates_through_the_bundle() {
    let (tmp, server) = setup(1).await;
    let dir = tmp.path();
    server.with(|s| {
        s.bundle_keys = vec![bundle_key_info(1), bundle_key_info(2)];
        s.publish(|_| {});
    });
    sync(dir, &server).await.unwrap();
    // Now signed with key 2 only.
    server.with(|s| {
        s.signing_key_id = 2;
        s.bundle_keys = vec![bundle_key_info(2)];
        s.publish(|b| {
            b.revoked.insert(pass(2).number);
        });
    });
    let s = sync(dir, &server).await.unwrap();
    assert_eq!(s.bundle_version, 3);
    let store = Store::open(dir).await.unwrap();
    let config = store.require_config().await.unwrap();
    assert_eq!(
        config
            .bundle_keys
            .iter()
            .map(|k| k.id.0)
            .collect::<Vec<_>>(),
        [2]
    );
    store.close().await;
    let h = held(dir).await;
    assert_eq!(
        (h.bundle.version, h.files, h.fallback.clone()),
        (3, 3, None)
    );
    assert_eq!(
        json(&cmd(&["verify", "--json", &text(2)], dir))["reason"],
        "revoked"
    );
    // The retired key 1 is no longer accepted.
    server.with(|s| {
        s.signing_key_id = 1;
        s.publish(|_| {});
    });
    let err = sync(dir, &server).await.unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointError::BundleRefused(BundleError::UnknownKey(KeyId(1)))
        ),
        "{err}"
    );
}

/// A bundle that no longer lists this checkpoint is refused; the held one stays.
#[tokio::test]
async fn a_bundle_without_this_checkpoint_is_refused() {
    let (tmp, server) = setup(1).await;
    server.with(|s| {
        s.publish(|b| b.checkpoints.retain(|c| c.id.0 != 3));
    });
    let err = sync(tmp.path(), &server).await.unwrap_err();
    assert!(
        matches!(err, CheckpointError::UnknownCheckpoint(_)),
        "{err}"
    );
    assert_eq!(held(tmp.path()).await.bundle.version, 1);
}
