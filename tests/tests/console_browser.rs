//! The console in a real browser: headless Chromium driven through chromedriver against the
//! real server binary (and, for the dashboard, the real checkpoint binary). Screenshots of the
//! main pages are saved under `target/screenshots/` on every run.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the
//! test fails under `CI=true` and is skipped with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use passgate_tests::Server;
use passgate_tests::webdriver::{self, Browser, Driver, screenshot_dir};

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
    let phone = driver.session(390, 844).unwrap();
    login(&phone, &server, "ops1", "ops password 1");
    shot(&phone, "home-phone");
}
