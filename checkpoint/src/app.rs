//! The commands of the `passgate-checkpoint` program, as library functions: each takes its
//! options and an output stream, does the work, writes what the user reads and returns a
//! result the binary turns into an exit status. Nothing here exits the process.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use passgate_shared::record::DeviceId;
use passgate_shared::rules::overstay_minutes;
use passgate_shared::sync::{DailyUsage, Direction};
use passgate_shared::time::{local_day, local_day_range};
use passgate_shared::{CheckpointId, Lang, UnixSeconds};
use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::error::{CheckpointError, Result};
use crate::output::{self, local_minute, rfc3339};
use crate::scan::{self, Gate, OverrideRequest, ScanMeta, ScanOutcome};
use crate::store::{InsideEntry, Store};
use crate::trust::{self, HeldBundle};
use crate::{qr, sync};

/// Where the gate's clock comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The system clock (production).
    #[default]
    System,
    /// A fixed time: the binary's testing and drill knob
    /// `PASSGATE_CHECKPOINT_FAKE_NOW=unix_seconds`.
    Fixed(UnixSeconds),
}

impl Clock {
    /// The gate clock now.
    pub fn now(self) -> UnixSeconds {
        match self {
            Clock::System => chrono::Utc::now().timestamp(),
            Clock::Fixed(t) => t,
        }
    }
}

/// Options every command takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    pub data_dir: PathBuf,
    pub lang: Lang,
    /// One JSON object per line on stdout instead of text for people.
    pub json: bool,
    /// Colour the verdict headline and loud warnings (for a terminal; never with `json`).
    pub color: bool,
    pub clock: Clock,
}

impl Common {
    /// Options with colour off and the system clock.
    pub fn new(data_dir: impl Into<PathBuf>, lang: Lang, json: bool) -> Common {
        Common {
            data_dir: data_dir.into(),
            lang,
            json,
            color: false,
            clock: Clock::System,
        }
    }

    /// The same options with another clock.
    pub fn with_clock(mut self, clock: Clock) -> Common {
        self.clock = clock;
        self
    }

    fn now(&self) -> UnixSeconds {
        self.clock.now()
    }
}

/// What `verify` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyInput {
    /// The QR text itself (what a scanner types).
    Text(String),
    /// A PNG or JPEG photo or screenshot holding the QR code.
    Image(PathBuf),
}

/// The system clock.
pub fn now_unix() -> UnixSeconds {
    Clock::System.now()
}

fn write_line(out: &mut dyn Write, text: &str) -> Result<()> {
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|source| CheckpointError::Io {
            context: "cannot write the output".into(),
            source,
        })
}

fn show(out: &mut dyn Write, common: &Common, outcome: &ScanOutcome, gate: &Gate) -> Result<()> {
    if common.json {
        write_line(out, &output::verdict_json(outcome, common.lang).to_string())
    } else {
        write_line(
            out,
            &output::render_human(outcome, common.lang, Some(gate.bundle()), common.color),
        )
    }
}

async fn with_store<T>(dir: &Path, f: impl AsyncFnOnce(&Store) -> Result<T>) -> Result<T> {
    let store = Store::open(dir).await?;
    let result = f(&store).await;
    store.close().await;
    result
}

/// `enroll`: make the device key, register it with the one-time code, fetch and verify the
/// first bundle, store everything, print a summary.
pub async fn enroll(
    common: &Common,
    server: &str,
    code: &str,
    name: Option<&str>,
    out: &mut dyn Write,
) -> Result<sync::EnrollSummary> {
    let client = sync::SyncClient::new(server)?;
    let s = sync::enroll(&common.data_dir, &client, code, name, common.now()).await?;
    let cp = s.bundle.checkpoint(s.checkpoint_id);
    let inside = cp.is_some_and(|c| c.inside_zone);
    let text = if common.json {
        json!({
            "device_id": s.device_id.0,
            "checkpoint_id": s.checkpoint_id.0,
            "checkpoint_name": s.checkpoint_name,
            "inside_zone": inside,
            "enterprise_id": cp.and_then(|c| c.enterprise_id).map(|e| e.0),
            "server_url": s.server_url,
            "public_key": s.public_key,
            "bundle_version": s.bundle.version,
            "bundle_generated_at": rfc3339(s.bundle.generated_at),
            "keys": s.bundle.keys.len(),
            "revoked": s.bundle.revoked.len(),
            "data_dir": common.data_dir.display().to_string(),
        })
        .to_string()
    } else {
        let zone = match (common.lang, inside) {
            (Lang::Zh, true) => "区内",
            (Lang::Zh, false) => "区外",
            (Lang::En, true) => "inside the zone",
            (Lang::En, false) => "outside the zone",
        };
        match common.lang {
            Lang::Zh => format!(
                "注册完成：设备 {}，查验点 {} {}（{}）\n服务器：{}\n信任数据版本：{}（生成于 {}），签发密钥 {} 个，吊销通行证 {} 张\n设备公钥：{}\n数据目录：{}",
                s.device_id,
                s.checkpoint_id,
                s.checkpoint_name,
                zone,
                s.server_url,
                s.bundle.version,
                local_minute(s.bundle.generated_at),
                s.bundle.keys.len(),
                s.bundle.revoked.len(),
                s.public_key,
                common.data_dir.display()
            ),
            Lang::En => format!(
                "Enrolled: device {}, checkpoint {} {} ({})\nServer: {}\nBundle version {} (made {}), {} issuer keys, {} revoked passes\nDevice public key: {}\nData directory: {}",
                s.device_id,
                s.checkpoint_id,
                s.checkpoint_name,
                zone,
                s.server_url,
                s.bundle.version,
                local_minute(s.bundle.generated_at),
                s.bundle.keys.len(),
                s.bundle.revoked.len(),
                s.public_key,
                common.data_dir.display()
            ),
        }
    };
    write_line(out, &text)?;
    Ok(s)
}

