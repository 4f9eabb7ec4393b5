//! The gate screen's state machine, free of any terminal or database: keys go in
//! ([`App::handle_key`], [`App::handle_paste`]), [`Effect`]s come out for the terminal loop
//! to carry out, and the loop reports back ([`App::on_scanned`], [`App::on_overridden`],
//! [`App::on_status`], [`App::on_error`] …). [`super::render::render`] draws it.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use passgate_shared::record::{HealthCode, Observations};
use passgate_shared::sync::Direction;
use passgate_shared::{Bundle, Lang, PassClass, UnixSeconds};

use super::defaults::Defaults;
use super::labels::Label;
use crate::app::Status;
use crate::output::{self, class_name, human_duration, local_minute};
use crate::scan::{
    MAX_ID_CHARS, MAX_REASON_CHARS, OverrideRequest, ScanMeta, ScanOutcome, check_person_id,
    check_reason,
};

/// Most characters kept in the scan input line (a pass is far shorter).
pub const MAX_INPUT_CHARS: usize = 2048;

/// How the last verdict is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictKind {
    /// Green: let it through.
    Accepted,
    /// Amber: let it through, but read the warning.
    Warned,
    /// Amber: a supervisor overrode a rejection.
    Override,
    /// Red: refused.
    Rejected,
}

/// A verdict as the screen shows it, built once from the [`ScanOutcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictView {
    pub kind: VerdictKind,
    pub headline: String,
    /// The reason (refused), the override (overridden) or "准予通行".
    pub message: String,
    pub warnings: Vec<String>,
    pub plate: Option<String>,
    pub number: Option<String>,
    pub class: Option<String>,
    pub crew: Option<String>,
    pub cargo: Option<String>,
    /// Route (closed-loop classes) or dwell limit and time inside (load-unload-leave).
    pub route: Option<String>,
    /// The pass could not be trusted (unreadable, forged, unknown key).
    pub untrusted: bool,
    /// Supervisor and reason of an override.
    pub override_line: Option<String>,
    /// `第 7 条 08:01 · 查验人 王卫 · 健康码 绿码 …`
    pub record_line: String,
    pub seq: u64,
    pub direction: Direction,
}

