//! The OpenAPI document (`GET /api/v1/openapi.json`) against the routes the server really
//! answers, and the JSON error bodies of bad path, query and body input. Runs the real
//! router in-process on a fresh SQLite database. The regression tests of what schemathesis
//! found (docs/api.md) are here too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use common::{Backend, TestDb};
use passgate_server::auth::create_enterprise_token;
use passgate_server::store::Role;
use passgate_server::{app, create_token, open};
use serde_json::Value;
use tower::ServiceExt;

/// Every operation of the API, written out by hand: the document must list exactly these,
/// and the server must answer each of them.
const OPERATIONS: &[(&str, &str)] = &[
    ("GET", "/anomalies"),
    ("GET", "/checkpoints"),
    ("POST", "/checkpoints"),
    ("POST", "/checkpoints/{id}/enrollment"),
    ("GET", "/devices"),
    ("POST", "/devices/enroll"),
    ("POST", "/devices/{id}/revoke"),
    ("GET", "/enterprises"),
    ("POST", "/enterprises"),
    ("GET", "/keys"),
    ("POST", "/keys/rotate"),
    ("POST", "/keys/{id}/reissue"),
    ("POST", "/keys/{id}/status"),
    ("GET", "/passes"),
    ("POST", "/passes"),
    ("GET", "/passes/{number}"),
    ("GET", "/passes/{number}/qr.png"),
    ("GET", "/passes/{number}/qr.svg"),
    ("POST", "/passes/{number}/revoke"),
    ("GET", "/reports"),
    ("POST", "/reports/enterprises/{id}"),
    ("GET", "/reports/enterprises/{id}/days/{date}"),
    ("GET", "/reports/enterprises/{id}/prefill"),
    ("GET", "/reports/enterprises/{id}/profile"),
    ("POST", "/reports/enterprises/{id}/risk-cases"),
    ("GET", "/reports/enterprises/{id}/supplies"),
    ("GET", "/reports/overview"),
    ("GET", "/reports/risk-cases"),
    ("GET", "/reports/risk-cases/{id}"),
    ("POST", "/reports/risk-cases/{id}/steps"),
    ("GET", "/reports/supply-items"),
    ("GET", "/reports/teams"),
    ("GET", "/sync/bundle"),
    ("POST", "/sync/upload"),
    ("GET", "/usage/daily"),
];

/// The operations anyone may call, without a token.
const PUBLIC: &[(&str, &str)] = &[("GET", "/keys"), ("POST", "/devices/enroll")];

struct Api {
    _db: TestDb,
    state: passgate_server::state::AppState,
    tokens: Vec<(Role, String)>,
}

impl Api {
    async fn new(test: &str) -> Api {
        let db = TestDb::new(Backend::Sqlite, test).await.unwrap();
        let state = open(&db.config()).await.unwrap();
        let enterprise = state
            .store
            .create_enterprise("钢铁集团", passgate_server::state::now())
            .await
            .unwrap();
        let mut tokens = Vec::new();
        for role in Role::ALL {
            let token = if role == Role::Enterprise {
                create_enterprise_token(&state, "企业", enterprise.id)
                    .await
                    .unwrap()
            } else {
                create_token(&state, role, role.as_str(), None)
                    .await
                    .unwrap()
            };
            tokens.push((role, token));
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

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> (StatusCode, String, Vec<u8>) {
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = match body {
            Some((content_type, text)) => {
                req = req.header("content-type", content_type);
                Body::from(text.to_owned())
            }
            None => Body::empty(),
        };
        let resp = app(self.state.clone())
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = to_bytes(resp.into_body(), 10 << 20).await.unwrap();
        (status, content_type, bytes.to_vec())
    }

    async fn document(&self) -> Value {
        let (status, content_type, body) =
            self.send("GET", "/api/v1/openapi.json", None, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        serde_json::from_slice(&body).unwrap()
    }
}

/// A concrete path for a templated one.
fn concrete(path: &str) -> String {
    format!(
        "/api/v1{}",
        path.replace("{id}", "1")
            .replace("{number}", "LH-0000001")
            .replace("{date}", "2026-01-01")
    )
}

/// The operations of the document: (METHOD, path) → operation object.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.insert((method.to_uppercase(), path.clone()), op.clone());
        }
    }
    out
}

