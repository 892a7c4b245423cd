//! Playing in time on a private JACK server (build with `--features jack`):
//! the real binary's native JACK client against a test client that is a
//! drum machine (MIDI clock with jitter, a click on every bar) and a monitor
//! (ferrotape's MIDI out and audio out, with their frames).
//!
//! - MIDI clock in at several tempi, with ±1 ms of jitter: the tempo read
//!   back; stop and continue.
//! - A bar-quantized free track pressed off the grid gets a loop of exactly
//!   two bars of the machine's clock (from the saved tape's length), and its
//!   playback stays on the machine's bar lines over a long run.
//! - Clock out: ticks exact to a frame at several tempi; start and stop.
//! - The JACK transport rolling and relocating moves the grid.
//!
//! Without `jackd` the tests say why and pass, except under CI (`CI=true`).
#![cfg(feature = "jack")]

mod live_support;

use live_support::clock::ClockRig;
use live_support::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The test clients find their server through the process environment, so
/// these tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

const RATE: f64 = 48_000.0;

/// One clean free track quantized to the bar, on a grid from `source`.
fn patch(source: &str, tempo: f64, extra_sync: &str) -> String {
    format!(
        r#"
version = 1
name = "in time"
seed = 1

[sync]
source = "{source}"
tempo = {tempo}
{extra_sync}

[[track]]
length = "free"
max_length = 20.0
quantize = "bar"
saturation = "off"
tone = "flat"
wow_pct = 0.0
flutter_pct = 0.0
inertia_s = 0.0
"#
    )
}

