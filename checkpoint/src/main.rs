//! `passgate-checkpoint`: parse the command line and call the library.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Parser, Subcommand};
use passgate_checkpoint::CheckpointError;
use passgate_checkpoint::app::{self, Common, VerifyInput};
use passgate_shared::sync::Direction;
use passgate_shared::{CheckpointId, Lang};

/// Offline pass verification at the gate (卡口通行证离线核验).
#[derive(Debug, Parser)]
#[command(name = "passgate-checkpoint", version, about)]
struct Cli {
    /// Where the local database lives.
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
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enrol this device: fetch the trust bundle and store the configuration.
    Init {
        /// The server, e.g. http://10.0.0.5:8080
        #[arg(long)]
        server: String,
        /// The device token issued by the operations bureau's console.
        #[arg(long, env = "PASSGATE_CHECKPOINT_TOKEN", hide_env_values = true)]
        token: String,
        /// This checkpoint's id on the server.
        #[arg(long)]
        checkpoint_id: u32,
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
        /// in (进) or out (出).
        #[arg(long, default_value = "in", value_parser = parse_direction)]
        direction: Direction,
        /// Print one JSON object per line instead of text for people.
        #[arg(long)]
        json: bool,
    },
    /// Verify one pass per line from standard input (keyboard-wedge scanner) until it ends.
    Scan {
        #[arg(long, default_value = "in", value_parser = parse_direction)]
        direction: Direction,
        /// Print one JSON object per line instead of text for people.
        #[arg(long)]
        json: bool,
    },
    /// Upload scan records and fetch fresh trust data.
    Sync {
        /// Print one JSON object per line instead of text for people.
        #[arg(long)]
        json: bool,
    },
    /// Show this device's configuration, trust data age and upload backlog.
    Status {
        /// Print one JSON object per line instead of text for people.
        #[arg(long)]
        json: bool,
    },
    /// This device's scan counts for one day (Beijing time).
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

fn json_wanted(command: &Command) -> bool {
    match command {
        Command::Init { json, .. }
        | Command::Verify { json, .. }
        | Command::Scan { json, .. }
        | Command::Sync { json }
        | Command::Status { json }
        | Command::Report { json, .. } => *json,
    }
}

async fn run(cli: Cli, out: &mut dyn Write) -> Result<u8, CheckpointError> {
    let color = !json_wanted(&cli.command)
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let common = |json| Common {
        data_dir: cli.data_dir.clone(),
        lang: cli.lang,
        json,
        color,
    };
    match cli.command {
        Command::Init {
            ref server,
            ref token,
            checkpoint_id,
            json,
        } => {
            app::init(
                &common(json),
                server,
                token,
                CheckpointId(checkpoint_id),
                out,
            )
            .await?;
            Ok(0)
        }
        Command::Verify {
            ref text,
            ref image,
            direction,
            json,
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
            let outcome = app::verify(&common(json), &input, direction, out).await?;
            Ok(if outcome.accepted() { 0 } else { 1 })
        }
        Command::Scan { direction, json } => {
            let stdin = tokio::io::BufReader::new(tokio::io::stdin());
            app::scan_lines(&common(json), direction, stdin, out).await?;
            Ok(0)
        }
        Command::Sync { json } => {
            app::sync(&common(json), out).await?;
            Ok(0)
        }
        Command::Status { json } => {
            app::status(&common(json), out).await?;
            Ok(0)
        }
        Command::Report { date, json } => {
            let date = date.unwrap_or_else(app::beijing_today);
            app::report(&common(json), &date, out).await?;
            Ok(0)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
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
    let json = json_wanted(&cli.command);
    let code = match runtime.block_on(run(cli, &mut stdout)) {
        Ok(code) => code,
        Err(err) => app::report_error(&err, json, &mut stdout),
    };
    ExitCode::from(code)
}
