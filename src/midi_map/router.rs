//! The MIDI thread's half: bytes in, engine commands out.
//!
//! A [`MidiRouter`] is owned by whichever thread receives MIDI. It keeps the
//! state bindings need (toggle positions, which buttons are held), the
//! selected track shared with the screen, the last message for the screen,
//! and MIDI learn. After construction its per-message path takes no lock and
//! allocates nothing: the binding table is preallocated to [`MAX_BINDINGS`],
//! and learn requests and results cross fixed-capacity lock-free queues.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ringbuf::traits::{Consumer as _, Producer as _, Split as _};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::binding::{BindingMode, BindingTarget, Control, MidiBinding, SelectTrack, TrackTarget};
use super::learn::LearnRequest;
use super::message::{MidiMessage, MidiParser};
use crate::bridge::CommandSink;
use crate::engine::{Command, Param};
use crate::sync::{ClockFollower, ClockMessage, ClockParser};
// The control state every surface shares belongs to the live session; the
// router only reads and presses it.
pub use crate::live::controls::{SelectedTrack, TakePresses};

/// Most bindings one router holds; a map file, a patch, or a patch and its
/// map file together with more are refused when they load.
pub const MAX_BINDINGS: usize = 256;

/// Learn requests or results waiting at once before new ones are dropped.
const LEARN_QUEUE: usize = 16;

/// The kind of the last message received, for the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivityKind {
    NoteOn,
    NoteOff,
    ControlChange,
    ProgramChange,
    PitchBend,
    ChannelPressure,
    PolyPressure,
}

impl ActivityKind {
    const ALL: [ActivityKind; 7] = [
        ActivityKind::NoteOn,
        ActivityKind::NoteOff,
        ActivityKind::ControlChange,
        ActivityKind::ProgramChange,
        ActivityKind::PitchBend,
        ActivityKind::ChannelPressure,
        ActivityKind::PolyPressure,
    ];
}

/// The last channel message received, as the screen shows it
/// ("ch 1 cc 16 = 93, bound").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MidiActivity {
    pub kind: ActivityKind,
    /// 0-based channel.
    pub channel: u8,
    /// Note or controller number; 0 for program change, bend and pressure.
    pub number: u8,
    /// Velocity, CC value, program or pressure (0-127), or bend (0-16383).
    pub value: u16,
    /// Whether any binding acted on it (false also while learning it).
    pub bound: bool,
    /// Counts messages (wrapping, 31 bits), so the screen can tell a repeat
    /// of the same message from no new message.
    pub sequence: u32,
}

impl MidiActivity {
    // One u64, so publishing is a single atomic store with no tearing:
    // bits 0-15 value, 16-23 number, 24-27 channel, 28-31 kind + 1,
    // bit 32 bound, bits 33-63 sequence.
    fn pack(self) -> u64 {
        let kind = ActivityKind::ALL.iter().position(|k| *k == self.kind).unwrap_or(0) as u64 + 1;
        u64::from(self.value)
            | u64::from(self.number) << 16
            | u64::from(self.channel & 0x0F) << 24
            | kind << 28
            | u64::from(self.bound) << 32
            | u64::from(self.sequence & 0x7FFF_FFFF) << 33
    }

    fn unpack(bits: u64) -> Option<MidiActivity> {
        let kind = ((bits >> 28) & 0x0F) as usize;
        Some(MidiActivity {
            kind: *ActivityKind::ALL.get(kind.checked_sub(1)?)?,
            channel: ((bits >> 24) & 0x0F) as u8,
            number: ((bits >> 16) & 0xFF) as u8,
            value: (bits & 0xFFFF) as u16,
            bound: (bits >> 32) & 1 == 1,
            sequence: (bits >> 33) as u32,
        })
    }
}

/// Read side of the last-message display; cheap to clone and to poll.
#[derive(Clone, Debug, Default)]
pub struct ActivityMonitor(Arc<AtomicU64>);

