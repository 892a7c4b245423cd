//! The native JACK backend (`jack` feature): one client, named `ferrotape`
//! (`--jack-name`), whose one process callback reads the input ports,
//! routes the cycle's MIDI, runs the engine and writes the outputs and
//! `midi_out` (see [`process`]).
//!
//! Ports: `in_1` … `in_N` (`--inputs N`; the record heads hear their mean,
//! or `--input-channel K`), `out_L`, `out_R`, `midi_in`, `midi_out`, and
//! with `--track-outputs` one mono output per track, `track_01`, … At start
//! `in_k` is connected to the k-th physical capture port, `out_L`/`out_R`
//! to the first two physical playback ports and `midi_in` to the MIDI
//! sources named with `--midi`, unless `--no-connect`.
//!
//! The round trip the record heads compensate is read off the ports'
//! latency ranges (capture latency of `in_1` plus playback latency of
//! `out_L`, their maxima) in JACK's latency callback; `--latency-ms` wins.
//! xruns are counted; a period longer than [`MAX_CHUNK`] plays silence
//! (counted); a sample-rate change fails the backend with a message (the
//! tapes stay in the processor's handoff).

mod process;
pub mod stopping;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use jack::{AudioIn, AudioOut, Client, ClientOptions, MidiIn, MidiOut, Port, PortFlags};

use super::processor::MAX_CHUNK;
use super::stderr::StderrCapture;
use super::{AudioBackend, AudioOptions, Handoff, Health, LiveProcessor, StreamSettings, MAX_INPUTS};
use crate::bridge::InputWriter;
use crate::engine::MAX_TRACKS;
use process::{LatencyWatch, Notifications, Process, Shared};
use stopping::{StopSwitch, Stoppable, CLOSE_PATIENCE};

/// The client's name when `--jack-name` is not given.
pub const DEFAULT_CLIENT_NAME: &str = "ferrotape";

/// Why the backend stopped working.
const FAILURE_NONE: u32 = 0;
const FAILURE_SHUTDOWN: u32 = 1;
const FAILURE_RATE: u32 = 2;
const FAILURE_PROCESS: u32 = 3;

/// The client's ports (they move into the process handler while active).
pub(super) struct Ports {
    inputs: Vec<Port<AudioIn>>,
    out_l: Port<AudioOut>,
    out_r: Port<AudioOut>,
    tracks: Vec<Port<AudioOut>>,
    midi_in: Port<MidiIn>,
    midi_out: Port<MidiOut>,
}

enum State {
    Idle(Client, Ports),
    Active(jack::AsyncClient<Notifications, Stoppable<Process>>, StopSwitch),
    /// The client is gone (the server stopped); `reopen` makes a new one.
    Gone,
}

pub struct JackBackend {
    options: AudioOptions,
    settings: StreamSettings,
    state: State,
    shared: Arc<Shared>,
    /// What JACK's latency callback reads; lives as long as the client.
    watch: Box<LatencyWatch>,
    name: String,
}

/// Whether a MIDI source's port name matches a `--midi` name (or `all`).
fn midi_matches(wanted: &[String], port: &str) -> bool {
    let port = port.to_lowercase();
    wanted.iter().any(|w| w.eq_ignore_ascii_case("all") || port.contains(&w.to_lowercase()))
}

impl JackBackend {
    /// Open the client and register its ports (it starts in `start`).
    /// `preferred_rate` cannot be met by a client (the server sets the
    /// rate): a `--sample-rate` that differs is an error, a patch's rate
    /// is not.
    pub fn open(options: &AudioOptions, _preferred_rate: Option<u32>) -> Result<JackBackend, String> {
        let inputs = options.inputs.unwrap_or(1).clamp(1, MAX_INPUTS);
        if let Some(channel) = options.input_channel {
            if channel == 0 || channel > u16::from(inputs) {
                return Err(format!(
                    "--input-channel {channel}: the JACK client has {inputs} input(s) (in_1 … in_{inputs}); \
                     use --inputs to add more"
                ));
            }
        }
        let wanted = options.jack_name.clone().unwrap_or_else(|| DEFAULT_CLIENT_NAME.to_string());
        let quiet = StderrCapture::begin();
        let opened = Client::new(&wanted, ClientOptions::NO_START_SERVER);
        drop(quiet);
        let (client, _status) = opened.map_err(|e| {
            format!(
                "no audio output: cannot connect to a JACK server as `{wanted}` ({e}: is jackd or \
                 pipewire-jack running?); try --audio null (no hardware), --audio-host alsa, or `ferrotape devices`"
            )
        })?;
        let rate = client.sample_rate();
        if let Some(asked) = options.sample_rate {
            if asked != rate {
                return Err(format!(
                    "--sample-rate {asked}: the JACK server runs at {rate} Hz (a client cannot change it)"
                ));
            }
        }
        let period = client.buffer_size() as usize;
        let name = client.name().to_string();
        let ports = register_ports(&client, inputs)?;
        let shared = Arc::new(Shared::new(rate));
        let mut watch = Box::new(LatencyWatch::new(shared.clone()));
        watch.set_ports(&ports);
        process::install_latency_callback(&client, &mut watch)?;
        let block = period.clamp(1, MAX_CHUNK);
        let mut port_list = format!("{name}:in_1");
        if inputs > 1 {
            port_list.push_str(&format!("…in_{inputs}"));
        }
        port_list.push_str(", out_L/out_R, midi_in/midi_out");
        if options.track_outputs {
            port_list.push_str(", track outputs");
        }
        let devices = format!("JACK client {port_list}");
        Ok(JackBackend {
            options: options.clone(),
            settings: StreamSettings {
                sample_rate: rate,
                block,
                output_channels: 2,
                has_input: true,
                one_clock: true,
                description: format!("{devices}, {rate} Hz, {period} frames"),
                devices,
                native_midi: Some(name.clone()),
            },
            state: State::Idle(client, ports),
            shared,
            watch,
            name,
        })
    }

