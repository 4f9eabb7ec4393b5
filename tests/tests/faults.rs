#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Fault injection (issue 8) with real processes: the real `passgate-server` and the real
//! `passgate-checkpoint` binaries, and faults made for real — a full tmpfs, a database
//! locked by another program, damaged files, an HTTP proxy that fails, stalls and cuts
//! connections (`passgate_tests::proxy`), `kill -9`, a gate clock that jumps. What each
//! fault does and what was fixed: `docs/faults.md`.
//!
//! Every test ends with the same kind of proof: what the gate printed is recorded locally
//! (`check` passes: integrity, chain, bundle), and after a sync the server holds each of
//! the gate's records exactly once (its own database, read with the `sqlite3` shell, and
//! `GET /usage/daily`).

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use passgate_shared::time::local_day;
use passgate_tests::proxy::{Fault, FaultProxy};
use passgate_tests::{Api, Backend, Checkpoint, Server, TestDatabase, now, rfc3339};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The knob the gate clock obeys (testing and drills only).
const FAKE_NOW: &str = "PASSGATE_CHECKPOINT_FAKE_NOW";
const UPLOAD: &str = "POST /api/v1/sync/upload";
const BUNDLE: &str = "GET /api/v1/sync/bundle";

// ---------------------------------------------------------------------------------------
// The zone: a real server, an ops and a transport token, one enterprise.

struct Zone {
    server: Server,
    ops: Api,
    transport: Api,
    enterprise: u64,
    _dir: TempDir,
    /// The PostgreSQL database of a server on PostgreSQL (dropped after the server).
    db: TestDatabase,
}

impl Zone {
    fn start() -> Zone {
        Zone::start_on(Backend::Sqlite, "faults").unwrap()
    }

    /// A zone whose server runs on `backend`; `None`: skip (PostgreSQL not configured
    /// outside CI).
    fn start_on(backend: Backend, test: &str) -> Option<Zone> {
        let db = TestDatabase::new(backend, test).unwrap()?;
        let dir = tempfile::tempdir().unwrap();
        let args = db.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::start_with(dir.path(), "127.0.0.1:0", &args).unwrap();
        let ops = server.api(&server.token("ops", "fault ops", None).unwrap());
        let transport = server.api(&server.token("transport", "fault transport", None).unwrap());
        let enterprise = ops
            .create("/enterprises", &json!({"name": "示范区物流公司"}))
            .unwrap()["id"]
            .as_u64()
            .unwrap();
        Some(Zone {
            server,
            ops,
            transport,
            enterprise,
            _dir: dir,
            db,
        })
    }

    /// An enterprise gate inside the zone.
    fn gate(&self, name: &str) -> u64 {
        self.ops
            .create(
                "/checkpoints",
                &json!({"name": name, "inside_zone": true, "enterprise_id": self.enterprise}),
            )
            .unwrap()["id"]
            .as_u64()
            .unwrap()
    }

    /// Issue a pass of `class` valid from an hour ago until `until`: (number, QR text).
    fn issue(&self, class: &str, i: u32, until: i64) -> (String, String) {
        let p = self
            .ops
            .create(
                "/passes",
                &json!({
                    "class": class,
                    "plate": format!("豫U{:05}", 20_000 + i),
                    "driver": "李四海",
                    "enterprise_id": self.enterprise,
                    "origin": "419001",
                    "destination": "410102",
                    "cargo": "production_materials",
                    "valid_from": rfc3339(now() - 3600),
                    "valid_until": rfc3339(until),
                }),
            )
            .unwrap();
        (
            p["number"].as_str().unwrap().to_owned(),
            p["qr_text"].as_str().unwrap().to_owned(),
        )
    }

    /// Enrol the checkpoint program in `dir` at `checkpoint`, talking to `server_url`
    /// (the server itself or a proxy in front of it).
    fn enroll(&self, checkpoint: u64, dir: &Path, server_url: &str) -> Checkpoint {
        Checkpoint::enroll(dir, &self.ops, checkpoint, server_url).unwrap()
    }

    /// The server's total of today's scans at `checkpoint` (`GET /usage/daily`).
    fn usage_total(&self, checkpoint: u64) -> u64 {
        let mut total = 0;
        for day in [local_day(now() - 86_400), local_day(now())] {
            let (s, v) = self
                .transport
                .get(&format!("/usage/daily?date={day}"))
                .unwrap();
            assert_eq!(s, 200, "{v}");
            total += v["rows"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["checkpoint_id"].as_u64() == Some(checkpoint))
                .map(|r| r["count"].as_u64().unwrap())
                .sum::<u64>();
        }
        total
    }

