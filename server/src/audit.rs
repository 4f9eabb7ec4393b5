//! # The audit log
//!
//! Who did what, when: pass issue, revoke and re-issue, override reviews, key rotation and
//! compromise, device enrolment and revocation, user and role changes, logins and failed
//! logins, every view or export of full personal data, and the enterprise reporting changes
//! (report submissions and edits, risk-case steps and skips, teams, profiles, grids, supply
//! items and settings).
//!
//! The log is append-only and hash-chained. Entry `n` stores
//! `hash_n = HMAC-SHA256(audit secret, "passgate/audit/v1" ‖ hash_{n-1} ‖ n ‖ at ‖ actor ‖
//! action ‖ subject ‖ detail)` (each field length-prefixed), and the table `audit_head` holds
//! the last `(n, hash_n)`. [`verify_chain`] walks the log and names the first entry that was
//! edited (its hash no longer matches its fields), deleted (a gap in the numbers, or a head
//! that points past the end), or moved (it no longer links to the entry before it).
//!
//! The key is the audit secret in the key directory, not in the database, so someone who can
//! write the database but not read the key directory cannot forge a consistent chain. Whoever
//! holds both can; `docs/operations.md` says to copy the head hash off the machine daily.

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::state::AppState;
use crate::store::{AuditEntry, StoreResult};

/// What was done. The strings are stored; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    PassIssued,
    PassRevoked,
    PassReissued,
    PassesImported,
    ApplicationDecided,
    OverrideReviewed,
    HeldVehicleHandled,
    KeyStatusChanged,
    KeyRotated,
    DeviceEnrolled,
    DeviceRevoked,
    EnrolmentCodeMade,
    UserCreated,
    UserChanged,
    PasswordReset,
    Login,
    LoginFailed,
    PersonalDataViewed,
    PersonalDataExported,
    DataPurged,
    ReportSubmitted,
    RiskCaseOpened,
    RiskStepRecorded,
    TeamChanged,
    EnterpriseProfileChanged,
    GridChanged,
    SupplyItemChanged,
    ReportingSettingsChanged,
}

impl Action {
    pub const ALL: [Action; 28] = [
        Action::PassIssued,
        Action::PassRevoked,
        Action::PassReissued,
        Action::PassesImported,
        Action::ApplicationDecided,
        Action::OverrideReviewed,
        Action::HeldVehicleHandled,
        Action::KeyStatusChanged,
        Action::KeyRotated,
        Action::DeviceEnrolled,
        Action::DeviceRevoked,
        Action::EnrolmentCodeMade,
        Action::UserCreated,
        Action::UserChanged,
        Action::PasswordReset,
        Action::Login,
        Action::LoginFailed,
        Action::PersonalDataViewed,
        Action::PersonalDataExported,
        Action::DataPurged,
        Action::ReportSubmitted,
        Action::RiskCaseOpened,
        Action::RiskStepRecorded,
        Action::TeamChanged,
        Action::EnterpriseProfileChanged,
        Action::GridChanged,
        Action::SupplyItemChanged,
        Action::ReportingSettingsChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::PassIssued => "pass_issued",
            Action::PassRevoked => "pass_revoked",
            Action::PassReissued => "pass_reissued",
            Action::PassesImported => "passes_imported",
            Action::ApplicationDecided => "application_decided",
            Action::OverrideReviewed => "override_reviewed",
            Action::HeldVehicleHandled => "held_vehicle_handled",
            Action::KeyStatusChanged => "key_status_changed",
            Action::KeyRotated => "key_rotated",
            Action::DeviceEnrolled => "device_enrolled",
            Action::DeviceRevoked => "device_revoked",
            Action::EnrolmentCodeMade => "enrolment_code_made",
            Action::UserCreated => "user_created",
            Action::UserChanged => "user_changed",
            Action::PasswordReset => "password_reset",
            Action::Login => "login",
            Action::LoginFailed => "login_failed",
            Action::PersonalDataViewed => "personal_data_viewed",
            Action::PersonalDataExported => "personal_data_exported",
            Action::DataPurged => "data_purged",
            Action::ReportSubmitted => "report_submitted",
            Action::RiskCaseOpened => "risk_case_opened",
            Action::RiskStepRecorded => "risk_step_recorded",
            Action::TeamChanged => "team_changed",
            Action::EnterpriseProfileChanged => "enterprise_profile_changed",
            Action::GridChanged => "grid_changed",
            Action::SupplyItemChanged => "supply_item_changed",
            Action::ReportingSettingsChanged => "reporting_settings_changed",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The fields of an entry that its hash covers, before it has a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub at: i64,
    pub actor: String,
    pub action: Action,
    pub subject: String,
    /// A small JSON object with the particulars (never a secret or a full ID number).
    pub detail: String,
}

/// The chain hash of entry `seq` with these fields after `prev_hash`.
pub fn entry_hash(secret: &[u8; 32], prev_hash: &str, seq: i64, e: &NewEntryRef<'_>) -> String {
    // `new_from_slice` accepts any key length for HMAC; a 32-byte key cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return String::new();
    };
    let mut field = |bytes: &[u8]| {
        mac.update(&(bytes.len() as u64).to_be_bytes());
        mac.update(bytes);
    };
    field(b"passgate/audit/v1");
    field(prev_hash.as_bytes());
    field(&seq.to_be_bytes());
    field(&e.at.to_be_bytes());
    field(e.actor.as_bytes());
    field(e.action.as_bytes());
    field(e.subject.as_bytes());
    field(e.detail.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The hashed fields of an entry, borrowed (the action as its stored text, so an entry with
/// an action this build does not know can still be checked).
#[derive(Debug, Clone, Copy)]
pub struct NewEntryRef<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub detail: &'a str,
}

impl<'a> From<&'a NewEntry> for NewEntryRef<'a> {
    fn from(e: &'a NewEntry) -> Self {
        NewEntryRef {
            at: e.at,
            actor: &e.actor,
            action: e.action.as_str(),
            subject: &e.subject,
            detail: &e.detail,
        }
    }
}

impl<'a> From<&'a AuditEntry> for NewEntryRef<'a> {
    fn from(e: &'a AuditEntry) -> Self {
        NewEntryRef {
            at: e.at,
            actor: &e.actor,
            action: &e.action,
            subject: &e.subject,
            detail: &e.detail,
        }
    }
}

