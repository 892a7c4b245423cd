//! The events format: the example scores load and fit their patches, every
//! malformed fixture gives its documented message, lists sort stably, frames
//! are sample-accurate and lists round-trip through `to_toml`.

mod common;

use std::path::Path;

use common::{documented_bad_fixtures, events_for, example_patches, BAD_DIR};
use ferrotape::engine::{Command, Param, TrackAction};
use ferrotape::events::{Event, EventList};
use ferrotape::patch::Patch;

fn parse(text: &str) -> Result<EventList, String> {
    EventList::parse(text, Path::new("score.events.toml")).map_err(|e| e.to_string())
}

#[test]
fn every_example_patch_has_an_events_file_that_fits_it() {
    for patch_path in example_patches() {
        let patch = Patch::load(&patch_path).expect("patch");
        let events_path = events_for(&patch_path);
        let events = EventList::load(&events_path).unwrap_or_else(|e| panic!("{e}"));
        events.check_tracks(patch.tracks.len()).unwrap_or_else(|e| panic!("{e}"));
        assert!(events.events.len() >= 3, "{} is too short to be a demo", events_path.display());
        assert!(
            events.events.iter().all(|e| e.at < 30.0),
            "{}: the demo renders 30 s",
            events_path.display()
        );
        // Every demo puts something on tape.
        assert!(events.events.iter().any(|e| matches!(
            e.command,
            Command::Track { action: TrackAction::Record | TrackAction::Dub, .. }
        )));
    }
}

#[test]
fn bad_events_give_their_documented_message() {
    let mut checked = 0;
    for (file, expected) in documented_bad_fixtures().into_iter().filter(|(f, _)| f.ends_with(".events.toml"))
    {
        let path = Path::new(BAD_DIR).join(&file);
        let result = EventList::load(&path).and_then(|list| list.check_tracks(2));
        match result {
            Ok(()) => panic!("{file} was accepted"),
            Err(err) => assert_eq!(err.to_string(), expected, "{file}"),
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} bad events files");
}

#[test]
fn fields_become_commands_with_zero_based_tracks() {
    let list = parse(
        r#"
[[event]]
at = 1
track = 3
do = "dub"

[[event]]
at = 2.5
track = 16
set = "speed"
to = -0.5

[[event]]
at = 3.0
track = 1
set = "wow_hz"
by = -0.25
"#,
    )
    .expect("parse");
    let commands: Vec<(f64, Command)> = list.events.iter().map(|e| (e.at, e.command)).collect();
    assert_eq!(
        commands,
        vec![
            (1.0, Command::Track { track: 2, action: TrackAction::Dub }),
            (2.5, Command::Set { track: 15, param: Param::Speed, value: -0.5 }),
            (3.0, Command::Nudge { track: 0, param: Param::WowHz, delta: -0.25 }),
        ]
    );
    let lines: Vec<Option<usize>> = list.events.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![Some(2), Some(7), Some(13)]);
}

#[test]
fn every_action_name_is_accepted() {
    for action in TrackAction::ALL {
        let text = format!("[[event]]\nat = 0\ntrack = 1\ndo = \"{}\"\n", action.name());
        let list = parse(&text).expect("parse");
        assert_eq!(list.events[0].command, Command::Track { track: 0, action });
    }
}

