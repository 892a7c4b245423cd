//! The take recorder: everything the engine hears and plays goes to disk on
//! a writer thread, so a performance is never lost.
//!
//! The audio callback owns a [`TakeFeed`]. Each block it calls
//! [`TakeFeed::log`] for every command it applied (at the absolute frame it
//! applied it) and then [`TakeFeed::push`] with the block's input, mix and
//! stems. Both only copy into preallocated blocks and lock-free queues; a full
//! queue drops the block and counts it, so the audio side never waits.
//!
//! The writer thread keeps a *session journal* (every input frame and every
//! command since the engine was built, plus the patch and tapes it started
//! with) and, while a take runs, the take's own files. Because the journal
//! starts where the engine started, a take is re-rendered exactly by
//! replaying the journal up to the take's end and keeping the take's frames
//! (see [`folder::render_take`]).
//!
//! The control side holds a [`TakeHandle`]: start, stop, always-on, status.

pub mod demo;
pub mod folder;
pub mod journal;
pub mod segment;
mod stream;
mod writer;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use crate::engine::{Command, Param};
use crate::patch::Patch;

pub use folder::{render_take, TakeInfo, TakeRender, TAKE_FILE};

/// Frames in one block handed to the writer (21 ms at 48 kHz).
pub const BLOCK_FRAMES: usize = 1024;
/// Seconds of audio the queue between the callback and the writer can hold
/// before blocks are dropped: covers a slow disk stalling for that long.
pub const DEFAULT_QUEUE_SECONDS: f64 = 4.0;
/// Commands the control-log queue holds between two writer wake-ups.
pub const EVENT_QUEUE: usize = 8192;

/// Channels of a block before the stems: input, left, right.
const FIXED_CHANNELS: usize = 3;

/// A fixed-size piece of the performance: `frames` frames of every channel.
pub(crate) struct Block {
    /// Engine frame of the first frame held.
    first_frame: u64,
    frames: usize,
    /// Channel-major: channel `c` occupies `c * BLOCK_FRAMES ..`; channels
    /// are input, left, right, then one per track.
    data: Vec<f32>,
}

impl Block {
    fn new(channels: usize) -> Box<Block> {
        Box::new(Block { first_frame: 0, frames: 0, data: vec![0.0; channels * BLOCK_FRAMES] })
    }

    pub(crate) fn channel(&self, c: usize) -> &[f32] {
        &self.data[c * BLOCK_FRAMES..c * BLOCK_FRAMES + self.frames]
    }

    fn channel_tail(&mut self, c: usize, from: usize, n: usize) -> &mut [f32] {
        &mut self.data[c * BLOCK_FRAMES + from..c * BLOCK_FRAMES + from + n]
    }
}

/// Blocks and commands the feed had dropped so far: (blocks, commands).
pub(crate) type Drops = (u64, u64);

/// What the callback tells the writer besides audio.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Note {
    /// A command the engine applied at this frame.
    Command(u64, Command),
    /// A press that waited for the grid acted at this frame.
    Acted(u64, u8, crate::engine::TrackAction),
    /// A take begins at this frame; the drops counted until then.
    Start(u64, Drops),
    /// The take ends before this frame; the drops counted until then.
    Stop(u64, Drops),
}

/// State shared by the callback, the writer and the control side.
pub(crate) struct Shared {
    start: AtomicBool,
    stop: AtomicBool,
    always_on: AtomicBool,
    pub(crate) dropped_blocks: AtomicU64,
    pub(crate) dropped_events: AtomicU64,
    /// Set by the control side: close everything and end the thread.
    pub(crate) quit: AtomicBool,
    /// Set by the control side: flush every file now; cleared by the writer.
    pub(crate) flush_now: AtomicBool,
    /// Set by the writer when its thread has ended.
    pub(crate) finished: AtomicBool,
    /// While set, the writer drains nothing, as if its disk had hung.
    pub(crate) stalled: AtomicBool,
    /// The writer's report (never touched by the callback).
    pub(crate) status: Mutex<TakeStatus>,
}

