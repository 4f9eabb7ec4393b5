//! The store conformance suite: every test body runs against SQLite and against PostgreSQL
//! (when `PASSGATE_TEST_POSTGRES_URL` is set; under `CI=true` it must be), each on a fresh
//! database, through `dyn Store` exactly as the handlers use it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use common::{Backend, TestDb};
use passgate_server::open_store;
use passgate_server::store::{
    CheckpointKind, NewCheckpoint, PassFilter, PassRecord, PassStatus, Role, Store, StoreError,
};
use passgate_shared::sync::{Direction, ScanRecord};
use passgate_shared::time::local_day;
use passgate_shared::{
    CheckpointId, DivisionCode, EnterpriseId, IssuerKey, KeyId, KeyStatus, PassClass, PassNumber,
};

on_both_backends!(
    enterprises_and_checkpoints,
    issuer_keys,
    serials_are_a_sequence_per_area,
    serials_are_unique_under_concurrency,
    passes_insert_list_revoke,
    concurrent_revokes_only_one_wins,
    tokens,
    scans_are_idempotent_and_counted,
    large_and_concurrent_overlapping_batches,
    migrations_are_idempotent_and_concurrent_opens_are_safe,
    ready_and_backup,
);

async fn store(db: &TestDb) -> Arc<dyn Store> {
    Arc::new(open_store(&db.config()).await.unwrap())
}

fn key(n: u8, status: KeyStatus) -> IssuerKey {
    IssuerKey {
        id: KeyId(n),
        public: ed25519_dalek::SigningKey::from_bytes(&[n; 32]).verifying_key(),
        status,
        not_before: None,
        not_after: None,
    }
}

fn area() -> DivisionCode {
    DivisionCode::from_u32(419_001).unwrap()
}

fn pass(serial: u32, ent: EnterpriseId, class: PassClass, plate: &str, at: i64) -> PassRecord {
    PassRecord {
        number: PassNumber::new(area(), serial).unwrap(),
        class,
        plate: plate.to_owned(),
        driver_name: "张三明".into(),
        driver_masked: "张*明".into(),
        driver_id_hash: Some("abc".into()),
        co_driver_name: None,
        co_driver_masked: None,
        enterprise_id: ent,
        origin: area(),
        destination: DivisionCode::from_u32(410_102).unwrap(),
        route_checkpoints: vec![CheckpointId(2), CheckpointId(1)],
        cargo: "production_materials".into(),
        valid_from: at,
        valid_until: at + 86_400,
        max_dwell_minutes: (class == PassClass::LoadUnloadLeave).then_some(120),
        key_id: KeyId(1),
        qr_text: format!("PG:{serial}"),
        status: PassStatus::Active,
        revoked_at: None,
        revoke_reason: None,
        created_at: at,
        created_by: "ops".into(),
    }
}

fn scan(i: u64, cp: u32, at: i64, number: Option<u32>, accepted: bool) -> ScanRecord {
    ScanRecord {
        id: format!("{:016x}{:016x}", u64::from(cp), i),
        seq: i,
        checkpoint_id: CheckpointId(cp),
        scanned_at: at,
        direction: if i.is_multiple_of(2) {
            Direction::In
        } else {
            Direction::Out
        },
        number: number.map(|s| PassNumber::new(area(), s).unwrap()),
        class: number.map(|_| PassClass::ShortHaul),
        plate: number.map(|_| "豫U12345".to_owned()),
        accepted,
        reason: (!accepted).then(|| "expired".to_owned()),
        warnings: vec![],
        bundle_version: 3,
    }
}

