//! `play --no-tui` on a private JACK server (build with `--features jack`),
//! driven by MIDI from a second client: the real binary as the native JACK
//! client `ferrotape`, its `midi_in` fed by a MIDI device on the graph.
//!
//! - A note held to dub records a 440 Hz tone into the loop; a CC bound to
//!   speed halves the pitch; a CC bound to erase pressure wipes the loop.
//! - `--learn speed:1 --midi-map FILE`: the next CC moved is bound, saved to
//!   the map file, and drives speed straight away.
//!
//! Without `jackd` the tests say why and pass, except under CI (`CI=true`).
#![cfg(feature = "jack")]

mod live_support;

use ferrotape::analysis::{db, frequency, rms};
use ferrotape::engine::Param;
use ferrotape::midi_map::{BindingTarget, Control, MidiMap, TrackTarget};
use jack::Client;
use live_support::midi_device::MidiDevice;
use live_support::*;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The test clients find their server through the process environment, so
/// these tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

const TONE_HZ: f64 = 440.0;
const TONE_AMPLITUDE: f32 = 0.25;

/// A clean one-second loop with a note held to dub, a CC for speed (0 to
/// 1.27, so CC 50 = 0.5x) and a CC for erase pressure.
const MIDI_PATCH: &str = r#"
version = 1
name = "midi live test"
seed = 1

[[track]]
length = 1.0
saturation = "off"
tone = "flat"
wow_pct = 0.0
flutter_pct = 0.0
inertia_s = 0.0

[[midi]]
note = 36
do = "dub"
track = 1
mode = "momentary"

[[midi]]
cc = 21
set = "speed"
track = 1
mode = "absolute"
curve = "linear"
min = 0.0
max = 1.27

[[midi]]
cc = 22
do = "erase_pressure"
track = 1
"#;

/// The binary under test: stopped with SIGTERM (the way a user stops it),
/// killed if a failing test leaves it running.
struct Ferrotape(Option<Child>);

impl Ferrotape {
    fn start(args: &[&str], server: &JackServer, state: &std::path::Path) -> Ferrotape {
        let child = Command::new(binary())
            .args(args)
            .envs(server.env())
            .env("XDG_STATE_HOME", state)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ferrotape");
        Ferrotape(Some(child))
    }

    /// SIGTERM, then wait (up to 30 s) for a clean exit; (success, stdout, stderr).
    fn terminate(mut self) -> (bool, String, String) {
        let mut child = self.0.take().expect("running");
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let status = child.wait().expect("wait");
        let mut out = String::new();
        let mut err = String::new();
        if let Some(mut s) = child.stdout.take() {
            let _ = s.read_to_string(&mut out);
        }
        if let Some(mut s) = child.stderr.take() {
            let _ = s.read_to_string(&mut err);
        }
        (status.success(), out, err)
    }
}