/// What the screen shows about recording.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TakeStatus {
    /// A take is being written.
    pub recording: bool,
    /// Always-on mode: the next record or dub starts a take.
    pub armed: bool,
    /// The current (or last) take's folder.
    pub folder: Option<PathBuf>,
    /// Length of the current (or last) take in seconds.
    pub seconds: f64,
    /// Blocks of audio the writer could not keep up with (lost from the files).
    pub dropped_blocks: u64,
    /// Commands lost from the control log because its queue was full.
    pub dropped_events: u64,
    /// The last disk problem, worded for the performer; the performance goes on.
    pub last_error: Option<String>,
    /// The session journal's folder, while it exists (a journal no take
    /// was made from is removed when the writer ends).
    pub journal: Option<PathBuf>,
    /// Journals beside this one that no take needed, removed when the
    /// writer started; `None` until that is done.
    pub old_journals_removed: Option<usize>,
}

/// Everything the writer needs to know about the session it records.
#[derive(Clone, Debug)]
pub struct TakeConfig {
    /// Where take folders go (`--takes DIR`); created when missing.
    pub root: PathBuf,
    /// The patch as the engine was built from it; saved with every take.
    pub patch: Patch,
    /// The engine's sample rate in Hz.
    pub sample_rate: u32,
    /// Number of tracks (stems) the engine has.
    pub tracks: usize,
    /// Each track's tape contents when the engine was built (empty = blank).
    pub start_tapes: Vec<Vec<f32>>,
    /// Seconds of audio the queue can hold.
    pub queue_seconds: f64,
    /// Seconds between header rewrites of the WAV files (crash safety).
    pub flush_interval: Duration,
    /// Frames per WAV segment of every stream (take files and the journal's
    /// input): a longer stream goes on in `mix.002.wav` and so on. The
    /// default is the most a stereo float WAV can hold; tests set it small.
    pub segment_frames: u64,
    /// What the sound depends on besides the journal: the devices, the input
    /// channel recorded, where the record latency came from. Written into
    /// every take.
    pub rig: RigDescription,
}

/// The live rig a take was played on, as `take.toml` records it.
#[derive(Clone, Debug, Default)]
pub struct RigDescription {
    /// The audio devices, as the status line names them.
    pub devices: String,
    /// 1-based input channel recorded; `None`: the mix of every channel.
    pub input_channel: Option<u16>,
    /// The live counters, where the record latency's source is read when a
    /// take starts (none offline).
    pub stats: Option<std::sync::Arc<crate::bridge::LiveStats>>,
}

impl TakeConfig {
    pub fn new(root: PathBuf, patch: Patch, sample_rate: u32, tracks: usize) -> TakeConfig {
        TakeConfig {
            root,
            patch,
            sample_rate,
            tracks,
            start_tapes: Vec::new(),
            queue_seconds: DEFAULT_QUEUE_SECONDS,
            flush_interval: Duration::from_millis(500),
            rig: RigDescription::default(),
            segment_frames: segment::DEFAULT_SEGMENT_FRAMES,
        }
    }
}

