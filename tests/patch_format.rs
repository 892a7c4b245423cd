//! The patch format: the examples load, every malformed fixture gives its
//! documented message, patches round-trip through `to_toml`, saves are
//! atomic, and the documentation's parameter table matches the engine's.

mod common;

use std::path::Path;

use common::{bad_fixture_files, documented_bad_fixtures, example_patches, scratch_dir, BAD_DIR};
use ferrotape::engine::params::DEFAULT_MAX_LENGTH_S;
use ferrotape::engine::{Param, Quality, SaturationModel, TapeLength, ToneModel, TrackParams, MAX_TRACKS};
use ferrotape::patch::Patch;

fn parse(text: &str) -> Result<Patch, String> {
    Patch::parse(text, Path::new("patches/live.toml")).map_err(|e| e.to_string())
}

fn parse_err(text: &str) -> String {
    match parse(text) {
        Ok(patch) => panic!("expected an error, got {patch:?}"),
        Err(message) => message,
    }
}

#[test]
fn there_are_at_least_four_example_patches_and_all_load() {
    let patches = example_patches();
    assert!(patches.len() >= 4, "{patches:?}");
    for path in patches {
        let patch = Patch::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!patch.name.is_empty(), "{}", path.display());
        assert!(!patch.tracks.is_empty());
    }
}

#[test]
fn example_patches_say_what_they_are_for() {
    for path in example_patches() {
        let text = std::fs::read_to_string(&path).expect("read");
        let header_lines = text.lines().take_while(|line| line.starts_with('#')).count();
        assert!(header_lines >= 8, "{} needs a comment header explaining the piece", path.display());
        assert!(text.contains("ferrotape render"), "{} should show how to render it", path.display());
    }
}

#[test]
fn frippertronics_reads_as_written() {
    let patch = Patch::load(Path::new("patches/frippertronics.toml")).expect("load");
    assert_eq!(patch.name, "Frippertronics");
    assert_eq!(patch.seed, 1973);
    assert_eq!(patch.tracks.len(), 2);
    let left = &patch.tracks[0];
    assert_eq!(left.name, "left machine");
    assert_eq!(left.length, TapeLength::Fixed(7.3));
    assert_eq!(left.params.get(Param::Length), 7.3);
    assert_eq!(left.params.get(Param::Feedback), 0.93);
    assert_eq!(left.params.get(Param::HissDb), -76.0);
    assert_eq!(left.params.get(Param::Pan), -0.6);
    // Unmentioned keys keep their defaults.
    assert_eq!(left.params.get(Param::Speed), Param::Speed.default_value());
}

#[test]
fn minimal_patch_takes_every_default() {
    let patch = parse("version = 1\n[[track]]\n").expect("parse");
    assert_eq!(patch.name, "live", "the name defaults to the file name");
    assert_eq!(patch.seed, 0);
    assert_eq!(patch.sample_rate, None);
    assert_eq!(patch.quality, Quality::Full);
    assert_eq!(patch.master_db, 0.0);
    assert!(patch.midi.is_empty());
    let track = &patch.tracks[0];
    assert_eq!(track.params, TrackParams::default());
    assert_eq!(track.length, TapeLength::Fixed(4.0));
    assert_eq!(track.saturation, SaturationModel::Hysteresis);
    assert_eq!(track.tone, ToneModel::Tape);
    assert!(!track.mute && !track.solo);
}