/// `verify`: decide on one pass offline, record it (committed), then print the verdict. An
/// image without a readable QR code is [`CheckpointError::NoQrFound`] and records nothing.
pub async fn verify(
    common: &Common,
    input: &VerifyInput,
    direction: Direction,
    meta: &ScanMeta,
    out: &mut dyn Write,
) -> Result<ScanOutcome> {
    with_store(&common.data_dir, async |store| {
        let gate = Gate::load(store).await?;
        let text = match input {
            VerifyInput::Text(t) => t.clone(),
            VerifyInput::Image(path) => qr::decode_file(path)?,
        };
        let outcome = scan::scan(store, &gate, &text, direction, meta, common.now()).await?;
        show(out, common, &outcome, &gate)?;
        Ok(outcome)
    })
    .await
}

/// Totals of a `scan` session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanSession {
    pub accepted: u64,
    pub rejected: u64,
    /// Lines that could not be recorded (full disk, locked or failing database): no
    /// verdict was shown for them.
    pub not_recorded: u64,
}

/// Whether a scan that failed with `e` leaves the session able to go on: the local
/// database refused this one write (full disk, lock, I/O), and the next may succeed.
fn storage_hiccup(e: &CheckpointError) -> bool {
    matches!(
        e,
        CheckpointError::DiskFull { .. }
            | CheckpointError::DatabaseLocked { .. }
            | CheckpointError::Database { .. }
    )
}

/// Tell the guard a scan was not recorded (no verdict): on stderr, and on stdout as text
/// or as `{"error", "message", "recorded": false}`.
fn show_not_recorded(out: &mut dyn Write, common: &Common, e: &CheckpointError) -> Result<()> {
    eprintln!("passgate-checkpoint: {e}");
    if common.json {
        write_line(
            out,
            &json!({"error": e.code(), "message": e.to_string(), "recorded": false}).to_string(),
        )
    } else {
        let head = common.lang.pick(
            "⚠ 未记录，无核验结果，请重新扫描",
            "⚠ NOT RECORDED, no verdict: scan again",
        );
        write_line(out, &format!("{head}\n{e}\n"))
    }
}

