//! `passgate-checkpoint`: parse the command line and call the library.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, Args, CommandFactory, Parser, Subcommand};
use passgate_checkpoint::CheckpointError;
use passgate_checkpoint::app::{self, CameraOptions, Clock, Common, VerifyInput};
use passgate_checkpoint::scan::{OverrideRequest, ScanMeta, check_person_id};
use passgate_checkpoint::tui::{self, GateOptions};
use passgate_shared::Lang;
use passgate_shared::record::{HealthCode, Observations};
use passgate_shared::sync::Direction;

/// The testing and drill knob that sets the gate clock (unix seconds).
const FAKE_NOW_ENV: &str = "PASSGATE_CHECKPOINT_FAKE_NOW";

/// Offline pass verification at the gate (卡口通行证离线核验).
///
/// With no subcommand on a terminal, opens the full-screen gate screen (same as `gate`).
///
/// Testing and drills: PASSGATE_CHECKPOINT_FAKE_NOW=UNIX_SECONDS makes the program use that
/// time as the gate clock (e.g. to rehearse a clock set back). Never set it at a real gate.
#[derive(Debug, Parser)]
#[command(name = "passgate-checkpoint", version, about, long_about)]
struct Cli {
    /// Where the local database and the device key live.
    #[arg(
        long,
        global = true,
        env = "PASSGATE_CHECKPOINT_DATA_DIR",
        default_value = "./checkpoint-data"
    )]
    data_dir: PathBuf,
    /// Language of what people read: zh (简体中文) or en.
    #[arg(long, global = true, default_value = "zh", value_parser = parse_lang)]
    lang: Lang,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Who scans and the "two codes one pass" (两码一证) checks, recorded with every scan.
/// Shared by `verify`, `scan` and the gate screen.
#[derive(Debug, Clone, Default, Args)]
struct CheckArgs {
    /// The guard's id (查验人), recorded with each scan and override.
    #[arg(long = "guard", env = "PASSGATE_GUARD_ID")]
    guard: Option<String>,
    /// Health code colour seen: green|yellow|red (绿/黄/红).
    #[arg(long, value_parser = parse_health)]
    health: Option<HealthCode>,
    /// Itinerary card checked and normal: yes|no (是/否).
    #[arg(long, value_parser = parse_yes_no)]
    itinerary: Option<bool>,
    /// Negative nucleic-acid test within 48 hours seen: yes|no.
    #[arg(long = "test-48h", value_parser = parse_yes_no)]
    test_48h: Option<bool>,
    /// Temperature: ok|high (正常/异常).
    #[arg(long, value_parser = parse_temperature)]
    temperature: Option<bool>,
}

impl CheckArgs {
    fn meta(&self) -> Result<ScanMeta, CheckpointError> {
        Ok(ScanMeta {
            guard_id: self
                .guard
                .as_deref()
                .map(|g| check_person_id(g, "the guard id"))
                .transpose()?,
            observations: Observations {
                health_code: self.health,
                itinerary_ok: self.itinerary,
                negative_test_48h: self.test_48h,
                temperature_ok: self.temperature,
            },
        })
    }
}

/// How `verify` and `scan` record and print a scan.
#[derive(Debug, Clone, Args)]
struct ScanArgs {
    /// in (进) or out (出).
    #[arg(long, default_value = "in", value_parser = parse_direction)]
    direction: Direction,
    #[command(flatten)]
    checks: CheckArgs,
    /// Print one JSON object per line instead of text for people.
    #[arg(long)]
    json: bool,
}

impl ScanArgs {
    fn meta(&self) -> Result<ScanMeta, CheckpointError> {
        self.checks.meta()
    }
}

/// The gate screen's starting values; unset ones come from DATA_DIR/gate-defaults.json.
#[derive(Debug, Clone, Args)]
struct GateArgs {
    /// in (进) or out (出); default: the saved default, else in.
    #[arg(long, value_parser = parse_direction)]
    direction: Option<Direction>,
    #[command(flatten)]
    checks: CheckArgs,
    /// Seconds within which the same pass scanned again in the same direction is not a
    /// second scan (a scanner's double read); 0 to record every scan.
    #[arg(long, default_value_t = 3.0, value_parser = parse_seconds)]
    repeat_window: f64,
}