impl ActivityMonitor {
    /// The latest message, or `None` before the first one.
    pub fn latest(&self) -> Option<MidiActivity> {
        MidiActivity::unpack(self.0.load(Ordering::Relaxed))
    }

    fn publish(&self, activity: MidiActivity) {
        self.0.store(activity.pack(), Ordering::Relaxed);
    }
}

/// Read side of a followed clock's tempo and lock, for the screen; cheap to
/// clone and to poll.
#[derive(Clone, Debug, Default)]
pub struct ClockMonitor(Arc<AtomicU64>);

impl ClockMonitor {
    /// The filtered tempo (BPM) and whether the follower is locked; `None`
    /// before a clock was heard.
    pub fn latest(&self) -> Option<(f64, bool)> {
        let packed = self.0.load(Ordering::Relaxed);
        (packed & 1 == 1).then(|| (f64::from(f32::from_bits((packed >> 32) as u32)), packed & 2 == 2))
    }

    fn publish(&self, tempo_bpm: Option<f64>, locked: bool) {
        let Some(bpm) = tempo_bpm else { return };
        let packed = (u64::from((bpm as f32).to_bits()) << 32) | if locked { 3 } else { 1 };
        self.0.store(packed, Ordering::Relaxed);
    }
}

/// A followed MIDI clock: its parser, the follower, and the epoch its
/// `Instant`s are counted from.
struct ClockInput {
    parser: ClockParser,
    follower: ClockFollower,
    epoch: Instant,
    sample_rate: f64,
    monitor: ClockMonitor,
}

impl ClockInput {
    /// `at` in frames since the epoch (negative before it).
    fn frame(&self, at: Instant) -> f64 {
        match at.checked_duration_since(self.epoch) {
            Some(after) => after.as_secs_f64() * self.sample_rate,
            None => -(self.epoch.duration_since(at).as_secs_f64() * self.sample_rate),
        }
    }
}

/// What the control side asks of the router's learn mode.
#[derive(Clone, Copy, Debug, PartialEq)]
enum LearnMessage {
    Arm(LearnRequest),
    Cancel,
}

/// A binding made by MIDI learn, already active in the router.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LearnedBinding {
    pub binding: MidiBinding,
    /// Bindings the router dropped because they listened to the same control
    /// on the same channel (the map file should drop them too).
    pub replaced: u16,
    /// False if the table was full ([`MAX_BINDINGS`]) and it could not be added.
    pub active: bool,
}

/// The control thread's end of MIDI learn.
pub struct LearnControl {
    requests: HeapProd<LearnMessage>,
    results: HeapCons<LearnedBinding>,
}

/// The router's end of MIDI learn; hand it to [`MidiRouter::with_learn`].
pub struct LearnEndpoint {
    requests: HeapCons<LearnMessage>,
    results: HeapProd<LearnedBinding>,
}

/// Create the two ends of the learn queues (allocates; call at start-up).
pub fn learn_channel() -> (LearnControl, LearnEndpoint) {
    let (request_tx, request_rx) = HeapRb::new(LEARN_QUEUE).split();
    let (result_tx, result_rx) = HeapRb::new(LEARN_QUEUE).split();
    (
        LearnControl { requests: request_tx, results: result_rx },
        LearnEndpoint { requests: request_rx, results: result_tx },
    )
}

impl LearnControl {
    /// Bind the next control that moves to `request`. A later request
    /// replaces one still waiting. False if the queue was full.
    pub fn request(&mut self, request: LearnRequest) -> bool {
        self.requests.try_push(LearnMessage::Arm(request)).is_ok()
    }

    /// Stop waiting for a control.
    pub fn cancel(&mut self) -> bool {
        self.requests.try_push(LearnMessage::Cancel).is_ok()
    }

    /// A binding the router has learned, if any.
    pub fn learned(&mut self) -> Option<LearnedBinding> {
        self.results.try_pop()
    }
}

