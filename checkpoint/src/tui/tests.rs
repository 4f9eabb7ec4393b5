//! The state machine and the screen, on ratatui's `TestBackend` at 80×24.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use passgate_shared::record::{
    DeviceId, GENESIS_HASH, GateRecord, HealthCode, Observations, Override,
};
use passgate_shared::sync::Direction;
use passgate_shared::vectors::{issue_time, sample_passes};
use passgate_shared::{CheckpointId, Lang, RejectReason, Verdict, Warning};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use unicode_width::UnicodeWidthStr;

use super::defaults::Defaults;
use super::render::{fit, fit_tail, render};
use super::state::{App, Effect, InsideRow, Mode, RepeatFilter, VerdictKind, VerdictView};
use crate::scan::ScanOutcome;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    let mut effects = Vec::new();
    for c in text.chars() {
        effects.extend(app.handle_key(key(KeyCode::Char(c))));
    }
    effects
}

fn outcome(verdict: Verdict, seq: u64, direction: Direction) -> ScanOutcome {
    let p = verdict.pass.as_ref();
    let record = GateRecord {
        id: "0123456789abcdef0123456789abcdef".into(),
        device_id: DeviceId(2),
        seq,
        prev_hash: GENESIS_HASH.into(),
        checkpoint_id: CheckpointId(3),
        scanned_at: issue_time() + 3600,
        direction,
        number: p.map(|p| p.number),
        class: p.map(|p| p.class),
        plate: p.map(|p| p.plate.to_string()),
        accepted: verdict.accepted(),
        reason: verdict.reason.as_ref().map(|r| r.code().into()),
        warnings: verdict.warnings.iter().map(|w| w.code().into()).collect(),
        bundle_version: 9,
        guard_id: Some("王卫".into()),
        observations: Observations {
            health_code: Some(HealthCode::Green),
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

fn accepted(i: usize, lang: Lang) -> VerdictView {
    let out = outcome(
        Verdict {
            pass: Some(sample_passes()[i].clone()),
            reason: None,
            warnings: vec![],
        },
        1,
        Direction::In,
    );
    VerdictView::from_outcome(&out, None, lang)
}

fn revoked(lang: Lang) -> VerdictView {
    let out = outcome(
        Verdict {
            pass: Some(sample_passes()[1].clone()),
            reason: Some(RejectReason::Revoked),
            warnings: vec![],
        },
        2,
        Direction::In,
    );
    VerdictView::from_outcome(&out, None, lang)
}

fn app(lang: Lang) -> App {
    App::new(
        lang,
        "东门卡口".into(),
        Some("王卫".into()),
        Defaults::default(),
        issue_time(),
    )
}

/// The screen as text, one line per row; a wide character's hidden second cell is skipped.
fn screen(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| render(f, app)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let mut skip = 0;
        for x in 0..w {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let s = buf[(x, y)].symbol();
            skip = s.width().saturating_sub(1);
            out.push_str(s);
        }
        out.push('\n');
    }
    out
}

#[test]
fn ready_screen_shows_direction_guard_checks_and_keys() {
    let a = app(Lang::Zh);
    let s = screen(&a, 80, 24);
    for want in [
        "请扫码",
        "方向：进（入厂）",
        "查验人：王卫",
        "东门卡口",
        "两码一证",
        "F1帮助",
        "F10退出",
        "扫码 ▶",
    ] {
        assert!(s.contains(want), "{want}\n{s}");
    }
}

#[test]
fn accepted_scan_fills_the_top_green_with_the_plate() {
    let mut a = app(Lang::Zh);
    a.on_scanned(accepted(0, Lang::Zh));
    assert!(!a.take_bell());
    let s = screen(&a, 80, 24);
    assert!(s.contains("放行"), "{s}");
    assert!(s.contains("准予通行"), "{s}");
    assert!(s.contains("车牌 豫U12345"), "{s}");
    assert!(s.contains("长途闭环"), "{s}");
    assert!(s.contains("司乘 张*明、李*"), "{s}");
    assert!(s.contains("线路 419001 → 410102"), "{s}");
    assert!(s.contains("█"), "the plate in block letters\n{s}");
    assert!(s.contains('豫'), "{s}");
    // The band is green.
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| render(f, &a)).unwrap();
    assert_eq!(terminal.backend().buffer()[(0, 1)].bg, Color::Green);
}

#[test]
fn rejection_is_red_rings_the_bell_and_gives_the_reason() {
    let mut a = app(Lang::Zh);
    a.on_scanned(revoked(Lang::Zh));
    assert_eq!(a.last.as_ref().unwrap().kind, VerdictKind::Rejected);
    let s = screen(&a, 80, 24);
    assert!(s.contains("拒绝"), "{s}");
    assert!(s.contains("原因 通行证已吊销"), "{s}");
    assert!(a.take_bell(), "a rejection sets the bell");
    assert!(!a.take_bell(), "it rings once");
    assert_eq!(a.last_rejected.as_ref().map(|r| r.0), Some(2));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| render(f, &a)).unwrap();
    assert_eq!(terminal.backend().buffer()[(0, 1)].bg, Color::Red);
}

