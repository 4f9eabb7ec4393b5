//! The console in a real browser: headless Chromium driven through chromedriver against the
//! real server binary (and, for the dashboard, the real checkpoint binary). Screenshots of the
//! main pages are saved under `target/screenshots/` on every run.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the
//! test fails under `CI=true` and is skipped with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use calamine::{Data, Reader};
use chrono::{FixedOffset, NaiveDateTime, Timelike};
use passgate_shared::time::{LOCAL_OFFSET_SECONDS, local_day};
use passgate_tests::webdriver::{self, Browser, Driver, pdf_pages, screenshot_dir};
use passgate_tests::{Api, Checkpoint, Server, now, rfc3339};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

fn driver_or_skip() -> Option<Driver> {
    if webdriver::available() {
        return Some(Driver::start().unwrap());
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "chromium and chromedriver are required under CI=true (apt-get install chromium chromium-driver)"
    );
    eprintln!("SKIPPED: chromium or chromedriver is not installed");
    None
}

fn shot(b: &Browser, name: &str) {
    b.screenshot(&screenshot_dir().join(format!("{name}.png")))
        .unwrap();
}

fn login(b: &Browser, server: &Server, user: &str, password: &str) {
    b.delete_cookies().ok();
    b.goto(&format!("{}/login", server.url)).unwrap();
    b.fill("#f-username", user).unwrap();
    b.fill("#f-password", password).unwrap();
    b.click(&b.find("form[action='/login'] button[type=submit]").unwrap())
        .unwrap();
    b.wait_for("form[action='/logout']", WAIT).unwrap();
}

#[test]
fn login_page_and_home_in_a_real_browser() {
    let Some(driver) = driver_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).unwrap();
    server
        .add_user("ops1", "ops", "ops password 1", None)
        .unwrap();
    let b = driver.session(1280, 900).unwrap();

    b.goto(&format!("{}/", server.url)).unwrap();
    b.wait_for("#f-username", WAIT).unwrap();
    assert!(b.url().unwrap().contains("/login?next=/"));
    shot(&b, "login");

    // A wrong password: the generic message, nothing about which part was wrong.
    b.fill("#f-username", "ops1").unwrap();
    b.fill("#f-password", "wrong").unwrap();
    b.click(&b.find("form[action='/login'] button[type=submit]").unwrap())
        .unwrap();
    b.wait_for_text("用户名或密码错误", WAIT).unwrap();

    login(&b, &server, "ops1", "ops password 1");
    let text = b.wait_for_text("工作台", WAIT).unwrap();
    assert!(text.contains("签发通行证"), "{text}");
    shot(&b, "home-ops");

    // The language switch, and back.
    b.click(&b.find("a.lang").unwrap()).unwrap();
    b.wait_for_text("Home", WAIT).unwrap();
    b.click(&b.find("a.lang").unwrap()).unwrap();
    b.wait_for_text("工作台", WAIT).unwrap();

    // Phone width still renders the navigation and the page.
    let phone = driver.phone_session(390, 844).unwrap();
    login(&phone, &server, "ops1", "ops password 1");
    shot(&phone, "home-phone");
}

// ---------------------------------------------------------------------------------------
// Helpers

/// Open `path` of the server and wait for `css` to be on the page.
fn open(b: &Browser, server: &Server, path: &str, css: &str) {
    b.goto(&format!("{}{path}", server.url)).unwrap();
    b.wait_for(css, WAIT).unwrap();
}

/// Poll `cond` until it holds (a script's answer arriving, say).
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "waited {WAIT:?} for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Submit the form that `button_css` belongs to by clicking its button, and wait until the
/// browser has left `from` (the old page's elements would otherwise still match).
fn submit(b: &Browser, button_css: &str) {
    let before = b.url().unwrap();
    b.click(&b.find(button_css).unwrap()).unwrap();
    wait_until(
        &format!("leaving {before} after clicking {button_css}"),
        || b.url().map(|u| u != before).unwrap_or(false),
    );
}