    /// The client's name as JACK gave it (`ferrotape`, or `ferrotape-01`
    /// when the name was taken).
    pub fn client_name(&self) -> &str {
        &self.name
    }

    /// Connect the ports to the system's and the `--midi` sources, unless `--no-connect`.
    fn connect(&self, client: &Client) {
        if self.options.no_connect {
            return;
        }
        let name = &self.name;
        let physical = |flags: PortFlags, kind: &str| -> Vec<String> {
            client.ports(None, Some(kind), flags | PortFlags::IS_PHYSICAL)
        };
        let audio = "32 bit float mono audio";
        let capture = physical(PortFlags::IS_OUTPUT, audio);
        let inputs = self.options.inputs.unwrap_or(1).clamp(1, MAX_INPUTS) as usize;
        for (k, from) in capture.iter().take(inputs).enumerate() {
            let _ = client.connect_ports_by_name(from, &format!("{name}:in_{}", k + 1));
        }
        let playback = physical(PortFlags::IS_INPUT, audio);
        for (own, to) in ["out_L", "out_R"].iter().zip(&playback) {
            let _ = client.connect_ports_by_name(&format!("{name}:{own}"), to);
        }
        if !self.options.midi_sources.is_empty() {
            let own = format!("{name}:");
            for source in client.ports(None, Some("8 bit raw midi"), PortFlags::IS_OUTPUT) {
                if !source.starts_with(&own) && midi_matches(&self.options.midi_sources, &source) {
                    let _ = client.connect_ports_by_name(&source, &format!("{name}:midi_in"));
                }
            }
        }
    }
}