/// `scan`: one pass per input line (a keyboard-wedge scanner types one line per scan).
/// Blank lines are skipped; every other line is decided, recorded and printed like
/// `verify`, and output is flushed after each verdict. A line the local database could not
/// record (full disk, lock) is reported as not recorded, without a verdict, and the session
/// goes on: once space returns, scanning resumes by itself. Returns at the end of input.
pub async fn scan_lines<R: AsyncBufRead + Unpin>(
    common: &Common,
    direction: Direction,
    meta: &ScanMeta,
    mut input: R,
    out: &mut dyn Write,
) -> Result<ScanSession> {
    with_store(&common.data_dir, async |store| {
        let mut gate = Gate::load(store).await?;
        let mut session = ScanSession::default();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n =
                input
                    .read_until(b'\n', &mut buf)
                    .await
                    .map_err(|source| CheckpointError::Io {
                        context: "cannot read the scanner input".into(),
                        source,
                    })?;
            if n == 0 {
                return Ok(session);
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let scanned = match gate.refresh(store).await {
                Ok(_) => scan::scan(store, &gate, line, direction, meta, common.now()).await,
                Err(e) => Err(e),
            };
            let outcome = match scanned {
                Ok(o) => o,
                Err(e) if storage_hiccup(&e) => {
                    session.not_recorded += 1;
                    show_not_recorded(out, common, &e)?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if outcome.accepted() {
                session.accepted += 1;
            } else {
                session.rejected += 1;
            }
            show(out, common, &outcome, &gate)?;
            if !common.json {
                write_line(out, "")?;
            }
        }
    })
    .await
}

/// How `scan --camera-dir` watches a folder of camera snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraOptions {
    /// The folder the IP camera drops JPEG or PNG snapshots into.
    pub dir: PathBuf,
    /// How often the folder is listed.
    pub poll: Duration,
    /// The same pass read again within this long is not a second scan.
    pub repeat_window: Duration,
    /// Stop after this many frames have been read (drills and tests); never when `None`.
    pub max_frames: Option<u64>,
    /// Stop when no new frame has arrived for this long; never when `None`.
    pub exit_after_idle: Option<Duration>,
    /// The decoding time budget of one frame ([`qr::decode_file_within`]); none when `None`.
    pub decode_budget: Option<Duration>,
}

impl CameraOptions {
    /// Poll every 200 ms, a 5 s repeat window, run until stopped.
    pub fn new(dir: impl Into<PathBuf>) -> CameraOptions {
        CameraOptions {
            dir: dir.into(),
            poll: Duration::from_millis(200),
            repeat_window: Duration::from_secs(5),
            max_frames: None,
            exit_after_idle: None,
            decode_budget: Some(qr::CAMERA_BUDGET),
        }
    }
}

/// Totals of a `scan --camera-dir` session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CameraSession {
    pub scans: ScanSession,
    /// Frames read (decoded or not).
    pub frames: u64,
    /// Frames without a readable QR code (or not readable as an image).
    pub unreadable: u64,
    /// Frames showing a pass already scanned within the repeat window.
    pub repeats: u64,
}

fn is_snapshot(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
}

/// The snapshots in `dir` with their modification time and size, oldest first.
fn list_snapshots(dir: &Path) -> Result<Vec<(PathBuf, SystemTime, u64)>> {
    let entries = std::fs::read_dir(dir).map_err(|source| CheckpointError::Io {
        context: format!("cannot read the camera folder {}", dir.display()),
        source,
    })?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !is_snapshot(&path) {
            continue;
        }
        // A file that vanished or cannot be inspected is skipped until the next poll.
        if let Ok(meta) = entry.metadata()
            && meta.is_file()
        {
            let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            found.push((path, mtime, meta.len()));
        }
    }
    found.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Ok(found)
}

/// How far apart two frame times are, either way round.
fn apart(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b)
        .or_else(|_| b.duration_since(a))
        .unwrap_or_default()
}

fn note(lang: Lang, zh: String, en: String) {
    eprintln!("{}", if lang == Lang::Zh { zh } else { en });
}

