//! One control, several bindings: which combinations play together and
//! which fight.
//!
//! Every binding that listens to a message acts on it, in file order. So one
//! knob can drive `speed` of tracks 1 and 2, or `speed` and `feedback` of one
//! track. Two bindings on one control fight when they change the same setting
//! of the same track: each message would set it twice and only the later
//! binding would be heard (or, for `reverse`, `undo`, takes and the
//! selection, the two would cancel or pile up). Such a pair is refused.
//!
//! A binding on `track = "selected"` and one on a numbered track meet only
//! while that track is selected; they are allowed (a knob on the speed of
//! track 1 and of whichever track is selected).

use super::binding::{BindingMode, BindingTarget, Control, MidiBinding, TrackTarget};
use crate::engine::{Param, TrackAction};

/// A setting a binding can change, in the sense of "two bindings fight over it".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setting {
    Param(Param),
    /// play, stop, record, dub, erase: one head mode at a time.
    HeadMode,
    Mute,
    Solo,
    Direction,
    History,
    Clear,
    /// The track selection, shared with the screen (no track of its own).
    Selection,
    /// Take start/stop (session-wide).
    Take,
    /// The tempo (tap tempo).
    Tempo,
}

impl Setting {
    fn of_action(action: TrackAction) -> Setting {
        use TrackAction::*;
        match action {
            Play | Stop | Record | Dub | Erase | Multiply | Insert | Replace | Substitute | Trigger
            | Oneshot | Pause => Setting::HeadMode,
            Mute | Unmute => Setting::Mute,
            Solo | Unsolo => Setting::Solo,
            Reverse => Setting::Direction,
            Undo | Redo | UndoAll | RedoAll => Setting::History,
            Clear => Setting::Clear,
            Tap => Setting::Tempo,
        }
    }

    fn phrase(self) -> String {
        match self {
            Setting::Param(param) => param.key().to_string(),
            Setting::HeadMode => "the head mode (play, stop, record, dub, erase, multiply, …)".to_string(),
            Setting::Mute => "mute".to_string(),
            Setting::Solo => "solo".to_string(),
            Setting::Direction => "reverse".to_string(),
            Setting::History => "undo and redo".to_string(),
            Setting::Clear => "clear".to_string(),
            Setting::Selection => "the track selection".to_string(),
            Setting::Take => "takes".to_string(),
            Setting::Tempo => "the tempo".to_string(),
        }
    }

    /// Whether the setting belongs to a track (else the binding's track is ignored).
    fn per_track(self) -> bool {
        !matches!(self, Setting::Selection | Setting::Take)
    }
}

/// The settings a binding changes: its target, and a toggle's `off` or a
/// momentary binding's release action.
fn settings(binding: &MidiBinding) -> [Option<Setting>; 2] {
    let main = match binding.target {
        BindingTarget::Action(action) => Setting::of_action(action),
        BindingTarget::Param(param) => Setting::Param(param),
        BindingTarget::ErasePressure => Setting::Param(Param::Erase),
        BindingTarget::Select(_) => Setting::Selection,
        BindingTarget::Take => Setting::Take,
    };
    let second = match binding.mode {
        BindingMode::Toggle { off } | BindingMode::Momentary { release: off } => {
            Some(Setting::of_action(off))
        }
        _ => None,
    };
    [Some(main), second]
}

/// Two bindings hear the same control on at least one channel.
pub(crate) fn share_a_control(a: &MidiBinding, b: &MidiBinding) -> bool {
    a.control == b.control
        && match (a.channel, b.channel) {
            (super::ChannelFilter::Only(x), super::ChannelFilter::Only(y)) => x == y,
            _ => true,
        }
}

