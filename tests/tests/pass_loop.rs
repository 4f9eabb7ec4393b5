//! The whole loop with real processes: issue through the API → QR PNG → the checkpoint
//! decodes and decides offline while the server is down → revoke → sync → daily counts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;

use passgate_shared::codec::sign_to_text;
use passgate_shared::time::local_day;
use passgate_shared::{Minute, Validity};
use passgate_tests::{Backend, Checkpoint, Server, TestDatabase, now, rfc3339};
use serde_json::{Value, json};

fn pass_body(class: &str, enterprise: u64, route: &[u64]) -> Value {
    let t = now();
    let mut b = json!({
        "class": class,
        "plate": "豫U12345",
        "driver": "张三明",
        "co_driver": "李四",
        "enterprise_id": enterprise,
        "origin": "419001",
        "destination": "410102",
        "cargo": "epidemic_supplies",
        "valid_from": rfc3339(t - 3600),
        "valid_until": rfc3339(t + 7 * 86_400),
    });
    if class == "long_haul" {
        b["checkpoints"] = json!(route);
    }
    b
}

/// The key tuple the server counts by.
type UsageKey = (Option<String>, Option<String>, u64, String, String);

#[test]
fn issue_print_scan_offline_revoke_sync_count_sqlite() {
    full_loop(Backend::Sqlite, "full loop on SQLite");
}

/// The same loop on PostgreSQL (a fresh database); required under `CI=true`.
#[test]
fn issue_print_scan_offline_revoke_sync_count_postgres() {
    full_loop(Backend::Postgres, "full loop on PostgreSQL");
}

