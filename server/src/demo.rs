//! `passgate-server demo`: seed a fresh data directory with a small, plausible zone —
//! enterprises, checkpoints inside and outside the zone, passes of every class, a token per
//! role, and a week of scans decided by the real verifier — so every page and endpoint has
//! something to show.
//!
//! Enterprise reporting gets the seven supervision teams, a profile (credit code, address,
//! contacts, team) and grids for every enterprise, two weeks of daily reports ending today
//! (gaps, late and zero reports, abnormal days, one edited report, supplies running low),
//! and risk cases at different steps, one of them overdue. Every report passes the shared
//! validator before it is stored.

use std::fmt::Write as _;

use std::collections::HashMap;

use passgate_shared::record::{DeviceId, GENESIS_HASH, GateRecord, HealthCode, Observations};
use passgate_shared::reporting::{
    CreditCode, HelpKind, ReportDraft, ReportKind, RiskStep, SupplyLineDraft, Zone, validate_report,
};
use passgate_shared::rules::{PassHistory, decide};
use passgate_shared::sync::Direction;
use passgate_shared::time::{local_day, local_day_range};
use passgate_shared::{CheckpointId, GateContext, PassClass, PassNumber};

use crate::keyring::write_private;
use crate::routes::devices::{hash_code, new_code_text};
use crate::routes::passes::{NewPass, issue_pass, rfc3339};
use crate::routes::sync::current_bundle;
use crate::state::{AppState, now};
use crate::store::reporting::{NewGrid, NewRiskCase, NewTeam, ProfileUpdate, StepEntry, Team};
use crate::store::{CheckpointKind, Enterprise, NewCheckpoint, NewUser, Role, UserRole};
use crate::web::session::{hash_password, new_password};
use crate::{StartError, create_token};

/// What the seeder made, printed for the person who ran it.
#[derive(Debug, Default)]
pub struct DemoReport {
    pub text: String,
    pub tokens: Vec<(Role, String, String)>,
    /// Console accounts: role, user name, password.
    pub accounts: Vec<(UserRole, String, String)>,
}

/// A small deterministic generator, so the demo week looks the same on every machine.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn demo_err(e: impl std::fmt::Display) -> StartError {
    StartError::Demo(e.to_string())
}

