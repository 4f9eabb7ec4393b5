//! Request rate limits, in memory per instance: enrolment attempts per client address, API
//! requests per token, and failed token checks per client address. A limited request gets
//! `429 Too Many Requests` with `Retry-After` and a message saying when to try again.
//!
//! Console logins have their own throttle of failures (see `web::session::Throttle`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A fixed-window counter per key.
#[derive(Debug)]
pub struct Limiter {
    /// Requests allowed per window; 0 turns the limit off.
    per_window: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limiter {
    pub fn new(per_window: u32, window: Duration) -> Limiter {
        Limiter {
            per_window,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` when `key` has used up this window, without counting.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        if self.per_window == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        match counts.get(key) {
            Some((start, n))
                if now.duration_since(*start) < self.window && *n >= self.per_window =>
            {
                Err(self
                    .window
                    .saturating_sub(now.duration_since(*start))
                    .as_secs()
                    .max(1))
            }
            _ => Ok(()),
        }
    }

    /// Count one request for `key`; `Err(seconds to wait)` when over the limit.
    pub fn hit(&self, key: &str) -> Result<(), u64> {
        if self.per_window == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() > 100_000 {
            let window = self.window;
            counts.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = counts.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            let wait = self.window.saturating_sub(now.duration_since(entry.0));
            return Err(wait.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

/// The server's limits.
#[derive(Debug)]
pub struct Limits {
    /// Failed `POST /devices/enroll` attempts per client address (a rollout enrolling many
    /// gates from one office is not limited; guessing codes is).
    pub enrolment: Limiter,
    /// Authenticated API requests per token.
    pub token: Limiter,
    /// Requests with a missing or unknown token per client address.
    pub bad_token: Limiter,
}

impl Limits {
    /// `token_per_minute` = 0 turns the per-token limit off (load tests).
    pub fn new(token_per_minute: u32) -> Limits {
        Limits::with(
            token_per_minute,
            DEFAULT_BAD_TOKEN_PER_MINUTE,
            DEFAULT_ENROLMENT_FAILURES_PER_MINUTE,
        )
    }

    /// Every limit given (per minute; 0 turns that one off).
    pub fn with(
        token_per_minute: u32,
        bad_token_per_minute: u32,
        enrolment_failures: u32,
    ) -> Limits {
        let minute = Duration::from_secs(60);
        Limits {
            enrolment: Limiter::new(enrolment_failures, minute),
            token: Limiter::new(token_per_minute, minute),
            bad_token: Limiter::new(bad_token_per_minute, minute),
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::new(DEFAULT_TOKEN_PER_MINUTE)
    }
}

/// Default requests per token per minute: far above what a gate (a sync every few minutes)
/// or a clerk's script needs, low enough to stop a leaked token from being used to hammer
/// the server.
pub const DEFAULT_TOKEN_PER_MINUTE: u32 = 6_000;

/// Default requests with a missing or unknown token per client address per minute.
pub const DEFAULT_BAD_TOKEN_PER_MINUTE: u32 = 60;

/// Default failed enrolment attempts per client address per minute.
pub const DEFAULT_ENROLMENT_FAILURES_PER_MINUTE: u32 = 10;

/// The key of a client address (IPv6 by /64, since one host usually holds a whole /64).
pub fn ip_key(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_window_allows_its_count_then_waits() {
        let l = Limiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(l.hit("a").is_ok());
        }
        let wait = l.hit("a").unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(l.hit("b").is_ok(), "keys are separate");
        let off = Limiter::new(0, Duration::from_secs(60));
        for _ in 0..1000 {
            assert!(off.hit("a").is_ok());
        }
    }

    #[test]
    fn check_does_not_count() {
        let l = Limiter::new(2, Duration::from_secs(60));
        for _ in 0..10 {
            assert!(l.check("a").is_ok());
        }
        l.hit("a").unwrap();
        l.hit("a").unwrap();
        assert!(l.check("a").is_err());
    }

    #[test]
    fn a_new_window_starts_over() {
        let l = Limiter::new(1, Duration::from_millis(20));
        assert!(l.hit("a").is_ok());
        assert!(l.hit("a").is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(l.hit("a").is_ok());
    }

    #[test]
    fn ipv6_is_keyed_by_prefix() {
        let a: IpAddr = "2001:db8:1:2::5".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2::6".parse().unwrap();
        assert_eq!(ip_key(Some(a)), ip_key(Some(b)));
    }
}