/// A JSON error body as `ApiError` writes it.
fn assert_error_body(status: StatusCode, content_type: &str, body: &[u8], code: &str) {
    assert_eq!(content_type, "application/json", "status {status}");
    let v: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["error"], code, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_server_answers() {
    let api = Api::new("openapi_routes").await;
    let doc = api.document().await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["servers"][0]["url"], "/api/v1");

    let documented: BTreeSet<(String, String)> = operations(&doc).into_keys().collect();
    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        documented.difference(&expected).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not expected"
    );
    assert_eq!(
        expected.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "expected but not documented"
    );

    // Each operation is mounted: the router's fallback ("route not found") and 405 never
    // answer it. The other method on the same path, when undocumented, is a 405.
    let admin = api.token(Role::Admin).to_owned();
    for (method, path) in &expected {
        let (status, _, body) = api.send(method, &concrete(path), Some(&admin), None).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("route not found"), "{method} {path}: {text}");
        for other in ["GET", "POST"] {
            if !expected.contains(&(other.to_owned(), path.clone())) {
                let (status, _, _) = api.send(other, &concrete(path), Some(&admin), None).await;
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{other} {path}");
            }
        }
    }
    // And an unknown path is the JSON 404, not a plain-text one.
    let (status, content_type, body) = api.send("GET", "/api/v1/nowhere", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error_body(status, &content_type, &body, "not_found");
}

#[tokio::test]
async fn every_operation_states_its_roles_and_the_server_keeps_to_them() {
    let api = Api::new("openapi_roles").await;
    let doc = api.document().await;
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());

    for ((method, path), op) in operations(&doc) {
        let public = PUBLIC.contains(&(method.as_str(), path.as_str()));
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.contains_key("500"),
            "{method} {path} lacks its 500"
        );
        if public {
            assert!(op.get("security").is_none(), "{method} {path}");
            continue;
        }
        for status in ["400", "401", "403", "429"] {
            let r = &responses[status];
            assert_eq!(
                r["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path} {status}"
            );
        }
        let roles: BTreeSet<String> = op["security"][0]["bearer"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} states no security"))
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect();
        assert!(roles.contains("admin"), "{method} {path}: {roles:?}");

        // Without a token: 401. With each role's token: 403 exactly when the role is not
        // listed. (The requests carry no body, so no operation gets far enough to change
        // anything but a key rotation, which is harmless here.)
        let (status, content_type, body) = api.send(&method, &concrete(&path), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_error_body(status, &content_type, &body, "unauthenticated");
        for role in Role::ALL {
            let (status, content_type, body) = api
                .send(&method, &concrete(&path), Some(api.token(role)), None)
                .await;
            if roles.contains(role.as_str()) {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{method} {path} refused {} ({status}) though the document admits it",
                    role.as_str()
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} admitted {} though the document does not list it",
                    role.as_str()
                );
                assert_error_body(status, &content_type, &body, "forbidden");
            }
        }
    }
}

