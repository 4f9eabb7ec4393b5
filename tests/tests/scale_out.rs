//! Stateless instances: two real server processes on one PostgreSQL database, sharing one
//! key directory, started at the same moment. Gates sync through either instance (no sticky
//! sessions), passes are issued through both at once, and the results are exact: daily
//! counts equal the distinct records sent, every pass number is unique, bundle versions
//! only grow. Needs `PASSGATE_TEST_POSTGRES_URL` (required under `CI=true`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::thread;

use passgate_shared::sync::Direction;
use passgate_shared::time::local_day;
use passgate_shared::{DivisionCode, PassClass, PassNumber};
use passgate_tests::{Api, Backend, Server, SimGate, TestDatabase, now, rfc3339};
use serde_json::json;

const GATES: u64 = 100;
const RECORDS_PER_GATE: u64 = 24;
const BATCH: u64 = 6;
const PASSES: usize = 1_000;
const ISSUERS: usize = 20;

/// (checkpoint, pass serial or none, direction, verdict) → count.
type UsageKey = (u64, Option<String>, String, String);

struct Cluster {
    a: Server,
    b: Server,
    _db: TestDatabase,
    _dirs: Vec<tempfile::TempDir>,
}

fn start_two() -> Option<Cluster> {
    let db = TestDatabase::new(Backend::Postgres, "scale_out").unwrap()?;
    let keys = tempfile::tempdir().unwrap();
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let mut args = db.args();
    args.push("--key-dir".into());
    args.push(keys.path().to_str().unwrap().to_owned());
    // Both start at once on an empty database and an empty key directory: the migration
    // lock and the key creation must cope.
    let start = |dir: std::path::PathBuf, args: Vec<String>| {
        thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            Server::start_with(&dir, "127.0.0.1:0", &args).unwrap()
        })
    };
    let ta = start(dir_a.path().to_owned(), args.clone());
    let tb = start(dir_b.path().to_owned(), args);
    let (a, b) = (ta.join().unwrap(), tb.join().unwrap());
    for dir in [&dir_a, &dir_b] {
        assert!(!dir.path().join("passgate.db").exists());
        assert!(!dir.path().join("keys").exists());
    }
    Some(Cluster {
        a,
        b,
        _db: db,
        _dirs: vec![keys, dir_a, dir_b],
    })
}

/// The `i`-th scan of a gate: a mix of passes, unreadable codes, directions and refusals.
fn scan(sim: &mut SimGate, gate: u64, i: u64, day_start: i64) {
    let number =
        (!i.is_multiple_of(7)).then(|| PassNumber::new(area(), (i % 3 + 1) as u32).unwrap());
    let direction = if i.is_multiple_of(2) {
        Direction::In
    } else {
        Direction::Out
    };
    let reason = i.is_multiple_of(5).then_some("expired");
    sim.scan(
        day_start + (gate * 60 + i) as i64,
        direction,
        number.map(|n| (n, PassClass::ShortHaul)),
        reason,
    );
}

fn area() -> DivisionCode {
    DivisionCode::from_u32(419_001).unwrap()
}

fn usage(api: &Api, day: &str) -> (u64, BTreeMap<UsageKey, u64>) {
    let (s, v) = api.get(&format!("/usage/daily?date={day}")).unwrap();
    assert_eq!(s, 200, "{v}");
    let mut rows = BTreeMap::new();
    for r in v["rows"].as_array().unwrap() {
        let key = (
            r["checkpoint_id"].as_u64().unwrap(),
            r["number"].as_str().map(str::to_owned),
            r["direction"].as_str().unwrap().to_owned(),
            r["verdict"].as_str().unwrap().to_owned(),
        );
        *rows.entry(key).or_default() += r["count"].as_u64().unwrap();
    }
    (v["total"].as_u64().unwrap(), rows)
}

