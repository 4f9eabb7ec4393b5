//! The real `passgate-checkpoint` binary, driven as a process on a data directory set up
//! without a server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{BIN, bundle, init_dir, text};
use serde_json::Value;

fn run(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("PASSGATE_CHECKPOINT_DATA_DIR")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json_line(o: &Output) -> Value {
    let s = stdout(o);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 1, "{s}");
    serde_json::from_str(lines[0]).unwrap()
}

async fn counts(dir: &std::path::Path) -> passgate_checkpoint::store::ScanCounts {
    let store = passgate_checkpoint::Store::open(dir).await.unwrap();
    let c = store.counts().await.unwrap();
    store.close().await;
    c
}

#[test]
fn verify_on_a_fresh_directory_says_to_run_init() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("never-initialised");
    let out = run(&["verify", "PG:ABC"], &dir);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("passgate-checkpoint init"), "{err}");
    assert!(err.contains("not initialised"), "{err}");
    assert!(out.stdout.is_empty());
    assert!(!dir.exists(), "verify must not create the data directory");

    let out = run(&["status", "--json"], &dir);
    assert_eq!(out.status.code(), Some(2));
    let v = json_line(&out);
    assert_eq!(v["error"], "not_initialised");
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        vec!["verify"],
        vec!["verify", "PG:X", "--direction", "sideways"],
        vec!["verify", "PG:X", "--lang", "fr"],
        vec!["frobnicate"],
    ] {
        let out = run(&args, tmp.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[tokio::test]
async fn verify_accepts_rejects_and_records_before_printing() {
    let tmp = tempfile::tempdir().unwrap();
    init_dir(tmp.path(), "http://127.0.0.1:9", 3, &bundle(5)).await;

    let out = run(&["verify", "--json", &text(0)], tmp.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_line(&out);
    assert_eq!(v["accepted"], true);
    assert_eq!(v["reason"], Value::Null);
    assert_eq!(v["number"], "419001000001");
    assert_eq!(v["plate"], "豫U12345");
    assert_eq!(v["class"], "long_haul");
    assert_eq!(v["class_name"], "长途闭环");
    assert_eq!(v["direction"], "in");
    assert_eq!(v["seq"], 1);
    assert_eq!(v["driver"], "张*明");
    assert_eq!(v["co_driver"], "李*");
    assert_eq!(v["bundle_version"], 5);
    assert_eq!(v["checkpoint_id"], 3);
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert_eq!(v["scan_id"].as_str().unwrap().len(), 32);
    assert!(v["valid_from"].as_str().unwrap().ends_with("+08:00"));

    // Damaged text: rejected, recorded, exit 1, pass fields null.
    let out = run(
        &["verify", "--json", "--direction", "out", "PG:NOTAPASS"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json_line(&out);
    assert_eq!(v["accepted"], false);
    assert_eq!(v["reason"], "malformed");
    assert_eq!(v["number"], Value::Null);
    assert_eq!(v["class"], Value::Null);
    assert_eq!(v["direction"], "out");
    assert_eq!(v["seq"], 2);

    let c = counts(tmp.path()).await;
    assert_eq!((c.total, c.unsent), (2, 2));
}

#[tokio::test]
async fn rule_rejections_keep_the_trusted_pass_fields() {
    let tmp = tempfile::tempdir().unwrap();
    // Checkpoint 4 is not on the long-haul route.
    init_dir(tmp.path(), "http://127.0.0.1:9", 4, &bundle(1)).await;
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
    init_dir(tmp.path(), "http://127.0.0.1:9", 3, &bundle(1)).await;

    let out = run(&["verify", &text(0)], tmp.path());
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
    init_dir(tmp.path(), "http://127.0.0.1:9", 3, &bundle(1)).await;
    let mut child = Command::new(BIN)
        .args(["scan", "--json", "--direction", "out", "--data-dir"])
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
    assert!(v.iter().all(|v| v["direction"] == "out"));
    assert_eq!(counts(tmp.path()).await.total, 5);
}

#[tokio::test]
async fn status_and_report() {
    let tmp = tempfile::tempdir().unwrap();
    init_dir(tmp.path(), "http://127.0.0.1:9", 3, &bundle(7)).await;
    run(&["verify", &text(0)], tmp.path());
    run(&["verify", &text(0)], tmp.path());
    run(&["verify", "--direction", "out", "garbage"], tmp.path());

    let out = run(&["status", "--json"], tmp.path());
    assert_eq!(out.status.code(), Some(0));
    let v = json_line(&out);
    assert_eq!(v["checkpoint_id"], 3);
    assert_eq!(v["checkpoint_name"], "东门卡口");
    assert_eq!(v["bundle_version"], 7);
    assert_eq!(v["stale"], false);
    assert_eq!(v["scans"], 3);
    assert_eq!(v["unsent"], 3);
    assert_eq!(v["last_sync_at"], Value::Null);
    assert!(v.get("token").is_none());

    let out = run(&["status"], tmp.path());
    assert!(stdout(&out).contains("未上传 3 条"), "{}", stdout(&out));

    let today = passgate_checkpoint::app::beijing_today().to_string();
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

    let out = run(&["report", "--json", "--date", "2020-01-01"], tmp.path());
    assert_eq!(json_line(&out)["total"], 0);
}

/// Every verdict that reached stdout is in the database, even when the process is killed
/// with SIGKILL in the middle of a burst.
#[tokio::test]
async fn killed_mid_burst_loses_no_printed_verdict() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    init_dir(tmp.path(), "http://127.0.0.1:9", 3, &bundle(1)).await;
    let mut child = Command::new(BIN)
        .args(["scan", "--json", "--data-dir"])
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
    for _ in 0..200 {
        writeln!(stdin, "{pass}").unwrap();
    }
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    child.kill().unwrap();
    child.wait().unwrap();
    for line in reader.lines() {
        printed.push(line.unwrap());
    }
    assert!(printed.len() >= 10);

    let store = passgate_checkpoint::Store::open(tmp.path()).await.unwrap();
    for line in &printed {
        let v: Value = serde_json::from_str(line).unwrap();
        let seq = v["seq"].as_u64().unwrap();
        let stored = store
            .scan_by_seq(seq)
            .await
            .unwrap()
            .expect("printed verdict not stored");
        assert_eq!(stored.id, v["scan_id"].as_str().unwrap());
    }
    let c = store.counts().await.unwrap();
    assert!(c.total >= printed.len() as u64);
    store.close().await;
}
