//! The native client's callbacks: the one process callback (input, MIDI,
//! engine, outputs, MIDI out), JACK's notifications (xruns, sample rate,
//! server shutdown) and its latency callback (the round trip off the ports'
//! latency ranges).

use std::ffi::c_void;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use jack::jack_sys as j;
use jack::{
    Client, ClientStatus, Control, Frames, NotificationHandler, ProcessHandler, ProcessScope, RawMidi,
};

use super::stopping::LastCycle;
use super::{Ports, FAILURE_RATE, FAILURE_SHUTDOWN};
use crate::bridge::LiveStats;
use crate::engine::MAX_TRACKS;
use crate::io::processor::{PlanarOut, MAX_CHUNK};
use crate::io::{realtime, Handoff, LiveProcessor};
use crate::sync::transport::{Bbt, TransportPosition};

/// A latency not read yet.
const UNKNOWN: u32 = u32::MAX;

/// What the callbacks and the backend share: atomics only.
pub(crate) struct Shared {
    pub(super) failure: AtomicU32,
    /// The rate the server switched to, after a sample-rate change.
    pub(super) new_rate: AtomicU32,
    rate: u32,
    /// Capture latency of `in_1` and playback latency of `out_L`, maxima, frames.
    capture: AtomicU32,
    playback: AtomicU32,
}

impl Shared {
    pub(super) fn new(rate: u32) -> Shared {
        Shared {
            failure: AtomicU32::new(0),
            new_rate: AtomicU32::new(rate),
            rate,
            capture: AtomicU32::new(UNKNOWN),
            playback: AtomicU32::new(UNKNOWN),
        }
    }

    /// The round trip from the ports' latency ranges, once both are known.
    pub(super) fn round_trip(&self) -> Option<u32> {
        let (capture, playback) =
            (self.capture.load(Ordering::Relaxed), self.playback.load(Ordering::Relaxed));
        (capture != UNKNOWN && playback != UNKNOWN).then(|| capture.saturating_add(playback))
    }
}

/// The process callback's state: the ports, the processor's handoff and a
/// mono buffer for the record heads, allocated for [`MAX_CHUNK`] frames.
pub(crate) struct Process {
    ports: Ports,
    processor: Arc<Handoff<LiveProcessor>>,
    /// `--input-channel`: 1-based input port to record; else their mean.
    channel: Option<u16>,
    mono: Vec<f32>,
    shared: Arc<Shared>,
    stats: Arc<LiveStats>,
}

impl Process {
    pub(super) fn new(
        ports: Ports,
        processor: Arc<Handoff<LiveProcessor>>,
        channel: Option<u16>,
        shared: Arc<Shared>,
        stats: Arc<LiveStats>,
    ) -> Process {
        Process { ports, processor, channel, mono: vec![0.0; MAX_CHUNK], shared, stats }
    }

    pub(super) fn into_ports(self) -> Ports {
        self.ports
    }

    /// One cycle: inputs → mono, MIDI in, engine, outputs, MIDI out.
    fn cycle(&mut self, client: &Client, ps: &ProcessScope) {
        let n = ps.n_frames() as usize;
        let Ports { inputs, out_l, out_r, tracks, midi_in, midi_out } = &mut self.ports;
        let mut writer = midi_out.writer(ps);
        let left = out_l.as_mut_slice(ps);
        let right = out_r.as_mut_slice(ps);
        let mut stems: [&mut [f32]; MAX_TRACKS] = std::array::from_fn(|_| <&mut [f32]>::default());
        let mut count = 0;
        for (slot, port) in stems.iter_mut().zip(tracks.iter_mut()) {
            *slot = port.as_mut_slice(ps);
            count += 1;
        }
        let silence = |left: &mut [f32], right: &mut [f32], stems: &mut [&mut [f32]]| {
            left.fill(0.0);
            right.fill(0.0);
            for stem in stems {
                stem.fill(0.0);
            }
        };
        if n > MAX_CHUNK {
            // More than the buffers hold: silence rather than allocate.
            silence(left, right, &mut stems[..count]);
            LiveStats::add(&self.stats.oversized_cycles, 1);
            return;
        }
        let mono = &mut self.mono[..n];
        match self.channel.and_then(|k| inputs.get(usize::from(k).saturating_sub(1))) {
            Some(port) => mono.copy_from_slice(port.as_slice(ps)),
            None => {
                mono.fill(0.0);
                for port in inputs.iter() {
                    for (m, &x) in mono.iter_mut().zip(port.as_slice(ps)) {
                        *m += x;
                    }
                }
                let scale = 1.0 / inputs.len().max(1) as f32;
                for m in mono.iter_mut() {
                    *m *= scale;
                }
            }
        }
        let latency = self.shared.round_trip();
        let transport = transport_position(client);
        let midi = midi_in.iter(ps).map(|event| (event.time, event.bytes));
        let last = n.saturating_sub(1) as u32;
        let stats = &self.stats;
        let ran = self.processor.with(|p| {
            let out = PlanarOut { left: &mut *left, right: &mut *right, tracks: &mut stems[..count] };
            p.render_cycle(Some(mono), out, midi, latency, Some(transport));
            let events = p.midi_out_mut();
            events.sort();
            let mut lost = 0;
            for (offset, bytes) in events.iter() {
                if writer.write(&RawMidi { time: offset.min(last), bytes }).is_err() {
                    lost += 1;
                }
            }
            if lost > 0 {
                LiveStats::add(&stats.midi_out_dropped, lost);
            }
        });
        if ran.is_none() {
            // The session holds the processor (it is being swapped or read).
            silence(left, right, &mut stems[..count]);
        }
    }
}

