//! The commands of the `passgate-checkpoint` program, as library functions: each takes its
//! options and an output stream, does the work, writes what the user reads and returns a
//! result the binary turns into an exit status. Nothing here exits the process.

use std::io::Write;
use std::path::PathBuf;

use passgate_shared::sync::{DailyUsage, Direction};
use passgate_shared::time::{local_day, local_day_range};
use passgate_shared::{CheckpointId, Lang, UnixSeconds};
use serde_json::json;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::error::{CheckpointError, Result};
use crate::output::{self, local_minute, rfc3339};
use crate::scan::{self, Gate, ScanOutcome};
use crate::store::Store;
use crate::{qr, sync};

/// Options every command takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    pub data_dir: PathBuf,
    pub lang: Lang,
    /// One JSON object per line on stdout instead of text for people.
    pub json: bool,
    /// Colour the verdict headline (for a terminal; never with `json`).
    pub color: bool,
}

impl Common {
    /// Options with colour off.
    pub fn new(data_dir: impl Into<PathBuf>, lang: Lang, json: bool) -> Common {
        Common {
            data_dir: data_dir.into(),
            lang,
            json,
            color: false,
        }
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

/// The gate clock.
pub fn now_unix() -> UnixSeconds {
    chrono::Utc::now().timestamp()
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
            &output::render_human(outcome, common.lang, Some(&gate.bundle)),
        )
    }
}

/// `init`: fetch the bundle, check the checkpoint id, store everything, print a summary.
pub async fn init(
    common: &Common,
    server: &str,
    token: &str,
    checkpoint_id: CheckpointId,
    out: &mut dyn Write,
) -> Result<sync::InitSummary> {
    let s = sync::init(&common.data_dir, server, token, checkpoint_id).await?;
    let text = if common.json {
        json!({
            "checkpoint_id": s.checkpoint.id.0,
            "checkpoint_name": s.checkpoint.name,
            "inside_zone": s.checkpoint.inside_zone,
            "enterprise_id": s.checkpoint.enterprise_id.map(|e| e.0),
            "server_url": s.server_url,
            "bundle_version": s.bundle_version,
            "bundle_generated_at": rfc3339(s.bundle_generated_at),
            "keys": s.keys,
            "revoked": s.revoked,
            "data_dir": common.data_dir.display().to_string(),
        })
        .to_string()
    } else {
        let zone = |inside: bool| match (common.lang, inside) {
            (Lang::Zh, true) => "区内",
            (Lang::Zh, false) => "区外",
            (Lang::En, true) => "inside the zone",
            (Lang::En, false) => "outside the zone",
        };
        match common.lang {
            Lang::Zh => format!(
                "初始化完成：查验点 {} {}（{}）\n服务器：{}\n信任数据版本：{}（生成于 {}），签发密钥 {} 个，吊销通行证 {} 张\n数据目录：{}",
                s.checkpoint.id,
                s.checkpoint.name,
                zone(s.checkpoint.inside_zone),
                s.server_url,
                s.bundle_version,
                local_minute(s.bundle_generated_at),
                s.keys,
                s.revoked,
                common.data_dir.display()
            ),
            Lang::En => format!(
                "Initialised: checkpoint {} {} ({})\nServer: {}\nBundle version {} (made {}), {} issuer keys, {} revoked passes\nData directory: {}",
                s.checkpoint.id,
                s.checkpoint.name,
                zone(s.checkpoint.inside_zone),
                s.server_url,
                s.bundle_version,
                local_minute(s.bundle_generated_at),
                s.keys,
                s.revoked,
                common.data_dir.display()
            ),
        }
    };
    write_line(out, &text)?;
    Ok(s)
}

/// `verify`: decide on one pass offline, record it, then print the verdict. An image
/// without a readable QR code is [`CheckpointError::NoQrFound`] and records nothing.
pub async fn verify(
    common: &Common,
    input: &VerifyInput,
    direction: Direction,
    out: &mut dyn Write,
) -> Result<ScanOutcome> {
    let store = Store::open(&common.data_dir).await?;
    let result = verify_in(&store, common, input, direction, out).await;
    store.close().await;
    result
}

async fn verify_in(
    store: &Store,
    common: &Common,
    input: &VerifyInput,
    direction: Direction,
    out: &mut dyn Write,
) -> Result<ScanOutcome> {
    let gate = Gate::load(store).await?;
    let text = match input {
        VerifyInput::Text(t) => t.clone(),
        VerifyInput::Image(path) => qr::decode_file(path)?,
    };
    let outcome = scan::scan(store, &gate, &text, direction, now_unix()).await?;
    show(out, common, &outcome, &gate)?;
    Ok(outcome)
}

/// Totals of a `scan` session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanSession {
    pub accepted: u64,
    pub rejected: u64,
}

/// `scan`: one pass per input line (a keyboard-wedge scanner types one line per scan).
/// Blank lines are skipped; every other line is decided, recorded and printed like
/// `verify`, and output is flushed after each verdict. Returns at the end of input.
pub async fn scan_lines<R: AsyncBufRead + Unpin>(
    common: &Common,
    direction: Direction,
    mut input: R,
    out: &mut dyn Write,
) -> Result<ScanSession> {
    let store = Store::open(&common.data_dir).await?;
    let result =
        async {
            let mut gate = Gate::load(&store).await?;
            let mut session = ScanSession::default();
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let n = input.read_until(b'\n', &mut buf).await.map_err(|source| {
                    CheckpointError::Io {
                        context: "cannot read the scanner input".into(),
                        source,
                    }
                })?;
                if n == 0 {
                    return Ok(session);
                }
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                gate.refresh(&store).await?;
                let outcome = scan::scan(&store, &gate, line, direction, now_unix()).await?;
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
        }
        .await;
    store.close().await;
    result
}

