//! The engine on real audio: `ferrotape play --no-tui` and `ferrotape devices`.
//!
//! The control thread (this module) opens the backend, moves the engine
//! into a [`Handoff`] the audio callback borrows per block, then watches:
//! it prints a status line every second, stops on Ctrl-C, SIGTERM or after
//! the duration, and when the stream fails it says so in one line and tries
//! to reopen the device every [`RETRY_S`] seconds — with the same engine,
//! so the tapes survive.

use crate::bridge::{Bridge, LiveStats, QueueSizes};
use crate::engine::{Engine, EngineSnapshot};
use crate::events::EventList;
use crate::io::{self, AudioOptions, Handoff, Health, LiveProcessor};
use crate::patch::Patch;
use crate::render::MAX_DURATION_S;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Seconds between attempts to reopen a failed device.
pub const RETRY_S: f64 = 2.0;
/// Seconds between status lines.
const STATUS_S: f64 = 1.0;
/// How often the control thread wakes, milliseconds.
const POLL_MS: u64 = 20;

/// What `ferrotape play` was asked to do.
#[derive(Clone, Debug)]
pub struct PlayRequest {
    pub patch: PathBuf,
    pub events: Option<PathBuf>,
    /// Stop after this many seconds of audio; run until interrupted without.
    pub duration_s: Option<f64>,
    pub quiet: bool,
    pub audio: AudioOptions,
}

/// How a live run went.
#[derive(Clone, Debug, Default)]
pub struct PlayReport {
    pub seconds: f64,
    pub xruns: u64,
    pub dropped_commands: u64,
    pub input_underruns: u64,
    pub input_overruns: u64,
    pub stream_errors: u64,
    pub record_latency_frames: u32,
    pub peak_load_pct: f64,
    pub faults: u64,
}

static STOP: AtomicBool = AtomicBool::new(false);
static HANDLER: OnceLock<bool> = OnceLock::new();

/// Install the Ctrl-C / SIGTERM handler (once per process).
fn stop_flag() -> &'static AtomicBool {
    HANDLER.get_or_init(|| ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst)).is_ok());
    &STOP
}

/// Run a patch live until interrupted or `duration_s` has played. Every
/// line for the user goes through `say` (status lines, device trouble).
pub fn play(request: &PlayRequest, mut say: impl FnMut(&str)) -> Result<PlayReport, String> {
    if let Some(d) = request.duration_s {
        if !(d.is_finite() && d > 0.0 && d <= MAX_DURATION_S) {
            return Err(format!("--duration {d} must be between 0 and {MAX_DURATION_S} seconds"));
        }
    }
    if request.audio.buffer == 0 || request.audio.buffer as usize > io::processor::MAX_CHUNK {
        return Err(format!(
            "--buffer {} must be between 1 and {} frames",
            request.audio.buffer,
            io::processor::MAX_CHUNK
        ));
    }
    let patch = Patch::load(&request.patch).map_err(|e| e.to_string())?;
    let config = patch.engine_config();
    let events = match &request.events {
        Some(path) => {
            let events = EventList::load(path).map_err(|e| e.to_string())?;
            events.check_tracks(config.tracks.len()).map_err(|e| e.to_string())?;
            Some(events)
        }
        None => None,
    };
    let stop = stop_flag();
    let mut backend = io::open_backend(&request.audio, patch.sample_rate)?;
    let settings = backend.settings().clone();
    let rate = settings.sample_rate as f64;
    let mut score: Vec<_> = events.map(|e| e.frames(rate).collect()).unwrap_or_default();
    score.sort_by_key(|&(at, _)| at);
    let engine = Box::new(Engine::new(config, rate, settings.block));
    let mut bridge = Bridge::new(QueueSizes::default());
    let stats = bridge.stats.clone();
    let fixed_latency = request.audio.latency_ms.map(|ms| (ms.max(0.0) / 1000.0 * rate).round() as u32);
    let processor =
        LiveProcessor::new(engine, bridge.audio, score, settings.block, settings.has_input, fixed_latency);
    let processor = Arc::new(Handoff::new(Box::new(processor)));
    let input = Arc::new(Handoff::new(Box::new(bridge.input)));
    backend.start(processor.clone(), input.clone())?;
    if !request.quiet {
        say(&format!("playing {} on {}", request.patch.display(), settings.description));
    }

    let target_frames = request.duration_s.map(|d| (d * rate).round() as u64);
    let started = Instant::now();
    let mut next_status = started + Duration::from_secs_f64(STATUS_S);
    let mut failed_at: Option<Instant> = None;
    let mut snapshot = EngineSnapshot::default();
    loop {
        std::thread::sleep(Duration::from_millis(POLL_MS));
        if let Some(s) = bridge.snapshots.latest() {
            snapshot = s;
        }
        drop(bridge.loader.collect());
        let frames = LiveStats::get(&stats.frames);
        if stop.load(Ordering::SeqCst) || target_frames.is_some_and(|t| frames >= t) {
            break;
        }
        match (backend.health(), failed_at) {
            (Health::Failed(what), None) => {
                say(&format!(
                    "ferrotape: {what}; the tapes are kept, retrying every {RETRY_S} s (or run with --audio null; see `ferrotape devices`)"
                ));
                backend.stop();
                failed_at = Some(Instant::now());
            }
            (_, Some(at)) if at.elapsed().as_secs_f64() >= RETRY_S => {
                failed_at = Some(Instant::now());
                if backend.reopen().and_then(|_| backend.start(processor.clone(), input.clone())).is_ok() {
                    failed_at = None;
                    say("ferrotape: audio is back");
                }
            }
            _ => {}
        }
        if Instant::now() >= next_status {
            next_status += Duration::from_secs_f64(STATUS_S);
            if !request.quiet {
                say(&status_line(&stats, &snapshot, rate));
            }
        }
    }
    backend.stop();
    let faults = processor.take_waiting(50).map_or(0, |mut p| p.engine_mut().snapshot().faults);
    Ok(report(&stats, rate, faults))
}

