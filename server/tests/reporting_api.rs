//! The reporting API (`/api/v1/reports…`) against the real router on a fresh database, on
//! SQLite and on PostgreSQL: access by token role and enterprise, filing and editing with
//! the version history, 422s naming every bad field, the prefill from real scans, days of
//! cover, the risk-case flow, and the task force's overview against a recount.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use common::TestDb;
use passgate_server::state::AppState;
use passgate_server::store::reporting::{NewRiskCase, NewTeam, ProfileUpdate};
use passgate_server::store::{CheckpointKind, NewCheckpoint, Role};
use passgate_server::{app, create_token, open};
use passgate_shared::record::{GENESIS_HASH, GateRecord, Observations};
use passgate_shared::sync::Direction;
use passgate_shared::time::{local_day, local_day_range};
use passgate_shared::{CheckpointId, EnterpriseId};
use serde_json::{Value, json};
use tower::ServiceExt;

on_both_backends!(
    every_route_checks_roles_and_enterprise,
    file_edit_and_read_the_history,
    validation_lists_every_field,
    prefill_counts_scans_and_supplies_give_cover,
    risk_cases_over_the_api,
    overview_equals_a_recount,
);

struct Api {
    _db: TestDb,
    state: AppState,
    a: EnterpriseId,
    b: EnterpriseId,
    tokens: BTreeMap<&'static str, String>,
}

