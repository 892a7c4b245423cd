//! Everything a key (or a mouse gesture) can ask the screen to do. Keymaps
//! name actions by [`Action::name`]; help text comes from [`Action::describe`].

use crate::engine::TrackAction;

/// One thing the performer can do from the keyboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Apply a head mode or edit to the selected track.
    Track(TrackAction),
    /// Play when stopped, stop otherwise.
    TogglePlay,
    ToggleMute,
    ToggleSolo,
    HalfSpeed,
    DoubleSpeed,
    /// Raise the target speed by a tenth of a semitone.
    VarispeedUp,
    VarispeedDown,
    /// Select track N (1-based, as on screen).
    SelectTrack(u8),
    NextTrack,
    PrevTrack,
    NextParam,
    PrevParam,
    CoarseUp,
    CoarseDown,
    FineUp,
    FineDown,
    /// MIDI-learn the selected parameter (or, in learn mode, the next action key).
    Learn,
    Load,
    Save,
    SaveAs,
    Help,
    /// Start or stop recording a take.
    Take,
    Quit,
    /// Clear the message line.
    Dismiss,
    /// Show the warning on the message line in full.
    ShowWarning,
    // In lists and dialogs:
    Up,
    Down,
    Confirm,
    Cancel,
}

/// Screen actions with a fixed name. Track actions take their name and help
/// from their declaration ([`TrackAction::spec`]); `select_track_N` is built.
const NAMED: [(Action, &str, &str); 28] = [
    (Action::TogglePlay, "toggle_play", "play if stopped, else stop"),
    (Action::ToggleMute, "toggle_mute", "mute / unmute the track"),
    (Action::ToggleSolo, "toggle_solo", "solo / unsolo the track"),
    (Action::HalfSpeed, "half_speed", "half speed (an octave down)"),
    (Action::DoubleSpeed, "double_speed", "double speed (an octave up)"),
    (Action::VarispeedUp, "varispeed_up", "speed up a tenth of a semitone"),
    (Action::VarispeedDown, "varispeed_down", "slow down a tenth of a semitone"),
    (Action::NextTrack, "next_track", "select the next track"),
    (Action::PrevTrack, "prev_track", "select the previous track"),
    (Action::NextParam, "next_param", "select the next parameter"),
    (Action::PrevParam, "prev_param", "select the previous parameter"),
    (Action::CoarseUp, "coarse_up", "raise the parameter (coarse)"),
    (Action::CoarseDown, "coarse_down", "lower the parameter (coarse)"),
    (Action::FineUp, "fine_up", "raise the parameter (fine)"),
    (Action::FineDown, "fine_down", "lower the parameter (fine)"),
    (Action::Learn, "learn", "MIDI-learn the parameter (then a key: its action)"),
    (Action::Load, "load", "open a patch"),
    (Action::Save, "save", "save the patch"),
    (Action::SaveAs, "save_as", "save the patch under a new name"),
    (Action::Help, "help", "show all keys"),
    (Action::Take, "take", "start / stop recording a take"),
    (Action::Quit, "quit", "quit (asks if there are unsaved changes)"),
    (Action::Dismiss, "dismiss", "clear the message line"),
    (Action::ShowWarning, "warning", "show the warning in full"),
    (Action::Up, "up", "move up"),
    (Action::Down, "down", "move down"),
    (Action::Confirm, "confirm", "confirm / choose"),
    (Action::Cancel, "cancel", "cancel / close"),
];

impl Action {
    /// The name keymap files use.
    pub fn name(self) -> String {
        match self {
            Action::Track(action) => action.name().to_string(),
            Action::SelectTrack(n) => format!("select_track_{n}"),
            other => {
                NAMED.iter().find(|(a, _, _)| *a == other).map_or_else(String::new, |(_, n, _)| n.to_string())
            }
        }
    }

    /// Parse a keymap name: the fixed names above, any engine track action
    /// (`stop`, `undo`, …) and `select_track_1` … `select_track_16`.
    pub fn from_name(name: &str) -> Option<Action> {
        if let Some((action, _, _)) = NAMED.iter().find(|(_, n, _)| *n == name) {
            return Some(*action);
        }
        if let Some(action) = TrackAction::from_name(name) {
            return Some(Action::Track(action));
        }
        let number: u8 = name.strip_prefix("select_track_")?.parse().ok()?;
        (1..=crate::engine::MAX_TRACKS as u8).contains(&number).then_some(Action::SelectTrack(number))
    }

    /// One line for the help screen.
    pub fn describe(self) -> String {
        match self {
            Action::Track(action) => format!("{}: {}", action.name(), action.help()),
            Action::SelectTrack(n) => format!("select track {n}"),
            other => {
                NAMED.iter().find(|(a, _, _)| *a == other).map_or_else(String::new, |(_, _, t)| t.to_string())
            }
        }
    }

    /// A short word for the footer.
    pub fn short(self) -> String {
        match self {
            Action::Track(TrackAction::Record) => "rec".into(),
            Action::TogglePlay => "play/stop".into(),
            Action::ToggleMute => "mute".into(),
            Action::ToggleSolo => "solo".into(),
            Action::HalfSpeed => "½×".into(),
            Action::DoubleSpeed => "2×".into(),
            Action::NextParam | Action::PrevParam => "param".into(),
            Action::CoarseUp | Action::CoarseDown => "adjust".into(),
            Action::NextTrack | Action::PrevTrack | Action::SelectTrack(_) => "track".into(),
            Action::Quit => "quit".into(),
            Action::Help => "help".into(),
            other => other.name().replace('_', " "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let mut all: Vec<Action> = NAMED.iter().map(|(a, _, _)| *a).collect();
        all.extend(TrackAction::ALL.map(Action::Track));
        all.extend((1..=16).map(Action::SelectTrack));
        for action in all {
            assert_eq!(Action::from_name(&action.name()), Some(action), "{action:?}");
            assert!(!action.describe().is_empty());
        }
        assert_eq!(Action::from_name("select_track_17"), None);
        assert_eq!(Action::from_name("fly"), None);
    }
}
