//! The default (ALSA) build on real paths with no sound card: ALSA's null
//! device, the ALSA jack plugin through a private JACK server, and the
//! message when no device exists.

mod live_support;

use live_support::*;
use std::time::Duration;

#[test]
fn play_runs_on_the_alsa_null_device_and_exits_cleanly() {
    let scratch = Scratch::new("alsa-null");
    let patch = scratch.write("patch.toml", CLEAN_PATCH);
    let env = vec![("ALSA_CONFIG_PATH".to_string(), alsa_config("null.conf"))];
    let (code, out, err) = run(
        &[
            "play",
            patch.to_str().unwrap(),
            "--no-tui",
            "--duration",
            "1",
            "--input-device",
            "none",
            "--audio-host",
            "alsa",
        ],
        &env,
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    // The null device is not paced (it runs faster than real time): at least the duration played.
    assert!(out.contains("played "), "{out}");
    assert!(!err.contains("ALSA lib"), "alsa-lib chatter reached the terminal: {err}");
}

#[test]
fn a_missing_device_gives_one_line_that_lists_devices_and_suggests_null() {
    let scratch = Scratch::new("alsa-missing");
    let patch = scratch.write("patch.toml", CLEAN_PATCH);
    // The system configuration only: "default" names no card on these machines.
    let env = vec![("ALSA_CONFIG_PATH".to_string(), "/usr/share/alsa/alsa.conf".to_string())];
    let (code, out, err) = run(
        &[
            "play",
            patch.to_str().unwrap(),
            "--no-tui",
            "--audio-host",
            "alsa",
            "--audio-device",
            "no-such-card",
            "--duration",
            "1",
        ],
        &env,
        Duration::from_secs(30),
    );
    assert_ne!(code, Some(0), "stdout: {out}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    let line = lines[0];
    assert!(line.starts_with("ferrotape: no audio output"), "{line}");
    assert!(line.contains("alsa:null"), "lists the devices that exist: {line}");
    assert!(line.contains("--audio null"), "{line}");
    assert!(line.contains("ferrotape devices"), "{line}");
    println!("{line}");
}

#[test]
fn play_runs_through_the_alsa_jack_plugin() {
    let Some(server) = JackServer::start("alsa") else { return };
    let scratch = Scratch::new("alsa-jack");
    let patch = scratch.write("patch.toml", CLEAN_PATCH);
    let events = scratch.write("events.toml", RECORD_THEN_PLAY);
    let (code, out, err) = run(
        &[
            "play",
            patch.to_str().unwrap(),
            "--no-tui",
            "--audio-device",
            "alsa:jack",
            "--events",
            events.to_str().unwrap(),
            "--duration",
            "3",
        ],
        &server.env(),
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    println!("{out}");
    assert!(out.contains("alsa:jack out"), "{out}");
    assert!(out.contains("1 PLAY"), "the events ran: {out}");
    assert!(out.contains("played 3.0 s"), "{out}");
}

#[test]
fn devices_lists_hosts_and_devices() {
    let (code, out, _) = run(&["devices"], &[], Duration::from_secs(30));
    assert_eq!(code, Some(0));
    assert!(out.contains("audio hosts:"), "{out}");
    assert!(out.contains("alsa:null"), "{out}");
}
