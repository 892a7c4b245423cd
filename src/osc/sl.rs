//! SooperLooper's vocabulary and what it means here: commands (for `hit`,
//! `down`, `up`, `upforce`), controls (for `set`, `get` and updates) and
//! state numbers. The one place the mapping is written; `docs/osc.md`
//! lists the same.

use crate::engine::{Button, HeadMode, Param, TrackAction, TrackSnapshot};

/// On, off, or the other way from what the surface last saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    Toggle,
    On,
    Off,
}

/// What one SooperLooper command does to a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlCommand {
    /// The action on every press (the engine itself ends a multiply or
    /// insert on the second press, and resumes a pause).
    Press(TrackAction),
    /// Start the action; pressed again while the track is in its mode,
    /// back to play (SooperLooper's record, overdub, replace, substitute).
    Toggle(TrackAction, HeadMode),
    Mute(Switch),
    Solo(Switch),
    Pause(Switch),
}

/// SooperLooper's words whose meaning depends on what the track is doing:
/// its mute, solo and pause toggle, and their explicit forms. Every other
/// command is an action's declared OSC name (or its own name: play, stop,
/// erase, clear, dub, unmute …), from the one table of actions.
const SWITCHES: [(&str, SlCommand); 12] = [
    ("mute", SlCommand::Mute(Switch::Toggle)),
    ("mute_trigger", SlCommand::Mute(Switch::Toggle)),
    ("mute_on", SlCommand::Mute(Switch::On)),
    ("mute_off", SlCommand::Mute(Switch::Off)),
    ("unmute", SlCommand::Mute(Switch::Off)),
    ("solo", SlCommand::Solo(Switch::Toggle)),
    ("solo_on", SlCommand::Solo(Switch::On)),
    ("solo_off", SlCommand::Solo(Switch::Off)),
    ("unsolo", SlCommand::Solo(Switch::Off)),
    ("pause", SlCommand::Pause(Switch::Toggle)),
    ("pause_on", SlCommand::Pause(Switch::On)),
    ("pause_off", SlCommand::Pause(Switch::Off)),
];

/// The head mode an action puts a track in and holds until it is ended
/// (by a second press or the release of a held button), if it does.
fn held_mode(action: TrackAction) -> Option<HeadMode> {
    use TrackAction::*;
    match action {
        Record => Some(HeadMode::Record),
        Dub => Some(HeadMode::Dub),
        Erase => Some(HeadMode::Erase),
        Replace => Some(HeadMode::Replace),
        Substitute => Some(HeadMode::Substitute),
        Play | Stop | Clear | Reverse | Undo | Redo | UndoAll | RedoAll | Multiply | Insert | Trigger
        | Oneshot | Pause | Mute | Unmute | Solo | Unsolo | Tap => None,
    }
}

/// The SooperLooper command of that name.
pub fn sl_command(name: &str) -> Option<SlCommand> {
    if let Some((_, command)) = SWITCHES.iter().find(|(n, _)| *n == name) {
        return Some(*command);
    }
    let action = TrackAction::from_osc_name(name).or_else(|| TrackAction::from_name(name))?;
    // A button held for an action (record, overdub, …) ends it on release;
    // pressed on its own, the second press ends it.
    Some(match (action.button(), held_mode(action)) {
        (Button::Momentary { .. }, Some(mode)) => SlCommand::Toggle(action, mode),
        _ => SlCommand::Press(action),
    })
}

/// Every SooperLooper command name this server understands, for the docs.
pub fn sl_command_names() -> impl Iterator<Item = &'static str> {
    SWITCHES.iter().map(|(n, _)| *n).chain(TrackAction::ALL.iter().map(|a| a.osc_name()))
}

