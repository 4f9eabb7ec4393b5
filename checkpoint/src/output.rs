//! How a verdict is shown: the guard's screen (Chinese by default, English on request) and
//! the one-line JSON object for scripts and end-to-end tests.
//!
//! Times are shown in Beijing time (UTC+8), the zone's civil time.

use chrono::{DateTime, FixedOffset, Offset};
use passgate_shared::keys::KeyId;
use passgate_shared::record::{HealthCode, Observations};
use passgate_shared::time::LOCAL_OFFSET_SECONDS;
use passgate_shared::{
    Bundle, CheckpointId, Lang, Pass, PassClass, RejectReason, UnixSeconds, Warning,
};
use serde_json::{Value, json};

use crate::scan::ScanOutcome;

/// The first line of an accepted verdict.
pub const HEADLINE_ACCEPTED: &str = "放行 ACCEPTED";
/// The first line of a rejected verdict.
pub const HEADLINE_REJECTED: &str = "拒绝 REJECTED";
/// The first line of a rejection a supervisor overrode.
pub const HEADLINE_OVERRIDE: &str = "放行（主管特批） ACCEPTED WITH OVERRIDE";

/// Warning codes shown loudly: the guard must not miss them.
pub const LOUD_WARNINGS: [&str; 3] = ["clock_behind", "overstayed", "bundle_stale"];

fn beijing_offset() -> FixedOffset {
    // The constant is a valid offset; fall back to UTC rather than panic.
    FixedOffset::east_opt(LOCAL_OFFSET_SECONDS).unwrap_or(chrono::Utc.fix())
}

/// `t` in Beijing time, if representable.
pub fn beijing(t: UnixSeconds) -> Option<DateTime<FixedOffset>> {
    DateTime::from_timestamp(t, 0).map(|d| d.with_timezone(&beijing_offset()))
}

/// RFC 3339 in Beijing time, e.g. `2026-12-01T08:00:00+08:00`.
pub fn rfc3339(t: UnixSeconds) -> String {
    beijing(t).map_or_else(|| t.to_string(), |d| d.to_rfc3339())
}

/// `2026-12-01 08:00` in Beijing time.
pub fn local_minute(t: UnixSeconds) -> String {
    beijing(t).map_or_else(|| t.to_string(), |d| d.format("%Y-%m-%d %H:%M").to_string())
}

/// A duration in seconds as `3 天 4 小时` / `3 d 4 h`, or hours and minutes when short.
pub fn human_duration(secs: i64, lang: Lang) -> String {
    let secs = secs.max(0);
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (lang, d > 0) {
        (Lang::Zh, true) => format!("{d} 天 {h} 小时"),
        (Lang::Zh, false) => format!("{h} 小时 {m} 分钟"),
        (Lang::En, true) => format!("{d} d {h} h"),
        (Lang::En, false) => format!("{h} h {m} min"),
    }
}

/// The class's name in `lang`.
pub fn class_name(class: PassClass, lang: Lang) -> &'static str {
    lang.pick(class.name_zh(), class.name_en())
}

fn checkpoint_label(id: CheckpointId, bundle: Option<&Bundle>) -> String {
    match bundle.and_then(|b| b.checkpoint(id)) {
        Some(c) => format!("{id} {}", c.name),
        None => id.to_string(),
    }
}

/// A reject reason from its stable code, for records read back from the log (the pass's
/// details are not stored). Codes whose message depends on data not kept give `None`.
pub fn reason_from_code(code: &str) -> Option<RejectReason> {
    Some(match code {
        "unknown_key" => RejectReason::UnknownKey(KeyId(0)),
        "key_compromised" => RejectReason::KeyCompromised(KeyId(0)),
        "key_not_valid" => RejectReason::KeyNotValid(KeyId(0)),
        "bad_signature" => RejectReason::BadSignature,
        "not_yet_valid" => RejectReason::NotYetValid,
        "expired" => RejectReason::Expired,
        "revoked" => RejectReason::Revoked,
        "off_route" => RejectReason::OffRoute,
        "outside_zone" => RejectReason::OutsideZone,
        "wrong_enterprise" => RejectReason::WrongEnterprise,
        "bundle_stale" => RejectReason::BundleStale,
        "already_inside" => RejectReason::AlreadyInside,
        "daily_limit" => RejectReason::DailyLimit,
        _ => return None,
    })
}

