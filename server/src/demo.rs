//! `passgate-server demo`: seed a fresh data directory with a small, plausible zone —
//! enterprises, checkpoints inside and outside the zone, passes of every class, a token per
//! role, and a week of scans decided by the real verifier — so every page and endpoint has
//! something to show.

use std::fmt::Write as _;

use std::collections::HashMap;

use passgate_shared::record::{DeviceId, GENESIS_HASH, GateRecord, HealthCode, Observations};
use passgate_shared::rules::{PassHistory, decide};
use passgate_shared::sync::Direction;
use passgate_shared::{CheckpointId, GateContext, PassClass, PassNumber};

use crate::keyring::write_private;
use crate::routes::devices::{hash_code, new_code_text};
use crate::routes::passes::{NewPass, issue_pass, rfc3339};
use crate::routes::sync::current_bundle;
use crate::state::{AppState, now};
use crate::store::{CheckpointKind, NewCheckpoint, NewUser, Role, UserRole};
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
            crew_phone: (i % 2 == 1).then(|| format!("1370371{i:04}")),
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

    let mut token_file = String::from("# passgate demo tokens: role, name, token\n");
    let _ = writeln!(
        out,
        "API tokens (shown once; also saved to DATA_DIR/demo-tokens.txt):"
    );
    let roles: Vec<(Role, String, Option<passgate_shared::CheckpointId>)> = vec![
        (Role::Admin, "演示管理员".into(), None),
        (Role::Ops, "运行局演示账号".into(), None),
        (Role::Transport, "交通局演示账号".into(), None),
    ];
    for (role, name, cp) in roles {
        let token = create_token(st, role, &name, cp).await?;
        let _ = writeln!(out, "  {:<10} {:<24} {}", role.as_str(), name, token);
        let _ = writeln!(token_file, "{}\t{}\t{}", role.as_str(), name, token);
        report.tokens.push((role, name, token));
    }
    let _ = writeln!(
        out,
        "console accounts (open the server's address in a browser; also saved to DATA_DIR/demo-tokens.txt):"
    );
    let accounts = [
        ("admin", "演示管理员", UserRole::Admin, None),
        ("ops", "运行局演示账号", UserRole::Ops, None),
        ("transport", "交通局演示账号", UserRole::Transport, None),
        ("taskforce", "专班演示账号", UserRole::Taskforce, None),
        (
            "steel",
            "钢铁集团演示账号",
            UserRole::Enterprise,
            Some(ents[0].id),
        ),
        (
            "chem",
            "精细化工演示账号",
            UserRole::Enterprise,
            Some(ents[1].id),
        ),
    ];
    for (username, display, role, enterprise) in accounts {
        let password = new_password().map_err(demo_err)?;
        let user = NewUser {
            username: username.into(),
            display_name: display.into(),
            role,
            enterprise_id: enterprise,
            team_id: None,
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
