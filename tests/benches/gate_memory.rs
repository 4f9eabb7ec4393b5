//! Resident memory of the real checkpoint program holding a trust bundle with 1,000,000
//! revocations, against the same program holding the bundle of a fresh zone (a handful of
//! entries), measured in the same run.
//!
//! A real server issues a pass; a first gate enrols (small bundle). Then 1,000,000 revoked
//! passes, spread over four areas (about one number in four of each area's serials, so the
//! revocation set cannot shrink to a few runs), are written straight into the server's
//! SQLite file (issuing them through the API
//! would take an hour and measure nothing of the gate), the bundle version is bumped, and a
//! second gate enrols and receives the large bundle. Each gate then runs `scan` (the
//! long-running scanner mode a gate uses all day), decides the pass once, and the peak
//! resident set (`VmHWM` in `/proc/PID/status`) is read while it waits for the next line.
//! Goal: ≤ 30 MB with 1,000,000 revocations.
//!
//! ```text
//! cargo bench -p passgate-tests --bench gate_memory
//! ```
//!
//! Needs the `sqlite3` command-line tool. Prints a `FIGURE |` line for `bench/report.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use passgate_tests::{Api, Checkpoint, Server, now, rfc3339};
use serde_json::{Value, json};

const REVOCATIONS: u32 = 1_000_000;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path()).unwrap();
    let ops = server.api(&server.token("ops", "bench ops", None).unwrap());
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
    let pass = ops
        .create(
            "/passes",
            &json!({
                "class": "short_haul",
                "plate": "豫U10001",
                "driver": "张三明",
                "enterprise_id": enterprise,
                "origin": "419001",
                "destination": "419001",
                "cargo": "production_materials",
                "valid_from": rfc3339(now() - 3600),
                "valid_until": rfc3339(now() + 86_400),
            }),
        )
        .unwrap();
    let text = pass["qr_text"].as_str().unwrap().to_owned();

    let small_dir = tempfile::tempdir().unwrap();
    let small = enroll(&ops, &server, gate, small_dir.path());
    let (small_hwm, small_revoked) = peak_while_scanning(&small, &text);

    // A million revocations, straight into the server's database.
    server.kill();
    let db = dir.path().join("passgate.db");
    let columns = "number, class, plate, driver_name, driver_masked, driver_id_hash, \
        co_driver_name, co_driver_masked, enterprise_id, origin, destination, \
        route_checkpoints, cargo, valid_from, valid_until, max_dwell_minutes, key_id, qr_text, \
        status, revoked_at, revoke_reason, created_at, created_by, crew_phone_masked, \
        crew_phone_sealed, revoked_version";
    let sql = format!(
        "BEGIN; \
         WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {last}) \
         INSERT INTO passes ({columns}) \
         SELECT CASE i % 4 WHEN 0 THEN '410102' WHEN 1 THEN '410105' WHEN 2 THEN '140502' \
           ELSE '410103' END || printf('%06d', (i / 4) * 4 + (i / 4) % 3), \
           p.class, p.plate, p.driver_name, p.driver_masked, p.driver_id_hash, p.co_driver_name, \
           p.co_driver_masked, p.enterprise_id, p.origin, p.destination, p.route_checkpoints, \
           p.cargo, p.valid_from, p.valid_until, p.max_dwell_minutes, p.key_id, p.qr_text, \
           'revoked', p.created_at, 'bench', p.created_at, 'bench', NULL, NULL, \
           (SELECT version FROM bundle_state WHERE id = 1) + 1 \
         FROM s, (SELECT * FROM passes LIMIT 1) AS p; \
         UPDATE bundle_state SET version = version + 1 WHERE id = 1; \
         COMMIT;",
        last = REVOCATIONS - 1,
    );
    let out = Command::new("sqlite3")
        .arg(&db)
        .arg(sql)
        .output()
        .expect("the sqlite3 command-line tool (apt-get install sqlite3)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.restart().unwrap();

    let large_dir = tempfile::tempdir().unwrap();
    let large = enroll(&ops, &server, gate, large_dir.path());
    let (large_hwm, large_revoked) = peak_while_scanning(&large, &text);
    assert!(
        large_revoked >= u64::from(REVOCATIONS),
        "the gate holds {large_revoked} revocations"
    );

    let mb = |kb: u64| kb as f64 / 1024.0;
    println!("checkpoint `scan`, peak resident set (VmHWM) after one decision:");
    println!(
        "  bundle with {small_revoked} revocations: {:>6.1} MB",
        mb(small_hwm)
    );
    println!(
        "  bundle with {large_revoked} revocations: {:>6.1} MB ({:.2}x; goal <= 30 MB)",
        mb(large_hwm),
        large_hwm as f64 / small_hwm as f64
    );
    println!(
        "FIGURE | checkpoint resident memory, bundle with {large_revoked} revocations (`scan`, peak RSS) | same program, bundle of a fresh zone: {:.1} MB | {:.1} MB = {:.2}× | ≤ 30 MB | {} |",
        mb(small_hwm),
        mb(large_hwm),
        large_hwm as f64 / small_hwm as f64,
        if mb(large_hwm) <= 30.0 {
            "yes"
        } else {
            "**no**"
        }
    );
}

fn enroll(ops: &Api, server: &Server, gate: u64, dir: &std::path::Path) -> Checkpoint {
    Checkpoint::enroll(dir, ops, gate, &server.url).unwrap()
}

/// Start `scan`, decide `text` once, and read the peak resident set (kB) while the program
/// waits for the next line; also the revocation count its `status` reports.
fn peak_while_scanning(cp: &Checkpoint, text: &str) -> (u64, u64) {
    let status: Value = serde_json::from_str(
        cp.ok(&["status", "--json"])
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let revoked = status["bundle_revocations"].as_u64().unwrap_or(0);
    let mut child = cp
        .command()
        .unwrap()
        .args(["scan", "--json", "--data-dir"])
        .arg(&cp.data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{text}").unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let verdict: Value = serde_json::from_str(&line).unwrap();
    assert!(verdict.get("accepted").is_some(), "{line}");
    let proc_status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let hwm = proc_status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    (hwm, revoked)
}
