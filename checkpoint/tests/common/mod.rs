//! Helpers shared by the integration tests: a bundle and passes signed with the reference
//! test key, valid around the real clock; signed bundle files (real `bundle_file` encoding
//! with a test bundle key); a gate enrolled without a server; and a small fake server that
//! speaks the real gate protocol — it serves real signed bundle files (snapshots and deltas)
//! and checks uploads with the real `record::check_batch` and the device's enrolled key —
//! with scriptable faults.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{SigningKey, VerifyingKey};
use passgate_checkpoint::sync::{EnrollResponse, RetryPolicy};
use passgate_checkpoint::{Store, device};
use passgate_shared::bundle::{ClassPolicy, RevocationSet};
use passgate_shared::bundle_file::{encode_delta, encode_snapshot};
use passgate_shared::codec::sign_to_text;
use passgate_shared::record::{DeviceId, GENESIS_HASH, GateRecord, UploadBatch, check_batch};
use passgate_shared::vectors::{sample_passes, test_key};
use passgate_shared::{
    Bundle, CheckpointId, CheckpointInfo, EnterpriseId, IssuerKey, KeyId, KeyStatus, Minute, Pass,
    PassClass, Policy, Validity,
};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_passgate-checkpoint");

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The test bundle-signing key `id` (seeded, so stable).
pub fn bundle_key(id: u8) -> SigningKey {
    SigningKey::from_bytes(&[0x40 + id; 32])
}

pub fn bundle_key_info(id: u8) -> IssuerKey {
    IssuerKey {
        id: KeyId(id),
        public: bundle_key(id).verifying_key(),
        status: KeyStatus::Active,
        not_before: None,
        not_after: None,
    }
}

/// Checkpoint 3 is on the long-haul sample route, inside the zone, enterprise 1's gate;
/// checkpoint 4 is not on the route.
pub fn bundle(version: u64) -> Bundle {
    Bundle {
        version,
        generated_at: now() - 3600,
        keys: vec![IssuerKey {
            id: KeyId(1),
            public: test_key().verifying_key(),
            status: KeyStatus::Active,
            not_before: None,
            not_after: None,
        }],
        revoked: RevocationSet::new(),
        policy: Policy::default(),
        checkpoints: vec![
            CheckpointInfo {
                id: CheckpointId(3),
                name: "东门卡口".into(),
                inside_zone: true,
                enterprise_id: Some(EnterpriseId(1)),
            },
            CheckpointInfo {
                id: CheckpointId(4),
                name: "西门卡口".into(),
                inside_zone: true,
                enterprise_id: None,
            },
        ],
    }
}

/// `bundle(version)` with a daily entry limit for every class.
pub fn bundle_with_limit(version: u64, limit: u32) -> Bundle {
    let mut b = bundle(version);
    b.policy.classes = PassClass::ALL
        .iter()
        .map(|&class| ClassPolicy {
            class,
            daily_entry_limit: Some(limit),
        })
        .collect();
    b
}

/// A snapshot file of `b`, signed with bundle key 1, listing key 1 as the bundle key.
pub fn snapshot(b: &Bundle) -> Vec<u8> {
    encode_snapshot(b, &[bundle_key_info(1)], KeyId(1), &bundle_key(1))
}

/// Sample pass `i` (0 long-haul, 1 short-haul, 2 load-unload-leave), valid from `from` for
/// `hours`.
pub fn pass_at(i: usize, from: i64, hours: u32) -> Pass {
    let mut p = sample_passes()[i].clone();
    let from = Minute::from_unix(from).unwrap();
    p.validity = Validity::new(from, Minute(from.0 + hours * 60)).unwrap();
    p
}

/// Sample pass `i`, valid from an hour ago for a day.
pub fn pass(i: usize) -> Pass {
    pass_at(i, now() - 3600, 24)
}

pub fn text(i: usize) -> String {
    sign_to_text(&pass(i), &test_key()).unwrap()
}

pub fn text_of(p: &Pass) -> String {
    sign_to_text(p, &test_key()).unwrap()
}

