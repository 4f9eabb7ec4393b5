//! The reporting part of the store (`ReportingStore`), on SQLite and on PostgreSQL: teams,
//! profiles and grids, report versions and lateness, vehicle counts from real scans, days of
//! cover, the risk-case flow, and the task force's day overview checked against a recount
//! from the raw rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use common::TestDb;
use passgate_server::open_store;
use passgate_server::store::reporting::{
    NewGrid, NewRiskCase, NewTeam, ProfileUpdate, ReportingSettings, RiskCaseFilter, StepEntry,
    StoredReport, SupplyItem,
};
use passgate_server::store::{
    CheckpointKind, NewCheckpoint, NewUser, Role, Store, StoreError, UserRole,
};
use passgate_shared::record::{DeviceId, GENESIS_HASH, GateRecord, Observations};
use passgate_shared::reporting::{
    Abnormality, Coverage, CreditCode, DayStatus, DueTime, FlowError, HelpKind, Report,
    ReportDraft, ReportKind, RiskStep, SupplyLineDraft, SupplyUnit, Zone, abnormalities,
    day_status, days_of_cover, supply_warning, validate_report,
};
use passgate_shared::sync::Direction;
use passgate_shared::time::local_day_range;
use passgate_shared::{CheckpointId, EnterpriseId};

on_both_backends!(
    teams_profiles_grids_and_settings,
    supply_items_are_seeded_and_configurable,
    validation_uses_the_configured_items,
    late_flag_from_the_first_version_and_full_history,
    concurrent_submissions_get_distinct_versions,
    vehicle_counts_come_from_accepted_scans,
    days_of_cover_from_a_series_of_reports,
    risk_case_flow,
    concurrent_steps_only_one_wins,
    day_overview_equals_a_recount_of_the_raw_rows,
    enterprise_tokens,
);

async fn store(db: &TestDb) -> Arc<dyn Store> {
    Arc::new(open_store(&db.config()).await.unwrap())
}

/// `HH:MM` Beijing time on `date`, as Unix seconds.
fn at(date: &str, hh: i64, mm: i64) -> i64 {
    local_day_range(date).unwrap().0 + hh * 3600 + mm * 60
}

/// A credit code with a correct check character (GB 32100 weights), from 17 characters.
fn credit_code(first17: &str) -> CreditCode {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [usize; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let sum: usize = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(c, w)| ALPHABET.iter().position(|&a| a == c).unwrap() * w)
        .sum();
    let check = ALPHABET[(31 - sum % 31) % 31] as char;
    CreditCode::parse(&format!("{first17}{check}")).unwrap()
}

fn items() -> Vec<&'static str> {
    vec![
        "masks",
        "suits",
        "gloves",
        "disinfectant",
        "sanitiser",
        "thermometers",
        "antigen",
        "food",
        "necessities",
    ]
}

/// A validated full report.
fn full(date: &str, on_site: i64, zones: [i64; 4], supplies: &[(&str, i64, i64)]) -> Report {
    let draft = ReportDraft {
        on_site,
        green: zones[0],
        blue: zones[1],
        yellow: zones[2],
        red: zones[3],
        tests_done: on_site,
        disinfected: true,
        supplies: supplies
            .iter()
            .map(|(item, stock, used)| SupplyLineDraft {
                item: (*item).into(),
                stock: *stock,
                used: *used,
            })
            .collect(),
        ..ReportDraft::new(date, ReportKind::Full)
    };
    validate_report(&draft, &items(), at(date, 23, 0)).unwrap()
}

fn zero(date: &str, on_site: i64) -> Report {
    let draft = ReportDraft {
        on_site,
        ..ReportDraft::new(date, ReportKind::Zero)
    };
    validate_report(&draft, &[], at(date, 23, 0)).unwrap()
}

const DUE: DueTime = DueTime(600);

