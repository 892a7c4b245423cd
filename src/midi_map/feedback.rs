//! LED feedback: a controller's buttons lit from the instrument's state.
//!
//! A map file's `[feedback]` table says how its controller lights a button
//! (the values to send for each colour); the bindings say which button does
//! what, so each lights on its own note or CC and channel:
//!
//! - buttons of the `status` action (the APC mini's record pads, the Launch
//!   Control XL's lower buttons) show their track's state in colour:
//!   `record` while recording, `dub` while dubbing, `play` while playing,
//!   `off` when stopped;
//! - other record, dub, erase and play buttons light in their colour while
//!   the track is in their mode; mute, solo and reverse buttons light `on`
//!   while muted, soloed or reversed; select buttons while their track is
//!   the selected one;
//! - a press waiting for the grid blinks: `record_waiting`, `dub_waiting`,
//!   `play_waiting` (controllers without blinking LEDs leave them out and
//!   light steadily).
//!
//! [`Feedback`] is pure: given a snapshot it yields the messages for what
//! changed since the last call, or for every lamp after
//! [`Feedback::refresh`] (on connect). `live::feedback` sends them.

use super::binding::{BindingTarget, ChannelFilter, Control, MidiBinding, SelectTrack, TrackTarget};
use crate::engine::{EngineSnapshot, HeadMode, TrackAction, MAX_TRACKS};

/// Keys of a `[feedback]` table.
pub const FEEDBACK_KEYS: [&str; 9] =
    ["status", "off", "on", "play", "record", "dub", "play_waiting", "record_waiting", "dub_waiting"];

/// How a controller lights its buttons: the value (note-on velocity or CC
/// value) for each colour, 0-127.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedbackTable {
    /// Buttons bound to this action show the whole track state in colour.
    pub status: Option<TrackAction>,
    pub off: u8,
    pub on: u8,
    pub play: u8,
    pub record: u8,
    pub dub: u8,
    pub play_waiting: u8,
    pub record_waiting: u8,
    pub dub_waiting: u8,
}

impl Default for FeedbackTable {
    /// Single-colour LEDs: 127 on, 0 off.
    fn default() -> Self {
        FeedbackTable {
            status: None,
            off: 0,
            on: 127,
            play: 127,
            record: 127,
            dub: 127,
            play_waiting: 127,
            record_waiting: 127,
            dub_waiting: 127,
        }
    }
}

impl FeedbackTable {
    /// The table as the `[feedback]` section of a map file.
    pub fn to_toml(&self) -> String {
        let mut out = String::from("[feedback]\n");
        if let Some(action) = self.status {
            out.push_str(&format!("status = \"{}\"\n", action.name()));
        }
        for (key, value) in FEEDBACK_KEYS[1..].iter().zip(self.values()) {
            out.push_str(&format!("{key} = {value}\n"));
        }
        out
    }

    /// The values in the order of [`FEEDBACK_KEYS`] after `status`.
    pub fn values(&self) -> [u8; 8] {
        [
            self.off,
            self.on,
            self.play,
            self.record,
            self.dub,
            self.play_waiting,
            self.record_waiting,
            self.dub_waiting,
        ]
    }

    /// Set a value by key; false for a key that is not one.
    pub fn set(&mut self, key: &str, value: u8) -> bool {
        let slot = match key {
            "off" => &mut self.off,
            "on" => &mut self.on,
            "play" => &mut self.play,
            "record" => &mut self.record,
            "dub" => &mut self.dub,
            "play_waiting" => &mut self.play_waiting,
            "record_waiting" => &mut self.record_waiting,
            "dub_waiting" => &mut self.dub_waiting,
            _ => return false,
        };
        *slot = value & 0x7F;
        true
    }
}

/// What a lamp shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shows {
    /// The track's whole state, in colour.
    Status(TrackTarget),
    /// Lit in the action's colour while the track is in its mode.
    Mode(TrackTarget, TrackAction),
    Muted(TrackTarget),
    Soloed(TrackTarget),
    Reversed(TrackTarget),
    /// Lit while this 0-based track is selected.
    Selected(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Colour {
    Play,
    Record,
    Dub,
}

/// One button's LED.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Lamp {
    /// The message's status byte (note-on or CC, with the channel).
    status: u8,
    number: u8,
    shows: Shows,
}

