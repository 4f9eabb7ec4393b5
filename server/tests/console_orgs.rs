//! Console pages of the operations bureau (enterprises, checkpoints, devices) and of the
//! administrator (users, keys), against the real router on both backends: forms with their
//! field errors, an enrolment code that really enrols a device through the API, device
//! revocation, accounts with one-time passwords that log in, and a compromised key reaching
//! the gates' bundle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

on_both_backends!(
    enterprises_and_checkpoints_through_forms,
    enrolment_code_enrols_a_device_that_can_be_revoked,
    admin_manages_accounts_with_one_time_passwords,
    keys_page_marks_a_key_compromised_for_the_gates,
);

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::TestDb;
use common::console::{Console, Reply};
use ed25519_dalek::SigningKey;
use passgate_server::store::{DeviceStatus, PassRecord, PassStatus, Role, UserRole};
use passgate_shared::bundle_file::{apply, decode};
use passgate_shared::record::DeviceId;
use passgate_shared::{
    Bundle, CheckpointId, DivisionCode, EnterpriseId, KeyId, KeyStatus, PassClass, PassNumber,
};
use serde_json::{Value, json};

/// A JSON API call with an optional Bearer token.
async fn api(
    c: &Console,
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
    let r = c.send(req.body(body).unwrap()).await;
    let v = serde_json::from_slice(&r.body).unwrap_or_else(|_| Value::String(r.text()));
    (r.status, v)
}

/// The bundle a gate with `token` downloads, signature-checked.
async fn bundle(c: &Console, token: &str) -> Bundle {
    let r = c
        .send(
            Request::get("/api/v1/sync/bundle")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let file = decode(&r.body, &c.state.keys.ring().public_bundle_keys()).unwrap();
    apply(None, file).unwrap()
}

/// The id at the end of a redirect such as `/checkpoints/7?done=created`.
fn id_in(location: Option<&str>, prefix: &str) -> u32 {
    let loc = location.expect("a redirect");
    let rest = loc.strip_prefix(prefix).expect(loc);
    rest.split('?').next().unwrap().parse().unwrap()
}

/// The text between `start` and the next `end` in a page.
fn between(reply: &Reply, start: &str, end: &str) -> String {
    let text = reply.text();
    let at = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} in {text}"))
        + start.len();
    let len = text[at..].find(end).unwrap();
    text[at..at + len].to_owned()
}

/// A stored pass of `enterprise` valid until `until` (the signature is not checked here).
fn pass(enterprise: EnterpriseId, serial: u32, until: i64) -> PassRecord {
    PassRecord {
        number: PassNumber::parse(&format!("419001{serial:06}")).unwrap(),
        class: PassClass::ShortHaul,
        plate: "豫U12345".into(),
        driver_name: "张三".into(),
        driver_masked: "张*".into(),
        driver_id_hash: None,
        co_driver_name: None,
        co_driver_masked: None,
        enterprise_id: enterprise,
        origin: DivisionCode::parse("419001").unwrap(),
        destination: DivisionCode::parse("419001").unwrap(),
        route_checkpoints: Vec::new(),
        cargo: "key_production".into(),
        valid_from: until - 7 * 86_400,
        valid_until: until,
        max_dwell_minutes: None,
        key_id: KeyId(1),
        qr_text: format!("PG:test{serial}"),
        status: PassStatus::Active,
        revoked_at: None,
        revoke_reason: None,
        created_at: until - 7 * 86_400,
        created_by: "test".into(),
        crew_phone_masked: None,
        crew_phone_sealed: None,
        reissued_at: None,
        reissued_from_key: None,
    }
}

