//! API tests against the real router (in-process, no mocks), each on a fresh database: on
//! SQLite, and on PostgreSQL when `PASSGATE_TEST_POSTGRES_URL` is set (required under
//! `CI=true`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

on_both_backends!(
    every_route_checks_its_roles,
    validation_names_each_bad_field,
    issue_verify_revoke_and_bundle_versions,
    uploads_are_idempotent_and_counts_exact,
    oversized_bodies_are_refused,
    concurrent_issuance_gives_unique_numbers,
    health_readiness_and_metrics,
    enrolment_codes_are_one_time,
    anomalies_of_two_gates,
);

use common::TestDb;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use ed25519_dalek::SigningKey;
use passgate_server::store::Role;
use passgate_server::{app, create_token, open};
use passgate_shared::bundle_file::{apply, decode};
use passgate_shared::record::{DeviceId, GENESIS_HASH, GateRecord, Observations, sign_batch};
use passgate_shared::sync::{DailyUsage, Direction, UploadResult};
use passgate_shared::{Bundle, CheckpointId, GateContext, verify};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Api {
    _db: TestDb,
    state: passgate_server::state::AppState,
    tokens: Vec<(Role, String)>,
}

impl Api {
    async fn new(db: TestDb) -> Api {
        let state = open(&db.config()).await.unwrap();
        let mut tokens = Vec::new();
        for role in Role::ALL {
            tokens.push((
                role,
                create_token(&state, role, role.as_str(), None)
                    .await
                    .unwrap(),
            ));
        }
        Api {
            _db: db,
            state,
            tokens,
        }
    }

