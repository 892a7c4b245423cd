//! The engine on real audio: [`LiveSession`] (audio, MIDI, takes and
//! autosave for one patch), `ferrotape play --no-tui` on top of it, and
//! `ferrotape devices`.
//!
//! The session opens the backend, moves the engine into a
//! [`Handoff`](crate::io::Handoff) the audio callback borrows per block, and
//! is ticked by its owner: when the stream fails it says so in one line and
//! tries to reopen the device every [`RETRY_S`] seconds — with the same
//! engine, so the tapes survive. `play` prints a status line every second
//! and stops on Ctrl-C, SIGTERM or after the duration, finishing the take.

pub mod component;
pub mod controls;
mod describe;
pub mod feedback;
mod flush;
mod keys;
mod midi_surface;
mod run;
mod session;
mod surfaces;

pub use component::{Component, ComponentStatus, SessionRequest, SessionView, Setup, SurfaceFactory};
pub use controls::SharedControls;
pub use describe::{describe_activity, describe_binding, describe_target};
pub use flush::stop_requested;
pub use keys::KeysSurface;
pub use midi_surface::MidiSurface;
pub use session::{LiveOptions, LiveSession, SyncOverrides};

use crate::bridge::LiveStats;
use crate::engine::EngineSnapshot;
use crate::io;
use crate::midi_map::LearnRequest;
use crate::render::MAX_DURATION_S;
use crate::take::TakeStatus;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Seconds between attempts to reopen a failed device.
pub const RETRY_S: f64 = 2.0;
/// Seconds between status lines.
const STATUS_S: f64 = 1.0;
/// How often the control thread wakes, milliseconds.
const POLL_MS: u64 = 20;

/// What `ferrotape play --no-tui` was asked to do.
#[derive(Clone, Debug)]
pub struct PlayRequest {
    pub patch: PathBuf,
    /// Stop after this many seconds of audio; run until interrupted without.
    pub duration_s: Option<f64>,
    pub quiet: bool,
    pub options: LiveOptions,
    /// `--learn TARGET` requests, learned one after another.
    pub learn: Vec<String>,
}

/// How a live run went.
#[derive(Clone, Debug, Default)]
pub struct PlayReport {
    pub seconds: f64,
    pub xruns: u64,
    pub dropped_commands: u64,
    pub input_underruns: u64,
    pub input_overruns: u64,
    /// Frames skipped or repeated to keep an input on another clock in step.
    pub drift_corrections: u64,
    pub stream_errors: u64,
    pub record_latency_frames: u32,
    /// Where the compensated latency came from.
    pub latency_source: io::latency::LatencySource,
    pub peak_load_pct: f64,
    pub faults: u64,
}

