//! The instrument on a real rig: a private JACK server at 64, 256 and 1024
//! frames per period, and a rig client standing for the sound card (with
//! declared converter latencies), the room and the performer. The round
//! trip is measured by ferrotape itself, then given with `--latency-ms`;
//! either way what is recorded is what was heard, a take re-renders bit for
//! bit, and its stems are whole when JACK's period is longer than `--buffer`.
//! ferrotape plays through cpal's JACK host here (`--audio-host jack`): what
//! is measured is the round trip read off its stream timestamps.
#![cfg(feature = "jack")]

mod live_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferrotape::analysis::{dominant_rate, instantaneous_frequency};
use live_support::rig::{Performer, Rig};
use live_support::*;

/// Frames from ferrotape's output port to the performer's ear, and from the
/// performer to ferrotape's input port: a converter pair with some buffering.
const PLAYBACK_LATENCY: u32 = 300;
const CAPTURE_LATENCY: u32 = 211;
const RATE: f64 = 48_000.0;

/// The rig finds its server through the environment: one test at a time.
static ONE_RIG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_rig_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_RIG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What one run of `ferrotape play --no-tui` on the rig left behind.
struct Played {
    stdout: String,
    /// The compensated latency the run ended with, frames.
    latency: u32,
}

/// Play `patch` with `events` on a rig of `performer`, with extra arguments.
fn play_on_rig(
    server: &JackServer,
    scratch: &Scratch,
    performer: Performer,
    patch: &Path,
    events: &Path,
    seconds: f64,
    extra: &[String],
) -> Played {
    for (key, value) in server.env() {
        std::env::set_var(key, value);
    }
    let rig = Rig::start("rig", performer, PLAYBACK_LATENCY, CAPTURE_LATENCY);
    let child = Command::new(binary())
        .args(["play", patch.to_str().unwrap(), "--no-tui", "--events", events.to_str().unwrap()])
        .args(["--duration", &seconds.to_string(), "--input-channel", "1", "--buffer", "256"])
        // cpal's JACK host: what is measured here is its stream timestamps.
        .args(["--audio-host", "jack"])
        .args(extra)
        .env("XDG_STATE_HOME", &scratch.0)
        .envs(server.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ferrotape");
    let pid = child.id();
    let child = KillOnDrop(Some(child));
    rig.connect(pid);
    let out = child.wait();
    drop(rig);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\nstdout: {stdout}\nstderr: {stderr}", out.status);
    let latency = stdout
        .lines()
        .rev()
        .find_map(|l| l.split("record latency ").nth(1)?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no latency reported: {stdout}"));
    Played { stdout, latency }
}

/// `--latency-ms` for a latency in frames, to the frame.
fn latency_args(frames: u32) -> Vec<String> {
    vec!["--latency-ms".into(), format!("{:.9}", f64::from(frames) * 1000.0 / RATE)]
}

fn read_wav(path: &Path) -> Vec<f32> {
    let mut reader = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader.samples::<f32>().map(Result::unwrap).collect()
}

/// The one take folder in `dir`.
fn the_take(dir: &Path) -> PathBuf {
    let takes: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("take.toml").is_file())
        .collect();
    assert_eq!(takes.len(), 1, "takes in {}: {takes:?}", dir.display());
    takes[0].clone()
}

const SESSION_PATCH: &str = r#"
version = 1
name = "rig session"
seed = 3

[[track]]
length = 2.0
wow_pct = 1.0
wow_hz = 4.0
flutter_pct = 0.0
pan = -0.5

[[track]]
length = 2.0
wow_pct = 0.0
flutter_pct = 0.5
flutter_hz = 8.0
pan = 0.5
"#;

/// Record a tone through the wobbling tapes, play it back flat, then dub,
/// change speed, reverse and erase: everything a take must carry.
const SESSION_EVENTS: &str = r#"
[[event]]
at = 0.8
track = 1
do = "record"

[[event]]
at = 0.8
track = 2
do = "record"

[[event]]
at = 3.0
track = 1
do = "play"

[[event]]
at = 3.0
track = 2
do = "play"

[[event]]
at = 3.05
track = 1
set = "wow_pct"
to = 0.0

[[event]]
at = 3.05
track = 2
set = "flutter_pct"
to = 0.0

[[event]]
at = 5.5
track = 1
do = "dub"

[[event]]
at = 5.8
track = 1
set = "speed"
to = 0.7

[[event]]
at = 6.2
track = 1
do = "reverse"

[[event]]
at = 6.6
track = 2
do = "erase"

[[event]]
at = 7.0
track = 2
do = "play"

[[event]]
at = 7.2
track = 1
do = "play"
"#;

/// Frequency track of a stem between two seconds, the punch seam left out.
fn steady_frequency(stem: &[f32], from_s: f64, to_s: f64) -> Vec<(f64, f64)> {
    let window = &stem[(from_s * RATE) as usize..(to_s * RATE) as usize];
    instantaneous_frequency(window, RATE).into_iter().filter(|&(_, f)| (f - 1000.0).abs() < 30.0).collect()
}

/// Peak over fundamental of the flutter waveform, from an offline render of
/// a flutter recorded and played back flat (as in the session).
fn flutter_peak_per_fundamental() -> f64 {
    let patch = ferrotape::patch::Patch::parse(SESSION_PATCH, Path::new("session.toml")).unwrap();
    let events =
        ferrotape::events::EventList::parse(SESSION_EVENTS, Path::new("session.events.toml")).unwrap();
    let score: Vec<_> = events.frames(RATE).collect();
    let input = ferrotape::analysis::sine(1000.0, 0.4, RATE, (7.5 * RATE) as usize);
    let out = ferrotape::render::render_to_memory(
        patch.engine_config(),
        48_000,
        &input,
        &score,
        (5.5 * RATE) as u64,
        256,
    );
    let track = steady_frequency(&out.stems[1], 3.5, 5.4);
    let (_, fundamental) = dominant_rate(&track, 5.0, 11.0, 0.01);
    let peak = track.iter().map(|s| (s.1 - 1000.0).abs()).fold(0.0, f64::max);
    peak / fundamental
}

fn session_on_rig(period: u32) {
    let _turn = one_rig_at_a_time();
    let Some(server) = JackServer::start_with(&format!("rig-session-{period}"), period, true) else { return };
    let scratch = Scratch::new(&format!("rig-session-{period}"));
    let patch = scratch.write("patch.toml", SESSION_PATCH);
    let events = scratch.write("events.toml", SESSION_EVENTS);
    let mut measured = None;
    for mode in ["measured", "given"] {
        let takes = scratch.0.join(format!("takes-{mode}"));
        let mut args = vec!["--take".to_string(), "--takes".into(), takes.to_str().unwrap().into()];
        if let Some(frames) = measured {
            args.extend(latency_args(frames));
        }
        let tone = Performer::Tone { hz: 1000.0, amplitude: 0.4 };
        let played = play_on_rig(&server, &scratch, tone, &patch, &events, 7.5, &args);
        measured.get_or_insert(played.latency);
        eprintln!("period {period}, latency {mode}: {}", played.stdout.lines().last().unwrap_or_default());
        let take = the_take(&takes);

        // The wobble recorded onto the tape, played back flat.
        let wow = steady_frequency(&read_wav(&take.join("track-01.wav")), 3.5, 5.4);
        let (rate, amplitude) = dominant_rate(&wow, 2.0, 6.0, 0.01);
        let wow_pct = amplitude / 10.0;
        let flutter = steady_frequency(&read_wav(&take.join("track-02.wav")), 3.5, 5.4);
        let (flutter_rate, fundamental) = dominant_rate(&flutter, 5.0, 11.0, 0.01);
        // The flutter waveform has harmonics: its peak is the setting, its
        // fundamental a fixed share of it, measured on the offline engine.
        let flutter_pct = fundamental / 10.0 * flutter_peak_per_fundamental();
        eprintln!(
            "period {period}, latency {mode}: recorded wow {wow_pct:.3} % at {rate:.2} Hz, flutter {flutter_pct:.3} % at {flutter_rate:.2} Hz"
        );
        assert!((rate - 4.0).abs() < 0.25, "wow rate {rate:.2} Hz");
        assert!(
            (wow_pct - 1.0).abs() <= 0.1,
            "period {period}, {mode}: recorded wow {wow_pct:.3} % (set 1 %)"
        );
        assert!((flutter_rate - 8.0).abs() < 0.4, "flutter rate {flutter_rate:.2} Hz");
        assert!(
            (flutter_pct - 0.5).abs() <= 0.05,
            "period {period}, {mode}: recorded flutter {flutter_pct:.3} % (set 0.5 %)"
        );

        // The take again, from its journal: bit for bit, stems included.
        let again = scratch.0.join(format!("again-{mode}.wav"));
        let stems = scratch.0.join(format!("again-{mode}"));
        let (code, out, err) = run(
            &[
                "render",
                take.to_str().unwrap(),
                "--out",
                again.to_str().unwrap(),
                "--stems",
                stems.to_str().unwrap(),
            ],
            &[],
            Duration::from_secs(120),
        );
        assert_eq!(code, Some(0), "{out}\n{err}");
        assert!(out.contains("exact replay"), "{out}");
        for (original, rendered) in [
            (take.join("mix.wav"), again.clone()),
            (take.join("track-01.wav"), stems.join("track-01.wav")),
            (take.join("track-02.wav"), stems.join("track-02.wav")),
        ] {
            let (a, b) = (read_wav(&original), read_wav(&rendered));
            assert_eq!(a.len(), b.len(), "{}", original.display());
            let first = a.iter().zip(&b).position(|(x, y)| x.to_bits() != y.to_bits());
            assert_eq!(
                first,
                None,
                "period {period}, {mode}: {} differs from its re-render",
                original.display()
            );
        }
        assert!(played.stdout.contains("played "), "{}", played.stdout);
    }
}

#[test]
fn a_session_on_a_rig_at_64_frames() {
    session_on_rig(64);
}

#[test]
fn a_session_on_a_rig_at_256_frames() {
    session_on_rig(256);
}

#[test]
fn a_session_on_a_rig_at_1024_frames() {
    session_on_rig(1024);
}

const ECHO_PATCH: &str = r#"
version = 1
name = "rig echo"
seed = 5

[[track]]
length = 1.0
saturation = "off"
tone = "flat"
feedback = 1.0
wow_pct = 1.0
wow_hz = 3.0
flutter_pct = 0.2
"#;

/// Dub while the performer plays back exactly what they hear.
const ECHO_EVENTS: &str = r#"
[[event]]
at = 2.0
track = 1
do = "dub"

[[event]]
at = 2.9
track = 1
do = "play"
"#;

/// The cell a click sits on, refined between cells.
fn peak_cell(x: &[f32]) -> f64 {
    let (i, _) = x.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap();
    let (a, b, c) = (x[i - 1].abs(), x[i].abs(), x[i + 1].abs());
    let denominator = a - 2.0 * b + c;
    i as f64 + if denominator.abs() > 1e-12 { (0.5 * (a - c) / denominator) as f64 } else { 0.0 }
}

/// The true round trip of a take: from a click in the mix to its echo in the input.
fn true_round_trip(take: &Path) -> i64 {
    let mix = read_wav(&take.join("mix.wav"));
    let left: Vec<f32> = mix.chunks(2).map(|f| f[0]).collect();
    let input = read_wav(&take.join("input.wav"));
    let loudest =
        |x: &[f32]| x.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap().0 as i64;
    loudest(&input) - loudest(&left)
}

fn echo_on_rig(period: u32) {
    let _turn = one_rig_at_a_time();
    let Some(server) = JackServer::start_with(&format!("rig-echo-{period}"), period, true) else { return };
    let scratch = Scratch::new(&format!("rig-echo-{period}"));
    let patch = scratch.write("patch.toml", ECHO_PATCH);
    let events = scratch.write("events.toml", ECHO_EVENTS);
    const CLICK: usize = 24_000;
    let mut truth = None;
    for mode in ["measured", "given"] {
        // The loop holds one click; the session tapes put it on the tape at start.
        let mut tape = vec![0.0f32; 48_000];
        tape[CLICK] = 0.5;
        let tapes = ferrotape::session::tapes_dir(&patch);
        std::fs::create_dir_all(&tapes).unwrap();
        ferrotape::session::write_tape(&tapes.join("track-01.wav"), &tape, 48_000).unwrap();
        let autosaves = scratch.0.join(".autosave");
        let _ = std::fs::remove_dir_all(&autosaves);
        let takes = scratch.0.join(format!("takes-{mode}"));
        let mut args =
            vec!["--autosave".to_string(), "--take".into(), "--takes".into(), takes.to_str().unwrap().into()];
        // The second run is given the round trip the first one really had.
        if let Some(frames) = truth {
            args.extend(latency_args(frames));
        }
        let played = play_on_rig(&server, &scratch, Performer::Echo, &patch, &events, 3.2, &args);
        let real = true_round_trip(&the_take(&takes));
        truth.get_or_insert(real as u32);
        let (_, saved) = ferrotape::session::Autosave::beside(&patch).list().pop().expect("an autosave");
        let after = read_wav(&saved.join("tapes").join("track-01.wav"));
        // What the dub added: the click as it was heard, played back into the input.
        let added: Vec<f32> = after.iter().zip(&tape).map(|(a, b)| a - b).collect();
        let peak = added.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(peak > 0.1, "period {period}, {mode}: nothing was dubbed (peak {peak})\n{}", played.stdout);
        let landed = peak_cell(&added);
        eprintln!(
            "period {period}, latency {mode} ({} frames, true round trip {real}): the echo of the click at cell {CLICK} landed at {landed:.2}",
            played.latency
        );
        let tolerance = 1.0;
        assert!(
            (f64::from(played.latency) - real as f64).abs() <= tolerance,
            "period {period}, {mode}: compensated {} frames, the true round trip was {real}",
            played.latency
        );
        assert!(
            (landed - CLICK as f64).abs() <= tolerance,
            "period {period}, {mode}: the echo landed at cell {landed:.2}, the click is at {CLICK}"
        );
    }
}

#[test]
fn what_is_dubbed_lands_where_it_was_heard_at_64_frames() {
    echo_on_rig(64);
}

#[test]
fn what_is_dubbed_lands_where_it_was_heard_at_256_frames() {
    echo_on_rig(256);
}

#[test]
fn what_is_dubbed_lands_where_it_was_heard_at_1024_frames() {
    echo_on_rig(1024);
}

/// Kill the child if the test fails before it exits.
struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    fn wait(mut self) -> std::process::Output {
        let child = self.0.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut child = child;
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "ferrotape did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
