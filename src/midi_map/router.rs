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

    /// Parse bytes with the router's own parser (for a single input stream)
    /// and route every message. Returns the number of commands sent.
    pub fn feed(&mut self, bytes: &[u8], at: Instant, sink: &mut dyn CommandSink) -> usize {
        let mut sent = 0;
        for &byte in bytes {
            if let Some(message) = self.parser.push(byte) {
                sent += self.route(message, at, sink);
            }
        }
        sent
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