/// Which colour a head mode shows on a status lamp.
fn colour_of(mode: HeadMode) -> Option<Colour> {
    match mode {
        HeadMode::Record | HeadMode::Insert | HeadMode::Replace | HeadMode::Substitute | HeadMode::Erase => {
            Some(Colour::Record)
        }
        HeadMode::Dub | HeadMode::Multiply => Some(Colour::Dub),
        HeadMode::Play | HeadMode::Oneshot => Some(Colour::Play),
        HeadMode::Stop | HeadMode::Paused => None,
    }
}

/// The colour a mode button lights in, if the action is a mode.
fn action_colour(action: TrackAction) -> Option<Colour> {
    match action {
        TrackAction::Record | TrackAction::Erase => Some(Colour::Record),
        TrackAction::Dub | TrackAction::Multiply => Some(Colour::Dub),
        TrackAction::Play => Some(Colour::Play),
        _ => None,
    }
}

/// Whether the button of a mode action is lit in `mode`.
fn lit_in(action: TrackAction, mode: HeadMode) -> bool {
    match action {
        TrackAction::Record => {
            matches!(mode, HeadMode::Record | HeadMode::Insert | HeadMode::Replace | HeadMode::Substitute)
        }
        TrackAction::Erase => mode == HeadMode::Erase,
        TrackAction::Dub => matches!(mode, HeadMode::Dub | HeadMode::Multiply),
        TrackAction::Multiply => mode == HeadMode::Multiply,
        TrackAction::Play => matches!(mode, HeadMode::Play | HeadMode::Oneshot),
        _ => false,
    }
}

/// The lamps of a controller and what each last showed. Fixed size after
/// construction; [`Feedback::update`] does not allocate.
#[derive(Clone, Debug)]
pub struct Feedback {
    table: FeedbackTable,
    lamps: Vec<Lamp>,
    /// The value each lamp was last sent (`None`: send it next time).
    sent: Vec<Option<u8>>,
    /// A press waiting for the grid, per track: the mode it will bring.
    waiting: [Option<HeadMode>; MAX_TRACKS],
}

impl Feedback {
    /// The lamps of `bindings` lit as `table` says. A button with several
    /// bindings lights for the first one that has a lamp.
    pub fn new(table: FeedbackTable, bindings: &[MidiBinding]) -> Feedback {
        let mut lamps: Vec<Lamp> = Vec::new();
        for binding in bindings {
            let Some(shows) = shows(&table, binding) else { continue };
            let channel = match binding.channel {
                ChannelFilter::Only(channel) => channel & 0x0F,
                ChannelFilter::Any => 0,
            };
            let (status, number) = match binding.control {
                Control::Note(note) => (0x90 | channel, note),
                Control::Cc(cc) => (0xB0 | channel, cc),
            };
            if !lamps.iter().any(|lamp| lamp.status == status && lamp.number == number) {
                lamps.push(Lamp { status, number, shows });
            }
        }
        let sent = vec![None; lamps.len()];
        Feedback { table, lamps, sent, waiting: [None; MAX_TRACKS] }
    }

    /// Forget what the controller shows: the next update sends every lamp
    /// (after connecting, or when the controller may have reset).
    pub fn refresh(&mut self) {
        self.sent.iter_mut().for_each(|sent| *sent = None);
    }

    /// Messages that turn every lamp off (when the session ends); the next
    /// update sends every lamp again.
    pub fn all_off(&mut self, mut emit: impl FnMut([u8; 3])) {
        for (lamp, sent) in self.lamps.iter().zip(self.sent.iter_mut()) {
            emit([lamp.status, lamp.number, self.table.off]);
            *sent = None;
        }
    }

    /// How many buttons have a lamp.
    pub fn lamps(&self) -> usize {
        self.lamps.len()
    }

    /// The messages (3 bytes each) for the lamps that changed since the
    /// last call; `selected` is the 0-based selected track.
    pub fn update(&mut self, snapshot: &EngineSnapshot, selected: u8, mut emit: impl FnMut([u8; 3])) {
        // The presses the engine holds for the grid blink until they act.
        for (slot, track) in self.waiting.iter_mut().zip(snapshot.tracks()) {
            *slot = track.waiting.and_then(waiting_mode);
        }
        for (lamp, sent) in self.lamps.iter().zip(self.sent.iter_mut()) {
            let value = value(&self.table, &self.waiting, lamp.shows, snapshot, selected);
            if *sent != Some(value) {
                *sent = Some(value);
                emit([lamp.status, lamp.number, value]);
            }
        }
    }
}

