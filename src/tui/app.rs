//! The screen's state and what each action does to it. Drawing only reads
//! this (see `view`); everything that changes it is a method named for
//! what the performer meant.

use std::path::{Path, PathBuf};

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;

use super::action::Action;
use super::files::{patch_choices, remember_recent, PatchChoice};
use super::keymap::{KeyMap, KeyMode};
use super::link::{InstrumentLink, LearnTarget, LearnWhat, LinkStatus};
use super::params::SCREEN_PARAMS;
use crate::engine::{Command, EngineSnapshot, HeadMode, Param, TrackAction, MAX_TRACKS};
use crate::patch::Patch;

/// A tenth of a semitone, as a speed ratio.
const VARISPEED_STEP: f32 = 1.005_792_5;

/// How much of a meter's reading is kept per snapshot (about 30 a second),
/// so peaks fall away over a few hundred milliseconds instead of flickering.
const METER_DECAY: f32 = 0.82;

/// A line of text for the performer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub is_error: bool,
}

/// What to do once the performer agrees to lose unsaved changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending {
    Quit,
    Load(PathBuf),
}

/// A panel over the strips; at most one at a time, and Esc always closes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    None,
    Help {
        scroll: u16,
    },
    Learn {
        target: LearnTarget,
    },
    Picker {
        choices: Vec<PatchChoice>,
        selected: usize,
    },
    Confirm {
        question: String,
        then: Pending,
    },
    /// The link's warning in full, scrolled by `scroll` rows.
    Warning {
        scroll: u16,
    },
    /// Typing a file name for save-as.
    SaveAs {
        text: String,
    },
}

/// Everything the screen knows.
pub struct App {
    pub keymap: KeyMap,
    /// The patch as last loaded or saved: what "unsaved changes" compares against.
    pub patch: Patch,
    pub patch_path: Option<PathBuf>,
    /// The latest engine snapshot, with this screen's own edits applied
    /// ahead of the engine's confirmation so repeated presses add up.
    pub snapshot: EngineSnapshot,
    pub has_snapshot: bool,
    pub status: LinkStatus,
    pub selected_track: usize,
    /// Index into [`SCREEN_PARAMS`].
    pub selected_param: usize,
    pub overlay: Overlay,
    pub message: Option<Message>,
    /// Peak meters with a falling release, linear.
    pub meters: [f32; MAX_TRACKS],
    /// Whether colours may be used (off when NO_COLOR is set).
    pub color: bool,
    /// Patch files opened or saved recently, newest first.
    pub recent: Vec<PathBuf>,
    /// Where the recent list is kept between runs (none in tests).
    pub recent_file: Option<PathBuf>,
    /// Folders the load picker lists.
    pub patch_dirs: Vec<PathBuf>,
    /// The terminal area of the last frame, for mapping mouse clicks.
    pub area: Rect,
    quit: bool,
}