    /// The ids of the records the server holds from `device`, and how many rows that is.
    fn server_ids(&self, device: u64) -> Option<(BTreeSet<String>, usize)> {
        let sql = format!("SELECT id FROM scans WHERE device_id = {device} ORDER BY seq");
        let out = match &self.db.pg {
            None => sqlite3(&self.server.data_dir.join("passgate.db"), &sql)?,
            Some(pg) => psql(&pg.url, &sql)?,
        };
        let rows: Vec<String> = out.lines().map(str::to_owned).collect();
        let n = rows.len();
        Some((rows.into_iter().collect(), n))
    }
}

// ---------------------------------------------------------------------------------------
// Driving the gate program.

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Run a checkpoint subcommand with `--data-dir`, the gate clock at `clock` (or the
/// system clock) and no stdin.
fn run(cp: &Checkpoint, clock: Option<i64>, args: &[&str]) -> Output {
    let mut cmd = cp.command().unwrap();
    let (sub, rest) = args.split_first().unwrap();
    cmd.arg(sub).arg("--data-dir").arg(&cp.data_dir).args(rest);
    match clock {
        Some(t) => cmd.env(FAKE_NOW, t.to_string()),
        None => cmd.env_remove(FAKE_NOW),
    };
    cmd.stdin(Stdio::null()).output().unwrap()
}

/// The last stdout line as JSON.
fn last_json(out: &Output) -> Value {
    let stdout = text(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}) in {stdout:?}; exit {:?}; stderr {}",
            out.status.code(),
            text(&out.stderr)
        )
    })
}

/// A command that must not have panicked: no panic message, no panic exit status (101),
/// not killed by a signal.
fn no_panic(out: &Output, what: &str) {
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what} panicked: {stderr}");
    let code = out.status.code();
    assert!(
        code.is_some() && code != Some(101),
        "{what} ended with {:?}: {stderr}",
        out.status
    );
}

/// `verify --json TEXT` at `clock`: (exit code, verdict or error object).
fn verify(cp: &Checkpoint, clock: Option<i64>, qr: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["verify", "--json"];
    args.extend_from_slice(extra);
    args.push(qr);
    let out = run(cp, clock, &args);
    no_panic(&out, "verify");
    (out.status.code().unwrap(), last_json(&out))
}

fn status(cp: &Checkpoint, clock: Option<i64>) -> Value {
    let out = run(cp, clock, &["status", "--json"]);
    assert!(out.status.success(), "status: {}", text(&out.stderr));
    last_json(&out)
}

/// `check --json`: (exit code, report or error object).
fn check(cp: &Checkpoint) -> (i32, Value) {
    let out = run(cp, None, &["check", "--json"]);
    no_panic(&out, "check");
    (out.status.code().unwrap(), last_json(&out))
}

/// `sync --json` with extra arguments: (exit code, summary or error object).
fn sync(cp: &Checkpoint, clock: Option<i64>, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["sync", "--json"];
    args.extend_from_slice(extra);
    let out = run(cp, clock, &args);
    no_panic(&out, "sync");
    (out.status.code().unwrap(), last_json(&out))
}

/// Feed `lines` to one `scan --json` session; the printed objects.
fn scan_burst(cp: &Checkpoint, lines: &[&str]) -> Vec<Value> {
    let mut child = cp
        .command()
        .unwrap()
        .args(["scan", "--json", "--data-dir"])
        .arg(&cp.data_dir)
        .env_remove(FAKE_NOW)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = lines.join("\n");
    input.push('\n');
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "scan: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A `scan --json` session fed one line at a time: a scanner at a gate.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    out: mpsc::Receiver<String>,
}

impl Session {
    fn start(cp: &Checkpoint) -> Session {
        let mut child = cp
            .command()
            .unwrap()
            .args(["scan", "--json", "--data-dir"])
            .arg(&cp.data_dir)
            .env_remove(FAKE_NOW)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Session {
            stdin: child.stdin.take(),
            child,
            out: rx,
        }
    }

    /// Scan one line and wait for what is printed for it.
    fn scan(&mut self, line: &str) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        let printed = self
            .out
            .recv_timeout(Duration::from_secs(90))
            .unwrap_or_else(|_| {
                panic!("no answer to a scan; session: {:?}", self.child.try_wait())
            });
        serde_json::from_str(&printed).unwrap()
    }

    /// End the input and wait: the exit status and stderr.
    fn finish(mut self) -> (Option<i32>, String) {
        drop(self.stdin.take());
        let out = self.child.wait_with_output().unwrap();
        (out.status.code(), text(&out.stderr))
    }
}