impl Api {
    async fn new(db: TestDb) -> Api {
        let state = open(&db.config()).await.unwrap();
        let a = state.store.create_enterprise("甲企业", 1).await.unwrap().id;
        let b = state.store.create_enterprise("乙企业", 1).await.unwrap().id;
        let mut tokens = BTreeMap::new();
        for (name, role) in [
            ("admin", Role::Admin),
            ("ops", Role::Ops),
            ("transport", Role::Transport),
            ("checkpoint", Role::Checkpoint),
            ("taskforce", Role::Taskforce),
            // An enterprise token bound to no enterprise (made without the CLI's check).
            ("unbound", Role::Enterprise),
        ] {
            tokens.insert(name, create_token(&state, role, name, None).await.unwrap());
        }
        for (name, e) in [("ent_a", a), ("ent_b", b)] {
            let t = passgate_server::auth::create_enterprise_token(&state, name, e)
                .await
                .unwrap();
            tokens.insert(name, t);
        }
        Api {
            _db: db,
            state,
            a,
            b,
            tokens,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        who: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(w) = who {
            req = req.header("authorization", format!("Bearer {}", self.tokens[w]));
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

    async fn get(&self, path: &str, who: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(who), None).await
    }

    async fn post(&self, path: &str, who: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(who), Some(body)).await
    }
}

fn today() -> String {
    local_day(passgate_server::state::now())
}

/// The Beijing date `n` days before today.
fn days_ago(n: i64) -> String {
    let (start, _) = local_day_range(&today()).unwrap();
    local_day(start - n * 86_400 + 3600)
}

fn zero(date: &str, on_site: u32) -> Value {
    json!({ "date": date, "kind": "zero", "on_site": on_site })
}

fn full(date: &str, on_site: u32, zones: [u32; 4], supplies: Value) -> Value {
    json!({
        "date": date, "kind": "full", "on_site": on_site,
        "green": zones[0], "blue": zones[1], "yellow": zones[2], "red": zones[3],
        "tests_done": on_site, "disinfected": true, "supplies": supplies,
    })
}

async fn every_route_checks_roles_and_enterprise(db: TestDb) {
    let api = Api::new(db).await;
    let (a, b) = (api.a.0, api.b.0);
    let y = days_ago(1);
    let case_b = api
        .state
        .store
        .open_risk_case(
            api.b,
            &NewRiskCase {
                subject: "张*明".into(),
                owner: "乙厂长".into(),
                note: String::new(),
            },
            "seed",
            1,
        )
        .await
        .unwrap();
    // (method, path, body, the roles allowed besides admin)
    let routes: Vec<(Method, String, Option<Value>, Vec<&str>)> = vec![
        (
            Method::GET,
            "/api/v1/reports".into(),
            None,
            vec!["taskforce", "ent_a"],
        ),
        (
            Method::GET,
            "/api/v1/reports/supply-items".into(),
            None,
            vec!["taskforce", "ent_a"],
        ),
        (
            Method::GET,
            "/api/v1/reports/teams".into(),
            None,
            vec!["taskforce"],
        ),
        (
            Method::GET,
            "/api/v1/reports/overview".into(),
            None,
            vec!["taskforce"],
        ),
        (
            Method::POST,
            format!("/api/v1/reports/enterprises/{a}"),
            Some(zero(&y, 10)),
            vec!["ent_a"],
        ),
        (
            Method::GET,
            format!("/api/v1/reports/enterprises/{a}/days/{y}"),
            None,
            vec!["taskforce", "ent_a"],
        ),
        (
            Method::GET,
            format!("/api/v1/reports/enterprises/{a}/prefill"),
            None,
            vec!["taskforce", "ent_a"],
        ),
        (
            Method::GET,
            format!("/api/v1/reports/enterprises/{a}/supplies"),
            None,
            vec!["taskforce", "ent_a"],
        ),
        (
            Method::GET,
            format!("/api/v1/reports/enterprises/{a}/profile"),
            None,
            vec!["ops", "taskforce", "ent_a"],
        ),
        (
            Method::POST,
            format!("/api/v1/reports/enterprises/{a}/risk-cases"),
            Some(json!({ "subject": "通知 1", "owner": "甲" })),
            vec!["ent_a"],
        ),
        (
            Method::GET,
            "/api/v1/reports/risk-cases".into(),
            None,
            vec!["taskforce", "ent_a"],
        ),
    ];
    for (method, path, body, allowed) in &routes {
        let (s, v) = api.call(method.clone(), path, None, body.clone()).await;
        assert_eq!(
            s,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token: {v}"
        );
        for who in [
            "admin",
            "ops",
            "transport",
            "checkpoint",
            "taskforce",
            "ent_a",
        ] {
            let (s, v) = api
                .call(method.clone(), path, Some(who), body.clone())
                .await;
            if who == "admin" || allowed.contains(&who) {
                assert!(
                    s.is_success() || s == StatusCode::NOT_FOUND,
                    "{method} {path} as {who}: {s} {v}"
                );
            } else {
                assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path} as {who}: {v}");
                assert_eq!(v["error"], "forbidden");
            }
        }
    }

