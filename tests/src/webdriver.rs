//! A small W3C WebDriver client for the console's browser tests: Debian's `chromedriver`
//! driving headless `chromium`, spoken to over plain HTTP with the blocking client the rest of
//! the harness uses. Only what the tests need: navigate, find, click, type, read, cookies,
//! alerts, screenshots and print-to-PDF.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use serde_json::{Value, json};

/// The element key of the W3C protocol.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where Debian puts the browser and its driver.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether the browser and the driver are installed.
pub fn available() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

/// A running chromedriver.
pub struct Driver {
    child: Child,
    base: String,
    http: reqwest::blocking::Client,
}

impl Driver {
    pub fn start() -> Result<Driver> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?;
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .ok()
                .and_then(|r| r.json::<Value>().ok())
                .and_then(|v| v["value"]["ready"].as_bool())
                .unwrap_or(false);
            if ready {
                return Ok(driver);
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not become ready on port {port}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A new headless browser window of `width` × `height` CSS pixels. (Headless Chromium
    /// does not make a window narrower than 500 pixels: use [`Driver::phone_session`] for a
    /// phone.)
    pub fn session(&self, width: u32, height: u32) -> Result<Browser> {
        self.new_session(width, height, None)
    }

    /// A new headless browser that emulates a phone whose screen is `width` × `height` CSS
    /// pixels (390 × 844 for an iPhone 12–14): the page's viewport really is that wide,
    /// with touch events and a mobile user agent.
    pub fn phone_session(&self, width: u32, height: u32) -> Result<Browser> {
        let mobile = json!({
            "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0, "touch": true },
            "userAgent": "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 \
                (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
        });
        self.new_session(width.max(500), height, Some(mobile))
    }

    fn new_session(&self, width: u32, height: u32, mobile: Option<Value>) -> Result<Browser> {
        let profile = tempfile::tempdir()?;
        let mut caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-quic",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--disable-dev-shm-usage",
                            "--lang=zh-CN",
                            format!("--window-size={width},{height}"),
                            format!("--user-data-dir={}", profile.path().display()),
                        ]
                    }
                }
            }
        });
        if let Some(m) = mobile {
            caps["capabilities"]["alwaysMatch"]["goog:chromeOptions"]["mobileEmulation"] = m;
        }
        let v: Value = self
            .http
            .post(format!("{}/session", self.base))
            .json(&caps)
            .send()?
            .json()?;
        let id = v["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("chromedriver refused a session: {v}"))?
            .to_owned();
        Ok(Browser {
            base: format!("{}/session/{id}", self.base),
            http: self.http.clone(),
            _profile: profile,
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session.
pub struct Browser {
    base: String,
    http: reqwest::blocking::Client,
    _profile: tempfile::TempDir,
}

/// A found element.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Element {
    /// This element as an argument of [`Browser::execute`].
    pub fn arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.0 })
    }
}