impl VerdictView {
    /// The view of a scan or override outcome, texts in `lang`.
    pub fn from_outcome(outcome: &ScanOutcome, bundle: Option<&Bundle>, lang: Lang) -> Self {
        let r = &outcome.record;
        let v = &outcome.verdict;
        let overridden = r.override_by.is_some();
        let warnings: Vec<String> = if v.warnings.is_empty() {
            r.warnings
                .iter()
                .map(|c| warning_code_text(c, lang))
                .collect()
        } else {
            v.warnings.iter().map(|w| w.message(lang)).collect()
        };
        let kind = match (overridden, r.accepted, warnings.is_empty()) {
            (true, _, _) => VerdictKind::Override,
            (false, false, _) => VerdictKind::Rejected,
            (false, true, true) => VerdictKind::Accepted,
            (false, true, false) => VerdictKind::Warned,
        };
        let headline = match kind {
            VerdictKind::Accepted | VerdictKind::Warned => Label::HeadlineAccepted,
            VerdictKind::Override => Label::HeadlineOverride,
            VerdictKind::Rejected => Label::HeadlineRejected,
        }
        .text(lang)
        .to_owned();
        let pass = v.pass.as_ref();
        let crew = pass.map(|p| match &p.crew.co_driver {
            Some(c) => format!("{}{}{}", p.crew.driver, lang.pick("、", ", "), c),
            None => p.crew.driver.to_string(),
        });
        let dwell_now = r.dwell_minutes.map(|m| match lang {
            Lang::Zh => format!("厂内停留 {m} 分钟"),
            Lang::En => format!("inside {m} min"),
        });
        let route = match pass {
            Some(p) if p.class == PassClass::LoadUnloadLeave => {
                let limit = outcome
                    .max_dwell_minutes
                    .map(|m| match lang {
                        Lang::Zh => format!("限停 {m} 分钟（超时即为滞留超时）"),
                        Lang::En => format!("max dwell {m} min"),
                    })
                    .unwrap_or_default();
                Some(match dwell_now {
                    Some(d) => format!("{limit} · {d}"),
                    None => limit,
                })
            }
            Some(p) => {
                let mut s = format!(
                    "{} {} → {}",
                    Label::Route.text(lang),
                    p.route.origin,
                    p.route.destination
                );
                if !p.route.checkpoints.is_empty() {
                    let cps: Vec<String> = p
                        .route
                        .checkpoints
                        .iter()
                        .map(|c| match bundle.and_then(|b| b.checkpoint(*c)) {
                            Some(info) => format!("{c} {}", info.name),
                            None => c.to_string(),
                        })
                        .collect();
                    s.push_str(&format!(
                        " · {} {}",
                        Label::RouteCheckpoints.text(lang),
                        cps.join(" → ")
                    ));
                }
                Some(s)
            }
            None => dwell_now,
        };
        let override_line = r.override_by.as_ref().map(|o| {
            let target = outcome.overridden.as_ref().map(|orig| orig.seq);
            match (lang, target) {
                (Lang::Zh, Some(t)) => format!(
                    "{} {}：{}（特批第 {t} 条）",
                    Label::Supervisor.text(lang),
                    o.supervisor_id,
                    o.reason
                ),
                (Lang::En, Some(t)) => format!(
                    "{} {}: {} (overrides #{t})",
                    Label::Supervisor.text(lang),
                    o.supervisor_id,
                    o.reason
                ),
                (Lang::Zh, None) => format!(
                    "{} {}：{}",
                    Label::Supervisor.text(lang),
                    o.supervisor_id,
                    o.reason
                ),
                (Lang::En, None) => format!(
                    "{} {}: {}",
                    Label::Supervisor.text(lang),
                    o.supervisor_id,
                    o.reason
                ),
            }
        });
        let mut record_line = match lang {
            Lang::Zh => format!("记录 第 {} 条 {}", r.seq, local_minute(r.scanned_at)),
            Lang::En => format!("Record #{} {}", r.seq, local_minute(r.scanned_at)),
        };
        if let Some(g) = &r.guard_id {
            record_line.push_str(&format!(" · {} {g}", Label::Guard.text(lang)));
        }
        if let Some(obs) = output::observations_line(&r.observations, lang) {
            record_line.push_str(&format!(" · {obs}"));
        }
        VerdictView {
            kind,
            headline,
            message: output::verdict_message(outcome, lang),
            warnings,
            plate: pass
                .map(|p| p.plate.to_string())
                .or_else(|| r.plate.clone()),
            number: pass
                .map(|p| p.number.to_string())
                .or_else(|| r.number.map(|n| n.to_string())),
            class: pass
                .map(|p| p.class)
                .or(r.class)
                .map(|c| class_name(c, lang).to_owned()),
            crew,
            cargo: pass.map(|p| lang.pick(p.cargo.name_zh(), p.cargo.name_en()).to_owned()),
            route,
            untrusted: pass.is_none() && !overridden,
            override_line,
            record_line,
            seq: r.seq,
            direction: r.direction,
        }
    }
}

/// A warning read back from the log by its code (no payload kept).
fn warning_code_text(code: &str, lang: Lang) -> String {
    match code {
        "clock_behind" => lang
            .pick("警告：本机时钟早于已知时间", "WARNING: gate clock set back")
            .to_owned(),
        "overstayed" => lang
            .pick("超时滞留，已记录上报", "overstay, recorded for review")
            .to_owned(),
        c => c.to_owned(),
    }
}

/// A load-unload-leave truck inside, with its countdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsideRow {
    pub plate: String,
    pub number: String,
    /// `08:01` (Beijing time).
    pub entered: String,
    pub inside_minutes: i64,
    /// Minutes left before the dwell limit (negative or `None` when over / no limit).
    pub left_minutes: Option<i64>,
    pub overstay_minutes: Option<u32>,
}

/// The sync panel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncView {
    pub last_sync_at: Option<UnixSeconds>,
    pub bundle_version: Option<u64>,
    pub bundle_age_seconds: Option<i64>,
    pub no_bundle: bool,
    pub stale: bool,
    pub unsent: u64,
    pub clock_behind: bool,
    /// The gate clock was ahead of the server's at the last sync.
    pub clock_ahead: bool,
}

/// A one-line message under the panels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Info(String),
    Error(String),
}

/// The supervisor override form (F8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideForm {
    /// The rejected record.
    pub seq: u64,
    /// What it was: plate and reason.
    pub target: String,
    pub reason: String,
    pub supervisor: String,
    /// 0: the reason, 1: the supervisor id.
    pub field: usize,
    pub error: Option<String>,
}

/// What is on top of the main screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Scan,
    Help,
    Override(OverrideForm),
}

/// Work for the terminal loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Decide on and record this line (`scan::scan`).
    Scan {
        text: String,
        direction: Direction,
        meta: ScanMeta,
    },
    /// Record a supervisor override (`scan::override_scan`).
    Override(OverrideRequest),
    /// Start a sync in the background.
    Sync,
    /// Write the defaults file.
    SaveDefaults(Defaults),
    Quit,
}

