//! Operations endpoints and a small in-crate metrics registry.
//!
//! - `GET /healthz`: the process is alive.
//! - `GET /readyz`: the database is reachable and every migration is applied → 200
//!   `{"status":"ready"}`; otherwise 503 `{"status":"not_ready","reason":…}`. Load
//!   balancers route only to ready instances.
//! - `GET /metrics`: Prometheus text format (version 0.0.4). Counters are per instance
//!   (Prometheus sums them across instances); the bundle version is read from the database
//!   at scrape time, so it is the same on every instance.
//!
//! The registry is atomics plus one mutex-guarded map per labelled family: a request takes
//! the lock once, for a hash-map update, which costs far less than the request itself.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;
use crate::store::StoreError;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is +Inf.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let i = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        self.counts[i] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Http {
    /// (route, method, status) → requests.
    requests: HashMap<(String, String, u16), u64>,
    /// (route, method) → latency.
    latency: HashMap<(String, String), Histogram>,
}

/// This instance's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    http: Mutex<Http>,
    pub sync_batches: AtomicU64,
    pub sync_records_stored: AtomicU64,
    pub sync_records_duplicate: AtomicU64,
    pub passes_issued: AtomicU64,
    pub passes_revoked: AtomicU64,
}

impl Metrics {
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        // A poisoned lock only means another request panicked mid-update; the counts are
        // still usable.
        let mut http = self.http.lock().unwrap_or_else(|p| p.into_inner());
        *http
            .requests
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        http.latency
            .entry((route.to_owned(), method.to_owned()))
            .or_default()
            .observe(seconds);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, bundle_version: Option<u64>) -> String {
        let mut out = String::new();
        let (mut requests, mut latency) = {
            let http = self.http.lock().unwrap_or_else(|p| p.into_inner());
            (
                http.requests
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect::<Vec<_>>(),
                http.latency
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Vec<_>>(),
            )
        };
        requests.sort();
        latency.sort_by(|a, b| a.0.cmp(&b.0));

        out.push_str(
            "# HELP passgate_http_requests_total HTTP requests by matched route, method and status.\n\
             # TYPE passgate_http_requests_total counter\n",
        );
        for ((route, method, status), n) in &requests {
            let _ = writeln!(
                out,
                "passgate_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                escape(route),
                escape(method)
            );
        }
        out.push_str(
            "# HELP passgate_http_request_duration_seconds Time to answer, by matched route and method.\n\
             # TYPE passgate_http_request_duration_seconds histogram\n",
        );
        for ((route, method), h) in &latency {
            let labels = format!("route=\"{}\",method=\"{}\"", escape(route), escape(method));
            let mut cumulative = 0;
            for (i, le) in BUCKETS.iter().enumerate() {
                cumulative += h.counts[i];
                let _ = writeln!(
                    out,
                    "passgate_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            cumulative += h.counts[BUCKETS.len()];
            let _ = writeln!(
                out,
                "passgate_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}"
            );
            let _ = writeln!(
                out,
                "passgate_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "passgate_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = write!(
            out,
            "# HELP passgate_sync_batches_total Scan uploads stored (one per accepted POST /sync/upload).\n\
             # TYPE passgate_sync_batches_total counter\n\
             passgate_sync_batches_total {}\n\
             # HELP passgate_sync_records_total Uploaded scan records: new ones stored, and duplicates of records already stored.\n\
             # TYPE passgate_sync_records_total counter\n\
             passgate_sync_records_total{{result=\"stored\"}} {}\n\
             passgate_sync_records_total{{result=\"duplicate\"}} {}\n\
             # HELP passgate_passes_issued_total Passes issued by this instance.\n\
             # TYPE passgate_passes_issued_total counter\n\
             passgate_passes_issued_total {}\n\
             # HELP passgate_passes_revoked_total Passes revoked through this instance.\n\
             # TYPE passgate_passes_revoked_total counter\n\
             passgate_passes_revoked_total {}\n",
            load(&self.sync_batches),
            load(&self.sync_records_stored),
            load(&self.sync_records_duplicate),
            load(&self.passes_issued),
            load(&self.passes_revoked),
        );
        out.push_str(
            "# HELP passgate_database_up Whether the database answered this scrape.\n\
             # TYPE passgate_database_up gauge\n",
        );
        let _ = writeln!(
            out,
            "passgate_database_up {}",
            u8::from(bundle_version.is_some())
        );
        if let Some(v) = bundle_version {
            let _ = write!(
                out,
                "# HELP passgate_bundle_version The current trust bundle version (from the database).\n\
                 # TYPE passgate_bundle_version gauge\n\
                 passgate_bundle_version {v}\n"
            );
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: count and time every request under its matched route (the pattern, such as
/// `/api/v1/passes/{number}`, never the raw path, so the label set stays small).
pub async fn track(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    st.metrics.observe_request(
        &route,
        &method,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

/// `GET /readyz`.
pub async fn readyz(State(st): State<AppState>) -> Response {
    match st.store.ready().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))).into_response(),
        Err(e) => {
            let reason = match &e {
                StoreError::NotMigrated(_) => e.to_string(),
                _ => "the database is unreachable".to_owned(),
            };
            tracing::warn!(cause = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "not_ready", "reason": reason})),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`.
pub async fn metrics(State(st): State<AppState>) -> Response {
    let version = st.store.bundle_version().await.ok();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        st.metrics.render(version),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe_request("/api/v1/passes", "POST", 201, 0.003);
        m.observe_request("/api/v1/passes", "POST", 201, 0.2);
        m.observe_request("/api/v1/passes", "POST", 422, 20.0);
        Metrics::add(&m.passes_issued, 2);
        let text = m.render(Some(7));
        assert!(text.contains(
            "passgate_http_requests_total{route=\"/api/v1/passes\",method=\"POST\",status=\"201\"} 2"
        ));
        let bucket = |le: &str| {
            format!(
                "passgate_http_request_duration_seconds_bucket{{route=\"/api/v1/passes\",method=\"POST\",le=\"{le}\"}} "
            )
        };
        assert!(text.contains(&format!("{}0\n", bucket("0.001"))), "{text}");
        assert!(text.contains(&format!("{}1\n", bucket("0.005"))), "{text}");
        assert!(text.contains(&format!("{}2\n", bucket("0.25"))), "{text}");
        assert!(text.contains(&format!("{}2\n", bucket("10"))), "{text}");
        assert!(text.contains(&format!("{}3\n", bucket("+Inf"))), "{text}");
        assert!(text.contains("passgate_passes_issued_total 2\n"));
        assert!(text.contains("passgate_bundle_version 7\n"));
        assert!(m.render(None).contains("passgate_database_up 0\n"));
        assert!(!m.render(None).contains("passgate_bundle_version"));
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