/// Run the `sqlite3` shell. Missing `sqlite3` skips the part that needs it, except under
/// `CI=true`, where it is an error.
fn sqlite3(db: &Path, sql: &str) -> Option<String> {
    let out = match Command::new("sqlite3").arg(db).arg(sql).output() {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var("CI").is_err(),
                "sqlite3 is needed under CI=true: {e}"
            );
            eprintln!("sqlite3 not available ({e}): skipping the part that reads a database");
            return None;
        }
    };
    assert!(out.status.success(), "sqlite3 {sql}: {}", text(&out.stderr));
    Some(text(&out.stdout))
}

/// Run `psql` (for a server on PostgreSQL); skips like [`sqlite3`] when it is missing.
fn psql(url: &str, sql: &str) -> Option<String> {
    // The test URL may carry sqlx options psql does not know.
    let url = url.split('?').next().unwrap_or(url);
    let out = match Command::new("psql").args([url, "-At", "-c", sql]).output() {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var("CI").is_err(),
                "psql is needed under CI=true: {e}"
            );
            eprintln!("psql not available ({e}): skipping the part that reads the database");
            return None;
        }
    };
    assert!(out.status.success(), "psql {sql}: {}", text(&out.stderr));
    Some(text(&out.stdout))
}

/// The record ids in the gate's own log.
fn gate_ids(cp: &Checkpoint) -> Option<BTreeSet<String>> {
    let out = sqlite3(&cp.data_dir.join("checkpoint.db"), "SELECT id FROM scans")?;
    Some(out.lines().map(str::to_owned).collect())
}

/// The printed scan ids of verdict objects (error objects have none).
fn scan_ids(printed: &[Value]) -> Vec<String> {
    printed
        .iter()
        .filter_map(|v| v["scan_id"].as_str().map(str::to_owned))
        .collect()
}

/// After a clean sync: the server holds exactly the gate's records, once each, the
/// printed ones among them, and its daily counts agree.
fn assert_exactly_once(zone: &Zone, cp: &Checkpoint, checkpoint: u64, printed: &BTreeSet<String>) {
    let st = status(cp, None);
    assert_eq!(st["unsent"], 0, "{st}");
    let local = st["scans"].as_u64().unwrap();
    assert!(local >= printed.len() as u64);
    assert_eq!(zone.usage_total(checkpoint), local, "server counts vs gate");
    let device = st["device_id"].as_u64().unwrap();
    if let (Some(gate), Some((server, rows))) = (gate_ids(cp), zone.server_ids(device)) {
        assert_eq!(gate.len() as u64, local);
        assert!(printed.is_subset(&gate), "a printed scan is not in the log");
        assert_eq!(rows, server.len(), "a record is on the server twice");
        assert_eq!(server, gate, "server and gate hold different records");
    }
    let (code, report) = check(cp);
    assert_eq!((code, &report["ok"]), (0, &json!(true)), "{report}");
}

// ---------------------------------------------------------------------------------------
// Server faults during sync.

/// The server (through the proxy) answers 500 and 502, stalls past the client timeout,
/// and cuts the connection after the server committed or half-way through the answer; the
/// bundle download fails the same ways. The client retries; counts stay exact; a sync
/// that runs out of tries leaves the batch unsent, and the next one gets duplicates back.
#[test]
fn sync_survives_errors_stalls_and_cut_connections_sqlite() {
    sync_survives_errors_stalls_and_cut_connections(Backend::Sqlite);
}

/// The same with the server on PostgreSQL; required under `CI=true`.
#[test]
fn sync_survives_errors_stalls_and_cut_connections_postgres() {
    sync_survives_errors_stalls_and_cut_connections(Backend::Postgres);
}

