//! The enterprise reporting pages against the real router, on both backends: the report
//! form's message per field, a zero report then a full report then a correction with every
//! version visible, the late badge, supervisors kept to their own team, the task force's
//! board equal to a recount of what was filed (read back from its Excel export), supplies
//! warnings, the risk-person flow, and the configuration pages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

on_both_backends!(
    the_report_form_names_every_bad_field,
    zero_then_full_then_a_correction_keeps_every_version,
    a_late_report_is_marked_and_never_hidden,
    supervisors_see_only_their_team,
    the_board_equals_a_recount_of_the_reports,
    the_risk_flow_moves_one_step_at_a_time,
    teams_settings_supplies_profile_and_grids,
    supervisor_accounts_belong_to_a_team,
);

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;

use axum::http::StatusCode;
use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use common::TestDb;
use common::console::{Browser, Console, Reply};
use passgate_server::state::now;
use passgate_server::store::UserRole;
use passgate_server::store::reporting::{NewRiskCase, NewTeam, ProfileUpdate};
use passgate_shared::EnterpriseId;
use passgate_shared::reporting::{
    DueTime, HelpKind, Report, ReportKind, SupplyLine, validate_report,
};
use passgate_shared::time::{local_day, local_day_range};

fn today() -> String {
    local_day(now())
}

fn days_ago(n: i64) -> String {
    let (start, _) = local_day_range(&today()).unwrap();
    local_day(start - n * 86_400)
}

/// The text of the element carrying `data-error-for="field"` (empty if none).
fn error_for(html: &str, field: &str) -> String {
    let marker = format!("data-error-for=\"{field}\">");
    match html.find(&marker) {
        Some(at) => {
            let rest = &html[at + marker.len()..];
            rest[..rest.find("</span>").unwrap()].to_owned()
        }
        None => String::new(),
    }
}

/// The text inside the element marked `data-kpi="name"` (its link's text when it has one).
fn kpi(html: &str, name: &str) -> u32 {
    let marker = format!("data-kpi=\"{name}\">");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no kpi {name}"));
    let rest = &html[at + marker.len()..];
    let end = rest.find("</div>").unwrap();
    let inner = &rest[..end];
    let text: String = inner
        .split('<')
        .map(|s| s.split_once('>').map_or(s, |(_, t)| t))
        .collect();
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("kpi {name}: {inner}"))
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 => format!("{f:.0}"),
        Data::Float(f) => format!("{f}"),
        Data::Int(i) => i.to_string(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// The rows of the first sheet of a workbook.
fn xlsx_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    range
        .rows()
        .map(|r| r.iter().map(cell_text).collect())
        .collect()
}

fn assert_status(r: &Reply, status: StatusCode) {
    assert_eq!(r.status, status, "{}", r.text());
}

/// A full report for `date` as the shared rules return it.
fn full(date: &str, on_site: u32) -> Report {
    Report {
        date: date.to_owned(),
        kind: ReportKind::Full,
        on_site,
        green: on_site,
        blue: 0,
        yellow: 0,
        red: 0,
        isolation: 0,
        observation: 0,
        tests_done: 0,
        tests_abnormal: 0,
        disinfected: true,
        vehicles_in: 0,
        vehicles_out: 0,
        supplies: vec![],
        help: vec![],
        help_text: String::new(),
    }
}

fn zero(date: &str, on_site: u32) -> Report {
    Report {
        kind: ReportKind::Zero,
        disinfected: false,
        ..full(date, on_site)
    }
}

async fn team(c: &Console, name: &str) -> i64 {
    c.state
        .store
        .create_team(
            &NewTeam {
                name: name.into(),
                offices: "市工信局".into(),
            },
            now(),
        )
        .await
        .unwrap()
        .id
}

async fn enterprise_in(c: &Console, name: &str, team: Option<i64>) -> EnterpriseId {
    let e = c
        .state
        .store
        .create_enterprise(name, now())
        .await
        .unwrap()
        .id;
    c.state
        .store
        .set_enterprise_profile(
            e,
            &ProfileUpdate {
                team_id: team,
                ..ProfileUpdate::default()
            },
        )
        .await
        .unwrap();
    e
}

async fn supervisor(c: &Console, team: Option<i64>) -> Browser {
    let b = c.browser(UserRole::Supervisor).await;
    c.state.store.set_user_team(b.user.id, team).await.unwrap();
    // The session reads the account afresh on every request.
    b
}

// ---------------------------------------------------------------------------------------