async fn teams_profiles_grids_and_settings(db: TestDb) {
    let s = store(&db).await;
    let t1 = s
        .create_team(
            &NewTeam {
                name: "督导一组".into(),
                offices: "市工信局、高新区管委会".into(),
            },
            10,
        )
        .await
        .unwrap();
    let t2 = s
        .create_team(
            &NewTeam {
                name: "督导二组".into(),
                offices: "市发改委".into(),
            },
            11,
        )
        .await
        .unwrap();
    let dup = s
        .create_team(
            &NewTeam {
                name: "督导一组".into(),
                offices: String::new(),
            },
            12,
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(m)) if m.contains("督导一组")));
    let renamed = s
        .update_team(
            t2.id,
            &NewTeam {
                name: "督导二组".into(),
                offices: "市发改委、市商务局".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (renamed.created_at, renamed.offices.as_str()),
        (11, "市发改委、市商务局")
    );
    assert!(matches!(
        s.update_team(
            t2.id,
            &NewTeam {
                name: "督导一组".into(),
                offices: String::new()
            }
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.update_team(
            9999,
            &NewTeam {
                name: "x".into(),
                offices: String::new()
            }
        )
        .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        s.list_teams()
            .await
            .unwrap()
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        ["督导一组", "督导二组"]
    );
    assert_eq!(s.get_team(t1.id).await.unwrap().unwrap(), t1);

    // Profiles: empty at first, then set; a duplicate credit code changes nothing.
    let a = s.create_enterprise("示范区钢铁", 100).await.unwrap();
    let b = s.create_enterprise("示范区化工", 101).await.unwrap();
    let pa = s.enterprise_profile(a.id).await.unwrap().unwrap();
    assert_eq!(
        (pa.credit_code, pa.team_id, pa.enterprise),
        (None, None, a.clone())
    );
    let code = credit_code("91419001MA00000A1");
    let update = ProfileUpdate {
        credit_code: Some(code.clone()),
        address: Some("示范区钢城大道 1 号".into()),
        contact_name: Some("王联络".into()),
        contact_phone: Some("13800000001".into()),
        responsible_person: Some("李总".into()),
        responsible_phone: Some("13800000002".into()),
        team_id: Some(t1.id),
    };
    let pa = s.set_enterprise_profile(a.id, &update).await.unwrap();
    assert_eq!(pa.credit_code.as_ref(), Some(&code));
    assert_eq!(pa.address.as_deref(), Some("示范区钢城大道 1 号"));
    assert_eq!(s.enterprise_profile(a.id).await.unwrap().unwrap(), pa);
    let clash = ProfileUpdate {
        credit_code: Some(code.clone()),
        team_id: Some(t2.id),
        ..ProfileUpdate::default()
    };
    assert!(matches!(
        s.set_enterprise_profile(b.id, &clash).await,
        Err(StoreError::Conflict(m)) if m.contains(code.as_str())
    ));
    let pb = s.enterprise_profile(b.id).await.unwrap().unwrap();
    assert_eq!((pb.credit_code, pb.team_id), (None, None));
    assert!(matches!(
        s.set_enterprise_profile(
            b.id,
            &ProfileUpdate {
                team_id: Some(9999),
                ..ProfileUpdate::default()
            }
        )
        .await,
        Err(StoreError::NotFound("supervision team"))
    ));
    assert!(matches!(
        s.set_enterprise_profile(EnterpriseId(9999), &ProfileUpdate::default())
            .await,
        Err(StoreError::NotFound("enterprise"))
    ));
    s.set_enterprise_profile(
        b.id,
        &ProfileUpdate {
            credit_code: Some(credit_code("91419001MA00000B2")),
            team_id: Some(t2.id),
            ..ProfileUpdate::default()
        },
    )
    .await
    .unwrap();
    let ids = |v: Vec<passgate_server::store::reporting::EnterpriseProfile>| {
        v.into_iter().map(|p| p.enterprise.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(s.enterprise_profiles(Some(t1.id)).await.unwrap()),
        [a.id]
    );
    assert_eq!(
        ids(s.enterprise_profiles(Some(t2.id)).await.unwrap()),
        [b.id]
    );
    assert_eq!(
        ids(s.enterprise_profiles(None).await.unwrap()),
        [a.id, b.id]
    );
    // The old enterprise API still reads these rows.
    assert_eq!(s.get_enterprise(a.id).await.unwrap().unwrap(), a);

    // Grids: in zone order, names unique per zone, deleted only through their enterprise.
    let grid = |zone, name: &str| NewGrid {
        zone,
        name: name.into(),
        leader: "张网格".into(),
        leader_phone: "13900000000".into(),
    };
    let g_red = s.add_grid(a.id, &grid(Zone::Red, "隔离区")).await.unwrap();
    s.add_grid(a.id, &grid(Zone::Green, "二车间"))
        .await
        .unwrap();
    s.add_grid(a.id, &grid(Zone::Green, "一车间"))
        .await
        .unwrap();
    s.add_grid(a.id, &grid(Zone::Yellow, "观察区"))
        .await
        .unwrap();
    assert!(matches!(
        s.add_grid(a.id, &grid(Zone::Green, "一车间")).await,
        Err(StoreError::Conflict(_))
    ));
    s.add_grid(a.id, &grid(Zone::Blue, "一车间")).await.unwrap();
    assert!(matches!(
        s.add_grid(EnterpriseId(9999), &grid(Zone::Red, "x")).await,
        Err(StoreError::NotFound("enterprise"))
    ));
    let listed: Vec<(Zone, String)> = s
        .list_grids(a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.zone, g.name))
        .collect();
    assert_eq!(
        listed,
        [
            (Zone::Green, "一车间".to_owned()),
            (Zone::Green, "二车间".to_owned()),
            (Zone::Blue, "一车间".to_owned()),
            (Zone::Yellow, "观察区".to_owned()),
            (Zone::Red, "隔离区".to_owned()),
        ]
    );
    assert!(matches!(
        s.delete_grid(b.id, g_red.id).await,
        Err(StoreError::NotFound("grid"))
    ));
    s.delete_grid(a.id, g_red.id).await.unwrap();
    assert_eq!(s.list_grids(a.id).await.unwrap().len(), 4);
    assert!(s.list_grids(b.id).await.unwrap().is_empty());

    // Supervisors carry their team.
    let user = s
        .create_user(
            &NewUser {
                username: "team1".into(),
                display_name: "督导一组".into(),
                role: UserRole::Supervisor,
                enterprise_id: None,
                team_id: Some(t1.id),
                password_hash: "x".into(),
                must_change_password: false,
            },
            5,
        )
        .await
        .unwrap();
    assert_eq!(
        (user.role, user.team_id),
        (UserRole::Supervisor, Some(t1.id))
    );
    s.set_user_team(user.id, Some(t2.id)).await.unwrap();
    assert_eq!(
        s.get_user(user.id).await.unwrap().unwrap().team_id,
        Some(t2.id)
    );
    assert!(matches!(
        s.set_user_team(user.id, Some(9999)).await,
        Err(StoreError::NotFound("supervision team"))
    ));
    assert!(matches!(
        s.set_user_team(9999, None).await,
        Err(StoreError::NotFound("user"))
    ));

    // Settings: the seeded defaults, then changed.
    assert_eq!(
        s.reporting_settings().await.unwrap(),
        ReportingSettings::default()
    );
    let changed = ReportingSettings {
        due: DueTime::parse("09:30").unwrap(),
        step_limits: [10, 20, 30, 40, 50, 60],
    };
    s.set_reporting_settings(&changed).await.unwrap();
    assert_eq!(s.reporting_settings().await.unwrap(), changed);
    assert_eq!(changed.limit(RiskStep::NoticeReceived), None);
    assert_eq!(changed.limit(RiskStep::PlanStarted), Some(10));
    assert_eq!(changed.limit(RiskStep::Closed), Some(60));
}

async fn supply_items_are_seeded_and_configurable(db: TestDb) {
    let s = store(&db).await;
    let seeded = s.supply_items().await.unwrap();
    assert_eq!(
        seeded.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(),
        items()
    );
    let food = seeded.iter().find(|i| i.key == "food").unwrap();
    assert_eq!(
        (food.unit, food.name_zh.as_str()),
        (SupplyUnit::Days, "食品（天）")
    );
    assert!(seeded.iter().all(|i| i.active && i.warn_days == 3));
    let mut masks = seeded[0].clone();
    masks.warn_days = 5;
    masks.sort = 95;
    masks.active = false;
    s.upsert_supply_item(&masks).await.unwrap();
    s.upsert_supply_item(&SupplyItem {
        key: "oxygen".into(),
        name_zh: "氧气瓶".into(),
        name_en: "oxygen cylinders".into(),
        unit: SupplyUnit::Counted,
        warn_days: 2,
        sort: 5,
        active: true,
    })
    .await
    .unwrap();
    let now = s.supply_items().await.unwrap();
    assert_eq!(now.first().unwrap().key, "oxygen");
    assert_eq!(now.last().unwrap(), &masks);
    assert_eq!(now.len(), 10);
}

/// The store lists the items a report may name; the shared validator names every bad field.
async fn validation_uses_the_configured_items(db: TestDb) {
    let s = store(&db).await;
    let mut masks = s.supply_items().await.unwrap()[0].clone();
    masks.active = false;
    s.upsert_supply_item(&masks).await.unwrap();
    let known: Vec<String> = s
        .supply_items()
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.active)
        .map(|i| i.key)
        .collect();
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let draft = ReportDraft {
        on_site: 10,
        green: 8,
        red: 5,
        tests_done: -1,
        supplies: vec![
            SupplyLineDraft {
                item: "masks".into(),
                stock: 10,
                used: 1,
            },
            SupplyLineDraft {
                item: "gloves".into(),
                stock: -3,
                used: 1,
            },
        ],
        ..ReportDraft::new("2026-03-02", ReportKind::Full)
    };
    let problems = validate_report(&draft, &known, at("2026-03-01", 12, 0)).unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "date",
            "zones",
            "tests_done",
            "supplies.masks",
            "supplies.gloves.stock"
        ]
    );
}