/// `scan --camera-dir`: watch a folder of camera snapshots. Files already there when it
/// starts are left alone (a restarted gate must not scan old frames again); it says so on
/// stderr once it is watching. Each new file (name, time and size not seen before) is decoded once with [`qr::decode_file`]; a pass is decided,
/// recorded and printed exactly like a scanned line, unless the same pass text was scanned
/// from a frame taken (file time) within the repeat window of this one (a camera sends many
/// frames of one windshield; timing by the frames keeps a slow decode from counting twice). Frames without
/// a code and repeats are noted on stderr. Runs until stopped, or until `max_frames` /
/// `exit_after_idle` says so.
pub async fn scan_camera_dir(
    common: &Common,
    direction: Direction,
    meta: &ScanMeta,
    options: &CameraOptions,
    out: &mut dyn Write,
) -> Result<CameraSession> {
    if !options.dir.is_dir() {
        return Err(CheckpointError::Usage(format!(
            "the camera folder {} does not exist or is not a folder",
            options.dir.display()
        )));
    }
    with_store(&common.data_dir, async |store| {
        let mut gate = Gate::load(store).await?;
        let mut session = CameraSession::default();
        // Frames already in the folder are old: a restarted gate must not scan them again.
        let mut seen: HashMap<PathBuf, (SystemTime, u64)> = list_snapshots(&options.dir)?
            .into_iter()
            .map(|(path, mtime, len)| (path, (mtime, len)))
            .collect();
        note(
            common.lang,
            format!(
                "正在监视相机目录 {}（已有 {} 张旧画面，不处理）",
                options.dir.display(),
                seen.len()
            ),
            format!(
                "watching camera folder {} ({} earlier frames left alone)",
                options.dir.display(),
                seen.len()
            ),
        );
        // When each pass text was last scanned, by its frame's time.
        let mut last_scan: HashMap<String, SystemTime> = HashMap::new();
        let mut last_frame = Instant::now();
        loop {
            for (path, mtime, len) in list_snapshots(&options.dir)? {
                if seen.get(&path) == Some(&(mtime, len)) {
                    continue;
                }
                seen.insert(path.clone(), (mtime, len));
                last_frame = Instant::now();
                session.frames += 1;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let decode_path = path.clone();
                let budget = options.decode_budget;
                let decoded = tokio::task::spawn_blocking(move || {
                    qr::decode_file_within(&decode_path, budget)
                })
                .await
                .unwrap_or_else(|e| {
                    Err(CheckpointError::Usage(format!("the decoder stopped: {e}")))
                });
                match decoded {
                    Err(CheckpointError::NoQrFound { .. } | CheckpointError::Image { .. }) => {
                        session.unreadable += 1;
                        note(
                            common.lang,
                            format!("画面 {name}：未识别到二维码"),
                            format!("frame {name}: no readable QR code"),
                        );
                    }
                    Err(e) => return Err(e),
                    Ok(text) => {
                        let text = text.trim().to_owned();
                        if last_scan
                            .get(&text)
                            .is_some_and(|t| apart(*t, mtime) < options.repeat_window)
                        {
                            session.repeats += 1;
                            note(
                                common.lang,
                                format!("画面 {name}：同一通行证刚刚已核验，不重复记录"),
                                format!(
                                    "frame {name}: same pass as a moment ago, not scanned again"
                                ),
                            );
                        } else {
                            let scanned = match gate.refresh(store).await {
                                Ok(_) => {
                                    scan::scan(store, &gate, &text, direction, meta, common.now())
                                        .await
                                }
                                Err(e) => Err(e),
                            };
                            match scanned {
                                Ok(outcome) => {
                                    last_scan.insert(text.clone(), mtime);
                                    if outcome.accepted() {
                                        session.scans.accepted += 1;
                                    } else {
                                        session.scans.rejected += 1;
                                    }
                                    show(out, common, &outcome, &gate)?;
                                    if !common.json {
                                        write_line(out, "")?;
                                    }
                                }
                                // Not recorded: the next frame of this pass gets its chance
                                // (no repeat-window entry).
                                Err(e) if storage_hiccup(&e) => {
                                    session.scans.not_recorded += 1;
                                    show_not_recorded(out, common, &e)?;
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    }
                }
                if options.max_frames.is_some_and(|m| session.frames >= m) {
                    return Ok(session);
                }
            }
            // Forget passes not seen for a long while.
            if last_scan.len() > 1000 {
                let newest = last_scan
                    .values()
                    .max()
                    .copied()
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                last_scan.retain(|_, t| apart(*t, newest) < options.repeat_window);
            }
            if options
                .exit_after_idle
                .is_some_and(|idle| last_frame.elapsed() >= idle)
            {
                return Ok(session);
            }
            tokio::time::sleep(options.poll).await;
        }
    })
    .await
}

/// `override`: a supervisor turns a rejected record into accepted-with-override (a new
/// record, committed before it is printed).
pub async fn override_scan(
    common: &Common,
    request: &OverrideRequest,
    out: &mut dyn Write,
) -> Result<ScanOutcome> {
    with_store(&common.data_dir, async |store| {
        let gate = Gate::load(store).await?;
        let outcome = scan::override_scan(store, &gate, request, common.now()).await?;
        show(out, common, &outcome, &gate)?;
        Ok(outcome)
    })
    .await
}

/// What a finished sync did, for people (the `sync` command and the gate screen).
pub fn sync_summary_text(s: &sync::SyncSummary, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!(
            "同步完成：上传记录 {} 条（新存 {}，重复 {}），信任数据版本 {}",
            s.uploaded, s.stored, s.duplicates, s.bundle_version
        ),
        Lang::En => format!(
            "Sync done: uploaded {} records ({} stored, {} duplicates), bundle version {}",
            s.uploaded, s.stored, s.duplicates, s.bundle_version
        ),
    }
}

/// `sync`: upload unsent records, then refresh the bundle; each request may take up to
/// `timeout` (then it is retried).
pub async fn sync(
    common: &Common,
    timeout: Duration,
    out: &mut dyn Write,
) -> Result<sync::SyncSummary> {
    let s = with_store(&common.data_dir, async |store| {
        sync::sync_within(store, common.now(), timeout).await
    })
    .await?;
    let text = if common.json {
        json!({
            "uploaded": s.uploaded,
            "stored": s.stored,
            "duplicates": s.duplicates,
            "batches": s.batches,
            "last_seq": s.last_seq,
            "bundle_version": s.bundle_version,
            "previous_bundle_version": s.previous_bundle_version,
            "bundle_updated": s.bundle_updated,
            "snapshot": s.snapshot,
            "clock_offset_seconds": s.clock_offset_seconds,
            "clock_reset": s.clock_reset,
        })
        .to_string()
    } else {
        let mut text = sync_summary_text(&s, common.lang);
        if s.clock_reset {
            text.push('\n');
            text.push_str(common.lang.pick(
                "本机扫描记录的时间超前于服务器时间，时间下限已按服务器时间重置；请校准本机时钟",
                "the scan log's times were ahead of the server's clock: the time floor was reset to the server's time; fix the gate clock",
            ));
        }
        text
    };
    write_line(out, &text)?;
    Ok(s)
}

/// A load-unload-leave truck inside, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsideStatus {
    pub entry: InsideEntry,
    pub inside_minutes: i64,
    /// Minutes past the dwell limit (`rules::overstay_minutes`); `None`: not overstayed.
    pub overstay_minutes: Option<u32>,
}

/// What `status` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub device_id: DeviceId,
    pub checkpoint_id: CheckpointId,
    pub checkpoint_name: String,
    pub server_url: String,
    /// The held bundle, or why there is none usable.
    pub bundle: std::result::Result<HeldBundle, String>,
    pub bundle_age_seconds: Option<i64>,
    pub stale: bool,
    pub scans: u64,
    pub unsent: u64,
    pub last_sync_at: Option<UnixSeconds>,
    /// The latest of the bundle's time and the latest scan time.
    pub time_floor: UnixSeconds,
    /// The gate clock when the status was read.
    pub now: UnixSeconds,
    /// The clock is behind the time floor by more than the clock tolerance.
    pub clock_behind: bool,
    /// Gate clock minus the server's clock at the last sync that told (seconds).
    pub clock_offset_seconds: Option<i64>,
    /// The gate clock was ahead of the server's by more than the clock tolerance at the
    /// last sync.
    pub clock_ahead: bool,
    pub inside: Vec<InsideStatus>,
}

