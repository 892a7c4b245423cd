//! The round trip the record heads compensate: from the moment a frame the
//! engine rendered is heard to the moment the input played against it
//! reaches the engine, in frames.
//!
//! Measured from the streams' own timestamps: each input callback says when
//! its first frame was captured (the host's capture time), each output
//! callback when its first frame will be played (the host's playback time,
//! which on JACK includes the connected ports' latencies). Each stream's
//! clock is put on the one monotonic clock every thread shares (`Instant`)
//! by [`ClockOrigin`]. For the first input frame the engine takes in a
//! block, the round trip is the time from its capture to the playback of
//! the block's first output frame. [`LatencyMeter`] takes the median of
//! [`MEASURED_BLOCKS`] such readings.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringbuf::traits::Consumer;
use ringbuf::HeapCons;

use super::input_sync::InputRead;
use crate::engine::MAX_RECORD_LATENCY;

/// Blocks of readings the meter takes before it settles on a figure.
pub const MEASURED_BLOCKS: usize = 48;

/// While the stream runs steadily, a new measurement replaces the figure in
/// use only when it differs by more than this many frames (a third of a
/// millisecond at 48 kHz), twice in a row: a busy machine makes callbacks
/// read the clock late by some microseconds, and that jitter must never
/// move the record heads. Real changes (a port reconnected to converters
/// with other latencies) are far larger.
pub const CHANGE_THRESHOLD_FRAMES: u32 = 16;

/// Where the compensated figure comes from; shown on the screen, in `play`'s
/// status lines and written into every take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LatencySource {
    /// Not known yet (the input has not primed).
    #[default]
    Pending,
    /// The streams' capture and playback timestamps (see the module docs).
    Timestamps,
    /// `--latency-ms` on the command line.
    CommandLine,
    /// No input stream: nothing is recorded from outside, 0 is used.
    NoInput,
    /// The native JACK client's port latency ranges: the capture latency
    /// of its first input plus the playback latency of its left output.
    PortLatency,
}

impl LatencySource {
    pub const ALL: [LatencySource; 5] = [
        LatencySource::Pending,
        LatencySource::Timestamps,
        LatencySource::CommandLine,
        LatencySource::NoInput,
        LatencySource::PortLatency,
    ];

    /// How it is described to the performer.
    pub fn describe(self) -> &'static str {
        match self {
            LatencySource::Pending => "measuring",
            LatencySource::Timestamps => "from stream timestamps",
            LatencySource::CommandLine => "from --latency-ms",
            LatencySource::NoInput => "no input",
            LatencySource::PortLatency => "from JACK port latencies",
        }
    }

    /// The name written into `take.toml`.
    pub fn name(self) -> &'static str {
        match self {
            LatencySource::Pending => "pending",
            LatencySource::Timestamps => "stream-timestamps",
            LatencySource::CommandLine => "command-line",
            LatencySource::NoInput => "no-input",
            LatencySource::PortLatency => "port-latency",
        }
    }

    pub fn to_u8(self) -> u8 {
        LatencySource::ALL.iter().position(|&s| s == self).unwrap_or(0) as u8
    }

    pub fn from_u8(value: u8) -> LatencySource {
        LatencySource::ALL.get(value as usize).copied().unwrap_or_default()
    }
}

/// Where a stream's clock (the host's timestamps, as time since its zero)
/// sits on the shared monotonic clock. Each callback reads `Instant::now()`
/// a little after the host took its timestamp, more so on a busy machine;
/// the earliest origin seen is the one least delayed, so it is kept, and a
/// callback read late never shifts the times it maps. Clones share the
/// origin: streams whose host stamps them on one clock (JACK) share one, so
/// the time between a capture and a playback is exactly the host's.
/// Lock-free (one atomic), so callbacks on different threads can share it.
#[derive(Clone, Debug)]
pub struct ClockOrigin {
    base: Instant,
    /// Nanoseconds from `base` to the stream clock's zero; `i64::MAX` until seen.
    earliest: Arc<AtomicI64>,
}

impl Default for ClockOrigin {
    fn default() -> Self {
        ClockOrigin { base: Instant::now(), earliest: Arc::new(AtomicI64::new(i64::MAX)) }
    }
}