/// Everything the gate screen shows.
#[derive(Debug, Clone)]
pub struct App {
    pub lang: Lang,
    pub checkpoint: String,
    pub guard: Option<String>,
    pub direction: Direction,
    /// The checks for the next scan.
    pub checks: Observations,
    /// What the checks return to after each scan.
    pub defaults: Defaults,
    pub input: String,
    pub mode: Mode,
    pub last: Option<VerdictView>,
    /// The latest rejected, not yet overridden record of this session: (seq, description).
    pub last_rejected: Option<(u64, String)>,
    pub inside: Vec<InsideRow>,
    pub sync: SyncView,
    pub syncing: bool,
    pub notice: Option<Notice>,
    /// Ring the terminal bell at the next draw (set by a rejection).
    pub bell: bool,
    /// The gate clock, for the header.
    pub now: UnixSeconds,
    pub quit: bool,
}

fn cycle_health(h: Option<HealthCode>) -> Option<HealthCode> {
    match h {
        None => Some(HealthCode::Green),
        Some(HealthCode::Green) => Some(HealthCode::Yellow),
        Some(HealthCode::Yellow) => Some(HealthCode::Red),
        Some(HealthCode::Red) => None,
    }
}

fn cycle_yes_no(v: Option<bool>) -> Option<bool> {
    match v {
        None => Some(true),
        Some(true) => Some(false),
        Some(false) => None,
    }
}

fn push_limited(s: &mut String, text: &str, max: usize) {
    let room = max.saturating_sub(s.chars().count());
    s.extend(text.chars().filter(|c| !c.is_control()).take(room));
}

impl App {
    /// A fresh screen: `defaults` give the direction and the checks.
    pub fn new(
        lang: Lang,
        checkpoint: String,
        guard: Option<String>,
        defaults: Defaults,
        now: UnixSeconds,
    ) -> App {
        App {
            lang,
            checkpoint,
            guard,
            direction: defaults.direction,
            checks: defaults.observations,
            defaults,
            input: String::new(),
            mode: Mode::Scan,
            last: None,
            last_rejected: None,
            inside: Vec::new(),
            sync: SyncView::default(),
            syncing: false,
            notice: None,
            bell: false,
            now,
            quit: false,
        }
    }

    fn info(&mut self, label: Label) {
        self.notice = Some(Notice::Info(label.text(self.lang).to_owned()));
    }

    fn meta(&self) -> ScanMeta {
        ScanMeta {
            guard_id: self.guard.clone(),
            observations: self.checks,
        }
    }

