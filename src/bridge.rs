//! The one place that creates the queues between threads.
//!
//! Every queue is a fixed-capacity single-producer single-consumer ring
//! created up front; a full queue drops the message and counts it.
//!
//! ```text
//!  screen / MIDI / scheduler ──StampedCommand──► 3 rings ──► audio (AudioEnds)
//!  input callback ──mono frames──► ring ──────────────────► audio
//!  control ◄──EngineSnapshot── ring ◄───────────────────── audio
//!  loader ──Box<Engine>──► ring ──► audio swaps ──► return ring ──► dropped off-thread
//!  everyone ──► LiveStats (atomics)
//! ```
//!
//! Command timing: a producer stamps each command with the `Instant` it
//! happened. The audio side applies commands one block late, at a constant
//! latency: a command stamped `d` after the start of the previous block is
//! applied `d` (in frames) into the current block, clamped to the block. So
//! the spacing between commands is kept to the sample, whatever the block
//! size, at the cost of one block of delay.

use crate::engine::{Command, Engine, EngineSnapshot, TimedCommand};
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Commands from one producer per ring (the rings are single-producer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandSource {
    Screen = 0,
    Midi = 1,
    Scheduler = 2,
}

/// Number of command producers, one ring each.
pub const COMMAND_SOURCES: usize = 3;

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
    /// Output latency reported by the host (callback to speaker), frames.
    pub output_latency_frames: AtomicU32,
    /// Input latency reported by the host (microphone to callback), frames;
    /// `u32::MAX` until the input stream reported one.
    pub input_latency_frames: AtomicU32,
    /// Record-head latency compensation in use, frames.
    pub record_latency_frames: AtomicU32,
    /// Engines swapped in by the loader.
    pub engine_swaps: AtomicU64,
}