/// Per-binding state that lives with the binding in the table.
#[derive(Clone, Copy, Debug)]
struct Slot {
    binding: MidiBinding,
    /// The control is held (note on, or CC above 63), for edge detection.
    pressed: bool,
    /// A toggle's position: true after an odd number of presses.
    on: bool,
}

/// What one message means to a binding.
#[derive(Clone, Copy, Debug)]
enum Input {
    /// A CC value, 0-127.
    Cc(u8),
    /// A note-on velocity, 1-127.
    NoteOn(u8),
    NoteOff,
}

/// Bytes in, commands out, for one set of bindings. See the module docs.
pub struct MidiRouter {
    slots: Vec<Slot>,
    parser: MidiParser,
    selected: SelectedTrack,
    activity: ActivityMonitor,
    /// Presses of take bindings, counted for the session to act on.
    takes: TakePresses,
    sequence: u32,
    learn: Option<LearnEndpoint>,
    armed: Option<LearnRequest>,
    dropped: u64,
    clock: Option<ClockInput>,
}

impl MidiRouter {
    /// A router for `bindings` (beyond [`MAX_BINDINGS`] they are ignored;
    /// map files with more are refused when read). Allocates the table.
    pub fn new(bindings: &[MidiBinding], selected: SelectedTrack) -> MidiRouter {
        let mut router = MidiRouter {
            slots: Vec::with_capacity(MAX_BINDINGS),
            parser: MidiParser::new(),
            selected,
            activity: ActivityMonitor::default(),
            takes: TakePresses::default(),
            sequence: 0,
            learn: None,
            armed: None,
            dropped: 0,
            clock: None,
        };
        router.set_bindings(bindings);
        router
    }

    /// Enable MIDI learn through the router's end of [`learn_channel`].
    pub fn with_learn(mut self, endpoint: LearnEndpoint) -> MidiRouter {
        self.learn = Some(endpoint);
        self
    }

    /// Replace every binding (and their state). Does not allocate.
    pub fn set_bindings(&mut self, bindings: &[MidiBinding]) {
        self.slots.clear();
        for binding in bindings.iter().take(MAX_BINDINGS) {
            self.slots.push(Slot { binding: *binding, pressed: false, on: false });
        }
    }