#[tokio::test]
async fn bad_path_query_and_body_input_get_json_error_bodies() {
    let api = Api::new("openapi_rejections").await;
    let admin = api.token(Role::Admin).to_owned();
    // A path segment that is not a number.
    for path in [
        "/api/v1/reports/risk-cases/abc",
        "/api/v1/reports/enterprises/-1/profile",
        "/api/v1/keys/300/reissue",
        "/api/v1/devices/x/revoke",
    ] {
        let method = if path.contains("profile") || path.contains("risk-cases/") {
            "GET"
        } else {
            "POST"
        };
        let (status, content_type, body) = api.send(method, path, Some(&admin), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_error_body(status, &content_type, &body, "bad_request");
    }
    // A query parameter of the wrong type.
    for path in [
        "/api/v1/passes?limit=abc",
        "/api/v1/sync/bundle?since=-1",
        "/api/v1/reports/risk-cases?open=maybe",
        "/api/v1/reports?enterprise=x",
    ] {
        let (status, content_type, body) = api.send("GET", path, Some(&admin), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert_error_body(status, &content_type, &body, "validation");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["fields"][0]["field"], "query", "{v}");
    }
    // Bodies: not JSON, the wrong content type, the wrong shape.
    let (status, content_type, body) = api
        .send(
            "POST",
            "/api/v1/enterprises",
            Some(&admin),
            Some(("application/json", "{not json")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error_body(status, &content_type, &body, "bad_request");
    let (status, content_type, body) = api
        .send(
            "POST",
            "/api/v1/enterprises",
            Some(&admin),
            Some(("text/plain", "{}")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error_body(status, &content_type, &body, "bad_request");
    let (status, content_type, body) = api
        .send(
            "POST",
            "/api/v1/enterprises",
            Some(&admin),
            Some(("application/json", r#"{"name": 7}"#)),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error_body(status, &content_type, &body, "validation");
}

// ---------------------------------------------------------------------------------------
// Regressions of what the schemathesis runs turned up (docs/api.md)
// ---------------------------------------------------------------------------------------

/// `POST /enterprises` with a name that exists answers 409, which the document now states
/// (schemathesis: "undocumented status code 409").
#[tokio::test]
async fn a_duplicate_enterprise_is_a_documented_409() {
    let api = Api::new("openapi_duplicate_enterprise").await;
    let admin = api.token(Role::Admin).to_owned();
    let (status, content_type, body) = api
        .send(
            "POST",
            "/api/v1/enterprises",
            Some(&admin),
            Some(("application/json", r#"{"name": "钢铁集团"}"#)),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error_body(status, &content_type, &body, "conflict");
    let doc = api.document().await;
    assert_eq!(
        doc["paths"]["/enterprises"]["post"]["responses"]["409"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/ErrorBody"
    );
}

/// Integer parameters are described with their real range: a `u32` is not an `int32`
/// (schemathesis sent 2147483648 as "out of range" and the server rightly took it).
#[tokio::test]
async fn integer_parameters_state_their_real_range() {
    let api = Api::new("openapi_integers").await;
    let doc = api.document().await;
    let passes = &doc["paths"]["/passes"]["get"]["parameters"];
    let offset = passes
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "offset")
        .unwrap();
    assert_ne!(offset["schema"]["format"], "int32", "{offset}");
    let key = &doc["paths"]["/keys/{id}/status"]["post"]["parameters"][0]["schema"];
    assert_eq!(key["maximum"], 255, "{key}");
    // And the server takes the top of the range.
    let admin = api.token(Role::Admin).to_owned();
    let (status, _, _) = api
        .send(
            "GET",
            "/api/v1/passes?offset=4294967295",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, content_type, body) = api
        .send(
            "GET",
            "/api/v1/passes?offset=4294967296",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error_body(status, &content_type, &body, "validation");
}

/// Once every key number (1–255) is used, a rotation is a 409 saying so, not a 500 whose
/// cause only the server log knows.
#[tokio::test]
async fn rotating_past_the_last_key_number_is_a_409_not_a_500() {
    let api = Api::new("openapi_key_exhaustion").await;
    let admin = api.token(Role::Admin).to_owned();
    let mut rotations = 0;
    let (status, content_type, body) = loop {
        let (status, content_type, body) = api
            .send("POST", "/api/v1/keys/rotate", Some(&admin), None)
            .await;
        if status != StatusCode::CREATED {
            break (status, content_type, body);
        }
        rotations += 1;
        assert!(rotations < 255, "more rotations than key numbers");
    };
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_error_body(status, &content_type, &body, "conflict");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(v["message"].as_str().unwrap().contains("255"), "{v}");
    // Key 1 came with the server; 254 rotations made keys 2 to 255.
    assert_eq!(rotations, 254);
}

/// The settings the schemathesis run starts its server with: with the bad-token and
/// enrolment limits at 0, a hundred requests with an unknown token are all 401s and a
/// hundred wrong enrolment codes all 404s (with the defaults, the 61st and the 11th are 429s:
/// server/tests/security.rs).
#[tokio::test]
async fn limits_at_zero_are_off_for_api_test_runs() {
    let db = TestDb::new(Backend::Sqlite, "openapi_limits_off")
        .await
        .unwrap();
    let mut config = db.config();
    config.bad_token_rate_per_minute = 0;
    config.enrolment_failures_per_minute = 0;
    let state = open(&config).await.unwrap();
    let peer = std::net::SocketAddr::from(([203, 0, 113, 7], 40000));
    for i in 0..100 {
        let req = Request::get("/api/v1/passes")
            .header("authorization", format!("Bearer pgt_unknown{i}"))
            .extension(axum::extract::ConnectInfo(peer))
            .body(Body::empty())
            .unwrap();
        let resp = app(state.clone()).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "request {i}");
        let req = Request::post("/api/v1/devices/enroll")
            .header("content-type", "application/json")
            .extension(axum::extract::ConnectInfo(peer))
            .body(Body::from(format!(
                r#"{{"code":"guess-{i}","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}"#
            )))
            .unwrap();
        let resp = app(state.clone()).oneshot(req).await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::NOT_FOUND,
            "enrolment attempt {i}"
        );
    }
}