impl LiveStats {
    pub fn new() -> LiveStats {
        let stats = LiveStats::default();
        stats.input_latency_frames.store(u32::MAX, Ordering::Relaxed);
        stats
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The producing end of one command ring.
pub struct CommandSender {
    ring: HeapProd<StampedCommand>,
    stats: Arc<LiveStats>,
}

impl CommandSender {
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

/// The input callback's end of the audio-input ring (mono frames).
pub struct InputWriter {
    ring: HeapProd<f32>,
    stats: Arc<LiveStats>,
}

impl InputWriter {
    /// Queue captured frames; those that do not fit are dropped and counted.
    /// Never blocks or allocates.
    pub fn write(&mut self, frames: &[f32]) {
        let written = self.ring.push_slice(frames);
        if written < frames.len() {
            LiveStats::add(&self.stats.input_overruns, 1);
        }
    }

    pub fn stats(&self) -> &LiveStats {
        &self.stats
    }
}

/// The loader's side of the engine swap: send a new engine (built off the
/// audio thread), get the replaced one back to drop here.
pub struct EngineLoader {
    outgoing: HeapProd<Box<Engine>>,
    returned: HeapCons<Box<Engine>>,
}

impl EngineLoader {
    /// Hand an engine to the audio thread. Gives it back if one is already
    /// waiting. An engine prepared for another sample rate is refused (it
    /// comes back through [`EngineLoader::collect`]).
    pub fn send(&mut self, engine: Box<Engine>) -> Result<(), Box<Engine>> {
        self.outgoing.try_push(engine)
    }

    /// Engines the audio thread is done with (replaced, or refused as
    /// unsuitable). Dropping them here frees their memory off the audio thread.
    pub fn collect(&mut self) -> Vec<Box<Engine>> {
        let mut engines = Vec::new();
        while let Some(e) = self.returned.try_pop() {
            engines.push(e);
        }
        engines
    }

    /// Wait up to `timeout` for the audio thread to hand back an engine.
    pub fn wait_returned(&mut self, timeout: Duration) -> Option<Box<Engine>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.returned.try_pop() {
                return Some(e);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Everything the audio output callback owns.
pub struct AudioEnds {
    commands: [HeapCons<StampedCommand>; COMMAND_SOURCES],
    snapshots: HeapProd<EngineSnapshot>,
    pub(crate) input: HeapCons<f32>,
    engines_in: HeapCons<Box<Engine>>,
    engines_back: HeapProd<Box<Engine>>,
    stats: Arc<LiveStats>,
}

/// Sizes of the queues, fixed when they are created.
#[derive(Clone, Copy, Debug)]
pub struct QueueSizes {
    /// Commands per producer ring.
    pub commands: usize,
    /// Snapshots waiting for the screen.
    pub snapshots: usize,
    /// Mono input frames between the input and output callbacks.
    pub input_frames: usize,
}

impl Default for QueueSizes {
    fn default() -> Self {
        // 1024 commands is a burst of several seconds of dense MIDI; the
        // input ring holds about a second at 96 kHz.
        QueueSizes { commands: 1024, snapshots: 16, input_frames: 1 << 17 }
    }
}

/// All the queues, created together. Each end is moved to its thread.
pub struct Bridge {
    pub screen: CommandSender,
    pub midi: CommandSender,
    pub scheduler: CommandSender,
    pub snapshots: SnapshotReceiver,
    pub input: InputWriter,
    pub loader: EngineLoader,
    pub audio: AudioEnds,
    pub stats: Arc<LiveStats>,
}

impl Bridge {
    pub fn new(sizes: QueueSizes) -> Bridge {
        let stats = Arc::new(LiveStats::new());
        let sender = || {
            let (p, c) = HeapRb::<StampedCommand>::new(sizes.commands.max(1)).split();
            (CommandSender { ring: p, stats: stats.clone() }, c)
        };
        let (screen, c0) = sender();
        let (midi, c1) = sender();
        let (scheduler, c2) = sender();
        let (snap_p, snap_c) = HeapRb::new(sizes.snapshots.max(1)).split();
        let (in_p, in_c) = HeapRb::new(sizes.input_frames.max(1)).split();
        let (load_p, load_c) = HeapRb::new(1).split();
        // Room for the current engine and one refused: the audio side only
        // takes a new engine when it can give one back without blocking.
        let (back_p, back_c) = HeapRb::new(2).split();
        Bridge {
            screen,
            midi,
            scheduler,
            snapshots: SnapshotReceiver { ring: snap_c },
            input: InputWriter { ring: in_p, stats: stats.clone() },
            loader: EngineLoader { outgoing: load_p, returned: back_c },
            audio: AudioEnds {
                commands: [c0, c1, c2],
                snapshots: snap_p,
                input: in_c,
                engines_in: load_c,
                engines_back: back_p,
                stats: stats.clone(),
            },
            stats,
        }
    }

    /// The sender for one source.
    pub fn sender(&mut self, source: CommandSource) -> &mut CommandSender {
        match source {
            CommandSource::Screen => &mut self.screen,
            CommandSource::Midi => &mut self.midi,
            CommandSource::Scheduler => &mut self.scheduler,
        }
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

    /// If the loader sent an engine that fits (same sample rate), swap it in and send the old one back; an engine
    /// that does not fit goes straight back. Moves two pointers: no
    /// allocation or freeing here.
    pub fn swap_engine(&mut self, current: &mut Box<Engine>) -> bool {
        if self.engines_back.vacant_len() == 0 {
            return false;
        }
        let Some(mut incoming) = self.engines_in.try_pop() else { return false };
        // Any block size works (the engine splits long blocks); the rate must match.
        let fits = incoming.sample_rate() == current.sample_rate();
        if fits {
            std::mem::swap(current, &mut incoming);
            LiveStats::add(&self.stats.engine_swaps, 1);
        }
        // Cannot fail: there was a vacant slot and only this thread pushes.
        let _ = self.engines_back.try_push(incoming);
        fits
    }

    /// Frames waiting in the input ring.
    pub fn input_available(&self) -> usize {
        self.input.occupied_len()
    }
}
