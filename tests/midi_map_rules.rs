//! Rules over a whole set of bindings: one control may drive several
//! bindings (both act), two bindings that fight over one setting are refused
//! with both lines, and more than `MAX_BINDINGS` — in a map file, a patch,
//! or a patch and `--midi-map` together — is an error at load and in
//! `ferrotape check`, never a silent cut.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output};
use std::time::Instant;

use common::scratch_dir;
use ferrotape::bridge::CommandSink;
use ferrotape::check::{check_file, check_patch_with_map};
use ferrotape::engine::{Command, Param};
use ferrotape::io::{AudioOptions, BackendKind};
use ferrotape::live::{LiveOptions, LiveSession};
use ferrotape::midi_map::*;

#[derive(Default)]
struct Collect(Vec<Command>);

impl CommandSink for Collect {
    fn send(&mut self, command: Command, _at: Instant) -> bool {
        self.0.push(command);
        true
    }
}

fn feed(router: &mut MidiRouter, bytes: &[u8]) -> Vec<Command> {
    let mut sink = Collect::default();
    router.feed(bytes, Instant::now(), &mut sink);
    sink.0
}

fn ferrotape(args: &[&str]) -> Output {
    Process::new(env!("CARGO_BIN_EXE_ferrotape")).args(args).output().expect("run ferrotape")
}

fn stderr_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_string()
}

const TWO_TRACK_PATCH: &str =
    "version = 1\nname = \"two\"\nseed = 1\n\n[[track]]\nlength = 1.0\n\n[[track]]\nlength = 1.0\n";

/// One knob (CC 16) on the speed of tracks 1 and 2, 0.25x to 4x.
const ONE_KNOB_TWO_TRACKS: &str = r#"name = "gang"

[[midi]]
cc = 16
set = "speed"
track = 1
curve = "exponential"
min = 0.25
max = 4.0

[[midi]]
cc = 16
set = "speed"
track = 2
curve = "exponential"
min = 0.25
max = 4.0
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn null_session_options(midi_map: Option<PathBuf>, dir: &Path) -> LiveOptions {
    LiveOptions {
        audio: AudioOptions { backend: BackendKind::Null, ..AudioOptions::default() },
        virtual_midi: false,
        midi_map,
        takes_dir: dir.join("takes"),
        autosave: false,
        ..LiveOptions::default()
    }
}

