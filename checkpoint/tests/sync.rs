//! `init` and `sync` against a small fake server speaking the sync protocol over plain
//! HTTP/1.1, so retries, errors and rollback protection can be scripted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{BIN, bundle, init_dir, text};
use passgate_checkpoint::sync::{RetryPolicy, SyncClient, sync_with};
use passgate_checkpoint::{CheckpointError, Store};
use passgate_shared::sync::{BundleResponse, UploadRequest, UploadResponse};
use passgate_shared::{Bundle, CheckpointId};

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    auth: Option<String>,
    body: Vec<u8>,
}

/// What the fake server answers: status and body, per request.
type Handler = Box<dyn FnMut(&Request) -> (u16, String) + Send>;

struct FakeServer {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeServer {
    fn start(mut handler: Handler) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(req) = read_request(&mut stream) else {
                    continue;
                };
                log.lock().unwrap().push(req.clone());
                let (status, body) = handler(&req);
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            }
        });
        FakeServer { url, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn uploads(&self) -> Vec<UploadRequest> {
        self.requests()
            .iter()
            .filter(|r| r.path == "/api/v1/sync/upload")
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let (mut len, mut auth) = (0usize, None);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => len = value.trim().parse().ok()?,
            "authorization" => auth = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        auth,
        body,
    })
}

fn bundle_body(b: &Bundle) -> String {
    serde_json::to_string(&BundleResponse { bundle: b.clone() }).unwrap()
}

/// A well-behaved server holding bundle `version`, counting every record as stored.
fn good_server(version: u64) -> FakeServer {
    FakeServer::start(Box::new(move |req| {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/v1/sync/bundle") => (200, bundle_body(&bundle(version))),
            ("POST", "/api/v1/sync/upload") => {
                let up: UploadRequest = serde_json::from_slice(&req.body).unwrap();
                let r = UploadResponse {
                    stored: up.records.len() as u64,
                    duplicates: 0,
                };
                (200, serde_json::to_string(&r).unwrap())
            }
            _ => (
                404,
                r#"{"error":"not_found","message":"no such route"}"#.into(),
            ),
        }
    }))
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