#[test]
fn accepted_with_a_warning_is_amber() {
    let out = outcome(
        Verdict {
            pass: Some(sample_passes()[2].clone()),
            reason: None,
            warnings: vec![Warning::NoEntryRecorded],
        },
        4,
        Direction::Out,
    );
    let v = VerdictView::from_outcome(&out, None, Lang::Zh);
    assert_eq!(v.kind, VerdictKind::Warned);
    assert!(
        v.route.as_deref().unwrap().contains("限停 120 分钟"),
        "{v:?}"
    );
    let mut a = app(Lang::Zh);
    a.on_scanned(v);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| render(f, &a)).unwrap();
    assert_eq!(terminal.backend().buffer()[(0, 1)].bg, Color::Yellow);
    assert!(screen(&a, 80, 24).contains("⚠"));
}

#[test]
fn direction_toggles_with_f2_and_tab_on_an_empty_line() {
    let mut a = app(Lang::Zh);
    assert!(a.handle_key(key(KeyCode::F(2))).is_empty());
    assert_eq!(a.direction, Direction::Out);
    assert!(screen(&a, 80, 24).contains("方向：出（离厂）"));
    a.handle_key(key(KeyCode::Tab));
    assert_eq!(a.direction, Direction::In);
    // With text pending, Tab ends the scan (scanners configured with a Tab suffix).
    let effects = type_text(&mut a, "PG:ABC");
    assert!(effects.is_empty());
    let effects = a.handle_key(key(KeyCode::Tab));
    assert!(
        matches!(&effects[..], [Effect::Scan { text, direction: Direction::In, .. }] if text == "PG:ABC")
    );
    assert_eq!(a.direction, Direction::In);
}

#[test]
fn typed_line_is_a_scan_with_guard_and_checks_then_checks_reset() {
    let mut a = app(Lang::Zh);
    a.handle_key(key(KeyCode::F(3))); // green
    a.handle_key(key(KeyCode::F(4))); // itinerary ok
    a.handle_key(key(KeyCode::F(6))); // temperature ok
    a.handle_key(key(KeyCode::F(6))); // temperature high
    type_text(&mut a, "PG:6BF 8$%*+-./:");
    assert!(screen(&a, 80, 24).contains("PG:6BF 8$%*+-./:"));
    let effects = a.handle_key(key(KeyCode::Enter));
    let [
        Effect::Scan {
            text,
            direction,
            meta,
        },
    ] = &effects[..]
    else {
        panic!("{effects:?}");
    };
    assert_eq!(text, "PG:6BF 8$%*+-./:");
    assert_eq!(*direction, Direction::In);
    assert_eq!(meta.guard_id.as_deref(), Some("王卫"));
    assert_eq!(meta.observations.health_code, Some(HealthCode::Green));
    assert_eq!(meta.observations.itinerary_ok, Some(true));
    assert_eq!(meta.observations.negative_test_48h, None);
    assert_eq!(meta.observations.temperature_ok, Some(false));
    assert!(a.input.is_empty());
    a.on_scanned(accepted(0, Lang::Zh));
    assert_eq!(a.checks, Observations::default(), "back to the defaults");
    // Blank lines are not scans.
    assert!(a.handle_key(key(KeyCode::Enter)).is_empty());
    type_text(&mut a, "   ");
    assert!(a.handle_key(key(KeyCode::Enter)).is_empty());
}

