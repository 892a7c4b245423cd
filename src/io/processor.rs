//! What runs inside the audio callback: the one wrapper around
//! `Engine::process`, with two entry points that share everything (commands,
//! score, take feed, tape copier, snapshots, statistics, the fault guard):
//! [`LiveProcessor::render`] fills an interleaved buffer (cpal's output
//! callback; the input comes from the ring its input callback fills), and
//! [`LiveProcessor::render_cycle`] renders one cycle of planar buffers with
//! its input and MIDI given (the native JACK client's one process callback).
//! Everything it touches was allocated in [`LiveProcessor::new`]; per block
//! it pops commands into a fixed array, renders, publishes a snapshot now
//! and then, and updates the statistics. No allocation, lock, print or
//! system call (`Instant::now` reads the vDSO clock on Linux).

use super::handoff::Handoff;
use super::input_sync::InputSync;
use super::latency::{LatencyTracker, OutputTimes};
use super::midi_out::MidiOut;
use super::realtime;
use crate::bridge::{AudioEnds, CommandSink, LiveStats};
use crate::engine::{Command, Engine, TimedCommand};
use crate::midi_map::MidiRouter;
use crate::session::TapeCopier;
use crate::sync::ClockFeed;
use crate::take::TakeFeed;
use cpal::{FromSample, Sample};
use ringbuf::traits::Consumer;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most commands applied in one block; more wait for the next block.
pub const MAX_COMMANDS_PER_BLOCK: usize = 256;
/// Largest callback the live backends ask for, frames.
pub const MAX_CHUNK: usize = 8192;
/// Snapshots for the screen per second.
const SNAPSHOTS_PER_S: f64 = 30.0;
/// How long the engine waits for the input stream before starting without it.
const INPUT_WAIT_S: f64 = 0.5;

/// Fills the command array before any command is popped into it.
const PLACEHOLDER: Command = Command::Track { track: 0, action: crate::engine::TrackAction::Play };

pub struct LiveProcessor {
    engine: Box<Engine>,
    ends: AudioEnds,
    /// The bridge's counters, held here so the callback never touches the
    /// `Arc`'s reference count.
    stats: Arc<LiveStats>,
    sample_rate: f64,
    left: Vec<f32>,
    right: Vec<f32>,
    input: Vec<f32>,
    timed: Vec<TimedCommand>,
    /// Events to play, at frames counted from the engine's start.
    score: Vec<(u64, Command)>,
    next_event: usize,
    input_sync: InputSync,
    has_input: bool,
    latency: LatencyTracker,
    /// Whether the engine has started running (input primed and measured, or given up).
    started: bool,
    waited_frames: u64,
    /// Frames rendered since the engine started.
    frames: u64,
    previous_block_start: Option<Instant>,
    since_snapshot: usize,
    snapshot_every: usize,
    /// The take recorder's audio end: every applied command and every block.
    take: Option<TakeFeed>,
    /// Copies the tapes out for autosaves, a bounded slice per block.
    copier: Option<TapeCopier>,
    /// The grid for the MIDI clock thread (clock out on ALSA, CoreMIDI).
    clock_out: Option<ClockFeed>,
    /// A callback panicked: the engine's state is no longer trusted, so
    /// it is not run again and the output stays silent.
    faulted: bool,
    /// Panic in the next callback: how the fault path is tested.
    fail_next: bool,
    /// The MIDI router of the run, when MIDI arrives inside the callback
    /// ([`Self::render_cycle`]); the MIDI surface puts it in the slot.
    midi_router: Option<Arc<Handoff<MidiRouter>>>,
    /// The commands MIDI made this cycle, at their frame in the cycle.
    cycle_midi: Vec<TimedCommand>,
    cycle_midi_len: usize,
    /// MIDI clock out at exact frames into `midi_out` (the native JACK client).
    frame_clock: Option<crate::sync::ClockOut>,
    /// Follows the JACK transport when the patch syncs to it.
    transport: Option<crate::sync::transport::TransportFollower>,
    /// This cycle's MIDI out events.
    midi_out: MidiOut,
}