fn sync_survives_errors_stalls_and_cut_connections(backend: Backend) {
    let Some(zone) = Zone::start_on(backend, "sync faults") else {
        return;
    };
    let checkpoint = zone.gate("东门卡口");
    let proxy = FaultProxy::start(zone.server.addr()).unwrap();
    let gate_dir = tempfile::tempdir().unwrap();
    let cp = zone.enroll(checkpoint, gate_dir.path(), &proxy.url);
    let (_, qr) = zone.issue("short_haul", 1, now() + 86_400);
    let mut printed = BTreeSet::new();
    let burst = [qr.as_str(), "not a pass", qr.as_str(), "PG:garbage"];

    let rounds: [(&str, Vec<Fault>, &[&str]); 3] = [
        (
            UPLOAD,
            vec![
                Fault::Status(500),
                Fault::Status(502),
                Fault::CutAfterForward,
            ],
            &[],
        ),
        (
            UPLOAD,
            vec![Fault::Stall(Duration::from_secs(8)), Fault::CutMidResponse],
            &["--timeout", "2"],
        ),
        (
            BUNDLE,
            vec![
                Fault::Status(503),
                Fault::CutMidResponse,
                Fault::Stall(Duration::from_secs(8)),
            ],
            &["--timeout", "2"],
        ),
    ];
    for (i, (matching, faults, extra)) in rounds.into_iter().enumerate() {
        let out = scan_burst(&cp, &burst);
        assert_eq!(out.len(), burst.len());
        printed.extend(scan_ids(&out));
        proxy.script(matching, &faults);
        let started = Instant::now();
        let (code, s) = sync(&cp, None, extra);
        assert_eq!(code, 0, "round {i}: {s}");
        assert_eq!(proxy.pending(), 0, "round {i}: every fault was met");
        assert_eq!(s["uploaded"], burst.len(), "round {i}: {s}");
        // A cut after the server committed comes back as duplicates on the retry.
        let stored = s["stored"].as_u64().unwrap();
        let dups = s["duplicates"].as_u64().unwrap();
        assert_eq!(stored + dups, burst.len() as u64, "round {i}: {s}");
        if faults.iter().any(|f| {
            matches!(
                f,
                Fault::CutAfterForward | Fault::CutMidResponse | Fault::Stall(_)
            )
        }) && matching == UPLOAD
        {
            assert_eq!(dups, burst.len() as u64, "round {i}: {s}");
        }
        eprintln!("round {i}: {s} in {:?}", started.elapsed());
    }

    // Every try cut after the server committed: the sync gives up (exit 3, network), the
    // records stay unsent here, and the next sync is told they are duplicates.
    let out = scan_burst(&cp, &burst);
    printed.extend(scan_ids(&out));
    proxy.script(UPLOAD, &[Fault::CutAfterForward; 4]);
    let (code, e) = sync(&cp, None, &["--timeout", "5"]);
    assert_eq!((code, e["error"].as_str()), (3, Some("network")), "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("stay stored locally"),
        "{e}"
    );
    assert_eq!(status(&cp, None)["unsent"], burst.len());
    let (code, s) = sync(&cp, None, &[]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(
        (&s["uploaded"], &s["stored"], &s["duplicates"]),
        (&json!(burst.len()), &json!(0), &json!(burst.len())),
        "{s}"
    );
    assert!(proxy.seen().len() > 10);
    assert_exactly_once(&zone, &cp, checkpoint, &printed);
}

// ---------------------------------------------------------------------------------------
// kill -9.

/// A small deterministic generator (xorshift), seeded from the clock and printed, so a
/// failing run can be replayed with `PASSGATE_FAULT_SEED`.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("PASSGATE_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| now().unsigned_abs() ^ u64::from(std::process::id()));
        eprintln!("kill -9 loop seed: {seed} (PASSGATE_FAULT_SEED={seed} replays it)");
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Power cuts: twenty times, a burst of 20–99 scans and (every other time) a sync run at
/// once, and both are killed with SIGKILL after a random 0–150 ms; every fifth time the server is
/// killed too and restarted. At the end every scan the gate printed is in its log and on
/// the server exactly once, the chain is whole, and nothing is counted twice.
#[test]
fn kill_9_during_scans_and_syncs_loses_nothing_printed_and_counts_nothing_twice_sqlite() {
    kill_9_loop(Backend::Sqlite);
}

/// The same with the server on PostgreSQL; required under `CI=true`.
#[test]
fn kill_9_during_scans_and_syncs_loses_nothing_printed_and_counts_nothing_twice_postgres() {
    kill_9_loop(Backend::Postgres);
}

fn kill_9_loop(backend: Backend) {
    let Some(mut zone) = Zone::start_on(backend, "kill -9 loop") else {
        return;
    };
    let checkpoint = zone.gate("南门卡口");
    let gate_dir = tempfile::tempdir().unwrap();
    let server_url = zone.server.url.clone();
    let cp = zone.enroll(checkpoint, gate_dir.path(), &server_url);
    let (_, qr) = zone.issue("short_haul", 2, now() + 86_400);
    let mut rng = Rng::new();
    let mut printed = BTreeSet::new();
    let mut killed_mid_burst = 0;
    for cycle in 0..20 {
        let mut scan = cp
            .command()
            .unwrap()
            .args(["scan", "--json", "--data-dir"])
            .arg(&cp.data_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = scan.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            // Only whole lines count as printed: a line cut by the kill was never shown.
            let mut whole = Vec::new();
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if line.ends_with('\n')
                    && let Ok(v) = serde_json::from_str::<Value>(&line)
                {
                    whole.push(v);
                }
                line.clear();
            }
            whole
        });
        let mut sync = (cycle % 2 == 0).then(|| {
            cp.command()
                .unwrap()
                .args(["sync", "--json", "--timeout", "5", "--data-dir"])
                .arg(&cp.data_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        });
        let n = 20 + rng.below(80) as usize;
        let mut input = String::new();
        for i in 0..n {
            input.push_str(if i % 4 == 3 { "not a pass\n" } else { &qr });
            if i % 4 != 3 {
                input.push('\n');
            }
        }
        // The whole burst waits in the pipe, as from a fast scanner.
        let _ = scan.stdin.as_mut().unwrap().write_all(input.as_bytes());
        std::thread::sleep(Duration::from_millis(rng.below(150)));
        let _ = scan.kill();
        let _ = scan.wait();
        if let Some(s) = sync.as_mut() {
            let _ = s.kill();
            let _ = s.wait();
        }
        if cycle % 5 == 4 {
            zone.server.restart().unwrap();
        }
        let out = reader.join().unwrap();
        if out.len() < n {
            killed_mid_burst += 1;
        }
        printed.extend(scan_ids(&out));
    }
    eprintln!(
        "{} scans printed, {killed_mid_burst} of 20 bursts cut short",
        printed.len()
    );
    assert!(!printed.is_empty());
    let (code, s) = sync(&cp, None, &[]);
    assert_eq!(code, 0, "{s}");
    assert_exactly_once(&zone, &cp, checkpoint, &printed);
}