    pub fn bindings(&self) -> impl Iterator<Item = &MidiBinding> + '_ {
        self.slots.iter().map(|slot| &slot.binding)
    }

    pub fn selected(&self) -> &SelectedTrack {
        &self.selected
    }

    /// A handle the session polls for take start/stop presses.
    pub fn take_presses(&self) -> TakePresses {
        self.takes.clone()
    }

    /// Count take presses on the session's shared counter instead of the
    /// router's own.
    pub fn with_take_presses(mut self, presses: TakePresses) -> MidiRouter {
        self.takes = presses;
        self
    }

    /// A handle the screen polls for the last message.
    pub fn activity(&self) -> ActivityMonitor {
        self.activity.clone()
    }

    /// Whether a learn request is waiting for a control to move.
    pub fn learning(&self) -> bool {
        self.armed.is_some()
    }

    /// Commands the sink refused because its queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Follow MIDI clock (`sync = "midi"`): clock bytes go to a
    /// [`ClockFollower`] for frames at `sample_rate`, and the grid commands
    /// it makes go to the sink as [`Command::Grid`] at the clock message's
    /// `at`. `Instant`s count from now (the epoch of the follower's
    /// timeline). Without this, clock bytes are ignored.
    pub fn with_clock(mut self, sample_rate: f64) -> MidiRouter {
        self.clock = Some(ClockInput {
            parser: ClockParser::new(),
            follower: ClockFollower::new(sample_rate),
            epoch: Instant::now(),
            sample_rate,
            monitor: ClockMonitor::default(),
        });
        self
    }

    /// Whether the router follows MIDI clock.
    pub fn follows_clock(&self) -> bool {
        self.clock.is_some()
    }

    /// The followed clock's tempo and lock, for the screen.
    pub fn clock_monitor(&self) -> Option<ClockMonitor> {
        self.clock.as_ref().map(|clock| clock.monitor.clone())
    }

    /// The clock follower, if the router follows a clock.
    pub fn clock_follower(&self) -> Option<&ClockFollower> {
        self.clock.as_ref().map(|clock| &clock.follower)
    }

    /// Parse bytes with the router's own parser (for a single input stream)
    /// and route every message. Returns the number of commands sent.
    pub fn feed(&mut self, bytes: &[u8], at: Instant, sink: &mut dyn CommandSink) -> usize {
        self.feed_bytes(bytes, None, at, sink)
    }

    /// [`feed`](Self::feed) for a caller that knows the bytes' frame on its
    /// own timeline (a JACK callback: the cycle's first frame plus the
    /// event's offset): the clock follower is fed that frame instead of
    /// `at` counted from its epoch. One router keeps to one timeline.
    pub fn feed_at_frame(
        &mut self,
        bytes: &[u8],
        frame: f64,
        at: Instant,
        sink: &mut dyn CommandSink,
    ) -> usize {
        self.feed_bytes(bytes, Some(frame), at, sink)
    }

    fn feed_bytes(
        &mut self,
        bytes: &[u8],
        frame: Option<f64>,
        at: Instant,
        sink: &mut dyn CommandSink,
    ) -> usize {
        let mut sent = 0;
        for &byte in bytes {
            if let Some(clock) = self.clock.as_mut() {
                if let Some(message) = clock.parser.push(byte) {
                    let frame = frame.unwrap_or_else(|| clock.frame(at));
                    sent += self.clock_at(message, frame, at, sink);
                    continue;
                }
            }
            if let Some(message) = self.parser.push(byte) {
                sent += self.route(message, at, sink);
            }
        }
        sent
    }

    /// Route one clock message (for callers with a parser per port), at `at`
    /// counted from the follower's epoch. Returns the commands sent (0 or
    /// 1; always 0 without [`with_clock`](Self::with_clock)).
    pub fn route_clock(&mut self, message: ClockMessage, at: Instant, sink: &mut dyn CommandSink) -> usize {
        let Some(clock) = self.clock.as_ref() else { return 0 };
        let frame = clock.frame(at);
        self.clock_at(message, frame, at, sink)
    }

    /// Look for a followed clock that went silent ([`ClockFollower::check`]):
    /// a Stop for the grid goes to the sink at `at`. Returns the commands
    /// sent. Call it now and then; without a clock it does nothing.
    pub fn poll_clock(&mut self, at: Instant, sink: &mut dyn CommandSink) -> usize {
        let Some(clock) = self.clock.as_ref() else { return 0 };
        let frame = clock.frame(at);
        self.poll_clock_at_frame(frame, at, sink)
    }

    /// [`poll_clock`](Self::poll_clock) on a caller's own timeline of frames
    /// (the one it gives [`feed_at_frame`](Self::feed_at_frame)).
    pub fn poll_clock_at_frame(&mut self, frame: f64, at: Instant, sink: &mut dyn CommandSink) -> usize {
        let Some(clock) = self.clock.as_mut() else { return 0 };
        let command = clock.follower.check(frame);
        clock.monitor.publish(clock.follower.tempo_bpm(), clock.follower.locked());
        let Some(command) = command else { return 0 };
        if sink.send(Command::Grid(command), at) {
            1
        } else {
            self.dropped += 1;
            0
        }
    }

    fn clock_at(
        &mut self,
        message: ClockMessage,
        frame: f64,
        at: Instant,
        sink: &mut dyn CommandSink,
    ) -> usize {
        let Some(clock) = self.clock.as_mut() else { return 0 };
        let command = clock.follower.feed(frame, message);
        clock.monitor.publish(clock.follower.tempo_bpm(), clock.follower.locked());
        let Some(command) = command else { return 0 };
        if sink.send(Command::Grid(command), at) {
            1
        } else {
            self.dropped += 1;
            0
        }
    }

    /// Route one parsed message (for callers with a parser per port).
    /// Returns the number of commands sent.
    pub fn route(&mut self, message: MidiMessage, at: Instant, sink: &mut dyn CommandSink) -> usize {
        self.poll_learn();
        let (control, input) = match message {
            MidiMessage::ControlChange { controller, value, .. } => {
                (Control::Cc(controller), Input::Cc(value))
            }
            MidiMessage::NoteOn { note, velocity, .. } => (Control::Note(note), Input::NoteOn(velocity)),
            MidiMessage::NoteOff { note, .. } => (Control::Note(note), Input::NoteOff),
            other => {
                self.publish(other, false);
                return 0;
            }
        };
        let channel = message.channel();
        if !matches!(input, Input::NoteOff) {
            if let Some(request) = self.armed.take() {
                self.learn_from(request, channel, control);
                self.publish(message, false);
                return 0;
            }
        }
        let mut sent = 0;
        let mut bound = false;
        for slot in self.slots.iter_mut() {
            if !slot.binding.listens_to(channel, control) {
                continue;
            }
            bound = true;
            if let Some(command) = apply(slot, input, &self.selected, &self.takes) {
                if sink.send(command, at) {
                    sent += 1;
                } else {
                    self.dropped += 1;
                }
            }
        }
        self.publish(message, bound);
        sent
    }

    fn poll_learn(&mut self) {
        let Some(learn) = self.learn.as_mut() else { return };
        while let Some(message) = learn.requests.try_pop() {
            self.armed = match message {
                LearnMessage::Arm(request) => Some(request),
                LearnMessage::Cancel => None,
            };
        }
    }

    fn learn_from(&mut self, request: LearnRequest, channel: u8, control: Control) {
        let binding = request.binding_for(channel, control);
        let before = self.slots.len();
        // Learning a control means "this control now does that": whatever it
        // did on this channel before goes.
        self.slots.retain(|slot| !slot.binding.listens_to(channel, control));
        let replaced = (before - self.slots.len()) as u16;
        let active = self.slots.len() < MAX_BINDINGS;
        if active {
            // The press that was learned is consumed and not counted as
            // held, so a momentary binding does not fire a release for it.
            self.slots.push(Slot { binding, pressed: false, on: false });
        }
        if let Some(learn) = self.learn.as_mut() {
            // A full result queue means nobody is collecting; the binding is
            // still active in the router.
            let _ = learn.results.try_push(LearnedBinding { binding, replaced, active });
        }
    }

    fn publish(&mut self, message: MidiMessage, bound: bool) {
        self.sequence = self.sequence.wrapping_add(1) & 0x7FFF_FFFF;
        let (kind, number, value) = match message {
            MidiMessage::NoteOn { note, velocity, .. } => (ActivityKind::NoteOn, note, u16::from(velocity)),
            MidiMessage::NoteOff { note, velocity, .. } => (ActivityKind::NoteOff, note, u16::from(velocity)),
            MidiMessage::ControlChange { controller, value, .. } => {
                (ActivityKind::ControlChange, controller, u16::from(value))
            }
            MidiMessage::ProgramChange { program, .. } => {
                (ActivityKind::ProgramChange, 0, u16::from(program))
            }
            MidiMessage::PitchBend { value, .. } => (ActivityKind::PitchBend, 0, value),
            MidiMessage::ChannelPressure { pressure, .. } => {
                (ActivityKind::ChannelPressure, 0, u16::from(pressure))
            }
            MidiMessage::PolyPressure { note, pressure, .. } => {
                (ActivityKind::PolyPressure, note, u16::from(pressure))
            }
        };
        self.activity.publish(MidiActivity {
            kind,
            channel: message.channel(),
            number,
            value,
            bound,
            sequence: self.sequence,
        });
    }
}