/// Run a patch live until interrupted (Ctrl-C, SIGTERM) or `duration_s`
/// has played. Every line for the user goes through `say` (status lines,
/// device trouble, learned bindings, takes).
pub fn play(request: &PlayRequest, mut say: impl FnMut(&str)) -> Result<PlayReport, String> {
    if let Some(d) = request.duration_s {
        if !(d.is_finite() && d > 0.0 && d <= MAX_DURATION_S) {
            return Err(format!("--duration {d} must be between 0 and {MAX_DURATION_S} seconds"));
        }
    }
    let mut learn = request
        .learn
        .iter()
        .map(|text| LearnRequest::parse(text).map_err(|e| format!("--learn {text}: {e}")))
        .collect::<Result<VecDeque<_>, _>>()?;
    let mut session = LiveSession::start(&request.patch, request.options.clone(), false)?;
    let rate = session.settings().sample_rate as f64;
    if !request.quiet {
        say(&format!("playing {} on {}", request.patch.display(), session.settings().description));
        let ports = session.midi_ports();
        if !ports.is_empty() {
            say(&format!("MIDI in: {}", ports.join(", ")));
        }
        for part in session.surface_status() {
            say(&part);
        }
    }
    if let Some(warning) = session.warning() {
        say(&format!("ferrotape: {warning}"));
    }
    let next_learn =
        |session: &mut LiveSession, learn: &mut VecDeque<LearnRequest>, say: &mut dyn FnMut(&str)| {
            let text = learn.pop_front()?;
            if session.learn(text) {
                say("learn: move a control on a MIDI input");
                Some(text)
            } else {
                say("ferrotape: MIDI learn is not available: no MIDI input");
                learn.clear();
                None
            }
        };
    let mut learning = next_learn(&mut session, &mut learn, &mut say);

    let target_frames = request.duration_s.map(|d| (d * rate).round() as u64);
    let mut next_status = Instant::now() + Duration::from_secs_f64(STATUS_S);
    let mut snapshot = EngineSnapshot::default();
    loop {
        std::thread::sleep(Duration::from_millis(POLL_MS));
        session.tick(&mut say);
        if let Some(s) = session.latest_snapshot() {
            snapshot = s;
        }
        while let Some(learned) = session.poll_learned() {
            say(&format!("learned {learned}"));
            learning = next_learn(&mut session, &mut learn, &mut say);
        }
        let frames = LiveStats::get(&session.stats().frames);
        if session.stop_requested() || target_frames.is_some_and(|t| frames >= t) {
            break;
        }
        if Instant::now() >= next_status {
            next_status += Duration::from_secs_f64(STATUS_S);
            if !request.quiet {
                let mut line = status_line(session.stats(), &snapshot, rate);
                if let Some(midi) = session.last_midi() {
                    line.push_str(&format!(" | midi {midi}"));
                }
                if let Some(take) = session.take_status() {
                    line.push_str(&format!(" | take {}", take_text(&take)));
                }
                for part in session.surface_status() {
                    line.push_str(&format!(" | {part}"));
                }
                say(&line);
            }
        }
    }
    if learning.is_some() && !request.quiet {
        say("learn: stopped before a control moved");
    }
    let take = session.take_status();
    let report = session.stop();
    if let Some(folder) = take.and_then(|t| t.folder) {
        say(&format!("take written to {}", folder.display()));
    }
    Ok(report)
}

/// The learn request for what the screen asks to learn (`LearnTarget`):
/// on that track, the mode inferred from the control that moves.
pub fn learn_request(target: crate::tui::link::LearnTarget) -> LearnRequest {
    use crate::midi_map::{BindingTarget, TrackTarget};
    use crate::tui::link::LearnWhat;
    let target_kind = match target.what {
        LearnWhat::Action(action) => BindingTarget::Action(action),
        LearnWhat::Param(param) => BindingTarget::Param(param),
    };
    LearnRequest { target: target_kind, track: TrackTarget::Number(target.track + 1), mode: None }
}

/// "REC 12.3 s", "armed", "off" (with dropped blocks when there were any).
pub fn take_text(status: &TakeStatus) -> String {
    let mut text = if status.recording {
        format!("REC {:.1} s", status.seconds)
    } else if status.armed {
        "armed".to_string()
    } else {
        "off".to_string()
    };
    if status.dropped_blocks > 0 {
        text.push_str(&format!(" (dropped {} blocks)", status.dropped_blocks));
    }
    text
}

fn report(stats: &LiveStats, rate: f64, faults: u64) -> PlayReport {
    PlayReport {
        seconds: LiveStats::get(&stats.frames) as f64 / rate,
        xruns: LiveStats::get(&stats.xruns),
        dropped_commands: LiveStats::get(&stats.dropped_commands),
        input_underruns: LiveStats::get(&stats.input_underruns),
        input_overruns: LiveStats::get(&stats.input_overruns),
        drift_corrections: LiveStats::get(&stats.drift_corrections),
        stream_errors: LiveStats::get(&stats.stream_errors),
        record_latency_frames: stats.record_latency().0,
        latency_source: stats.record_latency().1,
        peak_load_pct: stats.peak_load_permille.load(Ordering::Relaxed) as f64 / 10.0,
        faults,
    }
}