// ---------------------------------------------------------------------------------------
// Full disk.

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mount a tmpfs of `size` (e.g. "8m") on a new directory; `None` (skip) when this
    /// machine does not allow it (not root, no mount), except under `CI=true`.
    fn mount(size: &str) -> Option<(Tmpfs, TempDir)> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some((Tmpfs(dir.path().to_owned()), dir)),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs here ({}); the full-disk test needs root",
                    text(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount ({e}); the full-disk test needs root");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Write zeros to `path` until the file system is full.
fn fill(path: &Path) -> u64 {
    let mut f = fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = f.sync_all();
    written
}

/// The data directory's disk fills up in the middle of a scanning session: each scan that
/// cannot be recorded gets a clear "disk full, not recorded" answer (no verdict), the log
/// stays intact, and once space returns the same session records scans again — which it
/// did not before: a failed commit left the pooled connection's transaction state behind
/// and every later scan failed.
#[test]
fn full_disk_is_a_clear_error_and_scanning_resumes_when_space_returns() {
    let Some((fs_guard, mnt)) = Tmpfs::mount("8m") else {
        assert!(
            std::env::var("CI").is_err(),
            "the full-disk test must run under CI=true (as root)"
        );
        return;
    };
    let zone = Zone::start();
    let checkpoint = zone.gate("西门卡口");
    let gate_dir = mnt.path().join("gate");
    let server_url = zone.server.url.clone();
    let cp = zone.enroll(checkpoint, &gate_dir, &server_url);
    let (_, qr) = zone.issue("short_haul", 3, now() + 86_400);
    let mut printed = Vec::new();

    let mut session = Session::start(&cp);
    for _ in 0..3 {
        let v = session.scan(&qr);
        assert!(v["scan_id"].is_string(), "{v}");
        printed.push(v);
    }
    let filler = mnt.path().join("filler");
    let filled = fill(&filler);
    eprintln!("filled the tmpfs with {filled} bytes");
    let mut refused = Vec::new();
    for _ in 0..50 {
        let v = session.scan(&qr);
        if v["error"].is_string() {
            refused.push(v);
            if refused.len() == 3 {
                break;
            }
        } else {
            printed.push(v);
        }
    }
    assert!(!refused.is_empty(), "the full disk never refused a scan");
    for v in &refused {
        assert_eq!(v["error"], "disk_full", "{v}");
        assert_eq!(v["recorded"], false, "{v}");
        let m = v["message"].as_str().unwrap();
        assert!(
            m.contains("full") && m.contains("nothing was recorded"),
            "{m}"
        );
    }

    // Space returns: the same session goes on recording.
    fs::remove_file(&filler).unwrap();
    for _ in 0..5 {
        let v = session.scan(&qr);
        assert!(v["scan_id"].is_string(), "scanning did not resume: {v}");
        printed.push(v);
    }
    let (code, stderr) = session.finish();
    assert_eq!(
        code,
        Some(2),
        "a session with unrecorded scans exits 2: {stderr}"
    );
    assert!(stderr.contains("disk"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The log is intact and holds exactly what was printed.
    let (code, report) = check(&cp);
    assert_eq!(
        (code, &report["integrity"]),
        (0, &json!(["ok"])),
        "{report}"
    );
    assert_eq!(report["scans_checked"], printed.len());
    let ids: BTreeSet<String> = scan_ids(&printed).into_iter().collect();
    assert_eq!(ids.len(), printed.len());
    let (code, s) = sync(&cp, None, &[]);
    assert_eq!(code, 0, "{s}");
    assert_exactly_once(&zone, &cp, checkpoint, &ids);
    drop(fs_guard);
}

// ---------------------------------------------------------------------------------------
// Locked and damaged databases, damaged bundle files.

/// Another program holds the database's write lock: `verify` waits the busy timeout, then
/// says the database is locked and that nothing was recorded (exit 2, no panic); once the
/// lock is gone it works.
#[test]
fn locked_database_is_a_clear_error() {
    let zone = Zone::start();
    let checkpoint = zone.gate("北门卡口");
    let gate_dir = tempfile::tempdir().unwrap();
    let cp = zone.enroll(checkpoint, gate_dir.path(), &zone.server.url);
    let (_, qr) = zone.issue("short_haul", 4, now() + 86_400);
    let db = gate_dir.path().join("checkpoint.db");
    let mut holder = match Command::new("sqlite3")
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            assert!(std::env::var("CI").is_err(), "sqlite3 is needed: {e}");
            eprintln!("SKIPPED: sqlite3 not available ({e})");
            return;
        }
    };
    let mut hin = holder.stdin.take().unwrap();
    hin.write_all(b"BEGIN IMMEDIATE;\nSELECT 'holding';\n")
        .unwrap();
    hin.flush().unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "holding");

    let (code, e) = verify(&cp, None, &qr, &[]);
    assert_eq!(
        (code, e["error"].as_str()),
        (2, Some("database_locked")),
        "{e}"
    );
    let m = e["message"].as_str().unwrap();
    assert!(
        m.contains("locked") && m.contains("nothing was recorded"),
        "{m}"
    );

    drop(hin); // the holder ends, its transaction rolls back
    holder.wait().unwrap();
    let (code, v) = verify(&cp, None, &qr, &[]);
    assert_eq!((code, &v["accepted"]), (0, &json!(true)), "{v}");
    assert_eq!(v["seq"], 1, "the locked attempt recorded nothing");
}