async fn late_flag_from_the_first_version_and_full_history(db: TestDb) {
    let s = store(&db).await;
    let a = s.create_enterprise("准时企业", 1).await.unwrap().id;
    let b = s.create_enterprise("迟报企业", 1).await.unwrap().id;
    let date = "2026-03-01";
    assert_eq!(DUE.deadline(date), Some(at(date, 10, 0)));

    // A: zero report at 09:59 (on time), corrected to a full report at 15:00.
    let v1 = s
        .submit_report(a, &zero(date, 120), "a-user", at(date, 9, 59), DUE)
        .await
        .unwrap();
    assert_eq!(
        (v1.version, v1.late, v1.status()),
        (1, false, DayStatus::ZeroReported)
    );
    let edited = full(date, 120, [110, 5, 3, 2], &[("masks", 500, 100)]);
    let v2 = s
        .submit_report(a, &edited, "a-user2", at(date, 15, 0), DUE)
        .await
        .unwrap();
    assert_eq!((v2.version, v2.late), (2, false));
    assert_eq!(v2.first_submitted_at, at(date, 9, 59));
    assert_eq!(v2.report, edited);
    assert_eq!(v2.status(), DayStatus::Reported);
    // The stored flag and the shared rule agree.
    assert_eq!(
        v2.status(),
        day_status(date, Some((v2.report.kind, v2.first_submitted_at)), DUE)
    );

    // B: first filed at 10:00:01 (late); an edit before the next deadline stays late, and
    // a later change of the due time does not rewrite it.
    let b1 = s
        .submit_report(
            b,
            &full(date, 50, [50, 0, 0, 0], &[]),
            "b",
            at(date, 10, 0) + 1,
            DUE,
        )
        .await
        .unwrap();
    assert!(b1.late);
    let b2 = s
        .submit_report(b, &zero(date, 48), "b", at(date, 10, 5), DueTime(23 * 60))
        .await
        .unwrap();
    assert_eq!(
        (b2.version, b2.late, b2.status()),
        (2, true, DayStatus::Late)
    );

    let history = s.report_versions(a, date).await.unwrap();
    assert_eq!(history, vec![v1.clone(), v2.clone()]);
    assert_eq!(history[0].report, zero(date, 120));
    assert_eq!(history[0].submitted_by, "a-user");
    assert_eq!(history[1].submitted_by, "a-user2");
    assert_eq!(s.current_report(a, date).await.unwrap(), Some(v2.clone()));
    assert_eq!(s.current_report(a, "2026-03-02").await.unwrap(), None);
    assert!(s.report_versions(a, "2026-03-02").await.unwrap().is_empty());

    // A third version, a day later, still carries version 1's time and flag.
    let v3 = s
        .submit_report(a, &zero(date, 119), "a-user", at("2026-03-02", 9, 0), DUE)
        .await
        .unwrap();
    assert_eq!(
        (v3.version, v3.late, v3.first_submitted_at),
        (3, false, at(date, 9, 59))
    );
    assert_eq!(s.report_versions(a, date).await.unwrap().len(), 3);
    // Listing shows current versions only.
    let listed = s.reports_between(None, None, date, date).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|r| (r.enterprise_id, r.version))
            .collect::<Vec<_>>(),
        [(a, 3), (b, 2)]
    );
    assert!(matches!(
        s.submit_report(EnterpriseId(999), &zero(date, 1), "x", 1, DUE)
            .await,
        Err(StoreError::NotFound("enterprise"))
    ));
}

