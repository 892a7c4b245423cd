//! The one place that creates the queues between threads.
//!
//! Every queue is a fixed-capacity single-producer single-consumer ring
//! created up front; a full queue drops the message and counts it.
//!
//! ```text
//!  each surface (keys, MIDI, OSC, …) ──StampedCommand──► its own ring ──► audio (AudioEnds)
//!  input callback ──mono frames──► ring ──────────────────► audio
//!  input callback ──CaptureStamp──► ring ─────────────────► audio (latency)
//!  control ◄──EngineSnapshot── ring ◄───────────────────── audio
//!  a surface ──raw MIDI──► ring ──────────────────────────► audio (midi_out port, frame 0)
//!  everyone ──► LiveStats (atomics)
//! ```
//!
//! Command timing: a producer stamps each command with the `Instant` it
//! happened. The audio side applies commands one block late, at a constant
//! latency: a command stamped `d` after the start of the previous block is
//! applied `d` (in frames) into the current block, clamped to the block. So
//! the spacing between commands is kept to the sample, whatever the block
//! size, at the cost of one block of delay.

use crate::engine::{Command, EngineSnapshot, TimedCommand};
use crate::io::latency::{CaptureStamp, LatencySource};
use crate::io::midi_out::{MidiOutSender, MidiPacket};
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Where a producing thread (MIDI input, screen, event scheduler) puts
/// commands for the engine. Implementations never block.
pub trait CommandSink: Send {
    /// Queue a command that happened at `at` (monotonic clock). Returns
    /// false when the queue was full and the command was dropped (and counted).
    fn send(&mut self, command: Command, at: Instant) -> bool;
}

/// A command with the moment it happened.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StampedCommand {
    pub command: Command,
    pub at: Instant,
}

/// Most command rings one bridge holds: one per registered surface. The
/// audio side's list is allocated for this many before audio starts.
pub const MAX_SURFACES: usize = 16;

/// Counters shared by every thread. Relaxed atomics: they are statistics,
/// never used to order other memory.
#[derive(Debug, Default)]
pub struct LiveStats {
    /// Commands dropped because their queue was full.
    pub dropped_commands: AtomicU64,
    /// Snapshots dropped because the screen did not read them in time.
    pub dropped_snapshots: AtomicU64,
    /// Buffer under/overruns reported by the audio host.
    pub xruns: AtomicU64,
    /// Times the output needed input frames that had not arrived (silence inserted).
    pub input_underruns: AtomicU64,
    /// Times input frames were thrown away: the ring was full, or it held
    /// far more than the target latency (the oldest were dropped).
    pub input_overruns: AtomicU64,
    /// Small clock-drift corrections between the input and output devices.
    pub drift_corrections: AtomicU64,
    /// Stream errors other than xruns (device lost, backend failure).
    pub stream_errors: AtomicU64,
    /// Output callbacks run.
    pub callbacks: AtomicU64,
    /// Frames rendered by the engine since the stream started.
    pub frames: AtomicU64,
    /// Time spent in the last output callback as a fraction of the block's
    /// duration, in tenths of a percent (1000 = 100 %).
    pub load_permille: AtomicU32,
    /// Highest `load_permille` since it was last reset by the reader.
    pub peak_load_permille: AtomicU32,
    /// Record-head latency compensation in use, frames.
    pub record_latency_frames: AtomicU32,
    /// Where that figure comes from ([`LatencySource::to_u8`]).
    pub latency_source: AtomicU8,
    /// Largest minus smallest reading of the last measurement, frames
    /// (`u32::MAX` when not measured): how much the timestamps jittered.
    pub latency_spread_frames: AtomicU32,
    /// Times the compensated latency was set or changed.
    pub latency_changes: AtomicU64,
    /// Callbacks that panicked (a bug): after the first the engine is
    /// silent and the session saves what it has (see `io::realtime`).
    pub engine_faults: AtomicU64,
    /// Cycles longer than the processor renders without allocating
    /// (`MAX_CHUNK`): played as silence.
    pub oversized_cycles: AtomicU64,
    /// MIDI out messages dropped: a cycle's list or the control side's
    /// queue was full, or a message was too long.
    pub midi_out_dropped: AtomicU64,
    /// MIDI in commands dropped: a cycle held more than the processor takes.
    pub midi_in_dropped: AtomicU64,
}

impl LiveStats {
    pub fn new() -> LiveStats {
        let stats = LiveStats::default();
        stats.latency_spread_frames.store(u32::MAX, Ordering::Relaxed);
        stats
    }

