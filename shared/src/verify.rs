//! The gate decision: QR text in, verdict out. Offline, pure, and total: any input gives a
//! verdict, never a panic.

use serde::{Deserialize, Serialize};

use crate::bundle::{Bundle, StaleAction};
use crate::codec::{DecodeError, decode_text};
use crate::i18n::Lang;
use crate::keys::{KeyId, KeyStatus};
use crate::pass::{CheckpointId, EnterpriseId, Pass, PassClass};
use crate::time::UnixSeconds;

/// Where the decision is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateContext {
    pub checkpoint: CheckpointId,
    pub inside_zone: bool,
    /// The enterprise whose gate this is, if it is an enterprise gate.
    pub enterprise: Option<EnterpriseId>,
}

/// Why a pass was refused. [`RejectReason::code`] is stable and machine-readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// Not a passgate pass, or damaged.
    Malformed(DecodeError),
    /// A pass format this program does not know.
    UnsupportedVersion(u8),
    /// Signed with a key the gate does not know.
    UnknownKey(KeyId),
    /// Signed with a key marked compromised.
    KeyCompromised(KeyId),
    /// The key exists but did not sign passes starting at this time.
    KeyNotValid(KeyId),
    /// The signature does not match: forged or altered.
    BadSignature,
    NotYetValid,
    Expired,
    Revoked,
    /// Long-haul pass at a checkpoint not on its route.
    OffRoute,
    /// Short-haul pass at a checkpoint outside the zone.
    OutsideZone,
    /// Load-unload-leave pass at another enterprise's gate.
    WrongEnterprise,
    /// The gate's trust data is too old and the policy says to refuse.
    BundleStale,
    /// Load-unload-leave pass already inside: an entry needs an exit first (anti-passback).
    AlreadyInside,
    /// The pass has used its entries for today under the class policy.
    DailyLimit,
}

impl RejectReason {
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::Malformed(_) => "malformed",
            RejectReason::UnsupportedVersion(_) => "unsupported_version",
            RejectReason::UnknownKey(_) => "unknown_key",
            RejectReason::KeyCompromised(_) => "key_compromised",
            RejectReason::KeyNotValid(_) => "key_not_valid",
            RejectReason::BadSignature => "bad_signature",
            RejectReason::NotYetValid => "not_yet_valid",
            RejectReason::Expired => "expired",
            RejectReason::Revoked => "revoked",
            RejectReason::OffRoute => "off_route",
            RejectReason::OutsideZone => "outside_zone",
            RejectReason::WrongEnterprise => "wrong_enterprise",
            RejectReason::BundleStale => "bundle_stale",
            RejectReason::AlreadyInside => "already_inside",
            RejectReason::DailyLimit => "daily_limit",
        }
    }

    /// Every reason code, for documentation and catalog tests.
    pub const CODES: [&'static str; 15] = [
        "malformed",
        "unsupported_version",
        "unknown_key",
        "key_compromised",
        "key_not_valid",
        "bad_signature",
        "not_yet_valid",
        "expired",
        "revoked",
        "off_route",
        "outside_zone",
        "wrong_enterprise",
        "bundle_stale",
        "already_inside",
        "daily_limit",
    ];

    /// What the guard reads.
    pub fn message(&self, lang: Lang) -> String {
        let (zh, en) = match self {
            RejectReason::Malformed(e) => {
                return match lang {
                    Lang::Zh => "不是有效的通行证二维码，或二维码已损坏，请重新扫码".to_owned(),
                    Lang::En => format!("not a valid pass QR code ({e})"),
                };
            }
            RejectReason::UnsupportedVersion(v) => {
                return match lang {
                    Lang::Zh => format!("通行证格式版本 {v} 不受支持，请升级查验程序"),
                    Lang::En => {
                        format!("pass format version {v} is not supported; update this program")
                    }
                };
            }
            RejectReason::UnknownKey(_) => (
                "签发密钥未知：可能是伪造，或本机信任数据过旧，请同步",
                "unknown issuer key: forged, or this gate's trust data is out of date; sync",
            ),
            RejectReason::KeyCompromised(_) => (
                "签发密钥已泄露作废，此证不可用，请车主换领新证",
                "the issuer key was compromised; this pass is void, the holder needs a new one",
            ),
            RejectReason::KeyNotValid(_) => (
                "签发密钥不在有效期内，此证无效",
                "the issuer key was not valid when this pass was issued",
            ),
            RejectReason::BadSignature => (
                "签名不符：通行证被篡改或伪造",
                "signature mismatch: the pass was altered or forged",
            ),
            RejectReason::NotYetValid => ("通行证尚未生效", "the pass is not valid yet"),
            RejectReason::Expired => ("通行证已过期", "the pass has expired"),
            RejectReason::Revoked => ("通行证已吊销", "the pass has been revoked"),
            RejectReason::OffRoute => (
                "长途闭环通行证：本查验点不在核定线路上",
                "long-haul pass: this checkpoint is not on its route",
            ),
            RejectReason::OutsideZone => (
                "短途闭环通行证：仅限区内查验点使用",
                "short-haul pass: valid only at checkpoints inside the zone",
            ),
            RejectReason::WrongEnterprise => (
                "即装即卸即走通行证：不是本企业的通行证",
                "load-unload-leave pass: issued for another enterprise",
            ),
            RejectReason::BundleStale => (
                "本机信任数据过旧，按规定暂停放行，请立即同步",
                "this gate's trust data is too old and policy refuses passes; sync now",
            ),
            RejectReason::AlreadyInside => (
                "该车已在厂内：出厂登记前不能再次进入（防回传）",
                "this truck is already inside: it must exit before it enters again (anti-passback)",
            ),
            RejectReason::DailyLimit => (
                "该证今日进入次数已达上限",
                "this pass has used all of today's entries",
            ),
        };
        lang.pick(zh, en).to_owned()
    }
}