fn report(stats: &LiveStats, rate: f64, faults: u64) -> PlayReport {
    PlayReport {
        seconds: LiveStats::get(&stats.frames) as f64 / rate,
        xruns: LiveStats::get(&stats.xruns),
        dropped_commands: LiveStats::get(&stats.dropped_commands),
        input_underruns: LiveStats::get(&stats.input_underruns),
        input_overruns: LiveStats::get(&stats.input_overruns),
        stream_errors: LiveStats::get(&stats.stream_errors),
        record_latency_frames: stats.record_latency_frames.load(Ordering::Relaxed),
        peak_load_pct: stats.peak_load_permille.load(Ordering::Relaxed) as f64 / 10.0,
        faults,
    }
}

/// `t 3.0 s | load 2.1 % (peak 4.0) | xruns 1 | dropped 0 | in under 0 over 0 | 1 REC 0.42 | 2 PLAY 0.10`
pub fn status_line(stats: &LiveStats, snapshot: &EngineSnapshot, rate: f64) -> String {
    let load = stats.load_permille.load(Ordering::Relaxed) as f64 / 10.0;
    let peak = stats.peak_load_permille.swap(0, Ordering::Relaxed) as f64 / 10.0;
    let mut line = format!(
        "t {:.1} s | load {load:.1} % (peak {peak:.1}) | xruns {} | dropped {} | in under {} over {}",
        LiveStats::get(&stats.frames) as f64 / rate,
        LiveStats::get(&stats.xruns),
        LiveStats::get(&stats.dropped_commands),
        LiveStats::get(&stats.input_underruns),
        LiveStats::get(&stats.input_overruns),
    );
    for (i, t) in snapshot.tracks().iter().enumerate() {
        line.push_str(&format!(" | {} {} {:.2}", i + 1, t.mode.label(), t.position));
    }
    line
}

/// `ferrotape devices`: audio hosts and devices, then MIDI ports.
pub fn devices_text() -> String {
    let mut text = io::audio::describe_devices();
    text.push_str(&midi_ports_text());
    text
}

/// Hook for the MIDI side: the MIDI ports section of `ferrotape devices`.
pub fn midi_ports_text() -> String {
    String::new()
}
