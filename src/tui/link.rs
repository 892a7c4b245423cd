//! The seam between the screen and whatever plays the sound.
//!
//! The screen only ever talks to an [`InstrumentLink`]: it sends
//! [`Command`]s, reads the latest [`EngineSnapshot`] and a [`LinkStatus`]
//! for the header. The live runner implements the trait over the real
//! audio/MIDI bridge; [`LocalLink`] owns an [`Engine`] and advances it only
//! when told to, so tests see exactly the same screen every run.

use crate::bridge::CommandSink;
use crate::engine::{Command, Engine, EngineConfig, EngineSnapshot, Param, TimedCommand, TrackAction};
use crate::midi_map::{MidiBinding, MidiRouter, SelectedTrack};
use std::path::Path;
use std::time::Instant;

/// What a MIDI-learn request binds a control to. `Copy`, so it can cross a
/// queue to the MIDI thread.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LearnTarget {
    /// 0-based track index.
    pub track: u8,
    pub what: LearnWhat,
}

/// The thing on a track a learned control will drive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LearnWhat {
    /// A button or note triggers a head mode or edit.
    Action(TrackAction),
    /// A knob or fader sets a parameter across its range.
    Param(Param),
}

impl LearnTarget {
    /// "track 2 speed", "track 1 record": how the screen names a target.
    pub fn describe(&self) -> String {
        let what = match self.what {
            LearnWhat::Action(action) => action.name(),
            LearnWhat::Param(param) => param.key(),
        };
        format!("track {} {what}", self.track + 1)
    }
}

/// Everything the header shows about the audio and MIDI side. Built on the
/// screen's thread only, once per frame, so it may own strings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkStatus {
    /// Audio backend and device, e.g. "alsa: USB Audio" or "null".
    pub backend: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Frames per audio callback.
    pub buffer_frames: u32,
    /// The round trip the record heads compensate, for the header
    /// ("latency 32.0 ms"); empty where there is none (no live audio).
    pub latency: String,
    /// Where it comes from, in words ("from stream timestamps").
    pub latency_source: String,
    /// Share of the audio callback's time budget spent in the engine, 0..100.
    pub load_pct: f32,
    /// Audio callbacks that missed their deadline since start.
    pub xruns: u64,
    /// Commands dropped because a queue was full, since start.
    pub dropped_commands: u64,
    /// Names of the open MIDI input ports.
    pub midi_ports: Vec<String>,
    /// The last MIDI message received, as text ("CC 21 = 64 ch 1").
    pub last_midi: String,
    /// Other surfaces' parts of the status ("osc 127.0.0.1:9951 clients 1 bad 0").
    pub surfaces: Vec<String>,
    /// What the take recorder is doing ("take 3: 01:12", "off").
    pub take: String,
    /// A problem the performer should know about, in one short line ("audio
    /// device lost", "no audio device: running on the null backend"); empty
    /// when all is well.
    pub warning: String,
    /// The same problem in full (device lists, what to try), for the
    /// warning panel; empty when `warning` says it all.
    pub warning_details: String,
    /// Where the link also writes its warnings in full (the audio log), if it does.
    pub warning_log: Option<std::path::PathBuf>,
}

/// What the screen talks to. Every method returns at once: the screen must
/// never wait on audio.
pub trait InstrumentLink {
    /// Queue a command for the engine. False means it was dropped (queue full).
    fn send(&mut self, command: Command) -> bool;

    /// The newest snapshot, if one arrived since the last call.
    fn poll(&mut self) -> Option<EngineSnapshot>;

    /// Backend, device, load and MIDI state for the header.
    fn status(&self) -> LinkStatus;

    /// Replace the engine with one built from a newly loaded patch (`path`,
    /// already validated into `config`). Err is a message for the performer.
    fn load(&mut self, path: &Path, config: &EngineConfig) -> Result<(), String>;

    /// Whether something outside the screen (a signal) asked to stop.
    fn stop_requested(&self) -> bool {
        false
    }

    /// The screen selected another track (0-based): MIDI bindings to the
    /// "selected" track follow it.
    fn select_track(&mut self, track: u8) {
        let _ = track;
    }

    /// The selected track (0-based) as the instrument's other surfaces left
    /// it: MIDI `select` bindings move the same selection [`select_track`]
    /// sets. The screen follows it every frame. `None`: this link keeps no
    /// selection of its own.
    ///
    /// [`select_track`]: InstrumentLink::select_track
    fn selected_track(&self) -> Option<u8> {
        None
    }

