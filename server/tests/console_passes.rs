//! The console's pass pages against the real router, on both backends: issuing through the
//! form (and its checks as you type), the list's filters and pages, what an enterprise
//! account may see, revoking, and the printable pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

on_both_backends!(
    issue_through_the_form,
    an_invalid_form_names_each_field_in_chinese,
    checks_as_you_type_answer_json,
    list_filters_and_pages,
    enterprise_users_see_only_their_own_passes,
    revoke_needs_a_reason_and_happens_once,
    the_print_page_has_what_the_gate_needs,
);

use axum::http::StatusCode;
use common::TestDb;
use common::console::{Browser, Console};
use passgate_server::routes::passes::{NewPass, rfc3339, sign_record, validate};
use passgate_server::state::now;
use passgate_server::store::{
    CheckpointKind, NewCheckpoint, PassFilter, PassRecord, PassStatus, UserRole,
};
use passgate_shared::{CheckpointId, EnterpriseId};

/// A `datetime-local` value (Beijing wall clock) for an instant.
fn local(t: i64) -> String {
    rfc3339(t)[..16].to_owned()
}

async fn checkpoint(c: &Console, name: &str) -> CheckpointId {
    c.state
        .store
        .create_checkpoint(
            &NewCheckpoint {
                name: name.into(),
                kind: CheckpointKind::ZoneBorder,
                inside_zone: true,
                enterprise_id: None,
            },
            now(),
        )
        .await
        .unwrap()
        .id
}

fn body(class: &str, plate: &str, ent: EnterpriseId, from: i64, until: i64) -> NewPass {
    NewPass {
        class: Some(class.into()),
        plate: Some(plate.into()),
        driver: Some("张三丰".into()),
        enterprise_id: Some(ent.0),
        origin: Some("419001".into()),
        destination: Some("410100".into()),
        cargo: Some("production_materials".into()),
        valid_from: Some(rfc3339(from)),
        valid_until: Some(rfc3339(until)),
        ..NewPass::default()
    }
}

/// Issue a pass as if it were `at` (so that passes already expired can be made).
async fn issue_at(c: &Console, body: NewPass, at: i64) -> PassRecord {
    let issue = validate(&c.state, &body, at).await.unwrap();
    let serial = c
        .state
        .store
        .next_serial(c.state.settings.area)
        .await
        .unwrap();
    let signer = passgate_server::signing::signer(&c.state).await.unwrap();
    let record = sign_record(&c.state, issue, serial, at, "tester", &signer).unwrap();
    c.state.store.insert_pass(&record).await.unwrap();
    record
}

async fn short_haul(c: &Console, plate: &str, ent: EnterpriseId) -> PassRecord {
    let t = now();
    issue_at(
        c,
        body("short_haul", plate, ent, t - 3600, t + 7 * 86_400),
        t,
    )
    .await
}

/// How many pass rows a list page shows.
fn rows(html: &str) -> usize {
    html.matches("<td class=\"plate-cell\">").count()
}

