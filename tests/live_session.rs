//! A [`LiveSession`] driven in-process the way the screen drives it, on
//! the null backend (or whatever device opens): commands and snapshots,
//! a take toggled on and off, a new patch loaded (finishing the take and
//! starting a new journal), and a final autosave on stop.

mod live_support;

use ferrotape::engine::{Command, HeadMode, TrackAction};
use ferrotape::io::{AudioOptions, BackendKind};
use ferrotape::live::{LiveOptions, LiveSession};
use live_support::*;
use std::time::{Duration, Instant};

const TWO_TRACKS: &str = r#"
version = 1
name = "second"
seed = 2

[[track]]
length = 0.5

[[track]]
length = 0.5
"#;

/// Tick like the screen does until `done` or `seconds` pass.
fn tick_until(
    session: &mut LiveSession,
    seconds: f64,
    mut done: impl FnMut(&mut LiveSession) -> bool,
) -> bool {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < deadline {
        session.tick(&mut |line| println!("{line}"));
        if done(session) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_session_plays_records_takes_and_loads_another_patch() {
    let scratch = Scratch::new("live-session");
    let first = scratch.write("first.toml", CLEAN_PATCH);
    let second = scratch.write("second.toml", TWO_TRACKS);
    let options = LiveOptions {
        audio: AudioOptions { backend: BackendKind::Null, ..AudioOptions::default() },
        virtual_midi: false,
        takes_dir: scratch.0.join("takes"),
        ..LiveOptions::default()
    };
    let mut session = LiveSession::start(&first, options, true).expect("start");
    assert_eq!(session.warning(), None, "no MIDI asked for, null audio asked for");
    assert!(session.settings().description.contains("null"));
    assert!(session.midi_ports().is_empty());

    assert!(session.send(Command::Track { track: 0, action: TrackAction::Record }));
    assert!(
        tick_until(&mut session, 10.0, |s| s
            .latest_snapshot()
            .is_some_and(|snap| snap.tracks()[0].mode == HeadMode::Record)),
        "the screen's command reached the engine"
    );
    assert!(session.toggle_take(), "a take starts");
    assert!(
        tick_until(&mut session, 10.0, |s| s.take_status().is_some_and(|t| t.recording && t.seconds > 0.3)),
        "the take records: {:?}",
        session.take_status()
    );
    let take = session.take_status().and_then(|t| t.folder).expect("take folder");

    session.load(&second).expect("load the second patch");
    assert!(take.join("take.toml").is_file(), "loading finished the take in {}", take.display());
    let status = session.take_status().expect("a recorder for the new patch");
    assert!(!status.recording, "{status:?}");
    assert!(
        tick_until(&mut session, 10.0, |s| s.latest_snapshot().is_some_and(|snap| snap.tracks().len() == 2)),
        "the new engine plays"
    );
    assert!(session.toggle_take() && !session.toggle_take(), "start, then stop");
    let report = session.stop();
    println!("played {:.2} s on the second patch", report.seconds);
    assert!(report.seconds > 0.0);
    // Autosave is on by default for the screen: the final one is there.
    let autosaves = std::fs::read_dir(scratch.0.join(".autosave")).expect(".autosave").count();
    assert!(autosaves >= 2, "one autosave per patch on load and stop ({autosaves})");
}

#[test]
fn the_screen_falls_back_to_null_audio_with_a_warning() {
    let scratch = Scratch::new("live-fallback");
    let patch = scratch.write("patch.toml", CLEAN_PATCH);
    let options = LiveOptions {
        virtual_midi: false,
        takes_dir: scratch.0.join("takes"),
        autosave: false,
        ..LiveOptions::default()
    };
    // Keep the test away from any JACK server another test started.
    std::env::set_var("JACK_NO_START_SERVER", "1");
    let session = LiveSession::start(&patch, options, true).expect("the screen always starts");
    let on_null = session.settings().description.contains("null");
    println!("{} / warning: {:?}", session.settings().description, session.warning());
    assert_eq!(on_null, session.warning().is_some_and(|w| w.contains("null backend")));
    let _ = session.stop();
}

/// A bug that panics inside the audio callback: the panic stays on the
/// audio thread (no unwinding into the host, no file I/O or printing
/// there), the sound stops, the performer is told where it happened, and
/// what was playing is autosaved from the stopped engine.
#[test]
fn a_panic_in_the_audio_callback_stops_the_sound_and_saves_what_was_playing() {
    use ferrotape::engine::Param;
    use ferrotape::patch::Patch;
    use ferrotape::session::Autosave;

    let scratch = Scratch::new("live-fault");
    let patch = scratch.write("fault.toml", CLEAN_PATCH);
    let options = LiveOptions {
        audio: AudioOptions { backend: BackendKind::Null, ..AudioOptions::default() },
        virtual_midi: false,
        takes_dir: scratch.0.join("takes"),
        ..LiveOptions::default()
    };
    let mut session = LiveSession::start(&patch, options, true).expect("start");
    assert!(session.send(Command::Set { track: 0, param: Param::Speed, value: 0.5 }));
    assert!(
        tick_until(&mut session, 10.0, |s| s
            .latest_snapshot()
            .is_some_and(|snap| snap.tracks()[0].target_speed < 0.6)),
        "the speed reached the engine"
    );
    let autosave = Autosave::beside(&patch);
    let before = autosave.list().len();
    session.inject_audio_fault();
    let mut said = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !said.iter().any(|l: &String| l.contains("internal error")) {
        session.tick(&mut |line| said.push(line.to_string()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let line = said.iter().find(|l| l.contains("internal error")).expect("the performer is told");
    assert!(
        line.contains("src/io/processor.rs:") && line.contains("a deliberate fault in the audio callback"),
        "where and why: {line}"
    );
    assert_eq!(session.stats().engine_faults.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert!(session.warning().is_some_and(|w| w.contains("internal error")), "{:?}", session.warning());
    assert!(
        tick_until(&mut session, 10.0, |_| autosave.list().len() > before),
        "an autosave after the fault"
    );
    let (_, dir) = autosave.list().pop().expect("autosave");
    let saved = Patch::load(&dir.join("patch.toml")).expect("the autosaved patch loads");
    assert_eq!(saved.tracks[0].params.get(Param::Speed), 0.5, "what was playing, not what was loaded");
    let report = session.stop();
    assert!(report.seconds > 0.0);
}