async fn the_report_form_names_every_bad_field(db: TestDb) {
    let c = Console::new(db).await;
    let who = c.browser(UserRole::Enterprise).await;
    let tomorrow = local_day(now() + 86_400);

    // The form opens with the configured supply items.
    let form = c.get(Some(&who), "/reporting/report").await;
    assert_status(&form, StatusCode::OK);
    let html = form.text();
    assert!(html.contains("name=\"supplies.masks.stock\""), "{html}");
    assert!(html.contains("name=\"supplies.food.stock\""));
    assert!(html.contains("data-live-check=\"/reporting/check\""));

    let bad = [
        ("date", tomorrow.as_str()),
        ("kind", "full"),
        ("on_site", "10"),
        ("green", "8"),
        ("blue", "2"),
        ("yellow", "1"),
        ("red", "-1"),
        ("tests_done", "2"),
        ("tests_abnormal", "5"),
        ("vehicles_in", "三"),
        ("supplies.masks.stock", "-5"),
        ("supplies.masks.used", "1"),
        ("help", "eat"),
        ("help_text", ""),
    ];
    let r = c.post_form(Some(&who), "/reporting/report", &bad).await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text();
    assert!(
        error_for(&html, "date").contains("不能填报未来日期"),
        "{html}"
    );
    assert_eq!(error_for(&html, "red"), "不能为负数");
    assert!(error_for(&html, "tests_abnormal").contains("异常人数 5 不能多于检测人数 2"));
    assert_eq!(error_for(&html, "vehicles_in"), "请填写整数");
    assert_eq!(error_for(&html, "supplies.masks.stock"), "不能为负数");
    assert!(error_for(&html, "help_text").contains("请说明需要的帮助"));
    assert!(error_for(&html, "on_site").is_empty());
    // What was typed comes back.
    assert!(html.contains("value=\"三\""));
    assert!(html.contains("value=\"-5\""));
    // Nothing was stored.
    assert!(
        c.state
            .store
            .report_versions(c.enterprise, &today())
            .await
            .unwrap()
            .is_empty()
    );

    // Zones above the headcount: one message on the zone group.
    let r = c
        .post_form(
            Some(&who),
            "/reporting/report",
            &[
                ("date", &today()),
                ("on_site", "10"),
                ("green", "9"),
                ("red", "3"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_for(&r.text(), "zones").contains("各区人数合计 12，超过在岗人数 10"));
    // A missing headcount.
    let r = c
        .post_form(
            Some(&who),
            "/reporting/zero",
            &[("date", &today()), ("on_site", "")],
        )
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_for(&r.text(), "on_site"), "必填");

    // The checks as you type answer with the same rules, in the reader's language.
    let r = c
        .post_form(
            Some(&who),
            "/reporting/check",
            &[
                ("date", &today()),
                ("kind", "full"),
                ("on_site", "5"),
                ("red", "-2"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["errors"][0]["field"], "red");
    assert_eq!(v["errors"][0]["message"], "不能为负数");
    let mut en = who.clone();
    en.cookie.push_str("; pg_lang=en");
    let r = c
        .post_form(
            Some(&en),
            "/reporting/check",
            &[
                ("date", &today()),
                ("kind", "full"),
                ("on_site", "5"),
                ("red", "-2"),
            ],
        )
        .await;
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["errors"][0]["message"], "this number cannot be negative");
}

async fn zero_then_full_then_a_correction_keeps_every_version(db: TestDb) {
    let c = Console::new(db).await;
    let who = c.browser(UserRole::Enterprise).await;
    let day = today();

    let page = c.get(Some(&who), "/reporting").await;
    assert_status(&page, StatusCode::OK);
    assert!(page.text().contains("未报"));
    assert!(page.text().contains("data-confirm="));

    let r = c
        .post_form(
            Some(&who),
            "/reporting/zero",
            &[("date", &day), ("kind", "zero"), ("on_site", "120")],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/reporting?date={day}&done=submitted").as_str())
    );

    // The full form starts from the zero report's headcount; supplies from the last report.
    let form = c
        .get(Some(&who), &format!("/reporting/report?date={day}"))
        .await;
    assert!(
        form.text()
            .contains("id=\"f-on_site\" name=\"on_site\" type=\"number\" value=\"120\""),
        "{}",
        form.text()
    );

    let full_form = [
        ("date", day.as_str()),
        ("kind", "full"),
        ("on_site", "120"),
        ("green", "110"),
        ("blue", "5"),
        ("yellow", "3"),
        ("red", "2"),
        ("isolation", "2"),
        ("observation", "3"),
        ("tests_done", "120"),
        ("tests_abnormal", "2"),
        ("disinfected", "1"),
        ("vehicles_in", "7"),
        ("vehicles_out", "6"),
        ("supplies.masks.stock", "900"),
        ("supplies.masks.used", "150"),
        ("help", "test"),
        ("help_text", "需要增派核酸采样人员"),
    ];
    let r = c
        .post_form(Some(&who), "/reporting/report", &full_form)
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);

    // The correction: the same day again.
    let mut corrected = full_form.to_vec();
    corrected.retain(|(k, _)| *k != "red" && *k != "isolation");
    corrected.push(("red", "1"));
    corrected.push(("isolation", "1"));
    let form = c
        .get(Some(&who), &format!("/reporting/report?date={day}"))
        .await;
    let html = form.text();
    assert!(html.contains("将保存为第 3 版"), "{html}");
    assert!(
        html.contains("value=\"需要增派核酸采样人员\"")
            || html.contains(">需要增派核酸采样人员</textarea>")
    );
    let r = c
        .post_form(Some(&who), "/reporting/report", &corrected)
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);

    let versions = c
        .state
        .store
        .report_versions(c.enterprise, &day)
        .await
        .unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[0].report.kind, ReportKind::Zero);
    assert_eq!(versions[1].report.red, 2);
    assert_eq!(versions[2].report.red, 1);
    assert_eq!(versions[2].report.help, vec![HelpKind::Test]);
    assert!(versions.iter().all(|v| v.submitted_by == who.user.username));

    let page = c.get(Some(&who), &format!("/reporting?date={day}")).await;
    let html = page.text();
    for n in 1..=3 {
        assert!(
            html.contains(&format!("第 {n} 版")),
            "version {n} missing: {html}"
        );
    }
    assert!(html.contains("零报告") && html.contains("日报告"));
    assert!(html.contains("红区 2 人") && html.contains("红区 1 人"));
    assert!(html.contains("需要帮助：检"));
    assert!(html.contains(&who.user.username));
    // Another enterprise's account sees none of it: its own day is still missing.
    let other = enterprise_in(&c, "另一企业", None).await;
    let stranger = c
        .state
        .store
        .create_user(
            &passgate_server::store::NewUser {
                username: "stranger1".into(),
                display_name: "另一企业用户".into(),
                role: UserRole::Enterprise,
                enterprise_id: Some(other),
                team_id: None,
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$invalid".into(),
                must_change_password: false,
            },
            now(),
        )
        .await
        .unwrap();
    let stranger = c.login(&stranger).await;
    let html = c
        .get(Some(&stranger), &format!("/reporting?date={day}"))
        .await
        .text();
    assert!(html.contains("另一企业") && html.contains("未报"));
    assert!(!html.contains("第 1 版") && !html.contains(&who.user.username));
}

