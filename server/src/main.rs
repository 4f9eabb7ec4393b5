//! The `passgate-server` command: parses the command line and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use passgate_server::keyring::Passphrase;
use passgate_server::store::{NewUser, Role, Store, UserRole};
use passgate_server::web;
use passgate_server::{Config, StartError, create_token, demo, open, open_store, serve};
use passgate_shared::{CheckpointId, EnterpriseId};

#[derive(Parser)]
#[command(
    name = "passgate-server",
    version,
    about = "passgate issuing server: vehicle passes, gate sync, daily usage"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct DataArgs {
    /// Directory holding the SQLite database and the keys.
    #[arg(long, env = "PASSGATE_DATA_DIR", default_value = "./passgate-data")]
    data_dir: PathBuf,
    /// Database URL: sqlite://PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DB;
    /// default: the SQLite file DATA_DIR/passgate.db.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Directory of the issuer signing keys and the ID-hash secret (created on first start);
    /// default: DATA_DIR/keys. Every instance on one database must use the same keys.
    #[arg(long, env = "PASSGATE_KEY_DIR")]
    key_dir: Option<PathBuf>,
    /// A file whose first line is the passphrase that encrypts the key files at rest
    /// (or set PASSGATE_KEY_PASSPHRASE). New key files are written encrypted; convert old
    /// ones with `keys encrypt`.
    #[arg(long)]
    key_passphrase_file: Option<PathBuf>,
}

/// The environment variable holding the key passphrase.
const PASSPHRASE_ENV: &str = "PASSGATE_KEY_PASSPHRASE";