/// Something the guard should see even though the pass was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Warning {
    /// The gate's trust data is older than the policy's limit.
    BundleStale { age_hours: i64 },
    /// The pass is accepted only thanks to the clock tolerance.
    ClockTolerance,
    /// Signed by a retired key (still valid, but new passes use the new key).
    RetiredKey,
    /// The gate's clock is behind the latest time it has seen (bundle or last scan): it was
    /// set back. The decision used the later time.
    ClockBehind { seconds: i64 },
    /// A load-unload-leave truck leaving after its max dwell.
    Overstayed { minutes: u32 },
    /// A load-unload-leave truck leaving with no entry on record at this gate.
    NoEntryRecorded,
}

impl Warning {
    pub fn code(&self) -> &'static str {
        match self {
            Warning::BundleStale { .. } => "bundle_stale",
            Warning::ClockTolerance => "clock_tolerance",
            Warning::RetiredKey => "retired_key",
            Warning::ClockBehind { .. } => "clock_behind",
            Warning::Overstayed { .. } => "overstayed",
            Warning::NoEntryRecorded => "no_entry_recorded",
        }
    }

    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (Warning::BundleStale { age_hours }, Lang::Zh) => {
                format!("警告：信任数据已 {age_hours} 小时未更新，吊销名单可能不全，请尽快同步")
            }
            (Warning::BundleStale { age_hours }, Lang::En) => format!(
                "WARNING: trust data is {age_hours} hours old; revocations may be missing, sync soon"
            ),
            (Warning::ClockTolerance, l) => l
                .pick(
                    "在时钟容差内放行：通行证即将到期或刚生效",
                    "accepted within clock tolerance of the validity window",
                )
                .to_owned(),
            (Warning::RetiredKey, l) => l
                .pick(
                    "旧密钥签发，仍在有效期内",
                    "signed with a retired key; still valid",
                )
                .to_owned(),
            (Warning::ClockBehind { seconds }, Lang::Zh) => format!(
                "警告：本机时钟比已知时间慢 {} 分钟，可能被回拨；已按已知时间核验",
                seconds / 60
            ),
            (Warning::ClockBehind { seconds }, Lang::En) => format!(
                "WARNING: this gate's clock is {} minutes behind the latest known time (set back?); decided with the known time",
                seconds / 60
            ),
            (Warning::Overstayed { minutes }, Lang::Zh) => {
                format!("超时滞留：在厂内 {minutes} 分钟，超过限定停留时间，已记录上报")
            }
            (Warning::Overstayed { minutes }, Lang::En) => {
                format!(
                    "overstay: {minutes} minutes inside, beyond the dwell limit; recorded for review"
                )
            }
            (Warning::NoEntryRecorded, l) => l
                .pick(
                    "本查验点没有该车的进入记录",
                    "no entry of this truck is recorded at this gate",
                )
                .to_owned(),
        }
    }
}