/// The mode a waiting press will bring, for the lamps that blink for it.
fn waiting_mode(action: TrackAction) -> Option<HeadMode> {
    match action {
        TrackAction::Record | TrackAction::Replace | TrackAction::Substitute | TrackAction::Insert => {
            Some(HeadMode::Record)
        }
        TrackAction::Dub | TrackAction::Multiply => Some(HeadMode::Dub),
        TrackAction::Play | TrackAction::Trigger | TrackAction::Oneshot => Some(HeadMode::Play),
        _ => None,
    }
}

/// What a binding's lamp shows, if it has one.
fn shows(table: &FeedbackTable, binding: &MidiBinding) -> Option<Shows> {
    let track = binding.track;
    match binding.target {
        BindingTarget::Action(action) if table.status == Some(action) => Some(Shows::Status(track)),
        BindingTarget::Action(TrackAction::Mute | TrackAction::Unmute) => Some(Shows::Muted(track)),
        BindingTarget::Action(TrackAction::Solo | TrackAction::Unsolo) => Some(Shows::Soloed(track)),
        BindingTarget::Action(TrackAction::Reverse) => Some(Shows::Reversed(track)),
        BindingTarget::Action(action) => action_colour(action).map(|_| Shows::Mode(track, action)),
        BindingTarget::Select(SelectTrack::Number(n)) => Some(Shows::Selected(n.wrapping_sub(1))),
        _ => None,
    }
}