async fn enterprises_and_checkpoints(db: TestDb) {
    let s = store(&db).await;
    assert!(s.list_enterprises().await.unwrap().is_empty());
    let v0 = s.bundle_version().await.unwrap();
    let a = s.create_enterprise("示范区钢铁", 100).await.unwrap();
    let b = s.create_enterprise("示范区化工", 101).await.unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(a.name, "示范区钢铁");
    assert_eq!(a.created_at, 100);
    assert!(matches!(
        s.create_enterprise("示范区钢铁", 102).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.list_enterprises().await.unwrap(), vec![a.clone(), b]);
    assert_eq!(s.get_enterprise(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.get_enterprise(EnterpriseId(9999)).await.unwrap(), None);

    let inside = s
        .create_checkpoint(
            &NewCheckpoint {
                name: "东门".into(),
                kind: CheckpointKind::EnterpriseGate,
                inside_zone: true,
                enterprise_id: Some(a.id),
            },
            200,
        )
        .await
        .unwrap();
    let outside = s
        .create_checkpoint(
            &NewCheckpoint {
                name: "东卡口".into(),
                kind: CheckpointKind::HighwayExit,
                inside_zone: false,
                enterprise_id: None,
            },
            201,
        )
        .await
        .unwrap();
    assert!(inside.inside_zone);
    assert!(!outside.inside_zone);
    assert_eq!(inside.enterprise_id, Some(a.id));
    assert_eq!(outside.enterprise_id, None);
    assert_eq!(outside.kind, CheckpointKind::HighwayExit);
    assert_eq!(s.list_checkpoints().await.unwrap(), vec![inside, outside]);
    // Each checkpoint is news for the gates.
    assert_eq!(s.bundle_version().await.unwrap(), v0 + 2);
    // Foreign keys hold on both backends.
    assert!(
        s.create_checkpoint(
            &NewCheckpoint {
                name: "无主".into(),
                kind: CheckpointKind::EnterpriseGate,
                inside_zone: true,
                enterprise_id: Some(EnterpriseId(9999)),
            },
            202,
        )
        .await
        .is_err()
    );
    assert_eq!(s.bundle_version().await.unwrap(), v0 + 2);
}

async fn issuer_keys(db: TestDb) {
    let s = store(&db).await;
    let v0 = s.bundle_version().await.unwrap();
    s.ensure_issuer_key(&key(1, KeyStatus::Active), 10)
        .await
        .unwrap();
    s.ensure_issuer_key(&key(1, KeyStatus::Active), 11)
        .await
        .unwrap();
    assert_eq!(s.bundle_version().await.unwrap(), v0 + 1);
    // Same id, another key: refused, nothing changes.
    let mut other = key(2, KeyStatus::Active);
    other.id = KeyId(1);
    assert!(matches!(
        s.ensure_issuer_key(&other, 12).await,
        Err(StoreError::Conflict(_))
    ));
    s.ensure_issuer_key(&key(2, KeyStatus::Active), 13)
        .await
        .unwrap();
    s.set_issuer_key_status(KeyId(1), KeyStatus::Retired)
        .await
        .unwrap();
    assert!(matches!(
        s.set_issuer_key_status(KeyId(9), KeyStatus::Retired).await,
        Err(StoreError::NotFound(_))
    ));
    let keys = s.list_issuer_keys().await.unwrap();
    assert_eq!(
        keys,
        vec![key(1, KeyStatus::Retired), key(2, KeyStatus::Active)]
    );
    assert_eq!(s.bundle_version().await.unwrap(), v0 + 3);

    // Two starts at once record the key once.
    let k = key(3, KeyStatus::Active);
    let (a, b) = tokio::join!(s.ensure_issuer_key(&k, 20), s.ensure_issuer_key(&k, 20));
    a.unwrap();
    b.unwrap();
    assert_eq!(s.list_issuer_keys().await.unwrap().len(), 3);
    assert_eq!(s.bundle_version().await.unwrap(), v0 + 4);
}

async fn serials_are_a_sequence_per_area(db: TestDb) {
    let s = store(&db).await;
    let other = DivisionCode::from_u32(410_102).unwrap();
    assert_eq!(s.next_serial(area()).await.unwrap(), 1);
    assert_eq!(s.next_serial(area()).await.unwrap(), 2);
    assert_eq!(s.next_serial(other).await.unwrap(), 1);
    assert_eq!(s.next_serial(area()).await.unwrap(), 3);
    assert_eq!(s.next_serial(other).await.unwrap(), 2);
}

async fn serials_are_unique_under_concurrency(db: TestDb) {
    // Two stores on one database stand for two server instances.
    let a = store(&db).await;
    let b = store(&db).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { s.next_serial(area()).await }));
    }
    let mut got = HashSet::new();
    for t in tasks {
        assert!(got.insert(t.await.unwrap().unwrap()));
    }
    assert_eq!(got, (1..=200).collect::<HashSet<u32>>());
}

