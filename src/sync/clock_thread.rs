//! Clock out on a timing thread of its own, for MIDI systems that take
//! bytes at a wall-clock moment (ALSA sequencer, CoreMIDI, WinMM through
//! midir), where the audio callback cannot place a byte at a frame.
//!
//! The audio side sends the grid as a [`ClockPlan`] (running, an anchor as
//! an `Instant` and the beat there, seconds per beat) through a lock-free
//! SPSC ring whenever it changes ([`ClockFeed::update`] never blocks nor
//! allocates). The thread runs the same [`ClockOut`] as the JACK callback,
//! on a timeline of nanoseconds since it started: it sleeps until about
//! [`SPIN`] before the next byte is due, spins the rest, and hands the
//! bytes to a [`ClockSink`]. Its measured jitter is in `docs/sync.md`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer as _, Producer as _, Split as _};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::clock_out::ClockOut;
use crate::engine::grid::{GridState, Lock, SyncSource};

/// The last stretch before a byte is due, spent spinning rather than sleeping.
pub const SPIN: Duration = Duration::from_micros(200);
/// The longest sleep between looks at the plan queue.
const MAX_SLEEP: Duration = Duration::from_millis(2);
/// Plans waiting at once before new ones are dropped (and counted).
const PLAN_QUEUE: usize = 64;

/// Where clock bytes go: a MIDI output port, or a test's recorder.
pub trait ClockSink: Send {
    fn send(&mut self, bytes: &[u8]) -> Result<(), String>;
}

impl ClockSink for crate::io::midi_port::MidiOutPort {
    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        crate::io::midi_port::MidiOutPort::send(self, bytes)
            .map_err(|e| format!("cannot send MIDI clock: {e}"))
    }
}

/// The grid in wall-clock terms, as the clock thread needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockPlan {
    /// Whether beats pass (false: the grid holds, clock stops).
    pub running: bool,
    /// The grid stands at `anchor_beat` at the moment `anchor`.
    pub anchor: Instant,
    pub anchor_beat: f64,
    pub seconds_per_beat: f64,
}

impl ClockPlan {
    /// The plan for the engine's grid, given that engine frame `frame` is
    /// heard at `at` (the audio side's mapping from frames to time).
    pub fn from_grid(grid: &GridState, sample_rate: f64, frame: u64, at: Instant) -> ClockPlan {
        let offset_s = (grid.anchor_frame as f64 - frame as f64) / sample_rate;
        let anchor = if offset_s >= 0.0 {
            at + Duration::from_secs_f64(offset_s)
        } else {
            at.checked_sub(Duration::from_secs_f64(-offset_s)).unwrap_or(at)
        };
        ClockPlan {
            running: grid.running,
            anchor,
            anchor_beat: grid.anchor_beat,
            seconds_per_beat: grid.frames_per_beat / sample_rate,
        }
    }

    /// The plan as a grid on the thread's timeline (nanoseconds since `epoch`).
    fn grid(&self, epoch: Instant) -> GridState {
        let (anchor_ns, anchor_beat) = match self.anchor.checked_duration_since(epoch) {
            Some(after) => (after.as_nanos() as u64, self.anchor_beat),
            // Before the thread started: move the anchor to its start.
            None => {
                let before = epoch.duration_since(self.anchor).as_secs_f64();
                let beat = if self.running {
                    self.anchor_beat + before / self.seconds_per_beat
                } else {
                    self.anchor_beat
                };
                (0, beat)
            }
        };
        GridState {
            source: SyncSource::Internal,
            lock: Lock::Locked,
            running: self.running && self.seconds_per_beat > 0.0 && self.seconds_per_beat.is_finite(),
            frames_per_beat: self.seconds_per_beat * 1e9,
            beats_per_bar: 4,
            anchor_frame: anchor_ns,
            anchor_beat,
            frame: anchor_ns,
        }
    }
}

/// The audio side's end of the plan queue.
pub struct ClockFeed {
    plans: HeapProd<ClockPlan>,
    /// The grid last sent: (running, anchor frame, anchor beat, frames per beat).
    last: Option<(bool, u64, f64, f64)>,
    dropped: u64,
}

impl ClockFeed {
    /// Send the engine's grid if it changed since the last call (frame
    /// `frame` is heard at `at`). Never blocks or allocates. False when the
    /// queue was full (the plan is dropped and counted, and sent again next time).
    pub fn update(&mut self, grid: &GridState, sample_rate: f64, frame: u64, at: Instant) -> bool {
        let key = (grid.running, grid.anchor_frame, grid.anchor_beat, grid.frames_per_beat);
        if self.last == Some(key) {
            return true;
        }
        let sent = self.push(ClockPlan::from_grid(grid, sample_rate, frame, at));
        if sent {
            self.last = Some(key);
        }
        sent
    }