/// One cycle's planar outputs for [`LiveProcessor::render_cycle`]: the mix
/// and, for as many tracks as it has slices, each track's stem. Every
/// slice is as long as the cycle.
pub struct PlanarOut<'a, 'b> {
    pub left: &'a mut [f32],
    pub right: &'a mut [f32],
    pub tracks: &'a mut [&'b mut [f32]],
}

/// Records what the router sends at the frame of the event being fed.
struct CycleSink<'a> {
    timed: &'a mut [TimedCommand],
    len: usize,
    offset: u32,
    dropped: u64,
}

impl CommandSink for CycleSink<'_> {
    fn send(&mut self, command: Command, _at: Instant) -> bool {
        if self.len >= self.timed.len() {
            self.dropped += 1;
            return false;
        }
        self.timed[self.len] = TimedCommand { offset: self.offset, command };
        self.len += 1;
        true
    }
}

impl LiveProcessor {
    /// Everything allocated here, off the audio thread. `block` is the
    /// usual callback size; the input ring is kept four blocks full.
    /// Callbacks of any length up to [`MAX_CHUNK`] are rendered in pieces
    /// of at most the engine's prepared block, so stems are always whole.
    /// `fixed_latency`: frames to compensate instead of measuring.
    pub fn new(
        engine: Box<Engine>,
        ends: AudioEnds,
        score: Vec<(u64, Command)>,
        block: usize,
        has_input: bool,
        fixed_latency: Option<u32>,
    ) -> LiveProcessor {
        let sample_rate = engine.sample_rate();
        let chunk = engine.max_block();
        let engine_sync = engine.config().sync;
        LiveProcessor {
            engine,
            stats: ends.stats().clone(),
            ends,
            sample_rate,
            left: vec![0.0; chunk],
            right: vec![0.0; chunk],
            input: vec![0.0; chunk],
            timed: vec![TimedCommand { offset: 0, command: PLACEHOLDER }; MAX_COMMANDS_PER_BLOCK],
            score,
            next_event: 0,
            input_sync: InputSync::new(4 * block.max(64), block, sample_rate),
            has_input,
            latency: LatencyTracker::new(fixed_latency),
            started: false,
            waited_frames: 0,
            frames: 0,
            previous_block_start: None,
            since_snapshot: 0,
            snapshot_every: (sample_rate / SNAPSHOTS_PER_S) as usize,
            take: None,
            copier: None,
            clock_out: None,
            faulted: false,
            fail_next: false,
            midi_router: None,
            cycle_midi: vec![TimedCommand { offset: 0, command: PLACEHOLDER }; MAX_COMMANDS_PER_BLOCK],
            cycle_midi_len: 0,
            frame_clock: None,
            transport: (engine_sync.source == crate::engine::SyncSource::Jack)
                .then(|| crate::sync::transport::TransportFollower::new(sample_rate, engine_sync.tempo_bpm)),
            midi_out: MidiOut::default(),
        }
    }

    /// Route MIDI inside the callback with the router the slot holds (see
    /// [`Self::render_cycle`]); an empty slot ignores MIDI.
    pub fn with_midi_router(mut self, slot: Arc<Handoff<MidiRouter>>) -> LiveProcessor {
        self.midi_router = Some(slot);
        self
    }

    /// This cycle's MIDI out events, written to the `midi_out` port after
    /// the cycle is rendered (the native JACK client). Cleared at the start
    /// of every cycle, when the control side's messages go in at frame 0.
    pub fn midi_out_mut(&mut self) -> &mut MidiOut {
        &mut self.midi_out
    }

    /// Feed the take recorder from this processor. Its journal's frame 0 is
    /// the engine's frame 0, so give it a feed spawned for this engine
    /// before the first block.
    pub fn with_take(mut self, feed: TakeFeed) -> LiveProcessor {
        self.take = Some(feed);
        self
    }

    /// Send the grid to a MIDI clock thread ([`crate::sync::ClockThread`])
    /// after each block, mapped to when the block's end is heard.
    pub fn with_clock_out(mut self, feed: ClockFeed) -> LiveProcessor {
        self.clock_out = Some(feed);
        self
    }