#[test]
fn every_key_is_read() {
    let patch = parse(
        r#"
version = 1
name = "all"
seed = 18446744073709551615
sample_rate = 44100
quality = "eco"
master_db = -3

[[track]]
name = "a"
length = "free"
max_length = 120
undo_mb = 48.5
speed = -0.5
level_db = -6
pan = 1
feedback = 0.5
erase = 0.1
drive_db = 12
wow_pct = 5
wow_hz = 0.05
flutter_pct = 2
flutter_hz = 30
drift_pct = 1
hiss_db = -70
age = 0.25
inertia_s = 0
saturation = "off"
tone = "flat"
mute = true
solo = true

[[track]]
length = "free"
"#,
    )
    .expect("parse");
    assert_eq!(patch.seed, u64::MAX);
    assert_eq!(patch.sample_rate, Some(44100));
    assert_eq!(patch.quality, Quality::Eco);
    assert_eq!(patch.master_db, -3.0);
    let track = &patch.tracks[0];
    assert_eq!(track.length, TapeLength::Free { max_seconds: 120.0 });
    assert_eq!(track.undo_mb, 48.5);
    assert_eq!(patch.tracks[1].undo_mb, ferrotape::engine::params::DEFAULT_UNDO_MB);
    let expected = [
        (Param::Speed, -0.5),
        (Param::LevelDb, -6.0),
        (Param::Pan, 1.0),
        (Param::Feedback, 0.5),
        (Param::Erase, 0.1),
        (Param::DriveDb, 12.0),
        (Param::WowPct, 5.0),
        (Param::WowHz, 0.05),
        (Param::FlutterPct, 2.0),
        (Param::FlutterHz, 30.0),
        (Param::DriftPct, 1.0),
        (Param::HissDb, -70.0),
        (Param::Age, 0.25),
        (Param::InertiaS, 0.0),
    ];
    for (param, value) in expected {
        assert_eq!(track.params.get(param), value, "{}", param.key());
    }
    assert_eq!(track.saturation, SaturationModel::Off);
    assert_eq!(track.tone, ToneModel::Flat);
    assert!(track.mute && track.solo);
    assert_eq!(patch.tracks[1].length, TapeLength::Free { max_seconds: DEFAULT_MAX_LENGTH_S });
}

