//! # passgate-tests
//!
//! Harness for end-to-end tests: it starts the real `passgate-server` binary on port 0 with
//! a temporary data directory, and runs the real `passgate-checkpoint` binary against it.
//! Nothing is mocked; processes are killed when their handles drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use ed25519_dalek::SigningKey;
use passgate_shared::record::{DeviceId, GENESIS_HASH, GateRecord, UploadBatch, sign_batch};
use passgate_shared::sync::Direction;
use passgate_shared::{CheckpointId, PassClass, PassNumber};
use serde_json::Value;

pub mod proxy;
pub mod webdriver;

/// Path of a workspace binary: `$PASSGATE_<NAME>_BIN` if set, else the one in this cargo
/// target directory, brought up to date by `cargo build` once per test process — so a test
/// never runs a stale server or checkpoint after a change to their code (a no-op build takes
/// a fraction of a second).
pub fn binary(name: &str) -> Result<PathBuf> {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let var = format!("{}_BIN", name.to_uppercase().replace('-', "_"));
    if let Ok(p) = std::env::var(&var) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("unexpected test executable location")?;
    let path = dir.join(name);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "--package", name, "--bin", name]);
        if dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .context("running cargo build for the binaries under test")?;
        if !status.success() || !path.exists() {
            bail!(
                "{name} could not be built at {}; run `cargo build --workspace` to see why",
                path.display()
            );
        }
        built.push(name.to_owned());
    }
    Ok(path)
}

/// Which database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database for one test: nothing for SQLite (the server makes its file in its data
/// directory), a new PostgreSQL database (dropped at the end) for PostgreSQL.
pub struct TestDatabase {
    pub backend: Backend,
    pub pg: Option<passgate_server::testing::PgTestDb>,
}

impl TestDatabase {
    /// `Ok(None)`: skip this test (PostgreSQL without `PASSGATE_TEST_POSTGRES_URL`, outside
    /// CI). Under `CI=true` a missing variable is an error, so the test fails.
    pub fn new(backend: Backend, test: &str) -> Result<Option<TestDatabase>> {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let Some(admin) = passgate_server::testing::postgres_admin_url(test)? else {
                    return Ok(None);
                };
                Some(passgate_server::testing::PgTestDb::create_blocking(&admin)?)
            }
        };
        Ok(Some(TestDatabase { backend, pg }))
    }

    /// The server arguments that select this database (none for the SQLite default).
    pub fn args(&self) -> Vec<String> {
        match &self.pg {
            Some(pg) => vec!["--database-url".into(), pg.url.clone()],
            None => vec![],
        }
    }
}

/// A running `passgate-server serve` process.
pub struct Server {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    /// Data arguments (`--database-url`, `--key-dir`) given to every command run for this
    /// server: `serve`, restarts and `token create`.
    pub args: Vec<String>,
    log: mpsc::Receiver<String>,
}

impl Server {
    /// Start the server on `127.0.0.1:0` over `data_dir`, and wait until it listens.
    pub fn start(data_dir: &Path) -> Result<Server> {
        Self::start_with(data_dir, "127.0.0.1:0", &[])
    }

