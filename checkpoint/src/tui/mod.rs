//! The full-screen gate terminal UI for guards (`passgate-checkpoint gate`, or no
//! subcommand on a terminal); see `docs/gate-ui.md`.
//!
//! * [`state`] — the pure state machine: keys in, [`state::Effect`]s out.
//! * [`render`] — draws the state with ratatui (tested on its `TestBackend`).
//! * [`bigtext`] — the plate in block letters.
//! * [`labels`] — every screen label, Chinese and English.
//! * [`defaults`] — the remembered direction and checks (`DATA_DIR/gate-defaults.json`).
//!
//! [`run`] is the terminal loop: it puts the terminal in raw mode on the alternate screen
//! (restored on exit, on error and on panic), reads keys on a thread, carries out the
//! effects with the same library calls the other commands use (`Gate::load` /
//! `Gate::refresh`, `scan::scan`, `scan::override_scan`, `app::read_status`, `sync::sync`)
//! and redraws.

pub mod bigtext;
pub mod defaults;
pub mod labels;
pub mod render;
pub mod state;

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use passgate_shared::record::Observations;
use passgate_shared::sync::Direction;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::app::{self, Common};
use crate::error::{CheckpointError, Result};
use crate::scan::{self, Gate};
use crate::store::Store;
use crate::sync;
use labels::Label;
use state::{App, Effect, RepeatFilter, VerdictView};

/// What `gate` starts with besides the common options. `None` fields come from the
/// defaults file (and then from the built-in defaults: direction in, nothing checked).
#[derive(Debug, Clone, PartialEq)]
pub struct GateOptions {
    pub direction: Option<Direction>,
    pub guard: Option<String>,
    /// Checks given on the command line: each set field overrides the defaults file.
    pub observations: Observations,
    /// The same line in the same direction again within this long is not a second scan.
    pub repeat_window: Duration,
    /// How often the bundle and the status are re-read.
    pub refresh: Duration,
}

impl Default for GateOptions {
    fn default() -> GateOptions {
        GateOptions {
            direction: None,
            guard: None,
            observations: Observations::default(),
            repeat_window: Duration::from_secs(3),
            refresh: Duration::from_secs(2),
        }
    }
}

/// The session's defaults: the file, then the command line on top.
pub fn merge_defaults(
    file: Option<defaults::Defaults>,
    options: &GateOptions,
) -> defaults::Defaults {
    let mut d = file.unwrap_or_default();
    if let Some(dir) = options.direction {
        d.direction = dir;
    }
    let o = &options.observations;
    let obs = &mut d.observations;
    obs.health_code = o.health_code.or(obs.health_code);
    obs.itinerary_ok = o.itinerary_ok.or(obs.itinerary_ok);
    obs.negative_test_48h = o.negative_test_48h.or(obs.negative_test_48h);
    obs.temperature_ok = o.temperature_ok.or(obs.temperature_ok);
    d
}

fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        std::io::stdout(),
        event::DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Restores the terminal before the previous panic hook prints the panic.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
    });
}

/// The terminal in raw mode on the alternate screen; restored when dropped.
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<std::io::Stdout>>,
}