/// Read the device's status from the store at gate clock `now`.
pub async fn read_status(store: &Store, now: UnixSeconds) -> Result<Status> {
    let config = store.require_config().await?;
    let bundle = match trust::load(store).await {
        Ok(Some(h)) => Ok(h),
        Ok(None) => Err("no bundle stored".to_owned()),
        Err(CheckpointError::NoUsableBundle(why)) => Err(why),
        Err(e) => return Err(e),
    };
    let counts = store.counts().await?;
    let last_scan = store.latest_scanned_at().await?;
    let b = bundle.as_ref().ok().map(|h| &h.bundle);
    let time_floor = last_scan
        .into_iter()
        .chain(b.map(|b| b.generated_at))
        .max()
        .unwrap_or(now);
    let tolerance = b.map_or(0, |b| i64::from(b.policy.clock_tolerance_minutes) * 60);
    let effective = now.max(time_floor);
    let default_dwell = b.map(|b| b.policy.default_max_dwell_minutes);
    let inside = store
        .inside_now(config.checkpoint_id)
        .await?
        .into_iter()
        .map(|entry| {
            let limit = entry.max_dwell_minutes.or(default_dwell);
            InsideStatus {
                inside_minutes: (effective - entry.entered_at).max(0) / 60,
                overstay_minutes: limit
                    .and_then(|m| overstay_minutes(entry.entered_at, m, effective)),
                entry,
            }
        })
        .collect();
    Ok(Status {
        device_id: config.device_id,
        checkpoint_id: config.checkpoint_id,
        checkpoint_name: b
            .and_then(|b| b.checkpoint(config.checkpoint_id))
            .map_or_else(|| config.checkpoint_name.clone(), |c| c.name.clone()),
        server_url: config.server_url,
        bundle_age_seconds: b.map(|b| b.age(effective)),
        stale: b.is_none_or(|b| b.is_stale(effective)),
        bundle,
        scans: counts.total,
        unsent: counts.unsent,
        last_sync_at: config.last_sync_at,
        time_floor,
        now,
        clock_behind: time_floor - now > tolerance,
        clock_offset_seconds: config.clock_offset_seconds,
        clock_ahead: config.clock_offset_seconds.is_some_and(|o| o > tolerance),
        inside,
    })
}