/// Copy a data directory (after its program ended, so the WAL is merged).
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The database file damaged three ways — a garbage header, garbage pages, cut in half:
/// every command answers with an error that says what to do (or `check` lists the
/// damage), never a panic, and the damaged-header case is named as such.
#[test]
fn damaged_database_file_is_a_clear_error_not_a_panic() {
    let zone = Zone::start();
    let checkpoint = zone.gate("货运卡口");
    let gate_dir = tempfile::tempdir().unwrap();
    let cp = zone.enroll(checkpoint, gate_dir.path(), &zone.server.url);
    let (_, qr) = zone.issue("short_haul", 5, now() + 86_400);
    let out = scan_burst(&cp, &[qr.as_str(), qr.as_str(), "not a pass"]);
    assert_eq!(out.len(), 3);
    assert_eq!(check(&cp).0, 0);

    type Damage = fn(&Path);
    let damages: [(&str, Damage); 3] = [
        ("garbage header", |db| {
            let mut bytes = fs::read(db).unwrap();
            bytes[..100].fill(0xab);
            fs::write(db, bytes).unwrap();
        }),
        ("garbage pages", |db| {
            let mut bytes = fs::read(db).unwrap();
            let len = bytes.len();
            for (i, b) in bytes[4096..len].iter_mut().enumerate() {
                *b = (i * 7 % 251) as u8;
            }
            fs::write(db, bytes).unwrap();
        }),
        ("cut in half", |db| {
            let f = fs::OpenOptions::new().write(true).open(db).unwrap();
            let len = f.metadata().unwrap().len();
            f.set_len(len / 2 / 4096 * 4096).unwrap();
        }),
    ];
    for (name, damage) in damages {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(gate_dir.path(), dir.path());
        damage(&dir.path().join("checkpoint.db"));
        let damaged = Checkpoint::new(dir.path());
        for args in [
            vec!["verify", "--json", qr.as_str()],
            vec!["status", "--json"],
            vec!["report", "--json"],
            vec!["sync", "--json", "--timeout", "5"],
        ] {
            let out = run(&damaged, None, &args);
            no_panic(&out, &format!("{name}: {args:?}"));
            eprintln!(
                "{name}: {:?} exit {:?}: {}",
                args[0],
                out.status.code(),
                text(&out.stderr).trim()
            );
        }
        let (code, v) = verify(&damaged, None, &qr, &[]);
        let (check_code, report) = check(&damaged);
        assert_eq!(
            check_code, 2,
            "{name}: check must flag the damage: {report}"
        );
        if name != "cut in half" {
            assert_eq!(
                (code, v["error"].as_str()),
                (2, Some("database_damaged")),
                "{name}: {v}"
            );
            let m = v["message"].as_str().unwrap();
            assert!(
                m.contains("damaged") && m.contains("keep the data directory"),
                "{m}"
            );
        }
    }
}

