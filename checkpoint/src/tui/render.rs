//! Drawing the gate screen from [`App`]: a pure function of the state, so it can be tested
//! on ratatui's `TestBackend`. Laid out for 80×24 and anything larger; every text is cut
//! by display width (a Chinese character takes two columns), never by bytes.
//!
//! ```text
//!  卡口核验 · 东门卡口   方向：进（入厂）   查验人：王卫          2026-12-01 08:00
//! ███████████████████████ 放行 ACCEPTED ████████████████████████   ← verdict band
//!                          准予通行                                  (3 rows)
//!     ██  █ █ ...  the plate in 5-row block letters
//!  车牌 … 证号 … 类别 / 司乘 … 货物 / 线路 or dwell limit / reason
//!  两码一证 F3 健康码 绿码  F4 行程卡 正常  F5 48h核酸 未查  F6 体温 正常
//! ┌厂内车辆（即装即卸即走）────────────┐┌同步──────────────┐
//! │晋E23456 08:01进 已35分 剩85分     ││上次同步 …        │
//! └───────────────────────────────────┘└──────────────────┘
//!  notice line
//!  扫码 ▶ PG:…
//!  F1帮助 F2进/出 F3-F6两码 F7存默认 F8特批 F9同步 F10退出
//! ```

use passgate_shared::Lang;
use passgate_shared::record::HealthCode;
use passgate_shared::sync::Direction;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::bigtext::{BigText, GLYPH_HEIGHT};
use super::labels::{self, Label};
use super::state::{App, Mode, Notice, VerdictKind, VerdictView};
use crate::output::local_minute;

/// `s` cut to at most `width` columns, with `…` when something was cut.
pub fn fit(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// The end of `s` that fits in `width` columns (the input line shows what was typed last).
pub fn fit_tail(s: &str, width: usize) -> String {
    let mut kept: Vec<char> = Vec::new();
    let mut used = 0;
    for c in s.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > width {
            break;
        }
        kept.push(c);
        used += w;
    }
    kept.into_iter().rev().collect()
}

fn verdict_style(kind: Option<VerdictKind>) -> Style {
    match kind {
        Some(VerdictKind::Accepted) => Style::default().fg(Color::White).bg(Color::Green),
        Some(VerdictKind::Rejected) => Style::default().fg(Color::White).bg(Color::Red),
        Some(VerdictKind::Warned | VerdictKind::Override) => {
            Style::default().fg(Color::Black).bg(Color::Yellow)
        }
        None => Style::default().fg(Color::White).bg(Color::Blue),
    }
}

/// Draw the whole screen.
pub fn render(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < 10 || area.height < 5 {
        frame.render_widget(
            Paragraph::new(fit("passgate", usize::from(area.width))),
            area,
        );
        return;
    }
    let plate_rows = if area.height >= 22 { GLYPH_HEIGHT } else { 1 };
    let [
        header,
        band,
        plate,
        details,
        checks,
        panels,
        notice,
        input,
        help,
    ] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(plate_rows),
        Constraint::Length(4),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(frame, app, header);
    render_band(frame, app, band);
    render_plate(frame, app, plate);
    render_details(frame, app, details);
    render_checks(frame, app, checks);
    render_panels(frame, app, panels);
    render_notice(frame, app, notice);
    render_input(frame, app, input);
    frame.render_widget(
        Paragraph::new(fit(Label::HelpLine.text(app.lang), usize::from(help.width)))
            .style(Style::default().fg(Color::Black).bg(Color::Gray)),
        help,
    );
    match &app.mode {
        Mode::Scan => {}
        Mode::Help => render_help(frame, app, area),
        Mode::Override(_) => render_override(frame, app, area),
    }
}

fn render_header(frame: &mut Frame, app: &App, area: Rect) {
    let lang = app.lang;
    let dir_style = match app.direction {
        Direction::In => Style::default().fg(Color::White).bg(Color::Blue),
        Direction::Out => Style::default().fg(Color::White).bg(Color::Magenta),
    }
    .add_modifier(Modifier::BOLD);
    let guard = app
        .guard
        .as_deref()
        .unwrap_or_else(|| Label::NoGuard.text(lang));
    let sep = lang.pick("：", ": ");
    let line = Line::from(vec![
        Span::styled(
            format!(
                " {} · {} ",
                Label::Title.text(lang),
                fit(&app.checkpoint, 16)
            ),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            format!(" {} ", labels::direction_label(app.direction, lang)),
            dir_style,
        ),
        Span::raw(format!(
            " {}{sep}{} ",
            Label::Guard.text(lang),
            fit(guard, 12)
        )),
    ]);
    let clock = local_minute(app.now);
    let clock_w = u16::try_from(clock.width()).unwrap_or(0);
    let [left, right] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(clock_w + 1)]).areas(area);
    frame.render_widget(Paragraph::new(line), left);
    frame.render_widget(Paragraph::new(clock).alignment(Alignment::Right), right);
}