fn status_json(s: &Status) -> Value {
    let held = s.bundle.as_ref().ok();
    json!({
        "device_id": s.device_id.0,
        "checkpoint_id": s.checkpoint_id.0,
        "checkpoint_name": s.checkpoint_name,
        "server_url": s.server_url,
        "bundle_version": held.map(|h| h.bundle.version),
        "bundle_generated_at": held.map(|h| rfc3339(h.bundle.generated_at)),
        "bundle_revocations": held.map(|h| h.bundle.revoked.len()),
        "bundle_age_seconds": s.bundle_age_seconds,
        "stale": s.stale,
        "bundle_error": s.bundle.as_ref().err(),
        "bundle_fallback": held.and_then(|h| h.fallback.as_ref()).map(|f| json!({
            "damaged_version": f.damaged_version,
            "why": f.why,
        })),
        "scans": s.scans,
        "unsent": s.unsent,
        "last_sync_at": s.last_sync_at.map(rfc3339),
        "time_floor": rfc3339(s.time_floor),
        "now": rfc3339(s.now),
        "clock_behind": s.clock_behind,
        "clock_behind_seconds": (s.time_floor - s.now).max(0),
        "clock_offset_seconds": s.clock_offset_seconds,
        "clock_ahead": s.clock_ahead,
        "clock_ahead_seconds": s.clock_offset_seconds.map_or(0, |o| o.max(0)),
        "inside": s.inside.iter().map(|i| json!({
            "seq": i.entry.seq,
            "number": i.entry.number.to_string(),
            "plate": i.entry.plate,
            "entered_at": rfc3339(i.entry.entered_at),
            "inside_minutes": i.inside_minutes,
            "max_dwell_minutes": i.entry.max_dwell_minutes,
            "overstay_minutes": i.overstay_minutes,
            "overstayed": i.overstay_minutes.is_some(),
        })).collect::<Vec<_>>(),
        "overstays": s.inside.iter().filter(|i| i.overstay_minutes.is_some()).count(),
    })
}

fn status_text(s: &Status, lang: Lang, color: bool) -> String {
    let loud = |t: String| {
        if color {
            format!("\x1b[1;97;41m ⚠⚠ {t} ⚠⚠ \x1b[0m")
        } else {
            format!("⚠⚠ {t} ⚠⚠")
        }
    };
    let mut lines = Vec::new();
    let never = lang.pick("从未同步", "never");
    let last = s
        .last_sync_at
        .map_or_else(|| never.to_owned(), local_minute);
    lines.push(match lang {
        Lang::Zh => format!(
            "设备：{}\n查验点：{} {}\n服务器：{}",
            s.device_id, s.checkpoint_id, s.checkpoint_name, s.server_url
        ),
        Lang::En => format!(
            "Device: {}\nCheckpoint: {} {}\nServer: {}",
            s.device_id, s.checkpoint_id, s.checkpoint_name, s.server_url
        ),
    });
    match &s.bundle {
        Ok(h) => {
            let age = output::human_duration(s.bundle_age_seconds.unwrap_or(0), lang);
            lines.push(match lang {
                Lang::Zh => format!(
                    "信任数据：版本 {}，生成于 {}，已 {}",
                    h.bundle.version,
                    local_minute(h.bundle.generated_at),
                    age
                ),
                Lang::En => format!(
                    "Trust bundle: version {}, made {}, {} old",
                    h.bundle.version,
                    local_minute(h.bundle.generated_at),
                    age
                ),
            });
            if s.stale {
                lines.push(loud(
                    lang.pick(
                        "信任数据已过期，吊销名单可能不全，请立即同步",
                        "STALE trust bundle: revocations may be missing, sync now",
                    )
                    .to_owned(),
                ));
            }
            if let Some(f) = &h.fallback {
                lines.push(loud(output::fallback_message(f, h.bundle.version, lang)));
            }
        }
        Err(why) => lines.push(loud(match lang {
            Lang::Zh => format!("没有可用的信任数据（{why}），请立即同步"),
            Lang::En => format!("NO usable trust bundle ({why}): sync now"),
        })),
    }
    lines.push(match lang {
        Lang::Zh => format!(
            "扫描记录：{} 条，未上传 {} 条\n上次同步：{}\n时间下限：{}（本机时钟 {}）",
            s.scans,
            s.unsent,
            last,
            local_minute(s.time_floor),
            local_minute(s.now)
        ),
        Lang::En => format!(
            "Scans: {} stored, {} not uploaded\nLast sync: {}\nTime floor: {} (gate clock {})",
            s.scans,
            s.unsent,
            last,
            local_minute(s.time_floor),
            local_minute(s.now)
        ),
    });
    if s.clock_behind {
        let minutes = (s.time_floor - s.now) / 60;
        lines.push(loud(match lang {
            Lang::Zh => format!("本机时钟比已知时间慢 {minutes} 分钟，可能被回拨，请校准时钟"),
            Lang::En => format!(
                "the gate clock is {minutes} minutes behind the latest known time (set back?); fix the clock"
            ),
        }));
    }
    if s.clock_ahead {
        let minutes = s.clock_offset_seconds.unwrap_or(0) / 60;
        lines.push(loud(match lang {
            Lang::Zh => format!("上次同步时本机时钟比服务器快 {minutes} 分钟，请校准时钟"),
            Lang::En => format!(
                "at the last sync the gate clock was {minutes} minutes ahead of the server's; fix the clock"
            ),
        }));
    }
    lines.push(match (lang, s.inside.len()) {
        (Lang::Zh, 0) => "厂内车辆（即装即卸即走）：无".to_owned(),
        (Lang::En, 0) => "Inside now (load-unload-leave): none".to_owned(),
        (Lang::Zh, n) => format!("厂内车辆（即装即卸即走）：{n} 辆"),
        (Lang::En, n) => format!("Inside now (load-unload-leave): {n}"),
    });
    for i in &s.inside {
        let plate = i.entry.plate.clone().unwrap_or_else(|| "-".into());
        let limit = i
            .entry
            .max_dwell_minutes
            .map_or_else(|| "-".to_owned(), |m| m.to_string());
        let line = match lang {
            Lang::Zh => format!(
                "  {} {} 进入 {}，已停留 {} 分钟，限 {} 分钟",
                i.entry.number,
                plate,
                local_minute(i.entry.entered_at),
                i.inside_minutes,
                limit
            ),
            Lang::En => format!(
                "  {} {} entered {}, inside {} min, limit {} min",
                i.entry.number,
                plate,
                local_minute(i.entry.entered_at),
                i.inside_minutes,
                limit
            ),
        };
        match i.overstay_minutes {
            Some(over) => lines.push(loud(match lang {
                Lang::Zh => format!("{} —— 滞留超时 {over} 分钟", line.trim_start()),
                Lang::En => format!("{} — OVERSTAY by {over} min", line.trim_start()),
            })),
            None => lines.push(line),
        }
    }
    lines.join("\n")
}

