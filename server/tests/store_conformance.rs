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
    BatchOutcome, CheckpointKind, DeviceStatus, EnrollFailure, NewCheckpoint, PassFilter,
    PassRecord, PassStatus, Role, Store, StoreError,
};
use passgate_shared::record::{DeviceId, GENESIS_HASH, GateRecord, Observations};
use passgate_shared::sync::Direction;
use passgate_shared::time::local_day;
use passgate_shared::{
    CheckpointId, DivisionCode, EnterpriseId, IssuerKey, KeyId, KeyStatus, PassClass, PassNumber,
};

on_both_backends!(
    enterprises_and_checkpoints,
    issuer_keys,
    reissue_changes_only_live_passes_of_the_key,
    serials_are_a_sequence_per_area,
    serials_are_unique_under_concurrency,
    passes_insert_list_revoke,
    concurrent_revokes_only_one_wins,
    tokens,
    scans_are_idempotent_and_counted,
    large_and_concurrent_overlapping_batches,
    enrolment_codes_and_devices,
    forks_gaps_and_broken_links,
    revocations_since_a_version,
    migrations_are_idempotent_and_concurrent_opens_are_safe,
    ready_and_backup,
    purge_scrubs_personal_data_and_keeps_counts,
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
        crew_phone_masked: Some("138****5678".into()),
        crew_phone_sealed: Some(format!("sealed-{serial}")),
        reissued_at: None,
        reissued_from_key: None,
    }
}