/// Enrol `dir` as device 5 at `checkpoint` with `bundle` (snapshot signed by bundle key 1),
/// without a server. Returns the device key.
pub async fn enrol_dir(dir: &Path, server: &str, checkpoint: u32, bundle: &Bundle) -> SigningKey {
    let store = Store::create(dir).await.unwrap();
    let key = device::generate().unwrap();
    let answer = EnrollResponse {
        device_id: DeviceId(5),
        checkpoint_id: CheckpointId(checkpoint),
        checkpoint_name: "东门卡口".into(),
        token: "test-token".into(),
        bundle_keys: vec![bundle_key_info(1)],
    };
    passgate_checkpoint::sync::install(
        &store,
        &key,
        &answer,
        server,
        Some("test gate".into()),
        &snapshot(bundle),
        now(),
    )
    .await
    .unwrap();
    store.close().await;
    key
}

pub fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

/// Every stored record links to the one before it (seq 1 to GENESIS), in order.
pub async fn assert_chain(store: &Store) -> Vec<GateRecord> {
    let rows = store.records(1, u32::MAX).await.unwrap();
    let mut prev = GENESIS_HASH.to_owned();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.record.seq, i as u64 + 1, "gap at {i}");
        assert_eq!(
            r.record.prev_hash, prev,
            "broken link at seq {}",
            r.record.seq
        );
        assert_eq!(r.hash, r.record.hash_hex());
        prev = r.hash.clone();
    }
    rows.into_iter().map(|r| r.record).collect()
}

// ---------------------------------------------------------------------------------------
// The fake server

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub auth: Option<String>,
    pub body: Vec<u8>,
}

/// What happens to the next upload request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Handle the request normally.
    None,
    /// Answer this status without looking at the batch.
    Status(u16),
    /// Store the batch, then answer 500 (the answer is lost).
    StoreThenFail,
    /// Close the connection without an answer, storing nothing.
    Drop,
}

/// How the fake server answers a bundle request.
pub type BundleHook = Box<dyn FnMut(Option<u64>) -> Option<Vec<u8>> + Send>;

pub struct Device {
    pub key: VerifyingKey,
    pub checkpoint: CheckpointId,
    pub token: String,
    pub revoked: Option<String>,
}

pub enum Code {
    Fresh(CheckpointId),
    Used,
    Expired,
}

pub struct ServerState {
    /// Every bundle version the server has made, by version.
    pub bundles: BTreeMap<u64, Bundle>,
    pub signing_key_id: u8,
    pub bundle_keys: Vec<IssuerKey>,
    pub codes: HashMap<String, Code>,
    pub devices: BTreeMap<u32, Device>,
    /// Stored records: (device, seq) → record.
    pub records: BTreeMap<(u32, u64), GateRecord>,
    pub chain_gaps: u32,
    pub upload_faults: VecDeque<Fault>,
    pub bundle_hook: Option<BundleHook>,
    pub requests: Vec<Request>,
}

impl ServerState {
    pub fn current(&self) -> &Bundle {
        self.bundles.values().next_back().unwrap()
    }

    /// A new version: `f` edits a copy of the current bundle.
    pub fn publish(&mut self, f: impl FnOnce(&mut Bundle)) -> u64 {
        let mut b = self.current().clone();
        b.version += 1;
        b.generated_at = now() - 60;
        f(&mut b);
        let v = b.version;
        self.bundles.insert(v, b);
        v
    }

    fn bundle_file(&self, since: Option<u64>) -> Vec<u8> {
        let cur = self.current();
        let key = bundle_key(self.signing_key_id);
        let id = KeyId(self.signing_key_id);
        match since.and_then(|s| self.bundles.get(&s)) {
            Some(base) => {
                let added: RevocationSet = cur
                    .revoked
                    .iter()
                    .filter(|n| !base.revoked.contains(*n))
                    .collect();
                encode_delta(cur, base.version, &added, &self.bundle_keys, id, &key)
            }
            None => encode_snapshot(cur, &self.bundle_keys, id, &key),
        }
    }