/// What a reject reason code means, for people.
pub fn reason_message(code: &str, lang: Lang) -> String {
    match (reason_from_code(code), code, lang) {
        (Some(r), _, _) => r.message(lang),
        (None, "malformed", l) => l
            .pick(
                "通行证二维码无法读取或已损坏",
                "the pass QR code was unreadable or damaged",
            )
            .to_owned(),
        (None, c, Lang::Zh) => format!("拒绝（{c}）"),
        (None, c, Lang::En) => format!("rejected ({c})"),
    }
}

/// The verdict's main message: the reason when rejected, the override when overridden, else
/// a plain "accepted".
pub fn verdict_message(outcome: &ScanOutcome, lang: Lang) -> String {
    let r = &outcome.record;
    if r.override_by.is_some() {
        let why = r
            .reason
            .as_deref()
            .map_or_else(String::new, |c| reason_message(c, lang));
        return match lang {
            Lang::Zh => format!("主管特批放行（原拒绝原因：{why}）"),
            Lang::En => format!("accepted with a supervisor override (it was refused: {why})"),
        };
    }
    match (&outcome.verdict.reason, &r.reason) {
        (Some(reason), _) => reason.message(lang),
        (None, Some(code)) => reason_message(code, lang),
        (None, None) => lang.pick("准予通行", "pass accepted").to_owned(),
    }
}

fn yes_no(v: bool, lang: Lang, zh: (&'static str, &'static str)) -> &'static str {
    match (lang, v) {
        (Lang::Zh, true) => zh.0,
        (Lang::Zh, false) => zh.1,
        (Lang::En, true) => "yes",
        (Lang::En, false) => "no",
    }
}

/// The "two codes one pass" observations as one line, or `None` when none was recorded.
pub fn observations_line(o: &Observations, lang: Lang) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(h) = o.health_code {
        let colour = match (lang, h) {
            (Lang::Zh, HealthCode::Green) => "绿码",
            (Lang::Zh, HealthCode::Yellow) => "黄码",
            (Lang::Zh, HealthCode::Red) => "红码",
            (Lang::En, h) => h.as_str(),
        };
        parts.push(match lang {
            Lang::Zh => format!("健康码 {colour}"),
            Lang::En => format!("health code {colour}"),
        });
    }
    if let Some(v) = o.itinerary_ok {
        parts.push(match lang {
            Lang::Zh => format!("行程卡 {}", yes_no(v, lang, ("正常", "异常"))),
            Lang::En => format!("itinerary card ok: {}", yes_no(v, lang, ("", ""))),
        });
    }
    if let Some(v) = o.negative_test_48h {
        parts.push(match lang {
            Lang::Zh => format!("48小时核酸 {}", yes_no(v, lang, ("阴性", "无"))),
            Lang::En => format!("negative test within 48 h: {}", yes_no(v, lang, ("", ""))),
        });
    }
    if let Some(v) = o.temperature_ok {
        parts.push(match lang {
            Lang::Zh => format!("体温 {}", yes_no(v, lang, ("正常", "异常"))),
            Lang::En => format!("temperature normal: {}", yes_no(v, lang, ("", ""))),
        });
    }
    (!parts.is_empty()).then(|| parts.join(lang.pick("，", ", ")))
}

fn loud(text: String, color: bool) -> String {
    if color {
        format!("\x1b[1;30;43m ⚠⚠ {text} ⚠⚠ \x1b[0m")
    } else {
        format!("⚠⚠ {text} ⚠⚠")
    }
}

/// The message of a warning code read back from the log (no payload kept).
fn warning_code_message(code: &str, lang: Lang) -> String {
    match code {
        "clock_behind" => lang
            .pick(
                "警告：本机时钟早于已知时间，可能被回拨",
                "WARNING: this gate's clock is behind the latest known time (set back?)",
            )
            .to_owned(),
        "overstayed" => lang
            .pick("超时滞留，已记录上报", "overstay, recorded for review")
            .to_owned(),
        c => c.to_owned(),
    }
}

/// The fallback line: the gate decided with an older good bundle.
pub fn fallback_message(f: &crate::trust::Fallback, version: u64, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!(
            "警告：本机存储的信任数据（版本 {}）已损坏，正在使用上一份完好的信任数据（版本 {version}），请立即同步",
            f.damaged_version
        ),
        Lang::En => format!(
            "WARNING: the stored trust bundle version {} is damaged ({}); deciding with the previous good one (version {version}); sync now",
            f.damaged_version, f.why
        ),
    }
}