/// Start the writer thread for a freshly built engine (its frame 0 is the
/// journal's frame 0). Allocates; call before audio starts.
pub fn spawn(config: TakeConfig) -> Result<(TakeFeed, TakeHandle), String> {
    let channels = FIXED_CHANNELS + config.tracks;
    let seconds =
        if config.queue_seconds.is_finite() { config.queue_seconds.clamp(0.05, 600.0) } else { 4.0 };
    let count = ((seconds * config.sample_rate as f64) / BLOCK_FRAMES as f64).ceil().max(2.0) as usize;
    let (mut free_prod, free_cons) = HeapRb::<Box<Block>>::new(count).split();
    for _ in 0..count {
        // The ring was made with room for exactly `count` blocks.
        let _ = free_prod.try_push(Block::new(channels));
    }
    let (full_prod, full_cons) = HeapRb::<Box<Block>>::new(count).split();
    let (note_prod, note_cons) = HeapRb::<Note>::new(EVENT_QUEUE).split();
    let shared = Arc::new(Shared {
        start: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        always_on: AtomicBool::new(false),
        dropped_blocks: AtomicU64::new(0),
        dropped_events: AtomicU64::new(0),
        quit: AtomicBool::new(false),
        flush_now: AtomicBool::new(false),
        finished: AtomicBool::new(false),
        stalled: AtomicBool::new(false),
        status: Mutex::new(TakeStatus::default()),
    });
    let tracks = config.tracks;
    let writer = writer::Writer::new(config, shared.clone(), full_cons, free_prod, note_cons);
    let thread = std::thread::Builder::new()
        .name("take-writer".into())
        .spawn(move || writer.run())
        .map_err(|e| format!("cannot start the take writer: {e}"))?;
    let feed = TakeFeed {
        shared: shared.clone(),
        free: free_cons,
        full: full_prod,
        notes: note_prod,
        current: None,
        pending: None,
        recording: false,
        tracks,
    };
    let handle = TakeHandle { shared, thread: Arc::new(Mutex::new(Some(thread))) };
    Ok((feed, handle))
}

/// The audio callback's end. Every method is allocation-, lock- and
/// syscall-free: it copies into preallocated blocks and pushes onto
/// lock-free queues.
pub struct TakeFeed {
    shared: Arc<Shared>,
    free: HeapCons<Box<Block>>,
    full: HeapProd<Box<Block>>,
    notes: HeapProd<Note>,
    /// The block being filled.
    current: Option<Box<Block>>,
    /// A start or stop marker the note queue had no room for; retried first.
    pending: Option<Note>,
    /// Whether the callback has started a take it has not stopped.
    recording: bool,
    tracks: usize,
}