    /// The scan of `text`, if it is not blank.
    fn submit(&mut self, text: &str) -> Option<Effect> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(Effect::Scan {
            text: text.to_owned(),
            direction: self.direction,
            meta: self.meta(),
        })
    }

    fn submit_input(&mut self) -> Vec<Effect> {
        let text = std::mem::take(&mut self.input);
        self.submit(&text).into_iter().collect()
    }

    fn toggle_direction(&mut self) {
        self.direction = match self.direction {
            Direction::In => Direction::Out,
            Direction::Out => Direction::In,
        };
    }

    /// Pasted text (a terminal's bracketed paste): like typing it; each line break submits.
    pub fn handle_paste(&mut self, text: &str) -> Vec<Effect> {
        if let Mode::Override(form) = &mut self.mode {
            let first = text.lines().next().unwrap_or_default();
            let value = if form.field == 0 {
                &mut form.reason
            } else {
                &mut form.supervisor
            };
            push_limited(value, first, MAX_INPUT_CHARS);
            return Vec::new();
        }
        self.mode = Mode::Scan;
        let mut effects = Vec::new();
        let mut parts = text.split(['\n', '\r']).peekable();
        while let Some(part) = parts.next() {
            push_limited(&mut self.input, part, MAX_INPUT_CHARS);
            if parts.peek().is_some() {
                effects.extend(self.submit_input());
            }
        }
        effects
    }

    /// One key press. Never panics, whatever the key.
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if (ctrl && matches!(key.code, KeyCode::Char('c' | 'C'))) || key.code == KeyCode::F(10) {
            self.quit = true;
            return vec![Effect::Quit];
        }
        match &self.mode {
            Mode::Override(_) => return self.form_key(key),
            Mode::Help => {
                self.mode = Mode::Scan;
                if matches!(key.code, KeyCode::F(1) | KeyCode::Esc) {
                    return Vec::new();
                }
            }
            Mode::Scan => {}
        }
        match key.code {
            KeyCode::Enter => return self.submit_input(),
            KeyCode::Tab if !self.input.trim().is_empty() => return self.submit_input(),
            KeyCode::Tab | KeyCode::F(2) => self.toggle_direction(),
            KeyCode::F(1) => self.mode = Mode::Help,
            KeyCode::F(3) => self.checks.health_code = cycle_health(self.checks.health_code),
            KeyCode::F(4) => self.checks.itinerary_ok = cycle_yes_no(self.checks.itinerary_ok),
            KeyCode::F(5) => {
                self.checks.negative_test_48h = cycle_yes_no(self.checks.negative_test_48h);
            }
            KeyCode::F(6) => {
                self.checks.temperature_ok = cycle_yes_no(self.checks.temperature_ok);
            }
            KeyCode::F(7) => {
                self.defaults = Defaults {
                    direction: self.direction,
                    observations: self.checks,
                };
                return vec![Effect::SaveDefaults(self.defaults)];
            }
            KeyCode::F(8) => match &self.last_rejected {
                Some((seq, target)) => {
                    self.mode = Mode::Override(OverrideForm {
                        seq: *seq,
                        target: target.clone(),
                        reason: String::new(),
                        supervisor: String::new(),
                        field: 0,
                        error: None,
                    });
                }
                None => self.info(Label::NothingToOverride),
            },
            KeyCode::F(9) => {
                if self.syncing {
                    self.info(Label::SyncBusy);
                } else {
                    self.syncing = true;
                    self.info(Label::SyncStarted);
                    return vec![Effect::Sync];
                }
            }
            KeyCode::Esc => self.input.clear(),
            KeyCode::Backspace => {
                self.input.pop();
            }
            KeyCode::Char('u' | 'U') if ctrl => self.input.clear(),
            KeyCode::Char(c)
                if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) && !c.is_control() =>
            {
                let mut s = [0u8; 4];
                push_limited(&mut self.input, c.encode_utf8(&mut s), MAX_INPUT_CHARS);
            }
            _ => {}
        }
        Vec::new()
    }

    fn form_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Mode::Override(form) = &mut self.mode else {
            return Vec::new();
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => {
                self.mode = Mode::Scan;
            }
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => {
                form.field = 1 - form.field.min(1);
            }
            KeyCode::Backspace => {
                if form.field == 0 {
                    form.reason.pop();
                } else {
                    form.supervisor.pop();
                }
            }
            KeyCode::Enter => {
                // A scanner does not know about the form: a scanned pass is still a scan.
                let value = if form.field == 0 {
                    &form.reason
                } else {
                    &form.supervisor
                };
                if let Some(at) = value.find("PG:") {
                    let text = value[at..].to_owned();
                    self.mode = Mode::Scan;
                    return self.submit(&text).into_iter().collect();
                }
                if form.field == 0 {
                    form.field = 1;
                    return Vec::new();
                }
                let lang = self.lang;
                let checked = check_reason(&form.reason).and_then(|reason| {
                    check_person_id(&form.supervisor, "the supervisor id").map(|s| (reason, s))
                });
                match checked {
                    Ok((reason, supervisor_id)) => {
                        let seq = form.seq;
                        self.mode = Mode::Scan;
                        self.info(Label::OverrideSending);
                        return vec![Effect::Override(OverrideRequest {
                            seq: Some(seq),
                            supervisor_id,
                            reason,
                            guard_id: self.guard.clone(),
                        })];
                    }
                    Err(_) => {
                        form.error = Some(match lang {
                            Lang::Zh => format!(
                                "请填写特批理由（最多 {MAX_REASON_CHARS} 字）和主管编号（最多 {MAX_ID_CHARS} 字）"
                            ),
                            Lang::En => format!(
                                "fill in the reason (up to {MAX_REASON_CHARS}) and the supervisor id (up to {MAX_ID_CHARS})"
                            ),
                        });
                        form.field = if form.reason.trim().is_empty() { 0 } else { 1 };
                    }
                }
            }
            KeyCode::Char('u' | 'U') if ctrl => {
                if form.field == 0 {
                    form.reason.clear();
                } else {
                    form.supervisor.clear();
                }
            }
            KeyCode::Char(c)
                if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) && !c.is_control() =>
            {
                let mut s = [0u8; 4];
                let value = if form.field == 0 {
                    &mut form.reason
                } else {
                    &mut form.supervisor
                };
                // Lengths are checked on submit; room for a pass scanned into the form.
                push_limited(value, c.encode_utf8(&mut s), MAX_INPUT_CHARS);
            }
            _ => {}
        }
        Vec::new()
    }

    /// A scan was recorded: show it, ring on a rejection, return the checks to defaults.
    pub fn on_scanned(&mut self, view: VerdictView) {
        if view.kind == VerdictKind::Rejected {
            self.bell = true;
            let what = format!("{} {}", view.plate.as_deref().unwrap_or("-"), view.message);
            self.last_rejected = Some((view.seq, what));
        }
        self.checks = self.defaults.observations;
        self.notice = None;
        self.last = Some(view);
    }

    /// An override was recorded.
    pub fn on_overridden(&mut self, view: VerdictView, overrides: u64) {
        if self
            .last_rejected
            .as_ref()
            .is_some_and(|(s, _)| *s == overrides)
        {
            self.last_rejected = None;
        }
        self.notice = Some(Notice::Info(match self.lang {
            Lang::Zh => format!("特批已记录：第 {} 条（特批第 {overrides} 条）", view.seq),
            Lang::En => format!("Override recorded: #{} (overrides #{overrides})", view.seq),
        }));
        self.last = Some(view);
    }

    /// Something went wrong carrying out an effect.
    pub fn on_error(&mut self, message: String) {
        self.notice = Some(Notice::Error(message));
    }

    /// An informational line (e.g. a repeated scan ignored, defaults saved).
    pub fn on_info(&mut self, label: Label) {
        self.info(label);
    }

    /// A background sync finished (`Ok` text is the summary).
    pub fn on_sync_done(&mut self, result: Result<String, String>) {
        self.syncing = false;
        self.notice = Some(match result {
            Ok(s) => Notice::Info(s),
            Err(e) => Notice::Error(e),
        });
    }

    /// Fresh device status: trucks inside, sync and bundle state.
    pub fn on_status(&mut self, s: &Status) {
        self.now = s.now;
        self.checkpoint = s.checkpoint_name.clone();
        let held = s.bundle.as_ref().ok();
        let default_dwell = held.map(|h| h.bundle.policy.default_max_dwell_minutes);
        let mut rows: Vec<InsideRow> = s
            .inside
            .iter()
            .map(|i| {
                let limit = i.entry.max_dwell_minutes.or(default_dwell);
                InsideRow {
                    plate: i.entry.plate.clone().unwrap_or_else(|| "-".into()),
                    number: i.entry.number.to_string(),
                    entered: output::beijing(i.entry.entered_at)
                        .map_or_else(String::new, |d| d.format("%H:%M").to_string()),
                    inside_minutes: i.inside_minutes,
                    left_minutes: limit.map(|m| i64::from(m) - i.inside_minutes),
                    overstay_minutes: i.overstay_minutes,
                }
            })
            .collect();
        rows.sort_by_key(|r| {
            (
                r.overstay_minutes.is_none(),
                r.left_minutes.unwrap_or(i64::MAX),
            )
        });
        self.inside = rows;
        self.sync = SyncView {
            last_sync_at: s.last_sync_at,
            bundle_version: held.map(|h| h.bundle.version),
            bundle_age_seconds: s.bundle_age_seconds,
            no_bundle: held.is_none(),
            stale: s.stale,
            unsent: s.unsent,
            clock_behind: s.clock_behind,
            clock_ahead: s.clock_ahead,
        };
    }

    /// Whether to ring the bell now (and forget it).
    pub fn take_bell(&mut self) -> bool {
        std::mem::take(&mut self.bell)
    }

    /// `2 小时 5 分钟` since the bundle was made.
    pub fn bundle_age(&self) -> Option<String> {
        self.sync
            .bundle_age_seconds
            .map(|a| human_duration(a, self.lang))
    }

    /// The last sync, or "never".
    pub fn last_sync(&self) -> String {
        self.sync
            .last_sync_at
            .map_or_else(|| Label::Never.text(self.lang).to_owned(), local_minute)
    }
}

/// Filters a scanner's double read: the same line in the same direction again within the
/// repeat window is not a second scan.
#[derive(Debug, Clone, Default)]
pub struct RepeatFilter {
    window: std::time::Duration,
    last: Option<(String, Direction, std::time::Instant)>,
}

impl RepeatFilter {
    /// A filter with this window (zero: nothing is filtered).
    pub fn new(window: std::time::Duration) -> RepeatFilter {
        RepeatFilter { window, last: None }
    }

    /// Whether `text` scanned at `at` is a repeat; remembers it when it is not.
    pub fn is_repeat(&mut self, text: &str, direction: Direction, at: std::time::Instant) -> bool {
        if let Some((t, d, when)) = &self.last
            && t == text
            && *d == direction
            && at.saturating_duration_since(*when) < self.window
        {
            return true;
        }
        self.last = Some((text.to_owned(), direction, at));
        false
    }
}
