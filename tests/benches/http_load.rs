//! The sync endpoints of the real (release) server under concurrent load, each next to the
//! trivial handler (`GET /healthz`: the same router, metrics and trace layers, no database)
//! measured by the same client in the same run, on SQLite and, when
//! `PASSGATE_TEST_POSTGRES_URL` names a server, on PostgreSQL:
//!
//! - `GET /api/v1/sync/bundle?since=V-1` with a device token: the bundle delta a gate
//!   fetches at every sync;
//! - `POST /api/v1/sync/upload`: signed batches of 10 new records per request, each
//!   connection its own enrolled device sending its own chain in order.
//!
//! Order per backend: trivial, bundle delta, trivial, upload, trivial; the ratio divides by
//! the mean of the trivial runs either side. Client and server share the machine's cores,
//! so absolute figures are lower bounds; the ratios are what to compare. Goal: ≥ 0.5×.
//!
//! ```text
//! cargo bench -p passgate-tests --bench http_load
//! HTTP_SECONDS=10 HTTP_CONNECTIONS=16 PASSGATE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo bench -p passgate-tests --bench http_load
//! ```
//!
//! Prints `FIGURE |` lines for `bench/report.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use passgate_shared::sync::Direction;
use passgate_tests::{Backend, Server, SimGate, TestDatabase, create_token_with, now, rfc3339};
use serde_json::json;

const RECORDS_PER_BATCH: usize = 10;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One request by connection `i` on its client: `None` when it has nothing left to send,
/// else whether the answer was a success.
type Request = Arc<dyn Fn(usize, &reqwest::blocking::Client) -> Option<bool> + Send + Sync>;

struct Run {
    rps: f64,
    p99_ms: f64,
    failed: u64,
}

/// `conns` threads, each with its own keep-alive client, calling `request` for `secs`
/// seconds (or until it returns `None`: nothing left to send).
fn load(conns: usize, secs: u64, request: Request) -> Run {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let threads: Vec<_> = (0..conns)
        .map(|i| {
            let request = Arc::clone(&request);
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap();
                let (mut lat, mut failed) = (Vec::new(), 0u64);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match request(i, &client) {
                        None => break,
                        Some(ok) => {
                            lat.push(t.elapsed());
                            failed += u64::from(!ok);
                        }
                    }
                }
                (lat, failed)
            })
        })
        .collect();
    let (mut lat, mut failed) = (Vec::new(), 0);
    for t in threads {
        let (l, f) = t.join().unwrap();
        lat.extend(l);
        failed += f;
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort();
    let p99 = lat
        .get(lat.len().saturating_sub(1).min(lat.len() * 99 / 100))
        .map_or(0.0, |d| d.as_secs_f64() * 1e3);
    Run {
        rps: lat.len() as f64 / elapsed,
        p99_ms: p99,
        failed,
    }
}