    /// The records of `device`, in sequence order.
    pub fn device_records(&self, device: u32) -> Vec<GateRecord> {
        self.records
            .range((device, 0)..=(device, u64::MAX))
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// What the server's daily usage would count for `device` on `day`:
    /// (number, class, direction, verdict) → count.
    pub fn counts(
        &self,
        device: u32,
        day: &str,
    ) -> BTreeMap<(String, String, String, String), u64> {
        let (from, until) = passgate_shared::time::local_day_range(day).unwrap();
        let mut m = BTreeMap::new();
        for r in self.device_records(device) {
            if r.scanned_at < from || r.scanned_at >= until {
                continue;
            }
            let k = (
                r.number.map(|n| n.to_string()).unwrap_or_default(),
                r.class.map(|c| c.as_str().to_owned()).unwrap_or_default(),
                r.direction.as_str().to_owned(),
                r.verdict_label(),
            );
            *m.entry(k).or_default() += 1;
        }
        m
    }
}

pub struct FakeServer {
    pub url: String,
    pub state: Arc<Mutex<ServerState>>,
}

fn error(status: u16, code: &str, message: &str) -> (u16, Vec<u8>) {
    (
        status,
        json!({"error": code, "message": message})
            .to_string()
            .into_bytes(),
    )
}

impl FakeServer {
    /// A server holding `bundle` (its first version), signing with bundle key 1, with
    /// enrolment codes `GOOD-CODE` (checkpoint 3), `USED-CODE` and `OLD-CODE`.
    pub fn start(bundle: Bundle) -> FakeServer {
        let mut codes = HashMap::new();
        codes.insert("GOOD-CODE".to_owned(), Code::Fresh(CheckpointId(3)));
        codes.insert("USED-CODE".to_owned(), Code::Used);
        codes.insert("OLD-CODE".to_owned(), Code::Expired);
        let state = Arc::new(Mutex::new(ServerState {
            bundles: BTreeMap::from([(bundle.version, bundle)]),
            signing_key_id: 1,
            bundle_keys: vec![bundle_key_info(1)],
            codes,
            devices: BTreeMap::new(),
            records: BTreeMap::new(),
            chain_gaps: 0,
            upload_faults: VecDeque::new(),
            bundle_hook: None,
            requests: Vec::new(),
        }));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(req) = read_request(&mut stream) else {
                    continue;
                };
                let answer = {
                    let mut s = shared.lock().unwrap();
                    s.requests.push(req.clone());
                    handle(&mut s, &req)
                };
                let Some((status, body)) = answer else {
                    continue; // dropped connection
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        FakeServer { url, state }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut ServerState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Register device 5 at checkpoint 3 with `key` and token `test-token` (what
    /// [`enrol_dir`] sets up locally).
    pub fn register(&self, key: &SigningKey) {
        self.with(|s| {
            s.devices.insert(
                5,
                Device {
                    key: key.verifying_key(),
                    checkpoint: CheckpointId(3),
                    token: "test-token".into(),
                    revoked: None,
                },
            )
        });
    }

    pub fn requests(&self) -> Vec<Request> {
        self.with(|s| s.requests.clone())
    }

    pub fn uploads(&self) -> Vec<UploadBatch> {
        self.requests()
            .iter()
            .filter(|r| r.path == "/api/v1/sync/upload")
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect()
    }
}

fn device_of(s: &ServerState, req: &Request) -> Result<u32, (u16, Vec<u8>)> {
    let token = req
        .auth
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .ok_or_else(|| error(401, "unauthorized", "missing token"))?;
    let (id, d) = s
        .devices
        .iter()
        .find(|(_, d)| d.token == token)
        .ok_or_else(|| error(401, "unauthorized", "unknown device token"))?;
    if let Some(why) = &d.revoked {
        return Err(error(
            403,
            "device_revoked",
            &format!("device {id} was revoked: {why}"),
        ));
    }
    Ok(*id)
}

fn handle(s: &mut ServerState, req: &Request) -> Option<(u16, Vec<u8>)> {
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    Some(match (req.method.as_str(), path) {
        ("POST", "/api/v1/devices/enroll") => enroll(s, req),
        ("GET", "/api/v1/sync/bundle") => {
            if let Err(e) = device_of(s, req) {
                return Some(e);
            }
            let since = query
                .strip_prefix("since=")
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(hook) = s.bundle_hook.as_mut()
                && let Some(bytes) = hook(since)
            {
                return Some((200, bytes));
            }
            (200, s.bundle_file(since))
        }
        ("POST", "/api/v1/sync/upload") => return upload(s, req),
        _ => error(404, "not_found", "no such route"),
    })
}

fn enroll(s: &mut ServerState, req: &Request) -> (u16, Vec<u8>) {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return error(400, "bad_request", "not JSON");
    };
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    let key = body["public_key"]
        .as_str()
        .and_then(|k| B64.decode(k).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok());
    let Some(key) = key else {
        return error(400, "bad_request", "public_key is not a base64 Ed25519 key");
    };
    let checkpoint = match s.codes.get(&code) {
        None => return error(404, "code_unknown", "no such enrolment code"),
        Some(Code::Used) => return error(409, "code_used", "this code was used already"),
        Some(Code::Expired) => return error(410, "code_expired", "this code expired"),
        Some(Code::Fresh(cp)) => *cp,
    };
    s.codes.insert(code, Code::Used);
    let id = 100 + s.devices.len() as u32;
    let token = format!("device-token-{id}");
    s.devices.insert(
        id,
        Device {
            key,
            checkpoint,
            token: token.clone(),
            revoked: None,
        },
    );
    (
        201,
        json!({
            "device_id": id,
            "checkpoint_id": checkpoint.0,
            "checkpoint_name": "东门卡口",
            "token": token,
            "bundle_keys": s.bundle_keys,
        })
        .to_string()
        .into_bytes(),
    )
}

fn upload(s: &mut ServerState, req: &Request) -> Option<(u16, Vec<u8>)> {
    let fault = s.upload_faults.pop_front();
    match fault {
        Some(Fault::Status(code)) => return Some(error(code, "injected", "injected failure")),
        Some(Fault::Drop) => return None,
        _ => {}
    }
    let device = match device_of(s, req) {
        Ok(d) => d,
        Err(e) => return Some(e),
    };
    let Ok(batch) = serde_json::from_slice::<UploadBatch>(&req.body) else {
        return Some(error(400, "bad_request", "not an upload batch"));
    };
    if batch.device_id != DeviceId(device) {
        return Some(error(403, "forbidden", "token of another device"));
    }
    let d = &s.devices[&device];
    if batch.checkpoint_id != d.checkpoint {
        return Some(error(422, "batch_refused", "wrong checkpoint"));
    }
    if let Err(e) = check_batch(&batch, &d.key) {
        return Some(error(422, "batch_refused", &e.to_string()));
    }
    let first = &batch.records[0];
    if first.seq > 1 {
        match s.records.get(&(device, first.seq - 1)) {
            Some(prev) if prev.hash_hex() == first.prev_hash => {}
            _ => s.chain_gaps += 1,
        }
    }
    let (mut stored, mut duplicates) = (0u64, 0u64);
    for r in &batch.records {
        match s.records.get(&(device, r.seq)) {
            Some(old) if old == r => duplicates += 1,
            Some(_) => return Some(error(422, "batch_refused", "forked chain")),
            None => stored += 1,
        }
    }
    for r in batch.records {
        s.records.insert((device, r.seq), r);
    }
    let last_seq = s
        .records
        .range((device, 0)..=(device, u64::MAX))
        .next_back()
        .map(|(k, _)| k.1);
    if fault == Some(Fault::StoreThenFail) {
        return Some(error(500, "internal", "the answer was lost"));
    }
    Some((
        200,
        json!({"stored": stored, "duplicates": duplicates, "last_seq": last_seq})
            .to_string()
            .into_bytes(),
    ))
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let (mut len, mut auth) = (0usize, None);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => len = value.trim().parse().ok()?,
            "authorization" => auth = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        auth,
        body,
    })
}

/// Render `text` as a QR code into a greyscale image: `module` pixels per module, a
/// 4-module quiet zone, `dark` modules on `light` background.
pub fn render_qr(text: &str, module: u32, dark: u8, light: u8) -> image::GrayImage {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let width = code.width() as u32;
    let side = (width + 8) * module;
    let mut img = image::GrayImage::from_pixel(side, side, image::Luma([light]));
    for (i, c) in code.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (mx, my) = (i as u32 % width + 4, i as u32 / width + 4);
            for dy in 0..module {
                for dx in 0..module {
                    img.put_pixel(mx * module + dx, my * module + dy, image::Luma([dark]));
                }
            }
        }
    }
    img
}