/// `status`: who this device is, its trust data, its clock, what is waiting to upload and
/// which load-unload-leave trucks are inside (overstays highlighted).
pub async fn status(common: &Common, out: &mut dyn Write) -> Result<Status> {
    let s = with_store(&common.data_dir, async |store| {
        read_status(store, common.now()).await
    })
    .await?;
    let text = if common.json {
        status_json(&s).to_string()
    } else {
        status_text(&s, common.lang, common.color)
    };
    write_line(out, &text)?;
    Ok(s)
}

/// What `check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// `PRAGMA integrity_check`: `["ok"]` when the file is sound.
    pub integrity: Vec<String>,
    /// Scan records read in order before the end of the log or the first problem.
    pub scans_checked: u64,
    /// The first problem of the scan log's chain, if any.
    pub chain_problem: Option<String>,
    /// The bundle version the gate decides with, if any.
    pub bundle_version: Option<u64>,
    /// Why the gate is not using its newest stored bundle file, or has none usable.
    pub bundle_problem: Option<String>,
    /// The damaged newest file, when the gate decides with an older good bundle.
    pub bundle_fallback: Option<trust::Fallback>,
    /// What is wrong with the device key file, if anything.
    pub device_key_problem: Option<String>,
}

impl CheckReport {
    /// Nothing wrong found.
    pub fn ok(&self) -> bool {
        self.integrity == ["ok"]
            && self.chain_problem.is_none()
            && self.bundle_problem.is_none()
            && self.device_key_problem.is_none()
    }
}

/// Check the local data without changing it: the database file, the scan log's chain, the
/// stored bundle files and the device key.
pub async fn run_check(store: &Store) -> Result<CheckReport> {
    store.require_config().await?;
    let integrity = store.integrity_check().await?;
    let (scans_checked, chain_problem) = store.check_chain().await?;
    let (bundle_version, bundle_problem, bundle_fallback) = match trust::load(store).await {
        Ok(Some(h)) => (
            Some(h.bundle.version),
            h.fallback.as_ref().map(|f| {
                format!(
                    "the stored bundle version {} is damaged ({}); the gate uses the older good version {}",
                    f.damaged_version, f.why, h.bundle.version
                )
            }),
            h.fallback,
        ),
        Ok(None) => (None, Some("no bundle is stored".to_owned()), None),
        Err(CheckpointError::NoUsableBundle(why)) => (None, Some(why), None),
        Err(e) => return Err(e),
    };
    let device_key_problem = crate::device::load(store.dir())
        .err()
        .map(|e| e.to_string());
    Ok(CheckReport {
        integrity,
        scans_checked,
        chain_problem,
        bundle_version,
        bundle_problem,
        bundle_fallback,
        device_key_problem,
    })
}

