//! Thin adapters between the engine and the outside world.
//!
//! - [`audio`]: sound cards and servers through cpal (ALSA, or JACK with the
//!   `jack` feature).
//! - [`null`]: no hardware: the engine runs on its own real-time clock.
//! - [`processor`]: what runs inside the output callback ([`LiveProcessor`]).
//! - [`input_sync`]: input frames from another clock, kept at a bounded latency.
//! - [`latency`]: measuring the round trip the record heads compensate.
//! - [`realtime`]: what every real-time callback runs inside (no allocation,
//!   panics caught and noted without I/O).
//! - [`handoff`]: lock-free ownership hand-over between a callback and its owner.
//! - [`stderr`]: keeping alsa-lib's and libjack's chatter off the terminal.
//! - [`midi`]: MIDI input through midir, with ports reopened when they return.
//! - [`midi_out`]: one cycle's MIDI out events and the control side's queue.
//! - [`midi_port`]: MIDI output through midir (clock out, LED feedback).
//! - `jack_native` (`jack` feature): one JACK client for input, engine,
//!   output and MIDI in one process callback; the default device backend
//!   of `jack` builds on Linux.

pub mod audio;
pub mod handoff;
pub mod input_sync;
#[cfg(feature = "jack")]
pub mod jack_native;
pub mod latency;
pub mod midi;
pub mod midi_out;
pub mod midi_port;
pub mod null;
pub mod processor;
pub mod realtime;
pub mod stderr;

pub use handoff::Handoff;
pub use processor::LiveProcessor;

use crate::bridge::InputWriter;
use std::sync::Arc;

/// Frames per callback when `--buffer` is not given.
pub const DEFAULT_BUFFER: u32 = 256;

/// Which kind of backend to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// A sound card or server through cpal.
    #[default]
    Device,
    /// No hardware; the engine runs on a timer.
    Null,
}

/// What the user asked for on the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioOptions {
    pub backend: BackendKind,
    /// cpal host name (`alsa`, `jack`); default: JACK in `jack` builds, else the platform's.
    pub host: Option<String>,
    /// Output device: a device id (`alsa:jack`), or part of a device's name.
    pub device: Option<String>,
    /// Input device, the same way; `none` for no input. Default: a named
    /// output device when it can capture, else the host's default input.
    pub input_device: Option<String>,
    /// Sample rate in Hz; wins over the patch's preference.
    pub sample_rate: Option<u32>,
    /// Frames per callback (always requested as a fixed size).
    pub buffer: u32,
    /// 1-based input channel to record; default: the mean of all channels.
    pub input_channel: Option<u16>,
    /// Round-trip latency to compensate, milliseconds; default: from the
    /// host's stream timestamps.
    pub latency_ms: Option<f64>,
    /// Sample format to ask the device for; default: the device's own
    /// (when it is one of these), else the first of them it offers.
    pub sample_format: Option<SampleFormatChoice>,
    /// Native JACK client: its name (`--jack-name`; default `ferrotape`).
    pub jack_name: Option<String>,
    /// Native JACK client: input ports `in_1`…`in_N` (`--inputs`, 1-8; default 1).
    pub inputs: Option<u8>,
    /// Native JACK client: one mono output per track (`--track-outputs`).
    pub track_outputs: bool,
    /// Native JACK client: connect nothing at start (`--no-connect`).
    pub no_connect: bool,
    /// Native JACK client: MIDI sources to connect to `midi_in` at start
    /// (the `--midi` names; `all` for every one).
    pub midi_sources: Vec<String>,
}

/// Most input ports of the native JACK client.
pub const MAX_INPUTS: u8 = 8;

/// The sample formats the callbacks are built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleFormatChoice {
    F32,
    I16,
    I32,
}

impl SampleFormatChoice {
    /// From `--sample-format`: `f32`, `i16` or `i32`.
    pub fn parse(name: &str) -> Result<SampleFormatChoice, String> {
        match name {
            "f32" => Ok(SampleFormatChoice::F32),
            "i16" => Ok(SampleFormatChoice::I16),
            "i32" => Ok(SampleFormatChoice::I32),
            other => Err(format!("--sample-format {other}: use f32, i16 or i32")),
        }
    }
}

impl Default for AudioOptions {
    fn default() -> Self {
        AudioOptions {
            backend: BackendKind::Device,
            host: None,
            device: None,
            input_device: None,
            sample_rate: None,
            buffer: DEFAULT_BUFFER,
            input_channel: None,
            latency_ms: None,
            sample_format: None,
            jack_name: None,
            inputs: None,
            track_outputs: false,
            no_connect: false,
            midi_sources: Vec::new(),
        }
    }
}