/// What `later` fights with `earlier` over, if anything: "cc 16 drives
/// speed of track 1 twice". Describes the pair for an error message.
pub(crate) fn conflict(earlier: &MidiBinding, later: &MidiBinding) -> Option<String> {
    if !share_a_control(earlier, later) {
        return None;
    }
    let shared = settings(later).into_iter().flatten().find(|s| {
        settings(earlier).contains(&Some(*s)) && (!s.per_track() || earlier.track == later.track)
    })?;
    let control = match later.control {
        Control::Cc(n) => format!("cc {n}"),
        Control::Note(n) => format!("note {n}"),
    };
    let whose = match (shared.per_track(), later.track) {
        (false, _) => String::new(),
        (true, TrackTarget::Number(n)) => format!(" of track {n}"),
        (true, TrackTarget::Selected) => " of the selected track".to_string(),
    };
    Some(format!("{control} drives {}{whose} twice", shared.phrase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi_map::binding::{ChannelFilter, Curve, SelectTrack};

    fn knob(cc: u8, param: Param, track: TrackTarget) -> MidiBinding {
        MidiBinding {
            channel: ChannelFilter::Any,
            control: Control::Cc(cc),
            mode: BindingMode::Absolute { curve: Curve::Linear, min: 0.5, max: 2.0 },
            target: BindingTarget::Param(param),
            track,
        }
    }

    fn pad(note: u8, action: TrackAction, mode: BindingMode, track: u8) -> MidiBinding {
        MidiBinding {
            channel: ChannelFilter::Any,
            control: Control::Note(note),
            mode,
            target: BindingTarget::Action(action),
            track: TrackTarget::Number(track),
        }
    }

    #[test]
    fn one_knob_on_two_tracks_or_two_settings_plays_together() {
        let one = TrackTarget::Number(1);
        let speed_1 = knob(16, Param::Speed, one);
        assert_eq!(conflict(&speed_1, &knob(16, Param::Speed, TrackTarget::Number(2))), None);
        assert_eq!(conflict(&speed_1, &knob(16, Param::Feedback, one)), None);
        assert_eq!(conflict(&speed_1, &knob(16, Param::Speed, TrackTarget::Selected)), None);
        assert_eq!(conflict(&speed_1, &knob(17, Param::Speed, one)), None);
        let on_channel = |c| MidiBinding { channel: ChannelFilter::Only(c), ..speed_1 };
        assert_eq!(conflict(&on_channel(0), &on_channel(1)), None);
        // Clear, then record, from one pad: two different settings.
        let trigger = BindingMode::Trigger { value: 0.0 };
        assert_eq!(
            conflict(&pad(36, TrackAction::Clear, trigger, 1), &pad(36, TrackAction::Record, trigger, 1)),
            None
        );
    }

    #[test]
    fn the_same_setting_twice_is_a_conflict() {
        let one = TrackTarget::Number(1);
        let speed_1 = knob(16, Param::Speed, one);
        assert_eq!(conflict(&speed_1, &speed_1).as_deref(), Some("cc 16 drives speed of track 1 twice"));
        let on_channel_3 = MidiBinding { channel: ChannelFilter::Only(2), ..speed_1 };
        assert!(conflict(&speed_1, &on_channel_3).is_some(), "any channel includes channel 3");
        let erase_pressure =
            MidiBinding { target: BindingTarget::ErasePressure, ..knob(5, Param::Erase, one) };
        assert_eq!(
            conflict(&knob(5, Param::Erase, one), &erase_pressure).as_deref(),
            Some("cc 5 drives erase of track 1 twice")
        );
        // A momentary dub returns to play: it fights a record toggle on the same pad.
        let dub = pad(36, TrackAction::Dub, BindingMode::Momentary { release: TrackAction::Play }, 2);
        let mute = pad(36, TrackAction::Mute, BindingMode::Toggle { off: TrackAction::Unmute }, 2);
        let record = pad(36, TrackAction::Record, BindingMode::Toggle { off: TrackAction::Play }, 2);
        assert_eq!(conflict(&dub, &mute), None);
        assert_eq!(
            conflict(&dub, &record).as_deref(),
            Some(
                "note 36 drives the head mode (play, stop, record, dub, erase, multiply, …) of track 2 twice"
            )
        );
        // Selection and takes have no track: any two on one control fight.
        let select = |which| MidiBinding {
            target: BindingTarget::Select(which),
            mode: BindingMode::Trigger { value: 0.0 },
            ..knob(58, Param::Speed, TrackTarget::Selected)
        };
        assert_eq!(
            conflict(&select(SelectTrack::Next), &select(SelectTrack::Number(3))).as_deref(),
            Some("cc 58 drives the track selection twice")
        );
        let take = |track| MidiBinding {
            target: BindingTarget::Take,
            mode: BindingMode::Trigger { value: 0.0 },
            ..knob(60, Param::Speed, TrackTarget::Number(track))
        };
        assert_eq!(conflict(&take(1), &take(2)).as_deref(), Some("cc 60 drives takes twice"));
    }
}