#[test]
fn one_knob_on_two_tracks_moves_both_from_a_map_file() {
    let dir = scratch_dir("rules-gang");
    let patch = write(&dir, "two.toml", TWO_TRACK_PATCH);
    let map_path = write(&dir, "gang.toml", ONE_KNOB_TWO_TRACKS);

    let map = MidiMap::load(&map_path).expect("map");
    assert_eq!(map.bindings.len(), 2);
    let summary = check_file(&map_path).expect("check");
    assert!(summary.ends_with("is valid: 2 bindings"), "{summary}");
    let output = ferrotape(&["check", patch.to_str().unwrap(), "--midi-map", map_path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr_line(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains(": 2 MIDI bindings in force"));

    // The bindings a live session puts in force: the map file's, both of them.
    let session =
        LiveSession::start(&patch, null_session_options(Some(map_path), &dir), false).expect("start");
    let bindings = session.bindings().to_vec();
    session.stop();
    assert_eq!(bindings, map.bindings);

    // Through the router: one CC message, both tracks' speed, the same value.
    let mut router = MidiRouter::new(&bindings, SelectedTrack::new(2));
    for (cc_value, speed) in [(0u8, 0.25f32), (127, 4.0)] {
        let commands = feed(&mut router, &[0xB0, 16, cc_value]);
        let expected: Vec<Command> =
            (0..2).map(|track| Command::Set { track, param: Param::Speed, value: speed }).collect();
        assert_eq!(commands.len(), 2, "{commands:?}");
        for (got, want) in commands.iter().zip(&expected) {
            let (
                Command::Set { track: a, param: p, value: x },
                Command::Set { track: b, param: q, value: y },
            ) = (got, want)
            else {
                panic!("{got:?}")
            };
            assert_eq!((a, p), (b, q));
            assert!((x - y).abs() < 1e-4, "{got:?} vs {want:?}");
        }
    }
    // The middle of the travel is 1x on both (exponential, 0.25 to 4).
    let middle = feed(&mut router, &[0xB0, 16, 64]);
    assert!(middle.iter().all(|c| matches!(c, Command::Set { value, .. } if (value - 1.0).abs() < 0.03)));
}

#[test]
fn a_map_binding_replaces_the_patch_binding_on_its_control_only() {
    let dir = scratch_dir("rules-replace");
    let patch_text = format!(
        "{TWO_TRACK_PATCH}\n[[midi]]\ncc = 16\nset = \"feedback\"\ntrack = 1\n\n[[midi]]\ncc = 17\nset = \"pan\"\ntrack = 2\n"
    );
    let patch = write(&dir, "two.toml", &patch_text);
    let map_path = write(&dir, "gang.toml", ONE_KNOB_TWO_TRACKS);
    let session =
        LiveSession::start(&patch, null_session_options(Some(map_path), &dir), false).expect("start");
    let bindings = session.bindings().to_vec();
    session.stop();
    let mut router = MidiRouter::new(&bindings, SelectedTrack::new(2));
    let params: Vec<(u8, Param)> = feed(&mut router, &[0xB0, 16, 64, 0xB0, 17, 64])
        .into_iter()
        .map(|c| match c {
            Command::Set { track, param, .. } => (track, param),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(params, vec![(0, Param::Speed), (1, Param::Speed), (1, Param::Pan)]);
}

#[test]
fn two_bindings_fighting_over_one_setting_name_both_lines() {
    let dir = scratch_dir("rules-conflict");
    let text = "name = \"fight\"\n\n[[midi]]\ncc = 16\nset = \"speed\"\ntrack = 1\n\n[[midi]]\ncc = 17\nset = \"pan\"\n\n[[midi]]\ncc = 16\nchannel = 2\nset = \"speed\"\ntrack = 1\nmin = 0.5\nmax = 2.0\n";
    let map_path = write(&dir, "fight.toml", text);
    let expected = format!(
        "{}:12: midi binding 3: cc 16 drives speed of track 1 twice: midi binding 1 (line 3) already does; \
         keep one, or move one to another control, channel or track",
        map_path.display()
    );
    assert_eq!(MidiMap::load(&map_path).expect_err("conflict").to_string(), expected);
    let output = ferrotape(&["check", map_path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr_line(&output), format!("ferrotape: {expected}"));

    // The same tables in a patch: lines in the patch.
    let patch_path = write(&dir, "fight-patch.toml", &format!("{TWO_TRACK_PATCH}\n{}", &text[16..]));
    let err = check_file(&patch_path).expect_err("conflict in a patch");
    assert_eq!(err.line, Some(20), "{err}");
    assert!(err.message.contains("midi binding 1 (line 11)"), "{err}");
    // Playing it is refused the same way, before any audio starts.
    let output =
        ferrotape(&["play", patch_path.to_str().unwrap(), "--no-tui", "--audio", "null", "--duration", "1"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr_line(&output), format!("ferrotape: {err}"));
}

/// `count` bindings on distinct controls (CC then notes, channels from
/// `first_channel`), each on the speed of track 1.
fn distinct_bindings(count: usize, first_channel: usize) -> String {
    (0..count)
        .map(|i| {
            let channel = first_channel + i / 256;
            let (kind, number) = if i % 256 < 128 { ("cc", i % 128) } else { ("note", i % 128) };
            let target = if kind == "cc" { "set = \"speed\"" } else { "do = \"dub\"" };
            format!("[[midi]]\n{kind} = {number}\nchannel = {channel}\n{target}\ntrack = 1\n\n")
        })
        .collect()
}

#[test]
fn more_bindings_than_the_router_holds_are_refused_everywhere() {
    let dir = scratch_dir("rules-limit");
    assert_eq!(MAX_BINDINGS, 256);
    // Each generated table is 6 lines; the first starts on `offset + 1`.
    let header_line = |offset: usize, index: usize| offset + 6 * index + 1;

    // A map file alone.
    let map_path = write(&dir, "big.toml", &distinct_bindings(257, 1));
    let expected = format!(
        "{}:{}: too many bindings: 257 [[midi]] tables, at most 256",
        map_path.display(),
        header_line(0, 256)
    );
    assert_eq!(check_file(&map_path).expect_err("257").to_string(), expected);
    assert_eq!(check_file(&write(&dir, "full.toml", &distinct_bindings(256, 1))).map(|_| ()), Ok(()));

    // A patch's own tables.
    let patch_path =
        write(&dir, "big-patch.toml", &format!("{TWO_TRACK_PATCH}\n{}", distinct_bindings(257, 1)));
    let offset = TWO_TRACK_PATCH.lines().count() + 1;
    let err = check_file(&patch_path).expect_err("257 in a patch");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:{}: too many bindings: 257 [[midi]] tables, at most 256",
            patch_path.display(),
            header_line(offset, 256)
        )
    );

    // A patch with 200 and a map with 100 on other controls: 300 together.
    // The map's 57th binding is the first over the limit.
    let patch_path =
        write(&dir, "two-hundred.toml", &format!("{TWO_TRACK_PATCH}\n{}", distinct_bindings(200, 1)));
    let map_path =
        write(&dir, "hundred.toml", &format!("name = \"hundred\"\n\n{}", distinct_bindings(100, 5)));
    assert!(check_file(&patch_path).is_ok() && check_file(&map_path).is_ok(), "each fits on its own");
    let expected = format!(
        "{}:{}: midi binding 57: too many bindings: 200 from the patch and 100 here make 300, at most 256 together",
        map_path.display(),
        header_line(2, 56)
    );
    assert_eq!(check_patch_with_map(&patch_path, &map_path).expect_err("300").to_string(), expected);
    let output =
        ferrotape(&["check", patch_path.to_str().unwrap(), "--midi-map", map_path.to_str().unwrap()]);
    assert_eq!((output.status.code(), stderr_line(&output)), (Some(1), format!("ferrotape: {expected}")));
    let err = LiveSession::start(&patch_path, null_session_options(Some(map_path.clone()), &dir), false)
        .err()
        .expect("a session with 300 bindings must not start");
    assert_eq!(err, expected);
    for screen in [false, true] {
        let mut args = vec!["play", patch_path.to_str().unwrap(), "--audio", "null", "--no-virtual-midi"];
        args.extend(["--midi-map", map_path.to_str().unwrap()]);
        if !screen {
            args.extend(["--no-tui", "--duration", "1"]);
        }
        let output = ferrotape(&args);
        assert_eq!((output.status.code(), stderr_line(&output)), (Some(1), format!("ferrotape: {expected}")));
    }

    // Map bindings that replace patch bindings free their places: the
    // same 100 on the patch's own controls leave 200 in force.
    let map_path = write(&dir, "replacing.toml", &distinct_bindings(100, 1));
    let summary = check_patch_with_map(&patch_path, &map_path).expect("replacing map fits");
    assert!(summary.ends_with(": 200 MIDI bindings in force"), "{summary}");
}

#[test]
fn learning_into_a_full_table_reports_not_active_unless_it_replaces() {
    let dir = scratch_dir("rules-learn-full");
    let map_path = write(&dir, "full.toml", &distinct_bindings(MAX_BINDINGS, 1));
    let map = MidiMap::load(&map_path).expect("full map");
    let before = std::fs::read_to_string(&map_path).expect("read");
    let (mut control, endpoint) = learn_channel();
    let mut router = MidiRouter::new(&map.bindings, SelectedTrack::new(2)).with_learn(endpoint);
    let request = LearnRequest::parse("feedback:2").expect("request");

    // A control nothing listens to yet: no room, so not active.
    assert!(control.request(request));
    feed(&mut router, &[0xBF, 100, 64]);
    let learned = control.learned().expect("a learn result");
    assert!(!learned.active && learned.replaced == 0, "{learned:?}");
    assert_eq!(router.bindings().count(), MAX_BINDINGS);
    assert!(feed(&mut router, &[0xBF, 100, 64]).is_empty(), "the learned control does nothing");
    // Nor is it saved: 257 bindings would make the file refuse to load.
    let err = save_learned_binding(&map_path, &learned).expect_err("not active, not saved");
    assert!(err.to_string().contains("256 bindings are in force"), "{err}");
    assert_eq!(std::fs::read_to_string(&map_path).expect("read"), before);

    // A control already bound (CC 3 on channel 1): replaced, so there is room.
    assert!(control.request(request));
    feed(&mut router, &[0xB0, 3, 64]);
    let learned = control.learned().expect("a learn result");
    assert!(learned.active && learned.replaced == 1, "{learned:?}");
    assert_eq!(
        feed(&mut router, &[0xB0, 3, 127]),
        vec![Command::Set { track: 1, param: Param::Feedback, value: 1.0 }]
    );
    let saved = save_learned_binding(&map_path, &learned).expect("an active binding is saved");
    assert_eq!(saved.bindings.len(), MAX_BINDINGS);
    assert_eq!(MidiMap::load(&map_path).expect("still loads"), saved);
}
