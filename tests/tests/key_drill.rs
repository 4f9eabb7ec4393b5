//! The issuer key compromise drill end to end (issue 9), with real processes on SQLite and on
//! PostgreSQL: two `passgate-server` instances on one database and one key directory, and the
//! real `passgate-checkpoint` program at a gate.
//!
//! rotate on instance A (no restart) → instance B signs with the new key at once → mark the
//! old key compromised → the gate syncs → every QR of the old key is refused → one action
//! re-issues the affected live passes → the new QR codes are accepted at the gate (it learnt
//! the new key through the bundle already), the reprint list names exactly the affected
//! passes, the old QR codes stay refused, and the server counts the refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use passgate_tests::{Api, Backend, Checkpoint, Server, TestDatabase, now, rfc3339};
use serde_json::{Value, json};

#[test]
fn compromise_drill_sqlite() {
    drill(Backend::Sqlite, "key compromise drill on SQLite");
}

/// The same drill on PostgreSQL (a fresh database); required under `CI=true`.
#[test]
fn compromise_drill_postgres() {
    drill(Backend::Postgres, "key compromise drill on PostgreSQL");
}

fn issue(ops: &Api, enterprise: u64, plate: &str) -> (String, u64, String) {
    let p = ops
        .create(
            "/passes",
            &json!({
                "class": "short_haul", "plate": plate, "driver": "张三明",
                "enterprise_id": enterprise, "origin": "419001", "destination": "419001",
                "cargo": "epidemic_supplies",
                "valid_from": rfc3339(now() - 3600), "valid_until": rfc3339(now() + 7 * 86_400),
            }),
        )
        .unwrap();
    (
        p["number"].as_str().unwrap().to_owned(),
        p["key_id"].as_u64().unwrap(),
        p["qr_text"].as_str().unwrap().to_owned(),
    )
}

/// The gate's verdict on one QR text: (exit code, verdict JSON).
fn scan(cp: &Checkpoint, qr: &str) -> (i32, Value) {
    cp.verify_json(&[qr]).unwrap()
}

