//! History-aware gate rules: what [`verify`](crate::verify::verify) cannot know from the
//! pass alone. The gate supplies the direction, its time floor and, for the pass being
//! scanned, its recent local history; the rules stay pure.
//!
//! * load-unload-leave: an entry, then an exit. A second entry while inside is refused
//!   (anti-passback); the exit records the dwell, and a dwell beyond the pass's limit is an
//!   overstay, flagged on the verdict.
//! * every class: the policy's daily entry limit.
//! * clock integrity: a gate clock behind the time floor (latest bundle or scan time) is
//!   flagged, and validity is judged at the floor, so setting a clock back cannot revive an
//!   expired pass.

use serde::{Deserialize, Serialize};

use crate::bundle::{Bundle, Policy};
use crate::pass::{PassClass, PassNumber};
use crate::sync::Direction;
use crate::time::UnixSeconds;
use crate::verify::{GateContext, RejectReason, Verdict, Warning, verify};

/// What the gate's own log says about one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassHistory {
    /// When a load-unload-leave truck entered and has not left since (at this gate).
    pub inside_since: Option<UnixSeconds>,
    /// Accepted entries of this pass today (Beijing day) at this gate.
    pub entries_today: u32,
}

/// A verdict plus what the gate records beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    /// Minutes inside, on the exit of a load-unload-leave truck whose entry is on record.
    pub dwell_minutes: Option<u32>,
    /// The time the rules used: the later of the gate clock and its time floor.
    pub effective_now: UnixSeconds,
}

impl Policy {
    /// The daily entry limit of a class, if the policy sets one.
    pub fn daily_entry_limit(&self, class: PassClass) -> Option<u32> {
        self.classes
            .iter()
            .find(|c| c.class == class)
            .and_then(|c| c.daily_entry_limit)
    }
}

/// Minutes past the dwell limit of a truck that entered at `entered` (None: not overstayed).
pub fn overstay_minutes(
    entered: UnixSeconds,
    max_dwell_minutes: u16,
    now: UnixSeconds,
) -> Option<u32> {
    let inside = (now - entered).max(0) / 60;
    let over = inside - i64::from(max_dwell_minutes);
    (over > 0).then(|| u32::try_from(over).unwrap_or(u32::MAX))
}

