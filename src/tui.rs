//! The screen: a ratatui front panel for the instrument, playable from the
//! keyboard alone.
//!
//! - [`link`]: the [`InstrumentLink`] seam to whatever plays the sound, and
//!   [`LocalLink`], a synchronously driven engine for tests.
//! - [`app`]: the screen's state and what each action does.
//! - [`action`], [`keymap`]: actions and the keys bound to them (data,
//!   `default_keys.toml` merged with the performer's `keys.toml`).
//! - [`view`]: drawing, as `impl Widget for &App`.
//! - [`run`]: the event/redraw loop, generic over the ratatui backend.
//! - [`terminal`]: raw mode and alternate screen, restored on exit and panic.

pub mod action;
pub mod app;
pub mod demo;
pub mod files;
pub mod keymap;
pub mod link;
pub mod live_link;
pub mod params;
pub mod run;
pub mod terminal;
pub mod view;

use std::path::{Path, PathBuf};

use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub use app::App;
pub use keymap::KeyMap;
pub use link::{InstrumentLink, LearnTarget, LearnWhat, LinkStatus, LocalLink};
pub use run::{run, EventSource, Exit, Polled, ScriptedEvents, TerminalEvents};

use crate::patch::Patch;

/// `$XDG_CONFIG_HOME/ferrotape`, else `~/.config/ferrotape`.
pub fn config_dir() -> Option<PathBuf> {
    let base =
        std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()).map(PathBuf::from).or_else(|| {
            std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("ferrotape"))
}

/// An [`App`] for a patch file (or an empty patch), with the performer's keys
/// and recent files. A bad keymap does not stop the show: the built-in keys
/// are used and the problem is shown on the message line.
pub fn prepare_app(patch_path: Option<&Path>) -> Result<App, String> {
    let patch = match patch_path {
        Some(path) => Patch::load(path).map_err(|e| e.to_string())?,
        None => Patch { name: "untitled".into(), ..Patch::default() },
    };
    let (keymap, keymap_error) = match keymap::user_keys_path() {
        Some(path) => match KeyMap::load(&path) {
            Ok(map) => (map, None),
            Err(err) => (KeyMap::defaults(), Some(format!("{err} (using the built-in keys)"))),
        },
        None => (KeyMap::defaults(), None),
    };
    let mut app = App::new(keymap, patch, patch_path.map(Path::to_path_buf));
    if let Some(path) = patch_path.and_then(Path::parent).filter(|p| !p.as_os_str().is_empty()) {
        if !app.patch_dirs.iter().any(|d| d == path) {
            app.patch_dirs.push(path.to_path_buf());
        }
    }
    app.recent_file = config_dir().map(|d| d.join("recent"));
    if let Some(file) = &app.recent_file {
        app.recent = files::load_recent(file);
    }
    if let Some(message) = keymap_error {
        app.report_error(message);
    }
    Ok(app)
}

/// Run the screen on the real terminal (alternate screen, raw mode, mouse)
/// until the performer quits; the terminal is restored however it ends.
pub fn run_interactive(patch_path: Option<&Path>, link: &mut dyn InstrumentLink) -> Result<(), String> {
    let mut app = prepare_app(patch_path)?;
    let guard =
        terminal::TerminalGuard::enter(true).map_err(|e| format!("cannot set up the terminal: {e}"))?;
    let result = Terminal::new(CrosstermBackend::new(std::io::stdout()))
        .and_then(|mut terminal| run(&mut terminal, &mut app, link, TerminalEvents));
    drop(guard);
    result.map(|_| ()).map_err(|e| format!("terminal error: {e}"))
}