    /// Send MIDI clock from the grid at exact frames, with the cycle's MIDI
    /// out (the native JACK client's `midi_out`).
    pub fn with_frame_clock_out(mut self) -> LiveProcessor {
        self.frame_clock = Some(crate::sync::ClockOut::new());
        self
    }

    /// Copy tapes out for autosaves (see [`crate::session::tape_mirror`]).
    pub fn with_copier(mut self, copier: TapeCopier) -> LiveProcessor {
        self.copier = Some(copier);
        self
    }

    /// Frames the engine has rendered since it started.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// After the stream has stopped (off the audio thread): deliver a take
    /// stop requested on the [`crate::take::TakeHandle`] and send the
    /// partly filled block, so the writer holds every frame rendered.
    pub fn flush_take(&mut self) {
        if let Some(feed) = self.take.as_mut() {
            feed.push(self.frames, &[], &[], &[], |_| &[][..]);
            feed.flush();
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    pub fn stats(&self) -> &LiveStats {
        self.ends.stats()
    }

    pub fn stats_arc(&self) -> Arc<LiveStats> {
        self.ends.stats().clone()
    }

    /// Whether the engine has started (the events' time zero has passed).
    pub fn started(&self) -> bool {
        self.started
    }

    /// The input stream is about to start again (the device was reopened),
    /// with or without an input. Call off the audio thread, while the stream
    /// is stopped: stale frames are dropped, the input primes afresh and the
    /// round trip is measured again once it runs.
    pub fn restart_input(&mut self, has_input: bool) {
        let stale = self.ends.input.clear();
        self.latency.skipped(stale);
        self.input_sync.restart();
        self.has_input = has_input;
        self.latency.restart();
    }

    /// The wrapper around `Engine::process`: fill an interleaved output
    /// buffer of `channels` channels. `times`: when the host called it and
    /// will play its first frame, when it says.
    /// Runs inside [`realtime::callback`]: allocation is forbidden, and a
    /// panic leaves silence and a counted fault instead of unwinding into
    /// the host.
    pub fn render<T: Sample + FromSample<f32>>(
        &mut self,
        data: &mut [T],
        channels: usize,
        times: Option<OutputTimes>,
    ) {
        let channels = channels.max(1);
        let frames = data.len() / channels;
        let ran = self.guarded(|p| {
            // Only the native JACK client has a MIDI out port.
            p.midi_out.clear();
            p.render_frames(frames, times, None, |done, left, right, _| {
                let out = &mut data[done * channels..(done + left.len()) * channels];
                for (frame, (&l, &r)) in out.chunks_exact_mut(channels).zip(left.iter().zip(right)) {
                    if channels == 1 {
                        frame[0] = T::from_sample(0.5 * (l + r));
                    } else {
                        frame[0] = T::from_sample(l);
                        frame[1] = T::from_sample(r);
                        for s in &mut frame[2..] {
                            *s = T::EQUILIBRIUM;
                        }
                    }
                }
            })
        });
        if !ran {
            data.fill(T::EQUILIBRIUM);
        }
    }

    /// One cycle of the native JACK client, planar: `input` is the mono
    /// signal for the record heads (read from the input ports this same
    /// cycle: no ring, no input sync), `out` the mix and the track stems to
    /// fill, `midi` the cycle's MIDI input events (frame in the cycle, bytes)
    /// in frame order, `port_latency` the round trip from the ports' latency
    /// ranges when known. Each MIDI event goes through the run's router
    /// here, and what it commands acts at the event's own frame of this
    /// cycle. Before rendering, the control side's MIDI out messages go
    /// into [`Self::midi_out_mut`] at frame 0. The same guard as
    /// [`Self::render`]: silence and a counted fault after a panic.
    pub fn render_cycle<'m>(
        &mut self,
        input: Option<&[f32]>,
        out: PlanarOut<'_, '_>,
        midi: impl IntoIterator<Item = (u32, &'m [u8])>,
        port_latency: Option<u32>,
        transport: Option<crate::sync::transport::TransportPosition>,
    ) {
        let PlanarOut { left, right, tracks } = out;
        let frames = left.len().min(right.len());
        let ran = self.guarded(|p| {
            if let Some(frames) = port_latency {
                p.latency.reported(frames);
            }
            p.route_cycle_midi(midi, frames);
            p.follow_transport(transport, frames);
            p.midi_out.clear();
            while let Some(packet) = p.ends.midi_out.try_pop() {
                p.midi_out.push(0, packet.bytes());
            }
            let input = input.filter(|_| p.has_input).map(|x| &x[..frames.min(x.len())]);
            p.render_frames(frames, None, input, |done, l, r, engine| {
                let n = l.len();
                left[done..done + n].copy_from_slice(l);
                right[done..done + n].copy_from_slice(r);
                for (track, stem_out) in tracks.iter_mut().enumerate() {
                    let to = &mut stem_out[done..done + n];
                    let stem = if track < engine.track_count() { engine.stem(track, n) } else { &[][..] };
                    if stem.len() == n {
                        to.copy_from_slice(stem);
                    } else {
                        to.fill(0.0);
                    }
                }
            });
            let dropped = p.midi_out.take_dropped();
            if dropped > 0 {
                LiveStats::add(&p.stats.midi_out_dropped, dropped);
            }
        });
        if !ran {
            left.fill(0.0);
            right.fill(0.0);
            for track in tracks.iter_mut() {
                track.fill(0.0);
            }
            self.midi_out.clear();
        }
    }

    /// Run `work` inside [`realtime::callback`] unless a callback has
    /// faulted; after a panic, count it and never run the engine again.
    /// Whether it ran to the end (false: output silence).
    fn guarded(&mut self, work: impl FnOnce(&mut Self)) -> bool {
        if !self.faulted && realtime::callback(|| work(self)).is_none() {
            self.faulted = true;
            LiveStats::add(&self.stats.engine_faults, 1);
        }
        !self.faulted
    }

    /// The cycle's MIDI events through the router, into `cycle_midi` at
    /// their frames (clamped to the cycle). An empty slot drops them.
    fn route_cycle_midi<'m>(&mut self, midi: impl IntoIterator<Item = (u32, &'m [u8])>, frames: usize) {
        self.cycle_midi_len = 0;
        let Some(slot) = self.midi_router.as_ref() else { return };
        // When the cycle's events arrived: during the previous period.
        let now = Instant::now();
        let period = Duration::from_secs_f64(frames as f64 / self.sample_rate);
        let began = now.checked_sub(period).unwrap_or(now);
        let last = frames.saturating_sub(1) as u32;
        let mut sink = CycleSink { timed: &mut self.cycle_midi, len: 0, offset: 0, dropped: 0 };
        let rate = self.sample_rate;
        // A followed MIDI clock counts in the engine's frames: the frame an
        // event is applied at is the frame its tick was heard at.
        let first = self.frames;
        slot.with(|router| {
            for (offset, bytes) in midi {
                sink.offset = offset.min(last);
                let at = began + Duration::from_secs_f64(f64::from(sink.offset) / rate);
                router.feed_at_frame(bytes, (first + u64::from(sink.offset)) as f64, at, &mut sink);
            }
            sink.offset = 0;
            router.poll_clock_at_frame(first as f64, began, &mut sink);
        });
        self.cycle_midi_len = sink.len;
        if sink.dropped > 0 {
            LiveStats::add(&self.stats.midi_in_dropped, sink.dropped);
        }
    }