fn bench(backend: Backend, conns: usize, secs: u64) {
    let Some(db) = TestDatabase::new(backend, "http_load").unwrap() else {
        return;
    };
    let name = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    let dir = tempfile::tempdir().unwrap();
    let db_args = db.args();
    let db_args: Vec<&str> = db_args.iter().map(String::as_str).collect();
    let mut args = db_args.clone();
    args.extend(["--token-rate-limit", "0"]);
    let server = Server::start_with(dir.path(), "127.0.0.1:0", &args).unwrap();
    let ops =
        server.api(&create_token_with(dir.path(), &db_args, "ops", "bench ops", None).unwrap());
    let enterprise = ops
        .create("/enterprises", &json!({"name": "基准企业"}))
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let gate = ops
        .create(
            "/checkpoints",
            &json!({"name": "一号门", "inside_zone": true, "enterprise_id": enterprise}),
        )
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    // Two revocations, so the delta a gate asks for holds something.
    let mut numbers = Vec::new();
    for i in 0..2 {
        let p = ops
            .create(
                "/passes",
                &json!({
                    "class": "short_haul", "plate": format!("豫U1000{i}"), "driver": "张三明",
                    "enterprise_id": enterprise, "origin": "419001", "destination": "419001",
                    "cargo": "production_materials",
                    "valid_from": rfc3339(now() - 3600), "valid_until": rfc3339(now() + 86_400),
                }),
            )
            .unwrap();
        numbers.push(p["number"].as_str().unwrap().to_owned());
    }
    for n in &numbers {
        ops.create(&format!("/passes/{n}/revoke"), &json!({"reason": "基准"}))
            .unwrap();
    }

    // One enrolled device per connection, with its batches signed in advance.
    let per_device = (secs as usize * 250).max(200);
    let mut tokens = Vec::new();
    let mut bodies: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut first_gate = None;
    for i in 0..conns {
        let mut g = SimGate::enroll(&ops, gate, 1_000 + i as u64).unwrap();
        let t0 = now() - 3600;
        for k in 0..per_device * RECORDS_PER_BATCH {
            g.scan(t0 + k as i64, Direction::In, None, Some("malformed"));
        }
        bodies.push(
            (0..per_device)
                .map(|b| {
                    serde_json::to_vec(&g.batch(b * RECORDS_PER_BATCH..(b + 1) * RECORDS_PER_BATCH))
                        .unwrap()
                })
                .collect(),
        );
        tokens.push(g.token.clone());
        first_gate.get_or_insert(g);
    }
    let first_gate = first_gate.unwrap();
    let tokens = Arc::new(tokens);
    let bodies = Arc::new(bodies);
    let base = server.url.clone();

    let since = first_gate
        .fetch_bundle(&first_gate.api(&server))
        .unwrap()
        .header
        .version
        .saturating_sub(1);

    let trivial = {
        let url = format!("{base}/healthz");
        Arc::new(move |_: usize, c: &reqwest::blocking::Client| {
            Some(c.get(&url).send().is_ok_and(|r| r.status().is_success()))
        })
    };
    let delta = {
        let url = format!("{base}/api/v1/sync/bundle?since={since}");
        let tokens = Arc::clone(&tokens);
        Arc::new(move |i: usize, c: &reqwest::blocking::Client| {
            Some(
                c.get(&url)
                    .bearer_auth(&tokens[i])
                    .send()
                    .and_then(|r| r.error_for_status())
                    .and_then(|r| r.bytes())
                    .is_ok_and(|b| b.len() > 64),
            )
        })
    };
    let next = Arc::new(
        (0..conns)
            .map(|_| std::sync::atomic::AtomicUsize::new(0))
            .collect::<Vec<_>>(),
    );
    let upload = {
        let url = format!("{base}/api/v1/sync/upload");
        let (tokens, bodies, next) = (Arc::clone(&tokens), Arc::clone(&bodies), Arc::clone(&next));
        Arc::new(move |i: usize, c: &reqwest::blocking::Client| {
            let k = next[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let body = bodies[i].get(k)?;
            Some(
                c.post(&url)
                    .bearer_auth(&tokens[i])
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .is_ok_and(|r| r.status().is_success()),
            )
        })
    };

    let t1 = load(conns, secs, trivial.clone());
    let d = load(conns, secs, delta);
    let t2 = load(conns, secs, trivial.clone());
    let u = load(conns, secs, upload);
    let t3 = load(conns, secs, trivial);
    let sent: usize = next
        .iter()
        .map(|n| n.load(std::sync::atomic::Ordering::Relaxed).min(per_device))
        .sum();

    println!("{name}, {conns} connections, {secs} s per run (requests/s, p99):");
    for (what, r) in [
        ("trivial", &t1),
        ("bundle delta", &d),
        ("trivial", &t2),
        (&format!("upload ×{RECORDS_PER_BATCH}") as &str, &u),
        ("trivial", &t3),
    ] {
        println!(
            "  {what:<14} {:>9.0} req/s  p99 {:>6.1} ms  failed {}",
            r.rps, r.p99_ms, r.failed
        );
    }
    println!(
        "  uploaded {} records in {sent} batches{}",
        sent * RECORDS_PER_BATCH,
        if sent == per_device * conns {
            " (every prepared batch: the upload figure is a lower bound)"
        } else {
            ""
        }
    );
    for (what, r, around) in [
        (
            "bundle delta (`GET /sync/bundle?since=V-1`)",
            &d,
            (&t1, &t2),
        ),
        (
            &format!("sync upload of signed {RECORDS_PER_BATCH}-record batches") as &str,
            &u,
            (&t2, &t3),
        ),
    ] {
        let base = (around.0.rps + around.1.rps) / 2.0;
        let ratio = r.rps / base;
        assert_eq!(r.failed, 0, "{what}: {} requests failed", r.failed);
        println!(
            "FIGURE | HTTP {what} under load, {name}, {conns} connections | trivial axum handler: {base:.0} req/s | {:.0} req/s (p99 {:.1} ms) = **{ratio:.2}×** | ≥ 0.5× | {} |",
            r.rps,
            r.p99_ms,
            if ratio >= 0.5 { "yes" } else { "**no**" }
        );
    }
}

fn main() {
    let secs = env_or("HTTP_SECONDS", 8);
    let conns = env_or("HTTP_CONNECTIONS", 16) as usize;
    bench(Backend::Sqlite, conns, secs);
    if std::env::var("PASSGATE_TEST_POSTGRES_URL").is_ok() {
        bench(Backend::Postgres, conns, secs);
    } else {
        println!("PostgreSQL skipped: PASSGATE_TEST_POSTGRES_URL is not set");
    }
}