/// One record of a chain; `prev` is the hash of the record before (None: genesis).
fn scan(
    device: u32,
    seq: u64,
    cp: u32,
    at: i64,
    number: Option<u32>,
    accepted: bool,
    prev: Option<String>,
) -> GateRecord {
    GateRecord {
        id: format!("{:016x}{:016x}", u64::from(device), seq),
        device_id: DeviceId(device),
        seq,
        prev_hash: prev.unwrap_or_else(|| GENESIS_HASH.to_owned()),
        checkpoint_id: CheckpointId(cp),
        scanned_at: at,
        direction: if seq.is_multiple_of(2) {
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
        guard_id: None,
        observations: Observations::default(),
        override_by: None,
        overrides_seq: None,
        dwell_minutes: None,
    }
}

/// A device's chain of `n` records from seq 1, all at checkpoint `cp`; `at(seq)` gives the
/// time and `number(seq)` the pass serial.
fn chain(
    device: DeviceId,
    cp: u32,
    n: u64,
    at: impl Fn(u64) -> i64,
    number: impl Fn(u64) -> Option<u32>,
    accepted: impl Fn(u64) -> bool,
) -> Vec<GateRecord> {
    let mut out: Vec<GateRecord> = Vec::new();
    for seq in 1..=n {
        let prev = out.last().map(GateRecord::hash_hex);
        out.push(scan(
            device.0,
            seq,
            cp,
            at(seq),
            number(seq),
            accepted(seq),
            prev,
        ));
    }
    out
}

/// Store a batch as the upload route does: sealed once, then ingested.
async fn ingest(
    s: &Arc<dyn Store>,
    device: DeviceId,
    records: &[GateRecord],
    now: i64,
) -> Result<BatchOutcome, StoreError> {
    let sealed: Vec<_> = records.iter().map(GateRecord::seal).collect();
    s.ingest_batch(device, records, &sealed, now).await
}

/// A checkpoint and an enrolled device at it.
async fn device_at(s: &Arc<dyn Store>, name: &str) -> (CheckpointId, DeviceId) {
    let cp = s
        .create_checkpoint(
            &NewCheckpoint {
                name: name.into(),
                kind: CheckpointKind::ZoneBorder,
                inside_zone: true,
                enterprise_id: None,
            },
            1,
        )
        .await
        .unwrap();
    let code = format!("code-{name}");
    s.create_enrollment_code(cp.id, &code, 1_000_000, 1)
        .await
        .unwrap();
    let key = format!("key-{name}");
    let d = s
        .enroll_device(&code, &key, name, &format!("token-{name}"), 2)
        .await
        .unwrap();
    (cp.id, d.id)
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

    // A rotation registers the new key active and retires every other active key, with one
    // bundle bump.
    s.activate_issuer_key(&key(4, KeyStatus::Active), 30)
        .await
        .unwrap();
    let statuses = |keys: Vec<IssuerKey>| -> Vec<(u8, KeyStatus)> {
        keys.into_iter().map(|k| (k.id.0, k.status)).collect()
    };
    assert_eq!(
        statuses(s.list_issuer_keys().await.unwrap()),
        vec![
            (1, KeyStatus::Retired),
            (2, KeyStatus::Retired),
            (3, KeyStatus::Retired),
            (4, KeyStatus::Active)
        ]
    );
    assert_eq!(s.bundle_version().await.unwrap(), v0 + 5);
    // A number already taken, or one below a key registered meanwhile (a peer rotated at
    // the same moment), is refused and changes nothing.
    assert!(matches!(
        s.activate_issuer_key(&key(4, KeyStatus::Active), 31).await,
        Err(StoreError::Conflict(_))
    ));
    s.activate_issuer_key(&key(6, KeyStatus::Active), 32)
        .await
        .unwrap();
    let before = statuses(s.list_issuer_keys().await.unwrap());
    let v = s.bundle_version().await.unwrap();
    assert!(matches!(
        s.activate_issuer_key(&key(5, KeyStatus::Active), 33).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(statuses(s.list_issuer_keys().await.unwrap()), before);
    assert_eq!(s.bundle_version().await.unwrap(), v);
    // Two rotations at once: whichever way they interleave, one key is active, the newest.
    let (k7, k8) = (key(7, KeyStatus::Active), key(8, KeyStatus::Active));
    let (a, b) = tokio::join!(
        s.activate_issuer_key(&k7, 40),
        s.activate_issuer_key(&k8, 40)
    );
    assert!(b.is_ok() || a.is_ok(), "{a:?} {b:?}");
    let keys = s.list_issuer_keys().await.unwrap();
    let active: Vec<u8> = keys
        .iter()
        .filter(|k| k.status == KeyStatus::Active)
        .map(|k| k.id.0)
        .collect();
    assert_eq!(active, vec![8], "{keys:?}");
}

/// The store half of the compromise drill: the live passes of a key, and their new
/// signatures stored in one go, only where the pass is still active and still that key's.
async fn reissue_changes_only_live_passes_of_the_key(db: TestDb) {
    let s = store(&db).await;
    let ent = s.create_enterprise("企业", 1).await.unwrap().id;
    let now = 1_900_000_000;
    let live = pass(1, ent, PassClass::ShortHaul, "豫U11111", now - 3600);
    let revoked = pass(2, ent, PassClass::ShortHaul, "豫U22222", now - 3600);
    let expired = pass(3, ent, PassClass::ShortHaul, "豫U33333", now - 2 * 86_400);
    let mut other_key = pass(4, ent, PassClass::ShortHaul, "豫U44444", now - 3600);
    other_key.key_id = KeyId(2);
    for p in [&live, &revoked, &expired, &other_key] {
        s.insert_pass(p).await.unwrap();
    }
    s.revoke_pass(revoked.number, "作废", now - 60)
        .await
        .unwrap();

    let found = s.live_passes_signed_by(KeyId(1), now).await.unwrap();
    assert_eq!(
        found.iter().map(|p| p.number).collect::<Vec<_>>(),
        vec![live.number]
    );
    // Handed more passes than the live one, it changes those still active and still signed
    // by key 1 (which of them are live is the caller's choice, made just before): never a
    // revoked pass (one revoked meanwhile), never another key's.
    let signed: Vec<(PassNumber, String)> = [&live, &revoked, &expired, &other_key]
        .iter()
        .map(|p| (p.number, format!("PG:new{}", p.number)))
        .collect();
    let changed = s
        .reissue_passes(KeyId(1), KeyId(3), &signed, now)
        .await
        .unwrap();
    assert_eq!(changed, vec![live.number, expired.number]);
    let got = s.get_pass(live.number).await.unwrap().unwrap();
    assert_eq!(got.key_id, KeyId(3));
    assert_eq!(got.qr_text, format!("PG:new{}", live.number));
    assert_eq!(
        (got.reissued_at, got.reissued_from_key),
        (Some(now), Some(KeyId(1)))
    );
    assert_eq!(got.number, live.number);
    let still = s.get_pass(revoked.number).await.unwrap().unwrap();
    assert_eq!(
        (still.key_id, still.qr_text, still.reissued_at),
        (KeyId(1), revoked.qr_text.clone(), None)
    );
    assert_eq!(
        s.get_pass(other_key.number).await.unwrap().unwrap(),
        other_key
    );
    // The reprint list of key 1, and nothing left to do.
    let filter = PassFilter {
        reissued_from_key: Some(KeyId(1)),
        limit: 50,
        ..PassFilter::default()
    };
    let (list, total) = s.list_passes(&filter).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        list.iter().map(|p| p.number).collect::<HashSet<_>>(),
        HashSet::from([live.number, expired.number])
    );
    assert!(
        s.live_passes_signed_by(KeyId(1), now)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.reissue_passes(KeyId(1), KeyId(3), &signed, now + 1)
            .await
            .unwrap()
            .is_empty()
    );
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
    let (cp7, dev) = device_at(&s, "seven").await;
    let (cp8, dev8) = device_at(&s, "eight").await;
    // 2026-12-01 08:00 Beijing; and 23:59:59 Beijing that day, and the next day.
    let day1 = 1_796_083_200;
    let late = day1 + 16 * 3600 - 1;
    let next_day = day1 + 16 * 3600;
    assert_eq!(local_day(day1), local_day(late));
    assert_ne!(local_day(late), local_day(next_day));
    // Index = seq: record 4 has no pass (unreadable) and is refused; 7 comes later.
    let times = [
        0,
        day1,
        day1 + 1,
        day1 + 2,
        late,
        day1 + 4,
        next_day,
        day1 + 3,
    ];
    let numbers = [
        None,
        Some(1),
        Some(1),
        Some(1),
        None,
        Some(1),
        Some(1),
        Some(3),
    ];
    let all = chain(
        dev,
        cp7.0,
        6,
        |q| times[q as usize],
        |q| numbers[q as usize],
        |q| q != 4,
    );
    let out = ingest(&s, dev, &all[..6], 1).await.unwrap();
    assert_eq!((out.stored, out.duplicates, out.gap), (6, 0, false));
    let other = chain(dev8, cp8.0, 1, |_| late, |_| Some(2), |_| false);
    ingest(&s, dev8, &other, 1).await.unwrap();
    // A retry of the same records plus one new one.
    let more = chain(
        dev,
        cp7.0,
        7,
        |q| times[q as usize],
        |q| numbers[q as usize],
        |q| q != 4,
    );
    let out = ingest(&s, dev, &more, 2).await.unwrap();
    assert_eq!((out.stored, out.duplicates), (1, 6));
    assert_eq!(ingest(&s, dev, &[], 3).await.unwrap(), Default::default());
    assert_eq!(s.get_device(dev).await.unwrap().unwrap().last_seq, 7);

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
    // Ordered by checkpoint, then number (no number first), direction, verdict. Seq 1, 3, 5, 7
    // go out, 2, 4, 6 in; seq 4 is refused; seq 6 is on the next day.
    assert_eq!(
        got,
        vec![
            (None, cp7.0, "in", "expired", 1),
            (Some(1), cp7.0, "in", "accepted", 1),
            (Some(1), cp7.0, "out", "accepted", 3),
            (Some(3), cp7.0, "out", "accepted", 1),
            (Some(2), cp8.0, "out", "expired", 1),
        ]
    );
    assert_eq!(rows[1].class, Some(PassClass::ShortHaul));
    assert_eq!(rows[0].class, None);
    let next = s.daily_usage(&local_day(next_day)).await.unwrap();
    assert_eq!(next.iter().map(|r| r.count).sum::<u64>(), 1);
    assert!(s.daily_usage("2000-01-01").await.unwrap().is_empty());
    // The stored records come back exactly as uploaded.
    let back = s.day_records(&local_day(day1)).await.unwrap();
    assert_eq!(back.len(), 7);
    assert!(back.contains(&more[6]) && back.contains(&other[0]));
}

async fn large_and_concurrent_overlapping_batches(db: TestDb) {
    let a = store(&db).await;
    let b = store(&db).await;
    let t = 1_796_083_200;
    let (cp, dev) = device_at(&a, "big").await;
    // Larger than one multi-row INSERT.
    let big = chain(dev, cp.0, 1_234, |_| t, |_| Some(1), |_| true);
    let out = ingest(&a, dev, &big, 1).await.unwrap();
    assert_eq!((out.stored, out.duplicates), (1_234, 0));

    // 20 gates, each uploading overlapping batches through both "instances" at once, in
    // scrambled order.
    let mut tasks = Vec::new();
    let mut gates = Vec::new();
    for g in 0..20 {
        let (cp, dev) = device_at(&a, &format!("gate-{g}")).await;
        gates.push(cp);
        let recs = chain(dev, cp.0, 60, |_| t, |_| Some(2), |_| true);
        for (k, s) in [a.clone(), b.clone(), a.clone(), b.clone()]
            .into_iter()
            .enumerate()
            .rev()
        {
            let batch: Vec<GateRecord> = recs[k * 10..k * 10 + 30].to_vec();
            tasks.push(tokio::spawn(
                async move { ingest(&s, dev, &batch, 2).await },
            ));
        }
    }
    let mut stored = 0;
    let mut dups = 0;
    for task in tasks {
        let out = task.await.unwrap().unwrap();
        stored += out.stored;
        dups += out.duplicates;
    }
    // Each gate sent records 1..=60 in batches covering 1..=30, 11..=40, 21..=50, 31..=60.
    assert_eq!(stored, 20 * 60);
    assert_eq!(stored + dups, 20 * 4 * 30);
    let rows = a.daily_usage(&local_day(t)).await.unwrap();
    let mut per_gate: BTreeMap<u32, u64> = BTreeMap::new();
    for r in rows {
        *per_gate.entry(r.checkpoint_id.0).or_default() += r.count;
    }
    assert_eq!(per_gate[&cp.0], 1_234);
    for g in gates {
        assert_eq!(per_gate[&g.0], 60, "gate {g}");
    }
    // Batches that arrived before the ones they follow opened gaps; all closed by now.
    let open: Vec<_> = a
        .incidents(0, i64::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.closed_at.is_none())
        .collect();
    assert!(open.is_empty(), "{open:?}");
}

async fn enrolment_codes_and_devices(db: TestDb) {
    let s = store(&db).await;
    let cp = s
        .create_checkpoint(
            &NewCheckpoint {
                name: "东门".into(),
                kind: CheckpointKind::EnterpriseGate,
                inside_zone: true,
                enterprise_id: None,
            },
            1,
        )
        .await
        .unwrap();
    s.create_enrollment_code(cp.id, "h-ok", 100, 10)
        .await
        .unwrap();
    s.create_enrollment_code(cp.id, "h-old", 50, 10)
        .await
        .unwrap();
    let d = s
        .enroll_device("h-ok", "pk-1", "gate tablet", "tok-1", 20)
        .await
        .unwrap();
    assert_eq!(
        (d.checkpoint_id, d.status, d.last_seq),
        (cp.id, DeviceStatus::Active, 0)
    );
    let t = s.find_token("tok-1").await.unwrap().unwrap();
    assert_eq!(
        (t.role, t.checkpoint_id, t.device_id),
        (Role::Checkpoint, Some(cp.id), Some(d.id))
    );
    let fail = |r: Result<_, StoreError>| match r {
        Err(StoreError::Enrollment(f)) => f,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        fail(s.enroll_device("h-ok", "pk-2", "again", "tok-2", 21).await),
        EnrollFailure::Used
    );
    assert_eq!(
        fail(s.enroll_device("h-old", "pk-3", "late", "tok-3", 60).await),
        EnrollFailure::Expired
    );
    assert_eq!(
        fail(s.enroll_device("h-none", "pk-4", "who", "tok-4", 21).await),
        EnrollFailure::Unknown
    );
    // A failed enrolment leaves nothing behind.
    assert_eq!(s.list_devices().await.unwrap().len(), 1);
    assert!(s.find_token("tok-2").await.unwrap().is_none());

    let r = s.revoke_device(d.id, "tablet stolen", 30).await.unwrap();
    assert_eq!(
        (r.status, r.revoke_reason.as_deref()),
        (DeviceStatus::Revoked, Some("tablet stolen"))
    );
    assert!(matches!(
        s.revoke_device(d.id, "again", 31).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.revoke_device(DeviceId(999), "x", 31).await,
        Err(StoreError::NotFound(_))
    ));
    // The token still identifies the device, so its refusal can say why.
    assert_eq!(
        s.find_token("tok-1").await.unwrap().unwrap().device_id,
        Some(d.id)
    );
}

async fn forks_gaps_and_broken_links(db: TestDb) {
    let s = store(&db).await;
    let (cp, dev) = device_at(&s, "chain").await;
    let t = 1_796_083_200;
    let recs = chain(dev, cp.0, 30, |q| t + q as i64, |_| Some(1), |_| true);
    // The later batch arrives first: stored, with a gap incident.
    let out = ingest(&s, dev, &recs[10..20], 1).await.unwrap();
    assert!(out.gap);
    let open = |s: Arc<dyn Store>| async move {
        s.incidents(0, i64::MAX)
            .await
            .unwrap()
            .into_iter()
            .filter(|i| i.closed_at.is_none())
            .map(|i| (i.kind, i.seq))
            .collect::<Vec<_>>()
    };
    assert_eq!(open(s.clone()).await, [("chain_gap".to_owned(), 11)]);
    // The missing records arrive and link: the incident closes, kept for review.
    let out = ingest(&s, dev, &recs[..10], 2).await.unwrap();
    assert!(!out.gap);
    assert!(open(s.clone()).await.is_empty());
    assert_eq!(s.incidents(0, i64::MAX).await.unwrap().len(), 1);

    // A different record under a stored sequence number: refused whole, incident recorded.
    let mut forked = recs[15..25].to_vec();
    forked[0].plate = Some("豫U99999".into());
    match ingest(&s, dev, &forked, 3).await {
        Err(StoreError::ChainFork { seq: 16, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(open(s.clone()).await, [("chain_fork".to_owned(), 16)]);
    // Nothing of the refused batch was stored (21..25 are still missing).
    let day = s.daily_usage(&local_day(t)).await.unwrap();
    assert_eq!(day.iter().map(|r| r.count).sum::<u64>(), 20);

    // A batch whose first record does not link to the stored one before it.
    let mut other = chain(
        dev,
        cp.0,
        30,
        |q| t + 1000 + q as i64,
        |_| Some(2),
        |_| true,
    );
    other.truncate(25);
    match ingest(&s, dev, &other[20..25], 4).await {
        Err(StoreError::BrokenLink { seq: 21, .. }) => {}
        r => panic!("{r:?}"),
    }
    // A batch that would fill a gap but does not link to the stored record after it.
    let (cp2, dev2) = device_at(&s, "chain-2").await;
    let good = chain(dev2, cp2.0, 15, |q| t + q as i64, |_| Some(1), |_| true);
    let alien = chain(
        dev2,
        cp2.0,
        15,
        |q| t + 500 + q as i64,
        |_| Some(2),
        |_| true,
    );
    ingest(&s, dev2, &good[..5], 6).await.unwrap();
    assert!(ingest(&s, dev2, &good[10..], 7).await.unwrap().gap);
    match ingest(&s, dev2, &alien[5..10], 8).await {
        Err(StoreError::BrokenLink { seq: 6, .. }) => {}
        r => panic!("{r:?}"),
    }
    let mut relinked = alien[5..10].to_vec();
    relinked[0].prev_hash = good[4].hash_hex();
    for i in 1..relinked.len() {
        relinked[i].prev_hash = relinked[i - 1].hash_hex();
    }
    match ingest(&s, dev2, &relinked, 9).await {
        Err(StoreError::BrokenLink { seq: 11, .. }) => {}
        r => panic!("{r:?}"),
    }
    ingest(&s, dev2, &good[5..10], 10).await.unwrap();
    let gaps: Vec<_> = s
        .incidents(0, i64::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.device_id == dev2 && i.kind == "chain_gap")
        .collect();
    assert!(gaps.iter().all(|i| i.closed_at.is_some()), "{gaps:?}");

    // The honest continuation is accepted.
    let out = ingest(&s, dev, &recs[20..30], 5).await.unwrap();
    assert_eq!((out.stored, out.gap), (10, false));
}

async fn revocations_since_a_version(db: TestDb) {
    let s = store(&db).await;
    let e = s.create_enterprise("企业", 1).await.unwrap();
    for serial in 1..=3 {
        s.insert_pass(&pass(serial, e.id, PassClass::ShortHaul, "豫U12345", 1))
            .await
            .unwrap();
    }
    let v0 = s.bundle_version().await.unwrap();
    s.revoke_pass(PassNumber::new(area(), 1).unwrap(), "a", 2)
        .await
        .unwrap();
    let v1 = s.bundle_version().await.unwrap();
    s.revoke_pass(PassNumber::new(area(), 3).unwrap(), "b", 3)
        .await
        .unwrap();
    let serials = |v: Vec<PassNumber>| v.into_iter().map(|n| n.serial()).collect::<Vec<_>>();
    assert_eq!(
        serials(s.revoked_since(v0, u64::MAX >> 1).await.unwrap()),
        [1, 3]
    );
    assert_eq!(
        serials(s.revoked_since(v1, u64::MAX >> 1).await.unwrap()),
        [3]
    );
    // Up to a version: what a delta built for that version may carry, nothing newer.
    assert_eq!(serials(s.revoked_since(v0, v1).await.unwrap()), [1]);
    assert!(
        s.revoked_since(s.bundle_version().await.unwrap(), u64::MAX >> 1)
            .await
            .unwrap()
            .is_empty()
    );
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

async fn purge_scrubs_personal_data_and_keeps_counts(db: TestDb) {
    let s = store(&db).await;
    let ent = s.create_enterprise("企业", 1).await.unwrap().id;
    let t0 = 1_800_000_000;
    // One pass expired long ago, one still valid at the purge date.
    let old = pass(1, ent, PassClass::ShortHaul, "豫U11111", t0);
    let mut live = pass(2, ent, PassClass::ShortHaul, "豫U22222", t0);
    live.valid_until = t0 + 40 * 86_400;
    s.insert_pass(&old).await.unwrap();
    s.insert_pass(&live).await.unwrap();
    let (cp, device) = device_at(&s, "东门").await;
    // Ten scans on day 0 and ten on day 20, with a guard, checks and an override.
    let mut records = chain(
        device,
        cp.0,
        20,
        |q| {
            if q <= 10 {
                t0 + q as i64 * 60
            } else {
                t0 + 20 * 86_400 + q as i64 * 60
            }
        },
        |q| Some(if q <= 10 { 1 } else { 2 }),
        |q| q % 3 != 0,
    );
    let mut prev = None;
    for r in records.iter_mut() {
        r.guard_id = Some("王卫".into());
        r.observations.temperature_ok = Some(true);
        if r.seq == 4 {
            r.override_by = Some(passgate_shared::record::Override {
                supervisor_id: "李队长".into(),
                reason: "护送".into(),
            });
            r.overrides_seq = Some(3);
        }
        if let Some(p) = prev {
            r.prev_hash = p;
        }
        prev = Some(r.hash_hex());
    }
    ingest(&s, device, &records, t0 + 21 * 86_400)
        .await
        .unwrap();
    let day0 = passgate_shared::time::local_day(t0 + 600);
    let day20 = passgate_shared::time::local_day(t0 + 20 * 86_400 + 660);
    let usage0 = s.daily_usage(&day0).await.unwrap();
    let usage20 = s.daily_usage(&day20).await.unwrap();
    assert!(!usage0.is_empty() && !usage20.is_empty());

    let before = t0 + 10 * 86_400;
    let report = s.purge_before(before, t0 + 30 * 86_400).await.unwrap();
    assert_eq!(report.passes_scrubbed, 1);
    assert_eq!(report.scans_scrubbed, 10);
    // Again: nothing left to do.
    let again = s.purge_before(before, t0 + 30 * 86_400).await.unwrap();
    assert_eq!((again.passes_scrubbed, again.scans_scrubbed), (0, 0));

    let old = s.get_pass(old.number).await.unwrap().unwrap();
    assert_eq!(old.driver_name, "张*明");
    assert_eq!(old.driver_id_hash, None);
    // The crew's phone goes whole: sealed and masked.
    assert_eq!((old.crew_phone_sealed, old.crew_phone_masked), (None, None));
    let live = s.get_pass(live.number).await.unwrap().unwrap();
    assert_eq!(live.driver_name, "张三明");
    assert_eq!(live.driver_id_hash.as_deref(), Some("abc"));
    assert_eq!(live.crew_phone_sealed.as_deref(), Some("sealed-2"));
    assert_eq!(live.crew_phone_masked.as_deref(), Some("138****5678"));

    // The counts are the same; the old day's records lost their personal details only.
    assert_eq!(s.daily_usage(&day0).await.unwrap(), usage0);
    assert_eq!(s.daily_usage(&day20).await.unwrap(), usage20);
    let old_records = s.day_records(&day0).await.unwrap();
    assert_eq!(old_records.len(), 10);
    for r in &old_records {
        assert_eq!((r.plate.as_deref(), r.guard_id.as_deref()), (None, None));
        assert_eq!(r.observations, Observations::default());
        assert!(r.number.is_some());
    }
    let overridden = old_records.iter().find(|r| r.seq == 4).unwrap();
    assert_eq!(overridden.overrides_seq, Some(3));
    assert!(
        overridden
            .override_by
            .as_ref()
            .is_some_and(|o| o.supervisor_id.is_empty())
    );
    let kept = s.day_records(&day20).await.unwrap();
    assert!(
        kept.iter()
            .all(|r| r.guard_id.as_deref() == Some("王卫") && r.plate.is_some())
    );
}