async fn concurrent_submissions_get_distinct_versions(db: TestDb) {
    let s = store(&db).await;
    let e = s.create_enterprise("并发企业", 1).await.unwrap().id;
    let date = "2026-03-03";
    let mut tasks = Vec::new();
    for i in 0..12i64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.submit_report(e, &zero(date, 100 + i), "t", at(date, 8, 0) + i, DUE)
                .await
                .unwrap()
        }));
    }
    let mut versions = BTreeSet::new();
    for t in tasks {
        versions.insert(t.await.unwrap().version);
    }
    assert_eq!(versions, (1..=12).collect());
    let history = s.report_versions(e, date).await.unwrap();
    let first = history[0].submitted_at;
    assert!(
        history
            .iter()
            .all(|r| r.first_submitted_at == first && !r.late)
    );
}

/// A record of a gate chain (the store links nothing here: each checkpoint has its device).
fn record(
    device: DeviceId,
    seq: u64,
    cp: CheckpointId,
    at: i64,
    dir: Direction,
    ok: bool,
    prev: &Option<GateRecord>,
) -> GateRecord {
    GateRecord {
        id: format!("{:08x}{:024x}", device.0, seq),
        device_id: device,
        seq,
        prev_hash: prev
            .as_ref()
            .map_or_else(|| GENESIS_HASH.to_owned(), GateRecord::hash_hex),
        checkpoint_id: cp,
        scanned_at: at,
        direction: dir,
        number: None,
        class: None,
        plate: None,
        accepted: ok,
        reason: (!ok).then(|| "expired".to_owned()),
        warnings: vec![],
        bundle_version: 1,
        guard_id: None,
        observations: Observations::default(),
        override_by: None,
        overrides_seq: None,
        dwell_minutes: None,
    }
}

async fn vehicle_counts_come_from_accepted_scans(db: TestDb) {
    let s = store(&db).await;
    let mine = s.create_enterprise("本企业", 1).await.unwrap().id;
    let other = s.create_enterprise("他企业", 1).await.unwrap().id;
    let mut gates = Vec::new();
    for (name, ent) in [
        ("东门", Some(mine)),
        ("西门", Some(mine)),
        ("他门", Some(other)),
        ("卡口", None),
    ] {
        let cp = s
            .create_checkpoint(
                &NewCheckpoint {
                    name: name.into(),
                    kind: if ent.is_some() {
                        CheckpointKind::EnterpriseGate
                    } else {
                        CheckpointKind::ZoneBorder
                    },
                    inside_zone: true,
                    enterprise_id: ent,
                },
                1,
            )
            .await
            .unwrap();
        let code = format!("code-{name}");
        s.create_enrollment_code(cp.id, &code, 1_000_000, 1)
            .await
            .unwrap();
        let dev = s
            .enroll_device(
                &code,
                &format!("key-{name}"),
                name,
                &format!("tok-{name}"),
                2,
            )
            .await
            .unwrap();
        gates.push((cp, dev.id));
    }
    let date = "2026-03-04";
    // Scans from 23:00 the day before to 01:00 the day after, every 7 minutes, at every gate;
    // direction and verdict vary.
    let mut all = Vec::new();
    for (i, (cp, dev)) in gates.iter().enumerate() {
        let mut prev: Option<GateRecord> = None;
        let mut chain = Vec::new();
        let mut t = at(date, 0, 0) - 3600;
        let mut seq = 0;
        while t < at(date, 0, 0) + 26 * 3600 {
            seq += 1;
            let dir = if (seq + i as u64).is_multiple_of(3) {
                Direction::Out
            } else {
                Direction::In
            };
            let ok = !(seq * 7 + i as u64).is_multiple_of(5);
            let r = record(*dev, seq, cp.id, t, dir, ok, &prev);
            prev = Some(r.clone());
            chain.push(r);
            t += 7 * 60;
        }
        for batch in chain.chunks(200) {
            let sealed: Vec<_> = batch.iter().map(GateRecord::seal).collect();
            s.ingest_batch(*dev, batch, &sealed, 3).await.unwrap();
        }
        all.extend(chain.into_iter().map(|r| (cp.enterprise_id, r)));
    }
    let (start, end) = local_day_range(date).unwrap();
    let expect = |dir| {
        all.iter()
            .filter(|(e, r)| {
                *e == Some(mine)
                    && r.accepted
                    && r.direction == dir
                    && r.scanned_at >= start
                    && r.scanned_at < end
            })
            .count() as u32
    };
    let counts = s.vehicle_counts(mine, date).await.unwrap();
    assert_eq!(
        (counts.vehicles_in, counts.vehicles_out),
        (expect(Direction::In), expect(Direction::Out))
    );
    assert!(
        counts.vehicles_in > 100 && counts.vehicles_out > 50,
        "{counts:?}"
    );
    let quiet = s.vehicle_counts(mine, "2026-03-10").await.unwrap();
    assert_eq!((quiet.vehicles_in, quiet.vehicles_out), (0, 0));
}

