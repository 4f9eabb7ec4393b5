//! The real `passgate-checkpoint` binary, driven as a process on a data directory enrolled
//! without a server: verdicts, the history rules (anti-passback, dwell, daily limits), the
//! clock floor, overrides, status, report, and kill -9 in a burst.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{
    BIN, assert_chain, bundle, bundle_with_limit, enrol_dir, now, pass_at, text, text_of,
};
use serde_json::Value;

const NOWHERE: &str = "http://127.0.0.1:9";

fn run_at(args: &[&str], dir: &Path, at: Option<i64>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("PASSGATE_CHECKPOINT_DATA_DIR")
        .env_remove("PASSGATE_GUARD_ID")
        .env_remove("PASSGATE_CHECKPOINT_FAKE_NOW");
    if let Some(t) = at {
        cmd.env("PASSGATE_CHECKPOINT_FAKE_NOW", t.to_string());
    }
    cmd.output().unwrap()
}

fn run(args: &[&str], dir: &Path) -> Output {
    run_at(args, dir, None)
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json_line(o: &Output) -> Value {
    let s = stdout(o);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stdout: {s}\nstderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(lines[0]).unwrap()
}

/// `verify --json` at gate time `at`, expecting exit `code`.
fn verify_at(dir: &Path, args: &[&str], at: i64, code: i32) -> Value {
    let mut all = vec!["verify", "--json"];
    all.extend_from_slice(args);
    let out = run_at(&all, dir, Some(at));
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: {}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    json_line(&out)
}

async fn counts(dir: &Path) -> passgate_checkpoint::store::ScanCounts {
    let store = passgate_checkpoint::Store::open(dir).await.unwrap();
    let c = store.counts().await.unwrap();
    store.close().await;
    c
}

#[test]
fn verify_on_a_fresh_directory_says_to_enroll() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("never-enrolled");
    let out = run(&["verify", "PG:ABC"], &dir);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("passgate-checkpoint enroll"), "{err}");
    assert!(err.contains("not enrolled"), "{err}");
    assert!(out.stdout.is_empty());
    assert!(!dir.exists(), "verify must not create the data directory");

    let out = run(&["status", "--json"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_line(&out)["error"], "not_enrolled");
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        vec!["verify"],
        vec!["verify", "PG:X", "--direction", "sideways"],
        vec!["verify", "PG:X", "--lang", "fr"],
        vec!["verify", "PG:X", "--health", "purple"],
        vec!["verify", "PG:X", "--itinerary", "maybe"],
        vec!["verify", "PG:X", "--temperature", "warm"],
        vec!["override", "--supervisor", "s"],
        vec!["init", "--server", "http://x", "--token", "t"],
        vec!["frobnicate"],
    ] {
        let out = run(&args, tmp.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = run_at(&["status"], tmp.path(), None);
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN)
        .args(["status", "--data-dir"])
        .arg(tmp.path())
        .env("PASSGATE_CHECKPOINT_FAKE_NOW", "yesterday")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PASSGATE_CHECKPOINT_FAKE_NOW"));
    // --help documents the observations and the clock knob.
    let help = Command::new(BIN)
        .args(["verify", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for want in [
        "--guard",
        "--health",
        "--itinerary",
        "--test-48h",
        "--temperature",
    ] {
        assert!(help.contains(want), "{want}: {help}");
    }
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("PASSGATE_CHECKPOINT_FAKE_NOW"));
}

#[tokio::test]
async fn verify_accepts_rejects_and_records_before_printing() {
    let tmp = tempfile::tempdir().unwrap();
    enrol_dir(tmp.path(), NOWHERE, 3, &bundle(5)).await;

    let out = run(
        &[
            "verify",
            "--json",
            "--guard",
            "guard-7",
            "--health",
            "绿",
            "--itinerary",
            "yes",
            "--test-48h",
            "no",
            "--temperature",
            "ok",
            &text(0),
        ],
        tmp.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_line(&out);
    assert_eq!(v["accepted"], true);
    assert_eq!(v["reason"], Value::Null);
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["number"], "419001000001");
    assert_eq!(v["plate"], "豫U12345");
    assert_eq!(v["class"], "long_haul");
    assert_eq!(v["class_name"], "长途闭环");
    assert_eq!(v["direction"], "in");
    assert_eq!(v["seq"], 1);
    assert_eq!(v["driver"], "张*明");
    assert_eq!(v["bundle_version"], 5);
    assert_eq!(v["checkpoint_id"], 3);
    assert_eq!(v["device_id"], 5);
    assert_eq!(v["guard_id"], "guard-7");
    assert_eq!(v["observations"]["health_code"], "green");
    assert_eq!(v["observations"]["itinerary_ok"], true);
    assert_eq!(v["observations"]["negative_test_48h"], false);
    assert_eq!(v["observations"]["temperature_ok"], true);
    assert_eq!(v["dwell_minutes"], Value::Null);
    assert_eq!(v["override"], Value::Null);
    assert_eq!(v["bundle_fallback"], Value::Null);
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert_eq!(v["scan_id"].as_str().unwrap().len(), 32);
    assert_eq!(
        v["prev_hash"],
        passgate_shared::record::GENESIS_HASH,
        "first record links to genesis"
    );
    assert!(v["valid_from"].as_str().unwrap().ends_with("+08:00"));

    // The guard from the environment; damaged text: rejected, recorded, exit 1.
    let out = Command::new(BIN)
        .args(["verify", "--json", "--direction", "out", "PG:NOTAPASS"])
        .arg("--data-dir")
        .arg(tmp.path())
        .env("PASSGATE_GUARD_ID", "guard-env")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let w = json_line(&out);
    assert_eq!(w["accepted"], false);
    assert_eq!(w["reason"], "malformed");
    assert_eq!(w["number"], Value::Null);
    assert_eq!(w["direction"], "out");
    assert_eq!(w["seq"], 2);
    assert_eq!(w["guard_id"], "guard-env");
    assert_eq!(w["observations"]["health_code"], Value::Null);
    assert_eq!(w["prev_hash"], v["hash"]);

    let c = counts(tmp.path()).await;
    assert_eq!((c.total, c.unsent), (2, 2));
    let store = passgate_checkpoint::Store::open(tmp.path()).await.unwrap();
    let chain = assert_chain(&store).await;
    assert_eq!(chain[0].guard_id.as_deref(), Some("guard-7"));
    store.close().await;
}

#[tokio::test]
async fn rule_rejections_keep_the_trusted_pass_fields() {
    let tmp = tempfile::tempdir().unwrap();
    // Checkpoint 4 is not on the long-haul route.
    enrol_dir(tmp.path(), NOWHERE, 4, &bundle(1)).await;
    let out = run(&["verify", "--json", &text(0)], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let v = json_line(&out);
    assert_eq!(v["reason"], "off_route");
    assert_eq!(v["number"], "419001000001");
    assert_eq!(v["class"], "long_haul");
}

#[tokio::test]
async fn human_output_in_both_languages() {
    let tmp = tempfile::tempdir().unwrap();
    enrol_dir(tmp.path(), NOWHERE, 3, &bundle(1)).await;

    let out = run(&["verify", "--health", "green", &text(0)], tmp.path());
    assert_eq!(out.status.code(), Some(0));
    let s = stdout(&out);
    assert_eq!(s.lines().next(), Some("放行 ACCEPTED"), "{s}");
    for want in [
        "豫U12345",
        "长途闭环",
        "419001000001",
        "北京时间",
        "张*明",
        "重点生产物资",
        "东门卡口",
        "健康码 绿码",
    ] {
        assert!(s.contains(want), "missing {want}: {s}");
    }

    let out = run(&["verify", "--lang", "en", &text(2)], tmp.path());
    assert_eq!(out.status.code(), Some(0));
    let s = stdout(&out);
    assert_eq!(s.lines().next(), Some("放行 ACCEPTED"), "{s}");
    for want in [
        "晋E23456",
        "out-of-region load-unload-leave",
        "Max dwell: 120 min",
        "Beijing time",
    ] {
        assert!(s.contains(want), "missing {want}: {s}");
    }

    let out = run(&["verify", "not a pass"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let s = stdout(&out);
    assert_eq!(s.lines().next(), Some("拒绝 REJECTED"), "{s}");
    assert!(s.contains("不是有效的通行证二维码"), "{s}");
}

#[tokio::test]
async fn scan_reads_lines_until_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    enrol_dir(tmp.path(), NOWHERE, 3, &bundle(1)).await;
    let mut child = Command::new(BIN)
        .args([
            "scan",
            "--json",
            "--direction",
            "out",
            "--guard",
            "g2",
            "--data-dir",
        ])
        .arg(tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = format!(
        "{}\r\n\n   \ngarbage\n{}\n\u{ff}\u{fe}\n{}",
        text(0),
        text(1),
        text(2)
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = stdout(&out);
    let v: Vec<Value> = s
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(bool, u64)> = v
        .iter()
        .map(|v| (v["accepted"].as_bool().unwrap(), v["seq"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        got,
        [(true, 1), (false, 2), (true, 3), (false, 4), (true, 5)],
        "{s}"
    );
    assert!(
        v.iter()
            .all(|v| v["direction"] == "out" && v["guard_id"] == "g2")
    );
    // A load-unload-leave exit with no entry on record is flagged.
    assert_eq!(v[4]["warnings"], serde_json::json!(["no_entry_recorded"]));
    assert_eq!(counts(tmp.path()).await.total, 5);
}

/// Load-unload-leave through the binary: enter; a second entry is refused (anti-passback);
/// the exit records the dwell; status lists the truck inside, then not; a late exit is an
/// overstay, highlighted by status while the truck is inside.
#[tokio::test]
async fn load_unload_leave_history_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    enrol_dir(dir, NOWHERE, 3, &bundle(1)).await;
    let t0 = now();
    let lul = text(2);

    let v = verify_at(dir, &["--direction", "in", &lul], t0, 0);
    assert_eq!(v["max_dwell_minutes"], 120);
    let v = verify_at(dir, &["--direction", "in", &lul], t0 + 60, 1);
    assert_eq!(v["reason"], "already_inside");
    assert_eq!(v["number"], "419001000003");

    let out = run_at(&["status", "--json"], dir, Some(t0 + 30 * 60));
    let s = json_line(&out);
    let inside = s["inside"].as_array().unwrap();
    assert_eq!(inside.len(), 1, "{s}");
    assert_eq!(inside[0]["number"], "419001000003");
    assert_eq!(inside[0]["plate"], "晋E23456");
    assert_eq!(inside[0]["seq"], 1);
    assert_eq!(inside[0]["inside_minutes"], 30);
    assert_eq!(inside[0]["max_dwell_minutes"], 120);
    assert_eq!(inside[0]["overstay_minutes"], Value::Null);
    assert_eq!(s["overstays"], 0);

    let v = verify_at(dir, &["--direction", "out", &lul], t0 + 90 * 60, 0);
    assert_eq!(v["dwell_minutes"], 90);
    assert_eq!(v["warnings"], serde_json::json!([]));
    let s = json_line(&run_at(&["status", "--json"], dir, Some(t0 + 91 * 60)));
    assert_eq!(s["inside"], serde_json::json!([]));

    // In again, and still inside 150 minutes later: an overstay of 30 minutes.
    let t1 = t0 + 100 * 60;
    verify_at(dir, &["--direction", "in", &lul], t1, 0);
    let s = json_line(&run_at(&["status", "--json"], dir, Some(t1 + 150 * 60)));
    assert_eq!(s["inside"][0]["overstay_minutes"], 30, "{s}");
    assert_eq!(s["inside"][0]["overstayed"], true);
    assert_eq!(s["overstays"], 1);
    let text_status = stdout(&run_at(&["status"], dir, Some(t1 + 150 * 60)));
    assert!(
        text_status.contains("⚠⚠ 419001000003 晋E23456")
            && text_status.contains("滞留超时 30 分钟"),
        "{text_status}"
    );
    let v = verify_at(dir, &["--direction", "out", &lul], t1 + 150 * 60, 0);
    assert_eq!(v["dwell_minutes"], 150);
    assert_eq!(v["warnings"], serde_json::json!(["overstayed"]));
    let human = stdout(&run_at(
        &["verify", "--direction", "out", &lul],
        dir,
        Some(t1 + 151 * 60),
    ));
    assert!(human.contains("本查验点没有该车的进入记录"), "{human}");

    let store = passgate_checkpoint::Store::open(dir).await.unwrap();
    assert_chain(&store).await;
    store.close().await;
}

#[tokio::test]
async fn daily_entry_limit_counts_todays_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    enrol_dir(dir, NOWHERE, 3, &bundle_with_limit(1, 2)).await;
    // Noon (Beijing) today, a short-haul pass valid for three days around it.
    let (day_start, _) =
        passgate_shared::time::local_day_range(&passgate_shared::time::local_day(now())).unwrap();
    let noon = day_start + 12 * 3600;
    let short = text_of(&pass_at(1, day_start - 3600, 72));
    verify_at(dir, &[&short], noon, 0);
    verify_at(dir, &["--direction", "out", &short], noon + 60, 0);
    verify_at(dir, &[&short], noon + 120, 0);
    let v = verify_at(dir, &[&short], noon + 180, 1);
    assert_eq!(v["reason"], "daily_limit");
    // Exits are not limited; the next Beijing day starts again.
    verify_at(dir, &["--direction", "out", &short], noon + 240, 0);
    verify_at(dir, &[&short], noon + 86_400, 0);
}

/// A clock set back is flagged, and judging validity at the time floor means it cannot
/// revive an expired pass.
#[tokio::test]
async fn clock_set_back_is_flagged_and_cannot_revive_an_expired_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    enrol_dir(dir, NOWHERE, 3, &bundle(1)).await;
    let t0 = now();
    let p = text(1); // valid [t0 - 1h, t0 + 23h)
    let v = verify_at(dir, &[&p], t0 + 25 * 3600, 1);
    assert_eq!(v["reason"], "expired");
    assert_eq!(v["warnings"], serde_json::json!([]));

    // Someone sets the clock back into the validity window.
    let v = verify_at(dir, &[&p], t0, 1);
    assert_eq!(v["reason"], "expired", "{v}");
    assert_eq!(v["warnings"], serde_json::json!(["clock_behind"]));
    let human = stdout(&run_at(&["verify", &p], dir, Some(t0)));
    assert!(human.starts_with("拒绝 REJECTED\n"), "{human}");
    assert!(human.contains("⚠⚠ 警告：本机时钟比已知时间慢"), "{human}");

    let s = json_line(&run_at(&["status", "--json"], dir, Some(t0)));
    assert_eq!(s["clock_behind"], true);
    assert_eq!(s["clock_behind_seconds"], 25 * 3600);
    let text_status = stdout(&run_at(&["status"], dir, Some(t0)));
    assert!(text_status.contains("可能被回拨"), "{text_status}");
    // The floor survived the restarts: it is the latest scan time.
    assert_eq!(
        s["time_floor"],
        passgate_checkpoint::output::rfc3339(t0 + 25 * 3600)
    );
}

#[tokio::test]
async fn supervisor_override_flow() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    enrol_dir(dir, NOWHERE, 3, &bundle(1)).await;
    let t0 = now();
    verify_at(
        dir,
        &["--guard", "g1", "--health", "green", "garbage"],
        t0,
        1,
    );

    let out = run_at(
        &[
            "override",
            "--json",
            "--supervisor",
            "sup-1",
            "--reason",
            "医疗物资，公安护送",
        ],
        dir,
        Some(t0 + 60),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_line(&out);
    assert_eq!(v["accepted"], true);
    assert_eq!(v["reason"], "malformed");
    assert_eq!(v["verdict"], "override");
    assert_eq!(v["seq"], 2);
    assert_eq!(v["override"]["supervisor_id"], "sup-1");
    assert_eq!(v["override"]["reason"], "医疗物资，公安护送");
    assert_eq!(v["override"]["overrides_seq"], 1);
    assert_eq!(v["guard_id"], "g1");
    assert_eq!(v["observations"]["health_code"], "green");

    // Twice is refused; an override cannot be overridden; an accepted record neither.
    for (args, want) in [
        (
            vec![
                "override",
                "--supervisor",
                "s",
                "--reason",
                "r",
                "--seq",
                "1",
            ],
            "overridden already",
        ),
        (
            vec!["override", "--supervisor", "s", "--reason", "r"],
            "itself an override",
        ),
        (
            vec![
                "override",
                "--supervisor",
                "s",
                "--reason",
                "r",
                "--seq",
                "9",
            ],
            "no scan record #9",
        ),
    ] {
        let out = run_at(&args, dir, Some(t0 + 120));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    verify_at(dir, &[&text(0)], t0 + 180, 0);
    let out = run_at(
        &["override", "--json", "--supervisor", "s", "--reason", "r"],
        dir,
        Some(t0 + 240),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_line(&out)["error"], "not_overridable");
    assert!(String::from_utf8_lossy(&out.stderr).contains("it was accepted"));

    // A rule rejection overridden, in human form: the amber headline.
    let lul = text(2);
    verify_at(dir, &["--direction", "in", &lul], t0 + 300, 0);
    verify_at(dir, &["--direction", "in", &lul], t0 + 360, 1);
    let out = run_at(
        &[
            "override",
            "--supervisor",
            "sup-2",
            "--reason",
            "second trailer",
        ],
        dir,
        Some(t0 + 420),
    );
    assert_eq!(out.status.code(), Some(0));
    let s = stdout(&out);
    assert_eq!(
        s.lines().next(),
        Some("放行（主管特批） ACCEPTED WITH OVERRIDE"),
        "{s}"
    );
    assert!(s.contains("原拒绝原因：该车已在厂内"), "{s}");
    assert!(s.contains("特批主管：sup-2"), "{s}");
    assert!(s.contains("晋E23456"), "{s}");

    let day = passgate_shared::time::local_day(t0);
    let r = json_line(&run_at(
        &["report", "--json", "--date", &day],
        dir,
        Some(t0 + 480),
    ));
    let rows: Vec<(String, String, u64)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["number"].as_str().unwrap_or("-").to_owned(),
                r["verdict"].as_str().unwrap().to_owned(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    for want in [
        ("-", "malformed", 1),
        ("-", "override", 1),
        ("419001000003", "already_inside", 1),
        ("419001000003", "override", 1),
        ("419001000003", "accepted", 1),
        ("419001000001", "accepted", 1),
    ] {
        assert!(
            rows.contains(&(want.0.to_owned(), want.1.to_owned(), want.2)),
            "{want:?} not in {rows:?}"
        );
    }
    let store = passgate_checkpoint::Store::open(dir).await.unwrap();
    let chain = assert_chain(&store).await;
    assert_eq!(chain.len(), 6);
    assert_eq!(chain[5].overrides_seq, Some(5));
    store.close().await;
}

#[tokio::test]
async fn status_and_report() {
    let tmp = tempfile::tempdir().unwrap();
    enrol_dir(tmp.path(), NOWHERE, 3, &bundle(7)).await;
    run(&["verify", &text(0)], tmp.path());
    run(&["verify", &text(0)], tmp.path());
    run(&["verify", "--direction", "out", "garbage"], tmp.path());

    let out = run(&["status", "--json"], tmp.path());
    assert_eq!(out.status.code(), Some(0));
    let v = json_line(&out);
    assert_eq!(v["device_id"], 5);
    assert_eq!(v["checkpoint_id"], 3);
    assert_eq!(v["checkpoint_name"], "东门卡口");
    assert_eq!(v["bundle_version"], 7);
    assert_eq!(v["stale"], false);
    assert_eq!(v["clock_behind"], false);
    assert_eq!(v["scans"], 3);
    assert_eq!(v["unsent"], 3);
    assert_eq!(v["last_sync_at"], Value::Null);
    assert_eq!(v["inside"], serde_json::json!([]));
    assert!(v.get("token").is_none());

    let out = run(&["status"], tmp.path());
    let s = stdout(&out);
    assert!(s.contains("未上传 3 条"), "{s}");
    assert!(s.contains("设备：5"), "{s}");

    let today = passgate_shared::time::local_day(now());
    let out = run(&["report", "--json", "--date", &today], tmp.path());
    assert_eq!(out.status.code(), Some(0));
    let v = json_line(&out);
    assert_eq!(v["total"], 3);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v}");
    assert_eq!(rows[0]["number"], "419001000001");
    assert_eq!(rows[0]["verdict"], "accepted");
    assert_eq!(rows[0]["count"], 2);
    assert_eq!(rows[1]["number"], Value::Null);
    assert_eq!(rows[1]["verdict"], "malformed");
    assert_eq!(rows[1]["direction"], "out");

    let out = run(&["report", "--date", &today], tmp.path());
    assert!(stdout(&out).contains("拒绝:malformed"), "{}", stdout(&out));
    let out = run(&["report", "--json", "--date", "2020-01-01"], tmp.path());
    assert_eq!(json_line(&out)["total"], 0);
}

/// Every verdict that reached stdout is in the database with the same id and hash, even
/// when the process is killed with SIGKILL in the middle of a burst; the chain is intact
/// and continues after the restart.
#[tokio::test]
async fn killed_mid_burst_loses_no_printed_verdict() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    enrol_dir(tmp.path(), NOWHERE, 3, &bundle(1)).await;
    let mut child = Command::new(BIN)
        .args(["scan", "--json", "--guard", "burst", "--data-dir"])
        .arg(tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut printed = Vec::new();
    let pass = text(0);
    for _ in 0..10 {
        writeln!(stdin, "{pass}").unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        printed.push(line);
    }
    // A burst the process is still working through when it is killed.
    for i in 0..300 {
        if i % 7 == 0 {
            writeln!(stdin, "junk-{i}").unwrap();
        } else {
            writeln!(stdin, "{pass}").unwrap();
        }
    }
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(80));
    child.kill().unwrap();
    child.wait().unwrap();
    for line in reader.lines() {
        let Ok(line) = line else { break };
        printed.push(line);
    }
    // A line cut by the kill is not a printed verdict.
    printed.retain(|l| serde_json::from_str::<Value>(l).is_ok());
    assert!(printed.len() >= 10);

    let store = passgate_checkpoint::Store::open(tmp.path()).await.unwrap();
    let chain = assert_chain(&store).await;
    for line in &printed {
        let v: Value = serde_json::from_str(line).unwrap();
        let seq = v["seq"].as_u64().unwrap();
        let stored = store
            .record(seq)
            .await
            .unwrap()
            .expect("printed verdict not stored");
        assert_eq!(stored.record.id, v["scan_id"].as_str().unwrap());
        assert_eq!(stored.hash, v["hash"].as_str().unwrap());
        assert_eq!(stored.record.accepted, v["accepted"].as_bool().unwrap());
    }
    assert!(chain.len() >= printed.len());
    store.close().await;

    // The chain continues after the restart.
    let out = run(&["verify", "--json", &text(1)], tmp.path());
    let v = json_line(&out);
    assert_eq!(v["seq"].as_u64().unwrap(), chain.len() as u64 + 1);
    assert_eq!(v["prev_hash"], chain.last().unwrap().hash_hex());
}

/// A bundle past the staleness limit gives a loud warning on every verdict.
#[tokio::test]
async fn a_stale_bundle_is_loud_on_every_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = bundle(1);
    b.generated_at = now() - 80 * 3600;
    enrol_dir(tmp.path(), NOWHERE, 3, &b).await;
    let s = stdout(&run(&["verify", &text(0)], tmp.path()));
    assert!(s.starts_with("放行 ACCEPTED\n"), "{s}");
    assert!(s.contains("⚠⚠ 警告：信任数据已 80 小时未更新"), "{s}");
    let v = json_line(&run(&["verify", "--json", &text(0)], tmp.path()));
    assert_eq!(v["warnings"], serde_json::json!(["bundle_stale"]));
    let st = json_line(&run(&["status", "--json"], tmp.path()));
    assert_eq!(st["stale"], true);
    assert!(stdout(&run(&["status"], tmp.path())).contains("⚠⚠ 信任数据已过期"));
}