#[test]
fn checks_cycle_and_f7_saves_defaults() {
    let mut a = app(Lang::Zh);
    for want in [
        Some(HealthCode::Green),
        Some(HealthCode::Yellow),
        Some(HealthCode::Red),
        None,
    ] {
        a.handle_key(key(KeyCode::F(3)));
        assert_eq!(a.checks.health_code, want);
    }
    a.handle_key(key(KeyCode::F(3)));
    a.handle_key(key(KeyCode::F(5)));
    a.handle_key(key(KeyCode::F(2)));
    let s = screen(&a, 80, 24);
    assert!(s.contains("健康码 绿码"), "{s}");
    assert!(s.contains("48h核酸 阴性"), "{s}");
    let effects = a.handle_key(key(KeyCode::F(7)));
    let [Effect::SaveDefaults(d)] = &effects[..] else {
        panic!("{effects:?}");
    };
    assert_eq!(d.direction, Direction::Out);
    assert_eq!(d.observations.health_code, Some(HealthCode::Green));
    assert_eq!(d.observations.negative_test_48h, Some(true));
    // Later scans return to the saved checks.
    a.handle_key(key(KeyCode::F(3)));
    a.on_scanned(accepted(0, Lang::Zh));
    assert_eq!(a.checks.health_code, Some(HealthCode::Green));
}

#[test]
fn override_form_records_through_an_effect() {
    let mut a = app(Lang::Zh);
    assert!(a.handle_key(key(KeyCode::F(8))).is_empty());
    assert!(
        screen(&a, 80, 24).contains("没有可特批"),
        "nothing rejected yet"
    );
    a.on_scanned(revoked(Lang::Zh));
    assert!(a.take_bell());
    a.handle_key(key(KeyCode::F(8)));
    assert!(matches!(a.mode, Mode::Override(_)));
    let s = screen(&a, 80, 24);
    assert!(s.contains("主管特批"), "{s}");
    assert!(s.contains("第 2 条"), "{s}");
    // Submitting empty fields is refused in the form.
    assert!(a.handle_key(key(KeyCode::Enter)).is_empty());
    assert!(a.handle_key(key(KeyCode::Enter)).is_empty());
    assert!(screen(&a, 80, 24).contains("请填写特批理由"));
    assert!(matches!(&a.mode, Mode::Override(f) if f.field == 0));
    type_text(&mut a, "防疫物资，护送进厂");
    a.handle_key(key(KeyCode::Enter));
    type_text(&mut a, "李队长");
    let s = screen(&a, 80, 24);
    assert!(
        s.contains("防疫物资，护送进厂") && s.contains("李队长"),
        "{s}"
    );
    let effects = a.handle_key(key(KeyCode::Enter));
    let [Effect::Override(req)] = &effects[..] else {
        panic!("{effects:?}");
    };
    assert_eq!(req.seq, Some(2));
    assert_eq!(req.supervisor_id, "李队长");
    assert_eq!(req.reason, "防疫物资，护送进厂");
    assert_eq!(req.guard_id.as_deref(), Some("王卫"));
    assert_eq!(a.mode, Mode::Scan);

    // The outcome: amber, the supervisor shown, the notice says it is recorded.
    let mut out = outcome(
        Verdict {
            pass: None,
            reason: None,
            warnings: vec![],
        },
        3,
        Direction::In,
    );
    out.record.accepted = true;
    out.record.plate = Some("粤B12345".into());
    out.record.reason = Some("revoked".into());
    out.record.override_by = Some(Override {
        supervisor_id: "李队长".into(),
        reason: "防疫物资，护送进厂".into(),
    });
    out.record.overrides_seq = Some(2);
    a.on_overridden(VerdictView::from_outcome(&out, None, Lang::Zh), 2);
    assert!(a.last_rejected.is_none());
    assert!(!a.take_bell());
    let s = screen(&a, 80, 24);
    assert!(s.contains("放行（主管特批）"), "{s}");
    assert!(s.contains("特批已记录：第 3 条"), "{s}");
    assert!(s.contains("特批主管 李队长"), "{s}");
}

#[test]
fn a_pass_scanned_into_the_form_is_still_a_scan() {
    let mut a = app(Lang::Zh);
    a.on_scanned(revoked(Lang::Zh));
    a.handle_key(key(KeyCode::F(8)));
    type_text(&mut a, "PG:XYZ");
    let effects = a.handle_key(key(KeyCode::Enter));
    assert!(matches!(&effects[..], [Effect::Scan { text, .. }] if text == "PG:XYZ"));
    assert_eq!(a.mode, Mode::Scan);
    // Esc closes the form without effect.
    a.handle_key(key(KeyCode::F(8)));
    assert!(a.handle_key(key(KeyCode::Esc)).is_empty());
    assert_eq!(a.mode, Mode::Scan);
}