/// The gate's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The decoded pass, when its signature checked out (so its fields can be trusted and
    /// shown); `None` for forged, damaged or unknown passes.
    pub pass: Option<Pass>,
    /// `None` when accepted.
    pub reason: Option<RejectReason>,
    pub warnings: Vec<Warning>,
}

impl Verdict {
    pub fn accepted(&self) -> bool {
        self.reason.is_none()
    }

    fn reject(reason: RejectReason) -> Verdict {
        Verdict {
            pass: None,
            reason: Some(reason),
            warnings: Vec::new(),
        }
    }
}

/// Decide whether the pass in `text` may pass `gate` at `now`, using only `bundle`.
///
/// Order: decode; key known and not compromised; signature (`verify_strict`); then, on a
/// pass whose content is now trusted: revocation, validity with clock tolerance, the class
/// rule for this gate, and the bundle's staleness.
pub fn verify(text: &str, bundle: &Bundle, gate: &GateContext, now: UnixSeconds) -> Verdict {
    let signed = match decode_text(text) {
        Ok(s) => s,
        Err(DecodeError::Version(v)) => {
            return Verdict::reject(RejectReason::UnsupportedVersion(v));
        }
        Err(e) => return Verdict::reject(RejectReason::Malformed(e)),
    };
    let key_id = signed.pass.key_id;
    let Some(key) = bundle.key(key_id) else {
        return Verdict::reject(RejectReason::UnknownKey(key_id));
    };
    if key.status == KeyStatus::Compromised {
        return Verdict::reject(RejectReason::KeyCompromised(key_id));
    }
    if !signed.signature_valid(&key.public) {
        return Verdict::reject(RejectReason::BadSignature);
    }
    let pass = signed.pass;
    let mut warnings = Vec::new();
    let reason = decide(&pass, key, bundle, gate, now, &mut warnings);
    Verdict {
        pass: Some(pass),
        reason,
        warnings,
    }
}

fn decide(
    pass: &Pass,
    key: &crate::keys::IssuerKey,
    bundle: &Bundle,
    gate: &GateContext,
    now: UnixSeconds,
    warnings: &mut Vec<Warning>,
) -> Option<RejectReason> {
    let issued = pass.validity.from().to_unix();
    if key.not_before.is_some_and(|t| issued < t) || key.not_after.is_some_and(|t| issued > t) {
        return Some(RejectReason::KeyNotValid(key.id));
    }
    if key.status == KeyStatus::Retired {
        warnings.push(Warning::RetiredKey);
    }
    if bundle.revoked.contains(pass.number) {
        return Some(RejectReason::Revoked);
    }
    let tol = i64::from(bundle.policy.clock_tolerance_minutes) * 60;
    let (from, until) = (
        pass.validity.from().to_unix(),
        pass.validity.until().to_unix(),
    );
    if now < from - tol {
        return Some(RejectReason::NotYetValid);
    }
    if now >= until + tol {
        return Some(RejectReason::Expired);
    }
    if now < from || now >= until {
        warnings.push(Warning::ClockTolerance);
    }
    if let Some(r) = class_rule(pass, gate) {
        return Some(r);
    }
    if bundle.is_stale(now) {
        if bundle.policy.stale_action == StaleAction::Reject {
            return Some(RejectReason::BundleStale);
        }
        warnings.push(Warning::BundleStale {
            age_hours: bundle.age(now) / 3600,
        });
    }
    None
}