impl App {
    pub fn new(keymap: KeyMap, patch: Patch, patch_path: Option<PathBuf>) -> App {
        App {
            keymap,
            patch,
            patch_path,
            snapshot: EngineSnapshot::default(),
            has_snapshot: false,
            status: LinkStatus::default(),
            selected_track: 0,
            selected_param: 0,
            overlay: Overlay::None,
            message: None,
            meters: [0.0; MAX_TRACKS],
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            recent: Vec::new(),
            recent_file: None,
            patch_dirs: vec![PathBuf::from("patches")],
            area: Rect::default(),
            quit: false,
        }
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// The keymap table in force right now.
    pub fn key_mode(&self) -> KeyMode {
        match self.overlay {
            Overlay::None => KeyMode::Main,
            // A panel of text to read: the help screen's keys.
            Overlay::Help { .. } | Overlay::Warning { .. } => KeyMode::Help,
            Overlay::Learn { .. } => KeyMode::Learn,
            Overlay::Picker { .. } => KeyMode::Picker,
            Overlay::Confirm { .. } => KeyMode::Confirm,
            Overlay::SaveAs { .. } => KeyMode::Prompt,
        }
    }

    pub fn track_count(&self) -> usize {
        if self.has_snapshot {
            self.snapshot.track_count
        } else {
            self.patch.tracks.len().min(MAX_TRACKS)
        }
    }

    pub fn track_name(&self, track: usize) -> &str {
        self.patch.tracks.get(track).map_or("", |t| t.name.as_str())
    }

    pub fn selected_screen_param(&self) -> Param {
        SCREEN_PARAMS[self.selected_param % SCREEN_PARAMS.len()].param
    }

    /// Whether parameters, mute or solo differ from the patch on disk.
    pub fn is_dirty(&self) -> bool {
        self.has_snapshot && self.current_patch() != self.patch
    }

    /// The loaded patch with the engine's current values written in: every
    /// parameter, mute, solo and each fixed loop's length.
    pub fn current_patch(&self) -> Patch {
        if !self.has_snapshot {
            return self.patch.clone();
        }
        let states: Vec<_> = self.snapshot.tracks().iter().map(|t| t.state()).collect();
        let mut patch = crate::session::live_patch(
            &self.patch,
            &states,
            Some(&self.snapshot.grid),
            self.snapshot.sample_rate.max(1),
        );
        // The rate only turns cells into seconds here; it is the device's, not the patch's.
        patch.sample_rate = self.patch.sample_rate;
        patch
    }

    /// Take in whatever the link has: a new snapshot, a learned binding, status.
    pub fn absorb(&mut self, link: &mut dyn InstrumentLink) {
        if let Some(snapshot) = link.poll() {
            for (meter, track) in self.meters.iter_mut().zip(snapshot.tracks()) {
                *meter = track.peak.max(*meter * METER_DECAY);
            }
            self.snapshot = snapshot;
            self.has_snapshot = true;
            self.selected_track = self.selected_track.min(snapshot.track_count.saturating_sub(1));
        }
        // MIDI `select` bindings move the selection the screen shares.
        if let Some(track) = link.selected_track() {
            self.selected_track = usize::from(track).min(self.track_count().saturating_sub(1));
        }
        if let Some(learned) = link.poll_learned() {
            self.inform(format!("learned: {learned}"));
            // A binding learned into the patch file is part of the patch now.
            if let Some(midi) = link.patch_midi() {
                self.patch.midi = midi;
            }
            if matches!(self.overlay, Overlay::Learn { .. }) {
                self.overlay = Overlay::None;
            }
        }
        self.status = link.status();
    }

    pub fn inform(&mut self, text: impl Into<String>) {
        self.message = Some(Message { text: text.into(), is_error: false });
    }

    pub fn report_error(&mut self, text: impl Into<String>) {
        self.message = Some(Message { text: text.into(), is_error: true });
    }

    /// React to one terminal event.
    pub fn handle_event(&mut self, event: &Event, link: &mut dyn InstrumentLink) {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.handle_key(key, link),
            Event::Mouse(mouse) => self.handle_mouse(mouse, link),
            Event::Resize(width, height) => self.area = Rect::new(0, 0, *width, *height),
            _ => {}
        }
    }

    pub fn handle_key(&mut self, key: &KeyEvent, link: &mut dyn InstrumentLink) {
        let mode = self.key_mode();
        if let Overlay::SaveAs { text } = &mut self.overlay {
            match key.code {
                KeyCode::Char(c)
                    if self.keymap.action(mode, key).is_none()
                        && !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
                {
                    text.push(c);
                    return;
                }
                KeyCode::Backspace => {
                    text.pop();
                    return;
                }
                _ => {}
            }
        }
        if mode == KeyMode::Learn {
            // In learn mode an action's key picks that action as the target.
            if let Some(action) = self.keymap.action(KeyMode::Main, key) {
                if self.keymap.action(KeyMode::Learn, key).is_none() {
                    self.retarget_learn(action, link);
                    return;
                }
            }
        }
        if let Some(action) = self.keymap.action(mode, key) {
            self.perform(action, link);
        }
    }