impl GateArgs {
    fn options(&self) -> Result<GateOptions, CheckpointError> {
        let meta = self.checks.meta()?;
        Ok(GateOptions {
            direction: self.direction,
            guard: meta.guard_id,
            observations: meta.observations,
            repeat_window: Duration::from_secs_f64(self.repeat_window),
            ..GateOptions::default()
        })
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The full-screen gate screen for guards (门岗界面): scanner input, verdict in large
    /// type, direction, the two-codes checks, overrides, trucks inside, sync state. Keys:
    /// F1 help, F2 direction, F3-F6 checks, F7 save defaults, F8 override, F9 sync, F10 quit.
    /// See docs/gate-ui.md.
    Gate {
        #[command(flatten)]
        gate: GateArgs,
    },
    /// Enrol this device with a one-time code from the operations bureau: make the device
    /// key, register it, fetch and verify the first trust bundle, store everything.
    Enroll {
        /// The server, e.g. http://10.0.0.5:8080
        #[arg(long)]
        server: String,
        /// The one-time enrolment code (注册码), e.g. ABCD-EFGH-JKLM.
        #[arg(long)]
        code: String,
        /// A name for this device, shown in the console (e.g. "east gate handheld 1").
        #[arg(long)]
        name: Option<String>,
        /// Print one JSON object per line instead of text for people.
        #[arg(long)]
        json: bool,
    },
    /// Verify one pass offline, record the scan, show the verdict (exit 0 accepted, 1 rejected).
    #[command(group(ArgGroup::new("input").required(true).args(["text", "image"])))]
    Verify {
        /// The QR text (PG:…).
        text: Option<String>,
        /// Read the QR code from a PNG or JPEG image instead.
        #[arg(long)]
        image: Option<PathBuf>,
        #[command(flatten)]
        scan: ScanArgs,
    },
    /// Verify one pass per line from standard input (keyboard-wedge scanner) until it ends;
    /// the direction, guard and checks apply to every line of the session.
    ///
    /// With --camera-dir DIR, watch a folder where an IP camera drops JPEG or PNG snapshots
    /// instead: each new frame is decoded once, and the same pass seen again within the
    /// repeat window is not a second scan.
    Scan {
        #[command(flatten)]
        scan: ScanArgs,
        /// Watch this folder of camera snapshots (JPEG/PNG) instead of reading standard input.
        #[arg(long)]
        camera_dir: Option<PathBuf>,
        /// Seconds within which the same pass seen again by the camera is not a second scan.
        #[arg(long, default_value_t = 5.0, requires = "camera_dir", value_parser = parse_seconds)]
        repeat_window: f64,
        /// Stop after reading this many camera frames (drills and tests).
        #[arg(long, requires = "camera_dir")]
        max_frames: Option<u64>,
        /// Stop when no new camera frame has arrived for this many seconds.
        #[arg(long, requires = "camera_dir", value_parser = parse_seconds)]
        exit_after_idle: Option<f64>,
        /// Decoding time budget per camera frame in milliseconds (harder retries are skipped;
        /// the next frame gets its own chance); 0 for no limit.
        #[arg(long, default_value_t = 150, requires = "camera_dir")]
        decode_budget_ms: u64,
    },
    /// A supervisor lets a rejected truck through (主管特批): records a new,
    /// accepted-with-override record pointing at the rejected one (exit 0).
    Override {
        /// The supervisor's id.
        #[arg(long)]
        supervisor: String,
        /// Why the rejection is overridden (kept and reported for review).
        #[arg(long)]
        reason: String,
        /// The rejected record's number; the latest record if omitted.
        #[arg(long)]
        seq: Option<u64>,
        /// The guard at the gate.
        #[arg(long = "guard", env = "PASSGATE_GUARD_ID")]
        guard: Option<String>,
        /// Print one JSON object per line instead of text for people.
        #[arg(long)]
        json: bool,
    },
    /// Upload scan records (signed batches) and fetch fresh trust data.
    Sync {
        /// Seconds one request may take before it is given up and retried (slow links).
        #[arg(long, default_value_t = 60.0, value_parser = parse_timeout)]
        timeout: f64,
        /// Print one JSON object per line instead of text for people.
        #[arg(long)]
        json: bool,
    },
    /// Check the local data without changing it: the database file (SQLite integrity
    /// check), the scan log's chain, the stored trust bundle and the device key. Exit 0
    /// when all is well, 2 when something needs attention.
    Check {
        /// Print one JSON object per line instead of text for people.
        #[arg(long)]
        json: bool,
    },
    /// Show this device, its trust data, clock, upload backlog and the trucks inside.
    Status {
        /// Print one JSON object per line instead of text for people.
        #[arg(long)]
        json: bool,
    },
    /// This device's scan counts for one day (Beijing time), grouped like the server's.
    Report {
        /// YYYY-MM-DD (Beijing time); today if omitted.
        #[arg(long, value_parser = parse_day)]
        date: Option<String>,
        /// Print one JSON object per line instead of text for people.
        #[arg(long)]
        json: bool,
    },
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| format!("unknown language {s:?}: use zh or en"))
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && (0.0..=86_400.0).contains(v))
        .ok_or_else(|| format!("{s:?} is not a number of seconds (0 to 86400)"))
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0 && *v <= 3600.0)
        .ok_or_else(|| format!("{s:?} is not a timeout: give seconds, more than 0, at most 3600"))
}