/// `sync`: upload unsent records, then refresh the bundle.
pub async fn sync(common: &Common, out: &mut dyn Write) -> Result<sync::SyncSummary> {
    let store = Store::open(&common.data_dir).await?;
    let result = sync::sync(&store, now_unix()).await;
    store.close().await;
    let s = result?;
    let text = if common.json {
        json!({
            "uploaded": s.uploaded,
            "stored": s.stored,
            "duplicates": s.duplicates,
            "batches": s.batches,
            "bundle_version": s.bundle_version,
            "previous_bundle_version": s.previous_bundle_version,
            "bundle_updated": s.previous_bundle_version != Some(s.bundle_version),
        })
        .to_string()
    } else {
        match common.lang {
            Lang::Zh => format!(
                "同步完成：上传记录 {} 条（新存 {}，重复 {}），信任数据版本 {}",
                s.uploaded, s.stored, s.duplicates, s.bundle_version
            ),
            Lang::En => format!(
                "Sync done: uploaded {} records ({} stored, {} duplicates), bundle version {}",
                s.uploaded, s.stored, s.duplicates, s.bundle_version
            ),
        }
    };
    write_line(out, &text)?;
    Ok(s)
}

/// What `status` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub checkpoint_id: CheckpointId,
    pub checkpoint_name: Option<String>,
    pub server_url: String,
    pub bundle_version: u64,
    pub bundle_generated_at: UnixSeconds,
    pub bundle_age_seconds: i64,
    pub stale: bool,
    pub scans: u64,
    pub unsent: u64,
    pub last_sync_at: Option<UnixSeconds>,
}

/// Read the device's status from the store at `now`.
pub async fn read_status(store: &Store, now: UnixSeconds) -> Result<Status> {
    let config = store.require_config().await?;
    let bundle = store.require_bundle().await?;
    let counts = store.counts().await?;
    Ok(Status {
        checkpoint_id: config.checkpoint_id,
        checkpoint_name: bundle
            .checkpoint(config.checkpoint_id)
            .map(|c| c.name.clone()),
        server_url: config.server_url,
        bundle_version: bundle.version,
        bundle_generated_at: bundle.generated_at,
        bundle_age_seconds: bundle.age(now),
        stale: bundle.is_stale(now),
        scans: counts.total,
        unsent: counts.unsent,
        last_sync_at: config.last_sync_at,
    })
}

/// `status`: who this device is, how old its trust data is, what is waiting to upload.
pub async fn status(common: &Common, out: &mut dyn Write) -> Result<Status> {
    let store = Store::open(&common.data_dir).await?;
    let result = read_status(&store, now_unix()).await;
    store.close().await;
    let s = result?;
    let lang = common.lang;
    let text = if common.json {
        json!({
            "checkpoint_id": s.checkpoint_id.0,
            "checkpoint_name": s.checkpoint_name,
            "server_url": s.server_url,
            "bundle_version": s.bundle_version,
            "bundle_generated_at": rfc3339(s.bundle_generated_at),
            "bundle_age_seconds": s.bundle_age_seconds,
            "stale": s.stale,
            "scans": s.scans,
            "unsent": s.unsent,
            "last_sync_at": s.last_sync_at.map(rfc3339),
        })
        .to_string()
    } else {
        let name = s
            .checkpoint_name
            .clone()
            .unwrap_or_else(|| lang.pick("（未知）", "(unknown)").into());
        let never = lang.pick("从未同步", "never");
        let last = s
            .last_sync_at
            .map_or_else(|| never.to_owned(), local_minute);
        let age = output::human_duration(s.bundle_age_seconds, lang);
        let stale = match (lang, s.stale) {
            (Lang::Zh, true) => "（已过期，请立即同步）",
            (Lang::En, true) => " (STALE: sync now)",
            _ => "",
        };
        match lang {
            Lang::Zh => format!(
                "查验点：{} {}\n服务器：{}\n信任数据：版本 {}，生成于 {}，已 {}{}\n扫描记录：{} 条，未上传 {} 条\n上次同步：{}",
                s.checkpoint_id,
                name,
                s.server_url,
                s.bundle_version,
                local_minute(s.bundle_generated_at),
                age,
                stale,
                s.scans,
                s.unsent,
                last
            ),
            Lang::En => format!(
                "Checkpoint: {} {}\nServer: {}\nTrust bundle: version {}, made {}, {} old{}\nScans: {} stored, {} not uploaded\nLast sync: {}",
                s.checkpoint_id,
                name,
                s.server_url,
                s.bundle_version,
                local_minute(s.bundle_generated_at),
                age,
                stale,
                s.scans,
                s.unsent,
                last
            ),
        }
    };
    write_line(out, &text)?;
    Ok(s)
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
    let store = Store::open(&common.data_dir).await?;
    let result = daily_usage(&store, day).await;
    store.close().await;
    let usage = result?;
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
            r.verdict, r.count
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
