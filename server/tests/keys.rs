//! Issuer keys at run time, on both backends, against the real router: rotation without a
//! restart (seen at once by a second instance sharing the database and the key directory),
//! and the compromise drill's one action — re-issue every live pass of the compromised key —
//! from the API and from the console, with its reprint list and its audit entries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

on_both_backends!(
    rotation_reaches_every_instance_without_a_restart,
    compromise_drill_reissues_exactly_the_live_passes,
);

use std::collections::BTreeSet;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use common::TestDb;
use common::console::Console;
use passgate_server::audit::{self, Action};
use passgate_server::keyring::Passphrase;
use passgate_server::state::AppState;
use passgate_server::store::{Role, UserRole};
use passgate_server::{app, create_token, open};
use passgate_shared::bundle_file::{apply, decode};
use passgate_shared::codec::decode_text;
use passgate_shared::keys::parse_public_key_b64;
use passgate_shared::verify::{RejectReason, Warning};
use passgate_shared::{Bundle, CheckpointId, GateContext, KeyId, verify};
use serde_json::{Value, json};
use sqlx::AnyPool;
use tower::ServiceExt;

/// A JSON API call to one instance.
async fn call(
    st: &AppState,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let resp = app(st.clone())
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = to_bytes(resp.into_body(), 16 << 20).await.unwrap();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v)
}