    fn handle_mouse(&mut self, mouse: &MouseEvent, link: &mut dyn InstrumentLink) {
        if self.overlay != Overlay::None {
            return;
        }
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                let strips = self.layout(self.area).strips;
                let first = (self.selected_track + 1).saturating_sub(strips.len());
                if let Some(index) = strips.iter().position(|r| r.contains((mouse.column, mouse.row).into()))
                {
                    self.selected_track = first + index;
                    link.select_track(self.selected_track as u8);
                }
            }
            MouseEventKind::ScrollUp => self.perform(Action::FineUp, link),
            MouseEventKind::ScrollDown => self.perform(Action::FineDown, link),
            _ => {}
        }
    }

    /// Do what an action means in the current context.
    pub fn perform(&mut self, action: Action, link: &mut dyn InstrumentLink) {
        let selected = self.selected_track;
        self.perform_in_context(action, link);
        if self.selected_track != selected {
            link.select_track(self.selected_track as u8);
        }
    }

    fn perform_in_context(&mut self, action: Action, link: &mut dyn InstrumentLink) {
        match (&self.overlay, action) {
            (Overlay::None, action) => self.perform_main(action, link),
            (Overlay::Help { .. } | Overlay::Warning { .. }, Action::Up) => self.scroll_help(-1),
            (Overlay::Help { .. } | Overlay::Warning { .. }, Action::Down) => self.scroll_help(1),
            (Overlay::Learn { .. }, Action::Cancel) => {
                link.cancel_learn();
                self.overlay = Overlay::None;
                self.inform("MIDI learn cancelled");
            }
            (Overlay::Picker { .. }, Action::Up) => self.move_picker(-1),
            (Overlay::Picker { .. }, Action::Down) => self.move_picker(1),
            (Overlay::Picker { choices, selected }, Action::Confirm) => {
                let path = choices.get(*selected).map(|c| c.path.clone());
                self.overlay = Overlay::None;
                if let Some(path) = path {
                    self.load_patch_unless_dirty(path, link);
                }
            }
            (Overlay::Confirm { then, .. }, Action::Confirm) => {
                let then = then.clone();
                self.overlay = Overlay::None;
                match then {
                    Pending::Quit => self.quit = true,
                    Pending::Load(path) => self.load_patch(&path, link),
                }
            }
            (Overlay::SaveAs { text }, Action::Confirm) => {
                let path = PathBuf::from(text.trim());
                self.overlay = Overlay::None;
                if !path.as_os_str().is_empty() {
                    self.save_to(&path, link);
                }
            }
            (_, Action::Cancel) => self.overlay = Overlay::None,
            _ => {}
        }
    }

    fn perform_main(&mut self, action: Action, link: &mut dyn InstrumentLink) {
        let track = self.selected_track;
        let live = self.snapshot.tracks.get(track).copied().unwrap_or_default();
        let speed = live.params.get(Param::Speed);
        match action {
            Action::Track(track_action) => self.send_track(track_action, link),
            Action::TogglePlay => {
                let next = if live.mode == HeadMode::Stop { TrackAction::Play } else { TrackAction::Stop };
                self.send_track(next, link);
            }
            Action::ToggleMute => {
                self.send_track(if live.muted { TrackAction::Unmute } else { TrackAction::Mute }, link)
            }
            Action::ToggleSolo => {
                self.send_track(if live.soloed { TrackAction::Unsolo } else { TrackAction::Solo }, link)
            }
            Action::HalfSpeed => self.set_param(Param::Speed, speed * 0.5, link),
            Action::DoubleSpeed => self.set_param(Param::Speed, speed * 2.0, link),
            Action::VarispeedUp => self.set_param(Param::Speed, speed * VARISPEED_STEP, link),
            Action::VarispeedDown => self.set_param(Param::Speed, speed / VARISPEED_STEP, link),
            Action::SelectTrack(n) => {
                let index = usize::from(n.saturating_sub(1));
                if index < self.track_count() {
                    self.selected_track = index;
                }
            }
            Action::NextTrack => self.selected_track = (track + 1) % self.track_count().max(1),
            Action::PrevTrack => {
                let count = self.track_count().max(1);
                self.selected_track = (track + count - 1) % count;
            }
            Action::NextParam => self.selected_param = (self.selected_param + 1) % SCREEN_PARAMS.len(),
            Action::PrevParam => {
                self.selected_param = (self.selected_param + SCREEN_PARAMS.len() - 1) % SCREEN_PARAMS.len()
            }
            Action::CoarseUp | Action::CoarseDown | Action::FineUp | Action::FineDown => {
                let screen = SCREEN_PARAMS[self.selected_param % SCREEN_PARAMS.len()];
                let step = if matches!(action, Action::CoarseUp | Action::CoarseDown) {
                    screen.coarse
                } else {
                    screen.fine
                };
                let sign = if matches!(action, Action::CoarseUp | Action::FineUp) { 1.0 } else { -1.0 };
                self.nudge_param(screen.param, sign * step, link);
            }
            Action::Learn => {
                let target =
                    LearnTarget { track: track as u8, what: LearnWhat::Param(self.selected_screen_param()) };
                self.start_learn(target, link);
            }
            Action::Load => {
                let choices = patch_choices(&self.patch_dirs, &self.recent);
                if choices.is_empty() {
                    self.report_error("no patches found in patches/ and no recent files");
                } else {
                    let current = choices.iter().position(|c| Some(&c.path) == self.patch_path.as_ref());
                    self.overlay = Overlay::Picker { choices, selected: current.unwrap_or(0) };
                }
            }
            Action::Save => match self.patch_path.clone() {
                Some(path) => self.save_to(&path, link),
                None => self.overlay = Overlay::SaveAs { text: String::new() },
            },
            Action::SaveAs => {
                let text = self.patch_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
                self.overlay = Overlay::SaveAs { text };
            }
            Action::Help => self.overlay = Overlay::Help { scroll: 0 },
            Action::Take => match link.toggle_take() {
                Some(true) => self.inform("take: recording".to_string()),
                Some(false) => self.inform("take: stopped and saved".to_string()),
                None => self.report_error("takes are not recorded here".to_string()),
            },
            Action::Quit => {
                if self.is_dirty() {
                    let question = "Quit and lose the unsaved changes to the patch?".to_string();
                    self.overlay = Overlay::Confirm { question, then: Pending::Quit };
                } else {
                    self.quit = true;
                }
            }
            Action::Dismiss => self.message = None,
            Action::ShowWarning => {
                if self.status.warning.is_empty() {
                    self.inform("no warning: all is well");
                } else {
                    self.overlay = Overlay::Warning { scroll: 0 };
                }
            }
            Action::Up | Action::Down | Action::Confirm | Action::Cancel => {}
        }
    }

    fn send(&mut self, command: Command, link: &mut dyn InstrumentLink) {
        if !link.send(command) {
            self.report_error("command dropped: the audio queue is full");
        }
    }

    fn send_track(&mut self, action: TrackAction, link: &mut dyn InstrumentLink) {
        let track = self.selected_track;
        self.send(Command::Track { track: track as u8, action }, link);
        // Show mute/solo/reverse at once; head modes wait for the engine,
        // which may defer them (e.g. while a clear is sweeping).
        if let Some(live) = self.snapshot.tracks.get_mut(track) {
            match action {
                TrackAction::Mute | TrackAction::Unmute => live.muted = action == TrackAction::Mute,
                TrackAction::Solo | TrackAction::Unsolo => live.soloed = action == TrackAction::Solo,
                TrackAction::Reverse => {
                    let speed = live.params.get(Param::Speed);
                    live.params.set(Param::Speed, -speed);
                }
                // Named one by one, not with `_`, so a new action has to be
                // placed here: shown at once or left to the engine.
                TrackAction::Play
                | TrackAction::Stop
                | TrackAction::Record
                | TrackAction::Dub
                | TrackAction::Erase
                | TrackAction::Clear
                | TrackAction::Undo
                | TrackAction::Redo
                | TrackAction::UndoAll
                | TrackAction::RedoAll
                | TrackAction::Multiply
                | TrackAction::Insert
                | TrackAction::Replace
                | TrackAction::Substitute
                | TrackAction::Trigger
                | TrackAction::Oneshot
                | TrackAction::Pause
                | TrackAction::Tap => {}
            }
        }
    }

    fn set_param(&mut self, param: Param, value: f32, link: &mut dyn InstrumentLink) {
        let track = self.selected_track;
        self.send(Command::Set { track: track as u8, param, value }, link);
        if let Some(live) = self.snapshot.tracks.get_mut(track) {
            live.params.set(param, value);
        }
    }

    fn nudge_param(&mut self, param: Param, delta: f32, link: &mut dyn InstrumentLink) {
        let track = self.selected_track;
        self.send(Command::Nudge { track: track as u8, param, delta }, link);
        if let Some(live) = self.snapshot.tracks.get_mut(track) {
            let value = live.params.get(param) + delta;
            live.params.set(param, value);
        }
    }

    fn start_learn(&mut self, target: LearnTarget, link: &mut dyn InstrumentLink) {
        if link.learn(target) {
            self.overlay = Overlay::Learn { target };
        } else {
            self.report_error("MIDI learn needs a MIDI input, and none is connected");
        }
    }

    fn retarget_learn(&mut self, action: Action, link: &mut dyn InstrumentLink) {
        let Overlay::Learn { target } = self.overlay else { return };
        let what = match action {
            Action::Track(track_action) => LearnWhat::Action(track_action),
            Action::NextParam | Action::PrevParam => {
                self.perform_main(action, link);
                LearnWhat::Param(self.selected_screen_param())
            }
            Action::SelectTrack(_) | Action::NextTrack | Action::PrevTrack => {
                self.perform_main(action, link);
                target.what
            }
            _ => return,
        };
        self.start_learn(LearnTarget { track: self.selected_track as u8, what }, link);
    }

    fn scroll_help(&mut self, delta: i32) {
        if let Overlay::Help { scroll } | Overlay::Warning { scroll } = &mut self.overlay {
            *scroll = (i32::from(*scroll) + delta).clamp(0, 200) as u16;
        }
    }

    fn move_picker(&mut self, delta: isize) {
        if let Overlay::Picker { choices, selected } = &mut self.overlay {
            let count = choices.len().max(1) as isize;
            *selected = ((*selected as isize + delta).rem_euclid(count)) as usize;
        }
    }

    fn load_patch_unless_dirty(&mut self, path: PathBuf, link: &mut dyn InstrumentLink) {
        if self.is_dirty() {
            let question = format!("Open {} and lose the unsaved changes?", path.display());
            self.overlay = Overlay::Confirm { question, then: Pending::Load(path) };
        } else {
            self.load_patch(&path, link);
        }
    }

    /// Load a patch and rebuild the engine from it. Errors stay on screen;
    /// the current patch keeps playing.
    pub fn load_patch(&mut self, path: &Path, link: &mut dyn InstrumentLink) {
        let patch = match Patch::load(path) {
            Ok(patch) => patch,
            Err(err) => return self.report_error(err.to_string()),
        };
        if let Err(err) = link.load(path, &patch.engine_config()) {
            return self.report_error(format!("cannot start {}: {err}", path.display()));
        }
        self.inform(format!("opened {}", path.display()));
        self.patch = patch;
        self.patch_path = Some(path.to_path_buf());
        self.has_snapshot = false;
        self.selected_track = 0;
        link.select_track(0);
        self.meters = [0.0; MAX_TRACKS];
        self.note_recent(path);
        self.absorb(link);
    }

    /// Save the patch, and ask the link to keep the tapes beside it.
    fn save_to(&mut self, path: &Path, link: &mut dyn InstrumentLink) {
        let patch = self.current_patch();
        match patch.save(path) {
            Ok(()) => {
                self.patch = patch;
                self.patch_path = Some(path.to_path_buf());
                match link.save_tapes(path) {
                    Ok(()) => self.inform(format!("saved {}", path.display())),
                    Err(err) => {
                        self.report_error(format!("saved {}, but not its tapes: {err}", path.display()))
                    }
                }
                self.note_recent(path);
            }
            Err(err) => self.report_error(err.to_string()),
        }
    }

    fn note_recent(&mut self, path: &Path) {
        if let Err(err) = remember_recent(&mut self.recent, path, self.recent_file.as_deref()) {
            self.report_error(err.to_string());
        }
    }
}