/// Seed the store. Refuses a store that already has enterprises, so it never mixes demo
/// data into real data.
pub async fn seed(st: &AppState) -> Result<DemoReport, StartError> {
    if !st.store.list_enterprises().await?.is_empty() {
        return Err(StartError::Demo(
            "this data directory already has data; the demo only seeds a fresh one".into(),
        ));
    }
    let t0 = now();
    let mut out = String::new();
    let mut report = DemoReport::default();

    let names = [
        "示范区钢铁集团有限公司",
        "示范区精细化工有限公司",
        "示范区食品加工有限公司",
    ];
    let mut ents = Vec::new();
    for n in names {
        ents.push(st.store.create_enterprise(n, t0).await?);
    }
    let _ = writeln!(out, "enterprises / 企业:");
    for e in &ents {
        let _ = writeln!(out, "  {:>3}  {}", e.id, e.name);
    }

    let cps = [
        (
            "钢铁集团东门",
            CheckpointKind::EnterpriseGate,
            true,
            Some(ents[0].id),
        ),
        (
            "钢铁集团西门",
            CheckpointKind::EnterpriseGate,
            true,
            Some(ents[0].id),
        ),
        (
            "精细化工北门",
            CheckpointKind::EnterpriseGate,
            true,
            Some(ents[1].id),
        ),
        (
            "食品加工南门",
            CheckpointKind::EnterpriseGate,
            true,
            Some(ents[2].id),
        ),
        ("示范区东卡口", CheckpointKind::ZoneBorder, false, None),
        (
            "济洛高速济源东出口",
            CheckpointKind::HighwayExit,
            false,
            None,
        ),
    ];
    let mut checkpoints = Vec::new();
    for (name, kind, inside_zone, enterprise_id) in cps {
        let new = NewCheckpoint {
            name: name.into(),
            kind,
            inside_zone,
            enterprise_id,
        };
        checkpoints.push(st.store.create_checkpoint(&new, t0).await?);
    }
    let _ = writeln!(out, "checkpoints / 查验点:");
    for c in &checkpoints {
        let zone = if c.inside_zone { "区内" } else { "区外" };
        let _ = writeln!(
            out,
            "  {:>3}  {} ({}, {})",
            c.id,
            c.name,
            c.kind.as_str(),
            zone
        );
    }

    // Passes valid from eight days ago for a month, so the demo week has scans of them.
    let from = rfc3339(t0 - 8 * 86_400 - t0 % 3600);
    let until = rfc3339(t0 + 22 * 86_400 - t0 % 3600);
    let people = [
        "张三明",
        "李四",
        "王小五",
        "赵六华",
        "钱七",
        "孙八",
        "周九龙",
        "吴十",
    ];
    let plates = [
        "豫U12345",
        "豫UD23456",
        "豫U3A456",
        "豫U45678D",
        "晋E23456",
        "冀D34567",
        "豫U56789",
        "鲁P45678",
    ];
    let route = vec![
        checkpoints[5].id.0,
        checkpoints[4].id.0,
        checkpoints[0].id.0,
    ];
    let mut passes = Vec::new();
    for (i, plate) in plates.iter().enumerate() {
        let class = match i % 3 {
            0 => PassClass::LongHaul,
            1 => PassClass::ShortHaul,
            _ => PassClass::LoadUnloadLeave,
        };
        let body = NewPass {
            class: Some(class.as_str().into()),
            plate: Some((*plate).into()),
            driver: Some(people[i].into()),
            co_driver: (i % 2 == 0).then(|| people[(i + 3) % people.len()].into()),
            enterprise_id: Some(ents[i % ents.len()].id.0),
            origin: Some(
                if class == PassClass::LoadUnloadLeave {
                    "140502"
                } else {
                    "419001"
                }
                .into(),
            ),
            destination: Some(
                if class == PassClass::LongHaul {
                    "410102"
                } else {
                    "419001"
                }
                .into(),
            ),
            checkpoints: (class == PassClass::LongHaul).then(|| route.clone()),
            cargo: Some(
                [
                    "production_materials",
                    "daily_necessities",
                    "epidemic_supplies",
                ][i % 3]
                    .into(),
            ),
            valid_from: Some(from.clone()),
            valid_until: Some(until.clone()),
            max_dwell_minutes: (class == PassClass::LoadUnloadLeave).then_some(120),
            ..NewPass::default()
        };
        passes.push(issue_pass(st, &body, "demo").await.map_err(demo_err)?);
    }
    let revoked = &passes[passes.len() - 1];
    st.store
        .revoke_pass(
            revoked.number,
            "演示：车辆已更换 / demo: vehicle replaced",
            t0,
        )
        .await?;
    let _ = writeln!(out, "passes / 通行证:");
    for p in &passes {
        let note = if p.number == revoked.number {
            "  (revoked / 已吊销)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {}  {}  {}{}",
            p.number,
            p.plate,
            p.class.name_zh(),
            note
        );
    }

    // A week of scans at each checkpoint, by an enrolled demo device, each decided by the
    // real gate rules (with the gate's own history) and chained as a gate chains them.
    let bundle = current_bundle(st).await.map_err(demo_err)?;
    let mut rng = Lcg(0x5eed_0419_0010_0001);
    let mut total = 0usize;
    for c in &checkpoints {
        let gate = GateContext {
            checkpoint: c.id,
            inside_zone: c.inside_zone,
            enterprise: c.enterprise_id,
        };
        let device = enroll_demo_device(st, c.id, t0).await?;
        let mut times: Vec<i64> = Vec::new();
        for day in (1..=7).rev() {
            let day_start = t0 - day * 86_400;
            for _ in 0..6 + rng.below(10) {
                times.push(day_start + 6 * 3600 + rng.below(14 * 3600) as i64);
            }
        }
        times.sort_unstable();
        let mut inside: HashMap<PassNumber, i64> = HashMap::new();
        let mut records: Vec<GateRecord> = Vec::new();
        for at in times {
            let p = &passes[rng.below(passes.len() as u64) as usize];
            let text = if rng.below(40) == 0 {
                "PG:NOT-A-PASS".to_owned()
            } else {
                p.qr_text.clone()
            };
            let direction = if inside.contains_key(&p.number) || rng.below(3) == 0 {
                Direction::Out
            } else {
                Direction::In
            };
            let d = decide(&text, &bundle, &gate, direction, 0, at, |n| PassHistory {
                inside_since: inside.get(&n).copied(),
                entries_today: 0,
            });
            let v = &d.verdict;
            if let (true, Some(pass)) = (v.accepted(), &v.pass) {
                if pass.class == PassClass::LoadUnloadLeave && direction == Direction::In {
                    inside.insert(pass.number, at);
                } else {
                    inside.remove(&pass.number);
                }
            }
            let seq = records.len() as u64 + 1;
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&rng.next().to_be_bytes());
            id[8..].copy_from_slice(&(u64::from(device.0) << 32 | seq).to_be_bytes());
            records.push(GateRecord {
                id: hex::encode(id),
                device_id: device,
                seq,
                prev_hash: records
                    .last()
                    .map_or_else(|| GENESIS_HASH.to_owned(), GateRecord::hash_hex),
                checkpoint_id: c.id,
                scanned_at: at,
                direction,
                number: v.pass.as_ref().map(|p| p.number),
                class: v.pass.as_ref().map(|p| p.class),
                plate: v.pass.as_ref().map(|p| p.plate.to_string()),
                accepted: v.accepted(),
                reason: v.reason.as_ref().map(|r| r.code().to_owned()),
                warnings: v.warnings.iter().map(|w| w.code().to_owned()).collect(),
                bundle_version: bundle.version,
                guard_id: Some(format!("guard-{}", c.id)),
                observations: Observations {
                    health_code: Some(HealthCode::Green),
                    itinerary_ok: Some(true),
                    negative_test_48h: Some(true),
                    temperature_ok: Some(true),
                },
                override_by: None,
                overrides_seq: None,
                dwell_minutes: d.dwell_minutes,
            });
        }
        total += records.len();
        for chunk in records.chunks(500) {
            let sealed: Vec<_> = chunk.iter().map(GateRecord::seal).collect();
            st.store.ingest_batch(device, chunk, &sealed, t0).await?;
        }
    }
    let _ = writeln!(
        out,
        "scans / 扫码记录: {total} over the last 7 days, one demo device per checkpoint"
    );

    let reporting = seed_reporting(st, &ents, t0).await?;
    out.push_str(&reporting.text);

    let mut token_file = String::from("# passgate demo tokens: role, name, token\n");
    let _ = writeln!(
        out,
        "API tokens (shown once; also saved to DATA_DIR/demo-tokens.txt):"
    );
    let roles: Vec<(Role, String, Option<passgate_shared::CheckpointId>)> = vec![
        (Role::Admin, "演示管理员".into(), None),
        (Role::Ops, "运行局演示账号".into(), None),
        (Role::Transport, "交通局演示账号".into(), None),
        (Role::Taskforce, "专班演示账号".into(), None),
        (Role::Enterprise, "钢铁集团填报系统".into(), None),
    ];
    for (role, name, cp) in roles {
        let token = if role == Role::Enterprise {
            crate::auth::create_enterprise_token(st, &name, ents[0].id).await?
        } else {
            create_token(st, role, &name, cp).await?
        };
        let _ = writeln!(out, "  {:<10} {:<24} {}", role.as_str(), name, token);
        let _ = writeln!(token_file, "{}\t{}\t{}", role.as_str(), name, token);
        report.tokens.push((role, name, token));
    }
    let _ = writeln!(
        out,
        "console accounts (open the server's address in a browser; also saved to DATA_DIR/demo-tokens.txt):"
    );
    let accounts = [
        ("admin", "演示管理员", UserRole::Admin, None, None),
        ("ops", "运行局演示账号", UserRole::Ops, None, None),
        (
            "transport",
            "交通局演示账号",
            UserRole::Transport,
            None,
            None,
        ),
        ("taskforce", "专班演示账号", UserRole::Taskforce, None, None),
        (
            "steel",
            "钢铁集团演示账号",
            UserRole::Enterprise,
            Some(ents[0].id),
            None,
        ),
        (
            "chem",
            "精细化工演示账号",
            UserRole::Enterprise,
            Some(ents[1].id),
            None,
        ),
        (
            "team1",
            "督导一组演示账号",
            UserRole::Supervisor,
            None,
            Some(reporting.teams[0].id),
        ),
    ];
    for (username, display, role, enterprise, team) in accounts {
        let password = new_password().map_err(demo_err)?;
        let user = NewUser {
            username: username.into(),
            display_name: display.into(),
            role,
            enterprise_id: enterprise,
            team_id: team,
            password_hash: hash_password(password.clone()).await.map_err(demo_err)?,
            must_change_password: false,
        };
        st.store.create_user(&user, t0).await?;
        let _ = writeln!(out, "  {:<10} {:<10} {}", role.as_str(), username, password);
        let _ = writeln!(
            token_file,
            "console\t{}\t{}\t{}",
            role.as_str(),
            username,
            password
        );
        report.accounts.push((role, username.to_owned(), password));
    }
    let _ = writeln!(
        out,
        "enrolment codes for gate devices (valid 7 days; `passgate-checkpoint enroll --code …`):"
    );
    for c in &checkpoints {
        let code = demo_code(st, c.id, t0).await?;
        let _ = writeln!(out, "  {:>3}  {:<14} {}", c.id, code, c.name);
        let _ = writeln!(token_file, "enroll\t{} {}\t{}", c.id, c.name, code);
    }
    let path = st.settings.data_dir.join("demo-tokens.txt");
    if !path.exists() {
        write_private(&path, token_file.as_bytes())?;
    }
    report.text = out;
    Ok(report)
}