/// The guard's screen for one verdict: the headline on the first line, then the reason
/// (when refused), the pass's fields, warnings (the serious ones loud) and the record
/// number. With `color`, the headline and loud warnings are coloured for a terminal. No
/// trailing newline.
pub fn render_human(
    outcome: &ScanOutcome,
    lang: Lang,
    bundle: Option<&Bundle>,
    color: bool,
) -> String {
    let v = &outcome.verdict;
    let r = &outcome.record;
    let mut lines: Vec<String> = Vec::new();
    let overridden = r.override_by.is_some();
    lines.push(match (color, overridden, r.accepted) {
        (false, true, _) => HEADLINE_OVERRIDE.to_owned(),
        (false, false, true) => HEADLINE_ACCEPTED.to_owned(),
        (false, false, false) => HEADLINE_REJECTED.to_owned(),
        (true, true, _) => format!("\x1b[1;30;43m  {HEADLINE_OVERRIDE}  \x1b[0m"),
        (true, false, a) => headline_for_terminal(a),
    });
    let field = |zh: &str, en: &str, value: String| match lang {
        Lang::Zh => format!("{zh}：{value}"),
        Lang::En => format!("{en}: {value}"),
    };
    if let Some(f) = &outcome.bundle_fallback {
        lines.push(loud(fallback_message(f, r.bundle_version, lang), color));
    }
    if !r.accepted || overridden {
        lines.push(field("原因", "Reason", verdict_message(outcome, lang)));
    }
    if let (Some(o), Some(orig)) = (&r.override_by, &outcome.overridden) {
        lines.push(field("特批主管", "Supervisor", o.supervisor_id.clone()));
        lines.push(field("特批理由", "Override reason", o.reason.clone()));
        lines.push(match lang {
            Lang::Zh => format!(
                "特批的记录：第 {} 条（{}）",
                orig.seq,
                local_minute(orig.scanned_at)
            ),
            Lang::En => format!(
                "Overrides record #{} ({})",
                orig.seq,
                local_minute(orig.scanned_at)
            ),
        });
    }
    match (&v.pass, overridden) {
        (Some(p), _) => pass_lines(p, lang, bundle, &mut lines, &field),
        (None, true) => {
            if let Some(plate) = &r.plate {
                lines.push(field("车牌", "Plate", plate.clone()));
            }
            if let Some(n) = r.number {
                lines.push(field("证号", "Pass no.", n.to_string()));
            }
        }
        (None, false) => lines.push(
            lang.pick(
                "无法确认通行证内容（无法读取或签名未通过），请勿按其内容放行",
                "the pass content could not be verified (unreadable or bad signature); do not rely on it",
            )
            .to_owned(),
        ),
    }
    let dir = match lang {
        Lang::Zh => r.direction.name_zh().to_owned(),
        Lang::En => r.direction.as_str().to_owned(),
    };
    lines.push(field("方向", "Direction", dir));
    if let Some(m) = r.dwell_minutes {
        lines.push(match lang {
            Lang::Zh => format!("厂内停留：{m} 分钟"),
            Lang::En => format!("Time inside: {m} min"),
        });
    }
    if let Some(obs) = observations_line(&r.observations, lang) {
        lines.push(field("两码查验", "Checks", obs));
    }
    let messages: Vec<(String, String)> = if v.warnings.is_empty() {
        r.warnings
            .iter()
            .map(|c| (c.clone(), warning_code_message(c, lang)))
            .collect()
    } else {
        v.warnings
            .iter()
            .map(|w: &Warning| (w.code().to_owned(), w.message(lang)))
            .collect()
    };
    for (code, msg) in messages {
        if LOUD_WARNINGS.contains(&code.as_str()) {
            lines.push(loud(msg, color));
        } else {
            lines.push(format!("⚠ {msg}"));
        }
    }
    let guard = r
        .guard_id
        .as_deref()
        .map(|g| match lang {
            Lang::Zh => format!("，查验人 {g}"),
            Lang::En => format!(", guard {g}"),
        })
        .unwrap_or_default();
    lines.push(match lang {
        Lang::Zh => format!(
            "记录：第 {} 条，{}{guard}",
            r.seq,
            local_minute(r.scanned_at)
        ),
        Lang::En => format!("Record: #{}, {}{guard}", r.seq, local_minute(r.scanned_at)),
    });
    lines.join("\n")
}