async fn passes_insert_list_revoke(db: TestDb) {
    let s = store(&db).await;
    let ent = s.create_enterprise("企业", 1).await.unwrap().id;
    let p1 = pass(1, ent, PassClass::LongHaul, "豫U11111", 1000);
    let p2 = pass(2, ent, PassClass::ShortHaul, "豫U22222", 2000);
    let p3 = pass(3, ent, PassClass::LoadUnloadLeave, "豫U11111", 3000);
    for p in [&p1, &p2, &p3] {
        s.insert_pass(p).await.unwrap();
    }
    assert!(matches!(
        s.insert_pass(&p1).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_pass(p3.number).await.unwrap(), Some(p3.clone()));
    assert_eq!(
        s.get_pass(PassNumber::new(area(), 99).unwrap())
            .await
            .unwrap(),
        None
    );

    let all = |limit, offset| PassFilter {
        limit,
        offset,
        ..PassFilter::default()
    };
    let (list, total) = s.list_passes(&all(10, 0)).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(list, vec![p3.clone(), p2.clone(), p1.clone()]);
    let (list, total) = s.list_passes(&all(1, 1)).await.unwrap();
    assert_eq!((list, total), (vec![p2.clone()], 3));
    let by_plate = PassFilter {
        plate: Some("豫U11111".into()),
        ..all(10, 0)
    };
    assert_eq!(
        s.list_passes(&by_plate).await.unwrap(),
        (vec![p3.clone(), p1.clone()], 2)
    );
    let by_class_plate = PassFilter {
        class: Some(PassClass::LongHaul),
        ..by_plate.clone()
    };
    assert_eq!(
        s.list_passes(&by_class_plate).await.unwrap(),
        (vec![p1.clone()], 1)
    );

    let v0 = s.bundle_version().await.unwrap();
    let revoked = s.revoke_pass(p2.number, "车辆更换", 5000).await.unwrap();
    assert_eq!(revoked.status, PassStatus::Revoked);
    assert_eq!(revoked.revoked_at, Some(5000));
    assert_eq!(revoked.revoke_reason.as_deref(), Some("车辆更换"));
    assert_eq!(s.bundle_version().await.unwrap(), v0 + 1);
    assert!(matches!(
        s.revoke_pass(p2.number, "again", 5001).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.revoke_pass(PassNumber::new(area(), 99).unwrap(), "x", 5001)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.bundle_version().await.unwrap(), v0 + 1);
    assert_eq!(s.revoked_numbers().await.unwrap(), vec![p2.number]);
    let revoked_only = PassFilter {
        status: Some(PassStatus::Revoked),
        ..all(10, 0)
    };
    assert_eq!(
        s.list_passes(&revoked_only).await.unwrap(),
        (vec![revoked], 1)
    );
}

async fn concurrent_revokes_only_one_wins(db: TestDb) {
    let a = store(&db).await;
    let b = store(&db).await;
    let ent = a.create_enterprise("企业", 1).await.unwrap().id;
    for serial in 1..=20 {
        a.insert_pass(&pass(serial, ent, PassClass::ShortHaul, "豫U12345", 10))
            .await
            .unwrap();
    }
    let v0 = a.bundle_version().await.unwrap();
    let mut tasks = Vec::new();
    for serial in 1..=20u32 {
        for s in [a.clone(), b.clone(), a.clone()] {
            tasks.push(tokio::spawn(async move {
                s.revoke_pass(PassNumber::new(area(), serial).unwrap(), "x", 20)
                    .await
            }));
        }
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 20);
    assert_eq!(a.bundle_version().await.unwrap(), v0 + 20);
    assert_eq!(a.revoked_numbers().await.unwrap().len(), 20);
}

async fn tokens(db: TestDb) {
    let s = store(&db).await;
    let cp = s
        .create_checkpoint(
            &NewCheckpoint {
                name: "东门".into(),
                kind: CheckpointKind::ZoneBorder,
                inside_zone: false,
                enterprise_id: None,
            },
            1,
        )
        .await
        .unwrap();
    let t = s
        .create_token("gate", Role::Checkpoint, "hash-1", Some(cp.id), 2)
        .await
        .unwrap();
    assert_eq!(t.role, Role::Checkpoint);
    assert_eq!(t.checkpoint_id, Some(cp.id));
    let o = s
        .create_token("ops", Role::Ops, "hash-2", None, 3)
        .await
        .unwrap();
    assert_ne!(t.id, o.id);
    assert_eq!(s.find_token("hash-1").await.unwrap(), Some(t));
    assert_eq!(s.find_token("hash-2").await.unwrap(), Some(o));
    assert_eq!(s.find_token("nope").await.unwrap(), None);
    assert!(
        s.create_token("dup", Role::Ops, "hash-2", None, 4)
            .await
            .is_err()
    );
}

async fn scans_are_idempotent_and_counted(db: TestDb) {
    let s = store(&db).await;
    // 2026-12-01 08:00 Beijing; and 23:59:59 Beijing that day, and the next day.
    let day1 = 1_796_083_200;
    let late = day1 + 16 * 3600 - 1;
    let next_day = day1 + 16 * 3600;
    assert_eq!(local_day(day1), local_day(late));
    assert_ne!(local_day(late), local_day(next_day));
    let batch = vec![
        scan(1, 7, day1, Some(1), true),
        scan(2, 7, day1 + 1, Some(1), true),
        scan(3, 7, day1 + 2, Some(1), true),
        scan(4, 7, late, None, false),
        scan(5, 8, late, Some(2), false),
        scan(6, 7, next_day, Some(1), true),
    ];
    let out = s.ingest_scans(&batch, 1).await.unwrap();
    assert_eq!((out.stored, out.duplicates), (6, 0));
    // A retry with one new record and a duplicate inside the batch itself.
    let mut retry = batch.clone();
    retry.push(scan(7, 7, day1 + 3, Some(3), true));
    retry.push(scan(7, 7, day1 + 3, Some(3), true));
    let out = s.ingest_scans(&retry, 2).await.unwrap();
    assert_eq!((out.stored, out.duplicates), (1, 7));
    assert_eq!(s.ingest_scans(&[], 3).await.unwrap(), Default::default());

    let rows = s.daily_usage(&local_day(day1)).await.unwrap();
    let got: Vec<(Option<u32>, u32, &str, &str, u64)> = rows
        .iter()
        .map(|r| {
            (
                r.number.map(|n| n.serial()),
                r.checkpoint_id.0,
                r.direction.as_str(),
                r.verdict.as_str(),
                r.count,
            )
        })
        .collect();
    // Ordered by checkpoint, then number (no number first), direction, verdict.
    assert_eq!(
        got,
        vec![
            (None, 7, "in", "expired", 1),
            (Some(1), 7, "in", "accepted", 1),
            (Some(1), 7, "out", "accepted", 2),
            (Some(3), 7, "out", "accepted", 1),
            (Some(2), 8, "out", "expired", 1),
        ]
    );
    assert_eq!(rows[1].class, Some(PassClass::ShortHaul));
    assert_eq!(rows[0].class, None);
    let next = s.daily_usage(&local_day(next_day)).await.unwrap();
    assert_eq!(next.iter().map(|r| r.count).sum::<u64>(), 1);
    assert!(s.daily_usage("2000-01-01").await.unwrap().is_empty());
}

async fn large_and_concurrent_overlapping_batches(db: TestDb) {
    let a = store(&db).await;
    let b = store(&db).await;
    let t = 1_796_083_200;
    // Larger than one multi-row INSERT.
    let big: Vec<ScanRecord> = (0..1_234).map(|i| scan(i, 1, t, Some(1), true)).collect();
    let out = a.ingest_scans(&big, 1).await.unwrap();
    assert_eq!((out.stored, out.duplicates), (1_234, 0));

    // 20 gates, each uploading overlapping batches through both "instances" at once, in
    // scrambled orders.
    let mut tasks = Vec::new();
    for gate in 2..22u32 {
        let recs: Vec<ScanRecord> = (0..60).map(|i| scan(i, gate, t, Some(2), true)).collect();
        for (k, s) in [a.clone(), b.clone(), a.clone(), b.clone()]
            .into_iter()
            .enumerate()
        {
            let mut batch: Vec<ScanRecord> = recs[k * 10..k * 10 + 30].to_vec();
            if k % 2 == 1 {
                batch.reverse();
            }
            tasks.push(tokio::spawn(async move { s.ingest_scans(&batch, 2).await }));
        }
    }
    let mut stored = 0;
    let mut dups = 0;
    for task in tasks {
        let out = task.await.unwrap().unwrap();
        stored += out.stored;
        dups += out.duplicates;
    }
    // Each gate sent records 0..60 in batches covering 0..30, 10..40, 20..50, 30..60.
    assert_eq!(stored, 20 * 60);
    assert_eq!(stored + dups, 20 * 4 * 30);
    let rows = a.daily_usage(&local_day(t)).await.unwrap();
    let mut per_gate: BTreeMap<u32, u64> = BTreeMap::new();
    for r in rows {
        *per_gate.entry(r.checkpoint_id.0).or_default() += r.count;
    }
    assert_eq!(per_gate[&1], 1_234);
    for gate in 2..22 {
        assert_eq!(per_gate[&gate], 60, "gate {gate}");
    }
}

async fn migrations_are_idempotent_and_concurrent_opens_are_safe(db: TestDb) {
    // Three instances starting together on a fresh database.
    let cfg = db.config();
    let (a, b, c) = tokio::join!(open_store(&cfg), open_store(&cfg), open_store(&cfg));
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_eq!(a.bundle_version().await.unwrap(), 1);
    a.create_enterprise("企业", 1).await.unwrap();
    for s in [&a, &b, &c] {
        s.ready().await.unwrap();
        assert_eq!(s.list_enterprises().await.unwrap().len(), 1);
    }
    drop((a, b, c));
    // Opening again re-runs nothing and keeps the data.
    let again = open_store(&cfg).await.unwrap();
    assert_eq!(again.list_enterprises().await.unwrap().len(), 1);
    assert_eq!(again.bundle_version().await.unwrap(), 1);
    let expected = match db.backend {
        Backend::Sqlite => passgate_server::store::Backend::Sqlite,
        Backend::Postgres => passgate_server::store::Backend::Postgres,
    };
    assert_eq!(again.backend(), expected);
}

async fn ready_and_backup(db: TestDb) {
    let s = open_store(&db.config()).await.unwrap();
    s.ready().await.unwrap();
    s.ping().await.unwrap();
    s.create_enterprise("企业", 1).await.unwrap();
    let to = db.dir.path().join("backup.db");
    match db.backend {
        Backend::Sqlite => {
            s.backup_to(&to).await.unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&to).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
            // Never overwrites.
            assert!(matches!(
                s.backup_to(&to).await,
                Err(StoreError::Conflict(_))
            ));
            let copy = passgate_server::store::SqlStore::open_sqlite_file(&to)
                .await
                .unwrap();
            assert_eq!(copy.list_enterprises().await.unwrap().len(), 1);
        }
        Backend::Postgres => {
            assert!(matches!(
                s.backup_to(&to).await,
                Err(StoreError::Unsupported(_))
            ));
            assert!(!to.exists());
        }
    }
    // A database missing a migration is reachable but not ready.
    sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(s.pool())
        .await
        .unwrap();
    s.ping().await.unwrap();
    assert!(matches!(s.ready().await, Err(StoreError::NotMigrated(1))));

    // Unknown URLs are refused, naming no password.
    let err = passgate_server::store::SqlStore::open_url("mysql://root:secret@host/db")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl(_)));
    assert!(!err.to_string().contains("secret"), "{err}");
}