async fn enterprises_and_checkpoints_through_forms(db: TestDb) {
    let c = Console::new(db).await;
    let ops = c.browser(UserRole::Ops).await;

    let list = c.get(Some(&ops), "/enterprises").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text().contains("测试企业"));

    // Empty and duplicate names get a field error and the form again.
    let empty = c
        .post_form(Some(&ops), "/enterprises", &[("name", "  ")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text().contains("必填"), "{}", empty.text());
    let dup = c
        .post_form(Some(&ops), "/enterprises", &[("name", "测试企业")])
        .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup.text().contains("已有同名企业"));
    assert!(dup.text().contains("aria-invalid=\"true\""));

    let made = c
        .post_form(Some(&ops), "/enterprises", &[("name", " 示范区钢铁 ")])
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text());
    let ent = id_in(made.location.as_deref(), "/enterprises/");
    let e = c
        .state
        .store
        .get_enterprise(EnterpriseId(ent))
        .await
        .unwrap();
    assert_eq!(e.unwrap().name, "示范区钢铁");

    let renamed = c
        .post_form(
            Some(&ops),
            &format!("/enterprises/{ent}"),
            &[("name", "示范区钢铁集团")],
        )
        .await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER);
    let page = c.get(Some(&ops), &format!("/enterprises/{ent}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("示范区钢铁集团"));
    let clash = c
        .post_form(
            Some(&ops),
            &format!("/enterprises/{ent}"),
            &[("name", "测试企业")],
        )
        .await;
    assert_eq!(clash.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(clash.text().contains("已有同名企业"));
    let e = c
        .state
        .store
        .get_enterprise(EnterpriseId(ent))
        .await
        .unwrap();
    assert_eq!(
        e.unwrap().name,
        "示范区钢铁集团",
        "a refused edit changes nothing"
    );

    // A checkpoint of that enterprise, inside the zone.
    let v0 = c.state.store.bundle_version().await.unwrap();
    let ent_s = ent.to_string();
    let made = c
        .post_form(
            Some(&ops),
            "/checkpoints",
            &[
                ("name", "东门"),
                ("kind", "enterprise_gate"),
                ("inside_zone", "1"),
                ("enterprise_id", &ent_s),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text());
    let cp = id_in(made.location.as_deref(), "/checkpoints/");
    let got = c
        .state
        .store
        .get_checkpoint(CheckpointId(cp))
        .await
        .unwrap()
        .unwrap();
    assert!(got.inside_zone);
    assert_eq!(got.enterprise_id, Some(EnterpriseId(ent)));
    assert!(c.state.store.bundle_version().await.unwrap() > v0);
    let counts = c.state.store.enterprise_summaries(0).await.unwrap();
    let counts = counts.iter().find(|e| e.enterprise.id.0 == ent).unwrap();
    assert_eq!((counts.checkpoints, counts.active_passes), (1, 0));
    // Active passes: not revoked and not expired.
    let now = passgate_server::state::now();
    for (serial, until) in [(1, now + 86_400), (2, now + 86_400), (3, now - 60)] {
        c.state
            .store
            .insert_pass(&pass(EnterpriseId(ent), serial, until))
            .await
            .unwrap();
    }
    c.state
        .store
        .revoke_pass(PassNumber::parse("419001000002").unwrap(), "测试", now)
        .await
        .unwrap();
    let counts = c.state.store.enterprise_summaries(now).await.unwrap();
    let counts = counts.iter().find(|e| e.enterprise.id.0 == ent).unwrap();
    assert_eq!((counts.checkpoints, counts.active_passes), (1, 1));
    let page = c.get(Some(&ops), &format!("/enterprises/{ent}")).await;
    assert!(
        page.text()
            .contains(&format!("/checkpoints/{cp}\">东门</a>"))
    );

    // Field errors: a taken name, no name, an unknown kind, an unknown enterprise.
    let bad = c
        .post_form(
            Some(&ops),
            "/checkpoints",
            &[("name", "东门"), ("kind", "enterprise_gate")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("已有同名查验点"));
    let bad = c
        .post_form(
            Some(&ops),
            "/checkpoints",
            &[("name", ""), ("kind", "gate"), ("enterprise_id", "999")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = bad.text();
    assert!(text.contains("必填"), "{text}");
    assert!(text.contains("请选择查验点类型"));
    assert!(text.contains("所选企业不存在"));
    assert_eq!(c.state.store.list_checkpoints().await.unwrap().len(), 1);

    // Edit: outside the zone now, no enterprise; the gates learn it through the bundle.
    let v1 = c.state.store.bundle_version().await.unwrap();
    let edited = c
        .post_form(
            Some(&ops),
            &format!("/checkpoints/{cp}"),
            &[("name", "东卡口"), ("kind", "zone_border")],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.text());
    let got = c
        .state
        .store
        .get_checkpoint(CheckpointId(cp))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.name, "东卡口");
    assert!(!got.inside_zone);
    assert_eq!(got.enterprise_id, None);
    assert!(c.state.store.bundle_version().await.unwrap() > v1);
    // Keeping its own name is not a clash.
    let same = c
        .post_form(
            Some(&ops),
            &format!("/checkpoints/{cp}"),
            &[("name", "东卡口"), ("kind", "zone_border")],
        )
        .await;
    assert_eq!(same.status, StatusCode::SEE_OTHER, "{}", same.text());

    let list = c.get(Some(&ops), "/checkpoints").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text().contains("东卡口"));
    assert!(list.text().contains("区域边界卡口"));

    // Pages that do not exist, and people who may not.
    assert_eq!(
        c.get(Some(&ops), "/enterprises/abc").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get(Some(&ops), "/checkpoints/999").await.status,
        StatusCode::NOT_FOUND
    );
    let transport = c.browser(UserRole::Transport).await;
    assert_eq!(
        c.get(Some(&transport), "/enterprises").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.post_form(Some(&transport), "/checkpoints", &[("name", "西门")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

async fn enrolment_code_enrols_a_device_that_can_be_revoked(db: TestDb) {
    let c = Console::new(db).await;
    let ops = c.browser(UserRole::Ops).await;
    let made = c
        .post_form(
            Some(&ops),
            "/checkpoints",
            &[
                ("name", "北门"),
                ("kind", "enterprise_gate"),
                ("inside_zone", "1"),
            ],
        )
        .await;
    let cp = id_in(made.location.as_deref(), "/checkpoints/");
    let page = c.get(Some(&ops), &format!("/checkpoints/{cp}")).await;
    assert!(page.text().contains("该查验点尚未注册设备"));

    let shown = c
        .post_form(
            Some(&ops),
            &format!("/checkpoints/{cp}/enrolment-codes"),
            &[("valid_hours", "2")],
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text());
    assert!(shown.text().contains("只显示这一次"));
    let code = between(&shown, "--code ", "<");
    assert_eq!(code.len(), 14, "{code}");
    assert!(shown.text().contains(&format!(
        "passgate-checkpoint enroll --server http://console.test --code {code}"
    )));
    // The code is not kept anywhere it could be shown again.
    let page = c.get(Some(&ops), &format!("/checkpoints/{cp}")).await;
    assert!(!page.text().contains(&code));
    let bad_hours = c
        .post_form(
            Some(&ops),
            &format!("/checkpoints/{cp}/enrolment-codes"),
            &[("valid_hours", "500")],
        )
        .await;
    assert_eq!(bad_hours.status, StatusCode::BAD_REQUEST);
    assert!(bad_hours.text().contains("1 至 168 小时"));

    // The device enrols with it through the real API, once.
    let key = SigningKey::from_bytes(&[5; 32]);
    let public = passgate_shared::keys::public_key_b64(&key.verifying_key());
    let body = json!({"code": code, "public_key": public, "name": "北门手持机1"});
    let (s, d) = api(&c, Method::POST, "/api/v1/devices/enroll", None, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["checkpoint_id"], cp);
    let device = DeviceId(d["device_id"].as_u64().unwrap() as u32);
    let token = d["token"].as_str().unwrap().to_owned();
    let other =
        passgate_shared::keys::public_key_b64(&SigningKey::from_bytes(&[6; 32]).verifying_key());
    let (s, v) = api(
        &c,
        Method::POST,
        "/api/v1/devices/enroll",
        None,
        Some(json!({"code": code, "public_key": other})),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("code_used"))
    );

    // The checkpoint page lists it: never downloaded a bundle, so flagged.
    let page = c.get(Some(&ops), &format!("/checkpoints/{cp}")).await;
    let text = page.text();
    assert!(text.contains("北门手持机1"), "{text}");
    assert!(text.contains("从未下载"));
    assert!(text.contains("class=\"badge stale\">规则包过期"), "{text}");

    // After a bundle download the page shows the version it holds and no flag.
    let held = bundle(&c, &token).await;
    let syncs = c
        .state
        .store
        .device_syncs(Some(CheckpointId(cp)))
        .await
        .unwrap();
    assert_eq!(syncs.len(), 1);
    assert_eq!(syncs[0].bundle_version, Some(held.version));
    assert!(syncs[0].bundle_fetched_at.is_some());
    let page = c.get(Some(&ops), &format!("/checkpoints/{cp}")).await;
    let text = page.text();
    assert!(text.contains(&format!("第 {} 版", held.version)), "{text}");
    assert!(!text.contains("badge stale"), "{text}");
    // A later change puts the device behind.
    c.post_form(
        Some(&ops),
        &format!("/checkpoints/{cp}"),
        &[
            ("name", "北门一号"),
            ("kind", "enterprise_gate"),
            ("inside_zone", "1"),
        ],
    )
    .await;
    let page = c.get(Some(&ops), &format!("/checkpoints/{cp}")).await;
    assert!(page.text().contains("落后当前版本 1 版"), "{}", page.text());
    let list = c.get(Some(&ops), "/checkpoints").await;
    assert!(list.text().contains("北门一号"));

    // Revoking needs a reason, works once, and shuts the device out.
    let path = format!("/devices/{}/revoke", device.0);
    let no_reason = c.post_form(Some(&ops), &path, &[("reason", "")]).await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_reason.text().contains("必填"));
    let done = c
        .post_form(Some(&ops), &path, &[("reason", "平板丢失")])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/checkpoints/{cp}?done=revoked").as_str())
    );
    let dev = c.state.store.get_device(device).await.unwrap().unwrap();
    assert_eq!(dev.status, DeviceStatus::Revoked);
    assert_eq!(dev.revoke_reason.as_deref(), Some("平板丢失"));
    let again = c.post_form(Some(&ops), &path, &[("reason", "再次")]).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.text().contains("该设备已被吊销"));
    let page = c
        .get(Some(&ops), &format!("/checkpoints/{cp}?done=revoked"))
        .await;
    assert!(page.text().contains("已吊销"));
    assert!(page.text().contains("平板丢失"));
    let r = c
        .send(
            Request::get("/api/v1/sync/bundle")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        c.post_form(Some(&ops), "/devices/999/revoke", &[("reason", "x")])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// Log in through the login form: the reply to `POST /login`.
async fn login(c: &Console, username: &str, password: &str) -> Reply {
    let form = c.get(None, "/login").await;
    let token = form
        .set_cookies
        .iter()
        .find(|s| s.starts_with("pg_csrf="))
        .unwrap()
        .trim_start_matches("pg_csrf=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body = format!(
        "_csrf={token}&username={}&password={}",
        passgate_server::web::urlencode(username),
        passgate_server::web::urlencode(password)
    );
    c.send(
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("pg_csrf={token}"))
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

async fn admin_manages_accounts_with_one_time_passwords(db: TestDb) {
    let c = Console::new(db).await;
    let admin = c.browser(UserRole::Admin).await;
    let list = c.get(Some(&admin), "/users").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text().contains(&admin.user.username));

    let bad = c
        .post_form(
            Some(&admin),
            "/users",
            &[
                ("username", "Zhang Wei"),
                ("display_name", ""),
                ("role", "ops"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("用户名只能使用小写字母"));
    assert!(bad.text().contains("必填"));
    let no_ent = c
        .post_form(
            Some(&admin),
            "/users",
            &[
                ("username", "qiye1"),
                ("display_name", "企业联络员"),
                ("role", "enterprise"),
                ("enterprise_id", ""),
            ],
        )
        .await;
    assert_eq!(no_ent.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_ent.text().contains("企业账号须选择所属企业"));

    let made = c
        .post_form(
            Some(&admin),
            "/users",
            &[
                ("username", "Zhang.Wei"),
                ("display_name", "张伟"),
                ("role", "ops"),
                // Ignored for roles other than the enterprise role.
                ("enterprise_id", "999"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    assert!(made.text().contains("只显示这一次"));
    let password = between(&made, "<code class=\"orgs-code\">", "<");
    assert_eq!(password.len(), 16);
    let user = c.state.store.find_user("zhang.wei").await.unwrap().unwrap();
    assert_eq!(user.role, UserRole::Ops);
    assert_eq!(user.enterprise_id, None);
    assert!(user.must_change_password);
    let dup = c
        .post_form(
            Some(&admin),
            "/users",
            &[
                ("username", "zhang.wei"),
                ("display_name", "另一个张伟"),
                ("role", "transport"),
            ],
        )
        .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup.text().contains("该用户名已被使用"));

    // The one-time password logs in, straight to the password change.
    let ok = login(&c, "zhang.wei", &password).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    assert_eq!(ok.location.as_deref(), Some("/account/password"));
    let cookie = ok
        .set_cookies
        .iter()
        .find(|s| s.starts_with("pg_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let home = c
        .send(
            Request::get("/enterprises")
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location.as_deref(), Some("/account/password"));

    // A reset gives a new one-time password; the old one stops working.
    let reset = c
        .post_form(
            Some(&admin),
            &format!("/users/{}/reset-password", user.id),
            &[],
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text());
    let new_password = between(&reset, "<code class=\"orgs-code\">", "<");
    assert_ne!(new_password, password);
    assert_eq!(
        login(&c, "zhang.wei", &password).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&c, "zhang.wei", &new_password).await.status,
        StatusCode::SEE_OTHER
    );

    // Deactivate and reactivate; never oneself.
    let me = c
        .post_form(
            Some(&admin),
            &format!("/users/{}/active", admin.user.id),
            &[("active", "false")],
        )
        .await;
    assert_eq!(me.status, StatusCode::CONFLICT);
    assert!(me.text().contains("不能停用自己的账号"));
    assert!(
        c.state
            .store
            .get_user(admin.user.id)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    let off = c
        .post_form(
            Some(&admin),
            &format!("/users/{}/active", user.id),
            &[("active", "false")],
        )
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    assert!(
        !c.state
            .store
            .get_user(user.id)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    assert_eq!(
        login(&c, "zhang.wei", &new_password).await.status,
        StatusCode::UNAUTHORIZED
    );
    let list = c.get(Some(&admin), "/users?done=deactivated").await;
    assert!(list.text().contains("已停用"));
    let on = c
        .post_form(
            Some(&admin),
            &format!("/users/{}/active", user.id),
            &[("active", "true")],
        )
        .await;
    assert_eq!(on.status, StatusCode::SEE_OTHER);
    assert!(
        c.state
            .store
            .get_user(user.id)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    let missing = c
        .post_form(Some(&admin), &format!("/users/{}/active", user.id), &[])
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Enterprise accounts carry their enterprise.
    let ent = c.enterprise.0.to_string();
    let made = c
        .post_form(
            Some(&admin),
            "/users",
            &[
                ("username", "qiye1"),
                ("display_name", "企业联络员"),
                ("role", "enterprise"),
                ("enterprise_id", &ent),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let q = c.state.store.find_user("qiye1").await.unwrap().unwrap();
    assert_eq!(q.enterprise_id, Some(c.enterprise));

    // Only the administrator.
    let ops = c.browser(UserRole::Ops).await;
    assert_eq!(
        c.get(Some(&ops), "/users").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.post_form(
            Some(&ops),
            "/users",
            &[
                ("username", "sneaky"),
                ("display_name", "x"),
                ("role", "admin")
            ]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert!(c.state.store.find_user("sneaky").await.unwrap().is_none());
}

async fn keys_page_marks_a_key_compromised_for_the_gates(db: TestDb) {
    let c = Console::new(db).await;
    let admin = c.browser(UserRole::Admin).await;
    let page = c.get(Some(&admin), "/keys").await;
    assert_eq!(page.status, StatusCode::OK);
    let ring = c.state.keys.ring();
    let (id, key) = ring.newest_issuer();
    assert_eq!(id, KeyId(1));
    let fp = passgate_server::web::keys::fingerprint(&key.verifying_key());
    assert!(page.text().contains(&fp), "{}", page.text());
    let (_, bundle_key) = ring.bundle_signer();
    assert!(
        page.text()
            .contains(&passgate_server::web::keys::fingerprint(
                &bundle_key.verifying_key()
            ))
    );
    assert!(page.text().contains("如何轮换密钥"));
    let ops = c.browser(UserRole::Ops).await;
    assert_eq!(
        c.get(Some(&ops), "/keys").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.post_form(Some(&ops), "/keys/1/status", &[("status", "compromised")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let gate = passgate_server::create_token(&c.state, Role::Checkpoint, "gate", None)
        .await
        .unwrap();
    let before = bundle(&c, &gate).await;
    assert_eq!(
        before
            .keys
            .iter()
            .find(|k| k.id == KeyId(1))
            .unwrap()
            .status,
        KeyStatus::Active
    );

    let bad = c
        .post_form(Some(&admin), "/keys/1/status", &[("status", "active")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("retired 或 compromised"));
    let done = c
        .post_form(Some(&admin), "/keys/1/status", &[("status", "compromised")])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let page = c.get(Some(&admin), done.location.as_deref().unwrap()).await;
    let text = page.text();
    assert!(text.contains("已泄露"));
    assert!(text.contains("下次同步时获知"), "{text}");
    assert!(text.contains("当前签发密钥已标记为泄露"));

    let after = bundle(&c, &gate).await;
    assert!(after.version > before.version);
    assert_eq!(
        after.keys.iter().find(|k| k.id == KeyId(1)).unwrap().status,
        KeyStatus::Compromised
    );
    assert_eq!(
        c.post_form(Some(&admin), "/keys/9/status", &[("status", "retired")])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