/// Held state after an input: CC above 63 or a note-on holds.
fn pressed_after(input: Input) -> bool {
    match input {
        Input::Cc(value) => value > 63,
        Input::NoteOn(_) => true,
        Input::NoteOff => false,
    }
}

/// A press or release edge, if this input makes one.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Edge {
    Press,
    Release,
}

/// The command one binding produces for one input, updating its state.
/// Selection changes are applied here and produce no command.
fn apply(slot: &mut Slot, input: Input, selected: &SelectedTrack, takes: &TakePresses) -> Option<Command> {
    let was = slot.pressed;
    slot.pressed = pressed_after(input);
    let edge = match (was, slot.pressed, input) {
        // Every note-on is a press, even without a note-off in between.
        (_, _, Input::NoteOn(_)) => Some(Edge::Press),
        (false, true, _) => Some(Edge::Press),
        (true, false, _) => Some(Edge::Release),
        _ => None,
    };
    let binding = slot.binding;
    let track = match binding.track {
        TrackTarget::Number(n) => n.wrapping_sub(1),
        TrackTarget::Selected => selected.get(),
    };
    let track_exists = track < selected.track_count();
    let in_track = |command: Command| track_exists.then_some(command);
    // Travel 0-1 of the control: CC value or note velocity.
    let travel = |value: u8| f32::from(value.min(127)) / 127.0;

    match (binding.mode, binding.target) {
        (BindingMode::Absolute { curve, min, max }, BindingTarget::Param(param)) => {
            let value = match input {
                Input::Cc(value) | Input::NoteOn(value) => curve.map(travel(value), min, max),
                Input::NoteOff => return None,
            };
            in_track(Command::Set { track, param, value: param.clamp(value) })
        }
        (BindingMode::Absolute { curve, min, max }, BindingTarget::ErasePressure) => {
            let amount = match input {
                // At rest (CC 0, key up) there is no erasing, whatever `min` says.
                Input::Cc(0) | Input::NoteOff => 0.0,
                Input::Cc(value) | Input::NoteOn(value) => curve.map(travel(value), min, max),
            };
            in_track(Command::Set { track, param: Param::Erase, value: Param::Erase.clamp(amount) })
        }
        (BindingMode::Relative { encoding, step }, target) => {
            let Input::Cc(value) = input else { return None };
            let steps = encoding.steps(value);
            if steps == 0 {
                return None;
            }
            match target {
                BindingTarget::Param(param) => {
                    let delta = steps as f32 * step;
                    delta.is_finite().then_some(())?;
                    in_track(Command::Nudge { track, param, delta })
                }
                BindingTarget::Select(SelectTrack::Next) => {
                    selected.step(steps);
                    None
                }
                BindingTarget::Select(SelectTrack::Previous) => {
                    selected.step(-steps);
                    None
                }
                _ => None,
            }
        }
        (BindingMode::Trigger { value }, target) => {
            if edge != Some(Edge::Press) {
                return None;
            }
            match target {
                BindingTarget::Action(action) => in_track(Command::Track { track, action }),
                BindingTarget::Param(param) => {
                    in_track(Command::Set { track, param, value: param.clamp(value) })
                }
                BindingTarget::Select(select) => {
                    match select {
                        SelectTrack::Next => selected.step(1),
                        SelectTrack::Previous => selected.step(-1),
                        SelectTrack::Number(n) => {
                            selected.set(n.wrapping_sub(1));
                        }
                    }
                    None
                }
                BindingTarget::ErasePressure => None,
                BindingTarget::Take => {
                    takes.press();
                    None
                }
            }
        }
        (BindingMode::Toggle { off }, BindingTarget::Action(action)) => {
            if edge != Some(Edge::Press) {
                return None;
            }
            slot.on = !slot.on;
            in_track(Command::Track { track, action: if slot.on { action } else { off } })
        }
        (BindingMode::Momentary { release }, BindingTarget::Action(action)) => match edge? {
            Edge::Press => in_track(Command::Track { track, action }),
            Edge::Release => in_track(Command::Track { track, action: release }),
        },
        // Combinations validation refuses do nothing if built in code.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::GridCommand;
    use std::time::Duration;

    #[derive(Default)]
    struct Collect(Vec<(Command, Instant)>);

    impl CommandSink for Collect {
        fn send(&mut self, command: Command, at: Instant) -> bool {
            self.0.push((command, at));
            true
        }
    }

    fn new_router() -> MidiRouter {
        let map = "[[midi]]\nnote = 36\ndo = \"record\"\ntrack = 1\n";
        let bindings =
            crate::midi_map::MidiMap::parse(map, std::path::Path::new("t.toml")).expect("map").bindings;
        MidiRouter::new(&bindings, SelectedTrack::new(2))
    }

    #[test]
    fn clock_bytes_reach_the_follower_as_grid_commands_at_their_instant() {
        let mut router = new_router().with_clock(48_000.0);
        let t0 = Instant::now() + Duration::from_millis(5);
        let tick = Duration::from_secs_f64(60.0 / 120.0 / 24.0);
        let mut sink = Collect::default();
        // Start, then two beats of ticks with a note-on split by a tick.
        router.feed(&[0xFA], t0, &mut sink);
        for k in 0..48u32 {
            let at = t0 + tick * k + Duration::from_micros(100);
            if k == 10 {
                router.feed(&[0x90, 0xF8, 36, 100], at, &mut sink);
            } else {
                router.feed(&[0xF8], at, &mut sink);
            }
        }
        let grid: Vec<_> = sink
            .0
            .iter()
            .filter_map(|(command, at)| match command {
                Command::Grid(GridCommand::Position { beat, frames_per_beat }) => {
                    Some((*beat, *frames_per_beat, *at))
                }
                _ => None,
            })
            .collect();
        let first = grid[0];
        assert_eq!(first.0, 0.0);
        assert_eq!(first.2, t0 + Duration::from_micros(100));
        let last = grid.last().unwrap();
        assert!((last.1 - 24_000.0).abs() < 0.01, "frames per beat {}", last.1);
        assert!((last.0 - 1.0).abs() < 1e-6, "beat {}", last.0);
        assert!(sink.0.iter().any(|(c, _)| matches!(c, Command::Track { track: 0, .. })));
        let (bpm, locked) = router.clock_monitor().unwrap().latest().unwrap();
        assert!((bpm - 120.0).abs() < 0.001 && locked);
        // Silent for a beat: nothing; for three: the grid stops.
        assert_eq!(router.poll_clock(t0 + tick * 72, &mut sink), 0);
        assert_eq!(router.poll_clock(t0 + tick * 120, &mut sink), 1);
        assert_eq!(sink.0.last().unwrap(), &(Command::Grid(GridCommand::Stop), t0 + tick * 120));
        assert!(!router.clock_monitor().unwrap().latest().unwrap().1, "no longer locked");
        router.feed(&[0xFC], t0 + tick * 130, &mut sink);
        assert_eq!(router.poll_clock(t0 + tick * 500, &mut sink), 0);
    }

    #[test]
    fn explicit_frames_and_no_follower() {
        let mut router = new_router().with_clock(48_000.0);
        let at = Instant::now();
        let mut sink = Collect::default();
        router.feed_at_frame(&[0xFA], 1_000.0, at, &mut sink);
        router.feed_at_frame(&[0xF8], 1_000.0, at, &mut sink);
        router.feed_at_frame(&[0xF8], 2_000.0, at, &mut sink);
        router.feed_at_frame(&[0xF8], 3_000.0, at, &mut sink);
        // The third tick settles the period exactly: 1 000 frames a tick.
        assert_eq!(
            sink.0.last().unwrap().0,
            Command::Grid(GridCommand::Position { beat: 2.0 / 24.0, frames_per_beat: 24_000.0 })
        );
        let mut plain = new_router();
        let mut sink = Collect::default();
        assert_eq!(plain.feed(&[0xFA, 0xF8, 0xF8, 0xFC, 0x90, 36, 1], at, &mut sink), 1);
        assert_eq!(sink.0.len(), 1);
        assert!(plain.clock_monitor().is_none());
    }
}
