//! MIDI bindings and messages as the performer reads them:
//! "CC 21 ch 1 → track 1 speed", "CC 21 = 64 ch 1 → track 1 speed".

use crate::midi_map::{
    ActivityKind, BindingTarget, ChannelFilter, Control, MidiActivity, MidiBinding, SelectTrack, TrackTarget,
};

/// "CC 21 ch 1 → track 1 speed", "note 36 any channel → track 2 dub (momentary)".
pub fn describe_binding(binding: &MidiBinding) -> String {
    let control = match binding.control {
        Control::Cc(n) => format!("CC {n}"),
        Control::Note(n) => format!("note {n}"),
    };
    let channel = match binding.channel {
        ChannelFilter::Only(c) => format!("ch {}", c + 1),
        ChannelFilter::Any => "any channel".to_string(),
    };
    format!("{control} {channel} → {} ({})", describe_target(binding), binding.mode.name())
}

/// "track 1 speed", "selected track dub", "select next".
pub fn describe_target(binding: &MidiBinding) -> String {
    let track = match binding.track {
        TrackTarget::Number(n) => format!("track {n}"),
        TrackTarget::Selected => "selected track".to_string(),
    };
    match binding.target {
        BindingTarget::Action(action) => format!("{track} {}", action.name()),
        BindingTarget::Param(param) => format!("{track} {}", param.key()),
        BindingTarget::ErasePressure => format!("{track} erase pressure"),
        BindingTarget::Take => "take start/stop".to_string(),
        BindingTarget::Select(SelectTrack::Next) => "select next track".to_string(),
        BindingTarget::Select(SelectTrack::Previous) => "select previous track".to_string(),
        BindingTarget::Select(SelectTrack::Number(n)) => format!("select track {n}"),
    }
}

/// "CC 21 = 64 ch 1 → track 1 speed"; "(unbound)" when no binding acted on it.
pub fn describe_activity(activity: &MidiActivity, bindings: &[MidiBinding]) -> String {
    let channel = activity.channel + 1;
    let (text, control) = match activity.kind {
        ActivityKind::ControlChange => (
            format!("CC {} = {} ch {channel}", activity.number, activity.value),
            Some(Control::Cc(activity.number)),
        ),
        ActivityKind::NoteOn => (
            format!("note {} on {} ch {channel}", activity.number, activity.value),
            Some(Control::Note(activity.number)),
        ),
        ActivityKind::NoteOff => {
            (format!("note {} off ch {channel}", activity.number), Some(Control::Note(activity.number)))
        }
        ActivityKind::ProgramChange => (format!("program {} ch {channel}", activity.value), None),
        ActivityKind::PitchBend => (format!("bend {} ch {channel}", activity.value), None),
        ActivityKind::ChannelPressure => (format!("pressure {} ch {channel}", activity.value), None),
        ActivityKind::PolyPressure => {
            (format!("poly pressure {} = {} ch {channel}", activity.number, activity.value), None)
        }
    };
    let target = control
        .filter(|_| activity.bound)
        .and_then(|control| bindings.iter().find(|b| b.listens_to(activity.channel, control)));
    match target {
        Some(binding) => format!("{text} → {}", describe_target(binding)),
        None => format!("{text} (unbound)"),
    }
}