impl AudioOptions {
    /// Check what the command line asked for before any device opens, so a
    /// mistake is one line naming the flag on every backend (the null
    /// backend would otherwise run on a clock of 0 Hz).
    pub fn validate(&self) -> Result<(), String> {
        if self.buffer == 0 || self.buffer as usize > processor::MAX_CHUNK {
            return Err(format!(
                "--buffer {} must be between 1 and {} frames",
                self.buffer,
                processor::MAX_CHUNK
            ));
        }
        if let Some(inputs) = self.inputs {
            if inputs == 0 || inputs > MAX_INPUTS {
                return Err(format!("--inputs {inputs} must be between 1 and {MAX_INPUTS}"));
            }
        }
        if let Some(flag) = self.native_flag() {
            if !cfg!(feature = "jack") {
                return Err(format!(
                    "{flag} is for the native JACK client: this build has no JACK (build with --features jack)"
                ));
            }
            if self.backend == BackendKind::Device && !self.native_jack() {
                return Err(format!(
                    "{flag} is for the native JACK client, which --audio-host or --audio-device replaced with cpal"
                ));
            }
        }
        if let Some(rate) = self.sample_rate {
            let range = crate::patch::SAMPLE_RATE_RANGE;
            if !range.contains(&rate) {
                return Err(format!(
                    "--sample-rate {rate} is out of range ({} to {} Hz)",
                    range.start(),
                    range.end()
                ));
            }
        }
        Ok(())
    }
}

impl AudioOptions {
    /// The first native-JACK-only flag given, for error messages.
    fn native_flag(&self) -> Option<&'static str> {
        if self.jack_name.is_some() {
            Some("--jack-name")
        } else if self.inputs.is_some() {
            Some("--inputs")
        } else if self.track_outputs {
            Some("--track-outputs")
        } else if self.no_connect {
            Some("--no-connect")
        } else {
            None
        }
    }

    /// Whether a device backend is the native JACK client: in `jack`
    /// builds on Linux (and FreeBSD) unless a cpal host or device is named
    /// (`--audio-host jack` is cpal's JACK host).
    pub fn native_jack(&self) -> bool {
        cfg!(all(feature = "jack", any(target_os = "linux", target_os = "freebsd")))
            && self.backend == BackendKind::Device
            && self.host.is_none()
            && self.device.is_none()
    }
}

/// What a backend settled on once its device was opened.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamSettings {
    /// Hz.
    pub sample_rate: u32,
    /// Frames per callback the engine is prepared for (callbacks may differ).
    pub block: usize,
    /// Output channels (the engine's stereo goes to the first two).
    pub output_channels: u16,
    /// Whether an input stream feeds the record heads.
    pub has_input: bool,
    /// Whether the host stamps input and output on one clock (JACK), so
    /// the round trip is read straight off its timestamps.
    pub one_clock: bool,
    /// One line describing the devices with the rate and block, for the
    /// status output ("null audio (no hardware), 48000 Hz, 256 frames").
    pub description: String,
    /// The devices alone, without rate or block, for the screen's header
    /// (which shows those on their own): "null audio (no hardware)".
    pub devices: String,
    /// The backend routes MIDI input inside its process callback (the
    /// native JACK client, named this): the MIDI surface hands it its
    /// router instead of opening midir.
    pub native_midi: Option<String>,
}

/// The state of a running backend.
#[derive(Clone, Debug, PartialEq)]
pub enum Health {
    Running,
    /// The stream stopped working; the message says what happened.
    Failed(String),
}

/// A source of audio callbacks. `start` moves nothing: the processor and
/// the input writer stay in their [`Handoff`]s, which the callbacks borrow
/// per block; after `stop` (or a failure) they are still there, tapes and
/// all, to run on a rebuilt stream.
pub trait AudioBackend {
    fn settings(&self) -> &StreamSettings;
    fn start(
        &mut self,
        processor: Arc<Handoff<LiveProcessor>>,
        input: Arc<Handoff<InputWriter>>,
    ) -> Result<(), String>;
    /// Stop the callbacks; when this returns they no longer run.
    fn stop(&mut self);
    fn health(&self) -> Health;
    /// Try to open the same devices again after a failure.
    fn reopen(&mut self) -> Result<(), String>;
}

/// Open the backend the options ask for. `preferred_rate` is the patch's
/// sample rate, used when the command line names none and the device can.
pub fn open_backend(
    options: &AudioOptions,
    preferred_rate: Option<u32>,
) -> Result<Box<dyn AudioBackend>, String> {
    match options.backend {
        BackendKind::Null => Ok(Box::new(null::NullBackend::new(options, preferred_rate))),
        #[cfg(feature = "jack")]
        BackendKind::Device if options.native_jack() => {
            Ok(Box::new(jack_native::JackBackend::open(options, preferred_rate)?))
        }
        BackendKind::Device => Ok(Box::new(audio::CpalBackend::open(options, preferred_rate)?)),
    }
}

/// What an interactive session does when no device opens: run on the null
/// backend with a warning, unless the user explicitly named a device (then
/// the error stands). Headless `play --no-tui` never falls back.
pub fn fall_back_to_null(options: &AudioOptions, interactive: bool) -> bool {
    interactive
        && options.backend == BackendKind::Device
        && options.device.is_none()
        && options.host.is_none()
}

/// Parse `--audio`: `null`, or `device` (the default).
pub fn parse_backend(name: &str) -> Result<BackendKind, String> {
    match name {
        "null" | "none" => Ok(BackendKind::Null),
        "device" | "default" | "cpal" => Ok(BackendKind::Device),
        other => Err(format!("--audio {other}: use `null` (no hardware) or `device`")),
    }
}