impl ClockOrigin {
    /// A callback running `now` whose host stamped it `callback` after its
    /// clock's zero: where the host's time `at` (since the same zero) falls.
    pub fn place(&self, now: Instant, callback: Duration, at: Duration) -> Instant {
        let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX / 4);
        let origin = nanos(now.saturating_duration_since(self.base)) - nanos(callback);
        let earliest = self.earliest.fetch_min(origin, Ordering::Relaxed).min(origin);
        let t = earliest.saturating_add(nanos(at));
        if t >= 0 {
            self.base + Duration::from_nanos(t as u64)
        } else {
            self.base.checked_sub(Duration::from_nanos(t.unsigned_abs())).unwrap_or(self.base)
        }
    }
}

/// When one input callback's first frame was captured.
#[derive(Clone, Copy, Debug)]
pub struct CaptureStamp {
    /// When the host called the input callback (on the shared clock).
    pub called_at: Instant,
    /// Index of that frame among every frame the input has delivered.
    pub first_frame: u64,
    /// When it was captured, on the shared monotonic clock.
    pub captured_at: Instant,
}

/// The capture time of any input frame, from the latest stamp at or before it.
#[derive(Clone, Copy, Debug, Default)]
pub struct CaptureClock {
    latest: Option<CaptureStamp>,
}

impl CaptureClock {
    /// Take a stamp (stamps arrive in frame order).
    pub fn note(&mut self, stamp: CaptureStamp) {
        self.latest = Some(stamp);
    }

    /// Forget the stamps: the input restarted and counts frames from `0` again.
    pub fn reset(&mut self) {
        self.latest = None;
    }

    /// When input frame `frame` was captured, if a stamp covers it.
    pub fn captured(&self, frame: u64, sample_rate: f64) -> Option<Instant> {
        let stamp = self.latest?;
        let after = frame.checked_sub(stamp.first_frame)?;
        Some(stamp.captured_at + Duration::from_secs_f64(after as f64 / sample_rate))
    }

    /// When the latest stamp's callback was called.
    pub fn called_at(&self) -> Option<Instant> {
        self.latest.map(|s| s.called_at)
    }

    /// The first frame of the latest stamp.
    pub fn latest_frame(&self) -> Option<u64> {
        self.latest.map(|s| s.first_frame)
    }
}

/// Readings of the round trip, block by block; their median once there are
/// enough. Fixed-size: never allocates.
#[derive(Clone, Debug)]
pub struct LatencyMeter {
    readings: [f64; MEASURED_BLOCKS],
    count: usize,
}

impl Default for LatencyMeter {
    fn default() -> Self {
        LatencyMeter { readings: [0.0; MEASURED_BLOCKS], count: 0 }
    }
}

impl LatencyMeter {
    /// Start again (the streams restarted).
    pub fn reset(&mut self) {
        self.count = 0;
    }

    /// One block's reading, in frames.
    pub fn add(&mut self, frames: f64) {
        if self.count >= MEASURED_BLOCKS {
            return;
        }
        self.readings[self.count] = frames;
        self.count += 1;
    }

    /// Whether enough readings are in.
    pub fn is_done(&self) -> bool {
        self.count >= MEASURED_BLOCKS
    }

    /// The median reading in whole frames (never negative), once done.
    pub fn median(&mut self) -> Option<u32> {
        if !self.is_done() {
            return None;
        }
        let readings = &mut self.readings[..self.count];
        // Insertion sort: 48 values, no allocation.
        for i in 1..readings.len() {
            let mut j = i;
            while j > 0 && readings[j - 1] > readings[j] {
                readings.swap(j - 1, j);
                j -= 1;
            }
        }
        let middle = readings[readings.len() / 2];
        Some(middle.round().max(0.0) as u32)
    }

    /// The spread of the readings (largest minus smallest), frames, once done.
    pub fn spread(&self) -> Option<f64> {
        self.is_done().then(|| {
            let readings = &self.readings[..self.count];
            let max = readings.iter().copied().fold(f64::MIN, f64::max);
            let min = readings.iter().copied().fold(f64::MAX, f64::min);
            max - min
        })
    }
}