fn render_band(frame: &mut Frame, app: &App, area: Rect) {
    let lang = app.lang;
    let w = usize::from(area.width);
    let style = verdict_style(app.last.as_ref().map(|v| v.kind));
    let lines = match &app.last {
        None => vec![
            Line::from(Label::Ready.text(lang))
                .style(Style::default().add_modifier(Modifier::BOLD)),
            Line::from(fit(Label::ReadyHint.text(lang), w)),
            Line::from(""),
        ],
        Some(v) => {
            let third = if v.warnings.is_empty() {
                v.record_line.clone()
            } else {
                format!("⚠ {}", v.warnings.join(" · "))
            };
            vec![
                Line::from(fit(&v.headline, w))
                    .style(Style::default().add_modifier(Modifier::BOLD)),
                Line::from(fit(&v.message, w)).style(Style::default().add_modifier(Modifier::BOLD)),
                Line::from(fit(&third, w)),
            ]
        }
    };
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .style(style),
        area,
    );
}

fn render_plate(frame: &mut Frame, app: &App, area: Rect) {
    let Some(v) = &app.last else { return };
    match (&v.plate, v.untrusted) {
        (Some(plate), _) => frame.render_widget(
            BigText {
                text: plate,
                style: Style::default(),
            },
            area,
        ),
        (None, true) => {
            let y = area.y + area.height / 2;
            frame.render_widget(
                Paragraph::new(fit(
                    Label::Untrusted.text(app.lang),
                    usize::from(area.width),
                ))
                .alignment(Alignment::Center)
                .style(Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)),
                Rect::new(area.x, y, area.width, 1),
            );
        }
        (None, false) => {}
    }
}

fn field(label: Label, value: &str, lang: Lang) -> Vec<Span<'static>> {
    vec![
        Span::styled(
            format!("{} ", label.text(lang)),
            Style::default().fg(Color::Cyan),
        ),
        Span::styled(
            value.to_owned(),
            Style::default().add_modifier(Modifier::BOLD),
        ),
    ]
}