async fn days_of_cover_from_a_series_of_reports(db: TestDb) {
    let s = store(&db).await;
    let e = s.create_enterprise("物资企业", 1).await.unwrap().id;
    // Nine days: masks used 100, 110, …; gloves skipped on day 5; food counted in days.
    let days: Vec<String> = (1..=9).map(|d| format!("2026-04-{d:02}")).collect();
    let mut stock = 5000i64;
    for (i, d) in days.iter().enumerate() {
        let used = 100 + 10 * i as i64;
        stock -= used;
        let mut lines = vec![("masks", stock, used), ("food", 9 - i as i64, 1)];
        if i != 4 {
            lines.push(("gloves", 300, 20));
        }
        s.submit_report(
            e,
            &full(d, 10, [10, 0, 0, 0], &lines),
            "e",
            at(d, 9, 0),
            DUE,
        )
        .await
        .unwrap();
    }
    // Day 8 corrected: the current version's figure is the one that counts.
    s.submit_report(
        e,
        &full(
            &days[7],
            10,
            [10, 0, 0, 0],
            &[("masks", 2000, 400), ("food", 2, 1)],
        ),
        "e",
        at(&days[7], 11, 0),
        DUE,
    )
    .await
    .unwrap();
    let uses = s.supply_use(e, "masks", &days[8], 7).await.unwrap();
    assert_eq!(uses, [180, 400, 160, 150, 140, 130, 120]);
    let latest = s.current_report(e, &days[8]).await.unwrap().unwrap();
    let masks_stock = latest
        .report
        .supplies
        .iter()
        .find(|l| l.item == "masks")
        .unwrap()
        .stock;
    let cover = days_of_cover(SupplyUnit::Counted, masks_stock, &uses).unwrap();
    let expected = f64::from(masks_stock) / (1280.0 / 7.0);
    assert!((cover - expected).abs() < 1e-9, "{cover} vs {expected}");
    assert!(supply_warning(Some(cover), 30) && !supply_warning(Some(cover), 1));
    // Up to an earlier day, fewer reports.
    assert_eq!(
        s.supply_use(e, "masks", &days[1], 7).await.unwrap(),
        [110, 100]
    );
    assert_eq!(
        s.supply_use(e, "gloves", &days[5], 3).await.unwrap(),
        [20, 20, 20]
    );
    assert_eq!(
        s.supply_use(e, "gloves", &days[5], 10).await.unwrap().len(),
        5
    );
    assert!(
        s.supply_use(e, "suits", &days[8], 7)
            .await
            .unwrap()
            .is_empty()
    );
    let food = latest
        .report
        .supplies
        .iter()
        .find(|l| l.item == "food")
        .unwrap();
    assert_eq!(days_of_cover(SupplyUnit::Days, food.stock, &[]), Some(1.0));
    // The prefill source: the latest day before a date.
    let before = s
        .last_report_before(e, "2026-04-20")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before, latest);
    assert_eq!(s.last_report_before(e, &days[0]).await.unwrap(), None);
    assert_eq!(
        s.last_report_before(e, &days[8])
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
    // A zero report the day after lists nothing: the levels stay those of the last full one.
    s.submit_report(e, &zero("2026-04-10", 10), "e", at("2026-04-10", 9, 0), DUE)
        .await
        .unwrap();
    let levels = s.latest_supplies(e, "2026-04-10").await.unwrap();
    let level = |item: &str| {
        levels
            .iter()
            .find(|l| l.item == item)
            .map(|l| (l.date.clone(), l.stock))
    };
    assert_eq!(level("masks"), Some((days[8].clone(), masks_stock)));
    // Gloves were last listed on day 9 too; suits never.
    assert_eq!(level("gloves"), Some((days[8].clone(), 300)));
    assert_eq!(level("suits"), None);
    assert_eq!(
        levels.iter().map(|l| l.item.as_str()).collect::<Vec<_>>(),
        ["food", "gloves", "masks"]
    );
    // Up to day 8 (corrected): its current version's stock.
    let before = s.latest_supplies(e, &days[7]).await.unwrap();
    assert_eq!(
        before.iter().find(|l| l.item == "masks").map(|l| l.stock),
        Some(2000)
    );
}