fn sync(cp: &Checkpoint) -> Value {
    let out = cp.run(&["sync", "--json"]).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "sync failed: {stdout} / {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

fn bundle_version(cp: &Checkpoint) -> u64 {
    let out = cp.ok(&["status", "--json"]).unwrap();
    let v: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    v["bundle_version"].as_u64().unwrap()
}

fn drill(backend: Backend, test: &str) {
    let Some(db) = TestDatabase::new(backend, test).unwrap() else {
        return;
    };
    // One data directory (for SQLite, the database file) and one key directory for both
    // instances, as the operations manual says to run them.
    let data = tempfile::tempdir().unwrap();
    let keys = data.path().join("shared-keys");
    let mut args = db.args();
    args.extend(["--key-dir".to_owned(), keys.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = Server::start_with(data.path(), "127.0.0.1:0", &args).unwrap();
    let b = Server::start_with(data.path(), "127.0.0.1:0", &args).unwrap();
    let ops_token = a.token("ops", "e2e ops", None).unwrap();
    let admin_token = a.token("admin", "e2e admin", None).unwrap();
    let transport = a.api(&a.token("transport", "e2e transport", None).unwrap());
    let (ops_a, ops_b) = (a.api(&ops_token), b.api(&ops_token));
    let (admin_a, admin_b) = (a.api(&admin_token), b.api(&admin_token));

    let enterprise = ops_a
        .create("/enterprises", &json!({"name": "示范区钢铁集团"}))
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let gate = ops_a
        .create(
            "/checkpoints",
            &json!({"name": "钢铁集团西门", "inside_zone": true, "enterprise_id": enterprise}),
        )
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let gate_dir = tempfile::tempdir().unwrap();
    let cp = Checkpoint::enroll(gate_dir.path(), &ops_a, gate, &b.url).unwrap();

    // Three passes under key 1, through both instances; one is revoked.
    let p1 = issue(&ops_a, enterprise, "豫U31001");
    let p2 = issue(&ops_b, enterprise, "豫U31002");
    let p3 = issue(&ops_a, enterprise, "豫U31003");
    assert_eq!((p1.1, p2.1, p3.1), (1, 1, 1));
    ops_b
        .create(
            &format!("/passes/{}/revoke", p3.0),
            &json!({"reason": "车辆报废"}),
        )
        .unwrap();
    sync(&cp);
    let (code, v) = scan(&cp, &p1.2);
    assert_eq!((code, &v["accepted"]), (0, &json!(true)), "{v}");

    // Rotate on A: the new key file appears in the shared directory, and B — which has not
    // read it — signs its next pass with it, with no restart.
    let (s, v) = ops_a.post("/keys/rotate", &Value::Null).unwrap();
    assert_eq!(s, 403, "ops may not rotate: {v}");
    let rotated = admin_a.create("/keys/rotate", &Value::Null).unwrap();
    assert_eq!(rotated["key"]["id"], 2, "{rotated}");
    assert!(keys.join("issuer-02.key").exists());
    let p4 = issue(&ops_b, enterprise, "豫U31004");
    assert_eq!(p4.1, 2, "instance B signs with the new key");

    // Key 1 leaked: the administrator marks it compromised (through B).
    let before = bundle_version(&cp);
    let changed = admin_b
        .create("/keys/1/status", &json!({"status": "compromised"}))
        .unwrap();
    assert_eq!(changed["keys"][0]["status"], "compromised", "{changed}");
    // Until it syncs, the gate does not know.
    assert_eq!(scan(&cp, &p2.2).0, 0);
    sync(&cp);
    assert!(bundle_version(&cp) > before);
    for (number, _, qr) in [&p1, &p2, &p3] {
        let (code, v) = scan(&cp, qr);
        assert_eq!(code, 1, "{number}: {v}");
        assert_eq!(v["reason"], "key_compromised", "{number}: {v}");
    }
    // The pass signed after the rotation is fine: the gate learnt key 2 from the bundle.
    let (code, v) = scan(&cp, &p4.2);
    assert_eq!((code, &v["accepted"]), (0, &json!(true)), "{v}");

    // The one action: every live pass of key 1 signed again with key 2, for reprinting.
    let (s, v) = ops_a.post("/keys/1/reissue", &Value::Null).unwrap();
    assert_eq!(s, 403, "{v}");
    let done = admin_a.create("/keys/1/reissue", &Value::Null).unwrap();
    assert_eq!(
        (done["from_key"].clone(), done["to_key"].clone()),
        (json!(1), json!(2))
    );
    let listed: BTreeSet<String> = done["passes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed,
        BTreeSet::from([p1.0.clone(), p2.0.clone()]),
        "exactly the live passes of key 1: not the revoked one, not key 2's: {done}"
    );
    assert_eq!(done["count"], 2);

    // At the gate, with no further sync: the new QR codes pass, under the same numbers; the
    // old prints stay refused.
    for p in done["passes"].as_array().unwrap() {
        assert_eq!(p["key_id"], 2, "{p}");
        let number = p["number"].as_str().unwrap();
        let (code, v) = scan(&cp, p["qr_text"].as_str().unwrap());
        assert_eq!((code, &v["accepted"]), (0, &json!(true)), "{v}");
        assert_eq!(v["number"], number, "{v}");
    }
    for (_, _, old) in [&p1, &p2] {
        assert_eq!(scan(&cp, old).1["reason"], "key_compromised");
    }
    // The server agrees (a pass read through the other instance).
    let (s, p) = ops_b.get(&format!("/passes/{}", p1.0)).unwrap();
    assert_eq!(s, 200);
    assert_eq!(
        (p["key_id"].clone(), p["reissued_from_key"].clone()),
        (json!(2), json!(1))
    );
    // A second run finds nothing left.
    let again = admin_b.create("/keys/1/reissue", &Value::Null).unwrap();
    assert_eq!(again["count"], 0, "{again}");

    // The refusals reach the server's daily counts like any scan.
    let verdict = scan(&cp, &p1.2).1;
    sync(&cp);
    let day = &verdict["scanned_at"].as_str().unwrap()[..10];
    let (s, usage) = transport.get(&format!("/usage/daily?date={day}")).unwrap();
    assert_eq!(s, 200, "{usage}");
    let compromised: u64 = usage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] == "key_compromised" && r["checkpoint_id"] == gate)
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    // p1, p2, p3 after the sync, p1 and p2 old prints after the re-issue, p1 once more.
    assert_eq!(compromised, 6, "{usage}");
}
