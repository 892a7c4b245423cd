//! `play --no-tui` records a take on the null backend (no hardware, real
//! time): the take folder is complete and `ferrotape render TAKE` gives its
//! mix back bit for bit. Also: the final autosave, and MIDI that cannot
//! start is a warning, not a failure.

mod live_support;

use live_support::*;
use std::time::Duration;

/// Record from 0.3 s to 1.5 s (mid-block frames), then play; change speed.
const EVENTS: &str = r#"
[[event]]
at = 0.3
track = 1
do = "record"

[[event]]
at = 1.5
track = 1
do = "play"

[[event]]
at = 2.2
track = 1
set = "speed"
to = 0.5
"#;

#[test]
fn a_headless_take_is_complete_and_renders_back_bit_for_bit() {
    let scratch = Scratch::new("live-take");
    let patch = scratch.write("patch.toml", CLEAN_PATCH);
    let events = scratch.write("events.toml", EVENTS);
    let takes = scratch.0.join("takes");
    let (code, out, err) = run(
        &[
            "play",
            patch.to_str().unwrap(),
            "--no-tui",
            "--audio",
            "null",
            "--take",
            "--duration",
            "3",
            "--events",
            events.to_str().unwrap(),
            "--takes",
            takes.to_str().unwrap(),
            "--autosave",
        ],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    assert!(out.contains("take: recording"), "{out}");
    assert!(out.contains("| take REC"), "the status line shows the take: {out}");
    let folders: Vec<_> = std::fs::read_dir(&takes)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(folders.len(), 1, "one take folder: {folders:?}");
    let take = &folders[0];
    for file in ["mix.wav", "track-01.wav", "input.wav", "events.toml", "take.toml", "patch.toml"] {
        assert!(take.join(file).is_file(), "{file} missing in {}", take.display());
    }
    let log = std::fs::read_to_string(take.join("events.toml")).unwrap();
    assert!(log.contains("\"record\"") && log.contains("\"play\"") && log.contains("speed"), "{log}");

    let again = scratch.0.join("again.wav");
    let (code, out, err) = run(
        &["render", take.to_str().unwrap(), "--out", again.to_str().unwrap()],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    assert!(out.contains("exact replay"), "{out}");
    let original = std::fs::read(take.join("mix.wav")).unwrap();
    let rendered = std::fs::read(&again).unwrap();
    let seconds = (original.len() as f64 - 44.0) / 8.0 / 48_000.0;
    println!(
        "take {:.2} s, {} bytes; re-render identical: {}",
        seconds,
        original.len(),
        original == rendered
    );
    assert!(seconds > 2.5, "the take holds the whole run ({seconds:.2} s)");
    assert!(original == rendered, "the re-rendered mix differs from the take's mix.wav");

    // --autosave: the tapes were saved beside the patch on the way out.
    let autosaves: Vec<_> = std::fs::read_dir(scratch.0.join(".autosave"))
        .expect(".autosave")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(autosaves.iter().any(|d| d.join("tapes/track-01.wav").is_file()), "{autosaves:?}");
}

/// SIGTERM in the middle of a take: ferrotape stops as after `--duration`,
/// with the take's files closed and complete (it re-renders exactly).
#[test]
fn sigterm_finishes_the_take() {
    use std::process::{Command, Stdio};
    let scratch = Scratch::new("live-take-sigterm");
    let patch = scratch.write("patch.toml", CLEAN_PATCH);
    let events = scratch.write("events.toml", EVENTS);
    let takes = scratch.0.join("takes");
    let child = Command::new(binary())
        .args(["play", patch.to_str().unwrap(), "--no-tui", "--audio", "null", "--take"])
        .args(["--events", events.to_str().unwrap(), "--takes", takes.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ferrotape");
    // Wait for the take to be under way (generously: the machine may be busy).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let take = loop {
        let found = std::fs::read_dir(&takes).into_iter().flatten().flatten().map(|e| e.path()).find(|p| {
            !p.file_name().unwrap().to_string_lossy().starts_with('.')
                && std::fs::metadata(p.join("mix.wav")).is_ok_and(|m| m.len() > 48_000 * 8)
        });
        if let Some(take) = found {
            break take;
        }
        assert!(std::time::Instant::now() < deadline, "no take under way");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}: {stdout}", out.status);
    assert!(stdout.contains("take written to"), "{stdout}");
    assert!(take.join("take.toml").is_file());
    let again = scratch.0.join("again.wav");
    let (code, out, err) = run(
        &["render", take.to_str().unwrap(), "--out", again.to_str().unwrap()],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    let original = std::fs::read(take.join("mix.wav")).unwrap();
    println!("take of {} bytes stopped by SIGTERM", original.len());
    assert!(original == std::fs::read(&again).unwrap(), "the re-rendered mix differs");
}