    /// Send a plan. False when the queue was full.
    pub fn push(&mut self, plan: ClockPlan) -> bool {
        let sent = self.plans.try_push(plan).is_ok();
        if !sent {
            self.dropped += 1;
        }
        sent
    }

    /// Plans dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// What the thread reports.
#[derive(Debug, Default)]
struct Report {
    /// Sends to the sink (one per moment: a tick, or start and its tick).
    sent: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// The thread got real-time scheduling.
    realtime: AtomicBool,
}

/// The running clock thread; stopping (or dropping) it sends a Stop if
/// clock was running, and joins it.
pub struct ClockThread {
    stop: Arc<AtomicBool>,
    report: Arc<Report>,
    handle: Option<JoinHandle<()>>,
}

impl ClockThread {
    /// Start the thread sending into `sink`, and the feed for the audio side.
    pub fn spawn(sink: Box<dyn ClockSink>) -> Result<(ClockThread, ClockFeed), String> {
        let (producer, consumer) = HeapRb::<ClockPlan>::new(PLAN_QUEUE).split();
        let stop = Arc::new(AtomicBool::new(false));
        let report = Arc::new(Report::default());
        let handle = {
            let stop = Arc::clone(&stop);
            let report = Arc::clone(&report);
            std::thread::Builder::new()
                .name("ferrotape-clock-out".into())
                .spawn(move || run(consumer, sink, &stop, &report))
                .map_err(|e| format!("cannot start the MIDI clock thread: {e}"))?
        };
        let feed = ClockFeed { plans: producer, last: None, dropped: 0 };
        Ok((ClockThread { stop, report, handle: Some(handle) }, feed))
    }

    /// Sends made so far.
    pub fn sent(&self) -> u64 {
        self.report.sent.load(Ordering::Relaxed)
    }

    /// Whether the thread got real-time scheduling (SCHED_FIFO).
    pub fn realtime(&self) -> bool {
        self.report.realtime.load(Ordering::Relaxed)
    }

    /// Sends that failed, and the last failure.
    pub fn errors(&self) -> (u64, Option<String>) {
        let last = self.report.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone();
        (self.report.errors.load(Ordering::Relaxed), last)
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            // The thread only waits and sends; a panic in it has nothing to clean up.
            let _ = handle.join();
        }
    }
}

impl Drop for ClockThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn nanos_since(epoch: Instant, at: Instant) -> u64 {
    at.checked_duration_since(epoch).map_or(0, |d| d.as_nanos() as u64)
}

/// Ask for real-time scheduling (SCHED_FIFO) for the calling thread; false
/// when the system refuses (no rtprio limit for the user), and the thread
/// runs at normal priority.
#[cfg(unix)]
fn raise_priority() -> bool {
    // SAFETY: a zeroed `sched_param` is valid on every unix libc; the call
    // only reads it and acts on the calling thread.
    unsafe {
        let mut param: libc::sched_param = std::mem::zeroed();
        param.sched_priority = 10;
        libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) == 0
    }
}

#[cfg(not(unix))]
fn raise_priority() -> bool {
    false
}