/// An enrolment code for a checkpoint, valid for a week.
async fn demo_code(
    st: &AppState,
    checkpoint: CheckpointId,
    now: i64,
) -> Result<String, StartError> {
    let code = new_code_text()?;
    st.store
        .create_enrollment_code(checkpoint, &hash_code(&code), now + 7 * 86_400, now)
        .await?;
    Ok(code)
}

/// Enrol a device for a checkpoint with a key that is thrown away: its records are seeded
/// straight into the store, and a real gate enrols with its own code.
async fn enroll_demo_device(
    st: &AppState,
    checkpoint: CheckpointId,
    now: i64,
) -> Result<DeviceId, StartError> {
    let code = demo_code(st, checkpoint, now).await?;
    let key = ed25519_dalek::SigningKey::from_bytes(&crate::keyring::random_bytes()?);
    let public = passgate_shared::keys::public_key_b64(&key.verifying_key());
    let token = crate::auth::new_token()?;
    let device = st
        .store
        .enroll_device(
            &hash_code(&code),
            &public,
            "演示设备 / demo device",
            &crate::auth::hash_token(&token),
            now,
        )
        .await?;
    Ok(device.id)
}

/// What the reporting seed made.
struct ReportingSeed {
    teams: Vec<Team>,
    text: String,
}