/// Where each class may be used.
pub fn class_rule(pass: &Pass, gate: &GateContext) -> Option<RejectReason> {
    match pass.class {
        PassClass::LongHaul => {
            (!pass.route.checkpoints.contains(&gate.checkpoint)).then_some(RejectReason::OffRoute)
        }
        PassClass::ShortHaul => (!gate.inside_zone).then_some(RejectReason::OutsideZone),
        PassClass::LoadUnloadLeave => gate
            .enterprise
            .is_some_and(|e| e != pass.enterprise)
            .then_some(RejectReason::WrongEnterprise),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::RevocationSet;
    use crate::codec::{encode_payload, encode_text, sign, signature_input};
    use crate::keys::IssuerKey;
    use crate::pass::{CheckpointId, EnterpriseId, PassNumber};
    use crate::vectors::{issue_time, sample_passes, test_key};
    use ed25519_dalek::{Signer, SigningKey};

    fn bundle() -> Bundle {
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
            policy: Default::default(),
            checkpoints: vec![],
        }
    }

    fn gate(id: u32, inside: bool, ent: Option<u32>) -> GateContext {
        GateContext {
            checkpoint: CheckpointId(id),
            inside_zone: inside,
            enterprise: ent.map(EnterpriseId),
        }
    }

    fn text(i: usize) -> String {
        encode_text(&sign(&sample_passes()[i], &test_key()).unwrap())
    }

    /// One row per case: sample pass index, gate, minutes after issue, bundle tweak, expected
    /// reason code (None = accepted) and expected warning codes.
    #[test]
    #[allow(clippy::type_complexity)]
    fn rules_table() {
        type Tweak = fn(&mut Bundle);
        let none: Tweak = |_| {};
        let revoke_all: Tweak = |b| {
            b.revoked = sample_passes().iter().map(|p| p.number).collect();
        };
        let retire: Tweak = |b| b.keys[0].status = KeyStatus::Retired;
        let compromise: Tweak = |b| b.keys[0].status = KeyStatus::Compromised;
        let forget_key: Tweak = |b| b.keys[0].id = KeyId(9);
        let stale_reject: Tweak = |b| {
            b.generated_at -= 100 * 3600;
            b.policy.stale_action = StaleAction::Reject;
        };
        let stale_warn: Tweak = |b| b.generated_at -= 100 * 3600;
        let key_window: Tweak = |b| b.keys[0].not_after = Some(issue_time() - 1);
        let week = 7 * 24 * 60;
        #[rustfmt::skip]
        let rows: Vec<(usize, GateContext, i64, Tweak, Option<&str>, Vec<&str>)> = vec![
            // long-haul: route is checkpoints 3, 7, 12
            (0, gate(3, false, None), 60, none, None, vec![]),
            (0, gate(12, true, Some(1)), 60, none, None, vec![]),
            (0, gate(4, true, None), 60, none, Some("off_route"), vec![]),
            (0, gate(3, false, None), -60, none, Some("not_yet_valid"), vec![]),
            (0, gate(3, false, None), -5, none, None, vec!["clock_tolerance"]),
            (0, gate(3, false, None), week + 5, none, None, vec!["clock_tolerance"]),
            (0, gate(3, false, None), week + 10, none, Some("expired"), vec![]),
            (0, gate(3, false, None), 60, revoke_all, Some("revoked"), vec![]),
            (0, gate(3, false, None), 60, retire, None, vec!["retired_key"]),
            (0, gate(3, false, None), 60, compromise, Some("key_compromised"), vec![]),
            (0, gate(3, false, None), 60, forget_key, Some("unknown_key"), vec![]),
            (0, gate(3, false, None), 60, stale_warn, None, vec!["bundle_stale"]),
            (0, gate(3, false, None), 60, stale_reject, Some("bundle_stale"), vec![]),
            (0, gate(3, false, None), 60, key_window, Some("key_not_valid"), vec![]),
            // short-haul
            (1, gate(5, true, Some(2)), 60, none, None, vec![]),
            (1, gate(5, true, None), 60, none, None, vec![]),
            (1, gate(6, false, None), 60, none, Some("outside_zone"), vec![]),
            // load-unload-leave, enterprise 1
            (2, gate(8, true, Some(1)), 60, none, None, vec![]),
            (2, gate(9, false, None), 60, none, None, vec![]),
            (2, gate(8, true, Some(2)), 60, none, Some("wrong_enterprise"), vec![]),
        ];
        for (i, (pass, g, minutes, tweak, want, want_warn)) in rows.into_iter().enumerate() {
            let now = issue_time() + minutes * 60;
            let mut b = bundle();
            b.generated_at = now - 3600;
            tweak(&mut b);
            let v = verify(&text(pass), &b, &g, now);
            assert_eq!(v.reason.as_ref().map(|r| r.code()), want, "row {i}: {v:?}");
            let warns: Vec<_> = v.warnings.iter().map(|w| w.code()).collect();
            assert_eq!(warns, want_warn, "row {i}");
            let trusted = !matches!(
                v.reason,
                Some(RejectReason::UnknownKey(_) | RejectReason::KeyCompromised(_))
            );
            assert_eq!(v.pass.is_some(), trusted, "row {i}");
        }
    }

    #[test]
    fn forged_and_foreign() {
        let b = bundle();
        let g = gate(3, true, None);
        let now = issue_time() + 60;
        // Signed by another key under the same id.
        let other = SigningKey::from_bytes(&[7; 32]);
        let forged = encode_text(&sign(&sample_passes()[0], &other).unwrap());
        assert_eq!(
            verify(&forged, &b, &g, now).reason,
            Some(RejectReason::BadSignature)
        );
        // A signature over the payload without the domain prefix.
        let payload = encode_payload(&sample_passes()[0]);
        let mut no_domain = payload.clone();
        no_domain.extend_from_slice(&test_key().sign(&payload).to_bytes());
        assert_eq!(
            verify(&encode_text(&no_domain), &b, &g, now).reason,
            Some(RejectReason::BadSignature)
        );
        // And the right one for contrast.
        let mut good = payload.clone();
        good.extend_from_slice(&test_key().sign(&signature_input(&payload)).to_bytes());
        assert!(verify(&encode_text(&good), &b, &g, now).accepted());
        for junk in ["", "hello", "PG:", "PG:0000", "https://example.com/pass/1"] {
            let v = verify(junk, &b, &g, now);
            assert_eq!(
                v.reason.as_ref().map(|r| r.code()),
                Some("malformed"),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn every_single_byte_change_is_rejected() {
        let b = bundle();
        let now = issue_time() + 60;
        for (i, pass) in sample_passes().iter().enumerate() {
            let g = gate(3, true, Some(pass.enterprise.0));
            let signed = sign(pass, &test_key()).unwrap();
            assert!(
                verify(&encode_text(&signed), &b, &g, now).accepted(),
                "pass {i}"
            );
            for pos in 0..signed.len() {
                for delta in [1u8, 0x80, 0xff] {
                    let mut t = signed.clone();
                    t[pos] = t[pos].wrapping_add(delta);
                    let v = verify(&encode_text(&t), &b, &g, now);
                    assert!(!v.accepted(), "pass {i}, byte {pos} + {delta} was accepted");
                }
            }
        }
    }

    #[test]
    fn messages_in_both_languages() {
        let reasons = [
            RejectReason::Malformed(DecodeError::Prefix),
            RejectReason::UnsupportedVersion(9),
            RejectReason::UnknownKey(KeyId(3)),
            RejectReason::KeyCompromised(KeyId(3)),
            RejectReason::KeyNotValid(KeyId(3)),
            RejectReason::BadSignature,
            RejectReason::NotYetValid,
            RejectReason::Expired,
            RejectReason::Revoked,
            RejectReason::OffRoute,
            RejectReason::OutsideZone,
            RejectReason::WrongEnterprise,
            RejectReason::BundleStale,
            RejectReason::AlreadyInside,
            RejectReason::DailyLimit,
        ];
        let codes: Vec<_> = reasons.iter().map(|r| r.code()).collect();
        assert_eq!(codes, RejectReason::CODES);
        for r in &reasons {
            let zh = r.message(Lang::Zh);
            let en = r.message(Lang::En);
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{zh}"
            );
            assert!(en.is_ascii() || en.contains('('), "{en}");
            assert_ne!(zh, en);
        }
    }

    #[test]
    fn revocation_is_exact() {
        let mut b = bundle();
        let n = sample_passes()[0].number;
        b.revoked
            .insert(PassNumber::new(n.area(), n.serial() + 1).unwrap());
        let v = verify(&text(0), &b, &gate(3, true, None), issue_time() + 60);
        assert!(v.accepted());
    }
}