/// `check`: check the local database, the scan log and the trust bundle, and say what is
/// wrong and what to do. Returns the report; `ok()` false means something needs attention.
pub async fn check(common: &Common, out: &mut dyn Write) -> Result<CheckReport> {
    let r = with_store(&common.data_dir, async |store| run_check(store).await).await?;
    let text = if common.json {
        json!({
            "ok": r.ok(),
            "integrity": r.integrity,
            "scans_checked": r.scans_checked,
            "chain_problem": r.chain_problem,
            "bundle_version": r.bundle_version,
            "bundle_problem": r.bundle_problem,
            "device_key_problem": r.device_key_problem,
        })
        .to_string()
    } else {
        let lang = common.lang;
        let mut lines = Vec::new();
        let good = lang.pick("正常", "ok");
        lines.push(match lang {
            Lang::Zh => format!(
                "数据库文件：{}",
                if r.integrity == ["ok"] {
                    good.to_owned()
                } else {
                    r.integrity.join("; ")
                }
            ),
            Lang::En => format!(
                "Database file: {}",
                if r.integrity == ["ok"] {
                    good.to_owned()
                } else {
                    r.integrity.join("; ")
                }
            ),
        });
        let chain = r.chain_problem.clone().unwrap_or_else(|| good.to_owned());
        lines.push(match lang {
            Lang::Zh => format!("扫描记录链：已核对 {} 条，{chain}", r.scans_checked),
            Lang::En => format!("Scan log: {} records checked, {chain}", r.scans_checked),
        });
        let version = r
            .bundle_version
            .map_or_else(|| "-".to_owned(), |v| v.to_string());
        let bundle = match (&r.bundle_fallback, r.bundle_version, &r.bundle_problem) {
            (Some(f), Some(v), _) => output::fallback_message(f, v, lang),
            (_, _, Some(p)) => match lang {
                Lang::Zh => format!("没有可用的信任数据（{p}），请立即同步"),
                Lang::En => format!("no usable trust bundle ({p}): sync now"),
            },
            _ => good.to_owned(),
        };
        lines.push(match lang {
            Lang::Zh => format!("信任数据：版本 {version}，{bundle}"),
            Lang::En => format!("Trust bundle: version {version}, {bundle}"),
        });
        if let Some(p) = &r.device_key_problem {
            lines.push(match lang {
                Lang::Zh => format!("设备密钥：{p}"),
                Lang::En => format!("Device key: {p}"),
            });
        }
        lines.push(if r.ok() {
            lang.pick("检查通过", "All checks passed").to_owned()
        } else {
            lang.pick(
                "发现问题：请保留数据目录；信任数据问题可运行 sync 修复，数据库或记录链问题请联系运行局",
                "Problems found: keep the data directory; `sync` repairs the trust bundle, report database or log problems to the operations bureau",
            )
            .to_owned()
        });
        lines.join("\n")
    };
    write_line(out, &text)?;
    Ok(r)
}

/// The device's own usage counts for one Beijing day (`YYYY-MM-DD`), in the server's
/// `DailyUsage` shape. Day boundaries come from `passgate_shared::time`, as on the server.
pub async fn daily_usage(store: &Store, day: &str) -> Result<DailyUsage> {
    let (from, until) = local_day_range(day).ok_or_else(|| {
        CheckpointError::Usage(format!(
            "{day:?} is not a date; use YYYY-MM-DD, e.g. 2026-12-01"
        ))
    })?;
    let rows = store.usage_rows(from, until).await?;
    Ok(DailyUsage {
        date: day.to_owned(),
        total: rows.iter().map(|r| r.count).sum(),
        rows,
    })
}

/// `report`: the day's scans grouped by pass number, class, direction and verdict.
pub async fn report(common: &Common, day: &str, out: &mut dyn Write) -> Result<DailyUsage> {
    let usage = with_store(&common.data_dir, async |store| {
        daily_usage(store, day).await
    })
    .await?;
    let lang = common.lang;
    if common.json {
        let text = serde_json::to_string(&usage)
            .map_err(|e| CheckpointError::CorruptData(e.to_string()))?;
        write_line(out, &text)?;
        return Ok(usage);
    }
    let mut lines = vec![match lang {
        Lang::Zh => format!("{} 本机核验 {} 次（北京时间）", usage.date, usage.total),
        Lang::En => format!(
            "{}: {} scans at this gate (Beijing time)",
            usage.date, usage.total
        ),
    }];
    for r in &usage.rows {
        let number = r.number.map_or_else(|| "-".repeat(12), |n| n.to_string());
        let class = r.class.map_or("-", |c| output::class_name(c, lang));
        let dir = match lang {
            Lang::Zh => r.direction.name_zh(),
            Lang::En => r.direction.as_str(),
        };
        lines.push(format!(
            "{number}  {class}  {dir}  {}  {}",
            output::verdict_label(&r.verdict, lang),
            r.count
        ));
    }
    write_line(out, &lines.join("\n"))?;
    Ok(usage)
}

/// Today's date in Beijing time, `YYYY-MM-DD`.
pub fn beijing_today() -> String {
    local_day(now_unix())
}

/// Exit status for an error (see [`CheckpointError::exit_code`]) after reporting it: always
/// on stderr, and with `--json` also as `{"error", "message"}` on stdout.
pub fn report_error(err: &CheckpointError, json: bool, out: &mut dyn Write) -> u8 {
    eprintln!("passgate-checkpoint: {err}");
    if json {
        let line = json!({ "error": err.code(), "message": err.to_string() }).to_string();
        let _ = write_line(out, &line);
    }
    err.exit_code()
}