#[test]
fn range_bounds_are_inclusive_for_every_param() {
    for param in Param::ALL {
        let spec = param.spec();
        for value in [spec.min, spec.max] {
            let text = format!("version = 1\n[[track]]\n{} = {}\n", spec.key, value);
            let patch = parse(&text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(patch.tracks[0].params.get(param), value);
        }
        let above = format!("version = 1\n[[track]]\n{} = {}\n", spec.key, spec.max + 1.0);
        let message = parse_err(&above);
        assert_eq!(
            message,
            format!(
                "patches/live.toml:3: track 1: {} = {} is out of range ({} to {})",
                spec.key,
                spec.max + 1.0,
                spec.min,
                spec.max
            )
        );
    }
}

#[test]
fn every_bad_fixture_is_documented() {
    let documented: Vec<String> = documented_bad_fixtures().into_iter().map(|(file, _)| file).collect();
    for file in bad_fixture_files() {
        assert!(documented.contains(&file), "{file} is not listed in {BAD_DIR}/README.md");
    }
    for file in &documented {
        assert!(Path::new(BAD_DIR).join(file).exists(), "README lists missing fixture {file}");
    }
}

#[test]
fn bad_patches_give_their_documented_message() {
    let mut checked = 0;
    for (file, expected) in documented_bad_fixtures()
        .into_iter()
        .filter(|(f, _)| !f.ends_with(".events.toml") && !f.ends_with(".midi.toml"))
    {
        let path = Path::new(BAD_DIR).join(&file);
        match Patch::load(&path) {
            Ok(_) => panic!("{file} loaded without error"),
            Err(err) => assert_eq!(err.to_string(), expected, "{file}"),
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} bad patches");
}

#[test]
fn errors_carry_the_line_separately() {
    let err = Patch::load(&Path::new(BAD_DIR).join("out_of_range.toml")).expect_err("bad");
    assert_eq!(err.line, Some(10));
    assert_eq!(err.message, "track 2: wow_pct = 12 is out of range (0 to 5)");
    let missing = Patch::load(&Path::new(BAD_DIR).join("missing_version.toml")).expect_err("bad");
    assert_eq!(missing.line, None);
}

#[test]
fn unreadable_file_says_why() {
    let err = Patch::load(Path::new("patches/does-not-exist.toml")).expect_err("missing");
    assert_eq!(err.to_string(), "patches/does-not-exist.toml: cannot read: No such file or directory");
}

#[test]
fn odd_values_are_errors_not_panics() {
    let cases = [
        ("", "patches/live.toml: missing `version = 1` (the patch format version) at the top of the file"),
        ("version = \"1\"\n", "patches/live.toml:1: version = \"1\" is a string; expected the integer 1"),
        ("version = 1.0\n", "patches/live.toml:1: version = 1.0 is a float; expected the integer 1"),
        ("version = 99999999999999999999999\n", "patches/live.toml:1: unsupported patch version 99999999999999999999999; this ferrotape reads version 1"),
        ("version = 1\n[[track]]\nspeed = nan\n", "patches/live.toml:3: track 1: speed = nan is not a finite number; expected a number (-4 to 4)"),
        ("version = 1\n[[track]]\nlength = inf\n", "patches/live.toml:3: track 1: length = inf is not a finite number; expected a number of seconds (0.05 to 600) or \"free\""),
        ("version = 1\n[[track]]\nlength = 0.01\n", "patches/live.toml:3: track 1: length = 0.01 is out of range (0.05 to 600)"),
        ("version = 1\n[[track]]\nlength = true\n", "patches/live.toml:3: track 1: length = true is a boolean; expected a number of seconds (0.05 to 600) or \"free\""),
        ("version = 1\n[[track]]\nlength = \"free\"\nmax_length = \"free\"\n", "patches/live.toml:4: track 1: max_length = \"free\" is a string; expected a number of seconds (0.05 to 600)"),
        ("version = 1\n[[track]]\nundo_mb = 0.5\n", "patches/live.toml:3: track 1: undo_mb = 0.5 is out of range; expected a number of MiB (1 to 1024)"),
        ("version = 1\n[[track]]\nundo_mb = \"lots\"\n", "patches/live.toml:3: track 1: undo_mb = \"lots\" is a string; expected a number of MiB (1 to 1024)"),
        ("version = 1\n[[track]]\nmute = \"yes\"\n", "patches/live.toml:3: track 1: mute = \"yes\" is a string; expected true or false"),
        ("version = 1\n[[track]]\nspeed = [1, 2]\n", "patches/live.toml:3: track 1: speed is an array; expected a number (-4 to 4)"),
        ("version = 1\n[[track]]\npan = { x = 1 }\n", "patches/live.toml:3: track 1: pan is a table; expected a number (-1 to 1)"),
        ("version = 1\nseed = -1\n[[track]]\n", "patches/live.toml:2: seed = -1 is out of range (a whole number from 0 to 18446744073709551615)"),
        ("version = 1\nsample_rate = 48000.0\n[[track]]\n", "patches/live.toml:2: sample_rate = 48000.0 is a float; expected a whole number of Hz (8000 to 192000)"),
        ("version = 1\nquality = \"high\"\n[[track]]\n", "patches/live.toml:2: quality = \"high\" is not one of \"full\", \"eco\""),
        ("version = 1\ntrack = [1]\n", "patches/live.toml:2: each `track` entry must be a table, not an integer"),
        ("version = 1\ntrack = 3\n", "patches/live.toml:2: `track` must be a list of tables; write one [[track]] header per track"),
        ("version = 1\ntrack = []\n", "patches/live.toml: a patch needs at least one [[track]]"),
        ("version = 1\nnaem = \"x\"\n[[track]]\n", "patches/live.toml:2: unknown key `naem`; did you mean `name`?"),
        ("version = 1\ncolour = 3\n[[track]]\n", "patches/live.toml:2: unknown key `colour` (allowed: version, name, seed, sample_rate, quality, master_db, monitor_db, track, midi, osc, sync)"),
        ("version = 1\n[[midi]]\nx = 99999999999999999999\n[[track]]\n", "patches/live.toml:2: midi: integer 99999999999999999999 is too large"),
        ("version = 1\n[[track]]\n[[track]]\nfeedback = 2\nwow_hx = 1\n", "patches/live.toml:4: track 2: feedback = 2 is out of range (0 to 1)"),
        ("\u{feff}version = 1\n[[track]]\n", ""),
        ("version = 1\n[[track]]\nname = \"a\"\nname = \"b\"\n", "patches/live.toml:4: not valid TOML: duplicate key"),
    ];
    for (text, expected) in cases {
        match parse(text) {
            Ok(_) if expected.is_empty() => {}
            Ok(patch) => panic!("{text:?} parsed to {patch:?}"),
            Err(message) => assert_eq!(message, expected, "for {text:?}"),
        }
    }
}

#[test]
fn integers_are_accepted_where_numbers_are_expected() {
    let patch = parse("version = 1\n[[track]]\nlength = 8\nhiss_db = -76\nspeed = 0x1\n").expect("parse");
    assert_eq!(patch.tracks[0].length, TapeLength::Fixed(8.0));
    assert_eq!(patch.tracks[0].params.get(Param::HissDb), -76.0);
    assert_eq!(patch.tracks[0].params.get(Param::Speed), 1.0);
}

#[test]
fn max_tracks_is_allowed() {
    let text = format!("version = 1\n{}", "[[track]]\n".repeat(MAX_TRACKS));
    assert_eq!(parse(&text).expect("parse").tracks.len(), MAX_TRACKS);
}

#[test]
fn examples_round_trip_through_to_toml() {
    for path in example_patches() {
        let patch = Patch::load(&path).expect("load");
        let text = patch.to_toml();
        let again = Patch::parse(&text, &path).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(again, patch, "{}", path.display());
        assert_eq!(again.to_toml(), text, "to_toml is stable");
    }
}

#[test]
fn awkward_values_round_trip() {
    let mut patch = parse(
        r#"
version = 1
name = "quote \" backslash \\ tab \t ünïcödé"
seed = 18446744073709551615
sample_rate = 192000
quality = "eco"
master_db = -0.1

[[track]]
name = "line\nbreak"
length = 0.05
speed = -3.999
feedback = 0.9300001
hiss_db = -119.99

[[track]]
length = "free"
max_length = 599.999
undo_mb = 2.25

[[midi]]
cc = 7
channel = 1
target = { track = 1, param = "level_db" }
curve = [0.0, 0.5, 1.0]
"#,
    )
    .expect("parse");
    patch.tracks[1].params.set(Param::Pan, 1.0 / 3.0);
    let text = patch.to_toml();
    let again = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(again, patch);
    assert_eq!(again.midi.len(), 1);
    assert_eq!(again.midi[0].get("cc").and_then(|v| v.as_integer()), Some(7));
}

#[test]
fn engine_config_carries_the_patch() {
    let patch = Patch::load(Path::new("patches/airports.toml")).expect("load");
    let config = patch.engine_config();
    assert_eq!(config.seed, patch.seed);
    assert_eq!(config.quality, patch.quality);
    assert_eq!(config.master_db, patch.master_db);
    assert_eq!(config.tracks, patch.tracks);
}

#[test]
fn save_writes_atomically_and_reloads_equal() {
    let dir = scratch_dir("save");
    let path = dir.join("saved.toml");
    let mut patch = Patch::load(Path::new("patches/cassette.toml")).expect("load");
    patch.save(&path).expect("first save");
    assert_eq!(Patch::load(&path).expect("reload"), patch);

    // Saving again replaces the file in one step.
    patch.tracks[0].params.set(Param::Speed, 0.25);
    patch.save(&path).expect("second save");
    assert_eq!(Patch::load(&path).expect("reload").tracks[0].params.get(Param::Speed), 0.25);

    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["saved.toml".to_string()], "no temporary file is left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn failed_save_keeps_the_previous_file() {
    let dir = scratch_dir("failed-save");
    let path = dir.join("keep.toml");
    let patch = Patch::load(Path::new("patches/free.toml")).expect("load");
    patch.save(&path).expect("save");
    let before = std::fs::read(&path).expect("read");
    let err = patch.save(&dir.join("no-such-dir").join("x.toml")).expect_err("cannot save there");
    assert!(err.to_string().contains("cannot write: No such file or directory"), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), before);
    let _ = std::fs::remove_dir_all(&dir);
}