fn parse_day(s: &str) -> Result<String, String> {
    passgate_shared::time::local_day_range(s)
        .map(|_| s.to_owned())
        .ok_or_else(|| format!("{s:?} is not a date: use YYYY-MM-DD"))
}

fn parse_direction(s: &str) -> Result<Direction, String> {
    match s.trim() {
        "进" => Ok(Direction::In),
        "出" => Ok(Direction::Out),
        t => Direction::parse(&t.to_ascii_lowercase())
            .ok_or_else(|| format!("unknown direction {s:?}: use in or out")),
    }
}

fn parse_health(s: &str) -> Result<HealthCode, String> {
    HealthCode::parse(&s.trim().to_ascii_lowercase())
        .ok_or_else(|| format!("unknown health code colour {s:?}: use green, yellow or red"))
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "是" | "有" | "正常" | "阴性" => Ok(true),
        "no" | "n" | "false" | "0" | "否" | "无" | "异常" => Ok(false),
        _ => Err(format!("{s:?}: use yes or no")),
    }
}

fn parse_temperature(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "ok" | "normal" | "正常" => Ok(true),
        "high" | "fever" | "异常" | "发热" => Ok(false),
        _ => Err(format!("unknown temperature {s:?}: use ok or high")),
    }
}

fn json_wanted(command: Option<&Command>) -> bool {
    let Some(command) = command else {
        return false;
    };
    match command {
        Command::Enroll { json, .. }
        | Command::Override { json, .. }
        | Command::Sync { json, .. }
        | Command::Check { json }
        | Command::Status { json }
        | Command::Report { json, .. } => *json,
        Command::Verify { scan, .. } | Command::Scan { scan, .. } => scan.json,
        Command::Gate { .. } => false,
    }
}

/// The gate clock: the system clock, or the testing knob.
fn clock() -> Result<Clock, CheckpointError> {
    match std::env::var(FAKE_NOW_ENV) {
        Err(_) => Ok(Clock::System),
        Ok(v) => v.trim().parse().map(Clock::Fixed).map_err(|_| {
            CheckpointError::Usage(format!(
                "{FAKE_NOW_ENV}={v:?} is not a number of unix seconds; unset it at a real gate"
            ))
        }),
    }
}