fn register_ports(client: &Client, inputs: u8) -> Result<Ports, String> {
    let fail = |what: &str, e: jack::Error| format!("JACK: cannot register port {what}: {e}");
    let inputs = (1..=inputs)
        .map(|k| {
            let name = format!("in_{k}");
            client.register_port(&name, AudioIn::default()).map_err(|e| fail(&name, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Ports {
        inputs,
        out_l: client.register_port("out_L", AudioOut::default()).map_err(|e| fail("out_L", e))?,
        out_r: client.register_port("out_R", AudioOut::default()).map_err(|e| fail("out_R", e))?,
        tracks: Vec::new(),
        midi_in: client.register_port("midi_in", MidiIn::default()).map_err(|e| fail("midi_in", e))?,
        midi_out: client.register_port("midi_out", MidiOut::default()).map_err(|e| fail("midi_out", e))?,
    })
}

/// `track_01` … for `tracks` tracks (registered or unregistered to fit).
fn fit_track_ports(client: &Client, ports: &mut Ports, tracks: usize) -> Result<(), String> {
    while ports.tracks.len() > tracks {
        if let Some(port) = ports.tracks.pop() {
            let _ = client.unregister_port(port);
        }
    }
    while ports.tracks.len() < tracks {
        let name = format!("track_{:02}", ports.tracks.len() + 1);
        let port = client
            .register_port(&name, AudioOut::default())
            .map_err(|e| format!("JACK: cannot register port {name}: {e}"))?;
        ports.tracks.push(port);
    }
    Ok(())
}

impl AudioBackend for JackBackend {
    fn settings(&self) -> &StreamSettings {
        &self.settings
    }

    fn start(
        &mut self,
        processor: Arc<Handoff<LiveProcessor>>,
        _input: Arc<Handoff<InputWriter>>,
    ) -> Result<(), String> {
        self.stop();
        let (stats, tracks) = processor
            .with(|p| (p.stats_arc(), p.engine().track_count()))
            .ok_or("the engine is not ready (still held by a stopped stream)")?;
        let State::Idle(client, mut ports) = std::mem::replace(&mut self.state, State::Gone) else {
            return Err("the JACK client is gone (is the server running?)".into());
        };
        let wanted_tracks = if self.options.track_outputs { tracks.min(MAX_TRACKS) } else { 0 };
        if let Err(e) = fit_track_ports(&client, &mut ports, wanted_tracks) {
            self.state = State::Idle(client, ports);
            return Err(e);
        }
        self.watch.set_ports(&ports);
        self.shared.failure.store(FAILURE_NONE, Ordering::Relaxed);
        let notifications = Notifications::new(self.shared.clone(), stats.clone());
        let (handler, switch) = Stoppable::new(Process::new(
            ports,
            processor,
            self.options.input_channel,
            self.shared.clone(),
            stats,
        ));
        let quiet = StderrCapture::begin();
        let active = client.activate_async(notifications, handler);
        drop(quiet);
        let active = active.map_err(|e| format!("cannot start the JACK client {}: {e}", self.name))?;
        self.connect(active.as_client());
        // The latency callback runs on the connections; read once now too.
        self.watch.read_now();
        self.state = State::Active(active, switch);
        Ok(())
    }

    fn stop(&mut self) {
        let (active, switch) = match std::mem::replace(&mut self.state, State::Gone) {
            State::Active(active, switch) => (active, switch),
            other => {
                self.state = other;
                return;
            }
        };
        if self.shared.failure.load(Ordering::Relaxed) == FAILURE_SHUTDOWN {
            // The server is gone: the client cannot be deactivated; its
            // memory is left rather than risk a call into a dead server.
            std::mem::forget(active);
            return;
        }
        let quiet = StderrCapture::begin();
        let stopped = stopping::deactivate(active, &switch);
        drop(quiet);
        if let Ok((client, _, process)) = stopped {
            self.state = State::Idle(client, process.into_inner().into_ports());
        }
    }

    fn health(&self) -> Health {
        match self.shared.failure.load(Ordering::Relaxed) {
            FAILURE_NONE => Health::Running,
            FAILURE_SHUTDOWN => Health::Failed(format!("the JACK server went away (client {})", self.name)),
            FAILURE_RATE => Health::Failed(format!(
                "the JACK server's sample rate changed from {} to {} Hz; the engine runs at {} Hz: \
                 set the server back, or restart ferrotape",
                self.settings.sample_rate,
                self.shared.new_rate.load(Ordering::Relaxed),
                self.settings.sample_rate
            )),
            FAILURE_PROCESS => Health::Failed(format!("the JACK client {} stopped processing", self.name)),
            _ => Health::Failed("the JACK client failed".into()),
        }
    }

    fn reopen(&mut self) -> Result<(), String> {
        self.stop();
        // The engine is prepared for this rate: the server must run at it again.
        let mut options = self.options.clone();
        options.sample_rate = Some(self.settings.sample_rate);
        let fresh = JackBackend::open(&options, None)?;
        let old = std::mem::replace(self, fresh);
        // The old client is gone or idle; its watch may be freed now.
        drop(old);
        Ok(())
    }
}

impl Drop for JackBackend {
    fn drop(&mut self) {
        self.stop();
        // Close the client (it was deactivated) before the watch it calls
        // is freed, and within a deadline: a quit must not hang in libjack.
        if let State::Idle(client, ports) = std::mem::replace(&mut self.state, State::Gone) {
            let quiet = StderrCapture::begin();
            let closed = stopping::close_within(CLOSE_PATIENCE, move || drop((client, ports)));
            drop(quiet);
            if !closed {
                // Its latency callback may still run: the watch it reads stays.
                let fresh = Box::new(LatencyWatch::new(self.shared.clone()));
                std::mem::forget(std::mem::replace(&mut self.watch, fresh));
                eprintln!(
                    "the JACK client {} did not close within {CLOSE_PATIENCE:?}; left to the server",
                    self.name
                );
            }
        }
    }
}

/// What `ferrotape devices` says about the native client.
pub fn describe() -> String {
    let quiet = StderrCapture::begin();
    let probe = Client::new("ferrotape-devices", ClientOptions::NO_START_SERVER);
    drop(quiet);
    let server = match probe {
        Ok((client, _)) => {
            format!("server running at {} Hz, {} frames", client.sample_rate(), client.buffer_size())
        }
        Err(_) => "no JACK server running".to_string(),
    };
    format!(
        "native JACK client (the default in this build; --audio-host names a cpal host instead): \
         `{DEFAULT_CLIENT_NAME}` (--jack-name) with in_1 (--inputs N), out_L, out_R, midi_in, midi_out \
         (and track_01… with --track-outputs); {server}\n"
    )
}