/// The binary, its status lines collected as they come.
struct Ferrotape {
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Ferrotape {
    fn start(args: &[&str], server: &JackServer, dir: &std::path::Path) -> Ferrotape {
        let mut child = Command::new(binary())
            .args(args)
            .envs(server.env())
            .env("XDG_STATE_HOME", dir)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run ferrotape");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("stdout");
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Ferrotape { child: Some(child), lines }
    }

    /// The latest status line that mentions the tempo.
    fn tempo_line(&self) -> Option<String> {
        self.lines.lock().unwrap().iter().rev().find(|l| l.contains("tempo ")).cloned()
    }

    /// Wait (up to `limit`) for a status line containing `text`.
    fn wait_for(&self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.lines.lock().unwrap().iter().rev().find(|l| l.contains(text)) {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no status line with {text:?} within {limit:?}; last: {:?}",
                self.tempo_line()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, and wait for a clean exit (the autosave is written then).
    fn terminate(mut self) -> bool {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().is_ok_and(|s| s.success())
    }
}

impl Drop for Ferrotape {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The tempo a status line reads, BPM.
fn tempo_of(line: &str) -> f64 {
    let after = line.split("tempo ").nth(1).expect("a tempo");
    after.split(' ').next().and_then(|t| t.parse().ok()).expect("a number")
}

/// A synchronous server (`jackd --sync`): a busy moment slows the cycle
/// down instead of making a client miss it, as real-time priority does on a
/// real rig, so the clock and ferrotape count the same frames.
fn start_server(tag: &str) -> Option<JackServer> {
    let server = JackServer::start_with(tag, 256, true)?;
    for (key, value) in server.env() {
        std::env::set_var(key, value);
    }
    Some(server)
}

#[test]
fn midi_clock_sets_the_tempo_at_several_tempi_with_jitter_and_stop_waits() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(server) = start_server("clock-in") else { return };
    let scratch = Scratch::new("jack-clock-in");
    let patch = scratch.write("patch.toml", &patch("midi", 120.0, ""));
    let machine = ClockRig::start("machine", 123.0);
    let app = Ferrotape::start(&["play", patch.to_str().unwrap(), "--no-tui"], &server, &scratch.0);
    machine.connect("ferrotape");
    app.wait_for("(midi, waiting for clock)", Duration::from_secs(20));
    machine.set_jitter_ms(1.0);
    machine.press_start();
    for bpm in [123.0, 90.0, 174.0] {
        machine.set_bpm(bpm);
        // Two bars and then some: the status line (one decimal) reads the tempo.
        let expected = format!("tempo {bpm:.1} BPM (midi, locked)");
        std::thread::sleep(Duration::from_secs_f64(8.0 * 60.0 / bpm + 1.0));
        let line = app.wait_for(&expected, Duration::from_secs(10));
        assert!((tempo_of(&line) - bpm).abs() < 0.051, "{line}");
    }
    machine.press_stop();
    app.wait_for("(midi, waiting for clock)", Duration::from_secs(10));
    machine.press_continue(Some(16));
    app.wait_for("(midi, locked) bar 2", Duration::from_secs(10));
    assert!(app.terminate(), "ferrotape exits cleanly");
}

#[test]
fn a_quantized_take_on_midi_clock_is_two_bars_and_stays_on_the_bar_lines() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(server) = start_server("clock-take") else { return };
    let scratch = Scratch::new("jack-clock-take");
    let patch = scratch.write("patch.toml", &patch("midi", 120.0, ""));
    // Presses well off the grid: record 0.3 s into a bar, play 0.6 s into a later one.
    let events = scratch.write(
        "events.toml",
        "[[event]]\nat = 4.3\ntrack = 1\ndo = \"record\"\n\n[[event]]\nat = 8.6\ntrack = 1\ndo = \"play\"\n",
    );
    let bpm = 123.0;
    let machine = ClockRig::start("machine", bpm);
    let app = Ferrotape::start(
        &["play", patch.to_str().unwrap(), "--no-tui", "--events", events.to_str().unwrap(), "--autosave"],
        &server,
        &scratch.0,
    );
    machine.connect("ferrotape");
    machine.press_start();
    // The take closes by ~10.5 s; then six loops of playback.
    std::thread::sleep(Duration::from_secs(12));
    let loop_frames = 8.0 * 60.0 * RATE / bpm;
    std::thread::sleep(Duration::from_secs_f64(6.0 * loop_frames / RATE));
    let (t0, heard) = machine.audio.lock().unwrap().clone();
    assert!(app.terminate(), "ferrotape exits cleanly");

    // The saved tape: exactly the frames between two bar lines of the clock.
    let autosaves: Vec<_> =
        std::fs::read_dir(scratch.0.join(".autosave")).expect(".autosave").flatten().collect();
    let newest = autosaves.iter().map(|e| e.path()).max().expect("an autosave");
    let session = ferrotape::session::load_autosave(&newest, RATE as u32).expect("autosave loads");
    let cells = session.tapes[0].as_ref().expect("a tape").len() as f64;
    assert!((cells - loop_frames).abs() <= 2.0, "{cells} cells for two bars of {loop_frames:.2} frames");

    // Playback: the clicks recorded on the machine's bar lines come back on
    // them, loop after loop (the offset is the record latency, constant).
    let bar_frames = loop_frames / 2.0;
    let mut clicks = Vec::new();
    let mut i = 0;
    while i < heard.len() {
        if heard[i].abs() > 0.3 {
            clicks.push(t0 + i as u64);
            i += (bar_frames / 2.0) as usize;
        } else {
            i += 1;
        }
    }
    assert!(clicks.len() >= 8, "{} clicks heard", clicks.len());
    let first = clicks[0];
    let worst = clicks
        .iter()
        .map(|&c| {
            let bars = (c - first) as f64 / bar_frames;
            ((c - first) as f64 - bars.round() * bar_frames).abs()
        })
        .fold(0.0, f64::max);
    assert!(
        worst <= 3.0,
        "playback left the clock's bar lines by {worst} frames over {} clicks",
        clicks.len()
    );
}

#[test]
fn clock_out_ticks_land_on_the_frame_and_follow_start_and_stop() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(server) = start_server("clock-out") else { return };
    let scratch = Scratch::new("jack-clock-out");
    for bpm in [123.4, 60.0, 200.0] {
        let patch = scratch.write("patch.toml", &patch("internal", bpm, "clock_out = true"));
        let machine = ClockRig::start("monitor", 120.0);
        let app = Ferrotape::start(&["play", patch.to_str().unwrap(), "--no-tui"], &server, &scratch.0);
        machine.connect("ferrotape");
        let deadline = Instant::now() + Duration::from_secs(20);
        while machine.heard(0xF8).len() < 24 * 8 {
            assert!(Instant::now() < deadline, "{bpm} BPM: {} ticks heard", machine.heard(0xF8).len());
            std::thread::sleep(Duration::from_millis(100));
        }
        let ticks = machine.heard(0xF8);
        let period = 60.0 * RATE / bpm / 24.0;
        let first = ticks[0] as f64;
        let worst = ticks
            .iter()
            .enumerate()
            .map(|(k, &t)| {
                // Each tick on the line through the first, to a frame.
                let ideal = first + k as f64 * period;
                (t as f64 - ideal).abs()
            })
            .fold(0.0, f64::max);
        assert!(worst <= 1.0, "{bpm} BPM: a tick {worst} frames off its line");
        // The start went out with the engine's first frame, usually before
        // the monitor was connected; heard, it is once and before the ticks.
        let starts = machine.heard(0xFA);
        assert!(starts.len() <= 1, "{bpm} BPM: {} starts", starts.len());
        assert!(starts.iter().all(|&s| s <= ticks[0]), "start comes before the first tick");
        assert!(app.terminate());
        drop(machine);
    }
}

#[test]
fn following_midi_clock_sends_it_on_and_stops_with_it() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(server) = start_server("clock-thru") else { return };
    let scratch = Scratch::new("jack-clock-thru");
    let patch = scratch.write("patch.toml", &patch("midi", 120.0, "clock_out = true"));
    let machine = ClockRig::start("machine", 100.0);
    let app = Ferrotape::start(&["play", patch.to_str().unwrap(), "--no-tui"], &server, &scratch.0);
    machine.connect("ferrotape");
    std::thread::sleep(Duration::from_millis(500));
    assert!(machine.heard(0xF8).is_empty(), "no clock out before the clock in runs");
    machine.press_start();
    app.wait_for("tempo 100.0 BPM (midi, locked)", Duration::from_secs(15));
    assert_eq!(machine.heard(0xFA).len(), 1, "start sent on");
    machine.press_stop();
    let deadline = Instant::now() + Duration::from_secs(10);
    while machine.heard(0xFC).is_empty() {
        assert!(Instant::now() < deadline, "no stop sent on");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stop = machine.heard(0xFC)[0];
    std::thread::sleep(Duration::from_millis(500));
    assert!(machine.heard(0xF8).iter().all(|&t| t < stop), "no ticks after stop");
    assert!(app.terminate());
}

#[test]
fn the_jack_transport_rolling_and_relocating_moves_the_grid() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(server) = start_server("transport") else { return };
    let scratch = Scratch::new("jack-transport");
    let patch = scratch.write("patch.toml", &patch("jack", 120.0, ""));
    let (client, _) =
        jack::Client::new("transport-tester", jack::ClientOptions::NO_START_SERVER).expect("client");
    let transport = client.transport();
    let _ = transport.stop();
    let _ = transport.locate(0);
    let app = Ferrotape::start(&["play", patch.to_str().unwrap(), "--no-tui"], &server, &scratch.0);
    app.wait_for("(jack, waiting for clock)", Duration::from_secs(20));
    transport.start().expect("start the transport");
    app.wait_for("tempo 120.0 BPM (jack, locked)", Duration::from_secs(10));
    // Relocate to bar 9 (beat 32 at 120 BPM without a timebase master).
    transport.locate((32.0 * 24_000.0) as u32).expect("relocate");
    app.wait_for("(jack, locked) bar 9", Duration::from_secs(10));
    transport.stop().expect("stop");
    app.wait_for("(jack, waiting for clock)", Duration::from_secs(10));
    assert!(app.terminate());
}