async fn risk_case_flow(db: TestDb) {
    let s = store(&db).await;
    let team = s
        .create_team(
            &NewTeam {
                name: "督导三组".into(),
                offices: String::new(),
            },
            1,
        )
        .await
        .unwrap();
    let e = s.create_enterprise("风险企业", 1).await.unwrap().id;
    let other = s.create_enterprise("其他企业", 1).await.unwrap().id;
    s.set_enterprise_profile(
        e,
        &ProfileUpdate {
            team_id: Some(team.id),
            ..ProfileUpdate::default()
        },
    )
    .await
    .unwrap();
    let t0 = at("2026-03-05", 8, 0);
    let case = s
        .open_risk_case(
            e,
            &NewRiskCase {
                subject: "张*明".into(),
                owner: "王厂长".into(),
                note: "指挥部电话通知".into(),
            },
            "ent-user",
            t0,
        )
        .await
        .unwrap();
    assert_eq!(
        (case.step, case.step_at, case.closed_at),
        (RiskStep::NoticeReceived, t0, None)
    );
    assert_eq!(case.steps.len(), 1);
    assert_eq!(case.steps[0].owner, "王厂长");
    assert_eq!(case.open_step(), Some(RiskStep::PlanStarted));
    let step = |target, owner: &str, reason: &str| StepEntry {
        target,
        owner: owner.into(),
        note: format!("note {target:?}"),
        skip_reason: reason.into(),
    };
    // No skipping for a non-admin, even with a reason; nothing is recorded.
    assert!(matches!(
        s.advance_risk_case(
            case.id,
            &step(RiskStep::AreaControlled, "王", "急"),
            false,
            t0 + 60
        )
        .await,
        Err(StoreError::Flow(FlowError::Skip { next: 2, target: 3 }))
    ));
    assert!(matches!(
        s.advance_risk_case(
            case.id,
            &step(RiskStep::PlanStarted, " ", ""),
            false,
            t0 + 60
        )
        .await,
        Err(StoreError::Flow(FlowError::Owner))
    ));
    assert_eq!(s.get_risk_case(case.id).await.unwrap().unwrap(), case);
    let c2 = s
        .advance_risk_case(
            case.id,
            &step(RiskStep::PlanStarted, "王", ""),
            false,
            t0 + 600,
        )
        .await
        .unwrap();
    assert_eq!((c2.step, c2.step_at), (RiskStep::PlanStarted, t0 + 600));
    assert!(matches!(
        s.advance_risk_case(
            case.id,
            &step(RiskStep::PlanStarted, "王", ""),
            false,
            t0 + 700
        )
        .await,
        Err(StoreError::Flow(FlowError::AlreadyDone(2)))
    ));
    // An admin skip needs a reason; with one, the skipped steps are recorded with it.
    assert!(matches!(
        s.advance_risk_case(
            case.id,
            &step(RiskStep::Investigated, "管理员", " "),
            true,
            t0 + 900
        )
        .await,
        Err(StoreError::Flow(FlowError::SkipReason))
    ));
    let t5 = t0 + 1200;
    let c5 = s
        .advance_risk_case(
            case.id,
            &step(RiskStep::Investigated, "管理员", "已由疾控现场处置"),
            true,
            t5,
        )
        .await
        .unwrap();
    assert_eq!(c5.step, RiskStep::Investigated);
    let recorded: Vec<(u8, Option<&str>)> = c5
        .steps
        .iter()
        .map(|r| (r.step.number(), r.skipped_reason.as_deref()))
        .collect();
    assert_eq!(
        recorded,
        [
            (1, None),
            (2, None),
            (3, Some("已由疾控现场处置")),
            (4, Some("已由疾控现场处置")),
            (5, None)
        ]
    );
    assert_eq!(c5.steps[4].note, "note Investigated");

    // Overdue: the open step (6) may take step6's limit after step 5 was recorded.
    let settings = ReportingSettings {
        due: DUE,
        step_limits: [30, 60, 120, 240, 90, 600],
    };
    s.set_reporting_settings(&settings).await.unwrap();
    let settings = s.reporting_settings().await.unwrap();
    let limit = i64::from(settings.limit(RiskStep::HandedToCdc).unwrap()) * 60;
    assert_eq!(c5.due_at(&settings), Some(t5 + limit));
    assert!(!c5.overdue(&settings, t5 + limit));
    assert!(c5.overdue(&settings, t5 + limit + 1));

    // A second case at another enterprise, then filters.
    let other_case = s
        .open_risk_case(
            other,
            &NewRiskCase {
                subject: "通知 2026-017".into(),
                owner: "赵".into(),
                note: String::new(),
            },
            "x",
            t0 + 5,
        )
        .await
        .unwrap();
    let ids = |v: Vec<passgate_server::store::reporting::RiskCase>| {
        v.into_iter().map(|c| c.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(s.list_risk_cases(&RiskCaseFilter::default()).await.unwrap()),
        [other_case.id, case.id]
    );
    assert_eq!(
        ids(s
            .list_risk_cases(&RiskCaseFilter {
                team: Some(team.id),
                ..Default::default()
            })
            .await
            .unwrap()),
        [case.id]
    );
    assert_eq!(
        ids(s
            .list_risk_cases(&RiskCaseFilter {
                enterprise: Some(other),
                ..Default::default()
            })
            .await
            .unwrap()),
        [other_case.id]
    );

    // Closing: a non-admin moves 5 → 6 → 7; a closed case is never overdue and takes no step.
    s.advance_risk_case(
        case.id,
        &step(RiskStep::HandedToCdc, "王", ""),
        false,
        t5 + 60,
    )
    .await
    .unwrap();
    let closed = s
        .advance_risk_case(case.id, &step(RiskStep::Closed, "王", ""), false, t5 + 120)
        .await
        .unwrap();
    assert_eq!(
        (closed.step, closed.closed_at),
        (RiskStep::Closed, Some(t5 + 120))
    );
    assert_eq!(closed.steps.len(), 7);
    assert_eq!(closed.open_step(), None);
    assert!(!closed.overdue(&settings, t5 + 1_000_000));
    assert!(matches!(
        s.advance_risk_case(case.id, &step(RiskStep::Closed, "王", "x"), true, t5 + 200)
            .await,
        Err(StoreError::Flow(FlowError::Closed))
    ));
    assert_eq!(
        ids(s
            .list_risk_cases(&RiskCaseFilter {
                open_only: true,
                ..Default::default()
            })
            .await
            .unwrap()),
        [other_case.id]
    );
    assert!(matches!(
        s.advance_risk_case(9999, &step(RiskStep::PlanStarted, "王", ""), false, t5)
            .await,
        Err(StoreError::NotFound("risk case"))
    ));
    assert!(matches!(
        s.open_risk_case(
            EnterpriseId(9999),
            &NewRiskCase {
                subject: "x".into(),
                owner: "y".into(),
                note: String::new()
            },
            "x",
            t0
        )
        .await,
        Err(StoreError::NotFound("enterprise"))
    ));
}

/// Two people record the same next step at once: the check inside the transaction lets one.
async fn concurrent_steps_only_one_wins(db: TestDb) {
    let s = store(&db).await;
    let e = s.create_enterprise("并发风险企业", 1).await.unwrap().id;
    for round in 0..4 {
        let case = s
            .open_risk_case(
                e,
                &NewRiskCase {
                    subject: format!("通知 {round}"),
                    owner: "甲".into(),
                    note: String::new(),
                },
                "x",
                100,
            )
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..6 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.advance_risk_case(
                    case.id,
                    &StepEntry {
                        target: RiskStep::PlanStarted,
                        owner: format!("owner {i}"),
                        note: String::new(),
                        skip_reason: String::new(),
                    },
                    false,
                    200 + i,
                )
                .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::Flow(FlowError::AlreadyDone(2))) => {}
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(ok, 1);
        let stored = s.get_risk_case(case.id).await.unwrap().unwrap();
        assert_eq!(stored.steps.len(), 2);
    }
}