    fn token(&self, role: Role) -> &str {
        &self.tokens.iter().find(|(r, _)| *r == role).unwrap().1
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let resp = app(self.state.clone())
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = to_bytes(resp.into_body(), 10 << 20).await.unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    /// A raw GET returning bytes (the bundle file is binary).
    async fn get_bytes(&self, path: &str, token: &str) -> (StatusCode, Vec<u8>) {
        let req = Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let resp = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        (
            status,
            to_bytes(resp.into_body(), 64 << 20).await.unwrap().to_vec(),
        )
    }

    /// The bundle as a gate gets it: fetched, signature-checked with the pinned bundle keys,
    /// applied on `held`.
    async fn bundle(&self, held: Option<&Bundle>) -> Bundle {
        let path = match held {
            Some(b) => format!("/api/v1/sync/bundle?since={}", b.version),
            None => "/api/v1/sync/bundle".to_owned(),
        };
        let (s, bytes) = self.get_bytes(&path, self.token(Role::Checkpoint)).await;
        assert_eq!(s, StatusCode::OK);
        let file = decode(&bytes, &self.state.keys.ring().public_bundle_keys()).unwrap();
        assert_eq!(
            file.is_delta(),
            held.is_some_and(|b| b.version < file.header.version)
        );
        apply(held, file).unwrap()
    }

    /// Enrol a device at `cp` through the API: its id, key and token.
    async fn enroll(&self, cp: u64, seed: u8) -> (DeviceId, SigningKey, String) {
        let path = format!("/api/v1/checkpoints/{cp}/enrollment");
        let (s, c) = self.as_role(Role::Ops, Method::POST, &path, None).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let key = SigningKey::from_bytes(&[seed; 32]);
        let public = passgate_shared::keys::public_key_b64(&key.verifying_key());
        let body = json!({"code": c["code"], "public_key": public, "name": "tablet"});
        let (s, d) = self
            .call(Method::POST, "/api/v1/devices/enroll", None, Some(body))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{d}");
        assert_eq!(d["checkpoint_id"], cp);
        (
            DeviceId(d["device_id"].as_u64().unwrap() as u32),
            key,
            d["token"].as_str().unwrap().to_owned(),
        )
    }

    async fn as_role(
        &self,
        role: Role,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let t = self.token(role).to_owned();
        self.call(method, path, Some(&t), body).await
    }

    /// An enterprise, an inside and an outside checkpoint.
    async fn zone(&self) -> (u64, u64, u64) {
        let (s, e) = self
            .as_role(
                Role::Ops,
                Method::POST,
                "/api/v1/enterprises",
                Some(json!({"name": "示范区钢铁"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        let ent = e["id"].as_u64().unwrap();
        let body = json!({"name": "东门", "inside_zone": true, "enterprise_id": ent});
        let (_, c1) = self
            .as_role(Role::Ops, Method::POST, "/api/v1/checkpoints", Some(body))
            .await;
        let body = json!({"name": "东卡口", "inside_zone": false});
        let (_, c2) = self
            .as_role(Role::Ops, Method::POST, "/api/v1/checkpoints", Some(body))
            .await;
        (ent, c1["id"].as_u64().unwrap(), c2["id"].as_u64().unwrap())
    }
}

fn pass_body(class: &str, ent: u64, cps: &[u64]) -> Value {
    let now = chrono::Utc::now().timestamp();
    let at = |t: i64| chrono::DateTime::from_timestamp(t, 0).unwrap().to_rfc3339();
    let mut b = json!({
        "class": class, "plate": "豫U12345", "driver": "张三明", "co_driver": "李四",
        "driver_id_number": "11010519491231002X", "enterprise_id": ent,
        "origin": "419001", "destination": "410102", "cargo": "production_materials",
        "valid_from": at(now - 3600), "valid_until": at(now + 7 * 86_400),
    });
    if class == "long_haul" {
        b["checkpoints"] = json!(cps);
    }
    b
}

async fn every_route_checks_its_roles(db: TestDb) {
    let api = Api::new(db).await;
    let (ent, cp, _) = api.zone().await;
    let (_, p) = api
        .as_role(
            Role::Ops,
            Method::POST,
            "/api/v1/passes",
            Some(pass_body("short_haul", ent, &[])),
        )
        .await;
    let number = p["number"].as_str().unwrap().to_owned();
    use Role::*;
    let upload = json!({"checkpoint_id": cp, "records": []});
    // (method, path, body, roles allowed besides admin)
    let rows: Vec<(Method, String, Option<Value>, Vec<Role>)> = vec![
        (
            Method::GET,
            "/api/v1/enterprises".into(),
            None,
            vec![Ops, Transport],
        ),
        (
            Method::POST,
            "/api/v1/enterprises".into(),
            Some(json!({"name": "x"})),
            vec![Ops],
        ),
        (
            Method::GET,
            "/api/v1/checkpoints".into(),
            None,
            vec![Ops, Transport],
        ),
        (
            Method::POST,
            "/api/v1/checkpoints".into(),
            Some(json!({"name": "x", "inside_zone": true})),
            vec![Ops],
        ),
        (
            Method::GET,
            "/api/v1/passes".into(),
            None,
            vec![Ops, Transport],
        ),
        (
            Method::POST,
            "/api/v1/passes".into(),
            Some(json!({})),
            vec![Ops],
        ),
        (
            Method::GET,
            format!("/api/v1/passes/{number}"),
            None,
            vec![Ops, Transport],
        ),
        (
            Method::GET,
            format!("/api/v1/passes/{number}/qr.png"),
            None,
            vec![Ops, Transport],
        ),
        (
            Method::GET,
            format!("/api/v1/passes/{number}/qr.svg"),
            None,
            vec![Ops, Transport],
        ),
        (
            Method::POST,
            format!("/api/v1/passes/{number}/revoke"),
            Some(json!({})),
            vec![Ops],
        ),
        (
            Method::GET,
            "/api/v1/sync/bundle".into(),
            None,
            vec![Ops, Checkpoint],
        ),
        (
            Method::POST,
            "/api/v1/sync/upload".into(),
            Some(upload),
            vec![Checkpoint],
        ),
        (
            Method::GET,
            "/api/v1/usage/daily?date=2026-12-01".into(),
            None,
            vec![Ops, Transport],
        ),
        (
            Method::GET,
            "/api/v1/anomalies?date=2026-12-01".into(),
            None,
            vec![Ops, Transport],
        ),
        (
            Method::POST,
            format!("/api/v1/checkpoints/{cp}/enrollment"),
            None,
            vec![Ops],
        ),
        (Method::GET, "/api/v1/devices".into(), None, vec![Ops]),
        (
            Method::POST,
            "/api/v1/devices/999/revoke".into(),
            Some(json!({"reason": "x"})),
            vec![Ops],
        ),
        (
            Method::POST,
            "/api/v1/keys/9/status".into(),
            Some(json!({"status": "retired"})),
            vec![],
        ),
        (Method::POST, "/api/v1/keys/9/reissue".into(), None, vec![]),
        (Method::POST, "/api/v1/keys/rotate".into(), None, vec![]),
    ];
    for (method, path, body, allowed) in rows {
        let (s, _) = api.call(method.clone(), &path, None, body.clone()).await;
        assert_eq!(
            s,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token"
        );
        let (s, _) = api
            .call(
                method.clone(),
                &path,
                Some("pgt_not-a-real-token"),
                body.clone(),
            )
            .await;
        assert_eq!(
            s,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a wrong token"
        );
        for role in Role::ALL {
            let (s, v) = api.as_role(role, method.clone(), &path, body.clone()).await;
            let ok = role == Admin || allowed.contains(&role);
            if ok {
                assert!(
                    s != StatusCode::FORBIDDEN && s != StatusCode::UNAUTHORIZED,
                    "{method} {path} as {role:?}: {s} {v}"
                );
            } else {
                assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path} as {role:?}: {v}");
                assert_eq!(v["error"], "forbidden");
            }
        }
    }
    // Public; the administrator's call above rotated, so key 2 is the active one.
    let (s, v) = api.call(Method::GET, "/api/v1/keys", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["keys"][0]["status"], "retired", "{v}");
    assert_eq!(v["keys"][1]["status"], "active", "{v}");
    let (s, _) = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
}

async fn validation_names_each_bad_field(db: TestDb) {
    let api = Api::new(db).await;
    let (ent, cp, _) = api.zone().await;
    let good = pass_body("long_haul", ent, &[cp]);
    let rows: Vec<(&str, Value)> = vec![
        ("class", json!("truck")),
        ("plate", json!("豫U1234")),
        ("plate", json!("XU12345")),
        ("driver", json!("张")),
        ("co_driver", json!("李4")),
        ("driver_id_number", json!("110105194912310021")),
        ("enterprise_id", json!(999)),
        ("origin", json!("12345")),
        ("destination", json!("000000")),
        ("checkpoints", json!([999])),
        ("checkpoints", json!([])),
        ("cargo", json!("gold")),
        ("valid_from", json!("tomorrow")),
        ("valid_until", json!("2020-01-01T00:00:00Z")),
        ("valid_until", json!("2099-01-01T00:00:00Z")),
        ("max_dwell_minutes", json!(30)),
    ];
    for (field, value) in rows {
        let mut body = good.clone();
        body[field] = value.clone();
        let (s, v) = api
            .as_role(Role::Ops, Method::POST, "/api/v1/passes", Some(body))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}={value}: {v}");
        assert_eq!(v["error"], "validation");
        let fields: Vec<&str> = v["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{field}={value}: {v}");
        assert!(!v["message"].as_str().unwrap().is_empty());
    }
    // Every missing field at once.
    let (s, v) = api
        .as_role(Role::Ops, Method::POST, "/api/v1/passes", Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["fields"].as_array().unwrap().len() >= 8, "{v}");
    // A body of the wrong shape or not JSON at all.
    let (s, v) = api
        .as_role(
            Role::Ops,
            Method::POST,
            "/api/v1/passes",
            Some(json!({"plate": 5})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = api
        .as_role(Role::Ops, Method::POST, "/api/v1/passes", Some(json!("[")))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing was issued by any of this.
    let (_, list) = api
        .as_role(Role::Ops, Method::GET, "/api/v1/passes", None)
        .await;
    assert_eq!(list["total"], 0);
}

async fn issue_verify_revoke_and_bundle_versions(db: TestDb) {
    let api = Api::new(db).await;
    let (ent, cp_in, cp_out) = api.zone().await;
    let mut numbers = Vec::new();
    for class in ["long_haul", "short_haul", "load_unload_leave"] {
        let (s, p) = api
            .as_role(
                Role::Ops,
                Method::POST,
                "/api/v1/passes",
                Some(pass_body(class, ent, &[cp_in])),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        assert_eq!(p["driver"], "张*明");
        assert!(
            !p.to_string().contains("张三明"),
            "full names stay on the server"
        );
        assert!(!p.to_string().contains("11010519491231002X"));
        numbers.push(p["number"].as_str().unwrap().to_owned());
    }
    assert_eq!(numbers, ["419001000001", "419001000002", "419001000003"]);
    let b1 = api.bundle(None).await;
    // The issued text verifies offline with the bundle.
    let (_, p) = api
        .as_role(
            Role::Ops,
            Method::GET,
            &format!("/api/v1/passes/{}", numbers[0]),
            None,
        )
        .await;
    let gate = GateContext {
        checkpoint: CheckpointId(cp_in as u32),
        inside_zone: true,
        enterprise: None,
    };
    let v = verify(
        p["qr_text"].as_str().unwrap(),
        &b1,
        &gate,
        chrono::Utc::now().timestamp(),
    );
    assert!(v.accepted(), "{v:?}");
    let off = GateContext {
        checkpoint: CheckpointId(cp_out as u32),
        inside_zone: false,
        enterprise: None,
    };
    let v = verify(
        p["qr_text"].as_str().unwrap(),
        &b1,
        &off,
        chrono::Utc::now().timestamp(),
    );
    assert_eq!(v.reason.unwrap().code(), "off_route");

    let path = format!("/api/v1/passes/{}/revoke", numbers[0]);
    let (s, v) = api
        .as_role(
            Role::Ops,
            Method::POST,
            &path,
            Some(json!({"reason": "车辆更换"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "revoked");
    let (s, v) = api
        .as_role(
            Role::Ops,
            Method::POST,
            &path,
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = api
        .as_role(
            Role::Ops,
            Method::POST,
            "/api/v1/passes/419001999999/revoke",
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api
        .as_role(Role::Ops, Method::GET, "/api/v1/passes/12", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // A delta since the first bundle brings the revocation; a full snapshot agrees.
    let b2 = api.bundle(Some(&b1)).await;
    assert!(b2.version > b1.version);
    let full = api.bundle(None).await;
    assert_eq!((full.version, &full.revoked), (b2.version, &b2.revoked));
    let revoked: Vec<String> = b2.revoked.iter().map(|n| n.to_string()).collect();
    assert_eq!(revoked, [numbers[0].clone()]);
    let v = verify(
        p["qr_text"].as_str().unwrap(),
        &b2,
        &gate,
        chrono::Utc::now().timestamp(),
    );
    assert_eq!(v.reason.unwrap().code(), "revoked");

    let (_, list) = api
        .as_role(
            Role::Transport,
            Method::GET,
            "/api/v1/passes?status=revoked",
            None,
        )
        .await;
    assert_eq!(list["total"], 1);
    let (_, list) = api
        .as_role(
            Role::Transport,
            Method::GET,
            "/api/v1/passes?class=load_unload_leave",
            None,
        )
        .await;
    assert_eq!(list["passes"][0]["max_dwell_minutes"], 120);
    let (s, _) = api
        .as_role(
            Role::Transport,
            Method::GET,
            "/api/v1/passes?class=boat",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A device's chain of records `1..=n` at checkpoint `cp`, at `t + seq` seconds; record
/// `refused` refused as expired.
fn chain(device: DeviceId, cp: u64, n: u64, t: i64, refused: Option<u64>) -> Vec<GateRecord> {
    let mut out: Vec<GateRecord> = Vec::new();
    for seq in 1..=n {
        let accepted = refused != Some(seq);
        out.push(GateRecord {
            id: format!("{:016x}{:016x}", device.0, seq),
            device_id: device,
            seq,
            prev_hash: out
                .last()
                .map_or_else(|| GENESIS_HASH.to_owned(), GateRecord::hash_hex),
            checkpoint_id: CheckpointId(cp as u32),
            scanned_at: t + seq as i64,
            direction: if seq.is_multiple_of(2) {
                Direction::Out
            } else {
                Direction::In
            },
            number: Some(passgate_shared::PassNumber::parse("419001000001").unwrap()),
            class: Some(passgate_shared::PassClass::ShortHaul),
            plate: Some("豫U12345".into()),
            accepted,
            reason: (!accepted).then(|| "expired".into()),
            warnings: vec![],
            bundle_version: 1,
            guard_id: Some("guard-1".into()),
            observations: Observations::default(),
            override_by: None,
            overrides_seq: None,
            dwell_minutes: None,
        });
    }
    out
}

async fn upload(api: &Api, token: &str, body: Value) -> (StatusCode, Value) {
    api.call(Method::POST, "/api/v1/sync/upload", Some(token), Some(body))
        .await
}

async fn uploads_are_idempotent_and_counts_exact(db: TestDb) {
    let api = Api::new(db).await;
    let (_, cp, other) = api.zone().await;
    let (dev, key, token) = api.enroll(cp, 7).await;
    // 2026-12-01 10:00 Beijing time.
    let t = 1_796_083_200 + 2 * 3600;
    let records = chain(dev, cp, 6, t, Some(6));
    let batch = sign_batch(dev, CheckpointId(cp as u32), records.clone(), &key);
    let body = serde_json::to_value(&batch).unwrap();
    let (s, v) = upload(&api, &token, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r: UploadResult = serde_json::from_value(v).unwrap();
    assert_eq!((r.stored, r.duplicates, r.last_seq), (6, 0, 6));
    let (_, v) = upload(&api, &token, body).await;
    let r: UploadResult = serde_json::from_value(v).unwrap();
    assert_eq!((r.stored, r.duplicates), (0, 6));
    let (_, v) = api
        .as_role(
            Role::Transport,
            Method::GET,
            "/api/v1/usage/daily?date=2026-12-01",
            None,
        )
        .await;
    let usage: DailyUsage = serde_json::from_value(v).unwrap();
    assert_eq!(usage.total, 6);
    let count = |dir: Direction, verdict: &str| {
        usage
            .rows
            .iter()
            .filter(|r| r.direction == dir && r.verdict == verdict)
            .map(|r| r.count)
            .sum::<u64>()
    };
    assert_eq!(count(Direction::In, "accepted"), 3);
    assert_eq!(count(Direction::Out, "accepted"), 2);
    assert_eq!(count(Direction::Out, "expired"), 1);
    let (_, v) = api
        .as_role(
            Role::Transport,
            Method::GET,
            "/api/v1/usage/daily?date=2026-12-02",
            None,
        )
        .await;
    assert_eq!(v["total"], 0);
    let (s, _) = api
        .as_role(
            Role::Transport,
            Method::GET,
            "/api/v1/usage/daily?date=2026-02-30",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // An edited record in a signed batch is refused whole, and nothing of it is stored.
    let more = chain(dev, cp, 9, t, Some(6));
    let mut edited = sign_batch(dev, CheckpointId(cp as u32), more[6..].to_vec(), &key);
    edited.records[0].plate = Some("豫U99999".into());
    let (s, v) = upload(&api, &token, serde_json::to_value(&edited).unwrap()).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("batch_refused")),
        "{v}"
    );

    // A batch of device A replayed with device B's token, claiming A or claiming B.
    let (dev_b, _key_b, token_b) = api.enroll(other, 8).await;
    let honest = sign_batch(dev, CheckpointId(cp as u32), more[6..].to_vec(), &key);
    let (s, v) = upload(&api, &token_b, serde_json::to_value(&honest).unwrap()).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("batch_refused")),
        "{v}"
    );
    let mut claimed = honest.clone();
    claimed.device_id = dev_b;
    claimed.checkpoint_id = CheckpointId(other as u32);
    for r in &mut claimed.records {
        r.device_id = dev_b;
        r.checkpoint_id = CheckpointId(other as u32);
    }
    let (s, v) = upload(&api, &token_b, serde_json::to_value(&claimed).unwrap()).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("batch_refused")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("signature"), "{v}");

    // The honest batch goes through.
    let (s, v) = upload(&api, &token, serde_json::to_value(&honest).unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["stored"], 3);

    // A token not bound to a device cannot upload at all.
    let plain = create_token(
        &api.state,
        Role::Checkpoint,
        "gate",
        Some(CheckpointId(cp as u32)),
    )
    .await
    .unwrap();
    let (s, _) = upload(&api, &plain, serde_json::to_value(&honest).unwrap()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // A revoked device is refused, and told why, on every route.
    let path = format!("/api/v1/devices/{}/revoke", dev.0);
    let (s, v) = api
        .as_role(
            Role::Ops,
            Method::POST,
            &path,
            Some(json!({"reason": "平板丢失"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = upload(&api, &token, serde_json::to_value(&honest).unwrap()).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("device_revoked")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("平板丢失"), "{v}");
    let (s, _) = api.get_bytes("/api/v1/sync/bundle", &token).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn enrolment_codes_are_one_time(db: TestDb) {
    let api = Api::new(db).await;
    let (_, cp, _) = api.zone().await;
    let (s, c) = api
        .as_role(
            Role::Ops,
            Method::POST,
            &format!("/api/v1/checkpoints/{cp}/enrollment"),
            Some(json!({"valid_hours": 2})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let code = c["code"].as_str().unwrap().to_owned();
    let key =
        passgate_shared::keys::public_key_b64(&SigningKey::from_bytes(&[3; 32]).verifying_key());
    let enroll = |code: String, key: String| json!({"code": code, "public_key": key});
    let (s, v) = api
        .call(
            Method::POST,
            "/api/v1/devices/enroll",
            None,
            Some(enroll(code.to_lowercase(), key.clone())),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "codes are read case-insensitively: {v}"
    );
    let (s, v) = api
        .call(
            Method::POST,
            "/api/v1/devices/enroll",
            None,
            Some(enroll(code.clone(), key.clone())),
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("code_used")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("运行局"), "{v}");
    let (s, v) = api
        .call(
            Method::POST,
            "/api/v1/devices/enroll",
            None,
            Some(enroll("AAAA-BBBB-CCCC".into(), key.clone())),
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("code_unknown")),
        "{v}"
    );
    let (s, v) = api
        .call(
            Method::POST,
            "/api/v1/devices/enroll",
            None,
            Some(enroll(code, "not a key".into())),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = api
        .as_role(
            Role::Ops,
            Method::POST,
            "/api/v1/checkpoints/999/enrollment",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api
        .as_role(
            Role::Ops,
            Method::POST,
            &format!("/api/v1/checkpoints/{cp}/enrollment"),
            Some(json!({"valid_hours": 0})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, list) = api
        .as_role(Role::Ops, Method::GET, "/api/v1/devices", None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

async fn anomalies_of_two_gates(db: TestDb) {
    let api = Api::new(db).await;
    let (ent, cp, other) = api.zone().await;
    let mut body = pass_body("load_unload_leave", ent, &[]);
    body["max_dwell_minutes"] = json!(60);
    let (s, p) = api
        .as_role(Role::Ops, Method::POST, "/api/v1/passes", Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let number = passgate_shared::PassNumber::parse(p["number"].as_str().unwrap()).unwrap();
    // Two gates admit the same load-unload-leave pass ten minutes apart.
    let t = chrono::Utc::now().timestamp() - 600;
    for (cp, seed, at) in [(cp, 1u8, t), (other, 2, t + 300)] {
        let (dev, key, token) = api.enroll(cp, seed).await;
        let mut records = chain(dev, cp, 1, at, None);
        records[0].number = Some(number);
        records[0].class = Some(passgate_shared::PassClass::LoadUnloadLeave);
        records[0].direction = Direction::In;
        let batch = sign_batch(dev, CheckpointId(cp as u32), records, &key);
        let (s, v) = upload(&api, &token, serde_json::to_value(&batch).unwrap()).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let day = passgate_shared::time::local_day(t);
    let (s, v) = api
        .as_role(
            Role::Transport,
            Method::GET,
            &format!("/api/v1/anomalies?date={day}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let kinds: Vec<&str> = v["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"inside_twice"), "{v}");
    let a = v["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "inside_twice")
        .unwrap();
    assert_eq!(a["checkpoints"], json!([cp, other]));
    assert_eq!(a["number"], p["number"]);
    assert_eq!(a["kind_name"], "同一即装即卸即走证同时在两处厂内");
    let (s, _) = api
        .as_role(
            Role::Transport,
            Method::GET,
            "/api/v1/anomalies?date=yesterday",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = api
        .as_role(
            Role::Checkpoint,
            Method::GET,
            &format!("/api/v1/anomalies?date={day}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn oversized_bodies_are_refused(db: TestDb) {
    let api = Api::new(db).await;
    let big = "x".repeat(passgate_server::BODY_LIMIT + 1);
    let (s, v) = api
        .as_role(
            Role::Ops,
            Method::POST,
            "/api/v1/enterprises",
            Some(json!({ "name": big })),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"], "payload_too_large");
}

async fn concurrent_issuance_gives_unique_numbers(db: TestDb) {
    let api = Api::new(db).await;
    let (ent, _, _) = api.zone().await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let state = api.state.clone();
        let token = api.token(Role::Ops).to_owned();
        tasks.push(tokio::spawn(async move {
            let req = Request::post("/api/v1/passes")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(pass_body("short_haul", ent, &[]).to_string()))
                .unwrap();
            let resp = app(state).oneshot(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::CREATED);
            let v: Value =
                serde_json::from_slice(&to_bytes(resp.into_body(), 1 << 20).await.unwrap())
                    .unwrap();
            v["number"].as_str().unwrap().to_owned()
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 40);
}

async fn health_readiness_and_metrics(db: TestDb) {
    let config = db.config();
    let api = Api::new(db).await;
    let (s, v) = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, v), (StatusCode::OK, json!("ok")));
    let (s, v) = api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"status": "ready"})));

    // Issue two passes, revoke one, upload a batch twice.
    let (ent, cp, other) = api.zone().await;
    let mut numbers = Vec::new();
    for _ in 0..2 {
        let (s, p) = api
            .as_role(
                Role::Ops,
                Method::POST,
                "/api/v1/passes",
                Some(pass_body("long_haul", ent, &[other, cp])),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        numbers.push(p["number"].as_str().unwrap().to_owned());
    }
    let (s, _) = api
        .as_role(
            Role::Ops,
            Method::POST,
            &format!("/api/v1/passes/{}/revoke", numbers[0]),
            Some(json!({"reason": "测试"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let t = 1_796_083_200;
    let (dev, key, token) = api.enroll(cp, 9).await;
    let batch = sign_batch(
        dev,
        CheckpointId(cp as u32),
        chain(dev, cp, 5, t, None),
        &key,
    );
    let body = serde_json::to_value(&batch).unwrap();
    for _ in 0..2 {
        let (s, v) = upload(&api, &token, body.clone()).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let version = api.bundle(None).await.version;
    api.call(Method::GET, "/api/v1/passes/419001999999", None, None)
        .await;

    let (s, v) = api.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let text = v.as_str().unwrap();
    for line in [
        "passgate_http_requests_total{route=\"/api/v1/passes\",method=\"POST\",status=\"201\"} 2".to_owned(),
        "passgate_http_requests_total{route=\"/api/v1/passes/{number}/revoke\",method=\"POST\",status=\"200\"} 1".to_owned(),
        "passgate_http_requests_total{route=\"/api/v1/passes/{number}\",method=\"GET\",status=\"401\"} 1".to_owned(),
        "passgate_http_requests_total{route=\"/readyz\",method=\"GET\",status=\"200\"} 1".to_owned(),
        "passgate_http_request_duration_seconds_count{route=\"/api/v1/sync/upload\",method=\"POST\"} 2".to_owned(),
        "passgate_sync_batches_total 2".to_owned(),
        "passgate_sync_records_total{result=\"stored\"} 5".to_owned(),
        "passgate_sync_records_total{result=\"duplicate\"} 5".to_owned(),
        "passgate_passes_issued_total 2".to_owned(),
        "passgate_passes_revoked_total 1".to_owned(),
        "passgate_database_up 1".to_owned(),
        format!("passgate_bundle_version {version}"),
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    // Raw paths never become labels.
    assert!(!text.contains("419001999999"), "{text}");

    // A database that lost a migration is alive but not ready.
    let raw = passgate_server::open_store(&config).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(raw.pool())
        .await
        .unwrap();
    let (s, v) = api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["status"], "not_ready");
    let (s, _) = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
}