impl Browser {
    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        } else if method == reqwest::Method::POST {
            req = req.json(&json!({}));
        }
        let resp = req.send().with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let v: Value = resp.json().unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "webdriver {method} {path}: {status}: {}",
                v["value"]["message"].as_str().unwrap_or("?")
            );
        }
        Ok(v["value"].clone())
    }

    pub fn goto(&self, url: &str) -> Result<()> {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))?;
        Ok(())
    }

    pub fn url(&self) -> Result<String> {
        Ok(self
            .call(reqwest::Method::GET, "/url", None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The page's HTML as the browser holds it now.
    pub fn source(&self) -> Result<String> {
        Ok(self
            .call(reqwest::Method::GET, "/source", None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The visible text of the whole page.
    pub fn body_text(&self) -> Result<String> {
        let body = self.find("body")?;
        self.text(&body)
    }

    pub fn find(&self, css: &str) -> Result<Element> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .with_context(|| format!("finding {css}"))?;
        v[ELEMENT_KEY]
            .as_str()
            .map(|id| Element(id.to_owned()))
            .ok_or_else(|| anyhow!("no element {css}: {v}"))
    }

    pub fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let v = self.call(
            reqwest::Method::POST,
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(|s| Element(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Wait until `css` matches an element (pages load and scripts run).
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.find(css) {
                Ok(e) => return Ok(e),
                Err(e) if Instant::now() > deadline => {
                    let url = self.url().unwrap_or_default();
                    let source = self.source().unwrap_or_default();
                    let head: String = source.chars().take(2000).collect();
                    return Err(
                        e.context(format!("waited {timeout:?} at {url}; the page:\n{head}"))
                    );
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Wait until the page text contains `needle`; the text is returned.
    pub fn wait_for_text(&self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.body_text().unwrap_or_default();
            if text.contains(needle) {
                return Ok(text);
            }
            if Instant::now() > deadline {
                bail!("the page never showed {needle:?}; it shows:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn click(&self, e: &Element) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", e.0),
            None,
        )?;
        Ok(())
    }

    pub fn clear(&self, e: &Element) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/clear", e.0),
            None,
        )?;
        Ok(())
    }

    /// Type into an element, as a person (or a keyboard-wedge scanner) would.
    pub fn type_into(&self, e: &Element, text: &str) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        )?;
        Ok(())
    }

    /// Clear the field matched by `css` and type `text`.
    pub fn fill(&self, css: &str, text: &str) -> Result<()> {
        let e = self.find(css)?;
        self.clear(&e)?;
        self.type_into(&e, text)
    }

    /// Choose the `<option value=…>` of a select.
    pub fn select(&self, select_css: &str, value: &str) -> Result<()> {
        let option = self.find(&format!("{select_css} option[value=\"{value}\"]"))?;
        self.click(&option)
    }

    /// Elements matching `css` inside `parent` (e.g. the cells of one table row).
    pub fn find_all_in(&self, parent: &Element, css: &str) -> Result<Vec<Element>> {
        let v = self.call(
            reqwest::Method::POST,
            &format!("/element/{}/elements", parent.0),
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(|s| Element(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The visible texts of the elements matching `css` inside `parent`, trimmed.
    pub fn texts_in(&self, parent: &Element, css: &str) -> Result<Vec<String>> {
        self.find_all_in(parent, css)?
            .iter()
            .map(|e| self.text(e).map(|t| t.trim().to_owned()))
            .collect()
    }

    /// Whether a checkbox, radio button or option is checked/selected.
    pub fn is_selected(&self, e: &Element) -> Result<bool> {
        Ok(self
            .call(
                reqwest::Method::GET,
                &format!("/element/{}/selected", e.0),
                None,
            )?
            .as_bool()
            .unwrap_or(false))
    }

    /// Run `script` in the page (WebDriver "execute/sync"; the page's CSP does not apply)
    /// with `args` (see [`Element::arg`] to pass an element); what it returns.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// The current `value` property of a form control (what the form would submit).
    pub fn value(&self, e: &Element) -> Result<String> {
        Ok(self
            .execute("return arguments[0].value;", vec![e.arg()])?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Wait until the element matched by `css` shows `needle` in its text (a message next
    /// to a field, say); its text is returned.
    pub fn wait_for_text_in(&self, css: &str, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self
                .find(css)
                .and_then(|e| self.text(&e))
                .unwrap_or_default();
            if text.contains(needle) {
                return Ok(text);
            }
            if Instant::now() > deadline {
                bail!("{css} never showed {needle:?}; it shows {text:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn text(&self, e: &Element) -> Result<String> {
        Ok(self
            .call(
                reqwest::Method::GET,
                &format!("/element/{}/text", e.0),
                None,
            )?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub fn attr(&self, e: &Element, name: &str) -> Result<Option<String>> {
        Ok(self
            .call(
                reqwest::Method::GET,
                &format!("/element/{}/attribute/{name}", e.0),
                None,
            )?
            .as_str()
            .map(str::to_owned))
    }

    /// Accept a `confirm()` dialog if one is open; whether there was one.
    pub fn accept_alert(&self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if self
                .call(reqwest::Method::POST, "/alert/accept", None)
                .is_ok()
            {
                return Ok(true);
            }
            if Instant::now() > deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The browser's cookies for the current site, as a `Cookie:` header value (HttpOnly
    /// ones included), so a test can fetch a download the way this browser would.
    pub fn cookie_header(&self) -> Result<String> {
        let v = self.call(reqwest::Method::GET, "/cookie", None)?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| {
                        Some(format!("{}={}", c["name"].as_str()?, c["value"].as_str()?))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default())
    }

    pub fn delete_cookies(&self) -> Result<()> {
        self.call(reqwest::Method::DELETE, "/cookie", None)?;
        Ok(())
    }

    /// Save a PNG of the window to `path`.
    pub fn screenshot(&self, path: &Path) -> Result<()> {
        let v = self.call(reqwest::Method::GET, "/screenshot", None)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .context("screenshot is not base64")?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png)?;
        Ok(())
    }

    /// Print the page as the browser would on A4 paper; the PDF bytes.
    pub fn print_a4(&self) -> Result<Vec<u8>> {
        let v = self.call(
            reqwest::Method::POST,
            "/print",
            Some(json!({
                "page": { "width": 21.0, "height": 29.7 },
                "margin": { "top": 0, "bottom": 0, "left": 0, "right": 0 },
                "background": true
            })),
        )?;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .context("print is not base64")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.base).send();
    }
}

/// Pages in a PDF made by Chromium (each page object says `/Type /Page`).
pub fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.matches("/Type /Page").count() - text.matches("/Type /Pages").count()
}

/// `target/screenshots/` of this workspace (or of `CARGO_TARGET_DIR`).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("screenshots")
}