    /// The compensated round trip and where it comes from.
    pub fn record_latency(&self) -> (u32, LatencySource) {
        (
            self.record_latency_frames.load(Ordering::Relaxed),
            LatencySource::from_u8(self.latency_source.load(Ordering::Relaxed)),
        )
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The producing end of one command ring, owned by one surface.
pub struct CommandSender {
    ring: HeapProd<StampedCommand>,
    stats: Arc<LiveStats>,
    /// The surface that registered it ("keys", "midi", "osc").
    surface: &'static str,
}

impl CommandSender {
    /// The name the surface registered under.
    pub fn surface(&self) -> &'static str {
        self.surface
    }

    /// Queue a command that happens now.
    pub fn send_now(&mut self, command: Command) -> bool {
        self.send(command, Instant::now())
    }
}

impl CommandSink for CommandSender {
    fn send(&mut self, command: Command, at: Instant) -> bool {
        let sent = self.ring.try_push(StampedCommand { command, at }).is_ok();
        if !sent {
            LiveStats::add(&self.stats.dropped_commands, 1);
        }
        sent
    }
}

/// The screen's end of the snapshot ring.
pub struct SnapshotReceiver {
    ring: HeapCons<EngineSnapshot>,
}

impl SnapshotReceiver {
    /// The newest snapshot waiting, if any (older ones are discarded).
    pub fn latest(&mut self) -> Option<EngineSnapshot> {
        let mut latest = None;
        while let Some(s) = self.ring.try_pop() {
            latest = Some(s);
        }
        latest
    }
}

/// The input callback's end of the audio-input ring (mono frames), with
/// the capture time of each callback's first frame.
pub struct InputWriter {
    ring: HeapProd<f32>,
    stamps: HeapProd<CaptureStamp>,
    /// Frames pushed since the ring was made (the index of the next one).
    written: u64,
    stats: Arc<LiveStats>,
}

impl InputWriter {
    /// Queue frames whose first was captured at `captured_at`, in a
    /// callback the host called at `called_at`; those that do not fit are
    /// dropped and counted. Never blocks or allocates.
    pub fn write_captured(&mut self, frames: &[f32], captured_at: Instant, called_at: Instant) {
        // A full stamp ring only loses a stamp: the next one serves.
        let _ = self.stamps.try_push(CaptureStamp { first_frame: self.written, captured_at, called_at });
        self.write(frames);
    }

    /// Queue frames without a capture time.
    pub fn write(&mut self, frames: &[f32]) {
        let written = self.ring.push_slice(frames);
        self.written += written as u64;
        if written < frames.len() {
            LiveStats::add(&self.stats.input_overruns, 1);
        }
    }

    pub fn stats(&self) -> &LiveStats {
        &self.stats
    }
}

/// Everything the audio output callback owns.
pub struct AudioEnds {
    /// One ring per registered surface. Filled while the bridge is built,
    /// never grown once the ends move to the audio thread.
    commands: Vec<HeapCons<StampedCommand>>,
    snapshots: HeapProd<EngineSnapshot>,
    pub(crate) input: HeapCons<f32>,
    pub(crate) input_stamps: HeapCons<CaptureStamp>,
    /// Raw MIDI from the control side for the `midi_out` port.
    pub(crate) midi_out: HeapCons<MidiPacket>,
    stats: Arc<LiveStats>,
}

/// Capture stamps waiting between the input and output callbacks (one per
/// input callback; the output side reads them every block).
const INPUT_STAMPS: usize = 64;

/// Sizes of the queues, fixed when they are created.
#[derive(Clone, Copy, Debug)]
pub struct QueueSizes {
    /// Commands per producer ring.
    pub commands: usize,
    /// Snapshots waiting for the screen.
    pub snapshots: usize,
    /// Mono input frames between the input and output callbacks.
    pub input_frames: usize,
    /// Raw MIDI messages from the control side waiting for the next cycle.
    pub midi_out: usize,
}

impl Default for QueueSizes {
    fn default() -> Self {
        // 1024 commands is a burst of several seconds of dense MIDI; the
        // input ring holds about a second at 96 kHz.
        QueueSizes { commands: 1024, snapshots: 16, input_frames: 1 << 17, midi_out: 256 }
    }
}

/// All the queues, created together. Each end is moved to its thread.
/// Surfaces [`register`](Bridge::register) their command rings before
/// `audio` moves to the audio thread; moving it out ends registration (the
/// borrow checker then refuses `register`), so the ring count is fixed
/// before audio starts.
pub struct Bridge {
    sizes: QueueSizes,
    pub snapshots: SnapshotReceiver,
    pub input: InputWriter,
    pub audio: AudioEnds,
    pub stats: Arc<LiveStats>,
    /// The control side's end of the MIDI out queue, until a component
    /// takes it ([`Bridge::take_midi_out`]).
    midi_out: Option<MidiOutSender>,
}

impl Bridge {
    pub fn new(sizes: QueueSizes) -> Bridge {
        let stats = Arc::new(LiveStats::new());
        let (snap_p, snap_c) = HeapRb::new(sizes.snapshots.max(1)).split();
        let (in_p, in_c) = HeapRb::new(sizes.input_frames.max(1)).split();
        let (stamp_p, stamp_c) = HeapRb::new(INPUT_STAMPS).split();
        let (midi_p, midi_c) = HeapRb::new(sizes.midi_out.max(1)).split();
        Bridge {
            sizes,
            snapshots: SnapshotReceiver { ring: snap_c },
            input: InputWriter { ring: in_p, stamps: stamp_p, written: 0, stats: stats.clone() },
            audio: AudioEnds {
                commands: Vec::with_capacity(MAX_SURFACES),
                snapshots: snap_p,
                input: in_c,
                input_stamps: stamp_c,
                midi_out: midi_c,
                stats: stats.clone(),
            },
            midi_out: Some(MidiOutSender { ring: midi_p, stats: stats.clone() }),
            stats,
        }
    }

