//! The crew's phone, on both backends, against the real router: validated with a message a
//! person can act on, sealed in the database, never in the QR code or the bundle, shown
//! masked to everyone who may see the pass, and in full only to ops and admin on request —
//! each such view an audit entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

on_both_backends!(
    phones_stay_on_the_server_masked_and_each_full_view_is_audited,
    the_form_checks_and_keeps_the_phone,
);

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use common::TestDb;
use common::console::Console;
use passgate_server::audit::Action;
use passgate_server::store::{Role, UserRole};
use passgate_server::{app, create_token};
use passgate_shared::codec::decode_text;
use serde_json::{Value, json};
use sqlx::{AnyPool, Row};
use tower::ServiceExt;

const PHONE: &str = "13812345678";
const MASKED: &str = "138****5678";

async fn call(
    c: &Console,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value, Vec<u8>) {
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
    let resp = app(c.state.clone())
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = to_bytes(resp.into_body(), 16 << 20).await.unwrap().to_vec();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v, bytes)
}

fn pass_body(enterprise: u32, phone: Option<&str>) -> Value {
    let now = chrono::Utc::now().timestamp();
    let at = |t: i64| chrono::DateTime::from_timestamp(t, 0).unwrap().to_rfc3339();
    let mut b = json!({
        "class": "short_haul", "plate": "豫U12345", "driver": "张三明",
        "enterprise_id": enterprise, "origin": "419001", "destination": "419001",
        "cargo": "production_materials",
        "valid_from": at(now - 3600), "valid_until": at(now + 7 * 86_400),
    });
    if let Some(p) = phone {
        b["crew_phone"] = json!(p);
    }
    b
}

async fn viewed(c: &Console) -> Vec<passgate_server::store::AuditEntry> {
    c.state
        .store
        .recent_audit(Some(Action::PersonalDataViewed.as_str()), None, 50)
        .await
        .unwrap()
}

