//! End to end through JACK (build with `--features jack`): the real binary
//! plays a patch on a private JACK server as its native client `ferrotape`;
//! a test client feeds a tone into its input and records its output; the loop must give the tone back.
#![cfg(feature = "jack")]

mod live_support;

use ferrotape::analysis::{db, frequency, rms};
use live_support::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TONE_HZ: f64 = 440.0;
const TONE_AMPLITUDE: f32 = 0.25;

#[test]
fn a_tone_recorded_live_comes_back_out_of_the_loop() {
    let Some(server) = JackServer::start("e2e") else { return };
    for (key, value) in server.env() {
        std::env::set_var(key, value);
    }
    let scratch = Scratch::new("jack-e2e");
    let patch = scratch.write("patch.toml", CLEAN_PATCH);
    let events = scratch.write("events.toml", RECORD_THEN_PLAY);

    // The test client: a sine out, ferrotape's output in.
    let (active, heard, rate) = tone_client("tester", TONE_HZ, TONE_AMPLITUDE);

    let child = Command::new(binary())
        .args(["play", patch.to_str().unwrap(), "--no-tui", "--events", events.to_str().unwrap()])
        .args(["--duration", "4", "--quiet", "--input-channel", "1"])
        .env("XDG_STATE_HOME", &scratch.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ferrotape");
    let child = KillOnDrop(Some(child));
    // The native JACK client (the default of jack builds).
    let (input, output) = ("ferrotape:in_1".to_string(), "ferrotape:out_L".to_string());
    let deadline = Instant::now() + Duration::from_secs(10);
    let c = active.as_client();
    while c.port_by_name(&input).is_none() || c.port_by_name(&output).is_none() {
        assert!(
            Instant::now() < deadline,
            "ferrotape's ports did not appear: {:?}",
            c.ports(None, None, jack::PortFlags::empty())
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The ports exist a moment before their client is active: retry briefly.
    let connect = |from: &str, to: &str| {
        let deadline = Instant::now() + Duration::from_secs(3);
        while let Err(e) = c.connect_ports_by_name(from, to) {
            assert!(Instant::now() < deadline, "cannot connect {from} to {to}: {e}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    connect("tester:tone", &input);
    connect(&output, "tester:heard");
    heard.lock().unwrap().clear();
    let connected = Instant::now();

    let out = child.wait();
    let elapsed = connected.elapsed().as_secs_f64();
    drop(active);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\nstdout: {stdout}\nstderr: {stderr}", out.status);

    let heard = heard.lock().unwrap().clone();
    // Record 1.0-2.5 s, play from 2.5 s: the last second before the end is loop playback.
    let last = &heard[heard.len().saturating_sub(48_000 + 12_000)..heard.len().saturating_sub(12_000)];
    let before = &heard[..(0.8 * rate) as usize];
    // Median over quarter-second windows: one may straddle the punch-in seam.
    let mut quarters: Vec<f64> = last.chunks(12_000).map(|w| frequency(w, rate)).collect();
    quarters.sort_by(f64::total_cmp);
    let f = quarters[quarters.len() / 2];
    let level = db(rms(last));
    // The tone's RMS, through a centre pan (equal power: -3.01 dB).
    let expected = db(TONE_AMPLITUDE as f64 / 2f64.sqrt()) + db(0.5f64.sqrt());
    println!(
        "heard {:.2} s ({elapsed:.2} s of wall time): loop {f:.2} Hz at {level:.2} dBFS RMS (expected {expected:.2} dBFS); before recording {:.1} dBFS",
        heard.len() as f64 / rate,
        db(rms(before)),
    );
    assert!(heard.len() as f64 > 3.0 * rate, "too little audio came back");
    assert!((f - TONE_HZ).abs() < 0.2, "loop plays {f:.2} Hz, expected {TONE_HZ} ({quarters:?})");
    assert!((level - expected).abs() < 0.5, "loop level {level:.2} dBFS, expected {expected:.2} dBFS");
    assert!(db(rms(before)) < -60.0, "silence before the recording");
}

/// The binary under test, stopped if the test fails before it exits.
struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    fn wait(mut self) -> std::process::Output {
        self.0.take().unwrap().wait_with_output().unwrap()
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