/// The seven supervision teams and the offices each covers.
const TEAMS: [(&str, &str); 7] = [
    ("督导一组", "市工信局、高新区管委会"),
    ("督导二组", "市发改委、虎岭产业集聚区"),
    ("督导三组", "市商务局、玉川产业集聚区"),
    ("督导四组", "市国资委、济水街道"),
    ("督导五组", "市交通运输局、北海街道"),
    ("督导六组", "市卫健委、天坛街道"),
    ("督导七组", "市应急管理局、沁园街道"),
];

/// Enterprises beyond the three with gates and passes, so every team follows someone.
const MORE_ENTERPRISES: [&str; 6] = [
    "示范区铅锌冶炼有限公司",
    "示范区能源化工有限公司",
    "示范区装备制造有限公司",
    "示范区医药包装有限公司",
    "示范区新材料科技有限公司",
    "示范区特种电缆有限公司",
];

/// Valid unified social credit codes (registering authority 419001), one per enterprise.
const CREDIT_CODES: [&str; 9] = [
    "91419001MA3X7K2P1N",
    "91419001MA40B8LQ55",
    "91419001MA44C1DR87",
    "91419001MA46E7FT21",
    "91419001MA47G3HU6Y",
    "91419001MA48J5KW3J",
    "91419001MA49L8MX73",
    "91419001MA4AN2PY4W",
    "91419001MA4BQ6RD95",
];