    /// Where the JACK transport stands at this cycle's start, when the patch
    /// follows it: a start, stop, relocate or new tempo is a grid command at
    /// the cycle's first frame, ahead of the cycle's MIDI.
    fn follow_transport(
        &mut self,
        position: Option<crate::sync::transport::TransportPosition>,
        frames: usize,
    ) {
        let (Some(follower), Some(position)) = (self.transport.as_mut(), position) else { return };
        let Some(grid) = follower.cycle(position, frames as u32) else { return };
        let len = self.cycle_midi_len.min(self.cycle_midi.len() - 1);
        self.cycle_midi.copy_within(0..len, 1);
        self.cycle_midi[0] = TimedCommand { offset: 0, command: Command::Grid(grid) };
        self.cycle_midi_len = len + 1;
    }

    /// Whether a callback panicked (the engine no longer runs).
    pub fn faulted(&self) -> bool {
        self.faulted
    }

    /// Make the next callback panic, as a bug in it would.
    #[doc(hidden)]
    pub fn fail_next_callback(&mut self) {
        self.fail_next = true;
    }

    /// Render `frames` frames in pieces of at most the engine's block,
    /// handing each piece's mix (and the engine, for its stems) to `write`
    /// with the frame it starts at. `input`: the cycle's input, given
    /// directly (else it comes from the ring).
    fn render_frames(
        &mut self,
        frames: usize,
        times: Option<OutputTimes>,
        input: Option<&[f32]>,
        mut write: impl FnMut(usize, &[f32], &[f32], &Engine),
    ) {
        if std::mem::take(&mut self.fail_next) {
            panic!("a deliberate fault in the audio callback");
        }
        let began = Instant::now();
        let block_start = self.previous_block_start.replace(began).unwrap_or(began);
        let OutputTimes { called_at, plays_at } =
            times.unwrap_or(OutputTimes { called_at: began, plays_at: began });
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(self.left.len());
            let offset = Duration::from_secs_f64(done as f64 / self.sample_rate);
            let given = input.map(|x| x.get(done..done + n).unwrap_or(&[]));
            self.render_chunk(n, done, given, block_start + offset, called_at, plays_at + offset);
            write(done, &self.left[..n], &self.right[..n], &self.engine);
            done += n;
        }
        let stats = self.ends.stats();
        LiveStats::add(&stats.callbacks, 1);
        if frames > 0 {
            let spent = began.elapsed().as_secs_f64();
            let permille = (1000.0 * spent * self.sample_rate / frames as f64) as u32;
            stats.load_permille.store(permille, Ordering::Relaxed);
            stats.peak_load_permille.fetch_max(permille, Ordering::Relaxed);
        }
    }

    /// One piece of a callback, starting `at` frames into it:
    /// `previous_block_start` places the commands that arrived, `plays_at`
    /// is when its first frame will be heard; `given` is its input when the
    /// callback has it directly.
    fn render_chunk(
        &mut self,
        n: usize,
        at: usize,
        given: Option<&[f32]>,
        previous_block_start: Instant,
        called_at: Instant,
        plays_at: Instant,
    ) {
        self.latency.note_output(called_at, plays_at, n);
        let mut took_input = false;
        if !self.started {
            self.take_input(n, given);
            took_input = true;
            if !self.try_start(n) {
                self.left[..n].fill(0.0);
                self.right[..n].fill(0.0);
                return;
            }
        }
        // A latency change goes first, at the block's first frame.
        let writing = self.engine.heads_writing();
        let reserved = usize::from(self.latency.has_pending(writing));
        let mut count = reserved
            + self.ends.pop_commands(&mut self.timed[reserved..], previous_block_start, self.sample_rate, n);
        if let Some(frames) = self.latency.take_pending(writing) {
            self.timed[0] = TimedCommand { offset: 0, command: Command::RecordLatency { frames } };
            self.publish_latency(frames);
        }
        while count < self.timed.len() && self.next_event < self.score.len() {
            let (event_at, command) = self.score[self.next_event];
            if event_at >= self.frames + n as u64 {
                break;
            }
            let offset = event_at.saturating_sub(self.frames) as u32;
            insert_sorted(&mut self.timed, &mut count, TimedCommand { offset, command });
            self.next_event += 1;
        }
        // MIDI of this cycle at its own frames (already in frame order).
        let (from, to) = (at as u32, (at + n) as u32);
        for timed in &self.cycle_midi[..self.cycle_midi_len] {
            if timed.offset < from || timed.offset >= to {
                continue;
            }
            if count >= self.timed.len() {
                LiveStats::add(&self.stats.midi_in_dropped, 1);
                continue;
            }
            let command = TimedCommand { offset: timed.offset - from, command: timed.command };
            insert_sorted(&mut self.timed, &mut count, command);
        }
        if !took_input {
            self.take_input(n, given);
        }
        if let Some(feed) = self.take.as_mut() {
            // The exact frame each command is applied at (offsets are
            // clamped to the block the way the engine clamps them).
            let last = n.saturating_sub(1) as u64;
            for timed in &self.timed[..count] {
                feed.log(self.frames + u64::from(timed.offset).min(last), timed.command);
            }
        }
        let input = if self.has_input { &self.input[..n] } else { &[][..] };
        self.engine.process(input, &mut self.left[..n], &mut self.right[..n], &self.timed[..count]);
        if let Some(feed) = self.take.as_mut() {
            self.engine.drain_acted(|a| feed.acted(a.frame, a.track, a.action));
            let engine = &self.engine;
            feed.push(self.frames, input, &self.left[..n], &self.right[..n], |t| engine.stem(t, n));
        }
        if let Some(copier) = self.copier.as_mut() {
            copier.step(&self.engine);
        }
        if let Some(clock) = self.frame_clock.as_mut() {
            let grid = self.engine.grid();
            let (midi_out, base) = (&mut self.midi_out, at as u32);
            clock.process(&grid, self.frames, n as u32, |offset, byte| {
                midi_out.push(base + offset, &[byte]);
            });
        }
        if let Some(feed) = self.clock_out.as_mut() {
            // The grid's picture is of the block's end, heard n frames after `plays_at`.
            let grid = self.engine.grid();
            let heard = plays_at + Duration::from_secs_f64(n as f64 / self.sample_rate);
            feed.update(&grid, self.sample_rate, grid.frame, heard);
        }
        self.frames += n as u64;
        self.stats.frames.store(self.frames, Ordering::Relaxed);
        self.since_snapshot += n;
        if self.since_snapshot >= self.snapshot_every {
            self.since_snapshot = 0;
            let snapshot = self.engine.snapshot();
            self.ends.push_snapshot(snapshot);
        }
    }

    /// Read this block's input into `self.input` (the given frames, else
    /// the ring's) and follow the round trip.
    fn take_input(&mut self, n: usize, given: Option<&[f32]>) {
        if !self.has_input {
            return;
        }
        if let Some(given) = given {
            let k = given.len().min(n);
            self.input[..k].copy_from_slice(&given[..k]);
            self.input[k..n].fill(0.0);
            return;
        }
        let first = self.latency.next_frame();
        let read = self.input_sync.read(&mut self.ends.input, &mut self.input[..n], &self.stats);
        self.latency.after_read(read, first, &mut self.ends.input_stamps, self.sample_rate);
    }

    fn publish_latency(&self, frames: u32) {
        let stats = &self.stats;
        stats.record_latency_frames.store(frames, Ordering::Relaxed);
        stats.latency_source.store(self.latency.source().to_u8(), Ordering::Relaxed);
        if let Some(spread) = self.latency.spread() {
            stats.latency_spread_frames.store(spread.round() as u32, Ordering::Relaxed);
        }
        LiveStats::add(&stats.latency_changes, 1);
    }

    /// Start once the input has primed and the round trip is measured (or
    /// there is no input, or it has not come within `INPUT_WAIT_S`); the
    /// first block carries the latency as its first command.
    fn try_start(&mut self, n: usize) -> bool {
        self.waited_frames += n as u64;
        let gave_up = self.waited_frames as f64 > INPUT_WAIT_S * self.sample_rate;
        self.started = self.latency.ready_to_start(self.has_input, gave_up);
        self.started
    }
}

/// Put `command` into `timed[..count]`, kept sorted by offset: it goes after
/// commands at or before its frame.
fn insert_sorted(timed: &mut [TimedCommand], count: &mut usize, command: TimedCommand) {
    let mut j = *count;
    while j > 0 && timed[j - 1].offset > command.offset {
        timed[j] = timed[j - 1];
        j -= 1;
    }
    timed[j] = command;
    *count += 1;
}