/// The bundle a gate downloads from this instance, checked with the pinned bundle keys.
async fn bundle(st: &AppState, gate_token: &str) -> Bundle {
    let req = Request::get("/api/v1/sync/bundle")
        .header("authorization", format!("Bearer {gate_token}"))
        .body(Body::empty())
        .unwrap();
    let resp = app(st.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = to_bytes(resp.into_body(), 16 << 20).await.unwrap();
    let file = decode(&bytes, &st.keys.ring().public_bundle_keys()).unwrap();
    apply(None, file).unwrap()
}

fn short_haul(enterprise: u32, plate: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    let at = |t: i64| chrono::DateTime::from_timestamp(t, 0).unwrap().to_rfc3339();
    json!({
        "class": "short_haul", "plate": plate, "driver": "张三明",
        "enterprise_id": enterprise, "origin": "419001", "destination": "419001",
        "cargo": "production_materials",
        "valid_from": at(now - 3600), "valid_until": at(now + 7 * 86_400),
    })
}

/// Issue a pass through the API of `st`: (number, key id, QR text).
async fn issue(st: &AppState, ops: &str, body: Value) -> (String, u8, String) {
    let (s, p) = call(st, Method::POST, "/api/v1/passes", ops, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    (
        p["number"].as_str().unwrap().to_owned(),
        p["key_id"].as_u64().unwrap() as u8,
        p["qr_text"].as_str().unwrap().to_owned(),
    )
}

fn gate() -> GateContext {
    GateContext {
        checkpoint: CheckpointId(1),
        inside_zone: true,
        enterprise: None,
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn rotation_reaches_every_instance_without_a_restart(db: TestDb) {
    let mut config = db.config();
    config.key_passphrase = Passphrase::new("a drill passphrase");
    // Two instances on one database and one key directory, as behind a load balancer.
    let a = open(&config).await.unwrap();
    let b = open(&config).await.unwrap();
    let admin = create_token(&a, Role::Admin, "admin1", None).await.unwrap();
    let ops = create_token(&a, Role::Ops, "ops1", None).await.unwrap();
    let gate_token = create_token(&a, Role::Checkpoint, "gate", None)
        .await
        .unwrap();
    let ent = a
        .store
        .create_enterprise("示范区钢铁", now())
        .await
        .unwrap()
        .id
        .0;
    let (_, k, old_qr) = issue(&b, &ops, short_haul(ent, "豫U10001")).await;
    assert_eq!(k, 1);
    let before = bundle(&b, &gate_token).await;

    // Only an administrator rotates.
    let (s, _) = call(&a, Method::POST, "/api/v1/keys/rotate", &ops, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = call(&a, Method::POST, "/api/v1/keys/rotate", &admin, None).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["key"]["id"], 2, "{v}");
    assert_eq!(v["key"]["status"], "active");
    assert_eq!(v["keys"][0]["status"], "retired", "{v}");
    let new_public = parse_public_key_b64(v["key"]["public"].as_str().unwrap()).unwrap();

    // The key file: private, encrypted under the passphrase, never the seed in clear.
    let path = config.key_dir().join("issuer-02.key");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("pgkey1:"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The instance that rotated signs with the new key at once.
    let (_, k, qr_a) = issue(&a, &ops, short_haul(ent, "豫U10002")).await;
    assert_eq!(k, 2);
    assert!(decode_text(&qr_a).unwrap().signature_valid(&new_public));
    // The other instance has not read the new file; the store names key 2 as the active
    // one, so it reads the directory again and signs with it too — no restart.
    assert!(b.keys.ring().issuer_key(KeyId(2)).is_none());
    let (_, k, qr_b) = issue(&b, &ops, short_haul(ent, "豫U10003")).await;
    assert_eq!(k, 2);
    assert!(decode_text(&qr_b).unwrap().signature_valid(&new_public));
    assert!(b.keys.ring().issuer_key(KeyId(2)).is_some());

    // Gates learn the new key through the next bundle; the old pass stays valid (its key is
    // retired, which the gate notes), the new ones verify.
    let after = bundle(&b, &gate_token).await;
    assert!(after.version > before.version);
    let statuses: Vec<(u8, String)> = after
        .keys
        .iter()
        .map(|k| (k.id.0, format!("{:?}", k.status)))
        .collect();
    assert_eq!(
        statuses,
        vec![(1, "Retired".to_owned()), (2, "Active".to_owned())]
    );
    let old = verify(&old_qr, &after, &gate(), now());
    assert!(old.accepted(), "{old:?}");
    assert!(old.warnings.contains(&Warning::RetiredKey), "{old:?}");
    for qr in [&qr_a, &qr_b] {
        let v = verify(qr, &after, &gate(), now());
        assert!(v.accepted() && v.warnings.is_empty(), "{v:?}");
    }

    // The rotation is audited, with who did it and what it retired.
    let entries = a
        .store
        .recent_audit(Some(Action::KeyRotated.as_str()), None, 10)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].actor.as_str(), entries[0].subject.as_str()),
        ("admin1", "issuer_key:2")
    );
    assert!(entries[0].detail.contains("\"retired\":[1]"), "{entries:?}");
    assert_eq!(audit::verify_store(&a).await.unwrap().first_break, None);

    // A rotation on the other instance: the first follows on its next issue.
    let (s, v) = call(&b, Method::POST, "/api/v1/keys/rotate", &admin, None).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["key"]["id"], 3);
    let (_, k, _) = issue(&a, &ops, short_haul(ent, "豫U10004")).await;
    assert_eq!(k, 3);

    // The signing key cannot be retired (rotation does that); another active key can't be
    // made active again, and a compromised key stays compromised.
    let (s, v) = call(
        &a,
        Method::POST,
        "/api/v1/keys/3/status",
        &admin,
        Some(json!({"status": "retired"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["message"].as_str().unwrap().contains("轮换"), "{v}");
    let (s, _) = call(
        &a,
        Method::POST,
        "/api/v1/keys/1/status",
        &admin,
        Some(json!({"status": "active"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // A restart reads the same state: key 3 signs.
    drop(a);
    let again = open(&config).await.unwrap();
    let (_, k, _) = issue(&again, &ops, short_haul(ent, "豫U10005")).await;
    assert_eq!(k, 3);
}

async fn compromise_drill_reissues_exactly_the_live_passes(db: TestDb) {
    let url = db.url();
    let c = Console::new(db).await;
    let st = c.state.clone();
    let ent = c.enterprise.0;
    let admin = create_token(&st, Role::Admin, "admin-api", None)
        .await
        .unwrap();
    let ops = create_token(&st, Role::Ops, "ops-api", None).await.unwrap();
    let gate_token = create_token(&st, Role::Checkpoint, "gate", None)
        .await
        .unwrap();

    // Under key 1: two live passes (one with a phone), one revoked, one expired.
    let mut with_phone = short_haul(ent, "豫U20001");
    with_phone["crew_phone"] = json!("13812345678");
    let live1 = issue(&st, &ops, with_phone).await;
    let live2 = issue(&st, &ops, short_haul(ent, "豫U20002")).await;
    let revoked = issue(&st, &ops, short_haul(ent, "豫U20003")).await;
    let expired = issue(&st, &ops, short_haul(ent, "豫U20004")).await;
    let (s, v) = call(
        &st,
        Method::POST,
        &format!("/api/v1/passes/{}/revoke", revoked.0),
        &ops,
        Some(json!({"reason": "证件作废"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE passes SET valid_from = $1, valid_until = $2 WHERE number = $3")
        .bind(now() - 3 * 86_400)
        .bind(now() - 86_400)
        .bind(&expired.0)
        .execute(&pool)
        .await
        .unwrap();

    // Nothing to re-issue while the key is not compromised.
    let (s, v) = call(&st, Method::POST, "/api/v1/keys/1/reissue", &admin, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    // Marking the signing key compromised stops issuing until a rotation.
    let (s, v) = call(
        &st,
        Method::POST,
        "/api/v1/keys/1/status",
        &admin,
        Some(json!({"status": "compromised"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = call(
        &st,
        Method::POST,
        "/api/v1/passes",
        &ops,
        Some(short_haul(ent, "豫U20009")),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("rotate"),
        "the refusal says what to do: {v}"
    );
    let (s, _) = call(&st, Method::POST, "/api/v1/keys/1/reissue", &admin, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "no key to sign with yet");

    // The administrator rotates from the console; a pass issued now is key 2's.
    let browser = c.browser(UserRole::Admin).await;
    let ops_browser = c.browser(UserRole::Ops).await;
    assert_eq!(
        c.post_form(Some(&ops_browser), "/keys/rotate", &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = c.post_form(Some(&browser), "/keys/rotate", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.location.as_deref(), Some("/keys?rotated=2"));
    let page = c.get(Some(&browser), "/keys?rotated=2").await.text();
    assert!(page.contains("已生成签发密钥 2"), "{page}");
    assert!(page.contains("重新签发受影响的通行证"), "{page}");
    let fresh = issue(&st, &ops, short_haul(ent, "豫U20005")).await;
    assert_eq!(fresh.1, 2);

    // The gate has synced: every QR of key 1 is refused.
    let held = bundle(&st, &gate_token).await;
    for (_, _, qr) in [&live1, &live2, &revoked, &expired] {
        let v = verify(qr, &held, &gate(), now());
        assert_eq!(
            v.reason,
            Some(RejectReason::KeyCompromised(KeyId(1))),
            "{v:?}"
        );
    }

    // The one action, from the console: it answers with the reprint list.
    let ops_try = c
        .post_form(Some(&ops_browser), "/keys/1/reissue", &[])
        .await;
    assert_eq!(ops_try.status, StatusCode::FORBIDDEN);
    let r = c.post_form(Some(&browser), "/keys/1/reissue", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.location.as_deref(), Some("/keys/1/reissued?done=2"));
    // Ops print them: the list names exactly the two live passes, each with its print link.
    let list = c.get(Some(&ops_browser), "/keys/1/reissued?done=2").await;
    assert_eq!(list.status, StatusCode::OK);
    let text = list.text();
    assert!(text.contains("已重新签发 2 张通行证"), "{text}");
    for n in [&live1.0, &live2.0] {
        assert!(text.contains(&format!("/passes/{n}/print")), "{n}: {text}");
    }
    for n in [&revoked.0, &expired.0, &fresh.0] {
        assert!(!text.contains(n.as_str()), "{n} is not to reprint: {text}");
    }
    let transport = c.browser(UserRole::Transport).await;
    assert_eq!(
        c.get(Some(&transport), "/keys/1/reissued").await.status,
        StatusCode::FORBIDDEN
    );

    // Same numbers, new signatures: the new QR codes are accepted by the gate's bundle
    // (key 2 is in it already), the old ones stay refused.
    for (number, _, old_qr) in [&live1, &live2] {
        let (s, p) = call(
            &st,
            Method::GET,
            &format!("/api/v1/passes/{number}"),
            &ops,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(p["key_id"], 2, "{p}");
        assert_eq!(p["reissued_from_key"], 1, "{p}");
        let new_qr = p["qr_text"].as_str().unwrap();
        assert_ne!(new_qr, old_qr);
        let v = verify(new_qr, &held, &gate(), now());
        assert!(v.accepted(), "{v:?}");
        assert_eq!(v.pass.as_ref().unwrap().number.to_string(), *number);
        assert!(!verify(old_qr, &held, &gate(), now()).accepted());
        // The print page marks the re-issue, so a new print is told from an old one.
        let print = c
            .get(Some(&ops_browser), &format!("/passes/{number}/print"))
            .await
            .text();
        assert!(print.contains("重新签发："), "{print}");
    }
    // The phone was sealed to the pass number, so it still opens after the re-issue.
    let shown = c
        .post_form(
            Some(&ops_browser),
            &format!("/passes/{}/phone", live1.0),
            &[],
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.text().contains("13812345678"));

    // The revoked and the expired passes were left alone.
    for n in [&revoked.0, &expired.0] {
        let (_, p) = call(&st, Method::GET, &format!("/api/v1/passes/{n}"), &ops, None).await;
        assert_eq!(p["key_id"], 1, "{p}");
        assert_eq!(p["reissued_at"], Value::Null);
    }

    // Running it again finds nothing left; the API answers with the list it did.
    let (s, v) = call(&st, Method::POST, "/api/v1/keys/1/reissue", &admin, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["count"].clone(), v["to_key"].clone()),
        (json!(0), json!(2))
    );

    // Audited: the compromise, the rotation and the re-issue naming each pass.
    let reissued = st
        .store
        .recent_audit(Some(Action::PassReissued.as_str()), None, 10)
        .await
        .unwrap();
    assert_eq!(reissued.len(), 2);
    let first = reissued.last().unwrap();
    assert_eq!(first.actor, browser.user.username);
    assert_eq!(first.subject, "issuer_key:1");
    let detail: Value = serde_json::from_str(&first.detail).unwrap();
    let named: BTreeSet<String> = detail["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(named, BTreeSet::from([live1.0.clone(), live2.0.clone()]));
    for action in [Action::KeyStatusChanged, Action::KeyRotated] {
        let e = st
            .store
            .recent_audit(Some(action.as_str()), None, 10)
            .await
            .unwrap();
        assert_eq!(e.len(), 1, "{action:?}");
    }
    assert_eq!(audit::verify_store(&st).await.unwrap().first_break, None);
}