impl SlCommand {
    /// The explicit action for a track last seen as `track`; `None` when
    /// the command asks for what the track already is (mute_on while muted).
    pub fn resolve(self, track: &TrackSnapshot) -> Option<TrackAction> {
        let switch = |switch: Switch, now: bool, on: TrackAction, off: TrackAction| {
            let want = match switch {
                Switch::Toggle => !now,
                Switch::On => true,
                Switch::Off => false,
            };
            (want != now || switch == Switch::Toggle).then_some(if want { on } else { off })
        };
        match self {
            SlCommand::Press(action) => Some(action),
            SlCommand::Toggle(action, mode) if track.mode == mode => {
                let _ = action;
                Some(TrackAction::Play)
            }
            SlCommand::Toggle(action, _) => Some(action),
            SlCommand::Mute(s) => switch(s, track.muted, TrackAction::Mute, TrackAction::Unmute),
            SlCommand::Solo(s) => switch(s, track.soloed, TrackAction::Solo, TrackAction::Unsolo),
            // The engine's pause is itself a toggle: press it only to change.
            SlCommand::Pause(s) => {
                let paused = track.mode == HeadMode::Paused;
                switch(s, paused, TrackAction::Pause, TrackAction::Pause)
            }
        }
    }
}

/// SooperLooper's state number for what a track is doing.
pub fn sl_state(track: &TrackSnapshot) -> i32 {
    match track.mode {
        _ if track.length_unset && !track.mode.writes() => 0,
        HeadMode::Record => 2,
        HeadMode::Dub => 5,
        HeadMode::Multiply => 6,
        HeadMode::Insert => 7,
        HeadMode::Replace | HeadMode::Erase => 8,
        HeadMode::Substitute => 13,
        HeadMode::Oneshot => 12,
        HeadMode::Paused | HeadMode::Stop => 14,
        HeadMode::Play if track.muted => 10,
        HeadMode::Play => 4,
    }
}

/// A per-loop control an SL client can set (and read back).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SlControl {
    /// The same value as one of our parameters.
    Same(Param),
    /// `wet`: linear gain 0–1 ↔ `level_db`.
    Wet,
    /// `pan_1`: 0 (left) – 1 (right) ↔ `pan` −1 – 1.
    Pan,
    /// `input_gain`: linear gain ↔ `drive_db` (0–36 dB).
    InputGain,
}

/// Per-loop controls `set` and `get` accept, by SooperLooper name.
pub const SL_CONTROLS: [(&str, SlControl); 5] = [
    ("rate", SlControl::Same(Param::Speed)),
    ("feedback", SlControl::Same(Param::Feedback)),
    ("wet", SlControl::Wet),
    ("pan_1", SlControl::Pan),
    ("input_gain", SlControl::InputGain),
];

/// Read-only per-loop controls `get` answers.
pub const SL_READ_ONLY: [&str; 14] = [
    "state",
    "next_state",
    "loop_len",
    "loop_pos",
    "cycle_len",
    "free_time",
    "total_time",
    "waiting",
    "rate_output",
    "is_soloed",
    "out_peak_meter",
    "has_discrete_io",
    "channel_count",
    "in_peak_meter",
];

/// SooperLooper controls with nothing behind them here: set is ignored,
/// get is not answered (counted as unknown), as `docs/osc.md` says.
pub const SL_NO_EQUIVALENT: [&str; 24] = [
    "rec_thresh",
    "sync",
    "relative_sync",
    "quantize",
    "round",
    "mute_quantized",
    "overdub_quantized",
    "replace_quantized",
    "playback_sync",
    "use_feedback_play",
    "use_common_ins",
    "use_common_outs",
    "use_rate",
    "use_safety_feedback",
    "input_latency",
    "output_latency",
    "trigger_latency",
    "autoset_latency",
    "dry",
    "scratch_pos",
    "delay_trigger",
    "stretch_ratio",
    "pitch_shift",
    "tempo_stretch",
];

