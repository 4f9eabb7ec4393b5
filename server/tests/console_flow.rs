//! Console tests of the enterprise pass applications and the held-vehicle queue, against the
//! real router on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

on_both_backends!(
    enterprise_applies_and_ops_approves,
    rejecting_needs_a_reason_and_stale_applications_stay_pending,
    held_queue_puts_priority_cargo_first_and_records_actions,
);

use axum::http::StatusCode;
use common::TestDb;
use common::console::{Browser, Console};
use passgate_server::routes::passes::{NewPass, issue_pass, rfc3339};
use passgate_server::state::now;
use passgate_server::store::workflow::{ApplicationStatus, NewApplication};
use passgate_server::store::{CheckpointKind, NewCheckpoint, NewUser, UserRole};
use passgate_shared::record::{DeviceId, GENESIS_HASH, GateRecord, Observations, Override};
use passgate_shared::sync::Direction;
use passgate_shared::{CheckpointId, EnterpriseId, PassClass, PassNumber};

/// A Beijing time as a `datetime-local` input sends it.
fn local(t: i64) -> String {
    passgate_server::web::layout::datetime(t).replace(' ', "T")
}

/// The id in a `/applications/{id}?…` redirect.
fn app_id(location: Option<&str>) -> i64 {
    let loc = location.expect("a redirect");
    let rest = loc.strip_prefix("/applications/").expect(loc);
    rest.split('?').next().unwrap().parse().unwrap()
}