/// The round trip the processor compensates, followed block by block: the
/// first measurement once the input runs, a new one whenever the measured
/// figure moves (a port reconnected, a device reopened), the exact change
/// whenever the input stream skips or repeats frames. Lives on the audio
/// thread; never allocates.
pub struct LatencyTracker {
    /// `--latency-ms`, in frames: the round trip when the input starts; or
    /// the figure a backend reports ([`Self::reported`]).
    fixed: Option<u32>,
    /// Where `fixed` comes from: the command line, or the backend.
    fixed_source: LatencySource,
    /// With `fixed`: the latest measurement of the steady stream. When the
    /// input restarts (an underrun, a reopened device) the given figure moves
    /// by as much as the next measurement differs from it: the round trip
    /// follows what changed in the buffering, the figure given for the rig
    /// stays.
    last_steady: Option<u32>,
    /// The input restarted: the next measurement is taken without waiting
    /// for a second one to confirm it.
    fresh: bool,
    meter: LatencyMeter,
    clock: CaptureClock,
    /// The next capture stamp, not yet reached by the frames taken in.
    next_stamp: Option<CaptureStamp>,
    /// Input frames taken off the ring so far (the index of the next one).
    consumed: u64,
    /// A measurement that differed from the figure in use, waiting to be confirmed.
    candidate: Option<u32>,
    /// The figure the engine uses, once it has one.
    compensated: Option<u32>,
    /// A change for the engine, to send as a command at the next block start.
    pending: Option<u32>,
    /// A re-measured figure, sent only while no record head is writing: a
    /// steady stream's round trip moved (a reconnection), and moving the
    /// heads under a recording would be heard.
    deferred: Option<u32>,
    /// Where `compensated` comes from.
    source: LatencySource,
    /// Spread of the last measurement, frames.
    spread: Option<f64>,
    /// When the recent output blocks play: (output frame, time), a ring.
    /// Capture times are placed on the output's own frames with it, so a
    /// reading counts frames, and a clock that runs a little fast or slow
    /// (a busy machine stretching cycles) only blurs it within one block.
    timeline: [Option<OutputStamp>; TIMELINE],
    timeline_next: usize,
    /// Output frames rendered since the stream started (silence included).
    output_frames: u64,
    /// The output frame the current block starts at.
    block_frame: u64,
}

/// Output blocks the timeline keeps: enough to reach back the longest round
/// trip at the smallest block.
const TIMELINE: usize = 512;

/// When the host called an output callback and when its first frame plays.
#[derive(Clone, Copy, Debug)]
pub struct OutputTimes {
    pub called_at: Instant,
    pub plays_at: Instant,
}

/// One output block on the timeline.
#[derive(Clone, Copy, Debug)]
pub struct OutputStamp {
    /// Output frame the block starts at.
    frame: u64,
    /// When the host called the output callback the block belongs to.
    called_at: Instant,
    /// When the block's first frame will be heard.
    plays_at: Instant,
}

impl LatencyTracker {
    pub fn new(fixed: Option<u32>) -> LatencyTracker {
        LatencyTracker {
            fixed: fixed.map(|f| f.min(MAX_RECORD_LATENCY)),
            fixed_source: LatencySource::CommandLine,
            last_steady: None,
            fresh: true,
            meter: LatencyMeter::default(),
            clock: CaptureClock::default(),
            next_stamp: None,
            consumed: 0,
            candidate: None,
            compensated: None,
            pending: None,
            deferred: None,
            source: LatencySource::Pending,
            spread: None,
            timeline: [None; TIMELINE],
            timeline_next: 0,
            output_frames: 0,
            block_frame: 0,
        }
    }

    /// A block of `frames` output frames starts now, in an output callback
    /// the host called at `called_at`, and is heard at `plays_at`.
    pub fn note_output(&mut self, called_at: Instant, plays_at: Instant, frames: usize) {
        self.block_frame = self.output_frames;
        self.timeline[self.timeline_next] =
            Some(OutputStamp { frame: self.output_frames, called_at, plays_at });
        self.timeline_next = (self.timeline_next + 1) % TIMELINE;
        self.output_frames += frames as u64;
    }

