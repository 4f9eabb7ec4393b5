//! Test support shared by this crate's tests and the end-to-end tests: a fresh PostgreSQL
//! database per test, and the rule for when PostgreSQL tests run.
//!
//! - `PASSGATE_TEST_POSTGRES_URL` (an admin URL such as
//!   `postgres://postgres@127.0.0.1:5432/postgres`) turns the PostgreSQL variants on; each
//!   test gets its own database `pgtest_<unix seconds>_<random>`, dropped when the test ends
//!   (and swept after six hours if a crashed run left it behind).
//! - Unset, PostgreSQL tests are skipped, except under `CI=true`, where a skip is a failure.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Executor};

/// The variable naming the PostgreSQL admin URL for tests.
pub const POSTGRES_ENV: &str = "PASSGATE_TEST_POSTGRES_URL";

/// Test databases older than this are dropped by the next test run that creates one.
const STALE_AFTER_SECONDS: i64 = 6 * 3600;

/// Why a PostgreSQL test cannot run.
#[derive(Debug, thiserror::Error)]
pub enum TestDbError {
    #[error("{POSTGRES_ENV} is not set and CI=true: PostgreSQL tests must run in CI")]
    RequiredInCi,
    #[error("test database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("test database: {0}")]
    Runtime(String),
}

/// The admin URL when PostgreSQL tests should run; `Ok(None)` to skip (noting it on
/// stderr); an error under `CI=true` when the variable is missing.
pub fn postgres_admin_url(test: &str) -> Result<Option<String>, TestDbError> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => Ok(Some(url)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => Err(TestDbError::RequiredInCi),
        _ => {
            eprintln!("skipping PostgreSQL test {test}: {POSTGRES_ENV} is not set");
            Ok(None)
        }
    }
}

/// A fresh PostgreSQL database that is dropped (forcibly) when this value drops.
#[derive(Debug)]
pub struct PgTestDb {
    /// URL of the new database.
    pub url: String,
    pub name: String,
    admin: PgConnectOptions,
}

fn random_suffix() -> String {
    let mut b = [0u8; 6];
    if getrandom::fill(&mut b).is_err() {
        // Fall back to the clock: unique enough across the tests of one run.
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        return format!("{n:012x}");
    }
    hex::encode(b)
}

impl PgTestDb {
    /// Create a uniquely named database through the admin URL.
    pub async fn create(admin_url: &str) -> Result<PgTestDb, TestDbError> {
        let admin = PgConnectOptions::from_str(admin_url)?;
        let mut conn = PgConnection::connect_with(&admin).await?;
        let now = chrono::Utc::now().timestamp();
        sweep_stale(&mut conn, now).await;
        let name = format!("pgtest_{now}_{}", random_suffix());
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await?;
        conn.close().await?;
        let url = admin.clone().database(&name).to_url_lossy().to_string();
        Ok(PgTestDb { url, name, admin })
    }

    /// [`PgTestDb::create`] for code without a runtime (blocking tests).
    pub fn create_blocking(admin_url: &str) -> Result<PgTestDb, TestDbError> {
        let admin_url = admin_url.to_owned();
        on_own_runtime(async move { PgTestDb::create(&admin_url).await })?
    }

    async fn drop_database(admin: PgConnectOptions, name: String) -> Result<(), TestDbError> {
        let mut conn = PgConnection::connect_with(&admin).await?;
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .await?;
        conn.close().await?;
        Ok(())
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        let done = on_own_runtime(async move { PgTestDb::drop_database(admin, name).await });
        if let Err(e) | Ok(Err(e)) = done {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

async fn sweep_stale(conn: &mut PgConnection, now: i64) {
    let names: Vec<String> =
        match sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'pgtest\\_%'")
            .fetch_all(&mut *conn)
            .await
        {
            Ok(n) => n,
            Err(_) => return,
        };
    for name in names {
        let created = name
            .strip_prefix("pgtest_")
            .and_then(|r| r.split('_').next())
            .and_then(|t| t.parse::<i64>().ok());
        if created.is_some_and(|t| now - t > STALE_AFTER_SECONDS) {
            let _ = conn
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .await;
        }
    }
}

/// Run a future to completion on a new single-threaded runtime on its own thread (so it
/// works from inside another runtime, e.g. in `Drop`, and from plain threads).
fn on_own_runtime<T: Send + 'static>(
    fut: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, TestDbError> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(fut))
            .map_err(|e| TestDbError::Runtime(e.to_string()))
    })
    .join()
    .map_err(|_| TestDbError::Runtime("test database thread panicked".into()))?
}