async fn list(c: &Console, who: &Browser, query: &str) -> String {
    let r = c.get(Some(who), &format!("/passes?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "/passes?{query}: {}", r.text());
    r.text()
}

async fn issue_through_the_form(db: TestDb) {
    let c = Console::new(db).await;
    let a = checkpoint(&c, "北关卡口").await;
    let b = checkpoint(&c, "南环高速出口").await;
    let ops = c.browser(UserRole::Ops).await;

    let form = c.get(Some(&ops), "/passes/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let html = form.text();
    assert!(html.contains("data-live-check=\"/passes/check\""));
    assert!(html.contains("北关卡口") && html.contains("南环高速出口"));
    assert!(html.contains("data-show-when=\"class=long_haul\""));
    assert!(html.contains("data-show-when=\"class=load_unload_leave\""));
    assert!(
        html.contains("value=\"419001\""),
        "origin defaults to the area"
    );
    assert!(html.contains("type=\"datetime-local\""));
    assert!(!html.contains("style="), "no inline style (CSP)");

    let t = now();
    let ent = c.enterprise.0.to_string();
    let (a, b) = (a.0.to_string(), b.0.to_string());
    let (from, until) = (local(t - 60), local(t + 3 * 86_400));
    let reply = c
        .post_form(
            Some(&ops),
            "/passes",
            &[
                ("plate", "豫u12345"),
                ("class", "long_haul"),
                ("driver", "张三丰"),
                ("co_driver", "李四"),
                ("driver_id_number", ""),
                ("enterprise_id", &ent),
                ("origin", "419001"),
                ("destination", "410100"),
                ("checkpoints", &a),
                ("checkpoints", &b),
                ("cargo", "epidemic_supplies"),
                ("valid_from", &from),
                ("valid_until", &until),
                ("max_dwell_minutes", "120"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let location = reply.location.unwrap();
    assert!(location.starts_with("/passes/419001") && location.ends_with("?issued=1"));

    let (stored, total) = c
        .state
        .store
        .list_passes(&PassFilter {
            limit: 10,
            ..PassFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 1);
    let p = &stored[0];
    assert_eq!(p.plate, "豫U12345");
    assert_eq!(p.created_by, ops.user.username);
    assert_eq!(p.driver_masked, "张*丰");
    assert_eq!(p.route_checkpoints.len(), 2);
    assert_eq!(
        p.max_dwell_minutes, None,
        "the hidden dwell field is left out"
    );
    assert_eq!(p.valid_from, (t - 60) / 60 * 60, "Beijing wall clock");
    assert_eq!(location, format!("/passes/{}?issued=1", p.number));

    let page = c.get(Some(&ops), &location).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("通行证已签发"));
    assert!(html.contains("豫U12345"));
    assert!(html.contains("<svg"));
    assert!(html.contains("北关卡口 → 南环高速出口"));
    assert!(
        html.contains("张*丰") && !html.contains("张三丰"),
        "crew is masked"
    );
    assert!(html.contains("防疫物资"));
    assert!(html.contains(&format!("/passes/{}/print", p.number)));

    // A load-unload-leave pass: checkpoints ticked earlier are hidden and left out, the
    // dwell limit is kept.
    let reply = c
        .post_form(
            Some(&ops),
            "/passes",
            &[
                ("plate", "京A88888"),
                ("class", "load_unload_leave"),
                ("driver", "王五"),
                ("enterprise_id", &ent),
                ("origin", "110100"),
                ("destination", "419001"),
                ("checkpoints", &a),
                ("cargo", "daily_necessities"),
                ("valid_from", &from),
                ("valid_until", &until),
                ("max_dwell_minutes", "90"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let n = reply.location.unwrap();
    let n = n
        .trim_start_matches("/passes/")
        .trim_end_matches("?issued=1");
    let p = c
        .state
        .store
        .get_pass(passgate_shared::PassNumber::parse(n).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.max_dwell_minutes, Some(90));
    assert!(p.route_checkpoints.is_empty());
}

async fn an_invalid_form_names_each_field_in_chinese(db: TestDb) {
    let c = Console::new(db).await;
    let ops = c.browser(UserRole::Ops).await;
    let t = now();
    let reply = c
        .post_form(
            Some(&ops),
            "/passes",
            &[
                ("plate", "豫I12345"),
                ("class", "long_haul"),
                ("driver", ""),
                ("enterprise_id", ""),
                ("origin", "41900"),
                ("destination", "419001"),
                ("cargo", "production_materials"),
                ("valid_from", &local(t + 86_400)),
                ("valid_until", &local(t + 3600)),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = reply.text();
    for expected in [
        "请修改以下内容后再提交",
        "车牌第二位须为字母",
        "长途闭环须填写线路查验点",
        "截止时间须晚于起始时间",
    ] {
        assert!(html.contains(expected), "{expected} missing from {html}");
    }
    // Each bad field is marked at its input, and named in the summary.
    for field in [
        "plate",
        "driver",
        "enterprise_id",
        "origin",
        "checkpoints",
        "valid_until",
    ] {
        assert!(
            html.contains(&format!("href=\"#f-{field}\"")),
            "{field} is not in the summary"
        );
    }
    assert!(html.contains("data-error-for=\"checkpoints\""));
    assert!(!html.contains("RFC 3339"), "only the Chinese part is shown");
    // What was typed is kept.
    assert!(html.contains("value=\"豫I12345\""));
    assert!(html.contains("value=\"41900\""));

    // A time that is not one, a dwell that is not a number.
    let reply = c
        .post_form(
            Some(&ops),
            "/passes",
            &[
                ("class", "load_unload_leave"),
                ("valid_from", "明天"),
                ("max_dwell_minutes", "两小时"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = reply.text();
    assert!(html.contains("时间格式应为 年-月-日 时:分"));
    assert!(html.contains("请填写整数分钟数"));
    assert!(html.contains("value=\"两小时\""));

    let (_, total) = c
        .state
        .store
        .list_passes(&PassFilter {
            limit: 10,
            ..PassFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 0, "nothing was issued");
}

async fn checks_as_you_type_answer_json(db: TestDb) {
    let c = Console::new(db).await;
    let ops = c.browser(UserRole::Ops).await;
    let errors = |reply: &common::console::Reply| -> Vec<(String, String)> {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert!(reply.content_type.starts_with("application/json"));
        let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["field"].as_str().unwrap().to_owned(),
                    e["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let r = c
        .post_form(
            Some(&ops),
            "/passes/check",
            &[("plate", "豫I1"), ("class", "short_haul")],
        )
        .await;
    let e = errors(&r);
    let plate = e.iter().find(|(f, _)| f == "plate").unwrap();
    assert!(
        plate.1.contains("车牌") && !plate.1.contains(" / "),
        "{plate:?}"
    );
    assert!(e.iter().any(|(f, m)| f == "driver" && m == "必填"));
    assert!(!e.iter().any(|(f, _)| f == "checkpoints"));

    // A complete form has no errors.
    let t = now();
    let ent = c.enterprise.0.to_string();
    let (from, until) = (local(t), local(t + 86_400));
    let good = [
        ("plate", "豫U12345"),
        ("class", "short_haul"),
        ("driver", "张三"),
        ("enterprise_id", ent.as_str()),
        ("origin", "419001"),
        ("destination", "419001"),
        ("cargo", "daily_necessities"),
        ("valid_from", from.as_str()),
        ("valid_until", until.as_str()),
    ];
    assert_eq!(
        errors(&c.post_form(Some(&ops), "/passes/check", &good).await),
        vec![]
    );
    // Checking issues nothing.
    let (_, total) = c
        .state
        .store
        .list_passes(&PassFilter {
            limit: 10,
            ..PassFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 0);

    // In English for an English reader.
    let en = Browser {
        cookie: format!("{}; pg_lang=en", ops.cookie),
        ..ops.clone()
    };
    let e = errors(
        &c.post_form(Some(&en), "/passes/check", &[("class", "long_haul")])
            .await,
    );
    assert!(e.iter().any(|(f, m)| f == "driver" && m == "required"));
    assert!(
        e.iter()
            .any(|(f, m)| f == "checkpoints" && m.contains("long-haul"))
    );

    // Only the operations bureau checks forms.
    let tr = c.browser(UserRole::Transport).await;
    assert_eq!(
        c.post_form(Some(&tr), "/passes/check", &good).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn list_filters_and_pages(db: TestDb) {
    let c = Console::new(db).await;
    let other = c
        .state
        .store
        .create_enterprise("第二企业", now())
        .await
        .unwrap()
        .id;
    let cp = checkpoint(&c, "北关卡口").await;
    let ent = c.enterprise;
    let t = now();
    let mut long = body("long_haul", "豫U12345", ent, t - 3600, t + 7 * 86_400);
    long.checkpoints = Some(vec![cp.0]);
    issue_at(&c, long, t).await;
    short_haul(&c, "豫UD88888", other).await;
    let lul = issue_at(
        &c,
        body("load_unload_leave", "京A11111", ent, t - 3600, t + 86_400),
        t,
    )
    .await;
    c.state
        .store
        .revoke_pass(lul.number, "车辆更换", t)
        .await
        .unwrap();
    // Valid from 8 days ago to 6 days ago: expired, but still "active" in the store.
    let past = t - 8 * 86_400;
    issue_at(
        &c,
        body("short_haul", "豫U54321", ent, past, past + 2 * 86_400),
        past,
    )
    .await;
    for i in 0..22 {
        short_haul(&c, &format!("沪C{i:05}"), other).await;
    }

    for role in [UserRole::Ops, UserRole::Transport, UserRole::Admin] {
        let who = c.browser(role).await;
        let html = list(&c, &who, "").await;
        assert_eq!(rows(&html), 20, "{role:?}");
        assert!(html.contains("第 1 / 2 页，共 26 条"));
        assert!(html.contains("offset=20"));
    }
    let ops = c.browser(UserRole::Ops).await;
    let html = list(&c, &ops, "offset=20").await;
    assert_eq!(rows(&html), 6);
    assert!(html.contains("第 2 / 2 页，共 26 条"));

    // The plate: a part of it, in any case.
    let html = list(&c, &ops, "plate=u123").await;
    assert_eq!(rows(&html), 1);
    assert!(html.contains("豫U12345"));
    let html = list(&c, &ops, &format!("plate={}", web_enc("豫u"))).await;
    assert_eq!(rows(&html), 3, "豫U12345, 豫UD88888, 豫U54321");
    // A % is a character, not a wildcard.
    assert_eq!(rows(&list(&c, &ops, "plate=%25").await), 0);

    assert_eq!(rows(&list(&c, &ops, "class=long_haul").await), 1);
    let html = list(&c, &ops, "class=load_unload_leave").await;
    assert!(html.contains("京A11111") && html.contains("已吊销"));

    let html = list(&c, &ops, "status=revoked").await;
    assert_eq!(rows(&html), 1);
    assert!(html.contains("京A11111"));
    let html = list(&c, &ops, "status=expired").await;
    assert_eq!(rows(&html), 1);
    assert!(html.contains("豫U54321") && html.contains("已过期"));
    let html = list(&c, &ops, "status=active").await;
    assert!(html.contains("共 24 条"));
    assert!(!html.contains("豫U54321") && !html.contains("京A11111"));

    let html = list(&c, &ops, &format!("enterprise={}", ent.0)).await;
    assert_eq!(rows(&html), 3);
    assert!(!html.contains("豫UD88888"));

    // Valid on a given day: a week ago only the expired pass was.
    let week_ago = passgate_shared::time::local_day(t - 7 * 86_400);
    let html = list(&c, &ops, &format!("valid_on={week_ago}")).await;
    assert_eq!(rows(&html), 1);
    assert!(html.contains("豫U54321"));

    // Filters combine, and the page links keep them.
    let html = list(
        &c,
        &ops,
        &format!(
            "plate={}&class=short_haul&enterprise={}",
            web_enc("豫U"),
            ent.0
        ),
    )
    .await;
    assert_eq!(rows(&html), 1);
    let html = list(&c, &ops, "class=short_haul").await;
    assert!(html.contains("共 24 条"));
    assert!(html.contains("href=\"/passes?class=short_haul&amp;offset=20\""));

    // Nonsense in the query is reported, not a failure.
    let html = list(&c, &ops, "class=bogus&valid_on=2026-13-45&offset=x").await;
    assert!(html.contains("所选项无效"));
    assert!(html.contains("日期格式应为"));
    assert_eq!(rows(&html), 20);

    // Taskforce accounts have no pass pages.
    let tf = c.browser(UserRole::Taskforce).await;
    assert_eq!(
        c.get(Some(&tf), "/passes").await.status,
        StatusCode::FORBIDDEN
    );
}

fn web_enc(s: &str) -> String {
    passgate_server::web::urlencode(s)
}

async fn enterprise_users_see_only_their_own_passes(db: TestDb) {
    let c = Console::new(db).await;
    let other = c
        .state
        .store
        .create_enterprise("第二企业", now())
        .await
        .unwrap()
        .id;
    let mine = short_haul(&c, "豫U11111", c.enterprise).await;
    let theirs = short_haul(&c, "豫U22222", other).await;
    let me = c.browser(UserRole::Enterprise).await;

    let html = list(&c, &me, "").await;
    assert_eq!(rows(&html), 1);
    assert!(html.contains("豫U11111") && !html.contains("豫U22222"));
    assert!(
        !html.contains("name=\"enterprise\""),
        "no enterprise filter"
    );
    // Asking for another enterprise's passes changes nothing.
    let html = list(&c, &me, &format!("enterprise={}", other.0)).await;
    assert_eq!(rows(&html), 1);
    assert!(html.contains("豫U11111"));

    let own = c.get(Some(&me), &format!("/passes/{}", mine.number)).await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(!own.text().contains("/revoke\""), "no revoke form");
    for path in [
        format!("/passes/{}", theirs.number),
        format!("/passes/{}/print", theirs.number),
    ] {
        let r = c.get(Some(&me), &path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text().contains("豫U22222"));
    }
    assert_eq!(
        c.get(Some(&me), &format!("/passes/{}/print", mine.number))
            .await
            .status,
        StatusCode::OK
    );
    // Enterprises neither issue nor revoke.
    assert_eq!(
        c.get(Some(&me), "/passes/new").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.post_form(
            Some(&me),
            &format!("/passes/{}/revoke", mine.number),
            &[("reason", "x")]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
}

async fn revoke_needs_a_reason_and_happens_once(db: TestDb) {
    let c = Console::new(db).await;
    let p = short_haul(&c, "豫U33333", c.enterprise).await;
    let ops = c.browser(UserRole::Ops).await;
    let path = format!("/passes/{}", p.number);
    let revoke = format!("{path}/revoke");

    let html = c.get(Some(&ops), &path).await.text();
    assert!(html.contains(&format!("action=\"{revoke}\"")));
    assert!(html.contains("data-confirm="));
    assert!(html.contains("class=\"badge active\""));

    let empty = c.post_form(Some(&ops), &revoke, &[("reason", "  ")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text().contains("必填"));
    let still = c.state.store.get_pass(p.number).await.unwrap().unwrap();
    assert_eq!(still.status, PassStatus::Active);

    let long = "很".repeat(201);
    let too_long = c.post_form(Some(&ops), &revoke, &[("reason", &long)]).await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_long.text().contains("最多 200 个字"));

    let done = c
        .post_form(Some(&ops), &revoke, &[("reason", "车辆已更换")])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert_eq!(
        done.location.as_deref(),
        Some(&*format!("{path}?revoked=1"))
    );
    let stored = c.state.store.get_pass(p.number).await.unwrap().unwrap();
    assert_eq!(stored.status, PassStatus::Revoked);
    assert_eq!(stored.revoke_reason.as_deref(), Some("车辆已更换"));
    let html = c.get(Some(&ops), &format!("{path}?revoked=1")).await.text();
    assert!(html.contains("通行证已吊销"));
    assert!(html.contains("已吊销") && html.contains("车辆已更换"));
    assert!(
        !html.contains(&format!("action=\"{revoke}\"")),
        "no second revoke"
    );

    let again = c
        .post_form(Some(&ops), &revoke, &[("reason", "再次")])
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.text().contains("无需重复操作"));
    let stored = c.state.store.get_pass(p.number).await.unwrap().unwrap();
    assert_eq!(stored.revoke_reason.as_deref(), Some("车辆已更换"));

    // The transport bureau reads, but does not revoke.
    let tr = c.browser(UserRole::Transport).await;
    let html = c.get(Some(&tr), &path).await.text();
    assert!(html.contains("豫U33333"));
    assert_eq!(
        c.post_form(Some(&tr), &revoke, &[("reason", "x")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Unknown and malformed numbers.
    for bad in ["/passes/419001999999/revoke", "/passes/abc/revoke"] {
        assert_eq!(
            c.post_form(Some(&ops), bad, &[("reason", "x")])
                .await
                .status,
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }
    assert_eq!(
        c.get(Some(&ops), "/passes/abc").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn the_print_page_has_what_the_gate_needs(db: TestDb) {
    let c = Console::new(db).await;
    let a = checkpoint(&c, "北关卡口").await;
    let b = checkpoint(&c, "南环高速出口").await;
    let t = now();
    let mut long = body("long_haul", "豫U12345", c.enterprise, t - 60, t + 86_400);
    long.checkpoints = Some(vec![a.0, b.0]);
    long.co_driver = Some("欧阳明华".into());
    let p = issue_at(&c, long, t).await;
    let tr = c.browser(UserRole::Transport).await;

    let r = c
        .get(Some(&tr), &format!("/passes/{}/print", p.number))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    for expected in [
        "豫U12345",
        "长途闭环",
        "<svg",
        "width=\"60mm\"",
        c.state.settings.authority.as_str(),
        "两码一证",
        "健康码",
        "行程卡",
        "<ol class=\"stops\"><li>北关卡口</li><li>南环高速出口</li></ol>",
        "419001 → 410100",
        "张*丰、欧**华",
        "data-print",
        "class=\"band class-long_haul\"",
        &p.number.to_string(),
    ] {
        assert!(html.contains(expected), "{expected} missing");
    }
    assert!(!html.contains("作废"));
    assert!(!html.contains("style="));

    // A load-unload-leave pass prints its dwell limit; a revoked pass prints as void.
    let lul = issue_at(
        &c,
        body(
            "load_unload_leave",
            "京A88888",
            c.enterprise,
            t - 60,
            t + 86_400,
        ),
        t,
    )
    .await;
    c.state
        .store
        .revoke_pass(lul.number, "作废测试", t)
        .await
        .unwrap();
    let html = c
        .get(Some(&tr), &format!("/passes/{}/print", lul.number))
        .await
        .text();
    assert!(html.contains("即装即卸即走"));
    let dwell = c.state.settings.policy.default_max_dwell_minutes;
    assert!(html.contains(&format!("{dwell} 分钟")));
    assert!(html.contains("作废，不得使用"));
}