fn run(mut plans: HeapCons<ClockPlan>, mut sink: Box<dyn ClockSink>, stop: &AtomicBool, report: &Report) {
    report.realtime.store(raise_priority(), Ordering::Relaxed);
    let epoch = Instant::now();
    let mut grid = GridState { running: false, ..GridState::default() };
    let mut out = ClockOut::new();
    let mut send = |bytes: &[u8]| {
        if bytes.is_empty() {
            return;
        }
        match sink.send(bytes) {
            Ok(()) => report.sent.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                *report.last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                report.errors.fetch_add(1, Ordering::Relaxed)
            }
        };
    };
    let mut bytes = [0u8; 8];
    let mut len;
    // Everything before `done` (ns) has been sent.
    let mut done = 0u64;
    loop {
        while let Some(plan) = plans.try_pop() {
            grid = plan.grid(epoch);
        }
        let now = nanos_since(epoch, Instant::now());
        if stop.load(Ordering::Relaxed) {
            // Leave the receivers stopped, not waiting for the next tick.
            let stopped = GridState { running: false, anchor_frame: now.max(done), ..grid };
            len = 0;
            out.process(&stopped, now.max(done), 1, |_, byte| {
                if len < bytes.len() {
                    bytes[len] = byte;
                    len += 1;
                }
            });
            send(&bytes[..len]);
            return;
        }
        let Some(due) = out.next_event(&grid, done) else {
            done = done.max(now);
            std::thread::sleep(MAX_SLEEP);
            continue;
        };
        let spin = SPIN.as_nanos() as u64;
        if due > now + spin {
            std::thread::sleep(Duration::from_nanos((due - now - spin).min(MAX_SLEEP.as_nanos() as u64)));
            continue;
        }
        let target = epoch + Duration::from_nanos(due);
        while Instant::now() < target {
            std::hint::spin_loop();
        }
        len = 0;
        out.process(&grid, due, 1, |_, byte| {
            if len < bytes.len() {
                bytes[len] = byte;
                len += 1;
            }
        });
        send(&bytes[..len]);
        done = due + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each send and when it happened.
    type Sends = Arc<Mutex<Vec<(Instant, Vec<u8>)>>>;

    /// Records when each send happened.
    struct Recorder(Sends);

    impl ClockSink for Recorder {
        fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
            let at = Instant::now();
            self.0.lock().unwrap().push((at, bytes.to_vec()));
            Ok(())
        }
    }

    #[test]
    fn ticks_go_out_on_time_at_120_bpm() {
        let record = Arc::new(Mutex::new(Vec::new()));
        let (thread, mut feed) = ClockThread::spawn(Box::new(Recorder(Arc::clone(&record)))).expect("thread");
        let anchor = Instant::now() + Duration::from_millis(50);
        let spb = 0.5;
        assert!(feed.push(ClockPlan { running: true, anchor, anchor_beat: 0.0, seconds_per_beat: spb }));
        let run_for = Duration::from_secs(3);
        std::thread::sleep(Duration::from_millis(50) + run_for);
        assert!(feed.push(ClockPlan {
            running: false,
            anchor: Instant::now(),
            anchor_beat: 6.0,
            seconds_per_beat: spb
        }));
        std::thread::sleep(Duration::from_millis(20));
        let realtime = thread.realtime();
        thread.stop();
        let record = record.lock().unwrap();
        let tick = spb / 24.0;
        let mut deviations = Vec::new();
        let mut ticks = 0usize;
        for (at, bytes) in record.iter() {
            for &byte in bytes {
                if byte == 0xF8 {
                    let ideal = anchor + Duration::from_secs_f64(ticks as f64 * tick);
                    let late = at.duration_since(ideal).as_secs_f64()
                        - ideal.saturating_duration_since(*at).as_secs_f64();
                    deviations.push(late);
                    ticks += 1;
                }
            }
        }
        let starts = record.iter().flat_map(|(_, b)| b.iter()).filter(|&&b| b == 0xFA).count();
        let stops = record.iter().flat_map(|(_, b)| b.iter()).filter(|&&b| b == 0xFC).count();
        let mean = deviations.iter().sum::<f64>() / deviations.len() as f64;
        let mean_abs = deviations.iter().map(|d| d.abs()).sum::<f64>() / deviations.len() as f64;
        let max = deviations.iter().fold(0.0f64, |m, d| m.max(d.abs()));
        println!(
            "clock thread{}, 120 BPM for {:.1} s: {} ticks, mean deviation {:+.1} µs (mean |dev| {:.1} µs), max {:.1} µs",
            if realtime { " (SCHED_FIFO)" } else { " (normal priority)" },
            run_for.as_secs_f64(),
            ticks,
            mean * 1e6,
            mean_abs * 1e6,
            max * 1e6
        );
        let expected = (run_for.as_secs_f64() / tick) as usize;
        assert!(ticks.abs_diff(expected) <= 3, "{ticks} ticks, expected about {expected}");
        assert_eq!(starts, 1);
        assert_eq!(stops, 1);
        assert_eq!(record[0].1, vec![0xFA, 0xF8], "start with its first tick, in one send");
        // Generous: the test machine may be busy; the figures above are the measure.
        assert!(max < 0.010, "max deviation {:.2} ms", max * 1e3);
    }

    #[test]
    fn a_plan_from_the_engine_grid_maps_frames_to_instants() {
        let grid = GridState {
            running: true,
            anchor_frame: 96_000,
            anchor_beat: 2.0,
            frames_per_beat: 24_000.0,
            ..GridState::default()
        };
        let at = Instant::now();
        let plan = ClockPlan::from_grid(&grid, 48_000.0, 48_000, at);
        assert_eq!(plan.anchor, at + Duration::from_secs(1));
        assert_eq!(plan.seconds_per_beat, 0.5);
        let (_thread, mut feed) = ClockThread::spawn(Box::new(Recorder(Arc::default()))).expect("thread");
        assert!(feed.update(&grid, 48_000.0, 48_000, at));
        // Unchanged: nothing queued (the queue would fill otherwise).
        for _ in 0..1_000 {
            assert!(feed.update(&grid, 48_000.0, 48_100, at));
        }
        assert_eq!(feed.dropped(), 0);
    }
}
