//! Enterprise reporting in a real browser: headless Chromium driven through chromedriver
//! against the real server binary. An enterprise account files a zero report and then a full
//! report with people in the red zone, typing into the forms; a task-force account watches
//! the coverage on its board change and the enterprise appear among the abnormal ones.
//! Screenshots go to the console's screenshot directory (`target/screenshots/`).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the
//! test fails under `CI=true` and is skipped with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use passgate_shared::reporting::{DueTime, is_late};
use passgate_shared::time::local_day;
use passgate_tests::webdriver::{self, Browser, Driver, screenshot_dir};
use passgate_tests::{Server, now};
use serde_json::json;

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

fn open(b: &Browser, server: &Server, path: &str, css: &str) {
    b.goto(&format!("{}{path}", server.url)).unwrap();
    b.wait_for(css, WAIT).unwrap();
}

/// Click `button_css` and wait until the browser has left the page it was on.
fn submit(b: &Browser, button_css: &str, confirm: bool) {
    let before = b.url().unwrap();
    b.click(&b.find(button_css).unwrap()).unwrap();
    if confirm {
        assert!(b.accept_alert(WAIT).unwrap(), "{button_css} asks first");
    }
    let deadline = Instant::now() + WAIT;
    while b.url().map(|u| u == before).unwrap_or(true) {
        assert!(
            Instant::now() < deadline,
            "still on {before} after {button_css}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Type into an input the way a person does: clear it, then the keys.
fn type_in(b: &Browser, css: &str, text: &str) {
    let e = b.find(css).unwrap();
    b.clear(&e).unwrap();
    b.type_into(&e, text).unwrap();
    assert_eq!(b.value(&e).unwrap(), text, "{css}");
}

/// The number shown in the board's `data-kpi` cell.
fn kpi(b: &Browser, name: &str) -> u32 {
    let e = b.find(&format!("[data-kpi=\"{name}\"]")).unwrap();
    b.text(&e).unwrap().trim().parse().unwrap()
}

#[test]
fn an_enterprise_files_and_the_task_force_sees_it() {
    let Some(driver) = driver_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).unwrap();
    let ops = server.api(&server.token("ops", "e2e ops", None).unwrap());
    let mut ids = Vec::new();
    for name in ["示范区钢铁集团", "兴华物流有限公司"] {
        ids.push(
            ops.create("/enterprises", &json!({ "name": name }))
                .unwrap()["id"]
                .as_u64()
                .unwrap(),
        );
    }
    server
        .add_user("steel1", "enterprise", "enterprise pw 1", Some(ids[0]))
        .unwrap();
    server
        .add_user("tf1", "taskforce", "taskforce pw 1", None)
        .unwrap();

    // The task force moves the due time to the end of the day, through its settings page.
    let tf = driver.session(1280, 1000).unwrap();
    login(&tf, &server, "tf1", "taskforce pw 1");
    open(&tf, &server, "/reporting/settings", "#f-due");
    tf.execute(
        "arguments[0].value = '23:59'; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        vec![tf.find("#f-due").unwrap().arg()],
    )
    .unwrap();
    submit(
        &tf,
        "form[action='/reporting/settings'] button[type=submit]",
        false,
    );
    tf.wait_for_text("设置已保存", WAIT).unwrap();
    let due = DueTime::parse("23:59").unwrap();

    // Before anything is filed: both enterprises are missing.
    open(&tf, &server, "/taskforce", "#rep-kpis");
    assert_eq!(kpi(&tf, "total"), 2);
    assert_eq!(kpi(&tf, "missing"), 2);
    assert_eq!(kpi(&tf, "abnormal"), 0);
    shot(&tf, "reporting-board-before");

    // The enterprise files a zero report: the headcount, then a confirmation.
    let ent = driver.session(1280, 1000).unwrap();
    login(&ent, &server, "steel1", "enterprise pw 1");
    open(&ent, &server, "/reporting", "form.rep-zero");
    let text = ent.body_text().unwrap();
    assert!(text.contains("未报") && text.contains("23:59"), "{text}");
    shot(&ent, "reporting-today-before");
    type_in(&ent, "form.rep-zero #f-on_site", "320");
    let before = now();
    submit(&ent, "form.rep-zero button[type=submit]", true);
    let after = now();
    ent.wait_for_text("已提交", WAIT).unwrap();
    let day = local_day(before);
    // Which bucket the first report lands in, from the clock around the submission.
    let expect_late = is_late(&day, before, due);
    let certain = expect_late || !is_late(&day, after, due);
    let text = ent.body_text().unwrap();
    assert!(
        text.contains("第 1 版") && text.contains("零报告"),
        "{text}"
    );
    shot(&ent, "reporting-zero-filed");

    tf.goto(&format!("{}/taskforce", server.url)).unwrap();
    tf.wait_for("#rep-kpis", WAIT).unwrap();
    assert_eq!(kpi(&tf, "missing"), 1);
    if certain {
        let bucket = if expect_late { "late" } else { "zero_reported" };
        assert_eq!(kpi(&tf, bucket), 1, "{bucket}");
    }
    assert_eq!(kpi(&tf, "zero_reported") + kpi(&tf, "late"), 1);
    assert_eq!(kpi(&tf, "abnormal"), 0);

    // Then the full report, typed field by field, with people in the red zone.
    ent.click(&ent.find("a[href^='/reporting/report']").unwrap())
        .unwrap();
    ent.wait_for("form.rep-form", WAIT).unwrap();
    assert_eq!(
        ent.value(&ent.find("#f-on_site").unwrap()).unwrap(),
        "320",
        "the headcount comes from the zero report"
    );
    // A zone total above the headcount is refused with its message first.
    type_in(&ent, "#f-green", "330");
    type_in(&ent, "#f-red", "3");
    submit(&ent, "form.rep-form button[type=submit]", false);
    ent.wait_for_text("各区人数合计 333，超过在岗人数 320", WAIT)
        .unwrap();
    shot(&ent, "reporting-form-error");
    for (css, value) in [
        ("#f-green", "300"),
        ("#f-blue", "10"),
        ("#f-yellow", "7"),
        ("#f-red", "3"),
        ("#f-isolation", "3"),
        ("#f-observation", "7"),
        ("#f-tests_done", "320"),
        ("#f-tests_abnormal", "3"),
        ("[id='f-supplies.masks.stock']", "2000"),
        ("[id='f-supplies.masks.used']", "300"),
    ] {
        type_in(&ent, css, value);
    }
    let disinfected = ent.find("#f-disinfected").unwrap();
    if !ent.is_selected(&disinfected).unwrap() {
        ent.click(&disinfected).unwrap();
    }
    ent.click(&ent.find("input[name=help][value=test]").unwrap())
        .unwrap();
    type_in(&ent, "#f-help_text", "请协调增派核酸采样人员");
    shot(&ent, "reporting-form");
    submit(&ent, "form.rep-form button[type=submit]", false);
    ent.wait_for_text("已提交", WAIT).unwrap();
    let text = ent.body_text().unwrap();
    assert!(
        text.contains("第 2 版") && text.contains("第 1 版"),
        "{text}"
    );
    assert!(text.contains("红区 3 人"), "{text}");
    shot(&ent, "reporting-history");

    // The board: the enterprise has reported, and is abnormal for its red zone.
    tf.goto(&format!("{}/taskforce", server.url)).unwrap();
    tf.wait_for("#rep-kpis", WAIT).unwrap();
    assert_eq!(kpi(&tf, "missing"), 1);
    if certain {
        let bucket = if expect_late { "late" } else { "reported" };
        assert_eq!(kpi(&tf, bucket), 1, "{bucket}");
    }
    assert_eq!(kpi(&tf, "reported") + kpi(&tf, "late"), 1);
    assert_eq!(kpi(&tf, "zero_reported"), 0);
    assert_eq!(kpi(&tf, "abnormal"), 1);
    let abnormal = tf.find("#t-abnormal").unwrap();
    let text = tf.text(&abnormal).unwrap();
    assert!(text.contains("示范区钢铁集团"), "{text}");
    assert!(
        text.contains("红区 3 人") && text.contains("检测异常 3 人"),
        "{text}"
    );
    assert!(!text.contains("兴华物流有限公司"));
    shot(&tf, "reporting-board-after");

    // The drill-down of the missing bucket names the other enterprise.
    tf.click(&tf.find("[data-kpi=missing] a").unwrap()).unwrap();
    tf.wait_for_text("兴华物流有限公司", WAIT).unwrap();

    // The enterprise page with its charts.
    open(
        &tf,
        &server,
        &format!("/taskforce/enterprises/{}", ids[0]),
        "#chart-zones-title",
    );
    assert_eq!(tf.find_all("svg.chart-svg").unwrap().len(), 3);
    shot(&tf, "reporting-enterprise");
}