/// The wall clock in Beijing now, to the minute.
fn beijing_now() -> NaiveDateTime {
    let tz = FixedOffset::east_opt(LOCAL_OFFSET_SECONDS).unwrap();
    chrono::Utc::now()
        .with_timezone(&tz)
        .naive_local()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap()
}

/// Type a Beijing wall-clock time into a `datetime-local` input the way a person does with
/// the keyboard. Headless Chromium lays the control out for its own locale (en-US here,
/// whatever `--lang` says): month, day, year, then (after Tab) hour, minute and AM/PM. If the
/// control ends up with another value (another locale's order), the value is set by script
/// with the events a person's typing fires, and the test says so.
fn type_datetime_local(b: &Browser, css: &str, t: NaiveDateTime) {
    let e = b.find(css).unwrap();
    let want = t.format("%Y-%m-%dT%H:%M").to_string();
    b.clear(&e).unwrap();
    let (pm, hour12) = t.hour12();
    let keys = format!(
        "{}\u{E004}{hour12:02}{}{}",
        t.format("%m%d%Y"),
        t.format("%M"),
        if pm { "PM" } else { "AM" }
    );
    b.type_into(&e, &keys).unwrap();
    if b.value(&e).unwrap() != want {
        eprintln!(
            "typing into {css} gave {:?}; setting {want} by script",
            b.value(&e).unwrap()
        );
        b.execute(
            "arguments[0].value = arguments[1];
             arguments[0].dispatchEvent(new Event('input', {bubbles: true}));
             arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            vec![e.arg(), json!(want)],
        )
        .unwrap();
    }
    assert_eq!(b.value(&e).unwrap(), want, "{css}");
}

/// The cell texts of each body row of the table inside `table_css`.
fn table_rows(b: &Browser, table_css: &str) -> Vec<Vec<String>> {
    b.find_all(&format!("{table_css} tbody tr"))
        .unwrap()
        .iter()
        .map(|row| b.texts_in(row, "td").unwrap())
        .collect()
}