    /// Start or stop recording a take. `Some(recording)` after the change,
    /// `None` when this link cannot record takes.
    fn toggle_take(&mut self) -> Option<bool> {
        None
    }

    /// Save the tapes' audio beside a patch just saved at `patch_path`, so
    /// reopening it brings the loops back. Err is a message for the performer;
    /// the default does nothing (nothing to keep).
    fn save_tapes(&mut self, patch_path: &Path) -> Result<(), String> {
        let _ = patch_path;
        Ok(())
    }

    /// The patch's `[[midi]]` tables as they are now, bindings learned into
    /// the patch file included (`None`: the link keeps none).
    fn patch_midi(&self) -> Option<Vec<toml::Table>> {
        None
    }

    /// Start MIDI learn: the next control moved is bound to `target`.
    /// False when learning is not available (no MIDI input).
    fn learn(&mut self, target: LearnTarget) -> bool {
        let _ = target;
        false
    }

    /// Stop waiting for a control to learn.
    fn cancel_learn(&mut self) {}

    /// A binding just learned, described for the screen ("CC 21 ch 1 → track 1 speed").
    fn poll_learned(&mut self) -> Option<String> {
        None
    }
}

/// Sample rate [`LocalLink::for_tests`] runs at: low, so tests that record
/// seconds of audio stay quick in debug builds.
pub const TEST_SAMPLE_RATE: f64 = 8_000.0;

/// An engine driven synchronously: time moves only in [`LocalLink::run`].
pub struct LocalLink {
    engine: Engine,
    block: usize,
    pending: Vec<TimedCommand>,
    fresh: Option<EngineSnapshot>,
    input_phase: f64,
    /// Frames fed to the engine so far; drives the built-in test tone.
    clock: u64,
    learning: Option<LearnTarget>,
    learned: Option<String>,
    midi_enabled: bool,
    /// The track selection the screen and MIDI share, as in a live session.
    selection: SelectedTrack,
    /// Bindings for [`LocalLink::midi_in`], over `selection`.
    router: Option<MidiRouter>,
    warning: String,
    warning_details: String,
}

/// Commands from [`LocalLink::midi_in`], queued like the screen's.
struct PendingCommands<'a>(&'a mut Vec<TimedCommand>);

impl CommandSink for PendingCommands<'_> {
    fn send(&mut self, command: Command, _at: Instant) -> bool {
        self.0.push(TimedCommand { offset: 0, command });
        true
    }
}

impl LocalLink {
    /// An engine for `config` at `sample_rate`, processed in `block`-frame pieces.
    pub fn new(config: EngineConfig, sample_rate: f64, block: usize) -> LocalLink {
        let block = block.max(1);
        let selection = SelectedTrack::new(config.tracks.len());
        let mut engine = Engine::new(config, sample_rate, block);
        // The screen can show the tracks before any time has passed.
        let fresh = Some(engine.snapshot());
        LocalLink {
            engine,
            block,
            pending: Vec::new(),
            fresh,
            input_phase: 0.0,
            clock: 0,
            learning: None,
            learned: None,
            midi_enabled: false,
            selection,
            router: None,
            warning: String::new(),
            warning_details: String::new(),
        }
    }

    /// The configuration tests use: [`TEST_SAMPLE_RATE`], 256-frame blocks.
    pub fn for_tests(config: EngineConfig) -> LocalLink {
        LocalLink::new(config, TEST_SAMPLE_RATE, 256)
    }

    /// Pretend a MIDI input is connected, so learn requests are accepted and
    /// [`LocalLink::move_control`] completes them.
    pub fn with_fake_midi(mut self) -> LocalLink {
        self.midi_enabled = true;
        self
    }

    /// A MIDI input with these bindings, played through [`LocalLink::midi_in`]
    /// by the router a live session uses, on the selection the screen shares.
    pub fn with_midi_bindings(mut self, bindings: &[MidiBinding]) -> LocalLink {
        self.router = Some(MidiRouter::new(bindings, self.selection.clone()));
        self.midi_enabled = true;
        self
    }

    /// MIDI bytes as if they arrived from a controller: the commands they
    /// make are queued for the next [`LocalLink::run`]; `select` bindings
    /// move the shared selection at once. Does nothing without
    /// [`LocalLink::with_midi_bindings`].
    pub fn midi_in(&mut self, bytes: &[u8]) {
        if let Some(router) = self.router.as_mut() {
            router.feed(bytes, Instant::now(), &mut PendingCommands(&mut self.pending));
        }
    }