const ROADS: [&str; 9] = [
    "钢城大道 1 号",
    "化工园区纬二路 8 号",
    "玉川食品产业园 3 号",
    "虎岭冶炼园区 12 号",
    "北海能源园区 6 号",
    "天坛装备产业园 21 号",
    "沁园医药园区 5 号",
    "高新区新材料路 9 号",
    "济水电缆产业园 15 号",
];

const PEOPLE: [&str; 18] = [
    "王建国",
    "李红梅",
    "张志强",
    "刘秀英",
    "陈国华",
    "杨丽娟",
    "赵德明",
    "黄玉兰",
    "周建军",
    "吴海燕",
    "徐卫东",
    "孙桂芳",
    "马天宇",
    "朱晓琳",
    "胡振华",
    "郭春燕",
    "何永刚",
    "高淑珍",
];

/// A made-up mobile number for demo contact `n`.
fn demo_phone(n: usize) -> String {
    format!("1380391{:04}", 1000 + n * 37 % 9000)
}

/// One supply item an enterprise holds, day by day.
struct Holding {
    item: &'static str,
    stock: i64,
    /// The usual daily use.
    rate: i64,
    /// What was used on the day being seeded.
    used: i64,
}

/// Supplies an enterprise holds at the start, with their usual daily use (food is counted
/// in days). An item whose daily use is large against its stock runs low over the fortnight.
fn supply_plan(k: usize) -> Vec<Holding> {
    let scale = 1 + (k % 3) as i64;
    let mut plan = vec![
        ("masks", 9000 * scale, 300 * scale),
        ("suits", 900 * scale, 20 * scale),
        ("gloves", 6000 * scale, 200 * scale),
        ("disinfectant", 800, 25),
        ("sanitiser", 400, 12),
        ("thermometers", 60, 1),
        ("antigen", 5000 * scale, 150 * scale),
        ("food", 15, 1),
        ("necessities", 2000, 60),
    ];
    // Two enterprises running short: masks and antigen kits at the food plant, food (in
    // days) at the lead-zinc smelter.
    if k == 2 {
        plan[0] = ("masks", 7000, 480);
        plan[6] = ("antigen", 4500, 330);
    }
    if k == 3 {
        plan[7] = ("food", 16, 1);
    }
    plan.into_iter()
        .map(|(item, stock, rate)| Holding {
            item,
            stock,
            rate,
            used: 0,
        })
        .collect()
}

