//! Issuing 10,000 passes the way the bulk import does (reserve a block of serials, sign each
//! pass with the active issuer key, seal the crew's phone, store all in one transaction, one
//! audit entry naming them: `routes::passes::issue_many`) against a bare baseline measured
//! in the same run: a loop of `sign_to_text` over the same passes plus one bulk insert of
//! the same rows (number, class, plate, QR text, validity, creator) into a plain table in
//! one transaction. Goal: ≤ 5× the baseline. Validation of the requests is measured and
//! printed too, but it is not part of either side.
//!
//! ```text
//! cargo bench -p passgate-server --bench issue                                   # SQLite
//! PASSGATE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1/passgate_bench cargo bench -p passgate-server --bench issue
//! ```
//!
//! Prints one `FIGURE |` line per backend for `bench/report.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use passgate_server::routes::passes::{Issue, NewPass, issue_many, rfc3339, validate};
use passgate_server::store::SqlStore;
use passgate_server::store::sql::values_rows;
use passgate_server::{Config, open};
use passgate_shared::codec::sign_to_text;

const PASSES: usize = 10_000;
const ROUNDS: usize = 3;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir_in(
        std::env::var("PASSGATE_BENCH_DIR").unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").into()),
    )
    .unwrap();
    let mut config = Config::new(dir.path());
    let backend = match std::env::var("PASSGATE_BENCH_POSTGRES_URL") {
        Ok(url) => {
            config.database_url = Some(url);
            "PostgreSQL"
        }
        Err(_) => "SQLite",
    };
    let st = open(&config).await.unwrap();
    // The baseline's own connection pool on the same database.
    let url = config
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("passgate.db").display()));
    let bare_store = SqlStore::open_url(&url).await.unwrap();
    let pool = bare_store.pool();
    let now = passgate_server::state::now();
    let enterprise = st
        .store
        .create_enterprise(&format!("基准企业 {now}"), now)
        .await
        .unwrap()
        .id;
    let request = |i: usize| NewPass {
        class: Some("short_haul".into()),
        plate: Some(format!("豫U{:05}", i % 100_000)),
        driver: Some("王小明".into()),
        co_driver: i.is_multiple_of(2).then(|| "李四".into()),
        driver_id_number: None,
        enterprise_id: Some(enterprise.0),
        origin: Some("419001".into()),
        destination: Some("419001".into()),
        checkpoints: None,
        cargo: Some("production_materials".into()),
        valid_from: Some(rfc3339(now + 3600)),
        valid_until: Some(rfc3339(now + 7 * 86_400)),
        max_dwell_minutes: None,
        crew_phone: i.is_multiple_of(3).then(|| "13800138000".into()),
    };

    for ddl in [
        "DROP TABLE IF EXISTS bare_passes",
        "CREATE TABLE bare_passes (number TEXT PRIMARY KEY, class TEXT NOT NULL, plate TEXT NOT NULL, \
         qr_text TEXT NOT NULL, valid_from BIGINT NOT NULL, valid_until BIGINT NOT NULL, \
         created_at BIGINT NOT NULL, created_by TEXT NOT NULL)",
    ] {
        sqlx::query(ddl).execute(pool).await.unwrap();
    }
    let mut product = Vec::new();
    let mut bare = Vec::new();
    let mut validation = Duration::ZERO;
    for round in 0..ROUNDS {
        let t = Instant::now();
        let mut issues: Vec<Issue> = Vec::with_capacity(PASSES);
        for i in 0..PASSES {
            issues.push(validate(&st, &request(i), now).await.unwrap());
        }
        validation += t.elapsed();
        let for_bare = issues.clone();

        // The product path.
        let t = Instant::now();
        let records = issue_many(&st, issues, now, "bench", "bench", |_| {})
            .await
            .unwrap();
        product.push(t.elapsed());
        assert_eq!(records.len(), PASSES);

        // The baseline: sign the same passes (numbered like the product's), one bulk insert.
        let signer = passgate_server::signing::signer(&st).await.unwrap();
        let t = Instant::now();
        let mut rows = Vec::with_capacity(PASSES);
        for (issue, r) in for_bare.into_iter().zip(&records) {
            let mut pass = issue.pass;
            pass.number = r.number;
            pass.key_id = signer.id;
            rows.push((pass.clone(), sign_to_text(&pass, signer.key()).unwrap()));
        }
        let mut tx = pool.begin().await.unwrap();
        for chunk in rows.chunks(32) {
            let mut sql = String::from("INSERT INTO bare_passes VALUES ");
            sql.push_str(&values_rows(chunk.len(), 8));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (pass, text) in chunk {
                q = q
                    .bind(format!("{round}-{}", pass.number))
                    .bind(pass.class.as_str())
                    .bind(pass.plate.to_string())
                    .bind(text.clone())
                    .bind(pass.validity.from().to_unix())
                    .bind(pass.validity.until().to_unix())
                    .bind(now)
                    .bind("bench");
            }
            q.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        bare.push(t.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (p, b) = (median(&mut product), median(&mut bare));
    let ratio = p.as_secs_f64() / b.as_secs_f64();
    println!("{backend}, {PASSES} passes, median of {ROUNDS} rounds:");
    println!(
        "  issue_many (serials + sign + seal phone + store + audit): {:>7.0} ms",
        p.as_secs_f64() * 1e3
    );
    println!(
        "  bare sign loop + one bulk insert:                        {:>7.0} ms",
        b.as_secs_f64() * 1e3
    );
    println!(
        "  validation of the requests (not in either figure):       {:>7.0} ms per {PASSES}",
        validation.as_secs_f64() * 1e3 / ROUNDS as f64
    );
    println!("  issuing / bare = {ratio:.2}x (goal <= 5x)");
    println!(
        "FIGURE | issuing 10,000 passes, {backend} (sign + store + audit) | bare sign loop + one bulk insert: {:.0} ms | {:.0} ms = **{ratio:.2}×** | ≤ 5× | {} |",
        b.as_secs_f64() * 1e3,
        p.as_secs_f64() * 1e3,
        if ratio <= 5.0 { "yes" } else { "**no**" }
    );
}