    /// Show a warning in the status, as a live backend would after a
    /// failure: a short line, and optionally its full text.
    pub fn set_warning(&mut self, warning: &str) {
        self.set_warning_with_details(warning, "");
    }

    /// [`LocalLink::set_warning`] with the full text behind the short line.
    pub fn set_warning_with_details(&mut self, warning: &str, details: &str) {
        self.warning = warning.to_string();
        self.warning_details = details.to_string();
    }

    /// Complete a pending learn as if a controller's `cc` had moved.
    pub fn move_control(&mut self, cc: u8) {
        if let Some(target) = self.learning.take() {
            self.learned = Some(format!("CC {cc} ch 1 → {}", target.describe()));
        }
    }

    /// The request waiting for a control, if any.
    pub fn learning(&self) -> Option<LearnTarget> {
        self.learning
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Process `frames` frames of a built-in input (a pulsing tone, so
    /// recordings have a visible shape), applying queued commands at the
    /// start, then take a snapshot for [`InstrumentLink::poll`].
    pub fn run(&mut self, frames: usize) {
        let mut input = vec![0.0f32; self.block];
        let mut left = vec![0.0f32; self.block];
        let mut right = vec![0.0f32; self.block];
        let rate = self.engine.sample_rate();
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(self.block);
            for x in &mut input[..n] {
                // 220 Hz under a 1.5 Hz swell: peaks and troughs along the loop.
                let t = self.clock as f64 / rate;
                let swell = 0.5 - 0.5 * (std::f64::consts::TAU * 1.5 * t).cos();
                *x = (0.6 * swell * self.input_phase.sin()) as f32;
                self.input_phase =
                    (self.input_phase + std::f64::consts::TAU * 220.0 / rate) % std::f64::consts::TAU;
                self.clock += 1;
            }
            let commands = std::mem::take(&mut self.pending);
            self.engine.process(&input[..n], &mut left[..n], &mut right[..n], &commands);
            done += n;
        }
        // Commands sent with no frames to run still take effect.
        for timed in std::mem::take(&mut self.pending) {
            self.engine.apply(timed.command);
        }
        self.fresh = Some(self.engine.snapshot());
    }
}

impl InstrumentLink for LocalLink {
    fn send(&mut self, command: Command) -> bool {
        self.pending.push(TimedCommand { offset: 0, command });
        true
    }

    fn poll(&mut self) -> Option<EngineSnapshot> {
        self.fresh.take()
    }

    fn status(&self) -> LinkStatus {
        LinkStatus {
            backend: "local".into(),
            sample_rate: self.engine.sample_rate() as u32,
            buffer_frames: self.block as u32,
            midi_ports: if self.midi_enabled { vec!["virtual".into()] } else { Vec::new() },
            take: "off".into(),
            warning: self.warning.clone(),
            warning_details: self.warning_details.clone(),
            ..LinkStatus::default()
        }
    }

    fn load(&mut self, _path: &Path, config: &EngineConfig) -> Result<(), String> {
        self.engine = Engine::new(config.clone(), self.engine.sample_rate(), self.block);
        self.pending.clear();
        self.fresh = Some(self.engine.snapshot());
        // A new patch starts on track 1, as a live session's does.
        self.selection.set_track_count(config.tracks.len());
        self.selection.set(0);
        Ok(())
    }

    fn select_track(&mut self, track: u8) {
        self.selection.set(track);
    }

    fn selected_track(&self) -> Option<u8> {
        Some(self.selection.get())
    }

    fn learn(&mut self, target: LearnTarget) -> bool {
        if self.midi_enabled {
            self.learning = Some(target);
        }
        self.midi_enabled
    }

    fn cancel_learn(&mut self) {
        self.learning = None;
    }

    fn poll_learned(&mut self) -> Option<String> {
        self.learned.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::HeadMode;

    #[test]
    fn commands_take_effect_when_frames_run() {
        let mut link = LocalLink::for_tests(EngineConfig::default());
        assert!(link.poll().is_some(), "a first snapshot before any time passes");
        assert!(link.send(Command::Track { track: 0, action: TrackAction::Record }));
        link.run(800);
        let snapshot = link.poll().expect("a snapshot after running");
        assert_eq!(snapshot.tracks()[0].mode, HeadMode::Record);
        assert!(link.poll().is_none(), "a snapshot is delivered once");
    }
}