#[test]
fn sorting_is_by_time_and_stable() {
    let list = parse(
        r#"
[[event]]
at = 2.0
track = 1
do = "play"
[[event]]
at = 1.0
track = 1
do = "record"
[[event]]
at = 2.0
track = 2
do = "dub"
[[event]]
at = 2.0
track = 1
do = "mute"
"#,
    )
    .expect("parse");
    let order: Vec<(f64, u8, &str)> = list
        .events
        .iter()
        .map(|e| match e.command {
            Command::Track { track, action } => (e.at, track, action.name()),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(order, vec![(1.0, 0, "record"), (2.0, 0, "play"), (2.0, 1, "dub"), (2.0, 0, "mute")]);
}

#[test]
fn frames_are_rounded_sample_positions() {
    let list = EventList::new(
        Path::new("x.events.toml"),
        vec![
            Event::new(0.5, Command::Track { track: 0, action: TrackAction::Play }),
            Event::new(1.0 / 3.0, Command::Track { track: 0, action: TrackAction::Stop }),
            Event::new(0.0, Command::Track { track: 0, action: TrackAction::Record }),
            Event::new(10.000_01, Command::Track { track: 0, action: TrackAction::Dub }),
        ],
    );
    let frames: Vec<u64> = list.frames(48_000.0).map(|(frame, _)| frame).collect();
    assert_eq!(frames, vec![0, 16_000, 24_000, 480_000]);
    let frames: Vec<u64> = list.frames(44_100.0).map(|(frame, _)| frame).collect();
    assert_eq!(frames, vec![0, 14_700, 22_050, 441_000]);
}

#[test]
fn empty_file_is_an_empty_list() {
    assert!(parse("").expect("parse").events.is_empty());
    assert!(parse("# nothing yet\n").expect("parse").events.is_empty());
    assert_eq!(EventList::default().to_toml(), "");
}

#[test]
fn examples_round_trip_through_to_toml() {
    for patch_path in example_patches() {
        let path = events_for(&patch_path);
        let list = EventList::load(&path).expect("load");
        let text = list.to_toml();
        let again = EventList::parse(&text, &path).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(again, list, "{}", path.display());
    }
}

#[test]
fn a_logged_take_round_trips() {
    // What the take logger produces: odd times, every kind of command.
    let path = Path::new("takes/take-001.events.toml");
    let events = vec![
        Event::new(0.0, Command::Track { track: 0, action: TrackAction::Record }),
        Event::new(1234.0 / 48_000.0, Command::Set { track: 15, param: Param::HissDb, value: -76.5 }),
        Event::new(7.0 / 3.0, Command::Nudge { track: 2, param: Param::Pan, delta: -0.1 }),
        Event::new(7.0 / 3.0, Command::Set { track: 2, param: Param::Feedback, value: 0.93 }),
        Event::new(599.999_999, Command::Track { track: 1, action: TrackAction::Redo }),
        Event::new(600.0, Command::RecordLatency { frames: 1792 }),
    ];
    let list = EventList::new(path, events);
    let text = list.to_toml();
    let again = EventList::parse(&text, path).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(again, list);
    assert_eq!(again.to_toml(), text);
}

#[test]
fn check_tracks_accepts_the_right_count_and_uses_the_event_line() {
    let list = parse("[[event]]\nat = 0\ntrack = 2\ndo = \"play\"\n").expect("parse");
    assert!(list.check_tracks(2).is_ok());
    assert_eq!(
        list.check_tracks(1).expect_err("one track").to_string(),
        "score.events.toml:1: track = 2 does not exist; the patch has 1 track"
    );
}

#[test]
fn odd_events_are_errors_not_panics() {
    let cases = [
        ("event = 1\n", "score.events.toml:1: `event` must be a list of tables; write one [[event]] header per event"),
        ("[event]\nat = 0\n", "score.events.toml:1: `event` must be a list of tables; write [[event]] with two brackets"),
        ("at = 0\n", "score.events.toml:1: `at` belongs to an event; put it after an [[event]] header"),
        ("evnt = 0\n", "score.events.toml:1: unknown key `evnt`; did you mean `event`?"),
        ("[[event]]\nat = nan\ntrack = 1\ndo = \"play\"\n", "score.events.toml:2: at = nan is not a finite number; expected seconds from the start (0 or more)"),
        ("[[event]]\nat = \"soon\"\ntrack = 1\ndo = \"play\"\n", "score.events.toml:2: at = \"soon\" is a string; expected seconds from the start (0 or more)"),
        ("[[event]]\nat = 0\ntrack = 1.0\ndo = \"play\"\n", "score.events.toml:3: track = 1.0 is a float; expected a track number (1 to 16)"),
        ("[[event]]\nat = 0\ntrack = 17\ndo = \"play\"\n", "score.events.toml:3: track = 17 is out of range (tracks are numbered 1 to 16)"),
        ("[[event]]\nat = 0\ntrack = 99999999999999999999999\ndo = \"play\"\n", "score.events.toml:3: track = 99999999999999999999999 is out of range (tracks are numbered 1 to 16)"),
        ("[[event]]\nat = 0\ndo = \"play\"\n", "score.events.toml:1: this event has no `track` (1 to 16)"),
        ("[[event]]\nat = 0\ntrack = 1\n", "score.events.toml:1: this event has no `do = \"action\"` or `set = \"parameter\"`"),
        ("[[event]]\nat = 0\ntrack = 1\ndo = \"play\"\nto = 1\n", "score.events.toml:5: `to` only goes with `set`, not with `do`"),
        ("[[event]]\nat = 0\ntrack = 1\ndo = 3\n", "score.events.toml:4: do = 3 is an integer; expected an action name (play, stop, record, dub, erase, clear, reverse, undo, redo, undo_all, redo_all, multiply, insert, replace, substitute, trigger, oneshot, pause, mute, unmute, solo, unsolo, tap)"),
        ("[[event]]\nat = 0\ntrack = 1\nset = \"speed\"\nby = 9\n", "score.events.toml:5: by = 9 is more than the whole range of speed (-4 to 4)"),
        ("[[event]]\nat = 0\ntrack = 1\nset = \"speed\"\nto = \"fast\"\n", "score.events.toml:5: to = \"fast\" is a name, but speed takes a number"),
        ("[[event]]\nat = 1e400\ntrack = 1\ndo = \"play\"\n", "score.events.toml:2: at = 1e400 is not a finite number; expected seconds from the start (0 or more)"),
    ];
    for (text, expected) in cases {
        match parse(text) {
            Ok(list) => panic!("{text:?} parsed to {list:?}"),
            Err(message) => assert_eq!(message, expected, "for {text:?}"),
        }
    }
}