#[test]
fn a_controller_profile_lights_a_waiting_press_then_the_mode_it_brings() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(server) = start_server("leds") else { return };
    let scratch = Scratch::new("jack-leds");
    let patch = scratch.write("patch.toml", &patch("internal", 120.0, ""));
    let map = std::fs::canonicalize("patches/midi/apc_mini.toml").expect("the APC mini profile");
    let controller = ClockRig::start("apc", 120.0);
    let app = Ferrotape::start(
        &["play", patch.to_str().unwrap(), "--no-tui", "--midi-map", map.to_str().unwrap()],
        &server,
        &scratch.0,
    );
    controller.connect("ferrotape");
    app.wait_for("tempo 120.0 BPM", Duration::from_secs(20));
    // The APC mini's pad 0 (track 1, record): pressed off the bar line.
    controller.send(&[0x90, 0x00, 0x7F]);
    controller.send(&[0x80, 0x00, 0x00]);
    let pad = |colour: u8| vec![0x90, 0x00, colour];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let heard: Vec<Vec<u8>> = controller.heard_all().into_iter().map(|h| h.bytes).collect();
        let blink = heard.iter().position(|b| *b == pad(4));
        let red = heard.iter().rposition(|b| *b == pad(3));
        if let (Some(blink), Some(red)) = (blink, red) {
            assert!(blink < red, "the pad blinks (waiting) before it is red (recording)");
            break;
        }
        assert!(Instant::now() < deadline, "pad 0 never blinked then lit red: {heard:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(app.terminate());
}