    /// The output frame that was being heard when an input frame was
    /// captured at `captured`, in a callback called at `called`. It is read
    /// off the output block of the same cycle (the one called nearest in
    /// time): between the playback time of that block and the capture time
    /// of that input, both stamped by the host in one cycle, lie only the
    /// converters' latencies, which a clock correction between cycles cannot
    /// touch. Bounded: at most the ring.
    fn heard_frame(&self, called: Instant, captured: Instant, sample_rate: f64) -> Option<f64> {
        let gap = |a: Instant, b: Instant| a.max(b).duration_since(a.min(b));
        let mut best: Option<OutputStamp> = None;
        for back in 1..=TIMELINE {
            let Some(entry) = self.timeline[(self.timeline_next + TIMELINE - back) % TIMELINE] else { break };
            // Of the pieces of one callback, the first.
            if best.is_none_or(|b| gap(entry.called_at, called) <= gap(b.called_at, called)) {
                best = Some(entry);
            } else if entry.called_at < called {
                break;
            }
        }
        let entry = best?;
        let seconds = if captured >= entry.plays_at {
            captured.duration_since(entry.plays_at).as_secs_f64()
        } else {
            -entry.plays_at.duration_since(captured).as_secs_f64()
        };
        Some(entry.frame as f64 + seconds * sample_rate)
    }

    /// Index of the next input frame to be taken in.
    pub fn next_frame(&self) -> u64 {
        self.consumed
    }

    /// Frames were dropped from the input ring without being read.
    pub fn skipped(&mut self, frames: usize) {
        self.consumed += frames as u64;
    }

    /// The input restarts: measure afresh.
    pub fn restart(&mut self) {
        self.meter.reset();
        self.candidate = None;
        self.fresh = true;
    }

    /// A block (noted with [`Self::note_output`]) took its input: `read`
    /// says what happened to the stream, `first` is the index of the first
    /// frame it took.
    pub fn after_read(
        &mut self,
        read: InputRead,
        first: u64,
        stamps: &mut HeapCons<CaptureStamp>,
        sample_rate: f64,
    ) {
        self.consumed += read.consumed as u64;
        let first = first + read.dropped_first as u64;
        // Move the capture clock up to the first frame taken in.
        loop {
            if self.next_stamp.is_none() {
                self.next_stamp = stamps.try_pop();
            }
            match self.next_stamp {
                Some(stamp) if stamp.first_frame <= first => {
                    self.clock.note(stamp);
                    self.next_stamp = None;
                }
                _ => break,
            }
        }
        if read.restarted {
            self.restart();
        } else if read.delay_change != 0 {
            // The input now arrives that much later (or earlier): so does
            // everything the performer plays. Readings across the jump are void.
            let shift = |frames: u32| {
                (i64::from(frames) + i64::from(read.delay_change)).clamp(0, MAX_RECORD_LATENCY.into()) as u32
            };
            if let Some(current) = self.pending.or(self.compensated) {
                self.pending = Some(shift(current));
            }
            self.deferred = self.deferred.map(shift);
            self.meter.reset();
        } else if read.live {
            // What the performer heard when this frame was captured, and
            // the frame it now reaches the engine at: the round trip.
            let heard = match (self.clock.called_at(), self.clock.captured(first, sample_rate)) {
                (Some(called), Some(captured)) => self.heard_frame(called, captured, sample_rate),
                _ => None,
            };
            if let Some(heard) = heard {
                self.meter.add(self.block_frame as f64 - heard);
            }
            if let Some(measured) = self.meter.median() {
                self.spread = self.meter.spread();
                self.meter.reset();
                self.settle(measured.min(MAX_RECORD_LATENCY));
            }
        }
    }

    /// Take a finished measurement: the first one after a start at once,
    /// later ones when they differ from the figure in use and agree with
    /// each other. With a given figure, measurements only carry its changes.
    fn settle(&mut self, measured: u32) {
        if self.fixed.is_some() && self.fixed_source == LatencySource::PortLatency {
            // The ports' ranges are the figure; timestamps do not move it.
            return;
        }
        if self.fixed.is_some() {
            let current = self.pending.or(self.compensated);
            if let (true, Some(before), Some(current)) = (self.fresh, self.last_steady, current) {
                let moved = i64::from(current) + i64::from(measured) - i64::from(before);
                self.pending = Some(moved.clamp(0, MAX_RECORD_LATENCY.into()) as u32);
            }
            self.last_steady = Some(measured);
            self.fresh = false;
            return;
        }
        self.source = LatencySource::Timestamps;
        let wanted = measured;
        let current = self.pending.or(self.compensated);
        let differs = |a: u32, b: u32| a.abs_diff(b) > CHANGE_THRESHOLD_FRAMES;
        match current {
            // The first figure, or the first after the input restarted: the
            // stream itself changed, so the heads follow at once.
            None => self.pending = Some(wanted),
            Some(current) if self.fresh && current != wanted => self.pending = Some(wanted),
            Some(current) if differs(wanted, current) => match self.candidate {
                Some(candidate) if !differs(candidate, wanted) => {
                    self.deferred = Some(wanted);
                    self.candidate = None;
                }
                _ => self.candidate = Some(wanted),
            },
            Some(_) => {
                self.candidate = None;
                self.deferred = None;
            }
        }
        self.fresh = false;
    }