/// A line of spans cut to `width` columns.
fn fit_spans(spans: Vec<Span<'static>>, width: usize) -> Line<'static> {
    let mut used = 0;
    let mut out = Vec::new();
    for s in spans {
        let w = s.content.width();
        if used + w <= width {
            used += w;
            out.push(s);
        } else {
            let cut = fit(&s.content, width - used);
            out.push(Span::styled(cut, s.style));
            break;
        }
    }
    Line::from(out)
}

fn detail_lines(v: &VerdictView, lang: Lang) -> Vec<Vec<Span<'static>>> {
    let sep = || Span::raw("  ");
    let mut first = Vec::new();
    if let Some(p) = &v.plate {
        first.extend(field(Label::Plate, p, lang));
    }
    if let Some(n) = &v.number {
        if !first.is_empty() {
            first.push(sep());
        }
        first.extend(field(Label::Number, n, lang));
    }
    if let Some(c) = &v.class {
        if !first.is_empty() {
            first.push(sep());
        }
        first.push(Span::styled(
            c.clone(),
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
    }
    let mut second = Vec::new();
    if let Some(c) = &v.crew {
        second.extend(field(Label::Crew, c, lang));
    }
    if let Some(c) = &v.cargo {
        if !second.is_empty() {
            second.push(sep());
        }
        second.extend(field(Label::Cargo, c, lang));
    }
    let third = v
        .route
        .clone()
        .map(|r| vec![Span::raw(r)])
        .unwrap_or_default();
    let fourth = match (&v.override_line, v.kind) {
        (Some(o), _) => vec![Span::styled(
            o.clone(),
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        )],
        (None, VerdictKind::Rejected) => {
            let mut s = field(Label::Reason, &v.message, lang);
            if let Some(last) = s.last_mut() {
                last.style = Style::default().fg(Color::Red).add_modifier(Modifier::BOLD);
            }
            s
        }
        // The band's third row shows the warnings then: the record goes here.
        (None, _) if !v.warnings.is_empty() => vec![Span::raw(v.record_line.clone())],
        (None, _) => Vec::new(),
    };
    vec![first, second, third, fourth]
}

fn render_details(frame: &mut Frame, app: &App, area: Rect) {
    let Some(v) = &app.last else { return };
    let w = usize::from(area.width.saturating_sub(1));
    let lines: Vec<Line> = detail_lines(v, app.lang)
        .into_iter()
        .map(|spans| {
            let mut l = vec![Span::raw(" ")];
            l.extend(spans);
            fit_spans(l, w + 1)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

fn render_checks(frame: &mut Frame, app: &App, area: Rect) {
    let lang = app.lang;
    let c = &app.checks;
    let value = |text: &'static str, ok: Option<bool>| {
        let style = match ok {
            None => Style::default().fg(Color::DarkGray),
            Some(true) => Style::default()
                .fg(Color::Green)
                .add_modifier(Modifier::BOLD),
            Some(false) => Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        };
        Span::styled(text, style)
    };
    let health_style = match c.health_code {
        None => Style::default().fg(Color::DarkGray),
        Some(HealthCode::Green) => Style::default().fg(Color::Black).bg(Color::Green),
        Some(HealthCode::Yellow) => Style::default().fg(Color::Black).bg(Color::Yellow),
        Some(HealthCode::Red) => Style::default().fg(Color::White).bg(Color::Red),
    };
    let key = |k: &'static str| Span::styled(k, Style::default().fg(Color::Cyan));
    let spans = vec![
        Span::styled(
            format!(" {} ", Label::Checks.text(lang)),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        key("F3 "),
        Span::raw(format!("{} ", Label::HealthCode.text(lang))),
        Span::styled(labels::health_label(c.health_code, lang), health_style),
        key("  F4 "),
        Span::raw(format!("{} ", Label::Itinerary.text(lang))),
        value(
            labels::yes_no_label(c.itinerary_ok, lang, ("正常", "异常")),
            c.itinerary_ok,
        ),
        key("  F5 "),
        Span::raw(format!("{} ", Label::Test48h.text(lang))),
        value(
            labels::yes_no_label(c.negative_test_48h, lang, ("阴性", "无")),
            c.negative_test_48h,
        ),
        key("  F6 "),
        Span::raw(format!("{} ", Label::Temperature.text(lang))),
        value(
            labels::yes_no_label(c.temperature_ok, lang, ("正常", "异常")),
            c.temperature_ok,
        ),
    ];
    frame.render_widget(
        Paragraph::new(fit_spans(spans, usize::from(area.width))),
        area,
    );
}

fn inside_text(row: &super::state::InsideRow, lang: Lang) -> String {
    let state = match (row.overstay_minutes, row.left_minutes, lang) {
        (Some(o), _, Lang::Zh) => format!("超时 {o} 分"),
        (Some(o), _, Lang::En) => format!("OVER by {o} min"),
        (None, Some(l), Lang::Zh) => format!("剩 {} 分", l.max(0)),
        (None, Some(l), Lang::En) => format!("{} min left", l.max(0)),
        (None, None, _) => String::new(),
    };
    match lang {
        Lang::Zh => format!(
            "{} {}进 已{}分 {state}",
            row.plate, row.entered, row.inside_minutes
        ),
        Lang::En => format!(
            "{} in {} {} min, {state}",
            row.plate, row.entered, row.inside_minutes
        ),
    }
}

fn render_panels(frame: &mut Frame, app: &App, area: Rect) {
    let lang = app.lang;
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area);
    // Trucks inside, most urgent first.
    let title = format!(" {} {} ", Label::Inside.text(lang), app.inside.len());
    let block = Block::default()
        .borders(Borders::ALL)
        .title(fit(&title, usize::from(left.width.saturating_sub(2))));
    let inner = block.inner(left);
    frame.render_widget(block, left);
    let w = usize::from(inner.width);
    let rows = usize::from(inner.height);
    let mut lines: Vec<Line> = Vec::new();
    if app.inside.is_empty() {
        lines.push(
            Line::from(Label::InsideNone.text(lang)).style(Style::default().fg(Color::DarkGray)),
        );
    }
    for (i, row) in app.inside.iter().enumerate() {
        if lines.len() + 1 == rows && app.inside.len() > i + 1 {
            let more = app.inside.len() - i;
            lines.push(Line::from(match lang {
                Lang::Zh => format!("……另 {more} 辆"),
                Lang::En => format!("… {more} more"),
            }));
            break;
        }
        let style = if row.overstay_minutes.is_some() {
            Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else if row.left_minutes.is_some_and(|l| l <= 15) {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default()
        };
        lines.push(Line::from(fit(&inside_text(row, lang), w)).style(style));
    }
    frame.render_widget(Paragraph::new(lines), inner);

    // Sync and trust data.
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", Label::SyncPanel.text(lang)));
    let inner = block.inner(right);
    frame.render_widget(block, right);
    let w = usize::from(inner.width);
    let s = &app.sync;
    let sep = lang.pick(" ", ": ");
    let loud = Style::default()
        .fg(Color::White)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::from(fit(
        &format!("{}{sep}{}", Label::LastSync.text(lang), app.last_sync()),
        w,
    ))];
    if let (Some(v), Some(age)) = (s.bundle_version, app.bundle_age()) {
        let text = match lang {
            Lang::Zh => format!("{} v{v} · {age}前", Label::Bundle.text(lang)),
            Lang::En => format!("{}: v{v}, {age} old", Label::Bundle.text(lang)),
        };
        lines.push(Line::from(fit(&text, w)));
    }
    let unsent = match lang {
        Lang::Zh => format!("{} {} 条", Label::Unsent.text(lang), s.unsent),
        Lang::En => format!("{}: {}", Label::Unsent.text(lang), s.unsent),
    };
    lines.push(Line::from(fit(&unsent, w)).style(if s.unsent > 0 {
        Style::default().fg(Color::Yellow)
    } else {
        Style::default()
    }));
    if s.no_bundle {
        lines.push(Line::from(fit(Label::NoBundle.text(lang), w)).style(loud));
    } else if s.stale {
        lines.push(Line::from(fit(Label::Stale.text(lang), w)).style(loud));
    }
    if s.clock_behind {
        lines.push(Line::from(fit(Label::ClockBehind.text(lang), w)).style(loud));
    }
    if s.clock_ahead {
        lines.push(Line::from(fit(Label::ClockAhead.text(lang), w)).style(loud));
    }
    if app.syncing {
        lines.push(
            Line::from(fit(Label::Syncing.text(lang), w)).style(Style::default().fg(Color::Cyan)),
        );
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn render_notice(frame: &mut Frame, app: &App, area: Rect) {
    let w = usize::from(area.width);
    let (text, style) = match &app.notice {
        None => return,
        Some(Notice::Info(t)) => (
            fit(&format!(" {t}"), w),
            Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ),
        Some(Notice::Error(t)) => (
            fit(&format!(" ✗ {t}"), w),
            Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        ),
    };
    frame.render_widget(Paragraph::new(text).style(style), area);
}

fn render_input(frame: &mut Frame, app: &App, area: Rect) {
    let prompt = Label::ScanPrompt.text(app.lang);
    let room = usize::from(area.width).saturating_sub(prompt.width() + 1);
    let shown = fit_tail(&app.input, room);
    let cursor_x = area.x + u16::try_from(prompt.width() + shown.width()).unwrap_or(0);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                prompt,
                Style::default()
                    .fg(Color::Green)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(shown),
        ])),
        area,
    );
    if app.mode == Mode::Scan {
        frame.set_cursor_position(Position::new(
            cursor_x.min(area.right().saturating_sub(1)),
            area.y,
        ));
    }
}

/// A rectangle of at most `w`×`h` centred in `area`.
fn centred(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn render_help(frame: &mut Frame, app: &App, area: Rect) {
    let lines = labels::help_lines(app.lang);
    let h = u16::try_from(lines.len() + 3).unwrap_or(u16::MAX);
    let popup = centred(area, 78, h);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", Label::HelpTitle.text(app.lang)))
        .style(Style::default().fg(Color::White).bg(Color::Black));
    let inner = block.inner(popup);
    let w = usize::from(inner.width);
    let mut text: Vec<Line> = lines.iter().map(|l| Line::from(fit(l, w))).collect();
    text.push(
        Line::from(fit(Label::HelpClose.text(app.lang), w))
            .style(Style::default().fg(Color::DarkGray)),
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    frame.render_widget(Paragraph::new(text), inner);
}

fn render_override(frame: &mut Frame, app: &App, area: Rect) {
    let Mode::Override(form) = &app.mode else {
        return;
    };
    let lang = app.lang;
    let popup = centred(area, 74, 9);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", Label::OverrideTitle.text(lang)))
        .style(Style::default().fg(Color::Black).bg(Color::Yellow));
    let inner = block.inner(popup);
    let w = usize::from(inner.width);
    let target = match lang {
        Lang::Zh => format!("第 {} 条：{}", form.seq, form.target),
        Lang::En => format!("Record #{}: {}", form.seq, form.target),
    };
    let input_line = |label: Label, value: &str, active: bool| {
        let head = format!("{}{} ", label.text(lang), lang.pick("：", ":"));
        let room = w.saturating_sub(head.width() + 2);
        let marker = if active { "▏" } else { "" };
        let style = if active {
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            Style::default()
        };
        Line::from(vec![
            Span::raw(head),
            Span::styled(format!("{}{marker}", fit_tail(value, room)), style),
        ])
    };
    let mut text = vec![
        Line::from(fit(&target, w)).style(Style::default().add_modifier(Modifier::BOLD)),
        Line::from(""),
        input_line(Label::OverrideReason, &form.reason, form.field == 0),
        input_line(Label::OverrideSupervisor, &form.supervisor, form.field == 1),
        Line::from(""),
        Line::from(fit(Label::OverrideKeys.text(lang), w)),
    ];
    if let Some(e) = &form.error {
        text.push(
            Line::from(fit(e, w))
                .style(Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)),
        );
    }
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    frame.render_widget(Paragraph::new(text), inner);
}
