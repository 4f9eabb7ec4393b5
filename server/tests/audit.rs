//! The audit chain on both backends: rows edited, deleted, moved or cut off directly in the
//! database are each caught by `passgate-server audit verify` (the real binary), whose exit
//! status says whether the chain is intact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

on_both_backends!(
    tampering_in_the_database_is_caught,
    console_actions_are_audited_and_the_admin_page_shows_the_chain,
);

use common::TestDb;
use passgate_server::audit::{self, Action, Break};
use passgate_server::open;
use serde_json::json;
use sqlx::AnyPool;

fn verify_cli(db: &TestDb) -> (bool, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_passgate-server"));
    cmd.args(["audit", "verify", "--data-dir"])
        .arg(db.dir.path());
    if let Some(pg) = &db.pg {
        cmd.args(["--database-url", &pg.url]);
    }
    let out = cmd.env("PASSGATE_LOG", "warn").output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

async fn exec(pool: &AnyPool, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap();
}

async fn tampering_in_the_database_is_caught(db: TestDb) {
    let st = open(&db.config()).await.unwrap();
    for i in 1..=8 {
        let seq = audit::record(
            &st,
            "ops1",
            Action::PassIssued,
            &format!("pass:{i}"),
            json!({ "class": "short_haul" }),
        )
        .await
        .unwrap();
        assert_eq!(seq, i);
    }
    let v = audit::verify_store(&st).await.unwrap();
    assert_eq!(v.first_break, None);
    assert_eq!(v.entries, 8);
    let (ok, out) = verify_cli(&db);
    assert!(ok, "{out}");
    assert!(out.contains("intact: 8 entries"), "{out}");

    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&db.url()).await.unwrap();
    let row = |seq: i64| {
        let pool = pool.clone();
        async move {
            use sqlx::Row;
            let r = sqlx::query("SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE seq = $1")
                .bind(seq)
                .fetch_one(&pool)
                .await
                .unwrap();
            (
                r.get::<i64, _>("at"),
                r.get::<String, _>("actor"),
                r.get::<String, _>("action"),
                r.get::<String, _>("subject"),
                r.get::<String, _>("detail"),
                r.get::<String, _>("prev_hash"),
                r.get::<String, _>("hash"),
            )
        }
    };
    let restore = |seq: i64, r: (i64, String, String, String, String, String, String)| {
        let pool = pool.clone();
        async move {
            sqlx::query("DELETE FROM audit_log WHERE seq = $1")
                .bind(seq)
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(seq).bind(r.0).bind(r.1).bind(r.2).bind(r.3).bind(r.4).bind(r.5).bind(r.6)
                .execute(&pool).await.unwrap();
        }
    };
    let expect = |want: Break| {
        let st = &st;
        let db = &db;
        async move {
            assert_eq!(
                audit::verify_store(st).await.unwrap().first_break,
                Some(want.clone())
            );
            let (ok, out) = verify_cli(db);
            assert!(!ok, "the CLI must fail: {out}");
            assert!(out.contains(&want.to_string()), "{out}");
        }
    };

    // An edited field.
    let third = row(3).await;
    exec(
        &pool,
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3",
    )
    .await;
    expect(Break::Edited { seq: 3 }).await;
    restore(3, third).await;
    assert_eq!(audit::verify_store(&st).await.unwrap().first_break, None);

    // A deleted entry.
    let fifth = row(5).await;
    exec(&pool, "DELETE FROM audit_log WHERE seq = 5").await;
    expect(Break::Deleted { from: 5, to: 5 }).await;
    restore(5, fifth).await;

    // Two entries swapped (their numbers exchanged).
    exec(&pool, "UPDATE audit_log SET seq = -6 WHERE seq = 6").await;
    exec(&pool, "UPDATE audit_log SET seq = 6 WHERE seq = 7").await;
    exec(&pool, "UPDATE audit_log SET seq = 7 WHERE seq = -6").await;
    expect(Break::Relinked { seq: 6 }).await;
    exec(&pool, "UPDATE audit_log SET seq = -7 WHERE seq = 7").await;
    exec(&pool, "UPDATE audit_log SET seq = 7 WHERE seq = 6").await;
    exec(&pool, "UPDATE audit_log SET seq = 6 WHERE seq = -7").await;
    assert_eq!(audit::verify_store(&st).await.unwrap().first_break, None);

    // The newest entries cut off.
    exec(&pool, "DELETE FROM audit_log WHERE seq >= 7").await;
    expect(Break::TailDeleted { last: 6, head: 8 }).await;

    // Appending goes on from the head, and the gap stays visible.
    audit::record(&st, "ops1", Action::Login, "user:ops1", json!({}))
        .await
        .unwrap();
    expect(Break::Deleted { from: 7, to: 8 }).await;
}

async fn console_actions_are_audited_and_the_admin_page_shows_the_chain(db: TestDb) {
    use common::console::Console;
    use passgate_server::store::UserRole;
    let url = db.url();
    let c = Console::new(db).await;
    let admin = c.browser(UserRole::Admin).await;
    // An account made from the console is audited, with who did it.
    let made = c
        .post_form(
            Some(&admin),
            "/users",
            &[
                ("username", "clerk7"),
                ("display_name", "录入员"),
                ("role", "ops"),
            ],
        )
        .await;
    assert_eq!(made.status, axum::http::StatusCode::OK, "{}", made.text());
    let entries = c
        .state
        .store
        .recent_audit(Some("user_created"), None, 10)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, admin.user.username);
    assert_eq!(entries[0].subject, "user:clerk7");

    let page = c.get(Some(&admin), "/audit").await;
    assert_eq!(page.status, axum::http::StatusCode::OK);
    assert!(page.text().contains("审计链完整"), "{}", page.text());
    assert!(page.text().contains("创建账号"));

    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&url).await.unwrap();
    exec(&pool, "UPDATE audit_log SET actor = 'nobody' WHERE seq = 1").await;
    let page = c.get(Some(&admin), "/audit").await;
    assert!(page.text().contains("审计链已被篡改"), "{}", page.text());
    let ops = c.browser(UserRole::Ops).await;
    assert_eq!(
        c.get(Some(&ops), "/audit").await.status,
        axum::http::StatusCode::FORBIDDEN
    );
}
