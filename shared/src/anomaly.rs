//! Cross-gate anomalies: what no single gate can see, found by the server after it merges
//! every gate's records. Pure: the server loads the records and the passes and calls
//! [`find_anomalies`]; the place rules are [`class_rule`](crate::verify::class_rule), the
//! same code the gates run.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::bundle::Policy;
use crate::pass::{CheckpointId, Pass, PassClass, PassNumber};
use crate::record::{DeviceId, GateRecord};
use crate::sync::Direction;
use crate::time::UnixSeconds;
use crate::verify::{GateContext, class_rule};

/// The kinds the transport bureau reviews.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// One load-unload-leave pass inside at two gates at once.
    InsideTwice,
    /// Entries across all gates beyond the class's daily limit.
    DailyLimit,
    /// Used at a checkpoint where its class does not allow it (off route, outside the zone,
    /// another enterprise).
    OffRoute,
    /// A load-unload-leave truck that stayed past its dwell limit.
    Overstay,
    /// A scan of a pass that was revoked at the time.
    RevokedUse,
    /// A gate clock that went backwards.
    ClockRollback,
    /// A supervisor override, for review.
    Override,
    /// A device chain with missing or unlinked records (from the server's incidents).
    ChainGap,
}

impl AnomalyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::InsideTwice => "inside_twice",
            AnomalyKind::DailyLimit => "daily_limit",
            AnomalyKind::OffRoute => "off_route",
            AnomalyKind::Overstay => "overstay",
            AnomalyKind::RevokedUse => "revoked_use",
            AnomalyKind::ClockRollback => "clock_rollback",
            AnomalyKind::Override => "override",
            AnomalyKind::ChainGap => "chain_gap",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            AnomalyKind::InsideTwice => "同一即装即卸即走证同时在两处厂内",
            AnomalyKind::DailyLimit => "跨卡口超过每日进入次数",
            AnomalyKind::OffRoute => "在非核定线路或非许可查验点使用",
            AnomalyKind::Overstay => "滞留超时",
            AnomalyKind::RevokedUse => "使用已吊销通行证",
            AnomalyKind::ClockRollback => "查验设备时钟回拨",
            AnomalyKind::Override => "主管特批放行",
            AnomalyKind::ChainGap => "设备记录链缺失或断裂",
        }
    }
}

/// One finding, with the records behind it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub number: Option<PassNumber>,
    pub plate: Option<String>,
    pub checkpoints: Vec<CheckpointId>,
    pub device_id: Option<DeviceId>,
    pub at: UnixSeconds,
    /// English detail; the kind carries the Chinese name.
    pub detail: String,
    pub record_ids: Vec<String>,
}

/// What the server knows of a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassFacts {
    pub pass: Pass,
    pub revoked_at: Option<UnixSeconds>,
}

fn counts_as_entry(r: &GateRecord) -> bool {
    r.accepted && r.direction == Direction::In
}