fn value(
    table: &FeedbackTable,
    waiting: &[Option<HeadMode>; MAX_TRACKS],
    shows: Shows,
    snapshot: &EngineSnapshot,
    selected: u8,
) -> u8 {
    let track_of = |target: TrackTarget| match target {
        TrackTarget::Number(n) => usize::from(n.wrapping_sub(1)),
        TrackTarget::Selected => usize::from(selected),
    };
    let steady = |colour: Colour| match colour {
        Colour::Play => table.play,
        Colour::Record => table.record,
        Colour::Dub => table.dub,
    };
    let blinking = |colour: Colour| match colour {
        Colour::Play => table.play_waiting,
        Colour::Record => table.record_waiting,
        Colour::Dub => table.dub_waiting,
    };
    let on = |lit: bool| if lit { table.on } else { table.off };
    let track = match shows {
        Shows::Selected(n) => return on(n == selected),
        Shows::Status(t) | Shows::Mode(t, _) | Shows::Muted(t) | Shows::Soloed(t) | Shows::Reversed(t) => {
            track_of(t)
        }
    };
    let Some(state) = snapshot.tracks().get(track) else { return table.off };
    let pending = waiting.get(track).copied().flatten();
    match shows {
        Shows::Status(_) => {
            if let Some(colour) = pending.and_then(colour_of) {
                return blinking(colour);
            }
            colour_of(state.mode).map_or(table.off, steady)
        }
        Shows::Mode(_, action) => {
            let colour = action_colour(action).unwrap_or(Colour::Play);
            if pending.is_some_and(|mode| lit_in(action, mode)) {
                blinking(colour)
            } else if lit_in(action, state.mode) {
                steady(colour)
            } else {
                table.off
            }
        }
        Shows::Muted(_) => on(state.muted),
        Shows::Soloed(_) => on(state.soloed),
        Shows::Reversed(_) => on(state.target_speed < 0.0),
        Shows::Selected(_) => table.off,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi_map::MidiMap;

    fn profile(name: &str) -> Feedback {
        let map = MidiMap::load(std::path::Path::new(&format!("patches/midi/{name}.toml"))).expect("profile");
        Feedback::new(map.feedback.expect("a [feedback] table"), &map.bindings)
    }

    fn stopped() -> EngineSnapshot {
        let mut snapshot =
            EngineSnapshot { track_count: 8, sample_rate: 48_000, ..EngineSnapshot::default() };
        for track in snapshot.tracks.iter_mut() {
            track.mode = HeadMode::Stop;
            track.target_speed = 1.0;
        }
        snapshot
    }

    fn update(feedback: &mut Feedback, snapshot: &EngineSnapshot, selected: u8) -> Vec<[u8; 3]> {
        let mut out = Vec::new();
        feedback.update(snapshot, selected, |m| out.push(m));
        out
    }

    /// record → dub → play → stop on track 1, then mute on track 2: what
    /// each step sends (after the full refresh on connect).
    fn walk(feedback: &mut Feedback, mute_selected: u8) -> Vec<Vec<[u8; 3]>> {
        let mut snapshot = stopped();
        let refresh = update(feedback, &snapshot, 0);
        assert_eq!(refresh.len(), feedback.lamps(), "a refresh sends every lamp");
        assert!(update(feedback, &snapshot, 0).is_empty(), "an unchanged snapshot sends nothing");
        let mut steps = Vec::new();
        for mode in [HeadMode::Record, HeadMode::Dub, HeadMode::Play, HeadMode::Stop] {
            snapshot.tracks[0].mode = mode;
            steps.push(update(feedback, &snapshot, 0));
            assert!(update(feedback, &snapshot, 0).is_empty());
        }
        snapshot.tracks[1].muted = true;
        steps.push(update(feedback, &snapshot, mute_selected));
        steps
    }

    #[test]
    fn apc_mini_lights_its_pads_in_colour() {
        let mut apc = profile("apc_mini");
        let steps = walk(&mut apc, 0);
        let n = |note: u8, colour: u8| [0x90, note, colour];
        assert_eq!(steps[0], vec![n(0, 3)], "record: track 1's record pad red");
        assert_eq!(steps[1], vec![n(0, 5), n(8, 5), n(16, 5)], "dub: status and both dub pads yellow");
        assert_eq!(
            steps[2],
            vec![n(0, 1), n(8, 0), n(16, 0), n(82, 1)],
            "play: green, and the play scene button"
        );
        assert_eq!(steps[3], vec![n(0, 0), n(82, 0)], "stop: dark");
        assert_eq!(steps[4], vec![n(41, 1)], "mute on track 2: its mute pad");
        // A press waiting for the grid blinks in the colour it will bring.
        let mut snapshot = stopped();
        snapshot.tracks[1].muted = true;
        snapshot.tracks[0].waiting = Some(TrackAction::Record);
        assert_eq!(update(&mut apc, &snapshot, 0), vec![n(0, 4)]);
        // The track buttons show the selection.
        snapshot.tracks[0].waiting = None;
        assert_eq!(update(&mut apc, &snapshot, 2), vec![n(0, 0), n(64, 0), n(66, 1)]);
        // A refresh sends every lamp again.
        apc.refresh();
        assert_eq!(update(&mut apc, &snapshot, 2).len(), apc.lamps());
    }

    #[test]
    fn launch_control_xl_lights_its_buttons_on_the_template_channel() {
        let mut lcxl = profile("launch_control_xl");
        let steps = walk(&mut lcxl, 1);
        let n = |note: u8, colour: u8| [0x98, note, colour];
        assert_eq!(steps[0], vec![n(73, 0x0F)], "record: lower button red");
        assert_eq!(steps[1], vec![n(41, 0x3F), n(73, 0x3F)], "dub: both amber");
        assert_eq!(steps[2], vec![n(41, 0x0C), n(73, 0x3C)], "play: lower green");
        assert_eq!(steps[3], vec![n(73, 0x0C)], "stop: off");
        assert_eq!(steps[4], vec![n(106, 0x3F)], "mute on track 2, selected: the Mute button");
    }

    #[test]
    fn nanokontrol2_lights_its_buttons_with_their_own_ccs() {
        let mut nano = profile("nanokontrol2");
        let steps = walk(&mut nano, 0);
        let c = |cc: u8, value: u8| [0xB0, cc, value];
        assert_eq!(steps[0], vec![c(64, 127), c(69, 127), c(45, 127)], "record: R1, R6 and REC");
        assert_eq!(
            steps[1],
            vec![c(32, 127), c(64, 0), c(37, 127), c(69, 0), c(45, 0)],
            "dub: S1 and S6 on, the record buttons off"
        );
        assert_eq!(steps[2], vec![c(32, 0), c(37, 0), c(41, 127)], "play: PLAY");
        assert_eq!(steps[3], vec![c(41, 0)], "stop");
        assert_eq!(steps[4], vec![c(49, 127)], "mute on track 2: M2");
    }

    #[test]
    fn the_table_reads_back_from_its_toml() {
        let map =
            MidiMap::load(std::path::Path::new("patches/midi/launch_control_xl.toml")).expect("profile");
        let again = MidiMap::parse(&map.to_toml(), std::path::Path::new("again.toml")).expect("reads back");
        assert_eq!(again.feedback, map.feedback);
        assert_eq!(again.bindings, map.bindings);
        let bad = MidiMap::parse("[feedback]\nred = 3\n", std::path::Path::new("bad.toml")).unwrap_err();
        assert!(bad.to_string().contains("feedback: "), "{bad}");
        let bad = MidiMap::parse("[feedback]\nrecord = 300\n", std::path::Path::new("bad.toml")).unwrap_err();
        assert!(bad.to_string().contains("out of range (0 to 127)"), "{bad}");
    }
}