#[test]
fn two_instances_on_one_postgres() {
    let Some(c) = start_two() else {
        return;
    };
    // Tokens live in the database: made through A's data arguments, used on both.
    let ops_token = c.a.token("ops", "ops", None).unwrap();
    let transport_token = c.b.token("transport", "transport", None).unwrap();
    let ops = [c.a.api(&ops_token), c.b.api(&ops_token)];

    // One issuer key for both.
    let (_, ka) = ops[0].get("/keys").unwrap();
    let (_, kb) = ops[1].get("/keys").unwrap();
    assert_eq!(ka, kb);
    assert_eq!(ka["keys"].as_array().unwrap().len(), 1, "{ka}");

    let ent = ops[0]
        .create("/enterprises", &json!({"name": "示范区钢铁集团"}))
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    // 100 gates, registered through both instances alternately.
    let mut gates = Vec::new();
    for g in 0..GATES {
        let cp = ops[(g % 2) as usize]
            .create(
                "/checkpoints",
                &json!({"name": format!("卡口{g}"), "inside_zone": g % 3 != 0}),
            )
            .unwrap();
        gates.push(cp["id"].as_u64().unwrap());
    }
    let ids: HashSet<u64> = gates.iter().copied().collect();
    assert_eq!(ids.len(), GATES as usize);

    // --- 100 gates sync concurrently through both instances.
    let day_start = 1_796_054_400; // 2026-12-01 00:00 Beijing
    let day = local_day(day_start);
    let mut expected: BTreeMap<UsageKey, u64> = BTreeMap::new();
    let mut sims = Vec::new();
    for (n, &gate) in gates.iter().enumerate() {
        // Enrolled through either instance: codes and devices live in the database.
        let mut sim = SimGate::enroll(&ops[n % 2], gate, n as u64).unwrap();
        for i in 0..RECORDS_PER_GATE {
            scan(&mut sim, gate, i, day_start);
        }
        sims.push(sim);
    }
    for sim in &sims {
        for r in &sim.records {
            let gate = u64::from(r.checkpoint_id.0);
            let verdict = r.verdict_label();
            let key = (
                gate,
                r.number.map(|n| n.to_string()),
                r.direction.as_str().to_owned(),
                verdict,
            );
            *expected.entry(key).or_default() += 1;
        }
    }
    let mut workers = Vec::new();
    let bundle_keys = sims[0].bundle_keys.clone();
    for (n, sim) in sims.into_iter().enumerate() {
        let apis = [sim.api(&c.a), sim.api(&c.b)];
        workers.push(thread::spawn(move || {
            let all = 0..sim.records.len();
            let batches: Vec<std::ops::Range<usize>> = (0..sim.records.len())
                .step_by(BATCH as usize)
                .map(|s| s..s + BATCH as usize)
                .collect();
            let (mut stored, mut dups) = (0, 0);
            let mut send = |via: usize, range: std::ops::Range<usize>| {
                let body = serde_json::to_value(sim.batch(range)).unwrap();
                let v = apis[via].create("/sync/upload", &body).unwrap();
                stored += v["stored"].as_u64().unwrap();
                dups += v["duplicates"].as_u64().unwrap();
            };
            for (k, batch) in batches.iter().enumerate() {
                send((n + k) % 2, batch.clone());
                // Every third gate's answer "gets lost": it retries the same batch through
                // the other instance.
                if n % 3 == 0 {
                    send((n + k + 1) % 2, batch.clone());
                }
            }
            // Some gates resend everything at the end (a gate restored from a backup).
            if n % 10 == 0 {
                send(n % 2, all);
            }
            (stored, dups)
        }));
    }
    let (mut stored, mut dups) = (0, 0);
    for w in workers {
        let (s, d) = w.join().unwrap();
        stored += s;
        dups += d;
    }
    let retried_gates = gates.len().div_ceil(3) as u64;
    let resent_gates = gates.len().div_ceil(10) as u64;
    assert_eq!(stored, GATES * RECORDS_PER_GATE);
    assert_eq!(
        dups,
        (retried_gates + resent_gates) * RECORDS_PER_GATE,
        "every retried record is a duplicate"
    );
    let transport = [c.a.api(&transport_token), c.b.api(&transport_token)];
    for api in &transport {
        let (total, rows) = usage(api, &day);
        assert_eq!(total, GATES * RECORDS_PER_GATE);
        assert_eq!(rows, expected);
    }

    // --- 1,000 passes issued concurrently through both instances.
    let t = now();
    let body = Arc::new(json!({
        "class": "short_haul", "plate": "豫U12345", "driver": "张三明",
        "enterprise_id": ent, "origin": "419001", "destination": "410102",
        "cargo": "epidemic_supplies",
        "valid_from": rfc3339(t - 3600), "valid_until": rfc3339(t + 86_400),
    }));
    let mut issuers = Vec::new();
    for k in 0..ISSUERS {
        let apis = [c.a.api(&ops_token), c.b.api(&ops_token)];
        let body = body.clone();
        issuers.push(thread::spawn(move || {
            let mut numbers = Vec::new();
            for i in 0..PASSES / ISSUERS {
                let p = apis[(k + i) % 2].create("/passes", &body).unwrap();
                numbers.push(p["number"].as_str().unwrap().to_owned());
            }
            numbers
        }));
    }
    let numbers: Vec<String> = issuers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let unique: HashSet<&String> = numbers.iter().collect();
    assert_eq!(numbers.len(), PASSES);
    assert_eq!(unique.len(), PASSES, "duplicate pass numbers");
    // No serial was lost either: all issues succeeded, so the serials are 1..=1000.
    let serials: HashSet<u32> = numbers
        .iter()
        .map(|n| PassNumber::parse(n).unwrap().serial())
        .collect();
    assert_eq!(serials, (1..=PASSES as u32).collect());
    let (_, list) = ops[1].get("/passes?limit=1").unwrap();
    assert_eq!(list["total"], PASSES, "{list}");

    // --- Bundle versions only grow, whichever instance is asked, while revocations land
    // through both.
    let version = move |api: &Api| {
        let (status, bytes) = api.get_bytes("/sync/bundle").unwrap();
        assert_eq!(status, 200);
        passgate_shared::bundle_file::decode(&bytes, &bundle_keys)
            .unwrap()
            .header
    };
    let v0 = version(&ops[0]).version;
    let mut revokers = Vec::new();
    for k in 0..4usize {
        let apis = [c.a.api(&ops_token), c.b.api(&ops_token)];
        let mine: Vec<String> = numbers
            .iter()
            .skip(k)
            .step_by(4)
            .take(10)
            .cloned()
            .collect();
        let version = version.clone();
        revokers.push(thread::spawn(move || {
            let mut last = 0;
            for (i, n) in mine.iter().enumerate() {
                apis[(k + i) % 2]
                    .create(&format!("/passes/{n}/revoke"), &json!({"reason": "测试"}))
                    .unwrap();
                let v = version(&apis[(k + i + 1) % 2]).version;
                assert!(v > last, "bundle version went from {last} to {v}");
                last = v;
            }
        }));
    }
    for r in revokers {
        r.join().unwrap();
    }
    for api in &ops {
        let h = version(api);
        assert_eq!(h.version, v0 + 40);
        assert_eq!(h.revoked_count, 40);
    }
}