/// Profiles, grids, two weeks of reports and the risk cases.
async fn seed_reporting(
    st: &AppState,
    gate_ents: &[Enterprise],
    t0: i64,
) -> Result<ReportingSeed, StartError> {
    let mut out = String::new();
    let mut teams = Vec::new();
    for (name, offices) in TEAMS {
        let team = NewTeam {
            name: name.into(),
            offices: offices.into(),
        };
        teams.push(st.store.create_team(&team, t0).await?);
    }
    let mut ents: Vec<Enterprise> = gate_ents.to_vec();
    for n in MORE_ENTERPRISES {
        ents.push(st.store.create_enterprise(n, t0).await?);
    }
    let _ = writeln!(out, "supervision teams and enterprises / 督导组与企业:");
    for (k, e) in ents.iter().enumerate() {
        let team = &teams[k % teams.len()];
        let code = CreditCode::parse(CREDIT_CODES[k]).map_err(demo_err)?;
        let profile = ProfileUpdate {
            credit_code: Some(code),
            address: Some(format!("河南省济源示范区{}", ROADS[k])),
            contact_name: Some(PEOPLE[(2 * k) % PEOPLE.len()].into()),
            contact_phone: Some(demo_phone(2 * k)),
            responsible_person: Some(PEOPLE[(2 * k + 1) % PEOPLE.len()].into()),
            responsible_phone: Some(demo_phone(2 * k + 1)),
            team_id: Some(team.id),
        };
        st.store.set_enterprise_profile(e.id, &profile).await?;
        let grids = [
            (Zone::Green, "生产一区"),
            (Zone::Green, "生产二区"),
            (Zone::Blue, "新到人员缓冲区"),
            (Zone::Yellow, "观察点"),
            (Zone::Red, "隔离点"),
        ];
        for (g, (zone, name)) in grids.into_iter().enumerate() {
            let n = 5 * k + g + 20;
            let grid = NewGrid {
                zone,
                name: name.into(),
                leader: PEOPLE[n % PEOPLE.len()].into(),
                leader_phone: demo_phone(n),
            };
            st.store.add_grid(e.id, &grid).await?;
        }
        let _ = writeln!(out, "  {:>3}  {}  {}", e.id, team.name, e.name);
    }

    let (reports, late, missing) = seed_reports(st, &ents, t0).await?;
    let _ = writeln!(
        out,
        "daily reports / 日报告: {reports} over the last 14 days ({late} late, {missing} enterprise-days missing)"
    );
    let cases = seed_risk_cases(st, &ents, t0).await?;
    let _ = writeln!(
        out,
        "risk cases / 风险人员事件: {cases} (one closed, one in progress, one overdue)"
    );
    Ok(ReportingSeed { teams, text: out })
}

