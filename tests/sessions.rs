//! Sessions: tapes saved beside the patch come back exactly; other sample
//! rates are resampled; autosaves are atomic and offered for recovery; the
//! tape copy from the audio thread neither allocates nor waits.

use std::path::{Path, PathBuf};

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use ferrotape::engine::{Command, Engine, TimedCommand, TrackAction};
use ferrotape::patch::Patch;
use ferrotape::session::{
    load_session, save_session, tape_file, tape_mirror, tapes_dir, write_tape, Autosave, AUTOSAVES_KEPT,
};
use ferrotape::take::{spawn, TakeConfig};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const RATE: u32 = 48_000;

fn patch() -> Patch {
    let text = "version = 1\nname = \"loops\"\nseed = 3\n\n[[track]]\nlength = 0.5\n\n[[track]]\nlength = \"free\"\nmax_length = 3\n";
    Patch::parse(text, Path::new("loops.toml")).expect("parses")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrotape-sessions-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Record 0.8 s of a tone on both tracks (the free one closes at 1.1 s),
/// copying the tapes out through the mirror as the live runner would.
fn recorded_engine() -> (Engine, Vec<Vec<f32>>) {
    let patch = patch();
    let config = patch.engine_config();
    let mut engine = Engine::new(config.clone(), RATE as f64, 256);
    let (mut copier, mut copies) = tape_mirror(&config, RATE as f64, 4_000);
    let record = |track| Command::Track { track, action: TrackAction::Record };
    let play = |track| Command::Track { track, action: TrackAction::Play };
    let score = [(100u64, record(0)), (150, record(1)), (38_500, play(0)), (52_900, play(1))];
    let mut input = [0.0f32; 256];
    let (mut left, mut right) = ([0.0f32; 256], [0.0f32; 256]);
    let mut timed = Vec::with_capacity(8);
    let mut tapes = None;
    for k in 0..400u64 {
        let frame = k * 256;
        for (i, x) in input.iter_mut().enumerate() {
            *x = 0.5 * ((frame + i as u64) as f32 * 0.031).sin();
        }
        timed.clear();
        for &(at, command) in score.iter().filter(|(at, _)| (frame..frame + 256).contains(at)) {
            timed.push(TimedCommand { offset: (at - frame) as u32, command });
        }
        if k == 300 {
            assert!(copies.request());
        }
        assert_no_alloc(|| {
            engine.process(&input, &mut left, &mut right, &timed);
            copier.step(&engine);
        });
        if k > 300 && tapes.is_none() {
            tapes = copies.collect();
        }
    }
    let tapes = tapes.expect("copies arrive within 100 blocks").tapes;
    (engine, tapes)
}

#[test]
fn the_mirror_copies_tapes_exactly_without_allocating() {
    let (engine, tapes) = recorded_engine();
    assert_eq!(tapes.len(), 2);
    for (t, tape) in tapes.iter().enumerate() {
        assert_eq!(tape.as_slice(), engine.tape(t).expect("track"), "track {}", t + 1);
    }
    // The free track remembers the length of its first take (~1.1 s).
    assert!((52_000..53_500).contains(&tapes[1].len()), "free loop {} cells", tapes[1].len());
    assert!(tapes[0].iter().any(|&x| x.abs() > 0.1));
}

#[test]
fn a_saved_session_reopens_exactly() {
    let dir = scratch("roundtrip");
    let (engine, tapes) = recorded_engine();
    let path = dir.join("loops.toml");
    save_session(&path, &patch(), &tapes, RATE).expect("save");
    assert!(tapes_dir(&path).join(tape_file(1)).is_file());
    // Saving again replaces the folder whole.
    save_session(&path, &patch(), &tapes, RATE).expect("save again");
    let session = load_session(&path, RATE).expect("load");
    let mut reopened = Engine::new(session.patch.engine_config(), RATE as f64, 256);
    session.load_into(&mut reopened);
    for t in 0..2 {
        let (a, b) = (engine.tape(t).expect("track"), reopened.tape(t).expect("track"));
        assert_eq!(a.len(), b.len(), "track {} length", t + 1);
        assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()), "track {} cells", t + 1);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tapes_at_another_rate_are_resampled_on_load() {
    let dir = scratch("resample");
    let path = dir.join("loops.toml");
    patch().save(&path).expect("patch");
    std::fs::create_dir_all(tapes_dir(&path)).expect("dir");
    // 1 s of a 1 kHz tone at 44.1 kHz on the free track.
    let tone: Vec<f32> = (0..44_100)
        .map(|n| (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 44_100.0).sin() * 0.5)
        .collect();
    write_tape(&tapes_dir(&path).join(tape_file(1)), &tone, 44_100).expect("tape");
    let session = load_session(&path, RATE).expect("load");
    assert!(session.tapes[0].is_none());
    let tape = session.tapes[1].as_ref().expect("resampled tape");
    assert_eq!(tape.len(), 48_000);
    let mut engine = Engine::new(session.patch.engine_config(), RATE as f64, 256);
    session.load_into(&mut engine);
    assert_eq!(engine.tape(1).expect("track").len(), 48_000, "free loop is 1 s long");
    let err = (5_000..43_000)
        .map(|n| (tape[n] - 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 48_000.0).sin()).abs())
        .fold(0.0, f32::max);
    assert!(err < 0.01, "max error {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn autosaves_are_atomic_kept_and_offered_for_recovery() {
    let dir = scratch("autosave");
    let path = dir.join("loops.toml");
    patch().save(&path).expect("patch");
    let autosave = Autosave::beside(&path);
    assert_eq!(autosave.find_recovery(&path), None, "nothing autosaved yet");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let tapes = vec![vec![0.25f32; 24_000], vec![0.5f32; 1_000]];
    for _ in 0..4 {
        autosave.save(&patch(), &tapes, RATE).expect("autosave");
    }
    assert_eq!(autosave.list().len(), AUTOSAVES_KEPT);
    // A save that died half way (a staging folder without its rename) is ignored.
    let dead = autosave.dir().join(".loops.99999999999999.tmp");
    std::fs::create_dir_all(&dead).expect("dead dir");
    std::fs::write(dead.join("patch.toml"), "half a patch").expect("write");
    let recovery = autosave.find_recovery(&path).expect("newer than the patch");
    let session = recovery.load(RATE).expect("loads");
    assert_eq!(session.tapes[1].as_deref(), Some(&tapes[1][..]));
    assert_eq!(session.patch.tracks, patch().tracks);
    // Saving the patch afterwards makes the autosave old news.
    std::thread::sleep(std::time::Duration::from_millis(20));
    patch().save(&path).expect("save");
    assert_eq!(autosave.find_recovery(&path), None);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_take_feed_neither_allocates_nor_waits() {
    let dir = scratch("feed");
    let patch = patch();
    let (mut feed, handle) = spawn(TakeConfig::new(dir.clone(), patch, RATE, 2)).expect("spawn");
    handle.set_always_on(true);
    let block = [0.1f32; 256];
    for k in 0..200u64 {
        if k == 150 {
            handle.stop();
        }
        assert_no_alloc(|| {
            if k == 10 {
                feed.log(k * 256 + 17, Command::Track { track: 0, action: TrackAction::Dub });
            }
            feed.log(
                k * 256,
                Command::Nudge { track: 1, param: ferrotape::engine::Param::Speed, delta: 0.01 },
            );
            feed.push(k * 256, &block, &block, &block, |_| &block[..]);
            feed.flush();
        });
    }
    assert!(handle.finish(std::time::Duration::from_secs(10)));
    let status = handle.status();
    assert_eq!(status.last_error, None);
    assert!(status.folder.is_some());
    let _ = std::fs::remove_dir_all(&dir);
}