    // An enterprise token cannot file, read or list for another enterprise.
    let (s, v) = api
        .post(
            &format!("/api/v1/reports/enterprises/{b}"),
            "ent_a",
            zero(&y, 5),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["error"], "forbidden");
    assert!(v["message"].as_str().unwrap().contains("所属企业"), "{v}");
    assert!(
        api.state
            .store
            .current_report(api.b, &y)
            .await
            .unwrap()
            .is_none()
    );
    for path in [
        format!("/api/v1/reports/enterprises/{b}/days/{y}"),
        format!("/api/v1/reports/enterprises/{b}/prefill"),
        format!("/api/v1/reports/enterprises/{b}/supplies"),
        format!("/api/v1/reports/enterprises/{b}/profile"),
        format!("/api/v1/reports?enterprise={b}"),
        format!("/api/v1/reports/risk-cases?enterprise={b}"),
    ] {
        let (s, v) = api.get(&path, "ent_a").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
    }
    let (s, _) = api
        .post(
            &format!("/api/v1/reports/enterprises/{b}/risk-cases"),
            "ent_a",
            json!({ "subject": "x", "owner": "y" }),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Another enterprise's case is not even confirmed to exist.
    let (s, _) = api
        .get(
            &format!("/api/v1/reports/risk-cases/{}", case_b.id),
            "ent_a",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api
        .post(
            &format!("/api/v1/reports/risk-cases/{}/steps", case_b.id),
            "ent_a",
            json!({ "step": 2, "owner": "甲" }),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        api.state
            .store
            .get_risk_case(case_b.id)
            .await
            .unwrap()
            .unwrap()
            .steps
            .len(),
        1
    );
    // Listing without a filter shows an enterprise token its own only.
    api.post(
        &format!("/api/v1/reports/enterprises/{b}"),
        "ent_b",
        zero(&y, 7),
    )
    .await;
    let (s, list) = api
        .get(&format!("/api/v1/reports?from={y}&to={y}"), "ent_a")
        .await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["enterprise_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [u64::from(a)]);
    let (_, all) = api
        .get(&format!("/api/v1/reports?from={y}&to={y}"), "taskforce")
        .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, cases) = api.get("/api/v1/reports/risk-cases", "ent_a").await;
    assert!(
        cases
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["enterprise_id"] == a)
    );
    // A token bound to no enterprise reaches nothing.
    for path in [
        format!("/api/v1/reports?from={y}&to={y}"),
        format!("/api/v1/reports/enterprises/{a}/days/{y}"),
        "/api/v1/reports/risk-cases".to_owned(),
    ] {
        let (s, _) = api.get(&path, "unbound").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    let (s, _) = api
        .post(
            &format!("/api/v1/reports/enterprises/{a}"),
            "unbound",
            zero(&y, 5),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Admin files for anyone; an unknown enterprise is a 404.
    let (s, _) = api
        .post(
            &format!("/api/v1/reports/enterprises/{b}"),
            "admin",
            zero(&days_ago(2), 5),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = api
        .post("/api/v1/reports/enterprises/999", "admin", zero(&y, 5))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn file_edit_and_read_the_history(db: TestDb) {
    let api = Api::new(db).await;
    let a = api.a.0;
    let y = days_ago(1);
    let path = format!("/api/v1/reports/enterprises/{a}");
    // Yesterday's report filed today is late, and stays late after the edit.
    let (s, v1) = api.post(&path, "ent_a", zero(&y, 120)).await;
    assert_eq!(s, StatusCode::CREATED, "{v1}");
    assert_eq!(
        (v1["version"].as_u64(), v1["late"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(v1["status"], "late");
    assert_eq!(v1["report"]["green"], 120);
    assert_eq!(v1["submitted_by"], "ent_a");
    let edit = full(
        &y,
        120,
        [100, 10, 6, 4],
        json!([{ "item": "masks", "stock": 800, "used": 120 }]),
    );
    let (s, v2) = api.post(&path, "ent_a", edit).await;
    assert_eq!(s, StatusCode::OK, "{v2}");
    assert_eq!(
        (v2["version"].as_u64(), v2["late"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(v2["first_submitted_at"], v1["first_submitted_at"]);
    let kinds: Vec<&str> = v2["abnormalities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["red_zone", "yellow_zone"]);
    assert_eq!(v2["abnormalities"][0]["message_zh"], "红区 4 人");

    let (s, day) = api
        .get(
            &format!("/api/v1/reports/enterprises/{a}/days/{y}"),
            "taskforce",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(day["current"]["version"], 2);
    let versions = day["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["report"]["kind"], "zero");
    assert_eq!(versions[0]["report"]["red"], 0);
    assert_eq!(versions[1]["report"]["red"], 4);
    assert_eq!(versions[1]["report"]["supplies"][0]["stock"], 800);
    // No report that day; a bad date says so.
    let (s, _) = api
        .get(
            &format!("/api/v1/reports/enterprises/{a}/days/{}", days_ago(3)),
            "ent_a",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = api
        .get(
            &format!("/api/v1/reports/enterprises/{a}/days/2026-02-30"),
            "ent_a",
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["fields"][0]["field"], "date");
    // The list holds the current version only.
    let (_, list) = api
        .get(
            &format!("/api/v1/reports?from={}&to={}", days_ago(7), today()),
            "taskforce",
        )
        .await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["version"], 2);
    let (s, v) = api
        .get(
            &format!("/api/v1/reports?from={}&to={}", today(), days_ago(1)),
            "taskforce",
        )
        .await;
    assert_eq!(
        (s, v["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("from"))
    );
    // Audited: both versions.
    let entries = api.state.store.audit_entries(0, 100).await.unwrap();
    let filed: Vec<&str> = entries
        .iter()
        .filter(|e| e.action == "report_submitted")
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(filed.len(), 2);
    assert!(filed[1].contains("\"version\":2"), "{filed:?}");
}

async fn validation_lists_every_field(db: TestDb) {
    let api = Api::new(db).await;
    let path = format!("/api/v1/reports/enterprises/{}", api.a.0);
    let tomorrow = {
        let (_, end) = local_day_range(&today()).unwrap();
        local_day(end + 3600)
    };
    let bad = json!({
        "date": tomorrow, "kind": "full", "on_site": 10,
        "green": 9, "blue": 0, "yellow": 0, "red": -2,
        "tests_done": 3, "tests_abnormal": 4,
        "vehicles_in": 2_000_000,
        "supplies": [
            { "item": "caviar", "stock": 1 },
            { "item": "masks", "stock": -5, "used": 1 }
        ],
        "help": ["eat"], "help_text": " ",
    });
    let (s, v) = api.post(&path, "ent_a", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"], "validation");
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "date",
            "red",
            "tests_abnormal",
            "vehicles_in",
            "supplies.caviar",
            "supplies.masks.stock",
            "help_text"
        ]
    );
    let messages: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(messages[0].contains("不能填报未来日期"), "{messages:?}");
    assert!(messages[1].contains("不能为负数"));
    assert!(messages[2].contains("异常人数 4 不能多于检测人数 3"));
    assert!(v["message"].as_str().unwrap().contains("supplies.caviar"));
    // Zones over the headcount, and a zero report with details.
    let y = days_ago(1);
    let (s, v) = api
        .post(&path, "ent_a", full(&y, 10, [8, 2, 1, 0], json!([])))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["fields"][0]["field"], "zones");
    assert!(
        v["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("超过在岗人数 10")
    );
    let (s, v) = api
        .post(
            &path,
            "ent_a",
            json!({ "date": y, "kind": "zero", "on_site": 5, "red": 1 }),
        )
        .await;
    assert_eq!(
        (s, v["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("kind"))
    );
    // A body of the wrong shape is a 422 too; bad JSON a 400.
    let (s, v) = api
        .post(
            &path,
            "ent_a",
            json!({ "date": y, "kind": "weekly", "on_site": 5 }),
        )
        .await;
    assert_eq!(
        (s, v["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("body"))
    );
    let (s, _) = api
        .post(
            &path,
            "ent_a",
            json!({ "date": y, "kind": "zero", "on_site": "many" }),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing was stored by any of these.
    let (_, list) = api
        .get(
            &format!("/api/v1/reports?from={}&to={}", days_ago(5), today()),
            "ent_a",
        )
        .await;
    assert_eq!(list, json!([]));
    assert!(
        api.state
            .store
            .audit_entries(0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn prefill_counts_scans_and_supplies_give_cover(db: TestDb) {
    let api = Api::new(db).await;
    let st = &api.state.store;
    let a = api.a;
    // A gate of enterprise A with a day of scans yesterday; B's gate scans too.
    let y = days_ago(1);
    let (day_start, _) = local_day_range(&y).unwrap();
    let mut expected = (0u64, 0u64);
    for (ent, name) in [(a, "甲东门"), (api.b, "乙北门")] {
        let cp = st
            .create_checkpoint(
                &NewCheckpoint {
                    name: name.into(),
                    kind: CheckpointKind::EnterpriseGate,
                    inside_zone: true,
                    enterprise_id: Some(ent),
                },
                1,
            )
            .await
            .unwrap();
        st.create_enrollment_code(cp.id, name, i64::MAX / 2, 1)
            .await
            .unwrap();
        let dev = st
            .enroll_device(name, name, name, &format!("t-{name}"), 1)
            .await
            .unwrap()
            .id;
        let mut records: Vec<GateRecord> = Vec::new();
        for seq in 1..=40u64 {
            let direction = if seq.is_multiple_of(3) {
                Direction::Out
            } else {
                Direction::In
            };
            let accepted = !seq.is_multiple_of(7);
            if ent == a && accepted {
                match direction {
                    Direction::In => expected.0 += 1,
                    Direction::Out => expected.1 += 1,
                }
            }
            records.push(GateRecord {
                id: format!("{:016x}{:016x}", dev.0, seq),
                device_id: dev,
                seq,
                prev_hash: records
                    .last()
                    .map_or_else(|| GENESIS_HASH.to_owned(), GateRecord::hash_hex),
                checkpoint_id: CheckpointId(cp.id.0),
                scanned_at: day_start + 6 * 3600 + seq as i64 * 900,
                direction,
                number: None,
                class: None,
                plate: None,
                accepted,
                reason: (!accepted).then(|| "expired".to_owned()),
                warnings: vec![],
                bundle_version: 1,
                guard_id: None,
                observations: Observations::default(),
                override_by: None,
                overrides_seq: None,
                dwell_minutes: None,
            });
        }
        let sealed: Vec<_> = records.iter().map(GateRecord::seal).collect();
        st.ingest_batch(dev, &records, &sealed, 1).await.unwrap();
    }
    // Three days of reports before today: masks fall, food in days.
    let path = format!("/api/v1/reports/enterprises/{}", a.0);
    for (n, (stock, used)) in [(3, (1000, 100)), (2, (880, 120)), (1, (740, 140))] {
        let d = days_ago(n);
        let supplies = json!([
            { "item": "masks", "stock": stock, "used": used },
            { "item": "food", "stock": 5 - n, "used": 1 },
        ]);
        let (s, v) = api
            .post(&path, "ent_a", full(&d, 50, [50, 0, 0, 0], supplies))
            .await;
        assert!(s.is_success(), "{v}");
    }
    let (s, p) = api
        .get(
            &format!("/api/v1/reports/enterprises/{}/prefill?date={}", a.0, y),
            "ent_a",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        (
            p["vehicles"]["vehicles_in"].as_u64().unwrap(),
            p["vehicles"]["vehicles_out"].as_u64().unwrap()
        ),
        expected
    );
    assert!(expected.0 > 10 && expected.1 > 5);
    // The form starts from the report of the day before.
    assert_eq!(p["last_report"]["report"]["date"], days_ago(2));
    assert_eq!(p["supply_items"].as_array().unwrap().len(), 9);
    let (_, today_prefill) = api
        .get(
            &format!("/api/v1/reports/enterprises/{}/prefill", a.0),
            "ent_a",
        )
        .await;
    assert_eq!(today_prefill["date"], today());
    assert_eq!(today_prefill["vehicles"]["vehicles_in"], 0);
    assert_eq!(today_prefill["last_report"]["report"]["date"], y);

    let (s, cover) = api
        .get(
            &format!("/api/v1/reports/enterprises/{}/supplies", a.0),
            "taskforce",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{cover}");
    let item = |key: &str| {
        cover["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["item"] == key)
            .unwrap()
            .clone()
    };
    let masks = item("masks");
    assert_eq!(masks["stock"], 740);
    assert_eq!(masks["as_of"], y);
    assert_eq!(masks["recent_use"], json!([140, 120, 100]));
    let cover_days = masks["days_of_cover"].as_f64().unwrap();
    assert!((cover_days - 740.0 / 120.0).abs() < 1e-9, "{cover_days}");
    assert_eq!(masks["warning"], false);
    let food = item("food");
    assert_eq!(
        (food["days_of_cover"].as_f64(), food["warning"].as_bool()),
        (Some(4.0), Some(false))
    );
    // Raising the threshold makes masks warn; an item never reported has no figure.
    let mut m = st
        .supply_items()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.key == "masks")
        .unwrap();
    m.warn_days = 7;
    st.upsert_supply_item(&m).await.unwrap();
    let (_, cover) = api
        .get(
            &format!("/api/v1/reports/enterprises/{}/supplies?date={y}", a.0),
            "ent_a",
        )
        .await;
    let masks = cover["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == "masks")
        .unwrap()
        .clone();
    assert_eq!(masks["warning"], true);
    let suits = cover["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == "suits")
        .unwrap()
        .clone();
    assert_eq!(
        (suits["stock"].clone(), suits["warning"].clone()),
        (Value::Null, json!(false))
    );
    // As of three days ago only the first report counts.
    // A zero report lists no supplies: the stock stays that of the last full report.
    let (s, _) = api.post(&path, "ent_a", zero(&today(), 50)).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, now_cover) = api
        .get(
            &format!("/api/v1/reports/enterprises/{}/supplies", a.0),
            "ent_a",
        )
        .await;
    let masks = now_cover["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == "masks")
        .unwrap()
        .clone();
    assert_eq!(
        (masks["stock"].as_u64(), masks["as_of"].as_str()),
        (Some(740), Some(y.as_str()))
    );
    assert_eq!(masks["warning"], true);
    let (_, early) = api
        .get(
            &format!(
                "/api/v1/reports/enterprises/{}/supplies?date={}",
                a.0,
                days_ago(3)
            ),
            "ent_a",
        )
        .await;
    let masks = early["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == "masks")
        .unwrap()
        .clone();
    assert_eq!(
        (masks["stock"].as_u64(), masks["days_of_cover"].as_f64()),
        (Some(1000), Some(10.0))
    );
}

async fn risk_cases_over_the_api(db: TestDb) {
    let api = Api::new(db).await;
    let a = api.a.0;
    let open_path = format!("/api/v1/reports/enterprises/{a}/risk-cases");
    let (s, v) = api
        .post(
            &open_path,
            "ent_a",
            json!({ "subject": "张三 41900119900101123X", "owner": "" }),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["subject", "owner"]);
    assert!(
        v["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("身份证号")
    );
    assert!(
        api.state
            .store
            .list_risk_cases(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );

    let (s, case) = api
        .post(
            &open_path,
            "ent_a",
            json!({ "subject": "张*明", "owner": "王厂长", "note": "指挥部通知" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    assert_eq!(
        (case["step"].as_str(), case["open_step"].as_str()),
        (Some("notice_received"), Some("plan_started"))
    );
    assert_eq!(case["overdue"], false);
    let id = case["id"].as_i64().unwrap();
    let steps = format!("/api/v1/reports/risk-cases/{id}/steps");
    // No skipping for the enterprise; the refusal says who may.
    let (s, v) = api
        .post(
            &steps,
            "ent_a",
            json!({ "step": 4, "owner": "王", "skip_reason": "急" }),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(v["message"].as_str().unwrap().contains("管理员"), "{v}");
    let (s, v) = api
        .post(&steps, "ent_a", json!({ "step": 2, "owner": " " }))
        .await;
    assert_eq!(
        (s, v["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("owner"))
    );
    let (s, v) = api
        .post(&steps, "ent_a", json!({ "step": 9, "owner": "王" }))
        .await;
    assert_eq!(
        (s, v["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("step"))
    );
    let (s, v) = api
        .post(
            &steps,
            "ent_a",
            json!({ "step": 2, "owner": "王", "note": "预案启动" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["step"], "plan_started");
    let (s, _) = api
        .post(&steps, "ent_a", json!({ "step": 2, "owner": "王" }))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // The administrator may skip, with a reason.
    let (s, v) = api
        .post(&steps, "admin", json!({ "step": 5, "owner": "专班" }))
        .await;
    assert_eq!(
        (s, v["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("skip_reason"))
    );
    let (s, v) = api
        .post(
            &steps,
            "admin",
            json!({ "step": 5, "owner": "专班", "skip_reason": "已由疾控直接转运" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["steps"].as_array().unwrap().len(), 5);
    assert_eq!(v["steps"][2]["skipped_reason"], "已由疾控直接转运");
    assert_eq!(v["steps"][3]["skipped_reason"], "已由疾控直接转运");
    assert_eq!(v["steps"][4]["skipped_reason"], Value::Null);
    let audit = api.state.store.audit_entries(0, 100).await.unwrap();
    let skip = audit
        .iter()
        .find(|e| e.action == "risk_step_recorded" && e.detail.contains("skip_reason"))
        .unwrap();
    assert!(
        skip.detail.contains("已由疾控直接转运") && skip.detail.contains("[3,4]"),
        "{}",
        skip.detail
    );
    assert_eq!(skip.actor, "admin");

    // A case opened two days ago whose step 2 never came is overdue now.
    let old = api
        .state
        .store
        .open_risk_case(
            api.a,
            &NewRiskCase {
                subject: "通知 2026-9".into(),
                owner: "李".into(),
                note: String::new(),
            },
            "seed",
            passgate_server::state::now() - 2 * 86_400,
        )
        .await
        .unwrap();
    let (_, overdue) = api
        .get("/api/v1/reports/risk-cases?overdue=true", "taskforce")
        .await;
    let ids: Vec<i64> = overdue
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [old.id]);
    assert_eq!(overdue[0]["open_step_name_zh"], "启动预案");
    let (_, open) = api
        .get("/api/v1/reports/risk-cases?open=true", "ent_a")
        .await;
    assert_eq!(open.as_array().unwrap().len(), 2);
    let (_, one) = api
        .get(&format!("/api/v1/reports/risk-cases/{id}"), "taskforce")
        .await;
    assert_eq!(
        (one["step"].as_str(), one["overdue"].as_bool()),
        (Some("investigated"), Some(false))
    );
    // Moving on to the close.
    for step in [6, 7] {
        let (s, v) = api
            .post(&steps, "ent_a", json!({ "step": step, "owner": "王" }))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, v) = api
        .post(
            &steps,
            "admin",
            json!({ "step": 7, "owner": "王", "skip_reason": "x" }),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(v["message"].as_str().unwrap().contains("已结案"));
    let (_, open) = api
        .get("/api/v1/reports/risk-cases?open=true", "taskforce")
        .await;
    assert_eq!(open.as_array().unwrap().len(), 1);
}

async fn overview_equals_a_recount(db: TestDb) {
    let api = Api::new(db).await;
    let st = &api.state.store;
    let mut teams = Vec::new();
    for n in ["督导一组", "督导二组"] {
        teams.push(
            st.create_team(
                &NewTeam {
                    name: n.into(),
                    offices: "市工信局".into(),
                },
                1,
            )
            .await
            .unwrap()
            .id,
        );
    }
    // Eight enterprises besides A and B: two teams and one without.
    let mut ents = vec![(api.a, Some(teams[0])), (api.b, Some(teams[1]))];
    for i in 0..8 {
        let e = st
            .create_enterprise(&format!("丙企业{i}"), 1)
            .await
            .unwrap()
            .id;
        ents.push((e, [Some(teams[0]), Some(teams[1]), None][i % 3]));
    }
    for (e, t) in &ents {
        st.set_enterprise_profile(
            *e,
            &ProfileUpdate {
                team_id: *t,
                ..ProfileUpdate::default()
            },
        )
        .await
        .unwrap();
    }
    let y = days_ago(1);
    // i % 4: 0 zero report, 1 normal full, 2 red zone + help, 3 nothing. One filed on time
    // (through the store, yesterday morning), the rest late (filed now).
    let mut filed = BTreeMap::new();
    for (i, (e, _)) in ents.iter().enumerate() {
        let body = match i % 4 {
            0 => zero(&y, 30),
            1 => full(&y, 30, [30, 0, 0, 0], json!([])),
            2 => {
                let mut b = full(&y, 30, [27, 0, 1, 2], json!([]));
                b["help"] = json!(["test"]);
                b["help_text"] = json!("核酸检测人员不足");
                b
            }
            _ => continue,
        };
        let (s, v) = api
            .post(
                &format!("/api/v1/reports/enterprises/{}", e.0),
                "admin",
                body,
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        filed.insert(*e, i % 4);
    }
    let on_time = api
        .state
        .store
        .create_enterprise("准时企业", 1)
        .await
        .unwrap()
        .id;
    st.set_enterprise_profile(
        on_time,
        &ProfileUpdate {
            team_id: Some(teams[0]),
            ..ProfileUpdate::default()
        },
    )
    .await
    .unwrap();
    let draft: passgate_shared::reporting::ReportDraft =
        serde_json::from_value(zero(&y, 9)).unwrap();
    let report = passgate_shared::reporting::validate_report(
        &draft,
        &[],
        local_day_range(&y).unwrap().0 + 3600,
    )
    .unwrap();
    st.submit_report(
        on_time,
        &report,
        "seed",
        local_day_range(&y).unwrap().0 + 8 * 3600,
        passgate_shared::reporting::DueTime(600),
    )
    .await
    .unwrap();
    ents.push((on_time, Some(teams[0])));

    let (s, o) = api
        .get(&format!("/api/v1/reports/overview?date={y}"), "taskforce")
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    // The recount: filed ones are late except the one filed yesterday morning.
    let recount = |team: Option<Option<i64>>| {
        let mut c = BTreeMap::from([
            ("reported", 0),
            ("zero_reported", 0),
            ("late", 0),
            ("missing", 0),
        ]);
        for (e, t) in &ents {
            if team.is_some_and(|want| want != *t) {
                continue;
            }
            let key = if *e == on_time {
                "zero_reported"
            } else if filed.contains_key(e) {
                "late"
            } else {
                "missing"
            };
            *c.get_mut(key).unwrap() += 1;
        }
        c
    };
    let counts = |v: &Value| {
        BTreeMap::from(
            ["reported", "zero_reported", "late", "missing"]
                .map(|k| (k, v[k].as_u64().unwrap() as i32)),
        )
    };
    assert_eq!(counts(&o["total"]), recount(None));
    let rows = o["teams"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let team = row["team_id"].as_i64();
        assert_eq!(counts(row), recount(Some(team)), "{row}");
    }
    assert_eq!(rows[0]["team"], "督导一组");
    let abnormal: Vec<u64> = o["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["abnormalities"].as_array().unwrap().is_empty())
        .map(|e| e["enterprise_id"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = filed
        .iter()
        .filter(|(_, k)| **k == 2)
        .map(|(e, _)| u64::from(e.0))
        .collect();
    assert_eq!(abnormal, want);
    let first = o["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["enterprise_id"] == want[0])
        .unwrap();
    let messages: Vec<&str> = first["abnormalities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["message_zh"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["红区 2 人", "黄区 1 人", "需要帮助：检"]);
    // One team only; an unknown team is a 404.
    let (_, one) = api
        .get(
            &format!("/api/v1/reports/overview?date={y}&team={}", teams[1]),
            "taskforce",
        )
        .await;
    assert_eq!(counts(&one["total"]), recount(Some(Some(teams[1]))));
    assert_eq!(one["teams"].as_array().unwrap().len(), 1);
    let (s, _) = api
        .get("/api/v1/reports/overview?team=999", "taskforce")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, t) = api.get("/api/v1/reports/teams", "taskforce").await;
    assert_eq!(t.as_array().unwrap().len(), 2);
}
