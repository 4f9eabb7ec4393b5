//! A fault-injecting HTTP proxy between a checkpoint and the real server, for the fault
//! tests (`tests/faults.rs`, `docs/faults.md`).
//!
//! It listens on `127.0.0.1:0` and handles one request per client connection (it asks the
//! server to close after answering, so the client opens a new connection for the next
//! request). Requests whose request line contains a chosen text (e.g.
//! `POST /api/v1/sync/upload`) take the next [`Fault`] of the script; everything else, and
//! everything once the script is used up, passes through untouched. Plain threads, no
//! async runtime: the test drives real processes and only needs the proxy to misbehave on
//! cue.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};

/// What the proxy does with one matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward it and relay the answer.
    Pass,
    /// Do not forward it; answer this status (e.g. 500, 502) with a JSON error body.
    Status(u16),
    /// Forward it (the server does the work), then hold the answer this long and close
    /// without sending it: a client with a shorter timeout gives up first.
    Stall(Duration),
    /// Forward it, wait for the server's whole answer, then close without sending any of it:
    /// the server has committed, the client never hears so.
    CutAfterForward,
    /// Forward it, then send only the first half of the server's answer and close.
    CutMidResponse,
}

/// One request the proxy saw: its request line and what was done with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub request_line: String,
    pub fault: Fault,
}

#[derive(Default)]
struct Script {
    matching: String,
    faults: VecDeque<Fault>,
    seen: Vec<Seen>,
}

/// A running proxy; it stops accepting when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, to give the checkpoint as its server.
    pub url: String,
    script: Arc<Mutex<Script>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

fn lock(script: &Mutex<Script>) -> std::sync::MutexGuard<'_, Script> {
    script
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FaultProxy {
    /// Start a proxy to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the proxy")?;
        let port = listener.local_addr()?.port();
        let script = Arc::new(Mutex::new(Script::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_owned();
        {
            let script = Arc::clone(&script);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let script = Arc::clone(&script);
                    let upstream = upstream.clone();
                    std::thread::spawn(move || {
                        let _ = handle(conn, &upstream, &script);
                    });
                }
            });
        }
        Ok(FaultProxy {
            url: format!("http://127.0.0.1:{port}"),
            script,
            stop,
            port,
        })
    }

    /// From now on, requests whose request line contains `matching` take `faults` in
    /// order (then pass). Replaces any earlier script.
    pub fn script(&self, matching: &str, faults: &[Fault]) {
        let mut s = lock(&self.script);
        s.matching = matching.to_owned();
        s.faults = faults.iter().copied().collect();
    }

    /// Faults of the script not used yet.
    pub fn pending(&self) -> usize {
        lock(&self.script).faults.len()
    }

    /// Every request seen so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.script).seen.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Read one HTTP/1.1 request (headers and a `Content-Length` body). `None` at a clean end
/// of the connection.
fn read_request(conn: &mut TcpStream) -> Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            anyhow::bail!("the client closed in the middle of its request");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(buf))
}

/// Send `request` to the server asking it to close afterwards; its whole answer.
fn forward(upstream: &str, request: &[u8]) -> Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream).context("connecting to the server")?;
    up.set_read_timeout(Some(Duration::from_secs(60)))?;
    let line_end = request
        .windows(2)
        .position(|w| w == b"\r\n")
        .context("no request line")?;
    up.write_all(&request[..line_end + 2])?;
    up.write_all(b"Connection: close\r\n")?;
    up.write_all(&request[line_end + 2..])?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    Ok(answer)
}

fn handle(mut conn: TcpStream, upstream: &str, script: &Mutex<Script>) -> Result<()> {
    let Some(request) = read_request(&mut conn)? else {
        return Ok(());
    };
    let request_line = String::from_utf8_lossy(&request)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let fault = {
        let mut s = lock(script);
        let fault = if !s.matching.is_empty() && request_line.contains(&s.matching) {
            s.faults.pop_front().unwrap_or(Fault::Pass)
        } else {
            Fault::Pass
        };
        s.seen.push(Seen {
            request_line,
            fault,
        });
        fault
    };
    match fault {
        Fault::Status(code) => {
            let body = format!(
                "{{\"error\":\"injected\",\"message\":\"fault injected by the test proxy: {code}\"}}"
            );
            let answer = format!(
                "HTTP/1.1 {code} Injected\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(answer.as_bytes())?;
        }
        Fault::Pass => {
            let answer = forward(upstream, &request)?;
            conn.write_all(&answer)?;
        }
        Fault::Stall(d) => {
            let _answer = forward(upstream, &request)?;
            std::thread::sleep(d);
        }
        Fault::CutAfterForward => {
            let _answer = forward(upstream, &request)?;
        }
        Fault::CutMidResponse => {
            let answer = forward(upstream, &request)?;
            conn.write_all(&answer[..answer.len() / 2])?;
        }
    }
    let _ = conn.flush();
    let _ = conn.shutdown(Shutdown::Both);
    Ok(())
}