    /// A command ring of its own for one surface (single producer). The
    /// audio side drains the rings in registration order each block. `None`
    /// once [`MAX_SURFACES`] are registered.
    pub fn register(&mut self, surface: &'static str) -> Option<CommandSender> {
        if self.audio.commands.len() >= MAX_SURFACES {
            return None;
        }
        let (ring, consumer) = HeapRb::<StampedCommand>::new(self.sizes.commands.max(1)).split();
        self.audio.commands.push(consumer);
        Some(CommandSender { ring, stats: self.stats.clone(), surface })
    }

    /// The one producer of raw MIDI for the `midi_out` port (LED feedback
    /// from a surface); `None` once taken.
    pub fn take_midi_out(&mut self) -> Option<MidiOutSender> {
        self.midi_out.take()
    }

    /// Rings registered so far.
    pub fn surfaces(&self) -> usize {
        self.audio.commands.len()
    }
}

/// Frame offset, within the block being rendered, of a command stamped `at`:
/// its time since the start of the previous block, in frames, clamped to
/// the block. Commands stamped before the previous block start apply at 0.
pub fn command_offset(at: Instant, previous_block_start: Instant, sample_rate: f64, frames: usize) -> u32 {
    let late = at.saturating_duration_since(previous_block_start);
    let offset = (late.as_secs_f64() * sample_rate) as u64;
    offset.min(frames.saturating_sub(1) as u64) as u32
}

impl AudioEnds {
    pub fn stats(&self) -> &Arc<LiveStats> {
        &self.stats
    }

    /// Pop every queued command into `out` (up to its length), converting
    /// stamps to offsets in this block (see [`command_offset`]), sorted by
    /// offset. Commands beyond `out`'s capacity stay queued for the next
    /// block. Returns how many were written. Never allocates.
    pub fn pop_commands(
        &mut self,
        out: &mut [TimedCommand],
        previous_block_start: Instant,
        sample_rate: f64,
        frames: usize,
    ) -> usize {
        let mut n = 0;
        for ring in &mut self.commands {
            while n < out.len() {
                let Some(c) = ring.try_pop() else { break };
                let offset = command_offset(c.at, previous_block_start, sample_rate, frames);
                out[n] = TimedCommand { offset, command: c.command };
                n += 1;
            }
        }
        // Stable insertion sort: small n, no allocation, keeps each source's order.
        for i in 1..n {
            let mut j = i;
            while j > 0 && out[j - 1].offset > out[j].offset {
                out.swap(j - 1, j);
                j -= 1;
            }
        }
        n
    }

    /// Offer a snapshot to the screen; dropped (and counted) when it lags.
    pub fn push_snapshot(&mut self, snapshot: EngineSnapshot) {
        if self.snapshots.try_push(snapshot).is_err() {
            LiveStats::add(&self.stats.dropped_snapshots, 1);
        }
    }

    /// Frames waiting in the input ring.
    pub fn input_available(&self) -> usize {
        self.input.occupied_len()
    }
}
