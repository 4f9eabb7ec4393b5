//! The web and API defences, each sent the request it exists to stop: no token, a wrong
//! role, a cross-site form post, an oversized body, and floods of bad tokens and enrolment
//! attempts (429 with Retry-After).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

on_both_backends!(each_defence_answers_its_attack);

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::TestDb;
use common::console::Console;
use passgate_server::store::{Role, UserRole};

async fn each_defence_answers_its_attack(db: TestDb) {
    let c = Console::new(db).await;
    let transport = passgate_server::create_token(&c.state, Role::Transport, "t", None)
        .await
        .unwrap();

    // No token.
    let r = c
        .send(Request::get("/api/v1/passes").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("unauthenticated"));

    // A role that may not: the transport bureau cannot issue.
    let r = c
        .send(
            Request::post("/api/v1/passes")
                .header(header::AUTHORIZATION, format!("Bearer {transport}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // A console form posted from another site, with a stolen cookie but no token.
    let ops = c.browser(UserRole::Ops).await;
    let r = c
        .send(
            Request::post("/logout")
                .header(header::COOKIE, &ops.cookie)
                .header(header::HOST, "console.test")
                .header(header::ORIGIN, "https://attacker.example")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("x=1"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // An oversized body.
    let big = vec![b'x'; passgate_server::BODY_LIMIT + 1];
    let r = c
        .send(
            Request::post("/api/v1/devices/enroll")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(big))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    // Guessing enrolment codes: after 10 failed attempts a minute, 429 with Retry-After (the
    // oversized request above was the first failure).
    let mut statuses = Vec::new();
    for i in 0..11 {
        let r = c
            .send(
                Request::post("/api/v1/devices/enroll")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(format!(
                        r#"{{"code":"guess-{i}","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}"#
                    )))
                    .unwrap(),
            )
            .await;
        statuses.push(r.status);
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.text().contains("too_many_requests"), "{}", r.text());
        }
    }
    assert!(
        statuses[..9]
            .iter()
            .all(|s| *s != StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert_eq!(statuses[9], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");

    // Guessing tokens: 60 unknown tokens a minute, then 429.
    let mut last = StatusCode::OK;
    let mut first_429 = None;
    for i in 0..70 {
        let resp = passgate_server::app(c.state.clone());
        let r = tower::ServiceExt::oneshot(
            resp,
            Request::get("/api/v1/passes")
                .header(header::AUTHORIZATION, format!("Bearer pgt_guess{i}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        last = r.status();
        if last == StatusCode::TOO_MANY_REQUESTS && first_429.is_none() {
            first_429 = Some(i);
            assert!(r.headers().get(header::RETRY_AFTER).is_some());
        }
    }
    // The no-token request above counted too.
    assert_eq!(first_429, Some(59));
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // A good token still works from the same place.
    let r = c
        .send(
            Request::get("/api/v1/passes")
                .header(header::AUTHORIZATION, format!("Bearer {transport}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}