impl Process {
    fn silence(&mut self, ps: &ProcessScope) {
        let Ports { out_l, out_r, tracks, .. } = &mut self.ports;
        out_l.as_mut_slice(ps).fill(0.0);
        out_r.as_mut_slice(ps).fill(0.0);
        for port in tracks.iter_mut() {
            port.as_mut_slice(ps).fill(0.0);
        }
    }
}

impl ProcessHandler for Process {
    fn process(&mut self, client: &Client, ps: &ProcessScope) -> Control {
        if realtime::callback(|| self.cycle(client, ps)).is_none() {
            // A bug outside the processor's own guard: this cycle is silent.
            self.silence(ps);
        }
        Control::Continue
    }
}

impl LastCycle for Process {
    fn last_cycle(&mut self, _: &Client, ps: &ProcessScope) {
        self.silence(ps);
    }
}

/// Where the transport stands at this cycle's first frame. Real-time safe:
/// one `jack_transport_query` into a position on the stack.
fn transport_position(client: &Client) -> TransportPosition {
    let mut position = std::mem::MaybeUninit::<j::jack_position_t>::zeroed();
    // SAFETY: the client is active (this runs in its process callback) and
    // `position` is a valid, zeroed jack_position_t for JACK to fill.
    let state = unsafe { j::jack_transport_query(client.raw(), position.as_mut_ptr()) };
    // SAFETY: zeroed is a valid jack_position_t, and JACK only writes fields.
    let position = unsafe { position.assume_init() };
    let bbt = (position.valid & j::JackPositionBBT != 0).then(|| Bbt {
        bar: position.bar.max(1) as u32,
        beat: position.beat.max(1) as u32,
        tick: position.tick.max(0) as u32,
        ticks_per_beat: position.ticks_per_beat,
        beats_per_bar: position.beats_per_bar,
        bpm: position.beats_per_minute,
    });
    TransportPosition { rolling: state == j::JackTransportRolling, frame: u64::from(position.frame), bbt }
}

/// JACK's notifications: xruns, the sample rate, the server going away.
pub(crate) struct Notifications {
    shared: Arc<Shared>,
    stats: Arc<LiveStats>,
}

impl Notifications {
    pub(super) fn new(shared: Arc<Shared>, stats: Arc<LiveStats>) -> Notifications {
        Notifications { shared, stats }
    }
}

impl NotificationHandler for Notifications {
    fn xrun(&mut self, _: &Client) -> Control {
        LiveStats::add(&self.stats.xruns, 1);
        Control::Continue
    }

    fn sample_rate(&mut self, _: &Client, rate: Frames) -> Control {
        if rate != self.shared.rate {
            self.shared.new_rate.store(rate, Ordering::Relaxed);
            self.shared.failure.store(FAILURE_RATE, Ordering::Relaxed);
        }
        Control::Continue
    }

    unsafe fn shutdown(&mut self, _status: ClientStatus, _reason: &str) {
        LiveStats::add(&self.stats.stream_errors, 1);
        self.shared.failure.store(FAILURE_SHUTDOWN, Ordering::Relaxed);
    }
}