pub fn sl_control(name: &str) -> Option<SlControl> {
    SL_CONTROLS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

impl SlControl {
    /// The parameter and its value for an SL value.
    pub fn to_param(self, value: f32) -> (Param, f32) {
        let db = |gain: f32| if gain > 0.0 { 20.0 * gain.log10() } else { -120.0 };
        match self {
            SlControl::Same(param) => (param, param.clamp(value)),
            SlControl::Wet => (Param::LevelDb, Param::LevelDb.clamp(db(value))),
            SlControl::Pan => (Param::Pan, Param::Pan.clamp(value * 2.0 - 1.0)),
            SlControl::InputGain => (Param::DriveDb, Param::DriveDb.clamp(db(value))),
        }
    }

    /// The SL value of the track's parameter.
    pub fn value(self, track: &TrackSnapshot) -> f32 {
        let gain = |db: f32| if db <= -120.0 { 0.0 } else { 10f32.powf(db / 20.0) };
        match self {
            SlControl::Same(param) => track.params.get(param),
            SlControl::Wet => gain(track.params.get(Param::LevelDb)),
            SlControl::Pan => (track.params.get(Param::Pan) + 1.0) / 2.0,
            SlControl::InputGain => gain(track.params.get(Param::DriveDb)),
        }
    }
}

/// Any per-loop control's value for a track, read-only ones included;
/// `None` for a name with no equivalent. `rate`: the engine's sample rate, Hz.
pub fn control_value(name: &str, track: &TrackSnapshot, rate: u32) -> Option<f32> {
    if let Some(control) = sl_control(name) {
        return Some(control.value(track));
    }
    let seconds = |cells: usize| if rate == 0 { 0.0 } else { cells as f32 / rate as f32 };
    let loop_len = if track.length_unset && !track.mode.writes() { 0.0 } else { seconds(track.loop_cells) };
    Some(match name {
        "state" | "next_state" => sl_state(track) as f32,
        "loop_len" => loop_len,
        "loop_pos" => track.position * loop_len,
        "cycle_len" => seconds(track.cycle_cells.min(track.loop_cells)),
        "free_time" => seconds(track.capacity_cells.saturating_sub(track.loop_cells)),
        "total_time" => seconds(track.capacity_cells),
        "waiting" => 0.0,
        "rate_output" => track.tape_speed,
        "is_soloed" => f32::from(u8::from(track.soloed)),
        "out_peak_meter" => track.peak,
        "in_peak_meter" => 0.0,
        "has_discrete_io" => 0.0,
        "channel_count" => 1.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_an_sl_command() {
        for action in TrackAction::ALL {
            let found = sl_command_names().filter_map(sl_command).any(|c| match c {
                SlCommand::Press(a) | SlCommand::Toggle(a, _) => a == action,
                SlCommand::Mute(_) => matches!(action, TrackAction::Mute | TrackAction::Unmute),
                SlCommand::Solo(_) => matches!(action, TrackAction::Solo | TrackAction::Unsolo),
                SlCommand::Pause(_) => action == TrackAction::Pause,
            });
            assert!(found, "{} has no SL command", action.name());
        }
    }

    #[test]
    fn toggles_become_explicit_actions_from_the_state_seen() {
        let mut track = TrackSnapshot::default();
        assert_eq!(sl_command("mute").unwrap().resolve(&track), Some(TrackAction::Mute));
        track.muted = true;
        assert_eq!(sl_command("mute").unwrap().resolve(&track), Some(TrackAction::Unmute));
        assert_eq!(sl_command("mute_on").unwrap().resolve(&track), None);
        assert_eq!(sl_command("record").unwrap().resolve(&track), Some(TrackAction::Record));
        track.mode = HeadMode::Record;
        assert_eq!(sl_command("record").unwrap().resolve(&track), Some(TrackAction::Play));
        assert_eq!(sl_command("pause_off").unwrap().resolve(&track), None);
        track.mode = HeadMode::Paused;
        assert_eq!(sl_command("pause_off").unwrap().resolve(&track), Some(TrackAction::Pause));
        assert_eq!(sl_command("nonsense"), None);
    }

    #[test]
    fn controls_convert_both_ways() {
        let (param, value) = SlControl::Wet.to_param(0.5);
        assert_eq!(param, Param::LevelDb);
        assert!((value + 6.02).abs() < 0.01);
        let mut track = TrackSnapshot::default();
        track.params.set(Param::LevelDb, value);
        assert!((SlControl::Wet.value(&track) - 0.5).abs() < 1e-4);
        assert_eq!(SlControl::Pan.to_param(1.0), (Param::Pan, 1.0));
        assert_eq!(control_value("state", &track, 48_000), Some(4.0));
        assert_eq!(control_value("sync", &track, 48_000), None);
    }
}