impl TakeFeed {
    /// Record a command the engine applied at engine frame `frame`. Call it
    /// for every command, before the [`push`](Self::push) of its block. In
    /// always-on mode an action that writes the input (record, dub, multiply,
    /// …: [`crate::engine::TrackAction::starts_take`]) starts the take at this very frame.
    pub fn log(&mut self, frame: u64, command: Command) {
        self.retry_pending();
        if !self.recording && self.shared.always_on.load(Ordering::Relaxed) && starts_take(command) {
            self.marker(Note::Start(frame, self.drops()));
            self.recording = true;
        }
        if self.notes.try_push(Note::Command(frame, loggable(command))).is_err() {
            self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A press logged earlier waited for the grid and acted at `frame`: the
    /// control log notes it (as a comment: replaying the press is enough).
    pub fn acted(&mut self, frame: u64, track: u8, action: crate::engine::TrackAction) {
        if self.notes.try_push(Note::Acted(frame, track, action)).is_err() {
            self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Hand over one processed block that started at engine frame
    /// `first_frame`: the mono input the engine heard (shorter = silence),
    /// the stereo mix and each track's stem (`stems(track)`, as returned by
    /// `Engine::stem`). Takes started or stopped from the control side begin
    /// or end at `first_frame`.
    pub fn push<'a>(
        &mut self,
        first_frame: u64,
        input: &[f32],
        left: &[f32],
        right: &[f32],
        stems: impl Fn(usize) -> &'a [f32],
    ) {
        self.retry_pending();
        if self.shared.start.swap(false, Ordering::AcqRel) && !self.recording {
            self.marker(Note::Start(first_frame, self.drops()));
            self.recording = true;
        }
        if self.shared.stop.swap(false, Ordering::AcqRel) && self.recording {
            self.marker(Note::Stop(first_frame, self.drops()));
            self.recording = false;
        }
        let frames = left.len().min(right.len());
        let mut done = 0;
        while done < frames {
            let frame = first_frame + done as u64;
            if self.current.as_ref().is_some_and(|b| b.frames > 0 && b.first_frame + b.frames as u64 != frame)
            {
                // The caller skipped frames: a block holds one continuous run.
                self.send();
            }
            if self.current.is_none() {
                self.current = self.free.try_pop();
            }
            let Some(block) = self.current.as_mut() else {
                // The writer is behind and every block is queued: this audio
                // is lost from the files (the performance itself goes on).
                self.shared.dropped_blocks.fetch_add(1, Ordering::Relaxed);
                return;
            };
            if block.frames == 0 {
                block.first_frame = frame;
            }
            let at = block.frames;
            let n = (BLOCK_FRAMES - at).min(frames - done);
            copy_or_silence(block.channel_tail(0, at, n), input, done);
            block.channel_tail(1, at, n).copy_from_slice(&left[done..done + n]);
            block.channel_tail(2, at, n).copy_from_slice(&right[done..done + n]);
            for t in 0..self.tracks {
                copy_or_silence(block.channel_tail(FIXED_CHANNELS + t, at, n), stems(t), done);
            }
            block.frames += n;
            done += n;
            if block.frames == BLOCK_FRAMES {
                self.send();
            }
        }
    }

    /// Send the partly filled block now (the engine is about to pause or
    /// quit), so the writer has every frame pushed so far.
    pub fn flush(&mut self) {
        self.retry_pending();
        if self.current.as_ref().is_some_and(|b| b.frames > 0) {
            self.send();
        }
    }

    /// Frames the feed can take right now without dropping any: what is
    /// left of the block being filled plus every empty block waiting. A
    /// caller that may wait (an offline feeder, a test) can pace itself on
    /// this; the audio callback never does.
    pub fn room(&self) -> usize {
        let current = self.current.as_ref().map_or(0, |b| BLOCK_FRAMES - b.frames);
        current + self.free.occupied_len() * BLOCK_FRAMES
    }

    /// Whether the callback considers a take running.
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    fn send(&mut self) {
        let Some(block) = self.current.take() else { return };
        if let Err(mut block) = self.full.try_push(block) {
            // Cannot happen while blocks only circulate between the two
            // rings (each holds them all); if it did, reuse the block.
            self.shared.dropped_blocks.fetch_add(1, Ordering::Relaxed);
            block.frames = 0;
            self.current = Some(block);
        }
    }

    fn drops(&self) -> Drops {
        (
            self.shared.dropped_blocks.load(Ordering::Relaxed),
            self.shared.dropped_events.load(Ordering::Relaxed),
        )
    }

    fn marker(&mut self, note: Note) {
        if let Err(note) = self.notes.try_push(note) {
            // Keep the newest marker; it is retried on the next call.
            self.pending = Some(note);
        }
    }

    fn retry_pending(&mut self) {
        if let Some(note) = self.pending.take() {
            if let Err(note) = self.notes.try_push(note) {
                self.pending = Some(note);
            }
        }
    }
}

/// Copy `source[from..]` into `out`, silence where it runs short (an
/// input that stopped, a stem of a track that has none): `from` may lie
/// beyond the end of `source`.
fn copy_or_silence(out: &mut [f32], source: &[f32], from: usize) {
    let tail = source.get(from..).unwrap_or(&[]);
    let available = tail.len().min(out.len());
    out[..available].copy_from_slice(&tail[..available]);
    out[available..].fill(0.0);
}

/// Whether an armed take starts at this command: the declared take rule of
/// its action (those that put the input on tape).
fn starts_take(command: Command) -> bool {
    matches!(command, Command::Track { action, .. } if action.starts_take())
}

/// The command as the control log writes it: values the events format
/// refuses (non-finite, out of range) are replaced by the value the engine
/// ends up with, so replaying the log does exactly what the engine did.
pub fn loggable(command: Command) -> Command {
    match command {
        Command::Set { track, param, value } => Command::Set { track, param, value: param.clamp(value) },
        Command::Nudge { track, param, delta } => {
            let spec = param.spec();
            if delta.is_nan() {
                Command::Set { track, param, value: Param::clamp(param, f32::NAN) }
            } else if delta.abs() > spec.max - spec.min {
                // Beyond the whole range: the result is the end of the range.
                Command::Set { track, param, value: if delta > 0.0 { spec.max } else { spec.min } }
            } else {
                command
            }
        }
        Command::RecordLatency { frames } => {
            Command::RecordLatency { frames: frames.min(crate::engine::MAX_RECORD_LATENCY) }
        }
        Command::Track { .. } | Command::Grid(_) => command,
    }
}

/// The control side's end: start, stop, always-on and status. Cheap to clone.
#[derive(Clone)]
pub struct TakeHandle {
    shared: Arc<Shared>,
    thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl TakeHandle {
    /// Start a take at the next block the callback pushes.
    pub fn start(&self) {
        self.shared.stop.store(false, Ordering::Release);
        self.shared.start.store(true, Ordering::Release);
    }

    /// End the take at the next block the callback pushes.
    pub fn stop(&self) {
        self.shared.start.store(false, Ordering::Release);
        self.shared.stop.store(true, Ordering::Release);
    }

    /// Always-on mode: while set, the first record or dub starts a take.
    pub fn set_always_on(&self, on: bool) {
        self.shared.always_on.store(on, Ordering::Release);
    }

    pub fn status(&self) -> TakeStatus {
        let mut status = match self.shared.status.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        status.armed = self.shared.always_on.load(Ordering::Acquire);
        status.dropped_blocks = self.shared.dropped_blocks.load(Ordering::Relaxed);
        status.dropped_events = self.shared.dropped_events.load(Ordering::Relaxed);
        status
    }

    /// Ask the writer to write its buffers and WAV headers now, and wait up
    /// to `timeout` for it. Returns whether it did.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.shared.flush_now.store(true, Ordering::Release);
        wait_until(timeout, || !self.shared.flush_now.load(Ordering::Acquire) || self.is_finished())
    }

    /// Close the take and the journal (headers final) and end the writer
    /// thread, waiting up to `timeout`. What the callback has not pushed yet
    /// is not waited for. Returns whether the writer finished in time.
    pub fn finish(&self, timeout: Duration) -> bool {
        self.shared.quit.store(true, Ordering::Release);
        let done = wait_until(timeout, || self.is_finished());
        if done {
            if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
                let _ = thread.join();
            }
        }
        done
    }

    /// While `stalled`, the writer stops draining the queues, exactly as if
    /// its disk had hung: for tests of what the feed and the take do then.
    #[doc(hidden)]
    pub fn simulate_stalled_disk(&self, stalled: bool) {
        self.shared.stalled.store(stalled, Ordering::Release);
    }

    pub fn is_finished(&self) -> bool {
        self.shared.finished.load(Ordering::Acquire)
    }
}

fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_source_leaves_silence_even_past_its_end() {
        let mut out = [1.0f32; 4];
        copy_or_silence(&mut out, &[0.5, 0.25], 1);
        assert_eq!(out, [0.25, 0.0, 0.0, 0.0]);
        // Past the end (no input while a callback crosses a block): silence.
        copy_or_silence(&mut out, &[], 700);
        assert_eq!(out, [0.0; 4]);
    }

    #[test]
    fn a_callback_longer_than_what_is_left_of_a_block_with_no_input_is_kept() {
        let patch = Patch::parse("version = 1\n[[track]]\nlength = 1.0\n", std::path::Path::new("t.toml"))
            .expect("patch");
        let root = std::env::temp_dir().join(format!("ferrotape-feed-{}", std::process::id()));
        let (mut feed, take) = spawn(TakeConfig::new(root.clone(), patch, 48_000, 1)).expect("writer");
        take.start();
        let mix = vec![0.1f32; 1500];
        let stem = vec![0.2f32; 1500];
        // 1500 frames cross the 1024-frame block; there is no input at all.
        feed.push(0, &[], &mix, &mix, |_| &stem);
        feed.push(1500, &[], &mix, &mix, |_| &[]);
        assert_eq!(feed.room() % BLOCK_FRAMES, BLOCK_FRAMES - (3000 - 2 * BLOCK_FRAMES));
        take.stop();
        feed.flush();
        assert!(take.finish(Duration::from_secs(5)));
        assert_eq!(take.status().dropped_blocks, 0);
        let _ = std::fs::remove_dir_all(&root);
    }
}