    /// Start again where a killed server was: same data, same address.
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        let addr = self.url.trim_start_matches("http://").to_owned();
        let args = self.args.clone();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut last = None;
        for _ in 0..50 {
            match Self::start_with(&self.data_dir, &addr, &args) {
                Ok(s) => {
                    *self = s;
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last.unwrap_or_else(|| anyhow!("restart failed")))
    }

    /// Start over `data_dir` listening on `listen`; `extra` are data arguments
    /// (`--database-url URL`, `--key-dir DIR`), kept for restarts and token creation.
    pub fn start_with(data_dir: &Path, listen: &str, extra: &[&str]) -> Result<Server> {
        let mut child = Command::new(binary("passgate-server")?)
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("PASSGATE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting passgate-server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            url: String::new(),
            data_dir: data_dir.to_owned(),
            args: extra.iter().map(|a| (*a).to_owned()).collect(),
            log: rx,
        };
        loop {
            let Ok(line) = server.log.recv_timeout(Duration::from_secs(60)) else {
                let status = server.child.try_wait().ok().flatten();
                bail!("passgate-server did not report its address (exit status {status:?})");
            };
            if let Some(url) = line.strip_prefix("passgate-server listening on ") {
                server.url = url.trim().to_owned();
                return Ok(server);
            }
        }
    }

    /// Kill the process (as a power cut would) and wait for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Create an API token with the real CLI; returns the token text (its last line).
    pub fn token(&self, role: &str, name: &str, checkpoint: Option<u64>) -> Result<String> {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        create_token_with(&self.data_dir, &args, role, name, checkpoint)
    }

    /// Create a console account with the real CLI (`user add --password-stdin`).
    pub fn add_user(
        &self,
        username: &str,
        role: &str,
        password: &str,
        enterprise: Option<u64>,
    ) -> Result<()> {
        use std::io::Write;
        let mut cmd = Command::new(binary("passgate-server")?);
        cmd.args([
            "user",
            "add",
            "--username",
            username,
            "--role",
            role,
            "--password-stdin",
        ])
        .arg("--data-dir")
        .arg(&self.data_dir)
        .args(&self.args);
        if let Some(e) = enterprise {
            cmd.args(["--enterprise-id", &e.to_string()]);
        }
        let mut child = cmd
            .env("PASSGATE_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .context("no stdin")?
            .write_all(format!("{password}\n").as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("user add failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// The base URL's `host:port`.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    pub fn api(&self, token: &str) -> Api {
        Api {
            base: format!("{}/api/v1", self.url),
            token: token.to_owned(),
            http: http(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `passgate-server token create` against a data directory.
pub fn create_token(
    data_dir: &Path,
    role: &str,
    name: &str,
    checkpoint: Option<u64>,
) -> Result<String> {
    create_token_with(data_dir, &[], role, name, checkpoint)
}

/// `passgate-server token create` with data arguments (`--database-url`, `--key-dir`).
pub fn create_token_with(
    data_dir: &Path,
    args: &[&str],
    role: &str,
    name: &str,
    checkpoint: Option<u64>,
) -> Result<String> {
    let mut cmd = Command::new(binary("passgate-server")?);
    cmd.args([
        "token",
        "create",
        "--role",
        role,
        "--name",
        name,
        "--data-dir",
    ])
    .arg(data_dir)
    .args(args);
    if let Some(c) = checkpoint {
        cmd.args(["--checkpoint-id", &c.to_string()]);
    }
    let out = cmd.env("PASSGATE_LOG", "warn").output()?;
    if !out.status.success() {
        bail!(
            "token create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8(out.stdout)?;
    text.lines()
        .last()
        .map(str::to_owned)
        .context("token create printed nothing")
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|_| reqwest::blocking::Client::new())
}

/// A JSON API client with one token.
pub struct Api {
    pub base: String,
    pub token: String,
    http: reqwest::blocking::Client,
}

impl Api {
    pub fn get(&self, path: &str) -> Result<(u16, Value)> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()?;
        let status = r.status().as_u16();
        Ok((status, r.json().unwrap_or(Value::Null)))
    }

    pub fn get_bytes(&self, path: &str) -> Result<(u16, Vec<u8>)> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()?;
        let status = r.status().as_u16();
        Ok((status, r.bytes()?.to_vec()))
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<(u16, Value)> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()?;
        let status = r.status().as_u16();
        Ok((status, r.json().unwrap_or(Value::Null)))
    }

    /// POST and insist on a 2xx, returning the body.
    pub fn create(&self, path: &str, body: &Value) -> Result<Value> {
        let (s, v) = self.post(path, body)?;
        if !(200..300).contains(&s) {
            bail!("POST {path} answered {s}: {v}");
        }
        Ok(v)
    }
}

/// The checkpoint program over one data directory.
pub struct Checkpoint {
    pub data_dir: PathBuf,
}

impl Checkpoint {
    pub fn new(data_dir: &Path) -> Checkpoint {
        Checkpoint {
            data_dir: data_dir.to_owned(),
        }
    }

    /// Enrol the real checkpoint program in `data_dir` at `checkpoint`: `ops` makes a
    /// one-time code, and `enroll` redeems it against `server_url` (the server itself, a
    /// second instance, or a proxy in front of it).
    pub fn enroll(
        data_dir: &Path,
        ops: &Api,
        checkpoint: u64,
        server_url: &str,
    ) -> Result<Checkpoint> {
        let code = ops.create(
            &format!("/checkpoints/{checkpoint}/enrollment"),
            &Value::Null,
        )?;
        let cp = Checkpoint::new(data_dir);
        cp.ok(&[
            "enroll",
            "--server",
            server_url,
            "--code",
            code["code"].as_str().context("enrolment code")?,
        ])?;
        Ok(cp)
    }

    pub fn command(&self) -> Result<Command> {
        let mut cmd = Command::new(binary("passgate-checkpoint")?);
        cmd.env("PASSGATE_CHECKPOINT_DATA_DIR", &self.data_dir)
            .env("RUST_LOG", "warn");
        Ok(cmd)
    }

    /// Run a subcommand with `--data-dir`.
    pub fn run(&self, args: &[&str]) -> Result<Output> {
        let mut cmd = self.command()?;
        let (sub, rest) = args.split_first().context("no subcommand")?;
        cmd.arg(sub)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(rest);
        Ok(cmd.output()?)
    }

    /// Run a subcommand that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> Result<String> {
        let out = self.run(args)?;
        if !out.status.success() {
            bail!(
                "passgate-checkpoint {args:?} exited {:?}\nstdout: {}\nstderr: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// `verify --json …`: the exit code and the verdict object.
    pub fn verify_json(&self, args: &[&str]) -> Result<(i32, Value)> {
        let mut all = vec!["verify", "--json"];
        all.extend_from_slice(args);
        let out = self.run(&all)?;
        let code = out.status.code().unwrap_or(-1);
        let text = String::from_utf8(out.stdout)?;
        let v: Value = serde_json::from_str(text.trim()).with_context(|| {
            format!(
                "verify printed no JSON (exit {code}): {text:?} / {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        Ok((code, v))
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// RFC 3339 of a Unix time.
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default()
}

/// A gate device simulated in-process with the real protocol code: enrolled through the API
/// with a real code, it chains records exactly as the checkpoint program does and signs its
/// batches with its own key. For tests that need many gates or many records fast; the
/// checkpoint binary itself is driven through [`Checkpoint`].
pub struct SimGate {
    pub device: DeviceId,
    pub checkpoint: CheckpointId,
    pub token: String,
    key: SigningKey,
    /// The bundle keys the server gave at enrolment (what a gate pins).
    pub bundle_keys: Vec<passgate_shared::IssuerKey>,
    pub records: Vec<GateRecord>,
}

impl SimGate {
    /// Enrol at `checkpoint`: ops makes a code, the device redeems it with its key (made
    /// from `seed`, so every simulated gate has its own).
    pub fn enroll(ops: &Api, checkpoint: u64, seed: u64) -> Result<SimGate> {
        let code = ops.create(
            &format!("/checkpoints/{checkpoint}/enrollment"),
            &Value::Null,
        )?;
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_be_bytes());
        s[8..16].copy_from_slice(&checkpoint.to_be_bytes());
        s[31] = 0x5a;
        let key = SigningKey::from_bytes(&s);
        let public = passgate_shared::keys::public_key_b64(&key.verifying_key());
        let anon = Api {
            base: ops.base.clone(),
            token: String::new(),
            http: http(),
        };
        let body = serde_json::json!({"code": code["code"], "public_key": public, "name": format!("sim {seed}")});
        let d = anon.create("/devices/enroll", &body)?;
        let device = DeviceId(d["device_id"].as_u64().context("device_id")? as u32);
        let token = d["token"].as_str().context("token")?.to_owned();
        let bundle_keys = serde_json::from_value(d["bundle_keys"].clone())?;
        Ok(SimGate {
            device,
            checkpoint: CheckpointId(checkpoint as u32),
            token,
            key,
            bundle_keys,
            records: Vec::new(),
        })
    }

    /// Append one chained record; returns it.
    pub fn scan(
        &mut self,
        at: i64,
        direction: Direction,
        pass: Option<(PassNumber, PassClass)>,
        reason: Option<&str>,
    ) -> &GateRecord {
        let seq = self.records.len() as u64 + 1;
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&self.device.0.to_be_bytes());
        id[4..12].copy_from_slice(&seq.to_be_bytes());
        id[12..].copy_from_slice(&self.checkpoint.0.to_be_bytes());
        let prev_hash = self
            .records
            .last()
            .map_or_else(|| GENESIS_HASH.to_owned(), GateRecord::hash_hex);
        self.records.push(GateRecord {
            id: hex::encode(id),
            device_id: self.device,
            seq,
            prev_hash,
            checkpoint_id: self.checkpoint,
            scanned_at: at,
            direction,
            number: pass.map(|p| p.0),
            class: pass.map(|p| p.1),
            plate: pass.map(|_| "豫U12345".to_owned()),
            accepted: reason.is_none(),
            reason: reason.map(str::to_owned),
            warnings: vec![],
            bundle_version: 1,
            guard_id: None,
            observations: Default::default(),
            override_by: None,
            overrides_seq: None,
            dwell_minutes: None,
        });
        let last = self.records.len() - 1;
        &self.records[last]
    }

    /// A signed upload batch of `self.records[range]`.
    pub fn batch(&self, range: std::ops::Range<usize>) -> UploadBatch {
        sign_batch(
            self.device,
            self.checkpoint,
            self.records[range].to_vec(),
            &self.key,
        )
    }

    /// Fetch and check the bundle file (snapshot) through `api`, as a gate would.
    pub fn fetch_bundle(&self, api: &Api) -> Result<passgate_shared::bundle_file::BundleFile> {
        let (status, bytes) = api.get_bytes("/sync/bundle")?;
        if status != 200 {
            bail!("GET /sync/bundle answered {status}");
        }
        Ok(passgate_shared::bundle_file::decode(
            &bytes,
            &self.bundle_keys,
        )?)
    }

    /// This device's API client on a server.
    pub fn api(&self, server: &Server) -> Api {
        server.api(&self.token)
    }
}