/// Find the anomalies in `records` (any order; typically one day of every gate). `passes`
/// looks up a pass by number, `gates` a checkpoint's context; `now` decides whether a truck
/// still inside has overstayed.
pub fn find_anomalies(
    records: &[GateRecord],
    passes: &dyn Fn(PassNumber) -> Option<PassFacts>,
    gates: &dyn Fn(CheckpointId) -> Option<GateContext>,
    policy: &Policy,
    now: UnixSeconds,
) -> Vec<Anomaly> {
    let mut sorted: Vec<&GateRecord> = records.iter().collect();
    sorted.sort_by(|a, b| {
        (a.scanned_at, a.device_id, a.seq).cmp(&(b.scanned_at, b.device_id, b.seq))
    });
    let mut out = Vec::new();
    let mut facts: HashMap<PassNumber, Option<PassFacts>> = HashMap::new();
    // Load-unload-leave passes inside: number → (gate, entry time, record id).
    let mut inside: HashMap<PassNumber, (CheckpointId, UnixSeconds, String)> = HashMap::new();
    let mut entries: BTreeMap<PassNumber, Vec<&GateRecord>> = BTreeMap::new();
    let tolerance = i64::from(policy.clock_tolerance_minutes) * 60;

    let finding = |kind, r: &GateRecord, detail: String| Anomaly {
        kind,
        number: r.number,
        plate: r.plate.clone(),
        checkpoints: vec![r.checkpoint_id],
        device_id: Some(r.device_id),
        at: r.scanned_at,
        detail,
        record_ids: vec![r.id.clone()],
    };

    for r in &sorted {
        if r.override_by.is_some() {
            let why = r
                .override_by
                .as_ref()
                .map(|o| o.reason.clone())
                .unwrap_or_default();
            let reason = r.reason.clone().unwrap_or_default();
            out.push(finding(
                AnomalyKind::Override,
                r,
                format!("{reason} overridden: {why}"),
            ));
        }
        if r.warnings.iter().any(|w| w == "clock_behind") {
            out.push(finding(
                AnomalyKind::ClockRollback,
                r,
                "the gate flagged its clock as set back".into(),
            ));
        }
        let Some(number) = r.number else { continue };
        let f = facts
            .entry(number)
            .or_insert_with(|| passes(number))
            .clone();
        let Some(f) = f else { continue };
        if f.revoked_at.is_some_and(|t| t <= r.scanned_at) || r.reason.as_deref() == Some("revoked")
        {
            let what = if r.accepted {
                "accepted by a gate that did not know yet"
            } else {
                "refused"
            };
            out.push(finding(
                AnomalyKind::RevokedUse,
                r,
                format!("revoked pass scanned, {what}"),
            ));
        }
        if let Some(reason) = gates(r.checkpoint_id).and_then(|g| class_rule(&f.pass, &g)) {
            let what = if r.accepted { "let through" } else { "refused" };
            out.push(finding(
                AnomalyKind::OffRoute,
                r,
                format!("{} ({what})", reason.code()),
            ));
        }
        if counts_as_entry(r) {
            entries.entry(number).or_default().push(r);
        }
        if f.pass.class != PassClass::LoadUnloadLeave || !r.accepted {
            continue;
        }
        let max_dwell = i64::from(
            f.pass
                .max_dwell_minutes
                .unwrap_or(policy.default_max_dwell_minutes),
        );
        match r.direction {
            Direction::In => {
                if let Some((gate, since, id)) = inside.get(&number)
                    && *gate != r.checkpoint_id
                {
                    let mut a = finding(
                        AnomalyKind::InsideTwice,
                        r,
                        format!(
                            "entered at checkpoint {} while inside at checkpoint {gate} since {since}",
                            r.checkpoint_id
                        ),
                    );
                    a.checkpoints.insert(0, *gate);
                    a.record_ids.insert(0, id.clone());
                    out.push(a);
                }
                inside.insert(number, (r.checkpoint_id, r.scanned_at, r.id.clone()));
            }
            Direction::Out => {
                if let Some((gate, since, id)) = inside.remove(&number) {
                    let minutes = (r.scanned_at - since) / 60;
                    if minutes > max_dwell {
                        let mut a = finding(
                            AnomalyKind::Overstay,
                            r,
                            format!("{minutes} minutes inside, limit {max_dwell}"),
                        );
                        a.checkpoints.insert(0, gate);
                        a.record_ids.insert(0, id);
                        out.push(a);
                    }
                }
            }
        }
    }
    for (number, (gate, since, id)) in inside {
        let max_dwell = facts
            .get(&number)
            .and_then(|f| f.as_ref())
            .and_then(|f| f.pass.max_dwell_minutes)
            .map_or(i64::from(policy.default_max_dwell_minutes), i64::from);
        let minutes = (now - since) / 60;
        if minutes > max_dwell {
            out.push(Anomaly {
                kind: AnomalyKind::Overstay,
                number: Some(number),
                plate: facts
                    .get(&number)
                    .and_then(|f| f.as_ref())
                    .map(|f| f.pass.plate.to_string()),
                checkpoints: vec![gate],
                device_id: None,
                at: since,
                detail: format!("still inside after {minutes} minutes, limit {max_dwell}"),
                record_ids: vec![id],
            });
        }
    }
    for (number, list) in entries {
        let Some(Some(f)) = facts.get(&number) else {
            continue;
        };
        let Some(limit) = policy.daily_entry_limit(f.pass.class) else {
            continue;
        };
        if list.len() > limit as usize {
            let mut checkpoints: Vec<CheckpointId> = list.iter().map(|r| r.checkpoint_id).collect();
            checkpoints.sort();
            checkpoints.dedup();
            out.push(Anomaly {
                kind: AnomalyKind::DailyLimit,
                number: Some(number),
                plate: Some(f.pass.plate.to_string()),
                checkpoints,
                device_id: None,
                at: list.last().map_or(0, |r| r.scanned_at),
                detail: format!("{} entries across gates, limit {limit}", list.len()),
                record_ids: list.iter().map(|r| r.id.clone()).collect(),
            });
        }
    }
    // A device clock that goes backwards along its own chain.
    let mut by_device: BTreeMap<DeviceId, Vec<&GateRecord>> = BTreeMap::new();
    for r in records {
        by_device.entry(r.device_id).or_default().push(r);
    }
    for list in by_device.values_mut() {
        list.sort_by_key(|r| r.seq);
        for w in list.windows(2) {
            let (a, b) = (w[0], w[1]);
            if b.seq == a.seq + 1
                && b.scanned_at + tolerance < a.scanned_at
                && !b.warnings.iter().any(|x| x == "clock_behind")
            {
                out.push(finding(
                    AnomalyKind::ClockRollback,
                    b,
                    format!(
                        "scan {} is {} s earlier than scan {}",
                        b.seq,
                        a.scanned_at - b.scanned_at,
                        a.seq
                    ),
                ));
            }
        }
    }
    out.sort_by_key(|a| (a.kind, a.at));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::ClassPolicy;
    use crate::pass::EnterpriseId;
    use crate::record::{GENESIS_HASH, Observations, Override};
    use crate::vectors::{issue_time, sample_passes};

    struct Log {
        records: Vec<GateRecord>,
    }

    impl Log {
        #[allow(clippy::too_many_arguments)]
        fn scan(
            &mut self,
            device: u32,
            cp: u32,
            minutes: i64,
            dir: Direction,
            pass: usize,
            accepted: bool,
            reason: Option<&str>,
        ) -> &mut GateRecord {
            let seq = self
                .records
                .iter()
                .filter(|r| r.device_id.0 == device)
                .count() as u64
                + 1;
            let p = &sample_passes()[pass];
            self.records.push(GateRecord {
                id: format!("{:016x}{:016x}", device, seq),
                device_id: DeviceId(device),
                seq,
                prev_hash: GENESIS_HASH.into(),
                checkpoint_id: CheckpointId(cp),
                scanned_at: issue_time() + minutes * 60,
                direction: dir,
                number: Some(p.number),
                class: Some(p.class),
                plate: Some(p.plate.to_string()),
                accepted,
                reason: reason.map(str::to_owned),
                warnings: vec![],
                bundle_version: 1,
                guard_id: None,
                observations: Observations::default(),
                override_by: None,
                overrides_seq: None,
                dwell_minutes: None,
            });
            self.records.last_mut().unwrap_or_else(|| unreachable!())
        }
    }

    fn run(
        log: &Log,
        revoked: Option<(usize, i64)>,
        limit: Option<u32>,
        now_minutes: i64,
    ) -> Vec<(String, Vec<u32>)> {
        let policy = Policy {
            classes: PassClass::ALL
                .iter()
                .map(|&class| ClassPolicy {
                    class,
                    daily_entry_limit: limit,
                })
                .collect(),
            ..Policy::default()
        };
        let passes = |n: PassNumber| {
            let i = sample_passes().iter().position(|p| p.number == n)?;
            let revoked_at = revoked
                .filter(|(p, _)| *p == i)
                .map(|(_, m)| issue_time() + m * 60);
            Some(PassFacts {
                pass: sample_passes()[i].clone(),
                revoked_at,
            })
        };
        // Checkpoints 3, 7, 12 are on the long-haul route; 1 and 2 are enterprise 1's gates
        // inside the zone; 9 is a border post outside it.
        let gates = |c: CheckpointId| {
            let enterprise = matches!(c.0, 1 | 2).then_some(EnterpriseId(1));
            Some(GateContext {
                checkpoint: c,
                inside_zone: c.0 != 9,
                enterprise,
            })
        };
        find_anomalies(
            &log.records,
            &passes,
            &gates,
            &policy,
            issue_time() + now_minutes * 60,
        )
        .into_iter()
        .map(|a| {
            (
                a.kind.as_str().to_owned(),
                a.checkpoints.iter().map(|c| c.0).collect(),
            )
        })
        .collect()
    }

    #[test]
    fn two_gates_admit_the_same_load_unload_leave_pass() {
        let mut log = Log { records: vec![] };
        log.scan(1, 1, 10, Direction::In, 2, true, None);
        log.scan(2, 2, 20, Direction::In, 2, true, None);
        log.scan(2, 2, 50, Direction::Out, 2, true, None);
        assert_eq!(
            run(&log, None, None, 60),
            [("inside_twice".to_owned(), vec![1, 2])]
        );
    }

    #[test]
    fn exit_at_another_gate_of_the_enterprise_is_fine_but_overstays_are_not() {
        let mut log = Log { records: vec![] };
        log.scan(1, 1, 10, Direction::In, 2, true, None);
        log.scan(2, 2, 100, Direction::Out, 2, true, None);
        assert_eq!(run(&log, None, None, 200), []);
        log.scan(1, 1, 200, Direction::In, 2, true, None);
        log.scan(2, 2, 400, Direction::Out, 2, true, None);
        assert_eq!(
            run(&log, None, None, 500),
            [("overstay".to_owned(), vec![1, 2])]
        );
        // Entered and never left: an overstay once the dwell (120 min) has passed.
        log.scan(1, 1, 600, Direction::In, 2, true, None);
        assert_eq!(run(&log, None, None, 700).len(), 1);
        assert_eq!(run(&log, None, None, 800).len(), 2);
    }

    #[test]
    fn limits_routes_revocations_clocks_and_overrides() {
        let mut log = Log { records: vec![] };
        // Short-haul: three entries at two gates with a limit of two.
        log.scan(1, 1, 10, Direction::In, 1, true, None);
        log.scan(2, 2, 20, Direction::In, 1, true, None);
        log.scan(1, 1, 30, Direction::In, 1, true, None);
        assert_eq!(
            run(&log, None, Some(2), 60),
            [("daily_limit".to_owned(), vec![1, 2])]
        );
        assert_eq!(run(&log, None, Some(3), 60), []);

        let mut log = Log { records: vec![] };
        // Long-haul at a gate off its route (accepted by a stale gate) and on it.
        log.scan(1, 1, 10, Direction::In, 0, true, None);
        log.scan(3, 3, 20, Direction::In, 0, true, None);
        // Revoked at minute 25: the scan at 30 is a revoked use, the one at 20 is not.
        log.scan(3, 7, 30, Direction::In, 0, false, Some("revoked"));
        let found = run(&log, Some((0, 25)), None, 60);
        assert_eq!(
            found,
            [
                ("off_route".to_owned(), vec![1]),
                ("revoked_use".to_owned(), vec![7])
            ]
        );

        let mut log = Log { records: vec![] };
        log.scan(4, 3, 100, Direction::In, 0, true, None);
        log.scan(4, 3, 40, Direction::In, 0, true, None);
        let r = log.scan(4, 3, 41, Direction::In, 0, true, Some("expired"));
        r.override_by = Some(Override {
            supervisor_id: "sup".into(),
            reason: "medical supplies".into(),
        });
        r.overrides_seq = Some(2);
        let kinds: Vec<String> = run(&log, None, None, 200)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(kinds, ["clock_rollback", "override"]);
    }
}