/// The first place the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The entry's fields no longer match its hash.
    Edited { seq: i64 },
    /// Numbers jump: the entries from `from` to `to` (inclusive) are gone.
    Deleted { from: i64, to: i64 },
    /// The entry does not link to the one before it (moved or replaced).
    Relinked { seq: i64 },
    /// The head says the log goes to `head`, but it ends at `last`: the newest were deleted.
    TailDeleted { last: i64, head: i64 },
    /// The head's hash differs from the last entry's.
    HeadMismatch { seq: i64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Edited { seq } => write!(
                f,
                "entry {seq} was edited: its fields do not match its hash / 第 {seq} 条被修改"
            ),
            Break::Deleted { from, to } if from == to => {
                write!(f, "entry {from} was deleted / 第 {from} 条被删除")
            }
            Break::Deleted { from, to } => write!(
                f,
                "entries {from} to {to} were deleted / 第 {from} 至 {to} 条被删除"
            ),
            Break::Relinked { seq } => write!(
                f,
                "entry {seq} does not follow the entry before it: moved or replaced / 第 {seq} 条顺序被改动或被替换"
            ),
            Break::TailDeleted { last, head } => write!(
                f,
                "the log ends at entry {last} but reached {head}: the newest entries were deleted / 最新的第 {} 至 {head} 条被删除",
                last + 1
            ),
            Break::HeadMismatch { seq } => write!(
                f,
                "the chain head does not match entry {seq}: the newest entry was replaced / 链头与第 {seq} 条不符"
            ),
        }
    }
}

/// What [`verify_chain`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Entries checked.
    pub entries: u64,
    pub last_hash: String,
    pub first_break: Option<Break>,
}

/// Walk `entries` (in `seq` order, as stored) against the head `(seq, hash)`.
pub fn verify_chain(
    secret: &[u8; 32],
    entries: impl IntoIterator<Item = AuditEntry>,
    head: (i64, String),
) -> Verdict {
    let mut expected_seq = 1;
    let mut prev_hash = String::new();
    let mut count = 0;
    for e in entries {
        count += 1;
        if e.seq != expected_seq {
            let first_break = if e.seq > expected_seq {
                Break::Deleted {
                    from: expected_seq,
                    to: e.seq - 1,
                }
            } else {
                Break::Relinked { seq: e.seq }
            };
            return Verdict {
                entries: count,
                last_hash: prev_hash,
                first_break: Some(first_break),
            };
        }
        let own = entry_hash(secret, &e.prev_hash, e.seq, &NewEntryRef::from(&e));
        // Not linking to the entry before is a move (or a replacement); linking but not
        // matching its own hash is an edit.
        let first_break = if e.prev_hash != prev_hash {
            Some(Break::Relinked { seq: e.seq })
        } else if own != e.hash {
            Some(Break::Edited { seq: e.seq })
        } else {
            None
        };
        if first_break.is_some() {
            return Verdict {
                entries: count,
                last_hash: prev_hash,
                first_break,
            };
        }
        prev_hash = e.hash;
        expected_seq += 1;
    }
    let last = expected_seq - 1;
    let first_break = if head.0 > last {
        Some(Break::TailDeleted { last, head: head.0 })
    } else if head.0 < last || head.1 != prev_hash {
        Some(Break::HeadMismatch { seq: last })
    } else {
        None
    };
    Verdict {
        entries: count,
        last_hash: prev_hash,
        first_break,
    }
}