fn full_loop(backend: Backend, test: &str) {
    let Some(db) = TestDatabase::new(backend, test).unwrap() else {
        return;
    };
    let started = now();
    let server_dir = tempfile::tempdir().unwrap();
    let gate_dir = tempfile::tempdir().unwrap();
    let args = db.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start_with(server_dir.path(), "127.0.0.1:0", &args).unwrap();
    if backend == Backend::Postgres {
        // The SQLite default file is not made: the data really is in PostgreSQL.
        assert!(!server_dir.path().join("passgate.db").exists());
    }
    let ops = server.api(&server.token("ops", "e2e ops", None).unwrap());
    let transport = server.api(&server.token("transport", "e2e transport", None).unwrap());

    // The zone: an enterprise with its gate inside the zone, and a border post outside.
    let ent = ops
        .create("/enterprises", &json!({"name": "示范区钢铁集团"}))
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let gate = ops
        .create(
            "/checkpoints",
            &json!({"name": "钢铁集团东门", "inside_zone": true, "enterprise_id": ent}),
        )
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let border = ops
        .create(
            "/checkpoints",
            &json!({"name": "东卡口", "inside_zone": false}),
        )
        .unwrap()["id"]
        .as_u64()
        .unwrap();

    // One pass of each class, and each one's printable PNG.
    let mut passes = BTreeMap::new();
    for class in ["long_haul", "short_haul", "load_unload_leave"] {
        let p = ops
            .create("/passes", &pass_body(class, ent, &[border, gate]))
            .unwrap();
        assert_eq!(p["class"], class);
        let number = p["number"].as_str().unwrap().to_owned();
        let (status, png) = ops.get_bytes(&format!("/passes/{number}/qr.png")).unwrap();
        assert_eq!(status, 200);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let path = gate_dir.path().join(format!("{class}.png"));
        std::fs::write(&path, png).unwrap();
        passes.insert(
            class,
            (number, p["qr_text"].as_str().unwrap().to_owned(), path),
        );
    }

    // An expired pass, signed with the server's own issuer key (the API refuses to issue
    // passes that are already over, rightly).
    let seed = std::fs::read_to_string(server_dir.path().join("keys/issuer-01.key")).unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(
        &hex::decode(seed.trim()).unwrap().try_into().unwrap(),
    );
    let mut expired = passgate_shared::vectors::sample_passes()[1].clone();
    expired.enterprise = passgate_shared::EnterpriseId(ent as u32);
    let from = Minute::from_unix(now() - 3 * 86_400).unwrap();
    expired.validity = Validity::new(from, Minute(from.0 + 24 * 60)).unwrap();
    expired.number = passgate_shared::PassNumber::parse("419001900001").unwrap();
    let expired_text = sign_to_text(&expired, &key).unwrap();

    // Enrol the gate with a one-time code from ops, then take the server away.
    let cp = Checkpoint::enroll(gate_dir.path(), &ops, gate, &server.url).unwrap();
    server.kill();

    let mut expected: BTreeMap<UsageKey, u64> = BTreeMap::new();
    let mut count = |v: &Value, direction: &str| {
        let verdict = if v["accepted"].as_bool().unwrap() {
            "accepted".to_owned()
        } else {
            v["reason"].as_str().unwrap().to_owned()
        };
        let key = (
            v["number"].as_str().map(str::to_owned),
            v["class"].as_str().map(str::to_owned),
            gate,
            direction.to_owned(),
            verdict,
        );
        *expected.entry(key).or_default() += 1;
    };

    // Offline: every class decodes from its PNG and is accepted at this gate.
    for (class, (number, _, png)) in &passes {
        let (code, v) = cp.verify_json(&["--image", png.to_str().unwrap()]).unwrap();
        assert_eq!(code, 0, "{class}: {v}");
        assert_eq!(v["accepted"], true, "{class}: {v}");
        assert_eq!(v["reason"], Value::Null);
        assert_eq!(v["number"], number.as_str());
        assert_eq!(v["plate"], "豫U12345");
        assert_eq!(v["class"], *class);
        count(&v, "in");
    }
    // Out again, by text, as a handheld scanner types it.
    let (code, v) = cp
        .verify_json(&["--direction", "out", &passes["long_haul"].1])
        .unwrap();
    assert_eq!((code, &v["accepted"]), (0, &json!(true)), "{v}");
    count(&v, "out");

    // A tampered text: one character changed.
    let text = &passes["short_haul"].1;
    let mut chars: Vec<char> = text.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let (code, v) = cp.verify_json(&[&tampered]).unwrap();
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["accepted"], false);
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason == "bad_signature" || reason == "malformed",
        "{reason}"
    );
    count(&v, "in");

    let (code, v) = cp.verify_json(&[&expired_text]).unwrap();
    assert_eq!((code, v["reason"].as_str()), (1, Some("expired")), "{v}");
    count(&v, "in");

    // Human output, in Chinese by default and English on request.
    let out = cp.run(&["verify", &passes["short_haul"].1]).unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text_zh = String::from_utf8(out.stdout).unwrap();
    assert!(
        text_zh.contains("放行") && text_zh.contains("豫U12345"),
        "{text_zh}"
    );
    count(
        &json!({"accepted": true, "number": passes["short_haul"].0, "class": "short_haul"}),
        "in",
    );
    let out = cp.run(&["verify", "--lang", "en", &expired_text]).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text_en = String::from_utf8(out.stdout).unwrap();
    assert!(text_en.to_lowercase().contains("expired"), "{text_en}");
    count(
        &json!({"accepted": false, "reason": "expired", "number": "419001900001", "class": "short_haul"}),
        "in",
    );

    // The scanner stream: one answer per line, a bad line is a rejection, not an exit.
    let mut child = cp
        .command()
        .unwrap()
        .args(["scan", "--json", "--data-dir"])
        .arg(gate_dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // (The load-unload-leave truck is inside since its scan above: anti-passback would
    // refuse another entry, so the stream uses the long-haul pass.)
    let input = format!(
        "{}\nnot a pass\n\n{}\n",
        passes["long_haul"].1, expired_text
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["accepted"], true);
    assert_eq!(lines[1]["reason"], "malformed");
    assert_eq!(lines[2]["reason"], "expired");
    for l in &lines {
        count(l, "in");
    }

    // Back online: revoke the short-haul pass, sync, and the gate refuses it.
    server.restart().unwrap();
    let number = &passes["short_haul"].0;
    ops.create(
        &format!("/passes/{number}/revoke"),
        &json!({"reason": "车辆更换"}),
    )
    .unwrap();
    cp.ok(&["sync"]).unwrap();
    let (code, v) = cp.verify_json(&[&passes["short_haul"].1]).unwrap();
    assert_eq!((code, v["reason"].as_str()), (1, Some("revoked")), "{v}");
    count(&v, "in");

    // Sync twice more: nothing is counted twice, and the server's counts equal the scans.
    cp.ok(&["sync"]).unwrap();
    cp.ok(&["sync"]).unwrap();
    let status = cp.ok(&["status", "--json"]).unwrap();
    let status: Value = serde_json::from_str(status.trim()).unwrap();
    assert_eq!(status["unsent"], 0, "{status}");
    assert_eq!(status["scans"], 12, "{status}");

    let mut days = vec![local_day(started)];
    if local_day(now()) != days[0] {
        days.push(local_day(now()));
    }
    let mut actual: BTreeMap<UsageKey, u64> = BTreeMap::new();
    let mut total = 0;
    for day in &days {
        let (s, usage) = transport.get(&format!("/usage/daily?date={day}")).unwrap();
        assert_eq!(s, 200, "{usage}");
        total += usage["total"].as_u64().unwrap();
        for r in usage["rows"].as_array().unwrap() {
            let key = (
                r["number"].as_str().map(str::to_owned),
                r["class"].as_str().map(str::to_owned),
                r["checkpoint_id"].as_u64().unwrap(),
                r["direction"].as_str().unwrap().to_owned(),
                r["verdict"].as_str().unwrap().to_owned(),
            );
            *actual.entry(key).or_default() += r["count"].as_u64().unwrap();
        }
    }
    assert_eq!(actual, expected);
    assert_eq!(total, expected.values().sum::<u64>());
    assert_eq!(total, 12);
}