impl Drop for Ferrotape {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Wait (generously: the machine may be busy) until `jack_lsp` lists `port`.
fn wait_for_port(server: &JackServer, port: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = jack_lsp()
            .envs(server.env())
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == port))
            .unwrap_or(false);
        if listed {
            return;
        }
        assert!(Instant::now() < deadline, "port {port} did not appear within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A MIDI device connected to ferrotape's virtual input.
fn midi_sender() -> MidiDevice {
    let device = MidiDevice::plug_in("tester-midi");
    device.connect_to("ferrotape:midi_in");
    device
}

fn connect(client: &Client, from: &str, to: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Err(e) = client.connect_ports_by_name(from, to) {
        assert!(Instant::now() < deadline, "cannot connect {from} to {to}: {e}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The median of quarter-second frequency estimates (one window may
/// straddle a seam in the loop).
fn median_frequency(x: &[f32], rate: f64) -> f64 {
    let mut quarters: Vec<f64> =
        x.chunks((rate / 4.0) as usize).filter(|w| w.len() > 1000).map(|w| frequency(w, rate)).collect();
    quarters.sort_by(f64::total_cmp);
    quarters[quarters.len() / 2]
}

#[test]
fn midi_dubs_a_tone_halves_its_speed_and_erases_it() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(server) = JackServer::start("midi-e2e") else { return };
    for (key, value) in server.env() {
        std::env::set_var(key, value);
    }
    let scratch = Scratch::new("jack-midi-e2e");
    let patch = scratch.write("patch.toml", MIDI_PATCH);

    // The test client: a 440 Hz sine out, ferrotape's output in.
    let (active, heard, rate) = tone_client("tester", TONE_HZ, TONE_AMPLITUDE);

    let app = Ferrotape::start(
        &["play", patch.to_str().unwrap(), "--no-tui", "--input-channel", "1"],
        &server,
        &scratch.0,
    );
    let (input, output) = ("ferrotape:in_1".to_string(), "ferrotape:out_L".to_string());
    wait_for_port(&server, &input);
    wait_for_port(&server, &output);
    wait_for_port(&server, "ferrotape:midi_in");
    let c = active.as_client();
    connect(c, "tester:tone", &input);
    connect(c, &output, "tester:heard");
    let midi = midi_sender();
    let mark = || heard.lock().unwrap().len();
    // Let the stream prime its input and settle.
    std::thread::sleep(Duration::from_millis(1500));

    let dub_start = mark();
    midi.send(&[0x90, 36, 100]);
    std::thread::sleep(Duration::from_millis(1300));
    midi.send(&[0x80, 36, 0]);
    let dub_end = mark();
    std::thread::sleep(Duration::from_millis(1800));
    let slow = mark();
    midi.send(&[0xB0, 21, 50]);
    std::thread::sleep(Duration::from_millis(2500));
    let erase = mark();
    midi.send(&[0xB0, 22, 127]);
    std::thread::sleep(Duration::from_millis(4000));
    let end = mark();

    let (ok, stdout, stderr) = app.terminate();
    drop(active);
    assert!(ok, "ferrotape did not stop cleanly on SIGTERM\nstdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("played "), "no report after SIGTERM: {stdout}");

    let heard = heard.lock().unwrap().clone();
    let s = |seconds: f64| (seconds * rate) as usize;
    let before = &heard[dub_start.saturating_sub(s(1.0))..dub_start];
    let normal = &heard[dub_end + s(0.3)..slow - s(0.1)];
    let half = &heard[slow + s(0.4)..erase - s(0.1)];
    let erased = &heard[end - s(1.0)..end];
    let (f1, f2) = (median_frequency(normal, rate), median_frequency(half, rate));
    let (l1, l2, l3) = (db(rms(normal)), db(rms(half)), db(rms(erased)));
    println!(
        "before dub {:.1} dBFS; after dub {f1:.2} Hz at {l1:.1} dBFS; after the speed CC {f2:.2} Hz at {l2:.1} dBFS (ratio {:.4}); after erase pressure {l3:.1} dBFS",
        db(rms(before)),
        f2 / f1
    );
    assert!(db(rms(before)) < -60.0, "silence before the dub");
    // Within 1 %: on a loaded machine an input underrun can drop a few frames
    // into the loop; the speed change below is judged by the exact ratio.
    assert!((f1 / TONE_HZ - 1.0).abs() < 0.01, "the loop plays {f1:.2} Hz after the dub, expected {TONE_HZ}");
    assert!(l1 > -30.0, "the dubbed loop is too quiet ({l1:.1} dBFS)");
    assert!(
        (f2 / f1 - 0.5).abs() < 0.005,
        "after the speed CC the loop plays {f2:.2} Hz, expected half of {f1:.2}"
    );
    assert!(l3 < l2 - 20.0, "erase pressure did not wipe the loop: {l2:.1} → {l3:.1} dBFS");
}

#[test]
fn a_learned_cc_is_saved_to_the_map_file_and_drives_speed() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(server) = JackServer::start("midi-learn") else { return };
    let scratch = Scratch::new("jack-midi-learn");
    let patch = scratch.write("patch.toml", CLEAN_PATCH);
    let map = scratch.0.join("controller.toml");
    let app = Ferrotape::start(
        &[
            "play",
            patch.to_str().unwrap(),
            "--no-tui",
            "--learn",
            "speed:1",
            "--midi-map",
            map.to_str().unwrap(),
        ],
        &server,
        &scratch.0,
    );
    wait_for_port(&server, "ferrotape:midi_in");
    for (key, value) in server.env() {
        std::env::set_var(key, value);
    }
    let midi = midi_sender();
    // Keep moving the knob until the binding is on disk (the first messages
    // may arrive before the connection is complete).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&map).is_ok_and(|t| t.contains("cc = 30")) {
        assert!(Instant::now() < deadline, "the learned binding was not saved to {}", map.display());
        midi.send(&[0xB0, 30, 64]);
        std::thread::sleep(Duration::from_millis(200));
    }
    // The binding is live: the next message is routed to speed.
    std::thread::sleep(Duration::from_millis(300));
    midi.send(&[0xB0, 30, 100]);
    std::thread::sleep(Duration::from_millis(2500));
    let (ok, stdout, stderr) = app.terminate();
    assert!(ok, "stdout: {stdout}\nstderr: {stderr}");
    println!("{stdout}");
    assert!(stdout.contains("learned CC 30 ch 1 → track 1 speed"), "{stdout}");
    assert!(stdout.contains("midi CC 30 = 100 ch 1 → track 1 speed"), "{stdout}");

    let reloaded = MidiMap::load(&map).expect("the map file loads back");
    assert_eq!(reloaded.bindings.len(), 1, "{reloaded:?}");
    let binding = reloaded.bindings[0];
    assert_eq!(binding.control, Control::Cc(30));
    assert_eq!(binding.target, BindingTarget::Param(Param::Speed));
    assert_eq!(binding.track, TrackTarget::Number(1));
    let check = Command::new(binary()).args(["check", map.to_str().unwrap()]).output().unwrap();
    assert!(check.status.success(), "ferrotape check: {}", String::from_utf8_lossy(&check.stderr));
}