/// Append an entry. A failure to audit is logged loudly and returned: callers that change
/// data record the entry in the same request, after the change.
pub async fn record(
    st: &AppState,
    actor: &str,
    action: Action,
    subject: &str,
    detail: serde_json::Value,
) -> StoreResult<i64> {
    let entry = NewEntry {
        at: crate::state::now(),
        actor: actor.to_owned(),
        action,
        subject: subject.to_owned(),
        detail: detail.to_string(),
    };
    let secret = st.audit_secret.clone();
    let result = st
        .store
        .append_audit(&entry, &move |prev, seq, e| {
            entry_hash(&secret, prev, seq, &e.into())
        })
        .await;
    if let Err(e) = &result {
        tracing::error!(error = %e, action = action.as_str(), subject, "audit entry NOT recorded");
    }
    result
}

/// Walk the whole stored chain, a page at a time.
pub async fn verify_store(st: &AppState) -> StoreResult<Verdict> {
    const PAGE: u32 = 10_000;
    let head = st.store.audit_head().await?;
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = st.store.audit_entries(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let full = page.len() == PAGE as usize;
        all.extend(page);
        if !full {
            break;
        }
    }
    Ok(verify_chain(&st.audit_secret, all, head))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = String::new();
        (1..=n)
            .map(|seq| {
                let e = NewEntry {
                    at: 1_800_000_000 + seq,
                    actor: "ops1".into(),
                    action: Action::PassIssued,
                    subject: format!("pass:{seq}"),
                    detail: "{}".into(),
                };
                let hash = entry_hash(&KEY, &prev, seq, &(&e).into());
                let entry = AuditEntry {
                    seq,
                    at: e.at,
                    actor: e.actor,
                    action: e.action.as_str().into(),
                    subject: e.subject,
                    detail: e.detail,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                entry
            })
            .collect()
    }

    fn head(c: &[AuditEntry]) -> (i64, String) {
        c.last()
            .map(|e| (e.seq, e.hash.clone()))
            .unwrap_or((0, String::new()))
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        let v = verify_chain(&KEY, c.clone(), head(&c));
        assert_eq!(v.first_break, None);
        assert_eq!(v.entries, 5);
        assert_eq!(
            verify_chain(&KEY, Vec::new(), (0, String::new())).first_break,
            None
        );
    }

    #[test]
    fn each_kind_of_tampering_is_named() {
        let c = chain(6);
        let h = head(&c);
        let mut edited = c.clone();
        edited[2].actor = "someone else".into();
        assert_eq!(
            verify_chain(&KEY, edited, h.clone()).first_break,
            Some(Break::Edited { seq: 3 })
        );

        let mut deleted = c.clone();
        deleted.remove(3);
        assert_eq!(
            verify_chain(&KEY, deleted, h.clone()).first_break,
            Some(Break::Deleted { from: 4, to: 4 })
        );

        // Swapping two entries' contents while keeping the numbers in order.
        let mut swapped = c.clone();
        let (a, b) = (swapped[1].clone(), swapped[2].clone());
        swapped[1] = AuditEntry { seq: 2, ..b };
        swapped[2] = AuditEntry { seq: 3, ..a };
        assert_eq!(
            verify_chain(&KEY, swapped, h.clone()).first_break,
            Some(Break::Relinked { seq: 2 })
        );

        let mut tail = c.clone();
        tail.truncate(4);
        assert_eq!(
            verify_chain(&KEY, tail, h.clone()).first_break,
            Some(Break::TailDeleted { last: 4, head: 6 })
        );

        // Rebuilt with another key (someone without the audit secret).
        let mut forged = c.clone();
        forged[5].detail = "{\"x\":1}".into();
        forged[5].hash = entry_hash(&[9; 32], &forged[5].prev_hash, 6, &(&forged[5]).into());
        assert_eq!(
            verify_chain(&KEY, forged, h).first_break,
            Some(Break::Edited { seq: 6 })
        );
    }

    #[test]
    fn fields_are_length_prefixed() {
        let a = NewEntryRef {
            at: 1,
            actor: "ab",
            action: "c",
            subject: "",
            detail: "",
        };
        let b = NewEntryRef {
            at: 1,
            actor: "a",
            action: "bc",
            subject: "",
            detail: "",
        };
        assert_ne!(entry_hash(&KEY, "", 1, &a), entry_hash(&KEY, "", 1, &b));
    }

    #[test]
    fn action_names_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
    }
}
