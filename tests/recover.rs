//! `kill -9` while playing with autosave on, then `--recover`: the tapes and
//! every parameter come back as they were playing, not as the patch was
//! loaded (speed, feedback, mute, solo, a loop shortened live, a free loop's
//! length).

#![cfg(unix)]

mod live_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferrotape::engine::{Param, TapeLength};
use ferrotape::patch::Patch;
use ferrotape::session::{load_autosave, write_tape, Autosave};
use live_support::*;

const PATCH: &str = r#"
version = 1
name = "recover"
seed = 9
sample_rate = 48000

[[track]]
length = 2.0

[[track]]
length = 1.0

[[track]]
length = "free"
max_length = 5.0
"#;

/// Half a second in: change everything a performer changes; record a
/// free loop of 1.2 s (silence: the null backend hears nothing).
const EVENTS: &str = r#"
[[event]]
at = 0.3
track = 1
set = "speed"
to = 0.5

[[event]]
at = 0.3
track = 1
set = "feedback"
to = 0.3

[[event]]
at = 0.35
track = 1
set = "length"
to = 1.5

[[event]]
at = 0.4
track = 2
do = "mute"

[[event]]
at = 0.4
track = 1
do = "solo"

[[event]]
at = 0.5
track = 3
do = "record"

[[event]]
at = 1.7
track = 3
do = "play"
"#;

fn loud_tape(cells: usize, hz: f64) -> Vec<f32> {
    (0..cells).map(|i| 0.5 * (i as f64 * hz / 48_000.0 * std::f64::consts::TAU).sin() as f32).collect()
}

fn check_state(patch: &Patch, dir: &Path, what: &str) {
    let t1 = &patch.tracks[0];
    assert_eq!(t1.params.get(Param::Speed), 0.5, "{what}: speed");
    assert_eq!(t1.params.get(Param::Feedback), 0.3, "{what}: feedback");
    assert_eq!(t1.length, TapeLength::Fixed(1.5), "{what}: a loop shortened live keeps its length");
    assert_eq!(t1.max_length, Some(2.0), "{what}: and its tape");
    assert!(t1.solo && !t1.mute, "{what}: solo");
    assert!(patch.tracks[1].mute, "{what}: mute");
    let session = load_autosave(dir, 48_000).expect("autosave loads");
    let tape = session.tapes[0].as_ref().expect("track 1's tape");
    assert_eq!(tape.as_slice(), &loud_tape(96_000, 441.0)[..72_000], "{what}: track 1's tape");
    assert_eq!(session.tapes[1].as_ref().expect("track 2's tape").as_slice(), loud_tape(48_000, 330.0));
    let free = session.tapes[2].as_ref().expect("the free loop");
    assert!((free.len() as i64 - 57_600).abs() <= 1, "{what}: free loop of {} cells", free.len());
}

#[test]
fn kill_9_then_recover_brings_back_what_was_playing() {
    let scratch = Scratch::new("recover");
    let patch = scratch.write("live.toml", PATCH);
    let events = scratch.write("live.events.toml", EVENTS);
    let tapes = ferrotape::session::tapes_dir(&patch);
    std::fs::create_dir_all(&tapes).unwrap();
    write_tape(&tapes.join("track-01.wav"), &loud_tape(96_000, 441.0), 48_000).unwrap();
    write_tape(&tapes.join("track-02.wav"), &loud_tape(48_000, 330.0), 48_000).unwrap();
    let mut child = Command::new(binary())
        .args(["play", patch.to_str().unwrap(), "--no-tui", "--audio", "null", "--autosave", "--quiet"])
        .args(["--events", events.to_str().unwrap(), "--no-virtual-midi"])
        .env("XDG_STATE_HOME", &scratch.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ferrotape");
    // Wait for the autosave that follows the last change, then kill.
    let autosave = Autosave::beside(&patch);
    let deadline = Instant::now() + Duration::from_secs(30);
    let saved = loop {
        assert!(Instant::now() < deadline, "no autosave with the free loop closed");
        std::thread::sleep(Duration::from_millis(50));
        let Some((_, dir)) = autosave.list().pop() else { continue };
        let Ok(saved) = Patch::load(&dir.join("patch.toml")) else { continue };
        let free_saved = dir.join("tapes").join("track-03.wav").is_file()
            && load_autosave(&dir, 48_000)
                .is_ok_and(|s| s.tapes[2].as_ref().is_some_and(|t| t.len() < 60_000));
        if saved.tracks[1].mute && free_saved {
            break dir;
        }
    };
    child.kill().expect("kill -9");
    child.wait().unwrap();
    check_state(&Patch::load(&saved.join("patch.toml")).unwrap(), &saved, "the autosave");

    // Recover, play a moment, stop: the engine ran with the recovered
    // state, and its own final autosave says so.
    std::thread::sleep(Duration::from_millis(20));
    let (code, out, err) = run(
        &["play", patch.to_str().unwrap(), "--no-tui", "--audio", "null", "--autosave", "--recover"]
            .into_iter()
            .chain(["--duration", "0.5", "--no-virtual-midi"])
            .collect::<Vec<_>>(),
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    let (_, last) = autosave.list().pop().expect("the recovered session's autosave");
    assert_ne!(last, saved, "a new autosave");
    check_state(&Patch::load(&last.join("patch.toml")).unwrap(), &last, "after --recover");
}
