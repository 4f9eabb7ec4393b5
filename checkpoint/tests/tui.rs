//! The gate screen of the real `passgate-checkpoint` binary in a real pseudo-terminal: tmux
//! runs it at 80×24, `send-keys` types like a keyboard-wedge scanner and a guard, and
//! `capture-pane` reads the screen. The local database is checked afterwards.
//!
//! Without tmux these tests fail when `CI=true` and are skipped (with a message) otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{BIN, bundle, enrol_dir, pass, text};
use passgate_checkpoint::Store;
use passgate_shared::record::HealthCode;
use passgate_shared::sync::Direction;

const NOWHERE: &str = "http://127.0.0.1:9";
const WAIT: Duration = Duration::from_secs(20);

/// tmux is there, or the test must not pass silently in CI.
fn tmux_available() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tmux is required for the gate screen tests in CI (apt-get install tmux)"
        );
        eprintln!("SKIPPED: tmux is not installed, the gate screen tests did not run");
    }
    found
}

/// A tmux server of its own (unique socket) running one session; killed on drop, also when
/// the test fails.
struct Tmux {
    socket: String,
    /// The socket file, removed after the server is killed.
    socket_path: Option<String>,
}

impl Tmux {
    fn start(command: &str) -> Tmux {
        static N: AtomicU32 = AtomicU32::new(0);
        let socket = format!(
            "passgate-tui-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut t = Tmux {
            socket,
            socket_path: None,
        };
        let out = Command::new("tmux")
            .args(["-u", "-f", "/dev/null", "-L", &t.socket])
            .args(["new-session", "-d", "-x", "80", "-y", "24", "-s", "gate"])
            .arg(command)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = t.tmux(&["display-message", "-p", "-t", "gate", "#{socket_path}"]);
        t.socket_path = Some(path.trim().to_owned()).filter(|p| !p.is_empty());
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Type text exactly (as a keyboard-wedge scanner does).
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "gate", "-l", text]);
    }

    /// Press a named key: Enter, F2, C-c …
    fn key(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "gate", key]);
    }

    /// Whether the program rang the terminal bell (tmux flags the window; the session is
    /// detached, so the flag stays set).
    fn bell_rang(&self) -> bool {
        self.tmux(&["display-message", "-p", "-t", "gate", "#{window_bell_flag}"])
            .trim()
            == "1"
    }

    /// Poll until the bell has rung.
    fn wait_for_bell(&self) {
        let start = Instant::now();
        while !self.bell_rang() {
            assert!(start.elapsed() < WAIT, "the terminal bell never rang");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "gate"])
    }

    /// Poll the screen until it shows every one of `wanted`.
    fn wait_for(&self, wanted: &[&str]) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if wanted.iter().all(|w| s.contains(w)) {
                if std::env::var_os("PASSGATE_TUI_TEST_SHOW").is_some() {
                    println!("---- {wanted:?}\n{s}");
                }
                return s;
            }
            assert!(
                start.elapsed() < WAIT,
                "the screen never showed {wanted:?}; it shows:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Poll the screen until `gone` is no longer on it.
    fn wait_without(&self, gone: &str) {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if !s.contains(gone) {
                return;
            }
            assert!(
                start.elapsed() < WAIT,
                "{gone:?} stayed on the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The shell command tmux runs: the gate program, then its exit status stays on screen.
fn shell(dir: &Path, env: &str, args: &str) -> String {
    format!(
        "env -u PASSGATE_CHECKPOINT_DATA_DIR -u PASSGATE_GUARD_ID -u PASSGATE_CHECKPOINT_FAKE_NOW LANG=C.UTF-8 {env} {} --data-dir {} {args}; echo \"gate exited $?\"; sleep 600",
        quote(BIN),
        quote(&dir.display().to_string()),
    )
}

/// A data directory enrolled at checkpoint 3 (on sample pass 0's route) whose bundle
/// revokes sample pass 1.
async fn gate_dir(dir: &Path) {
    let mut b = bundle(1);
    b.revoked.insert(pass(1).number);
    enrol_dir(dir, NOWHERE, 3, &b).await;
}

#[tokio::test]
async fn guard_scans_overrides_and_toggles_direction_on_the_real_screen() {
    if !tmux_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gate");
    gate_dir(&dir).await;
    let t = Tmux::start(&shell(
        &dir,
        "",
        "gate --guard 王卫 --health green --repeat-window 0",
    ));

    let s = t.wait_for(&[
        "请扫码",
        "方向：进（入厂）",
        "查验人：王卫",
        "健康码 绿码",
        "F1帮助",
    ]);
    assert!(s.contains("F10退出"), "{s}");
    // F4: itinerary card checked for this truck only.
    t.key("F4");
    t.wait_for(&["行程卡 正常"]);

    // A valid pass, typed by the scanner: 放行 and the plate.
    t.type_text(&text(0));
    t.key("Enter");
    let s = t.wait_for(&["放行", "车牌 豫U12345", "长途闭环"]);
    assert!(s.contains('█'), "the plate in block letters:\n{s}");
    assert!(
        s.contains("行程卡 未查"),
        "checks back to the defaults:\n{s}"
    );
    assert!(!t.bell_rang(), "an acceptance does not ring");

    // A revoked pass: 拒绝 and the reason in plain Chinese.
    t.type_text(&text(1));
    t.key("Enter");
    t.wait_for(&["拒绝", "通行证已吊销", "豫UD12345"]);
    t.wait_for_bell();

    // F8: the supervisor override form, reason then supervisor id.
    t.key("F8");
    t.wait_for(&["主管特批", "特批理由", "主管编号", "第 2 条"]);
    t.type_text("防疫物资，护送进厂");
    t.key("Enter");
    t.type_text("李队长");
    t.key("Enter");
    t.wait_for(&["特批已记录：第 3 条", "放行（主管特批）", "特批主管 李队长"]);

    // F2: the direction label changes; the same pass now leaves.
    t.key("F2");
    t.wait_for(&["方向：出（离厂）"]);
    t.type_text(&text(0));
    t.key("Enter");
    t.wait_for(&["放行", "记录 第 4 条"]);

    // F7 remembers the direction and checks; F1 shows the full help.
    t.key("F7");
    t.wait_for(&["已保存默认"]);
    t.key("F1");
    t.wait_for(&["帮助", "主管特批最近一条拒绝记录"]);
    t.key("Escape");
    t.wait_without("主管特批最近一条拒绝记录");

    // F10 quits and gives the terminal back.
    t.key("F10");
    let s = t.wait_for(&["gate exited 0"]);
    assert!(!s.contains("请扫码"), "the alternate screen is gone:\n{s}");
    drop(t);

    // What the screen showed is what the database holds.
    let store = Store::open(&dir).await.unwrap();
    let records = common::assert_chain(&store).await;
    store.close().await;
    assert_eq!(records.len(), 4, "{records:#?}");
    let (r1, r2, r3, r4) = (&records[0], &records[1], &records[2], &records[3]);
    assert!(r1.accepted && r1.override_by.is_none());
    assert_eq!(r1.plate.as_deref(), Some("豫U12345"));
    assert_eq!(r1.direction, Direction::In);
    assert_eq!(r1.guard_id.as_deref(), Some("王卫"));
    assert_eq!(r1.observations.health_code, Some(HealthCode::Green));
    assert_eq!(r1.observations.itinerary_ok, Some(true));
    assert!(!r2.accepted);
    assert_eq!(r2.reason.as_deref(), Some("revoked"));
    assert_eq!(r2.observations.itinerary_ok, None);
    let o = r3.override_by.as_ref().expect("the override record");
    assert!(r3.accepted);
    assert_eq!(o.supervisor_id, "李队长");
    assert_eq!(o.reason, "防疫物资，护送进厂");
    assert_eq!(r3.overrides_seq, Some(2));
    assert_eq!(r3.guard_id.as_deref(), Some("王卫"));
    assert!(r4.accepted);
    assert_eq!(r4.direction, Direction::Out);
    let saved = std::fs::read_to_string(dir.join("gate-defaults.json")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved["direction"], "out");
    assert_eq!(saved["observations"]["health_code"], "green");
}

#[tokio::test]
async fn no_subcommand_on_a_terminal_opens_the_screen_in_english() {
    if !tmux_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gate");
    gate_dir(&dir).await;
    // A load-unload-leave truck (2 h dwell limit) entered now; the screen runs 3 hours
    // later on the gate clock (PASSGATE_CHECKPOINT_FAKE_NOW), so it has overstayed.
    let entered = Command::new(BIN)
        .args(["verify", "--json", "--direction", "in", "--data-dir"])
        .arg(&dir)
        .arg(text(2))
        .env_remove("PASSGATE_CHECKPOINT_FAKE_NOW")
        .output()
        .unwrap();
    assert_eq!(entered.status.code(), Some(0), "{entered:?}");
    let later = format!(
        "PASSGATE_GUARD_ID=g-7 PASSGATE_CHECKPOINT_FAKE_NOW={}",
        common::now() + 3 * 3600
    );
    let t = Tmux::start(&shell(&dir, &later, "--lang en"));
    t.wait_for(&["READY TO SCAN", "Direction: IN", "Guard: g-7", "F10 quit"]);
    t.wait_for(&["Inside now (load-unload-leave) 1", "晋E23456", "OVER by 6"]);
    t.type_text(&text(1));
    t.key("Enter");
    t.wait_for(&["REJECTED", "the pass has been revoked"]);
    t.key("Tab");
    t.wait_for(&["Direction: OUT"]);
    // F9 syncs in the background; with no server the failure is reported, the screen lives.
    t.key("F9");
    t.wait_for(&["✗"]);
    t.key("C-c");
    t.wait_for(&["gate exited 0"]);
    drop(t);
    let store = Store::open(&dir).await.unwrap();
    let records = common::assert_chain(&store).await;
    store.close().await;
    assert_eq!(records.len(), 2);
    let r = &records[1];
    assert_eq!(r.guard_id.as_deref(), Some("g-7"));
    assert_eq!(r.reason.as_deref(), Some("revoked"));
    assert!(
        r.scanned_at >= common::now() + 3 * 3600 - 600,
        "the gate clock came from PASSGATE_CHECKPOINT_FAKE_NOW"
    );
}

#[test]
fn no_subcommand_without_a_terminal_prints_the_help() {
    let out = Command::new(BIN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Usage") && err.contains("gate"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn gate_on_an_unenrolled_directory_says_so_before_opening_the_screen() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["gate", "--data-dir"])
        .arg(tmp.path().join("none"))
        .env_remove("PASSGATE_CHECKPOINT_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("enroll"));
}

#[tokio::test]
async fn gate_without_a_terminal_points_to_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gate");
    gate_dir(&dir).await;
    let out = Command::new(BIN)
        .args(["gate", "--data-dir"])
        .arg(&dir)
        .env_remove("PASSGATE_CHECKPOINT_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs a terminal") && err.contains("scan"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