    /// The backend knows the round trip itself (the native JACK client
    /// reads it off its ports' latency ranges): `frames` is the figure to
    /// compensate from now on, unless `--latency-ms` gave one (it wins).
    /// Before the engine starts it is the figure the first block sends;
    /// afterwards a change waits, like a re-measured one, until no record
    /// head writes. Never allocates.
    pub fn reported(&mut self, frames: u32) {
        if self.fixed.is_some() && self.fixed_source == LatencySource::CommandLine {
            return;
        }
        let frames = frames.min(MAX_RECORD_LATENCY);
        if self.fixed == Some(frames) {
            return;
        }
        self.fixed = Some(frames);
        self.fixed_source = LatencySource::PortLatency;
        if self.compensated.is_some() || self.pending.is_some() {
            self.source = LatencySource::PortLatency;
            if self.pending.is_some() {
                self.pending = Some(frames);
            } else if self.compensated != Some(frames) {
                self.deferred = Some(frames);
            }
        }
    }

    /// Whether a figure to start with is known (given, or reported).
    pub fn has_figure(&self) -> bool {
        self.fixed.is_some()
    }

    /// The engine is about to start: whether the round trip is known well
    /// enough (`gave_up`: the input never came; start anyway). Sets the
    /// figure the first block sends.
    pub fn ready_to_start(&mut self, has_input: bool, gave_up: bool) -> bool {
        if let Some(fixed) = self.fixed {
            self.pending = Some(fixed);
            self.source = self.fixed_source;
        } else if !has_input {
            self.pending = Some(0);
            self.source = LatencySource::NoInput;
        } else if self.pending.is_none() {
            if !gave_up {
                return false;
            }
            // No input yet: start uncompensated; the heads glide to the
            // figure once the input runs and is measured.
            self.pending = Some(0);
            self.source = LatencySource::Pending;
        }
        true
    }

    /// The change to send to the engine now, if any; it is in use from then
    /// on. `heads_writing`: some track records, dubs or erases.
    pub fn take_pending(&mut self, heads_writing: bool) -> Option<u32> {
        let frames = match self.pending.take() {
            Some(frames) => frames,
            None if !heads_writing => self.deferred.take()?,
            None => return None,
        };
        self.compensated = Some(frames);
        Some(frames)
    }

    /// Whether a change is waiting to be sent now.
    pub fn has_pending(&self, heads_writing: bool) -> bool {
        self.pending.is_some() || (!heads_writing && self.deferred.is_some())
    }

    pub fn source(&self) -> LatencySource {
        self.source
    }