async fn file_good(c: &Console, who: &Browser, plate: &str) -> i64 {
    let t = now();
    let from = local(t - 3600);
    let until = local(t + 7 * 86_400);
    let r = c
        .post_form(
            Some(who),
            "/applications",
            &[
                ("class", "short_haul"),
                ("plate", plate),
                ("driver", "张三明"),
                ("co_driver", ""),
                ("driver_id_number", ""),
                ("origin", "419001"),
                ("destination", "419001"),
                ("cargo", "epidemic_supplies"),
                ("valid_from", &from),
                ("valid_until", &until),
                ("note", "运送口罩"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    app_id(r.location.as_deref())
}

/// An enterprise account of another enterprise.
async fn other_enterprise_user(c: &Console) -> Browser {
    let other = c
        .state
        .store
        .create_enterprise("另一家企业", now())
        .await
        .unwrap();
    let user = c
        .state
        .store
        .create_user(
            &NewUser {
                username: "other-ent".into(),
                display_name: "另一家企业用户".into(),
                role: UserRole::Enterprise,
                enterprise_id: Some(other.id),
                team_id: None,
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$invalid".into(),
                must_change_password: false,
            },
            now(),
        )
        .await
        .unwrap();
    c.login(&user).await
}

async fn enterprise_applies_and_ops_approves(db: TestDb) {
    let c = Console::new(db).await;
    let ent = c.browser(UserRole::Enterprise).await;
    let ops = c.browser(UserRole::Ops).await;

    let form = c.get(Some(&ent), "/applications/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let text = form.text();
    assert!(
        text.contains("测试企业"),
        "the form names the user's own enterprise"
    );
    assert!(
        !text.contains("name=\"enterprise_id\""),
        "an enterprise user does not choose the enterprise"
    );

    // Bad fields: every one is listed, and nothing is stored.
    let bad = c
        .post_form(
            Some(&ent),
            "/applications",
            &[
                ("class", "short_haul"),
                ("plate", "ABC123"),
                ("driver", ""),
                ("origin", "12"),
                ("destination", "419001"),
                ("cargo", "epidemic_supplies"),
                ("valid_from", &local(now() - 3 * 86_400)),
                ("valid_until", &local(now() - 86_400)),
                // Forged: an enterprise user cannot file for another enterprise.
                ("enterprise_id", "999"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = bad.text();
    for field in ["plate", "driver", "origin", "valid_until"] {
        assert!(
            text.contains(&format!("href=\"#f-{field}\"")),
            "{field} is listed: {text}"
        );
    }
    assert!(text.contains("截止时间已过"), "the message is in Chinese");
    assert!(!text.contains("#f-enterprise_id"));
    let list = c.get(Some(&ent), "/applications").await;
    assert!(list.text().contains("暂无申请"));

    // A good one is stored, pending, for the user's own enterprise.
    let id = file_good(&c, &ent, "豫U12345").await;
    let app = c.state.store.get_application(id).await.unwrap().unwrap();
    assert_eq!(app.status, ApplicationStatus::Pending);
    assert_eq!(app.new.enterprise_id, c.enterprise);
    assert_eq!(app.new.applicant_id, ent.user.id);
    assert_eq!(app.new.valid_until.len(), "2026-12-01T08:00:00+08:00".len());
    let list = c.get(Some(&ent), "/applications").await.text();
    assert!(list.contains("豫U12345") && list.contains("待审核"));

    // Another enterprise neither sees nor opens it.
    let other = other_enterprise_user(&c).await;
    let r = c.get(Some(&other), &format!("/applications/{id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        !c.get(Some(&other), "/applications")
            .await
            .text()
            .contains("豫U12345")
    );
    assert_eq!(
        c.get(Some(&ent), &format!("/applications/{id}"))
            .await
            .status,
        StatusCode::OK
    );

    // The enterprise cannot approve its own application.
    let r = c
        .post_form(Some(&ent), &format!("/applications/{id}/approve"), &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Ops sees it pending first and approves: a pass for that enterprise, linked.
    let ops_list = c.get(Some(&ops), "/applications").await.text();
    assert!(ops_list.contains("测试企业"));
    let detail = c
        .get(Some(&ops), &format!("/applications/{id}"))
        .await
        .text();
    assert!(detail.contains(&format!("/applications/{id}/approve")));
    let r = c
        .post_form(Some(&ops), &format!("/applications/{id}/approve"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let app = c.state.store.get_application(id).await.unwrap().unwrap();
    assert_eq!(app.status, ApplicationStatus::Approved);
    assert_eq!(app.decided_by.as_deref(), Some(ops.user.username.as_str()));
    assert!(app.decided_at.is_some());
    let number = app.pass_number.clone().expect("the pass is linked");
    let pass = c
        .state
        .store
        .get_pass(PassNumber::parse(&number).unwrap())
        .await
        .unwrap()
        .expect("the pass exists");
    assert_eq!(pass.enterprise_id, c.enterprise);
    assert_eq!(pass.plate, "豫U12345");
    assert_eq!(pass.class, PassClass::ShortHaul);
    assert_eq!(pass.created_by, ops.user.username);
    let shown = c
        .get(Some(&ent), &format!("/applications/{id}"))
        .await
        .text();
    assert!(shown.contains(&number) && shown.contains("已批准"));

    // Decided once only.
    let again = c
        .post_form(Some(&ops), &format!("/applications/{id}/approve"), &[])
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.text().contains("已处理"));
    let again = c
        .post_form(
            Some(&ops),
            &format!("/applications/{id}/reject"),
            &[("reason", "重复")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // Missing or malformed ids are "not found".
    for path in ["/applications/999999", "/applications/abc"] {
        assert_eq!(c.get(Some(&ops), path).await.status, StatusCode::NOT_FOUND);
    }
}

async fn rejecting_needs_a_reason_and_stale_applications_stay_pending(db: TestDb) {
    let c = Console::new(db).await;
    let ent = c.browser(UserRole::Enterprise).await;
    let ops = c.browser(UserRole::Ops).await;
    let id = file_good(&c, &ent, "豫UD23456").await;

    let r = c
        .post_form(
            Some(&ops),
            &format!("/applications/{id}/reject"),
            &[("reason", "   ")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("请填写驳回理由"));
    let app = c.state.store.get_application(id).await.unwrap().unwrap();
    assert_eq!(app.status, ApplicationStatus::Pending);

    let r = c
        .post_form(
            Some(&ops),
            &format!("/applications/{id}/reject"),
            &[("reason", "车辆信息与备案不符")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let app = c.state.store.get_application(id).await.unwrap().unwrap();
    assert_eq!(app.status, ApplicationStatus::Rejected);
    assert_eq!(app.reject_reason.as_deref(), Some("车辆信息与备案不符"));
    assert_eq!(app.decided_by.as_deref(), Some(ops.user.username.as_str()));
    assert!(app.pass_number.is_none());
    let shown = c
        .get(Some(&ent), &format!("/applications/{id}"))
        .await
        .text();
    assert!(shown.contains("已驳回") && shown.contains("车辆信息与备案不符"));
    let r = c
        .post_form(Some(&ops), &format!("/applications/{id}/approve"), &[])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // Filed while valid, approved after its validity ended: a clear error, still pending.
    let t = now();
    let stale = c
        .state
        .store
        .create_application(
            &NewApplication {
                enterprise_id: c.enterprise,
                applicant_id: ent.user.id,
                applicant_name: "x".into(),
                class: "short_haul".into(),
                plate: "豫U3A456".into(),
                driver: "李四".into(),
                origin: "419001".into(),
                destination: "419001".into(),
                cargo: "daily_necessities".into(),
                valid_from: rfc3339(t - 3 * 86_400),
                valid_until: rfc3339(t - 86_400),
                ..NewApplication::default()
            },
            t - 4 * 86_400,
        )
        .await
        .unwrap();
    let r = c
        .post_form(
            Some(&ops),
            &format!("/applications/{}/approve", stale.id),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("截止时间已过"), "{}", r.text());
    let app = c
        .state
        .store
        .get_application(stale.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.status, ApplicationStatus::Pending);
    assert!(app.pass_number.is_none() && app.decided_by.is_none());

    // Ops lists pending ones first.
    let list = c.get(Some(&ops), "/applications").await.text();
    let pending_at = list.find("豫U3A456").unwrap();
    let rejected_at = list.find("豫UD23456").unwrap();
    assert!(pending_at < rejected_at);
}

/// A pass of `cargo` for `plate`, valid now.
async fn pass(c: &Console, plate: &str, cargo: &str) -> PassNumber {
    let t = now();
    let body = NewPass {
        class: Some("short_haul".into()),
        plate: Some(plate.into()),
        driver: Some("王小五".into()),
        enterprise_id: Some(c.enterprise.0),
        origin: Some("419001".into()),
        destination: Some("419001".into()),
        cargo: Some(cargo.into()),
        valid_from: Some(rfc3339(t - 86_400)),
        valid_until: Some(rfc3339(t + 86_400)),
        ..NewPass::default()
    };
    issue_pass(&c.state, &body, "test").await.unwrap().number
}

/// A refused (or, with `override_of`, an override) record of `number`/`plate`.
fn record(
    device: DeviceId,
    cp: CheckpointId,
    seq: u64,
    at: i64,
    pass: Option<(PassNumber, &str)>,
    accepted: bool,
    override_of: Option<u64>,
) -> GateRecord {
    GateRecord {
        id: format!("{:016x}{:016x}", device.0, seq),
        device_id: device,
        seq,
        prev_hash: GENESIS_HASH.to_owned(),
        checkpoint_id: cp,
        scanned_at: at,
        direction: Direction::In,
        number: pass.map(|p| p.0),
        class: pass.map(|_| PassClass::ShortHaul),
        plate: pass.map(|p| p.1.to_owned()),
        accepted,
        reason: match (accepted, override_of, pass) {
            (true, None, _) => None,
            (_, _, None) => Some("malformed".into()),
            _ => Some("expired".into()),
        },
        warnings: vec![],
        bundle_version: 1,
        guard_id: Some("guard-1".into()),
        observations: Observations::default(),
        override_by: override_of.map(|_| Override {
            supervisor_id: "班长王".into(),
            reason: "现场核实防疫证明".into(),
        }),
        overrides_seq: override_of,
        dwell_minutes: None,
    }
}

async fn held_queue_puts_priority_cargo_first_and_records_actions(db: TestDb) {
    let c = Console::new(db).await;
    let daily = pass(&c, "豫U12345", "daily_necessities").await;
    let epidemic = pass(&c, "豫UD23456", "epidemic_supplies").await;
    let production = pass(&c, "冀D34567", "production_materials").await;
    let st = &c.state.store;
    let cp = st
        .create_checkpoint(
            &NewCheckpoint {
                name: "示范区东卡口".into(),
                kind: CheckpointKind::ZoneBorder,
                inside_zone: true,
                enterprise_id: None::<EnterpriseId>,
            },
            now(),
        )
        .await
        .unwrap();
    st.create_enrollment_code(cp.id, "code-hash", now() + 3600, now())
        .await
        .unwrap();
    let dev = st
        .enroll_device(
            "code-hash",
            "public-key",
            "东卡口 1 号机",
            "token-hash",
            now(),
        )
        .await
        .unwrap()
        .id;
    let t = now();
    let mut chain = vec![
        // The longest waiting, but no pass the server knows: last.
        record(dev, cp.id, 1, t - 4 * 3600, None, false, None),
        record(
            dev,
            cp.id,
            2,
            t - 3 * 3600,
            Some((daily, "豫U12345")),
            false,
            None,
        ),
        record(
            dev,
            cp.id,
            3,
            t - 2 * 3600 - 1800,
            Some((production, "冀D34567")),
            false,
            None,
        ),
        // The most recent, but epidemic supplies: first.
        record(
            dev,
            cp.id,
            4,
            t - 3600,
            Some((epidemic, "豫UD23456")),
            false,
            None,
        ),
        record(
            dev,
            cp.id,
            5,
            t - 3000,
            Some((daily, "豫U12345")),
            true,
            None,
        ),
        record(
            dev,
            cp.id,
            6,
            t - 2400,
            Some((daily, "豫U12345")),
            false,
            None,
        ),
        // The supervisor at the gate overrode 6: handled there.
        record(
            dev,
            cp.id,
            7,
            t - 1800,
            Some((daily, "豫U12345")),
            true,
            Some(6),
        ),
    ];
    for i in 1..chain.len() {
        chain[i].prev_hash = chain[i - 1].hash_hex();
    }
    let sealed: Vec<_> = chain.iter().map(GateRecord::seal).collect();
    st.ingest_batch(dev, &chain, &sealed, t).await.unwrap();

    let transport = c.browser(UserRole::Transport).await;
    let page = c.get(Some(&transport), "/held").await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    let at = |seq: u64| text.find(&format!("href=\"/held/{dev}/{seq}\""));
    let order: Vec<usize> = [4, 3, 2, 1]
        .iter()
        .map(|s| at(*s).expect("listed"))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(at(5).is_none(), "accepted records are not held");
    assert!(at(6).is_none(), "overridden at the gate: handled");
    assert!(text.contains("示范区东卡口"));
    assert!(text.contains("通行证已过期") && text.contains("不是有效的通行证二维码"));
    assert!(text.contains("防疫物资") && text.contains("重点生产物资"));
    // Waiting since the refusal: the unknown truck has waited four hours.
    assert!(
        text.contains("4 小时 0 分钟") || text.contains("4 小时 1 分钟"),
        "{text}"
    );

    let handled = c.get(Some(&transport), "/held?show=handled").await.text();
    assert!(handled.contains(&format!("href=\"/held/{dev}/6\"")));
    assert!(handled.contains("查验点特批放行"));

    // Bad input is refused with a message; the item stays open.
    let path = format!("/held/{dev}/4/action");
    let r = c
        .post_form(
            Some(&transport),
            &path,
            &[("action", "escort"), ("note", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("请填写处置说明"));
    let r = c
        .post_form(Some(&transport), &path, &[("action", "fly"), ("note", "x")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Escorted through: it leaves the open queue and shows the action and the total wait.
    let r = c
        .post_form(
            Some(&transport),
            &path,
            &[("action", "escort"), ("note", "交通局派车护送至厂区")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let item = st.get_held_item(dev, 4).await.unwrap().unwrap();
    let action = item.action.clone().unwrap();
    assert_eq!(action.by, transport.user.display_name);
    assert!(
        item.waited(now() + 86_400) < 3700,
        "the wait stops at the action"
    );
    let open = c.get(Some(&transport), "/held").await.text();
    assert!(!open.contains(&format!("href=\"/held/{dev}/4\"")));
    assert!(open.contains(&format!("href=\"/held/{dev}/3\"")));
    let handled = c.get(Some(&transport), "/held?show=handled").await.text();
    assert!(handled.contains(&format!("href=\"/held/{dev}/4\"")));
    assert!(handled.contains("护送通行") && handled.contains("交通局派车护送至厂区"));
    let detail = c
        .get(Some(&transport), &format!("/held/{dev}/4"))
        .await
        .text();
    assert!(
        detail.contains("共等待") && detail.contains("1 小时 0 分钟"),
        "{detail}"
    );

    // Once only; not for accepted or gate-overridden records; missing ones are not found.
    let again = c
        .post_form(
            Some(&transport),
            &path,
            &[("action", "refused"), ("note", "再次")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let fields = [("action", "cleared"), ("note", "核实")];
    let r = c
        .post_form(Some(&transport), &format!("/held/{dev}/5/action"), &fields)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .post_form(Some(&transport), &format!("/held/{dev}/6/action"), &fields)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = c
        .post_form(Some(&transport), &format!("/held/{dev}/99/action"), &fields)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Filters: a day with nothing, and a bad day that is named and ignored.
    let none = c
        .get(Some(&transport), "/held?show=all&day=2020-01-01")
        .await
        .text();
    assert!(none.contains("没有符合条件的受阻车辆"));
    let bad = c.get(Some(&transport), "/held?day=yesterday").await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(bad.text().contains("日期格式应为"));

    // The operations bureau may look too; an enterprise may not.
    let ops = c.browser(UserRole::Ops).await;
    assert_eq!(c.get(Some(&ops), "/held").await.status, StatusCode::OK);
    let ent = c.browser(UserRole::Enterprise).await;
    assert_eq!(
        c.get(Some(&ent), "/held").await.status,
        StatusCode::FORBIDDEN
    );
}