impl DataArgs {
    fn passphrase(&self) -> anyhow::Result<Option<Passphrase>> {
        if let Some(path) = &self.key_passphrase_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the passphrase file {}", path.display()))?;
            let first = text.lines().next().unwrap_or_default().to_owned();
            return Passphrase::new(first)
                .map(Some)
                .with_context(|| format!("the passphrase file {} is empty", path.display()));
        }
        Ok(std::env::var(PASSPHRASE_ENV).ok().and_then(Passphrase::new))
    }

    fn config(&self) -> anyhow::Result<Config> {
        let mut c = Config::new(&self.data_dir);
        c.database_url = self.database_url.clone();
        c.key_dir = self.key_dir.clone();
        c.key_passphrase = self.passphrase()?;
        Ok(c)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        /// Address to listen on (port 0 picks a free port; the chosen address is printed).
        #[arg(long, env = "PASSGATE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        #[command(flatten)]
        data: DataArgs,
        /// Seed demo data first if the data directory is fresh.
        #[arg(long)]
        demo: bool,
        /// API requests allowed per token per minute (0: no limit, for load tests).
        #[arg(long, default_value_t = passgate_server::ratelimit::DEFAULT_TOKEN_PER_MINUTE)]
        token_rate_limit: u32,
        /// Requests with a missing or unknown token allowed per client address per minute
        /// (0: no limit, for API test runs such as server/bench/schemathesis.sh).
        #[arg(long, default_value_t = passgate_server::ratelimit::DEFAULT_BAD_TOKEN_PER_MINUTE)]
        bad_token_rate_limit: u32,
        /// Failed enrolment attempts allowed per client address per minute (0: no limit,
        /// for API test runs).
        #[arg(long, default_value_t = passgate_server::ratelimit::DEFAULT_ENROLMENT_FAILURES_PER_MINUTE)]
        enrolment_rate_limit: u32,
    },
    /// Seed a fresh data directory with demo data and print what was made.
    Demo {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Write a consistent copy of the SQLite database to a new file, safe while the server
    /// is serving. For PostgreSQL use pg_dump (see docs/operations.md).
    Backup {
        /// The new file to write (must not exist).
        #[arg(long)]
        to: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Key files at rest.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Check the audit log's hash chain; exits 0 when it is intact, 1 when it is not.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Remove personal data kept longer than needed: full names and ID-number hashes of
    /// passes that expired before DATE, and the per-scan details (plate, guard, checks,
    /// supervisor) of scans before DATE. Daily counts and the audit chain are kept.
    Purge {
        /// The first day (Beijing time, YYYY-MM-DD) whose data is kept.
        #[arg(long)]
        before: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Manage console accounts (people; machines use tokens).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Encrypt every plain key and secret file in the key directory with the passphrase
    /// (PASSGATE_KEY_PASSPHRASE or --key-passphrase-file). Stop the server first.
    Encrypt {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the chain and report the first edited, deleted or reordered entry.
    Verify {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. Its one-time password is printed once, as the last line, and must
    /// be changed at first login (unless --password-stdin sets the password).
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Login name (letters, digits, `.`, `-`, `_`).
        #[arg(long)]
        username: String,
        /// admin, ops, transport, taskforce, enterprise or supervisor.
        #[arg(long, value_parser = parse_user_role)]
        role: UserRole,
        /// The name shown in the console (defaults to the login name).
        #[arg(long)]
        display_name: Option<String>,
        /// The enterprise an `enterprise` account belongs to.
        #[arg(long)]
        enterprise_id: Option<u32>,
        /// The supervision team a `supervisor` account belongs to.
        #[arg(long)]
        team_id: Option<i64>,
        /// Read the password from the first line of standard input instead.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give an account a new one-time password (printed once) and end its sessions.
    ResetPassword {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        username: String,
    },
}

fn parse_user_role(s: &str) -> Result<UserRole, String> {
    UserRole::parse(s).ok_or_else(|| {
        format!(
            "unknown role {s:?}: use admin, ops, transport, taskforce, enterprise or supervisor"
        )
    })
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once, as the last line.
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// admin, ops, transport, checkpoint, enterprise or taskforce.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Who or what the token is for.
        #[arg(long)]
        name: String,
        /// Bind a checkpoint token to one checkpoint: it may upload only that gate's scans.
        #[arg(long)]
        checkpoint_id: Option<u32>,
        /// The enterprise an `enterprise` token files reports for (required for that role).
        #[arg(long)]
        enterprise_id: Option<u32>,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        format!(
            "unknown role {s:?}: use admin, ops, transport, checkpoint, enterprise or taskforce"
        )
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            listen,
            data,
            demo,
            token_rate_limit,
            bad_token_rate_limit,
            enrolment_rate_limit,
        } => {
            let mut config = data.config()?;
            config.token_rate_per_minute = token_rate_limit;
            config.bad_token_rate_per_minute = bad_token_rate_limit;
            config.enrolment_failures_per_minute = enrolment_rate_limit;
            let state = open(&config).await?;
            if demo {
                match demo::seed(&state).await {
                    Ok(report) => print!("{}", report.text),
                    Err(StartError::Demo(msg)) => {
                        eprintln!("demo: {msg}; serving the existing data")
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if let Some(password) = web::session::ensure_first_admin(&state)
                .await
                .map_err(|e| anyhow::anyhow!("cannot create the first administrator: {e}"))?
            {
                println!(
                    "first start: console administrator `admin`, one-time password {password}\n  \
                     (shown only this once; it must be changed at the first login)"
                );
            }
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr()?;
            println!("passgate-server listening on http://{addr}");
            tracing::info!(%addr, data_dir = %data.data_dir.display(), "serving");
            serve(state, listener, shutdown_signal()).await?;
        }
        Command::Backup { to, data } => {
            let db = passgate_server::default_db_path(&data.data_dir);
            if data.database_url.is_none() && !db.exists() {
                anyhow::bail!("there is no database at {}", db.display());
            }
            let store = open_store(&data.config()?).await?;
            store
                .backup_to(&to)
                .await
                .with_context(|| format!("backup to {}", to.display()))?;
            println!("backed up to {}", to.display());
        }
        Command::Demo { data } => {
            let state = open(&data.config()?).await?;
            let report = demo::seed(&state).await?;
            print!("{}", report.text);
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    data,
                    role,
                    name,
                    checkpoint_id,
                    enterprise_id,
                },
        } => {
            let state = open(&data.config()?).await?;
            let token = match (role, enterprise_id) {
                (Role::Enterprise, None) => {
                    anyhow::bail!("an enterprise token needs --enterprise-id")
                }
                (Role::Enterprise, Some(e)) => {
                    if checkpoint_id.is_some() {
                        anyhow::bail!("an enterprise token takes no --checkpoint-id");
                    }
                    let e = EnterpriseId(e);
                    if state.store.get_enterprise(e).await?.is_none() {
                        anyhow::bail!("there is no enterprise {}", e.0);
                    }
                    passgate_server::auth::create_enterprise_token(&state, &name, e).await?
                }
                (_, Some(_)) => anyhow::bail!("only enterprise tokens take --enterprise-id"),
                (_, None) => {
                    create_token(&state, role, &name, checkpoint_id.map(CheckpointId)).await?
                }
            };
            println!(
                "created {} token for {name:?}; it is shown only once:",
                role.as_str()
            );
            println!("{token}");
        }
        Command::User { command } => user_command(command).await?,
        Command::Keys {
            command: KeysCommand::Encrypt { data },
        } => {
            let config = data.config()?;
            let Some(pass) = config.key_passphrase.as_ref() else {
                anyhow::bail!("give the passphrase with {PASSPHRASE_ENV} or --key-passphrase-file");
            };
            let dir = config.key_dir();
            let done = passgate_server::keyring::encrypt_dir(&dir, pass)?;
            println!("encrypted {} key files in {}", done.len(), dir.display());
            for p in done {
                println!("  {}", p.display());
            }
        }
        Command::Purge { before, data } => {
            let (start, _) = passgate_shared::time::local_day_range(&before).ok_or_else(|| {
                anyhow::anyhow!("--before takes a date as YYYY-MM-DD, e.g. 2026-10-01: {before:?}")
            })?;
            let now = passgate_server::state::now();
            if start > now {
                anyhow::bail!(
                    "--before {before} is in the future; nothing that recent may be purged"
                );
            }
            let state = open(&data.config()?).await?;
            let report =
                passgate_server::store::RetentionStore::purge_before(&*state.store, start, now)
                    .await?;
            passgate_server::audit::record(
                &state,
                "cli",
                passgate_server::audit::Action::DataPurged,
                &format!("before:{before}"),
                serde_json::to_value(report)?,
            )
            .await?;
            println!(
                "purged before {before}: personal data of {} expired passes, details of {} scans, {} expired sessions",
                report.passes_scrubbed, report.scans_scrubbed, report.sessions_removed
            );
        }
        Command::Audit {
            command: AuditCommand::Verify { data },
        } => {
            let state = open(&data.config()?).await?;
            let verdict = passgate_server::audit::verify_store(&state).await?;
            match verdict.first_break {
                None => println!(
                    "audit chain intact: {} entries; head {}",
                    verdict.entries,
                    if verdict.last_hash.is_empty() {
                        "(empty)"
                    } else {
                        &verdict.last_hash
                    }
                ),
                Some(b) => {
                    println!("audit chain BROKEN: {b}");
                    return Err(AuditBroken.into());
                }
            }
        }
    }
    Ok(())
}

async fn user_command(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            data,
            username,
            role,
            display_name,
            enterprise_id,
            team_id,
            password_stdin,
        } => {
            let state = open(&data.config()?).await?;
            let enterprise = enterprise_id.map(EnterpriseId);
            match (role, enterprise) {
                (UserRole::Enterprise, None) => {
                    anyhow::bail!("an enterprise account needs --enterprise-id")
                }
                (UserRole::Enterprise, Some(e)) => {
                    if state.store.get_enterprise(e).await?.is_none() {
                        anyhow::bail!("there is no enterprise {}", e.0);
                    }
                }
                (_, Some(_)) => anyhow::bail!("only enterprise accounts take --enterprise-id"),
                (_, None) => {}
            }
            match (role, team_id) {
                (UserRole::Supervisor, None) => {
                    anyhow::bail!("a supervisor account needs --team-id")
                }
                (UserRole::Supervisor, Some(t)) => {
                    if state.store.get_team(t).await?.is_none() {
                        anyhow::bail!("there is no supervision team {t}");
                    }
                }
                (_, Some(_)) => anyhow::bail!("only supervisor accounts take --team-id"),
                (_, None) => {}
            }
            if username.is_empty()
                || username.len() > 64
                || !username
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            {
                anyhow::bail!(
                    "a user name is 1 to 64 letters, digits, `.`, `-` or `_`: {username:?}"
                );
            }
            let (password, must_change) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                let line = line.trim_end_matches(['\r', '\n']).to_owned();
                if let Some(problem) =
                    web::session::password_problem(passgate_shared::Lang::En, &line, &username)
                {
                    anyhow::bail!("{problem}");
                }
                (line, false)
            } else {
                (new_password()?, true)
            };
            let user = NewUser {
                display_name: display_name.unwrap_or_else(|| username.clone()),
                username,
                role,
                enterprise_id: enterprise,
                team_id,
                password_hash: web::session::hash_password(password.clone())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                must_change_password: must_change,
            };
            let user = state
                .store
                .create_user(&user, passgate_server::state::now())
                .await?;
            println!("created {} account {:?}", user.role.as_str(), user.username);
            if must_change {
                println!("one-time password (change it at the first login):");
                println!("{password}");
            }
        }
        UserCommand::ResetPassword { data, username } => {
            let state = open(&data.config()?).await?;
            let Some(user) = state.store.find_user(&username).await? else {
                anyhow::bail!("there is no account {username:?}");
            };
            let password = new_password()?;
            let hash = web::session::hash_password(password.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            state.store.set_password(user.id, &hash, true).await?;
            passgate_server::audit::record(
                &state,
                "cli",
                passgate_server::audit::Action::PasswordReset,
                &format!("user:{}", user.username),
                serde_json::json!({}),
            )
            .await?;
            println!(
                "new one-time password for {:?} (change it at the next login):",
                user.username
            );
            println!("{password}");
        }
    }
    Ok(())
}

/// `audit verify` found the chain broken (already reported on stdout).
#[derive(Debug)]
struct AuditBroken;

impl std::fmt::Display for AuditBroken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the audit chain is not intact")
    }
}

impl std::error::Error for AuditBroken {}

fn new_password() -> anyhow::Result<String> {
    web::session::new_password().map_err(|e| anyhow::anyhow!("{e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PASSGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