    /// Spread of the last measurement, frames.
    pub fn spread(&self) -> Option<f64> {
        self.spread
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_ignores_a_late_callback() {
        let mut meter = LatencyMeter::default();
        for i in 0..MEASURED_BLOCKS {
            // 1000 frames, one reading 300 frames late.
            meter.add(if i == 7 { 1300.0 } else { 1000.0 });
        }
        assert_eq!(meter.median(), Some(1000));
        assert!(meter.spread().unwrap() > 299.0);
    }

    #[test]
    fn a_late_callback_does_not_move_the_clock() {
        let origin = ClockOrigin::default();
        let zero = Instant::now();
        let ms = Duration::from_millis;
        // On time: the stream's 10 ms is 10 ms after `zero`.
        assert_eq!(origin.place(zero + ms(10), ms(10), ms(12)), zero + ms(12));
        // Read 3 ms late: the times it maps do not move.
        assert_eq!(origin.place(zero + ms(23), ms(20), ms(21)), zero + ms(21));
    }

    #[test]
    fn capture_times_follow_the_frames_after_a_stamp() {
        let mut clock = CaptureClock::default();
        let base = Instant::now();
        clock.note(CaptureStamp { first_frame: 480, captured_at: base, called_at: base });
        assert_eq!(clock.captured(479, 48_000.0), None);
        let later = clock.captured(960, 48_000.0).unwrap();
        assert_eq!(later.duration_since(base), Duration::from_millis(10));
        for source in LatencySource::ALL {
            assert_eq!(LatencySource::from_u8(source.to_u8()), source);
        }
    }

    use ringbuf::traits::{Producer, Split};
    use ringbuf::HeapRb;

    /// Feed a tracker `blocks` blocks of 256 frames whose round trip is
    /// `frames`; returns what it sends the engine.
    fn run(tracker: &mut LatencyTracker, frames: f64, blocks: usize, writing: bool) -> Vec<u32> {
        let (mut stamps_in, mut stamps) = HeapRb::<CaptureStamp>::new(64).split();
        let base = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..blocks {
            let first = tracker.next_frame();
            let captured_at = base + Duration::from_secs_f64(first as f64 / 48_000.0);
            let _ =
                stamps_in.try_push(CaptureStamp { first_frame: first, captured_at, called_at: captured_at });
            // Output block k starts at output frame 256 k; input frame 256 k
            // reaches it `frames` after what was heard when it was captured.
            let plays_at = captured_at + Duration::from_secs_f64(frames / 48_000.0);
            tracker.note_output(captured_at, plays_at, 256);
            let read = InputRead { consumed: 256, live: true, ..InputRead::default() };
            tracker.after_read(read, first, &mut stamps, 48_000.0);
            sent.extend(tracker.take_pending(writing));
        }
        sent
    }

    #[test]
    fn the_first_figure_goes_at_once_and_a_moved_one_waits_for_the_heads() {
        let mut tracker = LatencyTracker::new(None);
        assert_eq!(run(&mut tracker, 1535.0, MEASURED_BLOCKS + 8, true), [1535]);
        // Jitter below the threshold never moves the heads.
        assert!(run(&mut tracker, 1540.0, 3 * MEASURED_BLOCKS, false).is_empty());
        // A real change, confirmed twice, waits while a head writes.
        assert!(run(&mut tracker, 1791.0, 3 * MEASURED_BLOCKS, true).is_empty());
        assert_eq!(run(&mut tracker, 1791.0, 1, false), [1791]);
    }

    #[test]
    fn a_reported_figure_starts_the_engine_and_a_change_waits_for_the_heads() {
        let mut tracker = LatencyTracker::new(None);
        assert!(!tracker.has_figure());
        tracker.reported(768);
        assert!(tracker.ready_to_start(true, false), "no measurement to wait for");
        assert_eq!(tracker.take_pending(true), Some(768));
        assert_eq!(tracker.source(), LatencySource::PortLatency);
        tracker.reported(768);
        assert_eq!(tracker.take_pending(false), None, "the same figure again is no change");
        tracker.reported(1024);
        assert_eq!(tracker.take_pending(true), None, "not under a recording");
        assert_eq!(tracker.take_pending(false), Some(1024));
        // --latency-ms wins over the ports.
        let mut given = LatencyTracker::new(Some(480));
        given.reported(768);
        assert!(given.ready_to_start(true, false));
        assert_eq!(given.take_pending(false), Some(480));
        assert_eq!(given.source(), LatencySource::CommandLine);
    }

    #[test]
    fn a_given_figure_follows_only_what_a_restart_changes() {
        let mut tracker = LatencyTracker::new(Some(1000));
        assert!(tracker.ready_to_start(true, false));
        assert_eq!(tracker.take_pending(false), Some(1000));
        // Steady measurements (whatever they say) leave the given figure alone.
        assert!(run(&mut tracker, 700.0, 2 * MEASURED_BLOCKS, false).is_empty());
        assert!(run(&mut tracker, 900.0, 3 * MEASURED_BLOCKS, false).is_empty());
        // After an underrun the buffering is 64 frames deeper: so is the figure.
        tracker.restart();
        assert_eq!(run(&mut tracker, 964.0, MEASURED_BLOCKS, true), [1064]);
    }
}