/// Two weeks of reports ending today. Returns (reports stored, late ones, missing days).
async fn seed_reports(
    st: &AppState,
    ents: &[Enterprise],
    t0: i64,
) -> Result<(usize, usize, usize), StartError> {
    let mut rng = Lcg(0x5eed_0419_0006_0001);
    let settings = st.store.reporting_settings().await?;
    let items: Vec<String> = st
        .store
        .supply_items()
        .await?
        .into_iter()
        .filter(|i| i.active)
        .map(|i| i.key)
        .collect();
    let items: Vec<&str> = items.iter().map(String::as_str).collect();
    let today = local_day(t0);
    let (today_start, _) = local_day_range(&today)
        .ok_or_else(|| StartError::Demo(format!("no day range for {today}")))?;
    let mut stocks: Vec<Vec<Holding>> = (0..ents.len()).map(supply_plan).collect();
    let (mut stored, mut late, mut missing) = (0, 0, 0);
    for back in (0..14i64).rev() {
        let day_start = today_start - back * 86_400;
        let date = local_day(day_start + 3600);
        for (k, e) in ents.iter().enumerate() {
            // Use and restocking go on whether or not the day is reported.
            for h in stocks[k].iter_mut() {
                let low_on_purpose = (k == 2 && matches!(h.item, "masks" | "antigen"))
                    || (k == 3 && h.item == "food");
                h.used = if h.item == "food" {
                    1
                } else {
                    (h.rate + (rng.below(21) as i64 - 10) * h.rate / 100).max(0)
                };
                h.stock = (h.stock - h.used).max(0);
                if !low_on_purpose && h.stock < 4 * h.rate.max(1) {
                    h.stock += 10 * h.rate.max(1);
                }
            }
            // Gaps: the cable works has gone silent for two days, and a few random days
            // are missing everywhere.
            let silent = k == 8 && back < 2;
            if silent || (!abnormal_day(k, back) && rng.below(16) == 0) {
                missing += 1;
                continue;
            }
            let late_odds = if k == 5 { 3 } else { 12 };
            let minutes = if rng.below(late_odds) == 0 {
                10 * 60 + 5 + rng.below(6 * 60) as i64
            } else {
                7 * 60 + rng.below(170) as i64
            };
            let at = day_start + minutes * 60 + rng.below(60) as i64;
            if at > t0 {
                // Not filed yet today.
                missing += 1;
                continue;
            }
            let on_site = 300 + 150 * (k % 4) as i64 + rng.below(20) as i64;
            // Low stock must show: those enterprises file full reports in the last days.
            let must_be_full = (matches!(k, 2 | 3) && back < 4) || abnormal_day(k, back);
            let zero_odds = if k % 3 == 1 { 2 } else { 5 };
            let draft = if !must_be_full && rng.below(zero_odds) == 0 {
                ReportDraft {
                    on_site,
                    ..ReportDraft::new(&date, ReportKind::Zero)
                }
            } else {
                full_draft(st, e, &date, k, back, on_site, &stocks[k], &mut rng).await?
            };
            let report = validate_report(&draft, &items, at)
                .map_err(|p| StartError::Demo(format!("demo report refused: {p:?}")))?;
            let by = format!("demo:{}", e.id);
            let first = st
                .store
                .submit_report(e.id, &report, &by, at, settings.due)
                .await?;
            stored += 1;
            if first.late {
                late += 1;
            }
            // The steel works corrects its report of three days ago: two people moved to
            // the observation point after the morning check.
            if k == 0 && back == 3 && report.kind == ReportKind::Full {
                let mut fixed = draft.clone();
                fixed.green -= 2;
                fixed.yellow += 2;
                fixed.observation += 2;
                let edit_at = at + 3 * 3600;
                let report = validate_report(&fixed, &items, edit_at)
                    .map_err(|p| StartError::Demo(format!("demo edit refused: {p:?}")))?;
                st.store
                    .submit_report(e.id, &report, &by, edit_at.min(t0), settings.due)
                    .await?;
                stored += 1;
            }
        }
    }
    Ok((stored, late, missing))
}

/// The days an enterprise has something abnormal (never a gap): the chemical plant's
/// outbreak a week ago (yellow, then red zones and abnormal tests, then help with testing),
/// the steel works' corrected report, a smelter short of logistics yesterday, and the
/// equipment works' close contacts and an abnormal test today.
fn abnormal_day(k: usize, back: i64) -> bool {
    matches!((k, back), (1, 5..=9) | (3, 1) | (5, 0) | (0, 3))
}