/// The page's scroll width and the window's inner width, in CSS pixels: equal when nothing
/// sticks out sideways (wide tables scroll inside their own box).
fn page_width(b: &Browser) -> (u64, u64) {
    let v = b
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .unwrap();
    (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
}

/// The number in the last path segment of the current URL (`/enterprises/7?done=created`).
fn id_in_url(b: &Browser, prefix: &str) -> String {
    let url = b.url().unwrap();
    let rest = url
        .split_once(prefix)
        .unwrap_or_else(|| panic!("{url} is not under {prefix}"))
        .1;
    rest.split(['?', '/', '#']).next().unwrap().to_owned()
}

/// A pass issued through the JSON API (for the passes the browser does not make itself).
fn api_pass(ops: &Api, class: &str, plate: &str, enterprise: u64) -> Value {
    let t = now();
    ops.create(
        "/passes",
        &json!({
            "class": class,
            "plate": plate,
            "driver": "赵师傅",
            "enterprise_id": enterprise,
            "origin": "419001",
            "destination": "419001",
            "cargo": "daily_necessities",
            "valid_from": rfc3339(t - 3600),
            "valid_until": rfc3339(t + 3 * 86_400),
        }),
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// Ops: a pass from the form to the printer to revocation; enterprises see their own only.

#[test]
fn ops_issues_prints_and_revokes_a_pass_and_enterprises_see_only_their_own() {
    let Some(driver) = driver_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).unwrap();
    server
        .add_user("ops1", "ops", "ops password 1", None)
        .unwrap();
    server
        .add_user("admin1", "admin", "admin password 1", None)
        .unwrap();
    let ops_api = server.api(&server.token("ops", "e2e ops", None).unwrap());
    let b = driver.session(1280, 900).unwrap();
    login(&b, &server, "ops1", "ops password 1");

    // Enterprise A through the console's form, B through the API.
    open(&b, &server, "/enterprises/new", "#f-name");
    b.fill("#f-name", "示范区钢铁集团").unwrap();
    submit(&b, "form[action='/enterprises'] button[type=submit]");
    b.wait_for_text("示范区钢铁集团", WAIT).unwrap();
    let ent_a: u64 = id_in_url(&b, "/enterprises/").parse().unwrap();
    let ent_b = ops_api
        .create("/enterprises", &json!({"name": "兴华物流有限公司"}))
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let border = ops_api
        .create(
            "/checkpoints",
            &json!({"name": "东卡口", "inside_zone": false}),
        )
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    server
        .add_user("ent_a", "enterprise", "enterprise a pw 1", Some(ent_a))
        .unwrap();
    server
        .add_user("ent_b", "enterprise", "enterprise b pw 1", Some(ent_b))
        .unwrap();
    let pass_b = api_pass(&ops_api, "short_haul", "豫U56789", ent_b);
    let number_b = pass_b["number"].as_str().unwrap().to_owned();

    // The form checks as you type: a bad plate gets its message next to the field, in
    // Chinese, with nothing submitted.
    open(&b, &server, "/passes/new", "#f-plate");
    b.fill("#f-plate", "豫I1").unwrap();
    let message = b
        .wait_for_text_in("[data-error-for='plate']", "车牌", WAIT)
        .unwrap();
    assert!(!message.contains(" / "), "one language only: {message}");
    assert!(b.url().unwrap().ends_with("/passes/new"));
    let plate_input = b.find("#f-plate").unwrap();
    assert_eq!(
        b.attr(&plate_input, "aria-invalid").unwrap().as_deref(),
        Some("true")
    );
    shot(&b, "pass-form-bad-plate");

    // Now every field, as a person fills it in.
    b.fill("#f-plate", "豫U23456").unwrap();
    wait_until("the plate message to go away", || {
        b.find("[data-error-for='plate']")
            .and_then(|e| b.text(&e))
            .is_ok_and(|t| t.trim().is_empty())
    });
    b.select("#f-class", "long_haul").unwrap();
    b.fill("#f-driver", "王建国").unwrap();
    b.fill("#f-co_driver", "李卫东").unwrap();
    b.fill("#f-driver_id_number", "11010519491231002X").unwrap();
    b.select("#f-enterprise_id", &ent_a.to_string()).unwrap();
    b.select("#f-cargo", "epidemic_supplies").unwrap();
    b.fill("#f-origin", "419001").unwrap();
    b.fill("#f-destination", "410102").unwrap();
    let route = b
        .find(&format!("input[name=checkpoints][value='{border}']"))
        .unwrap();
    b.click(&route).unwrap();
    assert!(b.is_selected(&route).unwrap());
    let from = beijing_now() - chrono::Duration::minutes(30);
    let until = from + chrono::Duration::days(3) + chrono::Duration::hours(5);
    type_datetime_local(&b, "#f-valid_from", from);
    type_datetime_local(&b, "#f-valid_until", until);
    submit(&b, "form.pass-form button[type=submit]");

    // The detail page of the new pass.
    let text = b.wait_for_text("通行证已签发", WAIT).unwrap();
    let number_a = id_in_url(&b, "/passes/");
    assert_eq!(number_a.len(), 12, "{number_a}");
    assert!(b.url().unwrap().contains("issued=1"));
    let h1 = b.text(&b.find("h1").unwrap()).unwrap();
    assert!(h1.contains(&number_a), "{h1}");
    for want in [
        "豫U23456",
        "长途闭环",
        "有效",
        "示范区钢铁集团",
        "东卡口",
        "防疫物资",
        "419001 → 410102",
        "ops1",
    ] {
        assert!(text.contains(want), "the detail page lacks {want}:\n{text}");
    }
    let validity = format!(
        "{} — {}",
        from.format("%Y-%m-%d %H:%M"),
        until.format("%Y-%m-%d %H:%M")
    );
    assert!(text.contains(&validity), "{validity} not in:\n{text}");
    // Names are shown masked, and the ID number not at all.
    assert!(!text.contains("王建国"), "{text}");
    assert!(!text.contains("11010519491231002X"), "{text}");
    assert!(b.source().unwrap().contains("<svg"));
    let badge = b.find(".pass-detail .badge.active").unwrap();
    assert_eq!(b.text(&badge).unwrap(), "有效");
    shot(&b, "pass-detail-issued");

    // The list: searching part of the plate finds it and only it.
    open(&b, &server, "/passes", "table.pass-list");
    let all = table_rows(&b, "table.pass-list");
    assert_eq!(all.len(), 2, "{all:?}");
    b.fill("form.filters #f-plate", "U234").unwrap();
    submit(&b, "form.filters button[type=submit]");
    b.wait_for("table.pass-list", WAIT).unwrap();
    assert!(b.url().unwrap().contains("plate=U234"));
    let rows = table_rows(&b, "table.pass-list");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], number_a);
    assert_eq!(rows[0][1], "豫U23456");
    assert_eq!(rows[0][2], "长途闭环");
    assert_eq!(rows[0][3], "有效");
    assert_eq!(rows[0][4], "示范区钢铁集团");
    shot(&b, "pass-list-ops-search");

    // The printable pass: from the detail page's button, one A4 page.
    b.click(
        &b.find(&format!("table.pass-list a[href='/passes/{number_a}']"))
            .unwrap(),
    )
    .unwrap();
    b.wait_for(&format!("a[href='/passes/{number_a}/print']"), WAIT)
        .unwrap();
    submit(&b, &format!("a[href='/passes/{number_a}/print']"));
    b.wait_for("article.pass-sheet", WAIT).unwrap();
    let sheet = b.text(&b.find("article.pass-sheet").unwrap()).unwrap();
    for want in [
        "豫U23456",
        "长途闭环",
        "两码一证",
        &number_a,
        "东卡口",
        "示范区钢铁集团",
    ] {
        assert!(
            sheet.contains(want),
            "the printed pass lacks {want}:\n{sheet}"
        );
    }
    assert!(!sheet.contains("作废"), "{sheet}");
    assert!(b.find("article.pass-sheet .qr svg").is_ok());
    shot(&b, "pass-print");
    let pdf = b.print_a4().unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    std::fs::write(screenshot_dir().join("pass-print.pdf"), &pdf).unwrap();
    assert_eq!(
        pdf_pages(&pdf),
        1,
        "the printed pass must fit on one A4 page"
    );

    // Revoke it with a reason; the confirm dialog is accepted.
    open(&b, &server, &format!("/passes/{number_a}"), "#f-reason");
    b.fill("#f-reason", "车辆更换，原证作废").unwrap();
    b.click(
        &b.find(&format!(
            "form[action='/passes/{number_a}/revoke'] button[type=submit]"
        ))
        .unwrap(),
    )
    .unwrap();
    assert!(
        b.accept_alert(WAIT).unwrap(),
        "revoking asks for confirmation"
    );
    let text = b.wait_for_text("通行证已吊销", WAIT).unwrap();
    assert!(b.url().unwrap().contains("revoked=1"));
    let badge = b.find(".pass-detail .badge.revoked").unwrap();
    assert_eq!(b.text(&badge).unwrap(), "已吊销");
    assert!(text.contains("车辆更换，原证作废"), "{text}");
    assert!(
        b.find("#f-reason").is_err(),
        "no revoke form on a revoked pass"
    );
    shot(&b, "pass-detail-revoked");
    // The list's status filter finds it among the revoked; its print says void.
    open(&b, &server, "/passes?status=revoked", "table.pass-list");
    let rows = table_rows(&b, "table.pass-list");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0][0].as_str(), rows[0][3].as_str()),
        (number_a.as_str(), "已吊销")
    );
    open(
        &b,
        &server,
        &format!("/passes/{number_a}/print"),
        "article.pass-sheet",
    );
    b.wait_for_text("作废，不得使用", WAIT).unwrap();

    // The other ops pages.
    open(&b, &server, "/passes", "table.pass-list");
    shot(&b, "pass-list-ops");
    open(&b, &server, "/passes/import", "h1");
    b.wait_for_text("批量签发通行证", WAIT).unwrap();
    shot(&b, "import");
    open(&b, &server, "/checkpoints", "h1");
    b.wait_for_text("东卡口", WAIT).unwrap();
    shot(&b, "checkpoints");
    open(&b, &server, "/enterprises", "h1");
    b.wait_for_text("兴华物流有限公司", WAIT).unwrap();
    shot(&b, "enterprises");
    open(&b, &server, "/applications", "h1");
    b.wait_for_text("通行证申请", WAIT).unwrap();
    shot(&b, "applications-ops");

    // Enterprise B: A's pass does not exist for it, its own does.
    login(&b, &server, "ent_b", "enterprise b pw 1");
    shot(&b, "home-enterprise");
    open(&b, &server, &format!("/passes/{number_a}"), "body");
    let text = b.wait_for_text("找不到", WAIT).unwrap();
    assert!(!text.contains("豫U23456"), "{text}");
    shot(&b, "enterprise-other-pass-not-found");
    open(&b, &server, &format!("/passes/{number_a}/print"), "body");
    let text = b.wait_for_text("找不到", WAIT).unwrap();
    assert!(!text.contains("豫U23456"), "{text}");
    open(&b, &server, "/passes", "form.filters");
    let text = b.body_text().unwrap();
    assert!(!text.contains("豫U23456"), "{text}");
    assert!(!text.contains(&number_a), "{text}");
    assert!(
        b.find("form.filters #f-enterprise").is_err(),
        "no enterprise filter"
    );
    let rows = table_rows(&b, "table.pass-list");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0][0].as_str(), rows[0][1].as_str()),
        (number_b.as_str(), "豫U56789")
    );
    shot(&b, "pass-list-enterprise");
    open(&b, &server, "/passes?plate=U234", "form.filters");
    b.wait_for_text("没有符合条件的通行证", WAIT).unwrap();
    open(&b, &server, &format!("/passes/{number_b}"), ".pass-detail");
    let text = b.body_text().unwrap();
    assert!(
        text.contains("豫U56789") && text.contains("兴华物流有限公司"),
        "{text}"
    );
    assert!(b.find("#f-reason").is_err(), "enterprises cannot revoke");
    shot(&b, "pass-detail-enterprise");
    open(&b, &server, "/applications", "h1");
    shot(&b, "applications-enterprise");
    // Enterprise A sees its (revoked) pass.
    login(&b, &server, "ent_a", "enterprise a pw 1");
    open(&b, &server, &format!("/passes/{number_a}"), ".pass-detail");
    b.wait_for_text("已吊销", WAIT).unwrap();

    // Admin: users and keys.
    login(&b, &server, "admin1", "admin password 1");
    shot(&b, "home-admin");
    open(&b, &server, "/users", "h1");
    let text = b.wait_for_text("用户管理", WAIT).unwrap();
    for user in ["ops1", "ent_a", "ent_b", "admin1"] {
        assert!(text.contains(user), "{user} not listed:\n{text}");
    }
    shot(&b, "users-admin");
    open(&b, &server, "/keys", "h1");
    b.wait_for_text("签发密钥", WAIT).unwrap();
    shot(&b, "keys-admin");

    // Phone width: the pass list still renders, its table scrolls inside its own box.
    let phone = driver.phone_session(390, 844).unwrap();
    login(&phone, &server, "ops1", "ops password 1");
    open(&phone, &server, "/passes", "table.pass-list");
    assert_eq!(table_rows(&phone, "table.pass-list").len(), 2);
    assert_eq!(page_width(&phone), (390, 390));
    shot(&phone, "pass-list-phone");
    open(&phone, &server, "/passes/new", "#f-plate");
    assert_eq!(page_width(&phone), (390, 390));
    shot(&phone, "pass-form-phone");
}