/// A stored bundle file cut short, then one overwritten: the gate refuses it, decides with
/// the previous good bundle and says so (`bundle_fallback`, `check` exit 2); `sync`
/// repairs it with a fresh snapshot.
#[test]
fn damaged_bundle_file_is_refused_and_the_previous_good_bundle_kept() {
    let zone = Zone::start();
    let checkpoint = zone.gate("物流园卡口");
    let gate_dir = tempfile::tempdir().unwrap();
    let cp = zone.enroll(checkpoint, gate_dir.path(), &zone.server.url);
    let (_, good) = zone.issue("short_haul", 6, now() + 86_400);
    let (revoked, revoked_qr) = zone.issue("short_haul", 7, now() + 86_400);
    let db = gate_dir.path().join("checkpoint.db");
    let v1 = status(&cp, None)["bundle_version"].as_u64().unwrap();
    zone.ops
        .create(
            &format!("/passes/{revoked}/revoke"),
            &json!({"reason": "车辆更换"}),
        )
        .unwrap();
    let (code, s) = sync(&cp, None, &[]);
    assert_eq!((code, &s["bundle_updated"]), (0, &json!(true)), "{s}");
    let v2 = s["bundle_version"].as_u64().unwrap();
    assert!(v2 > v1);
    let (code, v) = verify(&cp, None, &revoked_qr, &[]);
    assert_eq!((code, v["reason"].as_str()), (1, Some("revoked")), "{v}");

    // The newest stored file (the delta) cut in half.
    if sqlite3(
        &db,
        "UPDATE bundle_files SET bytes = substr(bytes, 1, length(bytes) / 2)
         WHERE id = (SELECT MAX(id) FROM bundle_files)",
    )
    .is_none()
    {
        return;
    }
    let (code, v) = verify(&cp, None, &good, &[]);
    assert_eq!((code, &v["bundle_version"]), (0, &json!(v1)), "{v}");
    assert_eq!(v["bundle_fallback"]["damaged_version"], v2, "{v}");
    let (code, report) = check(&cp);
    assert_eq!(
        (code, &report["bundle_version"]),
        (2, &json!(v1)),
        "{report}"
    );
    assert!(
        report["bundle_problem"]
            .as_str()
            .unwrap()
            .contains("damaged")
    );
    let st = status(&cp, None);
    assert_eq!(st["bundle_fallback"]["damaged_version"], v2, "{st}");
    for (lang, says) in [("en", "Problems found"), ("zh", "发现问题")] {
        let out = run(&cp, None, &["check", "--lang", lang]);
        assert_eq!(out.status.code(), Some(2));
        let t = text(&out.stdout);
        eprintln!("{t}");
        assert!(t.contains(says) && t.contains(&format!("{v1}")), "{t}");
    }

    // Sync repairs it with a snapshot.
    let (code, s) = sync(&cp, None, &[]);
    assert_eq!((code, &s["snapshot"]), (0, &json!(true)), "{s}");
    assert_eq!(check(&cp).0, 0);
    let (code, v) = verify(&cp, None, &revoked_qr, &[]);
    assert_eq!((code, v["reason"].as_str()), (1, Some("revoked")), "{v}");
    assert!(v["bundle_fallback"].is_null(), "{v}");

    // The newest snapshot overwritten with zeros: the previous generation is used, or, if
    // none is kept, a clear "no usable bundle" error — never a panic or a guess.
    sqlite3(
        &db,
        "UPDATE bundle_files SET bytes = zeroblob(length(bytes))
         WHERE id = (SELECT MAX(id) FROM bundle_files)",
    );
    let (code, v) = verify(&cp, None, &good, &[]);
    if v["error"].is_string() {
        assert_eq!(
            (code, v["error"].as_str()),
            (2, Some("no_usable_bundle")),
            "{v}"
        );
    } else {
        assert_eq!(code, 0, "{v}");
        assert!(v["bundle_fallback"].is_object(), "{v}");
    }
    assert_eq!(check(&cp).0, 2);
    let (code, s) = sync(&cp, None, &[]);
    assert_eq!(code, 0, "{s}");
    let (code, report) = check(&cp);
    assert_eq!(code, 0, "{report}");
    let out = run(&cp, None, &["check", "--lang", "en"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("All checks passed"));
}

// ---------------------------------------------------------------------------------------
// Clock jumps at the gate.

/// The gate clock jumps forward two days (the pass has expired then), comes back (the
/// time floor keeps it from being fooled, and says the clock is behind), a sync with the
/// server resets the floor that ran ahead (before the fix it stayed two days ahead for
/// good), a jump back of three hours cannot readmit a truck that is inside or make a
/// dwell time negative, and a gate clock ahead of the server's is reported by `status`.
/// The server gets every record once, in chain order.
#[test]
fn clock_jumps_forward_and_backward() {
    let zone = Zone::start();
    let checkpoint = zone.gate("钢厂卡口");
    let gate_dir = tempfile::tempdir().unwrap();
    let cp = zone.enroll(checkpoint, gate_dir.path(), &zone.server.url);
    let t0 = now();
    let (_, short) = zone.issue("short_haul", 8, t0 + 86_400);
    let (_, lul) = zone.issue("load_unload_leave", 9, t0 + 86_400);
    let mut seqs = Vec::new();

    let (code, v) = verify(&cp, Some(t0), &short, &[]);
    assert_eq!(code, 0, "{v}");
    seqs.push(v["seq"].as_u64().unwrap());

    // Forward two days: the pass has expired.
    let (code, v) = verify(&cp, Some(t0 + 2 * 86_400), &short, &[]);
    assert_eq!((code, v["reason"].as_str()), (1, Some("expired")), "{v}");
    seqs.push(v["seq"].as_u64().unwrap());

    // Back to the true time: the floor still says two days later, and says why.
    let (code, v) = verify(&cp, Some(t0), &short, &[]);
    assert_eq!((code, v["reason"].as_str()), (1, Some("expired")), "{v}");
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .contains(&json!("clock_behind")),
        "{v}"
    );
    seqs.push(v["seq"].as_u64().unwrap());
    let st = status(&cp, Some(t0));
    assert_eq!(st["clock_behind"], true, "{st}");
    assert!(st["clock_behind_seconds"].as_i64().unwrap() >= 2 * 86_400 - 60);

    // A sync compares with the server's clock and resets the floor.
    let (code, s) = sync(&cp, Some(t0 + 30), &[]);
    assert_eq!((code, &s["clock_reset"]), (0, &json!(true)), "{s}");
    assert!(
        s["clock_offset_seconds"].as_i64().unwrap().abs() < 600,
        "{s}"
    );
    let st = status(&cp, Some(t0 + 60));
    assert_eq!(st["clock_behind"], false, "{st}");
    let (code, v) = verify(&cp, Some(t0 + 60), &short, &[]);
    assert_eq!((code, &v["accepted"]), (0, &json!(true)), "{v}");
    assert!(v["warnings"].as_array().unwrap().is_empty(), "{v}");
    seqs.push(v["seq"].as_u64().unwrap());

    // A load-unload-leave truck enters; the clock is set back three hours.
    let (code, v) = verify(&cp, Some(t0 + 120), &lul, &["--direction", "in"]);
    assert_eq!(code, 0, "{v}");
    seqs.push(v["seq"].as_u64().unwrap());
    let back = t0 + 120 - 3 * 3600;
    let (code, v) = verify(&cp, Some(back), &lul, &["--direction", "in"]);
    assert_eq!(
        (code, v["reason"].as_str()),
        (1, Some("already_inside")),
        "{v}"
    );
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .contains(&json!("clock_behind")),
        "{v}"
    );
    seqs.push(v["seq"].as_u64().unwrap());
    let (code, v) = verify(&cp, Some(back), &lul, &["--direction", "out"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        v["dwell_minutes"], 0,
        "a clock set back makes no negative dwell: {v}"
    );
    seqs.push(v["seq"].as_u64().unwrap());
    let st = status(&cp, Some(back));
    assert_eq!(st["clock_behind"], true, "{st}");
    let out = run(&cp, Some(back), &["status", "--lang", "en"]);
    assert!(
        text(&out.stdout).contains("behind"),
        "{}",
        text(&out.stdout)
    );
    // Nothing reordered or duplicated: seq follows the order of the scans.
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());

    // A gate clock three hours ahead at sync time is reported.
    let (code, s) = sync(&cp, Some(t0 + 3 * 3600), &[]);
    assert_eq!(code, 0, "{s}");
    assert!(
        s["clock_offset_seconds"].as_i64().unwrap() > 3 * 3600 - 600,
        "{s}"
    );
    let st = status(&cp, Some(t0 + 3 * 3600));
    assert_eq!(st["clock_ahead"], true, "{st}");
    assert!(st["clock_ahead_seconds"].as_i64().unwrap() > 3 * 3600 - 600);
    let out = run(&cp, Some(t0 + 3 * 3600), &["status", "--lang", "en"]);
    assert!(text(&out.stdout).contains("ahead"), "{}", text(&out.stdout));

    // The server has every record once, in chain order.
    let device = st["device_id"].as_u64().unwrap();
    if let Some(out) = sqlite3(
        &zone.server.data_dir.join("passgate.db"),
        &format!("SELECT seq FROM scans WHERE device_id = {device} ORDER BY seq"),
    ) {
        let server: Vec<u64> = out.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(server, seqs);
    }
}