#[test]
fn help_quit_paste_and_editing() {
    let mut a = app(Lang::Zh);
    a.handle_key(key(KeyCode::F(1)));
    let s = screen(&a, 80, 24);
    assert!(
        s.contains("F8") && s.contains("主管特批最近一条拒绝记录"),
        "{s}"
    );
    // Scanner characters still land in the input line and close the help.
    a.handle_key(key(KeyCode::Char('P')));
    assert_eq!(a.mode, Mode::Scan);
    assert_eq!(a.input, "P");
    a.handle_key(key(KeyCode::Backspace));
    a.handle_key(key(KeyCode::Backspace));
    assert!(a.input.is_empty());
    type_text(&mut a, "abc");
    a.handle_key(key(KeyCode::Esc));
    assert!(a.input.is_empty());
    let effects = a.handle_paste("PG:ONE\nPG:TWO\npartial");
    assert_eq!(effects.len(), 2);
    assert_eq!(a.input, "partial");
    assert_eq!(a.handle_key(key(KeyCode::F(10))), vec![Effect::Quit]);
    let mut b = app(Lang::Zh);
    assert_eq!(
        b.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        vec![Effect::Quit]
    );
    assert!(b.quit);
    // F9 starts one sync at a time.
    let mut c = app(Lang::Zh);
    assert_eq!(c.handle_key(key(KeyCode::F(9))), vec![Effect::Sync]);
    assert!(c.handle_key(key(KeyCode::F(9))).is_empty());
    c.on_sync_done(Ok("同步完成".into()));
    assert!(!c.syncing);
}

#[test]
fn english_screen() {
    let mut a = app(Lang::En);
    a.on_scanned(revoked(Lang::En));
    let s = screen(&a, 80, 24);
    for want in [
        "REJECTED",
        "the pass has been revoked",
        "Direction: IN",
        "F1 help",
        "Guard: 王卫",
    ] {
        assert!(s.contains(want), "{want}\n{s}");
    }
    a.handle_key(key(KeyCode::F(2)));
    a.on_scanned(accepted(2, Lang::En));
    let s = screen(&a, 80, 24);
    assert!(
        s.contains("ACCEPTED") && s.contains("Direction: OUT"),
        "{s}"
    );
    assert!(s.contains("max dwell 120 min"), "{s}");
}

#[test]
fn inside_panel_counts_down_and_highlights_overstays() {
    let mut a = app(Lang::Zh);
    a.inside = vec![
        InsideRow {
            plate: "晋E23456".into(),
            number: "419001000003".into(),
            entered: "06:01".into(),
            inside_minutes: 155,
            left_minutes: Some(-35),
            overstay_minutes: Some(35),
        },
        InsideRow {
            plate: "晋E11111".into(),
            number: "419001000004".into(),
            entered: "08:01".into(),
            inside_minutes: 35,
            left_minutes: Some(85),
            overstay_minutes: None,
        },
    ];
    a.sync.unsent = 5;
    a.sync.stale = true;
    let s = screen(&a, 80, 24);
    assert!(s.contains("晋E23456 06:01进 已155分 超时 35 分"), "{s}");
    assert!(s.contains("晋E11111 08:01进 已35分 剩 85 分"), "{s}");
    assert!(s.contains("待上传 5 条"), "{s}");
    assert!(s.contains("从未同步"), "{s}");
    assert!(s.contains("信任数据已过期"), "{s}");
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| render(f, &a)).unwrap();
    let buf = terminal.backend().buffer();
    let row = u16::try_from(s.lines().position(|l| l.contains("超时 35 分")).unwrap()).unwrap();
    assert!(
        (0..80).any(|x| buf[(x, row)].bg == Color::Red),
        "overstay in red"
    );
    // Many trucks: the panel says how many more.
    a.inside = (0..20).map(|_| a.inside[1].clone()).collect();
    assert!(screen(&a, 80, 24).contains("另"));
}