/// What JACK's latency callback reads and sets: the client's own ports.
/// With a latency callback set, a client propagates latencies through
/// itself: its outputs' capture latency is its inputs' (every input feeds
/// every output), its inputs' playback latency its outputs'.
pub(crate) struct LatencyWatch {
    shared: Arc<Shared>,
    in_1: *mut j::jack_port_t,
    out_l: *mut j::jack_port_t,
    inputs: Vec<*mut j::jack_port_t>,
    outputs: Vec<*mut j::jack_port_t>,
}

// SAFETY: the port pointers are only used by JACK's latency callback and
// by the backend while the client is inactive (`set_ports`) or from the
// control thread through libjack's thread-safe port functions.
unsafe impl Send for LatencyWatch {}
unsafe impl Sync for LatencyWatch {}

impl LatencyWatch {
    pub(super) fn new(shared: Arc<Shared>) -> LatencyWatch {
        LatencyWatch {
            shared,
            in_1: std::ptr::null_mut(),
            out_l: std::ptr::null_mut(),
            inputs: Vec::with_capacity(8),
            outputs: Vec::with_capacity(2 + MAX_TRACKS),
        }
    }

    /// Follow these ports (call while the client is inactive).
    pub(super) fn set_ports(&mut self, ports: &Ports) {
        self.in_1 = ports.inputs.first().map(|p| p.raw()).unwrap_or(std::ptr::null_mut());
        self.out_l = ports.out_l.raw();
        self.inputs.clear();
        self.inputs.extend(ports.inputs.iter().map(|p| p.raw()));
        self.outputs.clear();
        self.outputs.extend([ports.out_l.raw(), ports.out_r.raw()]);
        self.outputs.extend(ports.tracks.iter().map(|p| p.raw()));
    }

    /// Read both ranges now (after connecting), without propagating.
    pub(super) fn read_now(&self) {
        if let Some(capture) = range(self.in_1, j::JackCaptureLatency) {
            self.shared.capture.store(capture.max, Ordering::Relaxed);
        }
        if let Some(playback) = range(self.out_l, j::JackPlaybackLatency) {
            self.shared.playback.store(playback.max, Ordering::Relaxed);
        }
    }

    fn on_latency(&self, mode: j::jack_latency_callback_mode_t) {
        let capture = mode == j::JackCaptureLatency;
        let (from, to) = if capture { (&self.inputs, &self.outputs) } else { (&self.outputs, &self.inputs) };
        let mut widest = j::jack_latency_range_t { min: u32::MAX, max: 0 };
        for &port in from {
            if let Some(r) = range(port, mode) {
                widest.min = widest.min.min(r.min);
                widest.max = widest.max.max(r.max);
            }
        }
        if widest.min > widest.max {
            widest.min = widest.max;
        }
        for &port in to {
            // SAFETY: our own registered port, inside JACK's latency callback.
            unsafe { j::jack_port_set_latency_range(port, mode, &mut widest) };
        }
        if capture {
            if let Some(r) = range(self.in_1, mode) {
                self.shared.capture.store(r.max, Ordering::Relaxed);
            }
        } else if let Some(r) = range(self.out_l, mode) {
            self.shared.playback.store(r.max, Ordering::Relaxed);
        }
    }
}

/// A port's latency range in one direction.
fn range(
    port: *mut j::jack_port_t,
    mode: j::jack_latency_callback_mode_t,
) -> Option<j::jack_latency_range_t> {
    if port.is_null() {
        return None;
    }
    let mut range = j::jack_latency_range_t { min: 0, max: 0 };
    // SAFETY: a port of our client, registered for as long as it is followed.
    unsafe { j::jack_port_get_latency_range(port, mode, &mut range) };
    Some(range)
}

unsafe extern "C" fn latency_callback(mode: j::jack_latency_callback_mode_t, arg: *mut c_void) {
    // SAFETY: `arg` is the backend's boxed `LatencyWatch`, which outlives the client.
    let watch = unsafe { &*(arg as *const LatencyWatch) };
    watch.on_latency(mode);
}

/// Have JACK call `watch` whenever the graph's latencies change (before
/// the client is first activated; it stays set across activations).
pub(super) fn install_latency_callback(client: &Client, watch: &mut Box<LatencyWatch>) -> Result<(), String> {
    let arg = &mut **watch as *mut LatencyWatch as *mut c_void;
    // SAFETY: the client is not active yet; `watch` is boxed and kept by the
    // backend until after the client is closed.
    let status = unsafe { j::jack_set_latency_callback(client.raw(), Some(latency_callback), arg) };
    if status == 0 {
        Ok(())
    } else {
        Err("JACK: cannot set the latency callback".into())
    }
}
