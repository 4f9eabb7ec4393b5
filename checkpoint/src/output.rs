//! How a verdict is shown: the guard's screen (Chinese by default, English on request) and
//! the one-line JSON object for scripts and end-to-end tests.
//!
//! Times are shown in Beijing time (UTC+8), the zone's civil time.

use chrono::{DateTime, FixedOffset, Offset};
use passgate_shared::time::LOCAL_OFFSET_SECONDS;
use passgate_shared::{Bundle, CheckpointId, Lang, Pass, PassClass, UnixSeconds};
use serde_json::{Value, json};

use crate::scan::ScanOutcome;

/// The first line of an accepted verdict.
pub const HEADLINE_ACCEPTED: &str = "放行 ACCEPTED";
/// The first line of a rejected verdict.
pub const HEADLINE_REJECTED: &str = "拒绝 REJECTED";

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

/// The verdict's main message: the reason when rejected, else a plain "accepted".
pub fn verdict_message(outcome: &ScanOutcome, lang: Lang) -> String {
    match &outcome.verdict.reason {
        Some(r) => r.message(lang),
        None => lang.pick("准予通行", "pass accepted").to_owned(),
    }
}

/// The guard's screen for one verdict: the headline on the first line, then the reason
/// (when refused), the pass's fields, warnings and the record number. No trailing newline.
pub fn render_human(outcome: &ScanOutcome, lang: Lang, bundle: Option<&Bundle>) -> String {
    let v = &outcome.verdict;
    let r = &outcome.record;
    let mut lines: Vec<String> = Vec::new();
    lines.push(
        if v.accepted() {
            HEADLINE_ACCEPTED
        } else {
            HEADLINE_REJECTED
        }
        .to_owned(),
    );
    let field = |zh: &str, en: &str, value: String| match lang {
        Lang::Zh => format!("{zh}：{value}"),
        Lang::En => format!("{en}: {value}"),
    };
    if let Some(reason) = &v.reason {
        lines.push(field("原因", "Reason", reason.message(lang)));
    }
    match &v.pass {
        Some(p) => pass_lines(p, lang, bundle, &mut lines, &field),
        None => lines.push(
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
    for w in &v.warnings {
        lines.push(format!("⚠ {}", w.message(lang)));
    }
    lines.push(match lang {
        Lang::Zh => format!("记录：第 {} 条，{}", r.seq, local_minute(r.scanned_at)),
        Lang::En => format!("Record: #{}, {}", r.seq, local_minute(r.scanned_at)),
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

/// A report row's verdict column: `放行` / `拒绝:code` (zh), `accepted` / `rejected:code` (en).
pub fn verdict_label(verdict: &str, lang: Lang) -> String {
    match (verdict, lang) {
        ("accepted", l) => l.pick("放行", "accepted").to_owned(),
        (code, Lang::Zh) => format!("拒绝:{code}"),
        (code, Lang::En) => format!("rejected:{code}"),
    }
}

/// The verdict as one JSON object (see the crate docs for the fields).
pub fn verdict_json(outcome: &ScanOutcome, lang: Lang) -> Value {
    let v = &outcome.verdict;
    let r = &outcome.record;
    let p = v.pass.as_ref();
    json!({
        "accepted": v.accepted(),
        "reason": v.reason.as_ref().map(|r| r.code()),
        "message": verdict_message(outcome, lang),
        "warnings": v.warnings.iter().map(|w| w.code()).collect::<Vec<_>>(),
        "warning_messages": v.warnings.iter().map(|w| w.message(lang)).collect::<Vec<_>>(),
        "number": p.map(|p| p.number.to_string()),
        "plate": p.map(|p| p.plate.to_string()),
        "class": p.map(|p| p.class.as_str()),
        "class_name": p.map(|p| class_name(p.class, lang)),
        "valid_from": p.map(|p| rfc3339(p.validity.from().to_unix())),
        "valid_until": p.map(|p| rfc3339(p.validity.until().to_unix())),
        "driver": p.map(|p| p.crew.driver.to_string()),
        "co_driver": p.and_then(|p| p.crew.co_driver.as_ref().map(ToString::to_string)),
        "cargo": p.map(|p| p.cargo.as_str()),
        "origin": p.map(|p| p.route.origin.to_string()),
        "destination": p.map(|p| p.route.destination.to_string()),
        "route_checkpoints": p.map(|p| p.route.checkpoints.iter().map(|c| c.0).collect::<Vec<_>>()),
        "max_dwell_minutes": p.and_then(|p| p.max_dwell_minutes),
        "enterprise_id": p.map(|p| p.enterprise.0),
        "direction": r.direction.as_str(),
        "scan_id": r.id,
        "seq": r.seq,
        "scanned_at": rfc3339(r.scanned_at),
        "checkpoint_id": r.checkpoint_id.0,
        "bundle_version": r.bundle_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use passgate_shared::sync::{Direction, ScanRecord};
    use passgate_shared::vectors::{issue_time, sample_passes};
    use passgate_shared::{RejectReason, Verdict, Warning};

    fn outcome(verdict: Verdict) -> ScanOutcome {
        let p = verdict.pass.as_ref();
        ScanOutcome {
            record: ScanRecord {
                id: "0123456789abcdef0123456789abcdef".into(),
                seq: 7,
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
            },
            verdict,
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
        let text = render_human(&out, Lang::Zh, None);
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
        let zh = render_human(&out, Lang::Zh, None);
        assert!(zh.starts_with("放行 ACCEPTED\n"), "{zh}");
        assert!(zh.contains("线路：419001 → 410102"), "{zh}");
        assert!(zh.contains("线路查验点：3 → 7 → 12"), "{zh}");
        assert!(zh.contains("司乘人员：张*明、李*"), "{zh}");
        assert!(
            zh.contains("有效期：2026-12-01 08:00 至 2026-12-08 08:00（北京时间）"),
            "{zh}"
        );
        assert!(zh.contains("80 小时未更新"), "{zh}");
        let en = render_human(&out, Lang::En, None);
        assert!(en.contains("Class: long-haul closed-loop"), "{en}");
        assert!(en.contains("Crew: 张*明, 李*"), "{en}");
        assert!(en.contains("80 hours old"), "{en}");
    }
}