#[test]
fn any_size_and_any_key_never_panics() {
    let mut a = app(Lang::Zh);
    a.on_scanned(revoked(Lang::Zh));
    a.input = "PG:".repeat(100);
    for (w, h) in [
        (80, 24),
        (120, 40),
        (200, 60),
        (79, 23),
        (40, 12),
        (20, 6),
        (10, 5),
        (3, 2),
        (1, 1),
    ] {
        for mode in 0..3 {
            let mut b = a.clone();
            match mode {
                1 => {
                    b.handle_key(key(KeyCode::F(1)));
                }
                2 => {
                    b.handle_key(key(KeyCode::F(8)));
                    type_text(&mut b, &"理由".repeat(300));
                }
                _ => {}
            }
            let _ = screen(&b, w, h);
        }
    }
    let codes = [
        KeyCode::Enter,
        KeyCode::Tab,
        KeyCode::BackTab,
        KeyCode::Backspace,
        KeyCode::Esc,
        KeyCode::Up,
        KeyCode::Delete,
        KeyCode::Char('豫'),
        KeyCode::Char('\u{7}'),
        KeyCode::Char('x'),
        KeyCode::F(1),
        KeyCode::F(2),
        KeyCode::F(3),
        KeyCode::F(8),
        KeyCode::F(9),
        KeyCode::F(11),
        KeyCode::F(12),
    ];
    let mut b = app(Lang::En);
    b.on_scanned(revoked(Lang::En));
    for i in 0..2000usize {
        let code = codes[(i * 7 + i / 3) % codes.len()];
        let mods = if i % 11 == 0 {
            KeyModifiers::ALT
        } else {
            KeyModifiers::NONE
        };
        let _ = b.handle_key(KeyEvent::new(code, mods));
        if i % 97 == 0 {
            let _ = screen(&b, 80, 24);
        }
    }
    assert!(!b.input.contains('\u{7}'));
}

#[test]
fn texts_are_cut_by_display_width() {
    assert_eq!(fit("放行通行证", 6), "放行…");
    assert_eq!(fit("放行", 4), "放行");
    assert_eq!(fit("放行", 3), "放…");
    assert_eq!(fit("abc", 0), "");
    assert_eq!(fit_tail("豫U12345", 5), "12345");
    assert_eq!(fit_tail("豫U12345", 8), "豫U12345");
    assert_eq!(fit_tail("豫U12345", 7), "U12345");
}

#[test]
fn repeat_filter_ignores_a_double_read_only() {
    let t = std::time::Instant::now();
    let mut f = RepeatFilter::new(std::time::Duration::from_secs(3));
    assert!(!f.is_repeat("PG:A", Direction::In, t));
    assert!(f.is_repeat("PG:A", Direction::In, t + std::time::Duration::from_secs(1)));
    assert!(!f.is_repeat(
        "PG:A",
        Direction::Out,
        t + std::time::Duration::from_secs(1)
    ));
    assert!(!f.is_repeat(
        "PG:A",
        Direction::Out,
        t + std::time::Duration::from_secs(5)
    ));
    let mut off = RepeatFilter::new(std::time::Duration::ZERO);
    assert!(!off.is_repeat("PG:A", Direction::In, t));
    assert!(!off.is_repeat("PG:A", Direction::In, t));
}

#[test]
fn command_line_checks_override_the_defaults_file() {
    let file = Defaults {
        direction: Direction::Out,
        observations: Observations {
            health_code: Some(HealthCode::Green),
            temperature_ok: Some(true),
            ..Default::default()
        },
    };
    let options = super::GateOptions {
        observations: Observations {
            temperature_ok: Some(false),
            ..Default::default()
        },
        ..Default::default()
    };
    let d = super::merge_defaults(Some(file), &options);
    assert_eq!(d.direction, Direction::Out);
    assert_eq!(d.observations.health_code, Some(HealthCode::Green));
    assert_eq!(d.observations.temperature_ok, Some(false));
    let d = super::merge_defaults(
        None,
        &super::GateOptions {
            direction: Some(Direction::Out),
            ..Default::default()
        },
    );
    assert_eq!(d.direction, Direction::Out);
}

#[test]
fn sync_panel_warns_of_a_clock_behind_or_ahead() {
    let mut a = app(Lang::Zh);
    assert!(!screen(&a, 100, 40).contains("本机时钟"));
    a.sync.clock_behind = true;
    a.sync.clock_ahead = true;
    let s = screen(&a, 100, 40);
    assert!(s.contains("本机时钟被回拨"), "{s}");
    assert!(s.contains("本机时钟比服务器快"), "{s}");
}
