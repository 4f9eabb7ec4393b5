//! Shared by the server's integration tests: a fresh database on either backend, and a
//! macro that runs one test body on SQLite and on PostgreSQL.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod console;

use passgate_server::Config;
use passgate_server::testing::{PgTestDb, postgres_admin_url};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database: a temporary directory (which holds the SQLite file and the
/// keys either way) and, for PostgreSQL, a database of its own.
pub struct TestDb {
    pub dir: tempfile::TempDir,
    pub pg: Option<PgTestDb>,
    pub backend: Backend,
}

impl TestDb {
    /// `None` when this backend's test is to be skipped (PostgreSQL without
    /// `PASSGATE_TEST_POSTGRES_URL`, outside CI). Under `CI=true` a skip panics.
    pub async fn new(backend: Backend, test: &str) -> Option<TestDb> {
        let dir = tempfile::tempdir().unwrap();
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let admin = postgres_admin_url(test).unwrap()?;
                Some(PgTestDb::create(&admin).await.unwrap())
            }
        };
        Some(TestDb { dir, pg, backend })
    }

    pub fn config(&self) -> Config {
        let mut c = Config::new(self.dir.path());
        c.database_url = self.pg.as_ref().map(|p| p.url.clone());
        c
    }

    /// The database URL (SQLite: the default file in the directory).
    pub fn url(&self) -> String {
        match &self.pg {
            Some(p) => p.url.clone(),
            None => format!("sqlite://{}", self.dir.path().join("passgate.db").display()),
        }
    }
}

/// `on_both_backends!(name, name2, …)`: for each `async fn name(db: TestDb)` in scope, a
/// test `sqlite::name` and a test `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = $crate::common::TestDb::new(
                        $crate::common::Backend::Sqlite, stringify!($name)).await.unwrap();
                    super::$name(db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(db) = $crate::common::TestDb::new(
                        $crate::common::Backend::Postgres, stringify!($name)).await else {
                        return;
                    };
                    super::$name(db).await;
                }
            )*
        }
    };
}