/// The whole gate decision. `history` is asked only for a pass whose signature checked out.
pub fn decide(
    text: &str,
    bundle: &Bundle,
    gate: &GateContext,
    direction: Direction,
    time_floor: UnixSeconds,
    now: UnixSeconds,
    history: impl FnOnce(PassNumber) -> PassHistory,
) -> Decision {
    let effective_now = now.max(time_floor);
    let mut verdict = verify(text, bundle, gate, effective_now);
    let behind = time_floor - now;
    if behind > i64::from(bundle.policy.clock_tolerance_minutes) * 60 {
        verdict
            .warnings
            .push(Warning::ClockBehind { seconds: behind });
    }
    let mut dwell_minutes = None;
    if let (true, Some(pass)) = (verdict.accepted(), verdict.pass.as_ref()) {
        let h = history(pass.number);
        let lul = pass.class == PassClass::LoadUnloadLeave;
        match direction {
            Direction::In => {
                if lul && h.inside_since.is_some() {
                    verdict.reason = Some(RejectReason::AlreadyInside);
                } else if bundle
                    .policy
                    .daily_entry_limit(pass.class)
                    .is_some_and(|l| h.entries_today >= l)
                {
                    verdict.reason = Some(RejectReason::DailyLimit);
                }
            }
            Direction::Out if lul => match h.inside_since {
                Some(t) => {
                    let minutes =
                        u32::try_from((effective_now - t).max(0) / 60).unwrap_or(u32::MAX);
                    dwell_minutes = Some(minutes);
                    if pass
                        .max_dwell_minutes
                        .is_some_and(|m| minutes > u32::from(m))
                    {
                        verdict.warnings.push(Warning::Overstayed { minutes });
                    }
                }
                None => verdict.warnings.push(Warning::NoEntryRecorded),
            },
            Direction::Out => {}
        }
    }
    Decision {
        verdict,
        dwell_minutes,
        effective_now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{ClassPolicy, RevocationSet};
    use crate::codec::sign_to_text;
    use crate::keys::{IssuerKey, KeyId, KeyStatus};
    use crate::pass::{CheckpointId, EnterpriseId};
    use crate::vectors::{issue_time, sample_passes, test_key};

    fn bundle(limit: Option<u32>) -> Bundle {
        let mut policy = Policy::default();
        if let Some(l) = limit {
            policy.classes = PassClass::ALL
                .iter()
                .map(|&class| ClassPolicy {
                    class,
                    daily_entry_limit: Some(l),
                })
                .collect();
        }
        Bundle {
            version: 1,
            generated_at: issue_time(),
            keys: vec![IssuerKey {
                id: KeyId(1),
                public: test_key().verifying_key(),
                status: KeyStatus::Active,
                not_before: None,
                not_after: None,
            }],
            revoked: RevocationSet::new(),
            policy,
            checkpoints: vec![],
        }
    }

    const H: i64 = 3600;

    /// One row per case: pass (0 long-haul, 1 short-haul, 2 load-unload-leave), direction,
    /// history, daily limit, gate clock and time floor (hours after issue), expected reason,
    /// warnings and dwell.
    #[test]
    #[allow(clippy::type_complexity)]
    fn history_rules_table() {
        use Direction::{In, Out};
        let t0 = issue_time();
        let inside = |hours_ago: i64, now_h: i64| PassHistory {
            inside_since: Some(t0 + (now_h - hours_ago) * H),
            entries_today: 1,
        };
        let none = PassHistory::default();
        let entries = |n| PassHistory {
            inside_since: None,
            entries_today: n,
        };
        #[rustfmt::skip]
        let rows: Vec<(usize, Direction, PassHistory, Option<u32>, i64, i64, Option<&str>, Vec<&str>, Option<u32>)> = vec![
            // load-unload-leave: enter, exit within the dwell, exit late, enter twice
            (2, In,  none,          None,    1, 0, None,                   vec![],                    None),
            (2, Out, inside(1, 3),  None,    3, 0, None,                   vec![],                    Some(60)),
            (2, Out, inside(3, 3),  None,    3, 0, None,                   vec!["overstayed"],        Some(180)),
            (2, In,  inside(1, 3),  None,    3, 0, Some("already_inside"), vec![],                    None),
            (2, Out, none,          None,    3, 0, None,                   vec!["no_entry_recorded"], None),
            // other classes ignore anti-passback
            (0, In,  inside(1, 3),  None,    3, 0, None,                   vec![],                    None),
            (1, Out, none,          None,    3, 0, None,                   vec![],                    None),
            // daily limits count entries only
            (1, In,  entries(2),    Some(3), 3, 0, None,                   vec![],                    None),
            (1, In,  entries(3),    Some(3), 3, 0, Some("daily_limit"),    vec![],                    None),
            (1, Out, entries(3),    Some(3), 3, 0, None,                   vec![],                    None),
            // a clock set back is flagged and cannot revive an expired pass
            (1, In,  none,          None,    3, 2, None,                   vec![],                    None),
            (1, In,  none,          None,    3, 5, None,                   vec!["clock_behind"],      None),
            (1, In,  none,          None,    3, 30, Some("expired"),       vec!["clock_behind"],      None),
        ];
        for (i, (p, dir, hist, limit, now_h, floor_h, want, warns, dwell)) in
            rows.into_iter().enumerate()
        {
            let pass = &sample_passes()[p];
            let text = sign_to_text(pass, &test_key()).unwrap();
            let gate = GateContext {
                checkpoint: CheckpointId(3),
                inside_zone: true,
                enterprise: Some(EnterpriseId(pass.enterprise.0)),
            };
            let mut b = bundle(limit);
            b.generated_at = t0 + now_h * H - H;
            let floor = if floor_h == 0 { 0 } else { t0 + floor_h * H };
            let d = decide(&text, &b, &gate, dir, floor, t0 + now_h * H, |n| {
                assert_eq!(n, pass.number);
                hist
            });
            assert_eq!(
                d.verdict.reason.as_ref().map(|r| r.code()),
                want,
                "row {i}: {d:?}"
            );
            let got: Vec<_> = d.verdict.warnings.iter().map(|w| w.code()).collect();
            assert_eq!(got, warns, "row {i}");
            assert_eq!(d.dwell_minutes, dwell, "row {i}");
        }
    }

    #[test]
    fn history_is_not_consulted_for_untrusted_passes() {
        let gate = GateContext {
            checkpoint: CheckpointId(3),
            inside_zone: true,
            enterprise: None,
        };
        let d = decide(
            "PG:garbage",
            &bundle(None),
            &gate,
            Direction::In,
            0,
            issue_time(),
            |_| panic!("history asked for a pass that was never decoded"),
        );
        assert_eq!(d.verdict.reason.unwrap().code(), "malformed");
    }

    #[test]
    fn overstay_minutes_counts_past_the_limit() {
        assert_eq!(overstay_minutes(0, 120, 119 * 60), None);
        assert_eq!(overstay_minutes(0, 120, 120 * 60), None);
        assert_eq!(overstay_minutes(0, 120, 125 * 60), Some(5));
        assert_eq!(overstay_minutes(100, 1, 0), None);
    }
}