impl TerminalGuard {
    fn enter() -> std::io::Result<TerminalGuard> {
        install_panic_hook();
        terminal::enable_raw_mode()?;
        let entered = crossterm::execute!(
            std::io::stdout(),
            EnterAlternateScreen,
            event::EnableBracketedPaste
        )
        .and_then(|()| Terminal::new(CrosstermBackend::new(std::io::stdout())));
        match entered {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore_terminal();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn io_error(context: &str) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        context: context.to_owned(),
        source,
    }
}

/// Reads terminal events on a thread until told to stop or the channel closes.
fn spawn_reader(
    tx: tokio::sync::mpsc::UnboundedSender<std::io::Result<Event>>,
    stop: Arc<AtomicBool>,
) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match event::poll(Duration::from_millis(100)) {
                Ok(false) => {}
                Ok(true) => {
                    let ev = event::read();
                    let failed = ev.is_err();
                    if tx.send(ev).is_err() || failed {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
}

/// The loop's working parts.
struct Session<'a> {
    common: &'a Common,
    store: &'a Store,
    gate: Gate,
    repeats: RepeatFilter,
    sync_task: Option<tokio::task::JoinHandle<Result<sync::SyncSummary>>>,
}

impl Session<'_> {
    async fn refresh(&mut self, app: &mut App) {
        if let Err(e) = self.gate.refresh(self.store).await {
            app.on_error(e.to_string());
        }
        match app::read_status(self.store, self.common.clock.now()).await {
            Ok(s) => app.on_status(&s),
            Err(e) => app.on_error(e.to_string()),
        }
    }

    async fn carry_out(&mut self, app: &mut App, effect: Effect) {
        let lang = self.common.lang;
        match effect {
            Effect::Quit => app.quit = true,
            Effect::Scan {
                text,
                direction,
                meta,
            } => {
                if self.repeats.is_repeat(&text, direction, Instant::now()) {
                    app.on_info(Label::RepeatIgnored);
                    return;
                }
                if let Err(e) = self.gate.refresh(self.store).await {
                    app.on_error(e.to_string());
                }
                let now = self.common.clock.now();
                match scan::scan(self.store, &self.gate, &text, direction, &meta, now).await {
                    Ok(outcome) => {
                        app.on_scanned(VerdictView::from_outcome(
                            &outcome,
                            Some(self.gate.bundle()),
                            lang,
                        ));
                    }
                    Err(e) => app.on_error(e.to_string()),
                }
                self.refresh(app).await;
            }
            Effect::Override(request) => {
                let now = self.common.clock.now();
                match scan::override_scan(self.store, &self.gate, &request, now).await {
                    Ok(outcome) => {
                        let target = outcome.record.overrides_seq.unwrap_or_default();
                        app.on_overridden(
                            VerdictView::from_outcome(&outcome, Some(self.gate.bundle()), lang),
                            target,
                        );
                    }
                    Err(e) => app.on_error(e.to_string()),
                }
                self.refresh(app).await;
            }
            Effect::SaveDefaults(d) => match defaults::save(&self.common.data_dir, &d) {
                Ok(()) => app.on_info(Label::DefaultsSaved),
                Err(e) => app.on_error(e.to_string()),
            },
            Effect::Sync => {
                let dir = self.common.data_dir.clone();
                let now = self.common.clock.now();
                self.sync_task = Some(tokio::spawn(async move {
                    let store = Store::open(&dir).await?;
                    let result = sync::sync(&store, now).await;
                    store.close().await;
                    result
                }));
            }
        }
    }
}

/// The background sync's end; never, when none is running.
async fn sync_finished(
    task: &mut Option<tokio::task::JoinHandle<Result<sync::SyncSummary>>>,
) -> std::result::Result<Result<sync::SyncSummary>, tokio::task::JoinError> {
    match task.as_mut() {
        Some(t) => t.await,
        None => std::future::pending().await,
    }
}

/// Run the gate screen until the guard quits (F10 or Ctrl-C). Not enrolled, no usable
/// bundle, or no terminal: an error before the screen opens.
pub async fn run(common: &Common, options: &GateOptions) -> Result<()> {
    let store = Store::open(&common.data_dir).await?;
    let result = run_with_store(common, options, &store).await;
    store.close().await;
    result
}

async fn run_with_store(common: &Common, options: &GateOptions, store: &Store) -> Result<()> {
    let gate = Gate::load(store).await?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(CheckpointError::Usage(
            "the gate screen needs a terminal; for piped scanner input use `passgate-checkpoint scan`"
                .into(),
        ));
    }
    let (file, file_problem) = match defaults::load(&common.data_dir) {
        Ok(d) => (d, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let session_defaults = merge_defaults(file, options);
    let mut app = App::new(
        common.lang,
        gate.checkpoint.name.clone(),
        options.guard.clone(),
        session_defaults,
        common.clock.now(),
    );
    let mut session = Session {
        common,
        store,
        gate,
        repeats: RepeatFilter::new(options.repeat_window),
        sync_task: None,
    };
    session.refresh(&mut app).await;
    if let Some(p) = file_problem {
        app.on_error(p);
    }

    let mut guard = TerminalGuard::enter().map_err(io_error("cannot open the gate screen"))?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    spawn_reader(tx, Arc::clone(&stop));
    let mut tick = tokio::time::interval(options.refresh.max(Duration::from_millis(200)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let outcome = loop {
        if let Err(e) = guard.terminal.draw(|f| render::render(f, &app)) {
            break Err(io_error("cannot draw the gate screen")(e));
        }
        if app.take_bell() {
            let mut out = std::io::stdout();
            let _ = out.write_all(b"\x07").and_then(|()| out.flush());
        }
        if app.quit {
            break Ok(());
        }
        tokio::select! {
            ev = rx.recv() => {
                let effects = match ev {
                    None => break Ok(()),
                    Some(Err(e)) => break Err(io_error("cannot read the keyboard")(e)),
                    Some(Ok(Event::Key(key))) => app.handle_key(key),
                    Some(Ok(Event::Paste(text))) => app.handle_paste(&text),
                    Some(Ok(_)) => Vec::new(),
                };
                for effect in effects {
                    session.carry_out(&mut app, effect).await;
                }
            }
            done = sync_finished(&mut session.sync_task) => {
                session.sync_task = None;
                let result = match done {
                    Ok(Ok(s)) => Ok(app::sync_summary_text(&s, common.lang)),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                app.on_sync_done(result);
                session.refresh(&mut app).await;
            }
            _ = tick.tick() => {
                session.refresh(&mut app).await;
            }
        }
    };
    stop.store(true, Ordering::Relaxed);
    drop(guard);
    if let Some(task) = session.sync_task.take() {
        task.abort();
    }
    outcome
}
#[cfg(test)]
mod tests;