async fn record(store: &Store, n: usize) {
    let gate = passgate_checkpoint::Gate::load(store).await.unwrap();
    for i in 0..n {
        let t = if i % 3 == 0 {
            "junk".to_owned()
        } else {
            text(0)
        };
        passgate_checkpoint::scan::scan(
            store,
            &gate,
            &t,
            passgate_shared::sync::Direction::In,
            common::now(),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn init_with_the_binary() {
    let server = good_server(3);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gate");
    let out = std::process::Command::new(BIN)
        .args([
            "init",
            "--json",
            "--server",
            &server.url,
            "--token",
            "secret-1",
            "--checkpoint-id",
            "3",
        ])
        .arg("--data-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["checkpoint_name"], "东门卡口");
    assert_eq!(v["bundle_version"], 3);
    assert_eq!(v["keys"], 1);
    assert_eq!(v["revoked"], 0);
    assert_eq!(v["inside_zone"], true);
    let reqs = server.requests();
    assert_eq!(reqs[0].auth.as_deref(), Some("Bearer secret-1"));

    // Human summary in Chinese, then an unknown checkpoint.
    let out = std::process::Command::new(BIN)
        .args([
            "init",
            "--server",
            &server.url,
            "--token",
            "secret-1",
            "--checkpoint-id",
            "99",
        ])
        .arg("--data-dir")
        .arg(tmp.path().join("other"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("checkpoint 99 is not known to the server"),
        "{err}"
    );
    assert!(
        !tmp.path().join("other").exists(),
        "nothing is written for an unknown checkpoint"
    );

    // Verify and sync through the binary after init.
    let out = std::process::Command::new(BIN)
        .args(["verify", &text(0)])
        .arg("--data-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = std::process::Command::new(BIN)
        .args(["sync", "--json"])
        .arg("--data-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["uploaded"].as_u64(), v["stored"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(v["bundle_version"], 3);
}

#[tokio::test]
async fn init_refuses_https_and_reports_bad_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let err = passgate_checkpoint::sync::init(tmp.path(), "https://x", "t", CheckpointId(3))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CheckpointError::InvalidServerUrl { .. }),
        "{err}"
    );

    let server = FakeServer::start(Box::new(|_| {
        (
            401,
            r#"{"error":"unauthorized","message":"unknown device token"}"#.into(),
        )
    }));
    let err = passgate_checkpoint::sync::init(tmp.path(), &server.url, "bad", CheckpointId(3))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, CheckpointError::Http { status: 401, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("unauthorized") && msg.contains("unknown device token"),
        "{msg}"
    );
    assert_eq!(server.requests().len(), 1, "4xx is not retried");
}

#[tokio::test]
async fn sync_uploads_in_batches_once_and_refreshes_the_bundle() {
    let server = good_server(8);
    let tmp = tempfile::tempdir().unwrap();
    init_dir(tmp.path(), &server.url, 3, &bundle(5)).await;
    let store = Store::open(tmp.path()).await.unwrap();
    record(&store, 503).await;
    let client = SyncClient::new(&server.url, "test-token")
        .unwrap()
        .with_retry(fast());

    let s = sync_with(&store, &client, common::now()).await.unwrap();
    assert_eq!(
        (s.uploaded, s.stored, s.duplicates, s.batches),
        (503, 503, 0, 2)
    );
    assert_eq!((s.previous_bundle_version, s.bundle_version), (Some(5), 8));
    assert_eq!(store.bundle_version().await.unwrap(), Some(8));
    let c = store.counts().await.unwrap();
    assert_eq!((c.total, c.unsent), (503, 0));
    assert!(store.require_config().await.unwrap().last_sync_at.is_some());

    let uploads = server.uploads();
    assert_eq!(
        uploads.iter().map(|u| u.records.len()).collect::<Vec<_>>(),
        [500, 3]
    );
    let seqs: Vec<u64> = uploads
        .iter()
        .flat_map(|u| u.records.iter().map(|r| r.seq))
        .collect();
    assert_eq!(seqs, (1..=503).collect::<Vec<_>>());
    assert!(uploads.iter().all(|u| u.checkpoint_id == CheckpointId(3)));
    let junk = &uploads[0].records[0];
    assert_eq!(
        (junk.accepted, junk.reason.as_deref(), junk.number),
        (false, Some("malformed"), None)
    );
    let good = &uploads[0].records[1];
    assert_eq!(
        good.number.map(|n| n.to_string()).as_deref(),
        Some("419001000001")
    );
    assert_eq!(good.bundle_version, 5);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.auth.as_deref() == Some("Bearer test-token"))
    );

    // A second sync sends nothing new.
    let s = sync_with(&store, &client, common::now()).await.unwrap();
    assert_eq!((s.uploaded, s.batches), (0, 0));
    assert_eq!(server.uploads().len(), 2);

    // New scans go next time, and only they.
    record(&store, 2).await;
    let s = sync_with(&store, &client, common::now()).await.unwrap();
    assert_eq!(s.uploaded, 2);
    let last = server.uploads().pop().unwrap();
    assert_eq!(
        last.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [504, 505]
    );
}

#[tokio::test]
async fn transient_failures_are_retried_and_permanent_ones_keep_records() {
    let tmp = tempfile::tempdir().unwrap();
    let calls = Arc::new(Mutex::new(0u32));
    let n = calls.clone();
    // Two 503s on the first upload, then fine.
    let server = FakeServer::start(Box::new(move |req| match req.path.as_str() {
        "/api/v1/sync/upload" => {
            let mut n = n.lock().unwrap();
            *n += 1;
            if *n <= 2 {
                return (503, "overloaded".into());
            }
            let up: UploadRequest = serde_json::from_slice(&req.body).unwrap();
            (
                200,
                serde_json::to_string(&UploadResponse {
                    stored: 0,
                    duplicates: up.records.len() as u64,
                })
                .unwrap(),
            )
        }
        _ => (200, bundle_body(&bundle(5))),
    }));
    init_dir(tmp.path(), &server.url, 3, &bundle(5)).await;
    let store = Store::open(tmp.path()).await.unwrap();
    record(&store, 3).await;
    let client = SyncClient::new(&server.url, "test-token")
        .unwrap()
        .with_retry(fast());
    let s = sync_with(&store, &client, common::now()).await.unwrap();
    assert_eq!((s.uploaded, s.stored, s.duplicates), (3, 0, 3));
    assert_eq!(*calls.lock().unwrap(), 3);

    // A server that always fails: error after the tries, nothing marked uploaded.
    let down = FakeServer::start(Box::new(|_| {
        (500, r#"{"error":"internal","message":"boom"}"#.into())
    }));
    record(&store, 2).await;
    let client = SyncClient::new(&down.url, "test-token")
        .unwrap()
        .with_retry(fast());
    let err = sync_with(&store, &client, common::now()).await.unwrap_err();
    assert!(
        matches!(err, CheckpointError::Http { status: 500, .. }),
        "{err}"
    );
    assert_eq!(down.requests().len(), 4);
    assert_eq!(store.counts().await.unwrap().unsent, 2);

    // Nobody listening: a network error, records kept.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let client = SyncClient::new(&closed, "test-token")
        .unwrap()
        .with_retry(fast());
    let err = sync_with(&store, &client, common::now()).await.unwrap_err();
    assert!(matches!(err, CheckpointError::Network(_)), "{err}");
    assert_eq!(err.exit_code(), 3);
    assert_eq!(store.counts().await.unwrap().unsent, 2);

    // A 4xx with the server's error body: one try, clear message.
    let refusing = FakeServer::start(Box::new(|_| {
        (
            422,
            r#"{"error":"invalid_record","message":"seq must start at 1"}"#.into(),
        )
    }));
    let client = SyncClient::new(&refusing.url, "test-token")
        .unwrap()
        .with_retry(fast());
    let err = sync_with(&store, &client, common::now()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid_record: seq must start at 1"),
        "{err}"
    );
    assert_eq!(refusing.requests().len(), 1);
    assert_eq!(store.counts().await.unwrap().unsent, 2);
}

#[tokio::test]
async fn rolled_back_bundles_are_refused() {
    let server = good_server(4);
    let tmp = tempfile::tempdir().unwrap();
    init_dir(tmp.path(), &server.url, 3, &bundle(5)).await;
    let store = Store::open(tmp.path()).await.unwrap();
    record(&store, 1).await;
    let client = SyncClient::new(&server.url, "test-token")
        .unwrap()
        .with_retry(fast());
    let err = sync_with(&store, &client, common::now()).await.unwrap_err();
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
    assert_eq!(store.bundle_version().await.unwrap(), Some(5));
    // The upload before it went through and is not repeated.
    assert_eq!(store.counts().await.unwrap().unsent, 0);
    store.close().await;

    // Through the binary: exit 3 and the message.
    let out = std::process::Command::new(BIN)
        .args(["sync"])
        .arg("--data-dir")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rolled-back bundle"));
}