// ---------------------------------------------------------------------------------------
// Transport: a scan at a real gate, synced, counted on the dashboard and in its Excel export.

#[test]
fn transport_dashboard_counts_a_synced_scan_and_exports_it() {
    let Some(driver) = driver_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gate_dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).unwrap();
    server
        .add_user("ops2", "ops", "ops password 2", None)
        .unwrap();
    server
        .add_user("transport1", "transport", "transport pw 1", None)
        .unwrap();
    let ops_api = server.api(&server.token("ops", "e2e ops", None).unwrap());
    let ent = ops_api
        .create("/enterprises", &json!({"name": "示范区钢铁集团"}))
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    // Another checkpoint, so the row of the gate has to be the right one.
    ops_api
        .create(
            "/checkpoints",
            &json!({"name": "西卡口", "inside_zone": false}),
        )
        .unwrap();

    // Ops registers the enterprise's gate in the console and makes an enrolment code.
    let b = driver.session(1280, 900).unwrap();
    login(&b, &server, "ops2", "ops password 2");
    open(&b, &server, "/checkpoints/new", "#f-name");
    b.fill("#f-name", "钢铁集团东门").unwrap();
    b.select("#f-kind", "enterprise_gate").unwrap();
    let inside = b.find("input[name=inside_zone]").unwrap();
    if !b.is_selected(&inside).unwrap() {
        b.click(&inside).unwrap();
    }
    b.select("#f-enterprise_id", &ent.to_string()).unwrap();
    submit(&b, "form[action='/checkpoints'] button[type=submit]");
    b.wait_for_text("钢铁集团东门", WAIT).unwrap();
    let gate: u64 = id_in_url(&b, "/checkpoints/").parse().unwrap();
    shot(&b, "checkpoint-detail");
    submit(
        &b,
        &format!("form[action='/checkpoints/{gate}/enrolment-codes'] button[type=submit]"),
    );
    let code = b.wait_for(".orgs-code code", WAIT).unwrap();
    let code = b.text(&code).unwrap().trim().to_owned();
    assert!(!code.is_empty());
    let command = b.text(&b.find(".orgs-command code").unwrap()).unwrap();
    assert!(command.contains(&code), "{command}");
    shot(&b, "checkpoint-enrolment-code");

    // The real gate program enrols with it, admits a valid pass and syncs.
    let cp = Checkpoint::new(gate_dir.path());
    cp.ok(&["enroll", "--server", &server.url, "--code", &code])
        .unwrap();
    let pass = api_pass(&ops_api, "short_haul", "豫U77001", ent);
    let (exit, verdict) = cp
        .verify_json(&[pass["qr_text"].as_str().unwrap()])
        .unwrap();
    assert_eq!((exit, &verdict["accepted"]), (0, &json!(true)), "{verdict}");
    cp.ok(&["sync"]).unwrap();
    let status: Value = serde_json::from_str(cp.ok(&["status", "--json"]).unwrap().trim()).unwrap();
    assert_eq!(status["unsent"], 0, "{status}");

    // The checkpoint page lists the enrolled device.
    open(&b, &server, &format!("/checkpoints/{gate}"), "h1");
    shot(&b, "checkpoint-with-device");

    // The transport bureau's dashboard for today counts the scan at that gate.
    login(&b, &server, "transport1", "transport pw 1");
    shot(&b, "home-transport");
    let today = local_day(now());
    open(
        &b,
        &server,
        &format!("/dashboard?from={today}&to={today}"),
        "section#t-scans table",
    );
    let headers = b
        .texts_in(&b.find("section#t-scans table thead").unwrap(), "th")
        .unwrap();
    assert_eq!(
        headers,
        [
            "查验点",
            "类别",
            "进入（放行）",
            "驶出（放行）",
            "拒绝",
            "合计"
        ]
    );
    let rows = table_rows(&b, "section#t-scans");
    let row = rows
        .iter()
        .find(|r| r.first().map(String::as_str) == Some("钢铁集团东门"))
        .unwrap_or_else(|| panic!("no row for the gate: {rows:?}"));
    assert_eq!(row, &["钢铁集团东门", "短途闭环", "1", "0", "0", "1"]);
    assert_eq!(rows.len(), 2, "the gate's row and the total: {rows:?}");
    assert_eq!(rows[1], ["合计", "", "1", "0", "0", "1"]);
    let kpis: Vec<(String, String)> = b
        .find_all("ul.kpis li.kpi")
        .unwrap()
        .iter()
        .map(|k| {
            let label = b.texts_in(k, "span").unwrap().join("");
            let n = b.texts_in(k, ".n").unwrap().join("");
            (label, n)
        })
        .collect();
    assert!(
        kpis.contains(&("查验总次数".to_owned(), "1".to_owned())),
        "{kpis:?}"
    );
    assert!(
        kpis.contains(&("拒绝放行次数".to_owned(), "0".to_owned())),
        "{kpis:?}"
    );
    shot(&b, "dashboard-transport");
    b.execute(
        "document.getElementById('t-scans').scrollIntoView();",
        vec![],
    )
    .unwrap();
    shot(&b, "dashboard-transport-scans-table");

    // Its Excel export, fetched with the browser's session as its link would.
    let link = b.find("section#t-scans a[href*='format=xlsx']").unwrap();
    let href = b.attr(&link, "href").unwrap().unwrap();
    assert!(href.starts_with("/dashboard/export/scans?"), "{href}");
    let url = if href.starts_with('/') {
        format!("{}{href}", server.url)
    } else {
        href
    };
    let resp = reqwest::blocking::Client::new()
        .get(&url)
        .header(reqwest::header::COOKIE, b.cookie_header().unwrap())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.contains("spreadsheetml"), "{kind}");
    let bytes = resp.bytes().unwrap().to_vec();
    let mut book =
        calamine::open_workbook_from_rs::<calamine::Xlsx<_>, _>(std::io::Cursor::new(bytes))
            .unwrap();
    assert_eq!(book.sheet_names(), ["各查验点查验情况"]);
    let sheet = book.worksheet_range("各查验点查验情况").unwrap();
    let cells: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(cell_text).collect())
        .collect();
    assert_eq!(
        cells[0],
        [
            "查验点",
            "类别",
            "进入（放行）",
            "驶出（放行）",
            "拒绝",
            "合计"
        ]
    );
    assert_eq!(cells[1], ["钢铁集团东门", "短途闭环", "1", "0", "0", "1"]);
    assert_eq!(cells[2], ["合计", "", "1", "0", "0", "1"]);
    assert_eq!(cells.len(), 3, "{cells:?}");
    // Without the session cookie the export is not given out.
    let anon = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&url)
        .send()
        .unwrap();
    assert_ne!(anon.status(), 200);

    // The other transport pages.
    open(&b, &server, "/held", "h1");
    b.wait_for_text("通行受阻车辆", WAIT).unwrap();
    shot(&b, "held-queue");
    open(&b, &server, "/passes", "table.pass-list");
    shot(&b, "pass-list-transport");
}

/// A spreadsheet cell as text (whole numbers without a decimal point).
fn cell_text(c: &Data) -> String {
    match c {
        Data::String(s) => s.clone(),
        Data::Float(f) => format!("{f}"),
        Data::Int(i) => i.to_string(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}