/// `t 3.0 s | load 2.1 % (peak 4.0) | xruns 1 | dropped 0 | in under 0 over 0 | latency 1792 fr
/// (37.3 ms, from stream timestamps) | 1 REC 0.42 | 2 PLAY 0.10`
pub fn status_line(stats: &LiveStats, snapshot: &EngineSnapshot, rate: f64) -> String {
    let load = stats.load_permille.load(Ordering::Relaxed) as f64 / 10.0;
    let peak = stats.peak_load_permille.swap(0, Ordering::Relaxed) as f64 / 10.0;
    let mut line = format!(
        "t {:.1} s | load {load:.1} % (peak {peak:.1}) | xruns {} | dropped {} | in under {} over {} | {}",
        LiveStats::get(&stats.frames) as f64 / rate,
        LiveStats::get(&stats.xruns),
        LiveStats::get(&stats.dropped_commands),
        LiveStats::get(&stats.input_underruns),
        LiveStats::get(&stats.input_overruns),
        latency_text(stats, rate),
    );
    // The native JACK client's own counters, when there is something to say.
    for (counter, what) in [
        (&stats.oversized_cycles, "cycles too long (silent)"),
        (&stats.midi_in_dropped, "MIDI in dropped"),
        (&stats.midi_out_dropped, "MIDI out dropped"),
    ] {
        let n = LiveStats::get(counter);
        if n > 0 {
            line.push_str(&format!(" | {what} {n}"));
        }
    }
    if let Some(tempo) = tempo_text(&snapshot.grid, rate) {
        line.push_str(" | ");
        line.push_str(&tempo);
    }
    for (i, t) in snapshot.tracks().iter().enumerate() {
        line.push_str(&format!(" | {} {} {:.2}", i + 1, t.mode.label(), t.position));
        if let Some(action) = t.waiting {
            line.push_str(&format!(" (waits to {})", action.name()));
        }
    }
    line
}

/// "tempo 123.0 BPM (midi, locked) bar 3 beat 2", or `None` without a grid.
pub fn tempo_text(grid: &crate::engine::GridState, rate: f64) -> Option<String> {
    use crate::engine::{Lock, SyncSource};
    if grid.source == SyncSource::None && !grid.running {
        return None;
    }
    let tempo =
        format!("tempo {:.1} BPM ({}, {})", grid.tempo_bpm(rate), grid.source.name(), grid.lock.label());
    if grid.lock == Lock::Waiting && !grid.running {
        return Some(tempo);
    }
    let (bar, beat) = grid.bar_beat();
    Some(format!("{tempo} bar {bar} beat {beat}"))
}

/// "latency 1792 fr (37.3 ms, from stream timestamps)".
pub fn latency_text(stats: &LiveStats, rate: f64) -> String {
    let (frames, source) = stats.record_latency();
    format!("latency {frames} fr ({:.1} ms, {})", f64::from(frames) * 1000.0 / rate, source.describe())
}

/// `ferrotape devices`: audio hosts and devices, then MIDI ports.
pub fn devices_text() -> String {
    let mut text = String::new();
    #[cfg(feature = "jack")]
    text.push_str(&io::jack_native::describe());
    text.push_str(&io::audio::describe_devices());
    text.push_str(&midi_ports_text());
    text
}

/// The MIDI ports section of `ferrotape devices`.
pub fn midi_ports_text() -> String {
    let capture = io::stderr::StderrCapture::begin();
    let ports = io::midi::list_ports();
    drop(capture);
    match ports {
        Ok(ports) if ports.is_empty() => {
            "MIDI inputs: none found (ferrotape:midi_in is created when playing)\n".to_string()
        }
        Ok(ports) => {
            let mut text = String::from("MIDI inputs (open with --midi NAME, or --midi all):\n");
            for port in ports {
                text.push_str(&format!("  {port}\n"));
            }
            text
        }
        Err(e) => format!("MIDI inputs: none ({e})\n"),
    }
}