async fn phones_stay_on_the_server_masked_and_each_full_view_is_audited(db: TestDb) {
    let url = db.url();
    let c = Console::new(db).await;
    let ent = c.enterprise.0;
    let ops = create_token(&c.state, Role::Ops, "ops-api", None)
        .await
        .unwrap();
    let gate = create_token(&c.state, Role::Checkpoint, "gate", None)
        .await
        .unwrap();

    // A bad number is refused with the field named and a message in both languages.
    let (s, v, _) = call(
        &c,
        Method::POST,
        "/api/v1/passes",
        &ops,
        Some(pass_body(ent, Some("1381234567"))),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["fields"][0]["field"], "crew_phone", "{v}");
    let msg = v["fields"][0]["message"].as_str().unwrap();
    assert!(msg.contains("11 digits") && msg.contains("手机号"), "{msg}");
    assert_eq!(
        c.state
            .store
            .list_passes(&Default::default())
            .await
            .unwrap()
            .1,
        0,
        "a refused request stores nothing"
    );

    // Written any common way, it is stored once, and the API shows it masked.
    let (s, p, raw) = call(
        &c,
        Method::POST,
        "/api/v1/passes",
        &ops,
        Some(pass_body(ent, Some("+86 138-1234-5678"))),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["crew_phone"], MASKED);
    assert!(!String::from_utf8_lossy(&raw).contains(PHONE));
    let number = p["number"].as_str().unwrap().to_owned();
    let (_, listed, raw) = call(&c, Method::GET, "/api/v1/passes", &ops, None).await;
    assert_eq!(listed["passes"][0]["crew_phone"], MASKED);
    assert!(!String::from_utf8_lossy(&raw).contains(PHONE));

    // Not in the QR code, not in the bundle.
    let qr = p["qr_text"].as_str().unwrap();
    let signed = decode_text(qr).unwrap();
    assert!(!String::from_utf8_lossy(&signed.payload).contains(PHONE));
    assert!(!format!("{:?}", signed.pass).contains("5678"));
    let (s, _, bundle) = call(&c, Method::GET, "/api/v1/sync/bundle", &gate, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!bundle.windows(PHONE.len()).any(|w| w == PHONE.as_bytes()));

    // In the database: the masked form, and the full number sealed (not readable there).
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&url).await.unwrap();
    let row =
        sqlx::query("SELECT crew_phone_masked, crew_phone_sealed FROM passes WHERE number = $1")
            .bind(&number)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(row.get::<String, _>("crew_phone_masked"), MASKED);
    let sealed: String = row.get("crew_phone_sealed");
    assert!(!sealed.contains(PHONE), "{sealed}");
    let pass = c
        .state
        .store
        .get_pass(number.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        passgate_server::privacy::open_phone(&c.state.personal_secret, pass.number, &sealed)
            .unwrap()
            .as_str(),
        PHONE
    );

    // The console: masked for every role that sees the pass; the button only for ops/admin.
    let ops_b = c.browser(UserRole::Ops).await;
    let admin_b = c.browser(UserRole::Admin).await;
    let transport_b = c.browser(UserRole::Transport).await;
    let enterprise_b = c.browser(UserRole::Enterprise).await;
    let detail = format!("/passes/{number}");
    let reveal = format!("/passes/{number}/phone");
    for (who, button) in [
        (&ops_b, true),
        (&admin_b, true),
        (&transport_b, false),
        (&enterprise_b, false),
    ] {
        let page = c.get(Some(who), &detail).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", who.user.role);
        let text = page.text();
        assert!(text.contains(MASKED), "{text}");
        assert!(!text.contains(PHONE), "{text}");
        assert_eq!(
            text.contains(&format!("action=\"{reveal}\"")),
            button,
            "{text}"
        );
        assert_eq!(text.contains("显示完整号码"), button);
    }
    let list = c.get(Some(&ops_b), "/passes").await.text();
    assert!(!list.contains(PHONE));
    // Transport and enterprises may not ask; nothing is recorded for them.
    for who in [&transport_b, &enterprise_b] {
        let r = c.post_form(Some(who), &reveal, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(!r.text().contains(PHONE));
    }
    assert!(viewed(&c).await.is_empty());

    // Ops asks: the full number, not cached, and one audit entry per view, naming who.
    for (i, who) in [&ops_b, &admin_b, &ops_b].into_iter().enumerate() {
        let r = c.post_form(Some(who), &reveal, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(r.text().contains(PHONE));
        assert!(r.text().contains("本次查看已记入审计日志"));
        let entries = viewed(&c).await;
        assert_eq!(entries.len(), i + 1);
        assert_eq!(entries[0].actor, who.user.username);
        assert_eq!(entries[0].subject, format!("pass:{number}"));
        assert!(
            !entries[0].detail.contains(PHONE),
            "the log names the field, not the value"
        );
    }
    let no_store = app(c.state.clone())
        .oneshot(
            Request::post(&reveal)
                .header(header::COOKIE, &ops_b.cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::HOST, "console.test")
                .header(header::ORIGIN, "http://console.test")
                .body(Body::from(format!("_csrf={}", ops_b.csrf)))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(no_store.status(), StatusCode::OK);
    assert_eq!(
        no_store.headers().get(header::CACHE_CONTROL).unwrap(),
        "no-store"
    );
    assert_eq!(viewed(&c).await.len(), 4);
    // Without the CSRF token a cross-site form cannot make the server show it.
    let forged = c
        .send(
            Request::post(&reveal)
                .header(header::COOKIE, &ops_b.cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ORIGIN, "http://evil.test")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(!forged.text().contains(PHONE));

    // A pass without a phone shows none and has nothing to reveal.
    let (_, p, _) = call(
        &c,
        Method::POST,
        "/api/v1/passes",
        &ops,
        Some(pass_body(ent, None)),
    )
    .await;
    assert_eq!(p["crew_phone"], Value::Null);
    let other = p["number"].as_str().unwrap();
    let page = c
        .get(Some(&ops_b), &format!("/passes/{other}"))
        .await
        .text();
    assert!(!page.contains("显示完整号码"));
    assert_eq!(
        c.post_form(Some(&ops_b), &format!("/passes/{other}/phone"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn the_form_checks_and_keeps_the_phone(db: TestDb) {
    let c = Console::new(db).await;
    let ops = c.browser(UserRole::Ops).await;
    let now = chrono::Utc::now().timestamp();
    let local = |t: i64| passgate_server::routes::passes::rfc3339(t)[..16].to_owned();
    let ent = c.enterprise.0.to_string();
    let (from, until) = (local(now), local(now + 86_400));
    let fields = |phone: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("class", "short_haul".into()),
            ("plate", "豫U54321".into()),
            ("driver", "李四光".into()),
            ("enterprise_id", ent.clone()),
            ("origin", "419001".into()),
            ("destination", "419001".into()),
            ("cargo", "daily_necessities".into()),
            ("valid_from", from.clone()),
            ("valid_until", until.clone()),
            ("crew_phone", phone.into()),
        ]
    };

    let form = c.get(Some(&ops), "/passes/new").await.text();
    assert!(form.contains("name=\"crew_phone\""), "{form}");
    assert!(form.contains("type=\"tel\""));

    // Checks as you type name the phone, in Chinese.
    let bad = fields("12345");
    let pairs: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = c.post_form(Some(&ops), "/passes/check", &pairs).await;
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{v}");
    assert_eq!(errors[0]["field"], "crew_phone");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("手机号应为 11 位"),
        "{v}"
    );

    // The submit refuses it the same way and keeps what was typed.
    let r = c.post_form(Some(&ops), "/passes", &pairs).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("手机号应为 11 位"));
    assert!(r.text().contains("value=\"12345\""));

    let good = fields("139 0000 1111");
    let pairs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = c.post_form(Some(&ops), "/passes", &pairs).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let page = c
        .get(Some(&ops), r.location.as_deref().unwrap())
        .await
        .text();
    assert!(page.contains("139****1111"), "{page}");
    assert!(!page.contains("13900001111"));
}
