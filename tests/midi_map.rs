//! MIDI bindings: every mode through the router, the map format and its
//! errors, the controller profiles, MIDI learn, and random input.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::{documented_bad_fixtures, scratch_dir, BAD_DIR};
use ferrotape::bridge::CommandSink;
use ferrotape::check::{check_file, FileKind};
use ferrotape::engine::{Command, Param, TrackAction};
use ferrotape::midi_map::*;
use proptest::prelude::*;

/// Collects what the router sends; `capacity` imitates a full queue.
#[derive(Default)]
struct Collect {
    commands: Vec<Command>,
    capacity: Option<usize>,
}

impl CommandSink for Collect {
    fn send(&mut self, command: Command, _at: Instant) -> bool {
        if self.capacity.is_some_and(|c| self.commands.len() >= c) {
            return false;
        }
        self.commands.push(command);
        true
    }
}

fn map(text: &str) -> MidiMap {
    MidiMap::parse(text, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn router(text: &str, tracks: usize) -> MidiRouter {
    MidiRouter::new(&map(text).bindings, SelectedTrack::new(tracks))
}

/// Feed bytes, return the commands they produced.
fn feed(router: &mut MidiRouter, bytes: &[u8]) -> Vec<Command> {
    let mut sink = Collect::default();
    router.feed(bytes, Instant::now(), &mut sink);
    sink.commands
}

fn act(track: u8, action: TrackAction) -> Command {
    Command::Track { track, action }
}

fn set(track: u8, param: Param, value: f32) -> Command {
    Command::Set { track, param, value }
}

fn set_value(commands: &[Command]) -> f32 {
    match commands {
        [Command::Set { value, .. }] => *value,
        other => panic!("expected one Set, got {other:?}"),
    }
}

#[test]
fn absolute_cc_spans_the_range_with_its_curve() {
    let mut r = router(
        "[[midi]]\ncc = 1\nset = \"feedback\"\ntrack = 2\n\
         [[midi]]\ncc = 2\nset = \"speed\"\ntrack = 1\ncurve = \"exponential\"\nmin = 0.25\nmax = 4.0\n\
         [[midi]]\ncc = 3\nset = \"wow_pct\"\ntrack = 1\ncurve = \"squared\"\nmax = 2.0\n",
        2,
    );
    assert_eq!(feed(&mut r, &[0xB0, 1, 0]), vec![set(1, Param::Feedback, 0.0)]);
    assert_eq!(feed(&mut r, &[0xB0, 1, 127]), vec![set(1, Param::Feedback, 1.0)]);
    assert!((set_value(&feed(&mut r, &[0xB0, 2, 0])) - 0.25).abs() < 1e-6);
    assert!((set_value(&feed(&mut r, &[0xB0, 2, 127])) - 4.0).abs() < 1e-5);
    // Exponential: the middle of the travel is the geometric mean, 1x.
    assert!((set_value(&feed(&mut r, &[0xB0, 2, 64])) - 4f32.powf(2.0 * 64.0 / 127.0 - 1.0)).abs() < 1e-5);
    let half = set_value(&feed(&mut r, &[0xB0, 3, 64]));
    assert!((half - 2.0 * (64.0f32 / 127.0).powi(2)).abs() < 1e-6);
}

#[test]
fn absolute_on_a_note_follows_velocity() {
    let mut r = router("[[midi]]\nnote = 36\nset = \"drive_db\"\ntrack = 1\nmode = \"absolute\"\n", 1);
    assert_eq!(feed(&mut r, &[0x90, 36, 127]), vec![set(0, Param::DriveDb, 36.0)]);
    assert_eq!(feed(&mut r, &[0x80, 36, 0]), vec![]);
}

#[test]
fn relative_encodings_nudge_by_steps() {
    for (encoding, up, down) in
        [("twos_complement", 3, 125), ("signed_bit", 3, 67), ("binary_offset", 67, 61)]
    {
        let mut r = router(
            &format!(
                "[[midi]]\ncc = 10\nset = \"speed\"\ntrack = 1\nmode = \"relative\"\nencoding = \"{encoding}\"\nstep = 0.01\n"
            ),
            1,
        );
        for (value, steps) in [(up, 3.0), (down, -3.0)] {
            match feed(&mut r, &[0xB0, 10, value]).as_slice() {
                [Command::Nudge { track: 0, param: Param::Speed, delta }] => {
                    assert!((delta - steps * 0.01).abs() < 1e-6, "{encoding} {value}: {delta}")
                }
                other => panic!("{encoding} {value}: {other:?}"),
            }
        }
    }
    // Still (binary offset 64) sends nothing.
    let mut r =
        router("[[midi]]\ncc = 10\nset = \"pan\"\nmode = \"relative\"\nencoding = \"binary_offset\"\n", 1);
    assert_eq!(feed(&mut r, &[0xB0, 10, 64]), vec![]);
}

#[test]
fn toggle_alternates_on_presses_only() {
    let mut r = router("[[midi]]\ncc = 48\ndo = \"mute\"\ntrack = 1\nmode = \"toggle\"\n", 1);
    // Press, release, press, release: mute, nothing, unmute, nothing.
    assert_eq!(feed(&mut r, &[0xB0, 48, 127]), vec![act(0, TrackAction::Mute)]);
    assert_eq!(feed(&mut r, &[0xB0, 48, 0]), vec![]);
    assert_eq!(feed(&mut r, &[0xB0, 48, 127]), vec![act(0, TrackAction::Unmute)]);
    // A held button sending more high values does not toggle again.
    assert_eq!(feed(&mut r, &[0xB0, 48, 100]), vec![]);
    assert_eq!(feed(&mut r, &[0xB0, 48, 0, 48, 127]), vec![act(0, TrackAction::Mute)]);
    // Notes toggle on note-on; a custom `off` action.
    let mut r =
        router("[[midi]]\nnote = 40\ndo = \"dub\"\ntrack = 1\nmode = \"toggle\"\noff = \"stop\"\n", 1);
    assert_eq!(
        feed(&mut r, &[0x90, 40, 90, 0x80, 40, 0, 0x90, 40, 90]),
        vec![act(0, TrackAction::Dub), act(0, TrackAction::Stop)]
    );
}

#[test]
fn momentary_holds_and_releases() {
    let mut r = router("[[midi]]\nnote = 36\ndo = \"dub\"\ntrack = 1\nmode = \"momentary\"\n", 1);
    assert_eq!(feed(&mut r, &[0x90, 36, 100]), vec![act(0, TrackAction::Dub)]);
    // Velocity-0 note-on is a release.
    assert_eq!(feed(&mut r, &[0x90, 36, 0]), vec![act(0, TrackAction::Play)]);
    // A release without a press does nothing.
    assert_eq!(feed(&mut r, &[0x80, 36, 0]), vec![]);
    let mut r = router("[[midi]]\ncc = 52\ndo = \"erase\"\ntrack = 1\nmode = \"momentary\"\n", 1);
    assert_eq!(
        feed(&mut r, &[0xB0, 52, 127, 52, 0]),
        vec![act(0, TrackAction::Erase), act(0, TrackAction::Play)]
    );
}

#[test]
fn trigger_fires_once_per_press() {
    let mut r = router(
        "[[midi]]\ncc = 46\ndo = \"undo\"\ntrack = 1\n\
         [[midi]]\ncc = 43\nset = \"speed\"\ntrack = 1\nmode = \"trigger\"\nvalue = 0.5\n",
        1,
    );
    assert_eq!(
        feed(&mut r, &[0xB0, 46, 127, 46, 127, 46, 0, 46, 64]),
        vec![act(0, TrackAction::Undo), act(0, TrackAction::Undo)]
    );
    assert_eq!(feed(&mut r, &[0xB0, 43, 127]), vec![set(0, Param::Speed, 0.5)]);
}

#[test]
fn track_selection_moves_and_selected_bindings_follow() {
    let mut r = router(
        "[[midi]]\ncc = 59\nselect = \"next\"\n[[midi]]\ncc = 58\nselect = \"previous\"\n\
         [[midi]]\nnote = 66\nselect = 3\n[[midi]]\nnote = 67\nselect = 9\n\
         [[midi]]\ncc = 100\nselect = \"next\"\nmode = \"relative\"\n\
         [[midi]]\ncc = 4\nset = \"feedback\"\n",
        3,
    );
    let selected = r.selected().clone();
    assert_eq!(selected.get(), 0);
    assert_eq!(feed(&mut r, &[0xB0, 59, 127, 59, 0]), vec![]);
    assert_eq!(selected.get(), 1);
    assert_eq!(feed(&mut r, &[0xB0, 4, 127]), vec![set(1, Param::Feedback, 1.0)]);
    feed(&mut r, &[0xB0, 58, 127, 58, 0, 58, 127]);
    assert_eq!(selected.get(), 2, "previous wraps from track 1 to the last track");
    feed(&mut r, &[0x90, 66, 127]);
    assert_eq!(selected.get(), 2);
    feed(&mut r, &[0x90, 67, 127]);
    assert_eq!(selected.get(), 2, "selecting a track the patch lacks changes nothing");
    feed(&mut r, &[0xB0, 100, 2]);
    assert_eq!(selected.get(), 1, "two steps forward from 3 of 3 wraps to 2");
    // The screen can select too.
    assert!(selected.set(0));
    assert_eq!(feed(&mut r, &[0xB0, 4, 0]), vec![set(0, Param::Feedback, 0.0)]);
}

#[test]
fn erase_pressure_follows_the_control_and_returns_to_zero() {
    let mut r = router(
        "[[midi]]\ncc = 5\ndo = \"erase_pressure\"\ntrack = 1\n\
         [[midi]]\nnote = 38\ndo = \"erase_pressure\"\ntrack = 1\nmin = 0.2\nmax = 0.8\n",
        1,
    );
    assert_eq!(feed(&mut r, &[0xB0, 5, 127]), vec![set(0, Param::Erase, 1.0)]);
    assert_eq!(feed(&mut r, &[0xB0, 5, 0]), vec![set(0, Param::Erase, 0.0)]);
    assert_eq!(feed(&mut r, &[0x90, 38, 127]), vec![set(0, Param::Erase, 0.8)]);
    assert_eq!(feed(&mut r, &[0x80, 38, 64]), vec![set(0, Param::Erase, 0.0)]);
}

#[test]
fn channels_tracks_and_other_messages_filter() {
    let mut r = router(
        "[[midi]]\ncc = 1\nchannel = 2\nset = \"pan\"\ntrack = 1\n[[midi]]\ncc = 2\nset = \"pan\"\ntrack = 5\n",
        2,
    );
    assert_eq!(feed(&mut r, &[0xB0, 1, 127]), vec![], "channel 1 is not channel 2");
    assert_eq!(feed(&mut r, &[0xB1, 1, 127]), vec![set(0, Param::Pan, 1.0)]);
    assert_eq!(feed(&mut r, &[0xB1, 2, 127]), vec![], "track 5 of a 2-track patch");
    // Program change, bend and pressure bind to nothing but are shown.
    let activity = r.activity();
    assert_eq!(feed(&mut r, &[0xE3, 0, 0x40, 0xC0, 5]), vec![]);
    let last = activity.latest().expect("activity");
    assert_eq!((last.kind, last.channel, last.value, last.bound), (ActivityKind::ProgramChange, 0, 5, false));
}

#[test]
fn activity_shows_the_last_message() {
    let mut r = router("[[midi]]\ncc = 7\nset = \"feedback\"\n", 1);
    let activity = r.activity();
    assert_eq!(activity.latest(), None);
    feed(&mut r, &[0xB3, 7, 99]);
    let first = activity.latest().expect("activity");
    assert_eq!(
        (first.kind, first.channel, first.number, first.value, first.bound),
        (ActivityKind::ControlChange, 3, 7, 99, true)
    );
    feed(&mut r, &[0xB3, 7, 99]);
    assert_eq!(activity.latest().expect("activity").sequence, first.sequence + 1);
}

#[test]
fn a_full_queue_is_counted() {
    let mut r = router("[[midi]]\ncc = 7\nset = \"feedback\"\n[[midi]]\ncc = 7\nset = \"age\"\n", 1);
    let mut sink = Collect { capacity: Some(1), ..Collect::default() };
    assert_eq!(r.feed(&[0xB0, 7, 1], Instant::now(), &mut sink), 1);
    assert_eq!(r.dropped(), 1);
}

#[test]
fn bad_maps_give_their_documented_message() {
    let mut checked = 0;
    for (file, expected) in documented_bad_fixtures().into_iter().filter(|(f, _)| f.ends_with(".midi.toml")) {
        let err = check_file(&Path::new(BAD_DIR).join(&file)).expect_err(&file);
        assert_eq!(err.to_string(), expected, "{file}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} bad maps");
}

#[test]
fn odd_values_are_errors_not_panics() {
    for text in [
        "midi = 3",
        "[midi]\ncc = 1\ndo = \"dub\"",
        "midi = [1, 2]",
        "[[midi]]\ncc = -1\ndo = \"dub\"",
        "[[midi]]\ncc = 1.5\ndo = \"dub\"",
        "[[midi]]\ncc = 99999999999999999999999\ndo = \"dub\"",
        "[[midi]]\ncc = 1\nnote = 2\ndo = \"dub\"",
        "[[midi]]\ncc = 1\ndo = \"dub\"\nset = \"speed\"",
        "[[midi]]\ncc = 1",
        "[[midi]]\ncc = 1\nset = \"speed\"\nmin = nan",
        "[[midi]]\ncc = 1\nset = \"speed\"\nmode = \"relative\"\nstep = 0",
        "[[midi]]\ncc = 1\nset = \"speed\"\nmode = \"relative\"\nstep = inf",
        "[[midi]]\ncc = 1\nselect = \"nxt\"",
        "[[midi]]\ncc = 1\nselect = 0",
        "[[midi]]\ncc = 1\nselect = \"next\"\ntrack = 1",
        "[[midi]]\ncc = 1\ndo = \"dub\"\ntrack = 17",
        "[[midi]]\ncc = 1\ndo = \"dub\"\ntrack = \"all\"",
        "[[midi]]\ncc = 1\ndo = \"dub\"\nchannel = \"omni\"",
        "[[midi]]\ncc = 1\ndo = \"dub\"\nvalue = 1",
        "[[midi]]\nnote = 1\nset = \"speed\"\nmode = \"relative\"",
        "version = 2\n[[midi]]\ncc = 1\ndo = \"dub\"",
        "cc = 1",
        "[[track]]\nlength = 1",
    ] {
        let err = MidiMap::parse(text, Path::new("m.toml")).expect_err(text);
        assert!(err.to_string().starts_with("m.toml"), "{err}");
        assert!(!err.message.contains('\n'), "{err}");
    }
    let over = "[[midi]]\ncc = 1\ndo = \"dub\"\n".repeat(MAX_BINDINGS + 1);
    let err = MidiMap::parse(&over, Path::new("m.toml")).expect_err("too many");
    assert_eq!(
        err.to_string(),
        format!("m.toml:{}: too many bindings: 257 [[midi]] tables, at most 256", 256 * 3 + 1)
    );
}

fn profiles() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir("patches/midi")
        .expect("patches/midi")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn profiles_load_and_cover_the_instrument() {
    let paths = profiles();
    let names: Vec<String> =
        paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for wanted in ["generic.toml", "nanokontrol2.toml", "launch_control_xl.toml", "apc_mini.toml"] {
        assert!(names.iter().any(|n| n == wanted), "missing profile {wanted}");
    }
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("read");
        assert!(text.starts_with("# "), "{} has no comment header", path.display());
        assert_eq!(FileKind::of(path, &text), FileKind::MidiMap);
        let map = MidiMap::load(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!map.description.is_empty(), "{}", path.display());
        let has_action = |a: TrackAction| map.bindings.iter().any(|b| b.target == BindingTarget::Action(a));
        let has_param = |p: Param| map.bindings.iter().any(|b| b.target == BindingTarget::Param(p));
        for action in
            [TrackAction::Dub, TrackAction::Record, TrackAction::Mute, TrackAction::Solo, TrackAction::Undo]
        {
            assert!(has_action(action), "{}: no {}", path.display(), action.name());
        }
        for param in [Param::Speed, Param::Feedback, Param::WowPct, Param::FlutterPct, Param::DriveDb] {
            assert!(has_param(param), "{}: no {}", path.display(), param.key());
        }
        assert!(map.bindings.iter().any(|b| b.target == BindingTarget::ErasePressure), "{}", path.display());
        assert!(
            map.bindings.iter().any(|b| matches!(b.target, BindingTarget::Select(_))),
            "{}",
            path.display()
        );
        // No control is bound twice to the same thing by accident.
        for (i, a) in map.bindings.iter().enumerate() {
            for b in &map.bindings[i + 1..] {
                assert!(
                    !(a.control == b.control && a.channel == b.channel),
                    "{}: {a:?} twice",
                    path.display()
                );
            }
        }
        // Saved and re-read, it is the same map; as patch tables too.
        assert_eq!(MidiMap::parse(&map.to_toml(), path).expect("round trip"), map);
        let scratch = scratch_dir(&format!("tables-{}", map.bindings.len()));
        let from_tables =
            MidiMap::from_patch_tables(&map.to_tables(), &scratch.join("gone.toml")).expect("tables");
        assert_eq!(from_tables.bindings, map.bindings);
        assert!(check_file(path).expect("check").contains("MIDI map"));
    }
}

#[test]
fn nanokontrol2_factory_layout_drives_the_right_tracks() {
    let map = MidiMap::load(Path::new("patches/midi/nanokontrol2.toml")).expect("load");
    let mut r = MidiRouter::new(&map.bindings, SelectedTrack::new(4));
    // S1 press/release: overdub on track 1; R2: record on track 2.
    assert_eq!(feed(&mut r, &[0xB0, 32, 127, 32, 0]), vec![act(0, TrackAction::Dub)]);
    assert_eq!(feed(&mut r, &[0xB0, 65, 127, 65, 0]), vec![act(1, TrackAction::Record)]);
    // Knob 3 centred is normal speed on track 3.
    let speed = set_value(&feed(&mut r, &[0xB0, 18, 64]));
    assert!((speed - 1.0).abs() < 0.03, "{speed}");
    // TRACK > then fader 6 (erase pressure) acts on track 2.
    feed(&mut r, &[0xB0, 59, 127, 59, 0]);
    assert_eq!(feed(&mut r, &[0xB0, 5, 127]), vec![set(1, Param::Erase, 1.0)]);
}

#[test]
fn patch_bindings_report_lines_in_the_patch() {
    let dir = scratch_dir("patch-lines");
    let path = dir.join("live.toml");
    let text = "version = 1\n\n[[track]]\n\n[[midi]]\ncc = 1\nset = \"speeed\"\n";
    std::fs::write(&path, text).expect("write");
    let patch = ferrotape::patch::Patch::load(&path).expect("a patch keeps midi tables raw");
    let err = MidiMap::from_patch_tables(&patch.midi, &path).expect_err("bad binding");
    assert_eq!(err.line, Some(7));
    assert!(err
        .message
        .starts_with("midi binding 1: set = \"speeed\" is not a parameter; did you mean \"speed\"?"));
    // Once the file is gone the tables are still checked, without a line.
    std::fs::remove_file(&path).expect("remove");
    let err = MidiMap::from_patch_tables(&patch.midi, &path).expect_err("bad binding");
    assert_eq!(err.line, None);
    assert!(err.to_string().starts_with(&format!("{}: midi binding 1:", path.display())));
}

#[test]
fn learn_requests_parse() {
    let req = LearnRequest::parse("dub:1").expect("dub:1");
    assert_eq!(
        (req.target, req.track, req.mode),
        (BindingTarget::Action(TrackAction::Dub), TrackTarget::Number(1), None)
    );
    let req = LearnRequest::parse("speed:selected").expect("speed");
    assert_eq!((req.target, req.track), (BindingTarget::Param(Param::Speed), TrackTarget::Selected));
    let req = LearnRequest::parse("feedback:2:binary_offset").expect("relative");
    assert!(matches!(req.mode, Some(BindingMode::Relative { encoding: Encoding::BinaryOffset, .. })));
    assert_eq!(
        LearnRequest::parse("erase").expect("erase").target,
        BindingTarget::Action(TrackAction::Erase)
    );
    assert_eq!(LearnRequest::parse("set:erase:1").expect("set").target, BindingTarget::Param(Param::Erase));
    assert_eq!(LearnRequest::parse("erase_pressure").expect("pressure").target, BindingTarget::ErasePressure);
    assert_eq!(
        LearnRequest::parse("select:3").expect("select").target,
        BindingTarget::Select(SelectTrack::Number(3))
    );
    for (bad, message) in [
        ("dbu:1", "`dbu` is not something to learn; did you mean `dub`?"),
        ("dub:17", "track 17 is out of range"),
        ("dub:1:absolute", "mode `absolute` does not work with this target"),
        ("speed:1:relativ", "`relativ` is not a mode for this target; did you mean `relative`?"),
        ("clear:1:toggle", "`toggle` is not a mode for this target"),
        ("dub:1:toggle:x", "unexpected `:x`"),
        ("select:0", "`select:0`"),
        ("", "`` is not something to learn"),
    ] {
        let err = LearnRequest::parse(bad).expect_err(bad);
        assert!(err.starts_with(message), "{bad}: {err}");
    }
}

#[test]
fn learn_round_trip_binds_saves_and_reloads() {
    let dir = scratch_dir("learn");
    let path = dir.join("my-controller.toml");
    let (mut control, endpoint) = learn_channel();
    let mut r = MidiRouter::new(&[], SelectedTrack::new(2)).with_learn(endpoint);

    // Learn "hold to dub on track 1" from a pad on channel 10.
    assert!(control.request(LearnRequest::parse("dub:1").expect("parse")));
    assert_eq!(feed(&mut r, &[0xF8, 0x99, 36, 100]), vec![], "the learned press is consumed");
    assert_eq!(feed(&mut r, &[0x89, 36, 0]), vec![], "and so is its release");
    let learned = control.learned().expect("learned");
    assert!(learned.active);
    assert_eq!(
        learned.binding,
        MidiBinding {
            channel: ChannelFilter::Only(9),
            control: Control::Note(36),
            mode: BindingMode::Momentary { release: TrackAction::Play },
            target: BindingTarget::Action(TrackAction::Dub),
            track: TrackTarget::Number(1),
        }
    );
    assert_eq!(
        feed(&mut r, &[0x99, 36, 100, 0x89, 36, 0]),
        vec![act(0, TrackAction::Dub), act(0, TrackAction::Play)]
    );

    // Learn a knob for speed on the selected track: CC -> absolute, and for
    // speed exponential from 0.25x to 4x so the centre is 1x.
    control.request(LearnRequest::parse("speed").expect("parse"));
    feed(&mut r, &[0xB0, 21, 5]);
    let knob = control.learned().expect("learned").binding;
    assert!(matches!(knob.mode, BindingMode::Absolute { .. }));
    assert_eq!(feed(&mut r, &[0xB0, 21, 127]), vec![set(0, Param::Speed, 4.0)]);

    // Saved to a new file, it reloads equal, and what the router holds.
    let saved = save_learned(&path, &[learned.binding, knob]).expect("save");
    let reloaded = MidiMap::load(&path).expect("reload");
    assert_eq!(reloaded, saved);
    assert_eq!(reloaded.bindings, r.bindings().copied().collect::<Vec<_>>());
    assert_eq!(reloaded.name, "my-controller");

    // Re-learning the same pad replaces its binding, in the router and the file.
    control.request(LearnRequest::parse("mute:2").expect("parse"));
    feed(&mut r, &[0x99, 36, 100]);
    let relearned = control.learned().expect("learned");
    assert_eq!(relearned.replaced, 1);
    let saved = save_learned(&path, &[relearned.binding]).expect("save");
    assert_eq!(saved.bindings.len(), 2);
    assert_eq!(MidiMap::load(&path).expect("reload").bindings, r.bindings().copied().collect::<Vec<_>>());

    // Cancel leaves the next control to do what it did.
    control.request(LearnRequest::parse("undo:1").expect("parse"));
    control.cancel();
    assert_eq!(feed(&mut r, &[0xB0, 21, 0]), vec![set(0, Param::Speed, 0.25)]);
    assert!(!r.learning());
}

#[test]
fn learned_bindings_append_and_keep_comments() {
    let dir = scratch_dir("learn-append");
    let path = dir.join("map.toml");
    std::fs::write(&path, "# my pads\nname = \"pads\"\n\n[[midi]]\nnote = 36\ndo = \"undo\"\n")
        .expect("write");
    let binding = LearnRequest::parse("solo:1").expect("parse").binding_for(0, Control::Note(37));
    let map = save_learned(&path, &[binding]).expect("save");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.starts_with("# my pads\n"), "{text}");
    assert_eq!(map.bindings.len(), 2);
    assert_eq!(MidiMap::load(&path).expect("reload"), map);
    // Into a patch: the patch keeps its tracks and gains the binding.
    let patch_path = dir.join("live.toml");
    std::fs::write(&patch_path, "version = 1\nname = \"live\"\n\n[[track]]\nlength = 2.0\n").expect("write");
    save_learned(&patch_path, &[binding]).expect("save into patch");
    let patch = ferrotape::patch::Patch::load(&patch_path).expect("patch");
    assert_eq!(patch.tracks.len(), 1);
    assert_eq!(MidiMap::from_patch_tables(&patch.midi, &patch_path).expect("map").bindings, vec![binding]);
    assert!(check_file(&patch_path).expect("check").ends_with("1 track, seed 0, 1 MIDI binding"));
}

/// Every profile's bindings at once, on 3 tracks: random bytes must give
/// only commands the engine accepts.
fn all_profile_bindings() -> Vec<MidiBinding> {
    let mut all = Vec::new();
    for path in profiles() {
        all.extend(MidiMap::load(&path).expect("profile").bindings);
    }
    all.truncate(MAX_BINDINGS);
    all
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_give_only_valid_commands(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        biased in proptest::collection::vec((0xB0u8..0xBF, 0u8..128, 0u8..128), 0..64),
    ) {
        let mut r = MidiRouter::new(&all_profile_bindings(), SelectedTrack::new(3));
        let mut stream = bytes.clone();
        for (status, a, b) in biased {
            stream.extend([status, a, b]);
            stream.extend([status ^ 0x20, a, b]); // the same as a note-on
        }
        for chunk in stream.chunks(7) {
            for command in feed(&mut r, chunk) {
                prop_assert!(command.track().is_some_and(|t| t < 3), "{command:?}");
                match command {
                    Command::Set { param, value, .. } => {
                        prop_assert!(value.is_finite() && param.contains(value), "{command:?}");
                    }
                    Command::Nudge { param, delta, .. } => {
                        let spec = param.spec();
                        prop_assert!(delta.is_finite() && delta.abs() <= (spec.max - spec.min) * 64.0, "{command:?}");
                    }
                    Command::Track { .. } => {}
                    Command::RecordLatency { .. } => prop_assert!(false, "MIDI set the latency: {command:?}"),
                    Command::Grid(_) => prop_assert!(false, "a binding moved the grid: {command:?}"),
                }
            }
        }
        prop_assert!(r.selected().get() < 3);
    }

    #[test]
    fn parser_never_panics_and_reports_valid_messages(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let mut parser = MidiParser::new();
        parser.push_all(&bytes, |message| {
            assert!(message.channel() < 16);
            let (wire, len) = message.to_bytes();
            assert!(wire[1..len].iter().all(|b| *b < 0x80));
            if let MidiMessage::NoteOn { velocity, .. } = message {
                assert!(velocity > 0);
            }
        });
    }
}

#[test]
fn a_take_binding_counts_presses_and_sends_no_engine_command() {
    let mut router = router("[[midi]]\nnote = 60\ndo = \"take\"\n", 2);
    let presses = router.take_presses();
    assert!(feed(&mut router, &[0x90, 60, 100, 0x80, 60, 0]).is_empty(), "a take is not an engine command");
    assert_eq!(presses.count(), 1, "one press, one count (the release does nothing)");
    feed(&mut router, &[0x90, 60, 90, 0x90, 60, 0, 0x90, 60, 80]);
    assert_eq!(presses.count(), 3, "note-on velocity 0 is a release");
    // Only trigger makes sense for a switch that lives outside the engine.
    let err = MidiMap::parse("[[midi]]\ncc = 1\ndo = \"take\"\nmode = \"absolute\"\n", Path::new("t.toml"))
        .expect_err("absolute take");
    assert!(err.to_string().contains("trigger"), "{err}");
}