fn pass_lines(
    p: &Pass,
    lang: Lang,
    bundle: Option<&Bundle>,
    lines: &mut Vec<String>,
    field: &dyn Fn(&str, &str, String) -> String,
) {
    lines.push(field("车牌", "Plate", p.plate.to_string()));
    lines.push(field("类别", "Class", class_name(p.class, lang).to_owned()));
    lines.push(field("证号", "Pass no.", p.number.to_string()));
    let (from, until) = (p.validity.from().to_unix(), p.validity.until().to_unix());
    lines.push(match lang {
        Lang::Zh => {
            format!(
                "有效期：{} 至 {}（北京时间）",
                local_minute(from),
                local_minute(until)
            )
        }
        Lang::En => {
            format!(
                "Valid: {} to {} (Beijing time)",
                local_minute(from),
                local_minute(until)
            )
        }
    });
    let crew = match &p.crew.co_driver {
        Some(c) => format!("{}{}{}", p.crew.driver, lang.pick("、", ", "), c),
        None => p.crew.driver.to_string(),
    };
    lines.push(field("司乘人员", "Crew", crew));
    lines.push(field(
        "线路",
        "Route",
        format!("{} → {}", p.route.origin, p.route.destination),
    ));
    if !p.route.checkpoints.is_empty() {
        let cps: Vec<String> = p
            .route
            .checkpoints
            .iter()
            .map(|c| checkpoint_label(*c, bundle))
            .collect();
        lines.push(field("线路查验点", "Route checkpoints", cps.join(" → ")));
    }
    if let Some(m) = p.max_dwell_minutes {
        lines.push(match lang {
            Lang::Zh => format!("最长停留：{m} 分钟（超时即为滞留超时）"),
            Lang::En => format!("Max dwell: {m} min (longer is an overstay)"),
        });
    }
    lines.push(field(
        "货物",
        "Cargo",
        lang.pick(p.cargo.name_zh(), p.cargo.name_en()).to_owned(),
    ));
}

/// The headline for a terminal: white on green or red, padded, so it reads from a distance.
pub fn headline_for_terminal(accepted: bool) -> String {
    if accepted {
        format!("\x1b[1;97;42m  {HEADLINE_ACCEPTED}  \x1b[0m")
    } else {
        format!("\x1b[1;97;41m  {HEADLINE_REJECTED}  \x1b[0m")
    }
}

/// A report row's verdict column: `放行` / `特批放行` / `拒绝:code` (zh), `accepted` /
/// `override` / `rejected:code` (en).
pub fn verdict_label(verdict: &str, lang: Lang) -> String {
    match (verdict, lang) {
        ("accepted", l) => l.pick("放行", "accepted").to_owned(),
        ("override", l) => l.pick("特批放行", "override").to_owned(),
        (code, Lang::Zh) => format!("拒绝:{code}"),
        (code, Lang::En) => format!("rejected:{code}"),
    }
}