/// A full report of enterprise `k` for `date`, `back` days before today.
#[allow(clippy::too_many_arguments)]
async fn full_draft(
    st: &AppState,
    e: &Enterprise,
    date: &str,
    k: usize,
    back: i64,
    on_site: i64,
    stocks: &[Holding],
    rng: &mut Lcg,
) -> Result<ReportDraft, StartError> {
    let vehicles = st.store.vehicle_counts(e.id, date).await?;
    let mut d = ReportDraft {
        on_site,
        tests_done: on_site - rng.below(5) as i64,
        disinfected: back % 3 != 1,
        vehicles_in: i64::from(vehicles.vehicles_in),
        vehicles_out: i64::from(vehicles.vehicles_out),
        blue: rng.below(6) as i64,
        supplies: stocks
            .iter()
            .map(|h| SupplyLineDraft {
                item: h.item.into(),
                stock: h.stock,
                used: h.used,
            })
            .collect(),
        ..ReportDraft::new(date, ReportKind::Full)
    };
    match (k, back) {
        (1, 9) => d.yellow = 6,
        (1, 8) => {
            d.yellow = 9;
            d.red = 2;
            d.tests_abnormal = 2;
        }
        (1, 7) => {
            d.yellow = 8;
            d.red = 3;
            d.tests_abnormal = 1;
            d.help = vec![HelpKind::Test];
            d.help_text = "核酸采样人员不足，请协调 2 名采样人员".into();
        }
        (1, 6) => {
            d.yellow = 5;
            d.red = 3;
        }
        (1, 5) => d.yellow = 2,
        (3, 1) => {
            d.help = vec![HelpKind::Logistics, HelpKind::Eat];
            d.help_text = "原料车辆在东卡口受阻，食堂蔬菜仅够 2 天".into();
        }
        (5, 0) => {
            d.yellow = 4;
            d.tests_abnormal = 1;
        }
        _ => {}
    }
    d.isolation = d.red;
    d.observation = d.yellow;
    d.green = d.on_site - d.blue - d.yellow - d.red;
    Ok(d)
}

/// Three risk cases: closed last week at the chemical plant, in progress at the smelter,
/// and one at the steel works whose plan has not started past its limit (overdue).
async fn seed_risk_cases(st: &AppState, ents: &[Enterprise], t0: i64) -> Result<usize, StartError> {
    let step = |target, owner: &str, note: &str| StepEntry {
        target,
        owner: owner.into(),
        note: note.into(),
        skip_reason: String::new(),
    };
    let opened = t0 - 8 * 86_400;
    let case = st
        .store
        .open_risk_case(
            ents[1].id,
            &NewRiskCase {
                subject: "李*华".into(),
                owner: "陈国华".into(),
                note: "指挥部电话通知：密接人员在厂内".into(),
            },
            "demo",
            opened,
        )
        .await?;
    let closing = [
        (RiskStep::PlanStarted, "陈国华", "启动厂区应急预案", 15),
        (RiskStep::AreaControlled, "杨丽娟", "封控三号车间", 50),
        (RiskStep::Isolated, "陈国华", "转运至隔离点并报专班", 110),
        (
            RiskStep::Investigated,
            "疾控流调组",
            "流调完成，密接 9 人",
            600,
        ),
        (RiskStep::HandedToCdc, "陈国华", "移交市疾控", 1300),
        (RiskStep::Closed, "陈国华", "解除管控", 4000),
    ];
    for (target, owner, note, minutes) in closing {
        st.store
            .advance_risk_case(
                case.id,
                &step(target, owner, note),
                false,
                opened + minutes * 60,
            )
            .await?;
    }
    let opened = t0 - 3 * 3600;
    let case = st
        .store
        .open_risk_case(
            ents[3].id,
            &NewRiskCase {
                subject: "指挥部通知第 17 号".into(),
                owner: "徐卫东".into(),
                note: "返厂司机核酸阳性".into(),
            },
            "demo",
            opened,
        )
        .await?;
    st.store
        .advance_risk_case(
            case.id,
            &step(RiskStep::PlanStarted, "徐卫东", "启动预案"),
            false,
            opened + 20 * 60,
        )
        .await?;
    st.store
        .advance_risk_case(
            case.id,
            &step(RiskStep::AreaControlled, "孙桂芳", "装卸区封闭"),
            false,
            t0 - 30 * 60,
        )
        .await?;
    st.store
        .open_risk_case(
            ents[0].id,
            &NewRiskCase {
                subject: "张*明".into(),
                owner: "王建国".into(),
                note: "指挥部通知：外省返回人员".into(),
            },
            "demo",
            t0 - 95 * 60,
        )
        .await?;
    Ok(3)
}