/// A small deterministic generator (the test must be repeatable).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// One submission as the test made it: the raw row the recount works from.
#[derive(Debug, Clone)]
struct Raw {
    enterprise: EnterpriseId,
    date: String,
    submitted_at: i64,
    report: Report,
}

async fn day_overview_equals_a_recount_of_the_raw_rows(db: TestDb) {
    let s = store(&db).await;
    let mut rng = Lcg(0x0006_2026_0301);
    let mut teams = Vec::new();
    for n in ["督导一组", "督导二组", "督导三组"] {
        teams.push(
            s.create_team(
                &NewTeam {
                    name: n.into(),
                    offices: String::new(),
                },
                1,
            )
            .await
            .unwrap()
            .id,
        );
    }
    // 14 enterprises: most in a team, two in none.
    let mut team_of: BTreeMap<EnterpriseId, Option<i64>> = BTreeMap::new();
    for i in 0..14 {
        let e = s
            .create_enterprise(&format!("企业{i:02}"), 1)
            .await
            .unwrap()
            .id;
        let team = (i % 7 != 6).then(|| teams[i % 3]);
        s.set_enterprise_profile(
            e,
            &ProfileUpdate {
                team_id: team,
                ..ProfileUpdate::default()
            },
        )
        .await
        .unwrap();
        team_of.insert(e, team);
    }
    let dates: Vec<String> = (1..=5).map(|d| format!("2026-05-{d:02}")).collect();
    let help_kinds = HelpKind::ALL;
    let mut raw: Vec<Raw> = Vec::new();
    for date in &dates {
        for &e in team_of.keys() {
            if rng.below(5) == 0 {
                continue; // missing
            }
            for _version in 0..1 + rng.below(3) {
                let minutes = 6 * 60 + rng.below(8 * 60) as i64; // 06:00–13:59
                let submitted_at = at(date, 0, minutes) + rng.below(60) as i64;
                let on_site = 50 + rng.below(200) as i64;
                let report = if rng.below(3) == 0 {
                    zero(date, on_site)
                } else {
                    let red = if rng.below(6) == 0 {
                        1 + rng.below(3) as i64
                    } else {
                        0
                    };
                    let yellow = if rng.below(5) == 0 {
                        1 + rng.below(5) as i64
                    } else {
                        0
                    };
                    let blue = rng.below(5) as i64;
                    let green = on_site - red - yellow - blue - rng.below(3) as i64;
                    let mut draft = ReportDraft {
                        on_site,
                        green,
                        blue,
                        yellow,
                        red,
                        tests_done: on_site,
                        tests_abnormal: if rng.below(8) == 0 { 1 } else { 0 },
                        ..ReportDraft::new(date, ReportKind::Full)
                    };
                    if rng.below(7) == 0 {
                        draft.help = vec![help_kinds[rng.below(4) as usize]];
                        draft.help_text = "需要支援".into();
                    }
                    validate_report(&draft, &items(), at(date, 23, 59)).unwrap()
                };
                raw.push(Raw {
                    enterprise: e,
                    date: date.clone(),
                    submitted_at,
                    report,
                });
            }
        }
    }
    // Submit in time order, as they would arrive.
    let mut order: Vec<usize> = (0..raw.len()).collect();
    order.sort_by_key(|&i| raw[i].submitted_at);
    for &i in &order {
        let r = &raw[i];
        s.submit_report(r.enterprise, &r.report, "gen", r.submitted_at, DUE)
            .await
            .unwrap();
    }

    let mut checked_abnormal = 0;
    let mut scopes: Vec<Option<i64>> = vec![None];
    scopes.extend(teams.iter().map(|t| Some(*t)));
    for date in &dates {
        let deadline = local_day_range(date).unwrap().0 + 10 * 3600;
        for &scope in &scopes {
            // The recount, from the raw rows only.
            let mut want = Coverage::default();
            let mut want_abnormal: BTreeMap<EnterpriseId, Vec<Abnormality>> = BTreeMap::new();
            for (&e, &team) in &team_of {
                if scope.is_some() && team != scope {
                    continue;
                }
                let mut rows: Vec<&Raw> = raw
                    .iter()
                    .filter(|r| r.enterprise == e && &r.date == date)
                    .collect();
                rows.sort_by_key(|r| r.submitted_at);
                let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                    want.missing += 1;
                    continue;
                };
                if first.submitted_at > deadline {
                    want.late += 1;
                } else if last.report.kind == ReportKind::Zero {
                    want.zero_reported += 1;
                } else {
                    want.reported += 1;
                }
                let r = &last.report;
                let mut found = Vec::new();
                if r.red > 0 {
                    found.push(Abnormality::RedZone { people: r.red });
                }
                if r.yellow > 0 {
                    found.push(Abnormality::YellowZone { people: r.yellow });
                }
                if r.tests_abnormal > 0 {
                    found.push(Abnormality::AbnormalTests {
                        people: r.tests_abnormal,
                    });
                }
                if !r.help.is_empty() {
                    found.push(Abnormality::HelpNeeded {
                        help: r.help.clone(),
                    });
                }
                if !found.is_empty() {
                    want_abnormal.insert(e, found);
                }
            }
            // What the store and the shared rules give.
            let overview = s.day_overview(date, scope).await.unwrap();
            let mut got = Coverage::default();
            let mut got_abnormal = BTreeMap::new();
            for entry in &overview {
                assert_eq!(team_of[&entry.enterprise.id], entry.team_id);
                got.add(entry.status());
                if let Some(r) = &entry.report {
                    let a = abnormalities(&r.report);
                    if !a.is_empty() {
                        got_abnormal.insert(entry.enterprise.id, a);
                    }
                }
            }
            assert_eq!(got, want, "{date} {scope:?}");
            assert_eq!(got_abnormal, want_abnormal, "{date} {scope:?}");
            checked_abnormal += want_abnormal.len();
            let in_scope = team_of
                .values()
                .filter(|t| scope.is_none() || **t == scope)
                .count();
            assert_eq!(overview.len(), in_scope);
            // The list of reports agrees: one current version per reported enterprise.
            let listed = s.reports_between(None, scope, date, date).await.unwrap();
            assert_eq!(listed.len() as u32, want.total() - want.missing);
        }
    }
    // The generator did make every kind of day.
    let all = s
        .reports_between(None, None, &dates[0], &dates[4])
        .await
        .unwrap();
    let statuses: BTreeSet<String> = all
        .iter()
        .map(|r: &StoredReport| format!("{:?}", r.status()))
        .collect();
    assert_eq!(statuses.len(), 3, "{statuses:?}");
    assert!(checked_abnormal > 5);
    let versions: HashMap<u32, usize> = all.iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(r.version).or_default() += 1;
        m
    });
    assert!(
        versions.len() >= 2,
        "some reports were edited: {versions:?}"
    );
}

async fn enterprise_tokens(db: TestDb) {
    let s = store(&db).await;
    let e = s.create_enterprise("令牌企业", 1).await.unwrap().id;
    let t = s
        .create_enterprise_token("ERP", "hash-e", e, 5)
        .await
        .unwrap();
    assert_eq!((t.role, t.enterprise_id), (Role::Enterprise, Some(e)));
    assert_eq!(s.find_token("hash-e").await.unwrap().unwrap(), t);
    assert!(matches!(
        s.create_enterprise_token("x", "hash-f", EnterpriseId(999), 5)
            .await,
        Err(StoreError::NotFound("enterprise"))
    ));
    let ops = s
        .create_token("ops", Role::Ops, "hash-o", None, 5)
        .await
        .unwrap();
    assert_eq!(ops.enterprise_id, None);
}