/// The verdict as one JSON object (see the crate docs for the fields).
pub fn verdict_json(outcome: &ScanOutcome, lang: Lang) -> Value {
    let v = &outcome.verdict;
    let r = &outcome.record;
    let p = v.pass.as_ref();
    let warning_messages: Vec<String> = if v.warnings.is_empty() {
        r.warnings
            .iter()
            .map(|c| warning_code_message(c, lang))
            .collect()
    } else {
        v.warnings.iter().map(|w| w.message(lang)).collect()
    };
    json!({
        "accepted": r.accepted,
        "reason": r.reason,
        "verdict": r.verdict_label(),
        "message": verdict_message(outcome, lang),
        "warnings": r.warnings,
        "warning_messages": warning_messages,
        "number": r.number.map(|n| n.to_string()),
        "plate": r.plate,
        "class": r.class.map(PassClass::as_str),
        "class_name": r.class.map(|c| class_name(c, lang)),
        "valid_from": p.map(|p| rfc3339(p.validity.from().to_unix())),
        "valid_until": p.map(|p| rfc3339(p.validity.until().to_unix())),
        "driver": p.map(|p| p.crew.driver.to_string()),
        "co_driver": p.and_then(|p| p.crew.co_driver.as_ref().map(ToString::to_string)),
        "cargo": p.map(|p| p.cargo.as_str()),
        "origin": p.map(|p| p.route.origin.to_string()),
        "destination": p.map(|p| p.route.destination.to_string()),
        "route_checkpoints": p.map(|p| p.route.checkpoints.iter().map(|c| c.0).collect::<Vec<_>>()),
        "max_dwell_minutes": outcome.max_dwell_minutes,
        "enterprise_id": p.map(|p| p.enterprise.0),
        "direction": r.direction.as_str(),
        "dwell_minutes": r.dwell_minutes,
        "override": r.override_by.as_ref().map(|o| json!({
            "supervisor_id": o.supervisor_id,
            "reason": o.reason,
            "overrides_seq": r.overrides_seq,
        })),
        "guard_id": r.guard_id,
        "observations": r.observations,
        "scan_id": r.id,
        "seq": r.seq,
        "prev_hash": r.prev_hash,
        "hash": outcome.hash,
        "scanned_at": rfc3339(r.scanned_at),
        "time_floor": rfc3339(outcome.time_floor),
        "device_id": r.device_id.0,
        "checkpoint_id": r.checkpoint_id.0,
        "bundle_version": r.bundle_version,
        "bundle_fallback": outcome.bundle_fallback.as_ref().map(|f| json!({
            "damaged_version": f.damaged_version,
            "why": f.why,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use passgate_shared::record::{DeviceId, GENESIS_HASH, GateRecord, Override};
    use passgate_shared::sync::Direction;
    use passgate_shared::vectors::{issue_time, sample_passes};
    use passgate_shared::{RejectReason, Verdict, Warning};

    fn outcome(verdict: Verdict) -> ScanOutcome {
        let p = verdict.pass.as_ref();
        let record = GateRecord {
            id: "0123456789abcdef0123456789abcdef".into(),
            device_id: DeviceId(2),
            seq: 7,
            prev_hash: GENESIS_HASH.into(),
            checkpoint_id: CheckpointId(3),
            scanned_at: issue_time() + 3600,
            direction: Direction::Out,
            number: p.map(|p| p.number),
            class: p.map(|p| p.class),
            plate: p.map(|p| p.plate.to_string()),
            accepted: verdict.accepted(),
            reason: verdict.reason.as_ref().map(|r| r.code().into()),
            warnings: verdict.warnings.iter().map(|w| w.code().into()).collect(),
            bundle_version: 9,
            guard_id: Some("g-1".into()),
            observations: Observations {
                health_code: Some(HealthCode::Green),
                temperature_ok: Some(true),
                ..Default::default()
            },
            override_by: None,
            overrides_seq: None,
            dwell_minutes: None,
        };
        ScanOutcome {
            hash: record.hash_hex(),
            max_dwell_minutes: p.and_then(|p| p.max_dwell_minutes),
            record,
            verdict,
            time_floor: issue_time(),
            overridden: None,
            bundle_fallback: None,
        }
    }

    #[test]
    fn times_are_beijing_time() {
        assert_eq!(rfc3339(issue_time()), "2026-12-01T08:00:00+08:00");
        assert_eq!(local_minute(issue_time()), "2026-12-01 08:00");
        assert_eq!(
            human_duration(3 * 86_400 + 4 * 3600 + 59, Lang::Zh),
            "3 天 4 小时"
        );
        assert_eq!(human_duration(3600 + 120, Lang::En), "1 h 2 min");
    }

    #[test]
    fn accepted_json_shape() {
        let pass = sample_passes()[2].clone();
        let v = verdict_json(
            &outcome(Verdict {
                pass: Some(pass),
                reason: None,
                warnings: vec![Warning::RetiredKey],
            }),
            Lang::En,
        );
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "accepted",
            "reason",
            "message",
            "warnings",
            "number",
            "plate",
            "class",
            "direction",
            "scan_id",
            "seq",
            "valid_from",
            "valid_until",
            "driver",
            "co_driver",
        ] {
            assert!(keys.contains(&k), "missing {k}");
        }
        assert_eq!(v["accepted"], true);
        assert_eq!(v["reason"], serde_json::Value::Null);
        assert_eq!(v["class"], "load_unload_leave");
        assert_eq!(v["number"], "419001000003");
        assert_eq!(v["plate"], "晋E23456");
        assert_eq!(v["warnings"], json!(["retired_key"]));
        assert_eq!(v["max_dwell_minutes"], 120);
        assert_eq!(v["valid_from"], "2026-12-01T08:00:00+08:00");
        assert_eq!(v["valid_until"], "2026-12-03T08:00:00+08:00");
        assert_eq!(v["driver"], "赵**华");
        assert_eq!(v["co_driver"], "钱*");
        assert_eq!(v["direction"], "out");
        assert_eq!(v["seq"], 7);
        assert!(!v.to_string().contains('\n'));
    }

    #[test]
    fn rejected_without_a_trusted_pass() {
        let out = outcome(Verdict {
            pass: None,
            reason: Some(RejectReason::BadSignature),
            warnings: vec![],
        });
        let v = verdict_json(&out, Lang::Zh);
        assert_eq!(v["accepted"], false);
        assert_eq!(v["reason"], "bad_signature");
        assert_eq!(v["message"], RejectReason::BadSignature.message(Lang::Zh));
        for k in [
            "number",
            "plate",
            "class",
            "valid_from",
            "valid_until",
            "driver",
            "co_driver",
        ] {
            assert_eq!(v[k], serde_json::Value::Null, "{k}");
        }
        let text = render_human(&out, Lang::Zh, None, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADLINE_REJECTED);
        assert!(lines[1].contains("签名不符"), "{text}");
        assert!(text.contains("方向：出"), "{text}");
        assert!(text.contains("第 7 条"), "{text}");
    }

    #[test]
    fn human_route_and_warning_lines() {
        let pass = sample_passes()[0].clone();
        let out = outcome(Verdict {
            pass: Some(pass),
            reason: None,
            warnings: vec![Warning::BundleStale { age_hours: 80 }],
        });
        let zh = render_human(&out, Lang::Zh, None, false);
        assert!(zh.starts_with("放行 ACCEPTED\n"), "{zh}");
        assert!(zh.contains("线路：419001 → 410102"), "{zh}");
        assert!(zh.contains("线路查验点：3 → 7 → 12"), "{zh}");
        assert!(zh.contains("司乘人员：张*明、李*"), "{zh}");
        assert!(
            zh.contains("有效期：2026-12-01 08:00 至 2026-12-08 08:00（北京时间）"),
            "{zh}"
        );
        assert!(zh.contains("80 小时未更新"), "{zh}");
        let en = render_human(&out, Lang::En, None, false);
        assert!(en.contains("Class: long-haul closed-loop"), "{en}");
        assert!(en.contains("Crew: 张*明, 李*"), "{en}");
        assert!(en.contains("80 hours old"), "{en}");
    }

    #[test]
    fn override_and_loud_warnings() {
        let pass = sample_passes()[1].clone();
        let mut out = outcome(Verdict {
            pass: Some(pass),
            reason: Some(RejectReason::Expired),
            warnings: vec![Warning::ClockBehind { seconds: 7200 }],
        });
        let zh = render_human(&out, Lang::Zh, None, false);
        assert!(zh.starts_with("拒绝 REJECTED\n"), "{zh}");
        assert!(
            zh.contains("⚠⚠ 警告：本机时钟比已知时间慢 120 分钟"),
            "{zh}"
        );
        assert!(zh.contains("两码查验：健康码 绿码，体温 正常"), "{zh}");
        assert!(zh.contains("查验人 g-1"), "{zh}");
        let v = verdict_json(&out, Lang::Zh);
        assert_eq!(v["verdict"], "expired");
        assert_eq!(v["override"], Value::Null);
        assert_eq!(v["guard_id"], "g-1");
        assert_eq!(v["device_id"], 2);
        assert_eq!(v["observations"]["health_code"], "green");
        assert_eq!(v["observations"]["itinerary_ok"], Value::Null);

        let original = out.record.clone();
        out.record.seq = 8;
        out.record.accepted = true;
        out.record.override_by = Some(Override {
            supervisor_id: "sup-9".into(),
            reason: "escorted by police".into(),
        });
        out.record.overrides_seq = Some(7);
        out.record.warnings = vec![];
        out.verdict = Verdict {
            pass: None,
            reason: None,
            warnings: vec![],
        };
        out.overridden = Some(original);
        let zh = render_human(&out, Lang::Zh, None, false);
        assert!(
            zh.starts_with("放行（主管特批） ACCEPTED WITH OVERRIDE\n"),
            "{zh}"
        );
        assert!(
            zh.contains("主管特批放行（原拒绝原因：通行证已过期）"),
            "{zh}"
        );
        assert!(zh.contains("特批主管：sup-9"), "{zh}");
        assert!(zh.contains("特批的记录：第 7 条"), "{zh}");
        let v = verdict_json(&out, Lang::En);
        assert_eq!(v["accepted"], true);
        assert_eq!(v["reason"], "expired");
        assert_eq!(v["verdict"], "override");
        assert_eq!(v["override"]["supervisor_id"], "sup-9");
        assert_eq!(v["override"]["overrides_seq"], 7);
        assert_eq!(v["number"], "419001000002");
    }
}