async fn run(cli: Cli, out: &mut dyn Write) -> Result<u8, CheckpointError> {
    let color = !json_wanted(cli.command.as_ref())
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let clock = clock()?;
    let common = |json| Common {
        data_dir: cli.data_dir.clone(),
        lang: cli.lang,
        json,
        color,
        clock,
    };
    let Some(command) = cli.command else {
        // No subcommand: the gate screen on a terminal, else the help (as before).
        if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
            let guard = std::env::var("PASSGATE_GUARD_ID")
                .ok()
                .filter(|g| !g.is_empty());
            let args = GateArgs {
                direction: None,
                checks: CheckArgs {
                    guard,
                    ..CheckArgs::default()
                },
                repeat_window: 3.0,
            };
            tui::run(&common(false), &args.options()?).await?;
            return Ok(0);
        }
        eprint!("{}", Cli::command().render_help());
        return Ok(2);
    };
    match command {
        Command::Gate { ref gate } => {
            tui::run(&common(false), &gate.options()?).await?;
            Ok(0)
        }
        Command::Enroll {
            ref server,
            ref code,
            ref name,
            json,
        } => {
            app::enroll(&common(json), server, code, name.as_deref(), out).await?;
            Ok(0)
        }
        Command::Verify {
            ref text,
            ref image,
            ref scan,
        } => {
            let input = match (text, image) {
                (_, Some(path)) => VerifyInput::Image(path.clone()),
                (Some(t), None) => VerifyInput::Text(t.clone()),
                (None, None) => {
                    return Err(CheckpointError::Usage(
                        "give the QR text or --image FILE".into(),
                    ));
                }
            };
            let meta = scan.meta()?;
            let outcome =
                app::verify(&common(scan.json), &input, scan.direction, &meta, out).await?;
            Ok(if outcome.accepted() { 0 } else { 1 })
        }
        Command::Scan {
            ref scan,
            camera_dir: Some(ref dir),
            repeat_window,
            max_frames,
            exit_after_idle,
            decode_budget_ms,
        } => {
            let meta = scan.meta()?;
            let options = CameraOptions {
                repeat_window: Duration::from_secs_f64(repeat_window),
                max_frames,
                exit_after_idle: exit_after_idle.map(Duration::from_secs_f64),
                decode_budget: (decode_budget_ms > 0)
                    .then(|| Duration::from_millis(decode_budget_ms)),
                ..CameraOptions::new(dir)
            };
            let session =
                app::scan_camera_dir(&common(scan.json), scan.direction, &meta, &options, out)
                    .await?;
            Ok(if session.scans.not_recorded > 0 { 2 } else { 0 })
        }
        Command::Scan {
            ref scan,
            camera_dir: None,
            ..
        } => {
            let meta = scan.meta()?;
            let stdin = tokio::io::BufReader::new(tokio::io::stdin());
            let session =
                app::scan_lines(&common(scan.json), scan.direction, &meta, stdin, out).await?;
            Ok(if session.not_recorded > 0 { 2 } else { 0 })
        }
        Command::Override {
            ref supervisor,
            ref reason,
            seq,
            ref guard,
            json,
        } => {
            let request = OverrideRequest {
                seq,
                supervisor_id: supervisor.clone(),
                reason: reason.clone(),
                guard_id: guard
                    .as_deref()
                    .map(|g| check_person_id(g, "the guard id"))
                    .transpose()?,
            };
            app::override_scan(&common(json), &request, out).await?;
            Ok(0)
        }
        Command::Sync { json, timeout } => {
            app::sync(&common(json), Duration::from_secs_f64(timeout), out).await?;
            Ok(0)
        }
        Command::Check { json } => {
            let report = app::check(&common(json), out).await?;
            Ok(if report.ok() { 0 } else { 2 })
        }
        Command::Status { json } => {
            app::status(&common(json), out).await?;
            Ok(0)
        }
        Command::Report { ref date, json } => {
            let date = date
                .clone()
                .unwrap_or_else(|| passgate_shared::time::local_day(clock.now()));
            app::report(&common(json), &date, out).await?;
            Ok(0)
        }
    }
}

/// Whether this run opens the full-screen gate screen.
fn opens_screen(cli: &Cli) -> bool {
    match cli.command {
        Some(Command::Gate { .. }) => true,
        None => std::io::stdin().is_terminal() && std::io::stdout().is_terminal(),
        Some(_) => false,
    }
}

/// Where log lines go: stderr, except under the gate screen, where they would scribble
/// over it: there they go to `DATA_DIR/gate.log` (or nowhere when it cannot be opened).
fn log_writer(cli: &Cli) -> tracing_subscriber::fmt::writer::BoxMakeWriter {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    if !opens_screen(cli) {
        return BoxMakeWriter::new(std::io::stderr);
    }
    let file = cli
        .data_dir
        .is_dir()
        .then(|| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(cli.data_dir.join("gate.log"))
                .ok()
        })
        .flatten();
    match file {
        Some(f) => BoxMakeWriter::new(std::sync::Mutex::new(f)),
        None => BoxMakeWriter::new(std::io::sink),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(log_writer(&cli))
        .with_ansi(!opens_screen(&cli))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let mut stdout = std::io::stdout();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("passgate-checkpoint: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let json = json_wanted(cli.command.as_ref());
    let code = match runtime.block_on(run(cli, &mut stdout)) {
        Ok(code) => code,
        Err(err) => app::report_error(&err, json, &mut stdout),
    };
    ExitCode::from(code)
}