async fn a_late_report_is_marked_and_never_hidden(db: TestDb) {
    let c = Console::new(db).await;
    let who = c.browser(UserRole::Enterprise).await;
    let yesterday = days_ago(1);

    // Filed today for yesterday: past any due time of yesterday.
    let r = c
        .post_form(
            Some(&who),
            "/reporting/zero",
            &[("date", &yesterday), ("on_site", "50")],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    // A correction stays late.
    let r = c
        .post_form(
            Some(&who),
            "/reporting/report",
            &[
                ("date", &yesterday),
                ("on_site", "50"),
                ("green", "48"),
                ("yellow", "2"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    let versions = c
        .state
        .store
        .report_versions(c.enterprise, &yesterday)
        .await
        .unwrap();
    assert_eq!(versions.len(), 2);
    assert!(versions.iter().all(|v| v.late));

    let page = c
        .get(Some(&who), &format!("/reporting?date={yesterday}"))
        .await;
    let html = page.text();
    // Every version carries the badge, and so does the day's status.
    let versions_html = &html[html.find("rep-versions").unwrap()..];
    let versions_html = &versions_html[..versions_html.find("</table>").unwrap()];
    assert_eq!(versions_html.matches("badge rep-late").count(), 2, "{html}");
    let status_html = &html[html.find("rep-state").unwrap()..];
    assert!(status_html[..status_html.find("</p>").unwrap()].contains("迟报"));

    // The task force counts it late and lists it as abnormal (yellow zone).
    let tf = c.browser(UserRole::Taskforce).await;
    let board = c
        .get(Some(&tf), &format!("/taskforce?date={yesterday}"))
        .await;
    assert_status(&board, StatusCode::OK);
    let html = board.text();
    assert_eq!(kpi(&html, "late"), 1);
    assert_eq!(kpi(&html, "abnormal"), 1);
    assert!(html.contains("黄区 2 人"));
    let list = c
        .get(
            Some(&tf),
            &format!("/taskforce/coverage?date={yesterday}&team=none&status=late"),
        )
        .await;
    assert_status(&list, StatusCode::OK);
    assert!(list.text().contains("测试企业"));
}

async fn supervisors_see_only_their_team(db: TestDb) {
    let c = Console::new(db).await;
    let t1 = team(&c, "督导一组").await;
    let t2 = team(&c, "督导二组").await;
    let a = enterprise_in(&c, "甲钢铁", Some(t1)).await;
    let b = enterprise_in(&c, "乙化工", Some(t2)).await;
    let day = days_ago(1);
    let settings = c.state.store.reporting_settings().await.unwrap();
    for e in [a, b] {
        c.state
            .store
            .submit_report(e, &full(&day, 10), "seed", now(), settings.due)
            .await
            .unwrap();
    }
    let case = c
        .state
        .store
        .open_risk_case(
            b,
            &NewRiskCase {
                subject: "李*".into(),
                owner: "王五".into(),
                note: String::new(),
            },
            "seed",
            now(),
        )
        .await
        .unwrap();

    let sup = supervisor(&c, Some(t1)).await;
    let board = c.get(Some(&sup), &format!("/taskforce?date={day}")).await;
    assert_status(&board, StatusCode::OK);
    let html = board.text();
    assert_eq!(kpi(&html, "total"), 1);
    assert!(
        html.contains("督导一组") && !html.contains("督导二组"),
        "{html}"
    );
    let list = c
        .get(Some(&sup), &format!("/taskforce/coverage?date={day}"))
        .await;
    assert!(list.text().contains("甲钢铁") && !list.text().contains("乙化工"));
    for path in [
        format!("/taskforce/enterprises/{}", b.0),
        format!("/taskforce/enterprises/{}/day?date={day}", b.0),
        format!("/taskforce/enterprises/{}/export?format=csv", b.0),
        format!("/taskforce?date={day}&team={t2}"),
        format!("/taskforce/coverage?date={day}&team=none"),
        format!("/risk/{}", case.id),
    ] {
        let r = c.get(Some(&sup), &path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_status(
        &c.get(Some(&sup), &format!("/taskforce/enterprises/{}", a.0))
            .await,
        StatusCode::OK,
    );
    let risk = c.get(Some(&sup), "/risk").await;
    assert!(!risk.text().contains("李*"));
    let r = c
        .post_form(
            Some(&sup),
            &format!("/risk/{}/step", case.id),
            &[("step", "2"), ("owner", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The export holds the own team only.
    let x = c
        .get(
            Some(&sup),
            &format!("/taskforce/export/bucket?date={day}&format=xlsx"),
        )
        .await;
    assert_status(&x, StatusCode::OK);
    let rows = xlsx_rows(&x.body);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][0], "甲钢铁");

    // A supervisor without a team sees nothing at all.
    let lost = supervisor(&c, None).await;
    let board = c.get(Some(&lost), &format!("/taskforce?date={day}")).await;
    assert_status(&board, StatusCode::OK);
    assert_eq!(kpi(&board.text(), "total"), 0);
    assert_eq!(
        c.get(Some(&lost), &format!("/taskforce/enterprises/{}", a.0))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The task force sees both.
    let tf = c.browser(UserRole::Taskforce).await;
    let board = c.get(Some(&tf), &format!("/taskforce?date={day}")).await;
    assert_eq!(
        kpi(&board.text(), "total"),
        3,
        "two teams' enterprises and the unassigned one"
    );
}

/// A tiny deterministic generator (fixed seed), so the recount test is the same every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

async fn the_board_equals_a_recount_of_the_reports(db: TestDb) {
    let c = Console::new(db).await;
    let teams = [
        team(&c, "督导一组").await,
        team(&c, "督导二组").await,
        team(&c, "督导三组").await,
    ];
    let day = days_ago(1);
    let due = DueTime::parse("10:00").unwrap();
    let deadline = due.deadline(&day).unwrap();
    let settings = c.state.store.reporting_settings().await.unwrap();
    assert_eq!(settings.due, due, "the default due time");

    // What the test filed, kept to recount from: per enterprise its team, and the kind and
    // whether it came late, and whether anything in it is abnormal.
    struct Filed {
        name: String,
        team: Option<i64>,
        filed: Option<(ReportKind, bool)>,
        abnormal: bool,
    }
    let mut rng = Lcg(20_220_401);
    let mut filed = Vec::new();
    // The enterprise every console test has, without a team and without a report.
    filed.push(Filed {
        name: "测试企业".into(),
        team: None,
        filed: None,
        abnormal: false,
    });
    for i in 0..24 {
        let team = match rng.next(4) {
            3 => None,
            t => Some(teams[t as usize]),
        };
        let name = format!("企业{i:02}");
        let e = enterprise_in(&c, &name, team).await;
        let choice = rng.next(5);
        let mut entry = Filed {
            name,
            team,
            filed: None,
            abnormal: false,
        };
        if choice > 0 {
            let late = rng.next(3) == 0;
            let at = if late {
                deadline + 60
            } else {
                deadline - 3_600
            };
            let mut r = if choice == 1 {
                zero(&day, 100)
            } else {
                full(&day, 100)
            };
            if r.kind == ReportKind::Full {
                match rng.next(4) {
                    0 => {
                        r.green = 95;
                        r.red = 5;
                    }
                    1 => {
                        r.tests_done = 100;
                        r.tests_abnormal = 1;
                    }
                    2 => {
                        r.help = vec![HelpKind::Logistics];
                        r.help_text = "物流受阻".into();
                    }
                    _ => {}
                }
            }
            entry.abnormal =
                r.red > 0 || r.yellow > 0 || r.tests_abnormal > 0 || !r.help.is_empty();
            c.state
                .store
                .submit_report(e, &r, "seed", at, due)
                .await
                .unwrap();
            // Some are corrected later: the kind follows the correction, lateness the first.
            if rng.next(3) == 0 {
                let fixed = full(&day, 100);
                c.state
                    .store
                    .submit_report(e, &fixed, "seed", deadline + 7_200, due)
                    .await
                    .unwrap();
                entry.abnormal = false;
                entry.filed = Some((ReportKind::Full, late));
            } else {
                entry.filed = Some((r.kind, late));
            }
        }
        filed.push(entry);
    }

    // The recount, written from what was filed (not from the shared rules).
    let bucket = |f: &Filed| match f.filed {
        None => 3,
        Some((_, true)) => 2,
        Some((ReportKind::Zero, false)) => 1,
        Some((ReportKind::Full, false)) => 0,
    };
    let mut expected: BTreeMap<String, [u32; 4]> = BTreeMap::new();
    let team_names = ["督导一组", "督导二组", "督导三组"];
    for f in &filed {
        let name = match f.team {
            None => "未分组".to_owned(),
            Some(t) => team_names[teams.iter().position(|x| *x == t).unwrap()].to_owned(),
        };
        expected.entry(name).or_default()[bucket(f)] += 1;
    }
    for n in team_names {
        expected.entry(n.to_owned()).or_default();
    }
    let totals: [u32; 4] = (0..4)
        .map(|i| expected.values().map(|c| c[i]).sum())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();

    let tf = c.browser(UserRole::Taskforce).await;
    let board = c.get(Some(&tf), &format!("/taskforce?date={day}")).await;
    assert_status(&board, StatusCode::OK);
    let html = board.text();
    assert_eq!(kpi(&html, "total"), filed.len() as u32);
    for (i, name) in ["reported", "zero_reported", "late", "missing"]
        .iter()
        .enumerate()
    {
        assert_eq!(kpi(&html, name), totals[i], "{name}");
    }
    let abnormal: BTreeSet<&str> = filed
        .iter()
        .filter(|f| f.abnormal)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(kpi(&html, "abnormal"), abnormal.len() as u32);

    // The coverage export, read back.
    let x = c
        .get(
            Some(&tf),
            &format!("/taskforce/export/coverage?date={day}&format=xlsx"),
        )
        .await;
    assert_status(&x, StatusCode::OK);
    assert!(x.content_type.contains("spreadsheetml"));
    let rows = xlsx_rows(&x.body);
    assert_eq!(
        rows[0],
        ["督导组", "企业数", "已报告", "零报告", "迟报", "未报"]
    );
    let mut got: BTreeMap<String, [u32; 4]> = BTreeMap::new();
    for row in &rows[1..rows.len() - 1] {
        let n: Vec<u32> = row[2..6].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(row[1].parse::<u32>().unwrap(), n.iter().sum::<u32>());
        got.insert(row[0].clone(), n.try_into().unwrap());
    }
    assert_eq!(got, expected);
    let last = rows.last().unwrap();
    assert_eq!(last[0], "合计");
    assert_eq!(last[1], filed.len().to_string());

    // The abnormal export lists exactly the enterprises whose current report is abnormal.
    let x = c
        .get(
            Some(&tf),
            &format!("/taskforce/export/abnormal?date={day}&format=xlsx"),
        )
        .await;
    let rows = xlsx_rows(&x.body);
    let listed: BTreeSet<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(listed, abnormal);

    // Each bucket's drill-down lists as many enterprises as its count (CSV this time).
    for (i, status) in ["reported", "zero_reported", "late", "missing"]
        .iter()
        .enumerate()
    {
        let x = c
            .get(
                Some(&tf),
                &format!("/taskforce/export/bucket?date={day}&status={status}&format=csv"),
            )
            .await;
        assert_status(&x, StatusCode::OK);
        let text = String::from_utf8(x.body.clone()).unwrap();
        assert!(text.starts_with('\u{feff}'));
        assert_eq!(
            text.trim_end().lines().count() as u32 - 1,
            totals[i],
            "{status}: {text}"
        );
    }

    // Supplies: 40 masks a day over three reports and 100 left is 2.5 days of cover, below
    // the masks' threshold; 10 a day is 10 days, no warning.
    let items = c.state.store.supply_items().await.unwrap();
    let masks = items.iter().find(|i| i.key == "masks").unwrap();
    // Between the two covers below (2.5 and 10 days).
    assert!(
        (3..10).contains(&masks.warn_days),
        "the seeded threshold is {}",
        masks.warn_days
    );
    let short = enterprise_in(&c, "口罩告急企业", Some(teams[0])).await;
    let fine = enterprise_in(&c, "口罩充足企业", Some(teams[0])).await;
    for (e, used) in [(short, 40), (fine, 10)] {
        for n in [3, 2, 1] {
            let d = days_ago(n);
            let mut r = full(&d, 10);
            r.supplies = vec![SupplyLine {
                item: "masks".into(),
                stock: if n == 1 { 100 } else { 500 },
                used,
            }];
            let keys: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
            // The seeded report is one the shared rules accept.
            assert!(validate_report(&draft_of(&r), &keys, now()).is_ok());
            c.state
                .store
                .submit_report(e, &r, "seed", due.deadline(&d).unwrap() - 60, due)
                .await
                .unwrap();
        }
    }
    let x = c
        .get(
            Some(&tf),
            &format!("/taskforce/export/supplies?date={day}&format=xlsx"),
        )
        .await;
    let rows = xlsx_rows(&x.body);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][0], "口罩告急企业");
    assert_eq!(rows[1][2], "口罩");
    assert_eq!(rows[1][3], "100");
    assert_eq!(rows[1][4], "2.5");
    let board = c.get(Some(&tf), &format!("/taskforce?date={day}")).await;
    assert_eq!(kpi(&board.text(), "warnings"), 1);

    // The enterprise page: charts and the history, exported.
    let page = c
        .get(
            Some(&tf),
            &format!(
                "/taskforce/enterprises/{}?from={}&to={day}",
                short.0,
                days_ago(3)
            ),
        )
        .await;
    assert_status(&page, StatusCode::OK);
    let html = page.text();
    assert_eq!(html.matches("<svg").count(), 3);
    assert!(!html.contains("style="));
    assert!(html.contains("2.5"));
    let x = c
        .get(
            Some(&tf),
            &format!(
                "/taskforce/enterprises/{}/export?from={}&to={}&format=xlsx",
                short.0,
                days_ago(3),
                today()
            ),
        )
        .await;
    let rows = xlsx_rows(&x.body);
    assert_eq!(rows.len(), 5, "four days: {rows:?}");
    assert_eq!(rows[1][0], days_ago(3));
    assert_eq!(rows[1][1], "已报告");
    assert_eq!(rows[3][4], "10", "people on site");
    assert_eq!(
        (rows[4][0].as_str(), rows[4][1].as_str()),
        (today().as_str(), "未报")
    );
}

/// The draft a stored report came from (to run the shared rules on test data).
fn draft_of(r: &Report) -> passgate_shared::reporting::ReportDraft {
    passgate_shared::reporting::ReportDraft {
        date: r.date.clone(),
        kind: r.kind,
        on_site: r.on_site.into(),
        green: r.green.into(),
        blue: r.blue.into(),
        yellow: r.yellow.into(),
        red: r.red.into(),
        isolation: r.isolation.into(),
        observation: r.observation.into(),
        tests_done: r.tests_done.into(),
        tests_abnormal: r.tests_abnormal.into(),
        disinfected: r.disinfected,
        vehicles_in: r.vehicles_in.into(),
        vehicles_out: r.vehicles_out.into(),
        supplies: r
            .supplies
            .iter()
            .map(|s| passgate_shared::reporting::SupplyLineDraft {
                item: s.item.clone(),
                stock: s.stock.into(),
                used: s.used.into(),
            })
            .collect(),
        help: r.help.clone(),
        help_text: r.help_text.clone(),
    }
}

async fn the_risk_flow_moves_one_step_at_a_time(db: TestDb) {
    let c = Console::new(db).await;
    let who = c.browser(UserRole::Enterprise).await;

    // An identity number is refused as a subject.
    let r = c
        .post_form(
            Some(&who),
            "/risk",
            &[("subject", "张三 410105199001011234"), ("owner", "王五")],
        )
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_for(&r.text(), "subject").contains("请勿填写身份证号"));

    let r = c
        .post_form(
            Some(&who),
            "/risk",
            &[
                ("subject", "张*"),
                ("owner", "王五"),
                ("note", "指挥部电话通知"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    let loc = r.location.unwrap();
    let id: i64 = loc
        .trim_start_matches("/risk/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let page = c.get(Some(&who), &format!("/risk/{id}")).await;
    let html = page.text();
    assert!(html.contains("接到指挥部通知") && html.contains("指挥部电话通知"));
    assert!(html.contains("待办：2. 启动预案"));

    // The next step; a skip by a non-administrator is refused with the shared message.
    let r = c
        .post_form(
            Some(&who),
            &format!("/risk/{id}/step"),
            &[("step", "4"), ("owner", "王五")],
        )
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_for(&r.text(), "step").contains("下一步应为第 2 步"),
        "{}",
        r.text()
    );
    let r = c
        .post_form(
            Some(&who),
            &format!("/risk/{id}/step"),
            &[("step", "2"), ("owner", " ")],
        )
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_for(&r.text(), "owner").contains("请填写本步骤负责人"));
    let r = c
        .post_form(
            Some(&who),
            &format!("/risk/{id}/step"),
            &[("step", "2"), ("owner", "王五"), ("note", "已启动")],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);

    // An administrator skips, with a reason only.
    let admin = c.browser(UserRole::Admin).await;
    let r = c
        .post_form(
            Some(&admin),
            &format!("/risk/{id}/step"),
            &[("step", "5"), ("owner", "专班")],
        )
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_for(&r.text(), "skip_reason").contains("请填写跳过步骤的理由"));
    let r = c
        .post_form(
            Some(&admin),
            &format!("/risk/{id}/step"),
            &[
                ("step", "5"),
                ("owner", "专班"),
                ("skip_reason", "现场已处置完毕"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    let case = c.state.store.get_risk_case(id).await.unwrap().unwrap();
    assert_eq!(case.step.number(), 5);
    let html = c.get(Some(&who), &format!("/risk/{id}")).await.text();
    assert!(html.contains("现场已处置完毕"));

    // Overdue: a case opened two hours ago whose step 2 (30 minutes by default) is not done.
    let old = c
        .state
        .store
        .open_risk_case(
            c.enterprise,
            &NewRiskCase {
                subject: "通知 2022-07".into(),
                owner: "王五".into(),
                note: String::new(),
            },
            "seed",
            now() - 7_200,
        )
        .await
        .unwrap();
    let list = c.get(Some(&who), "/risk").await.text();
    assert!(list.contains("rep-overdue"));
    assert_eq!(
        list.matches("badge rep-late").count(),
        1,
        "only the old case: {list}"
    );
    let tf = c.browser(UserRole::Taskforce).await;
    let board = c.get(Some(&tf), "/taskforce").await.text();
    assert_eq!(kpi(&board, "overdue"), 1);
    assert!(board.contains("通知 2022-07"));
    let x = c.get(Some(&tf), "/taskforce/export/risk?format=xlsx").await;
    let rows = xlsx_rows(&x.body);
    let row = rows.iter().find(|r| r[1] == "通知 2022-07").unwrap();
    assert_eq!(row[5], "逾期");
    assert_eq!(old.step.number(), 1);
}

async fn teams_settings_supplies_profile_and_grids(db: TestDb) {
    let c = Console::new(db).await;
    let tf = c.browser(UserRole::Taskforce).await;

    // Teams: create, refuse a duplicate, rename.
    let r = c
        .post_form(
            Some(&tf),
            "/teams",
            &[("name", "督导八组"), ("offices", "市商务局")],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    let r = c
        .post_form(Some(&tf), "/teams", &[("name", "督导八组")])
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("已有同名督导组"));
    let id = c.state.store.list_teams().await.unwrap()[0].id;
    let r = c
        .post_form(
            Some(&tf),
            &format!("/teams/{id}"),
            &[("name", "督导九组"), ("offices", "市商务局、市场监管局")],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    assert_eq!(
        c.state.store.get_team(id).await.unwrap().unwrap().name,
        "督导九组"
    );
    assert!(
        c.get(Some(&tf), "/teams")
            .await
            .text()
            .contains("市场监管局")
    );

    // Settings: a bad time and a bad limit are named; good ones are kept.
    let r = c
        .post_form(
            Some(&tf),
            "/reporting/settings",
            &[
                ("due", "25:00"),
                ("limit_2", "0"),
                ("limit_3", "60"),
                ("limit_4", "60"),
                ("limit_5", "60"),
                ("limit_6", "60"),
                ("limit_7", "60"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text();
    assert!(error_for(&html, "due").contains("请按 时:分 填写"));
    assert!(error_for(&html, "limit_2").contains("1 到"));
    let r = c
        .post_form(
            Some(&tf),
            "/reporting/settings",
            &[
                ("due", "09:30"),
                ("limit_2", "15"),
                ("limit_3", "60"),
                ("limit_4", "60"),
                ("limit_5", "60"),
                ("limit_6", "60"),
                ("limit_7", "90"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    let s = c.state.store.reporting_settings().await.unwrap();
    assert_eq!(s.due.to_string(), "09:30");
    assert_eq!(s.step_limits, [15, 60, 60, 60, 60, 90]);

    // Supply items: add one, refuse a taken key, deactivate one (it leaves the form).
    let r = c
        .post_form(
            Some(&tf),
            "/reporting/supplies",
            &[
                ("new", "1"),
                ("key", "oxygen"),
                ("name_zh", "制氧机"),
                ("name_en", "Oxygen"),
                ("unit", "counted"),
                ("warn_days", "5"),
                ("active", "1"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    let r = c
        .post_form(
            Some(&tf),
            "/reporting/supplies",
            &[
                ("new", "1"),
                ("key", "masks"),
                ("name_zh", "口罩"),
                ("name_en", "Masks"),
                ("unit", "counted"),
                ("warn_days", "5"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("已有此代码的品类"));
    let r = c
        .post_form(
            Some(&tf),
            "/reporting/supplies",
            &[
                ("key", "gloves"),
                ("name_zh", "手套"),
                ("name_en", "Gloves"),
                ("unit", "counted"),
                ("warn_days", "3"),
                ("sort", "30"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    let ent = c.browser(UserRole::Enterprise).await;
    let form = c.get(Some(&ent), "/reporting/report").await.text();
    assert!(form.contains("制氧机"));
    assert!(!form.contains("supplies.gloves.stock"));

    // The enterprise profile on the operations bureau's page.
    let ops = c.browser(UserRole::Ops).await;
    let path = format!("/enterprises/{}/profile", c.enterprise.0);
    let r = c
        .post_form(
            Some(&ops),
            &path,
            &[
                ("credit_code", "91350100M000100Y44"),
                ("contact_phone", "12"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text();
    assert!(
        error_for(&html, "credit_code").contains("校验位应为“3”而不是“4”"),
        "{html}"
    );
    assert!(error_for(&html, "contact_phone").contains("7 到 15 位"));
    let team_id = id.to_string();
    let r = c
        .post_form(
            Some(&ops),
            &path,
            &[
                ("credit_code", "91350100m000100y43"),
                ("address", "示范区工业大道 1 号"),
                ("contact_name", "赵六"),
                ("contact_phone", "0371-66668888"),
                ("responsible_person", "钱七"),
                ("responsible_phone", "13800000000"),
                ("team_id", &team_id),
            ],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    let p = c
        .state
        .store
        .enterprise_profile(c.enterprise)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.credit_code.unwrap().as_str(), "91350100M000100Y43");
    assert_eq!(p.team_id, Some(id));
    // The same code on another enterprise is a conflict, said on the field.
    let other = enterprise_in(&c, "另一企业", None).await;
    let r = c
        .post_form(
            Some(&ops),
            &format!("/enterprises/{}/profile", other.0),
            &[("credit_code", "91350100M000100Y43")],
        )
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_for(&r.text(), "credit_code").contains("另一家企业"));

    // Grids.
    let gpath = format!("/enterprises/{}/grids", c.enterprise.0);
    let r = c
        .post_form(
            Some(&ops),
            &gpath,
            &[
                ("zone", "red"),
                ("name", "一号楼"),
                ("leader", "孙八"),
                ("leader_phone", "13900000000"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    let r = c
        .post_form(
            Some(&ops),
            &gpath,
            &[("zone", "purple"), ("name", ""), ("leader", "")],
        )
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text();
    assert!(!error_for(&html, "zone").is_empty() && !error_for(&html, "leader").is_empty());
    let grids = c.state.store.list_grids(c.enterprise).await.unwrap();
    assert_eq!(grids.len(), 1);
    let page = c
        .get(Some(&ops), &format!("/enterprises/{}", c.enterprise.0))
        .await
        .text();
    assert!(
        page.contains("一号楼") && page.contains("孙八") && page.contains("91350100M000100Y43")
    );
    // The task force sees the profile and grids on its enterprise page.
    let tfp = c
        .get(
            Some(&tf),
            &format!("/taskforce/enterprises/{}", c.enterprise.0),
        )
        .await
        .text();
    assert!(tfp.contains("钱七") && tfp.contains("一号楼") && tfp.contains("督导九组"));
    let r = c
        .post_form(Some(&ops), &format!("{gpath}/{}/delete", grids[0].id), &[])
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    assert!(
        c.state
            .store
            .list_grids(c.enterprise)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn supervisor_accounts_belong_to_a_team(db: TestDb) {
    let c = Console::new(db).await;
    let t1 = team(&c, "督导一组").await;
    let admin = c.browser(UserRole::Admin).await;
    let page = c.get(Some(&admin), "/users").await.text();
    assert!(page.contains("督导组成员") && page.contains("data-show-when=\"role=supervisor\""));
    let r = c
        .post_form(
            Some(&admin),
            "/users",
            &[
                ("username", "team1a"),
                ("display_name", "一组成员"),
                ("role", "supervisor"),
            ],
        )
        .await;
    assert_status(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_for(&r.text(), "team_id").contains("请为督导组成员选择督导组"));
    let r = c
        .post_form(
            Some(&admin),
            "/users",
            &[
                ("username", "team1a"),
                ("display_name", "一组成员"),
                ("role", "supervisor"),
                ("team_id", &t1.to_string()),
            ],
        )
        .await;
    assert_status(&r, StatusCode::OK);
    let user = c.state.store.find_user("team1a").await.unwrap().unwrap();
    assert_eq!((user.role, user.team_id), (UserRole::Supervisor, Some(t1)));
    assert!(
        c.get(Some(&admin), "/users")
            .await
            .text()
            .contains("督导一组")
    );
    // Moving the account to another team.
    let t2 = team(&c, "督导二组").await;
    let r = c
        .post_form(
            Some(&admin),
            &format!("/users/{}/team", user.id),
            &[("team_id", &t2.to_string())],
        )
        .await;
    assert_status(&r, StatusCode::SEE_OTHER);
    let user = c.state.store.get_user(user.id).await.unwrap().unwrap();
    assert_eq!(user.team_id, Some(t2));
}
