//! A take carries what its sound depends on: the record latency (and its
//! changes, in the log), the engine revision and the ferrotape that played
//! it. On another engine revision it still renders, and says plainly that
//! it is not the original engine instead of claiming to be exact.

mod take_support;

use std::time::Duration;

use ferrotape::engine::{Command, MODEL_REVISION};
use ferrotape::take::folder::{replay_take, TakeInfo};
use ferrotape::take::{render_take, TAKE_FILE};
use take_support::*;

/// A take through a latency that changes while it runs.
fn take_through_latency(name: &str) -> std::path::PathBuf {
    let root = scratch(name);
    let patch = wobbly_patch();
    let (mut engine, mut feed, handle) = start(&root, &patch);
    let mut score = vec![(0, Command::RecordLatency { frames: 1_311 })];
    score.extend(score_with_change());
    perform(&mut engine, &mut feed, &score, 200_000, |frame| {
        if (30_000..30_600).contains(&frame) {
            handle.start();
        }
        if (190_000..190_600).contains(&frame) {
            handle.stop();
        }
    });
    assert!(handle.finish(Duration::from_secs(10)), "writer finishes");
    handle.status().folder.expect("a take folder")
}

fn score_with_change() -> Vec<(u64, Command)> {
    let mut score = score();
    score.push((110_000, Command::RecordLatency { frames: 2_000 }));
    score.sort_by_key(|e| e.0);
    score
}

#[test]
fn a_take_records_its_latency_and_engine_and_replays_them() {
    let dir = take_through_latency("revision-exact");
    let info = TakeInfo::load(&dir).expect("take.toml");
    assert_eq!(info.model_revision, MODEL_REVISION);
    assert_eq!(info.ferrotape_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.record_latency_frames, 1_311, "the latency when the take began");
    let log = std::fs::read_to_string(dir.join("events.toml")).unwrap();
    assert!(log.contains("record_latency_frames") && log.contains("to = 2000"), "{log}");
    let (_, _, exact) = replay_take(&dir, 256, |_, _| {}).expect("replay");
    assert!(exact);
    let out = dir.join("again.wav");
    let report = render_take(&dir, &out, None, 256).expect("render");
    assert!(report.exact && report.not_exact_because.is_none());
    let (_, live) = read_wav(&dir.join("mix.wav"));
    let (_, again) = read_wav(&out);
    assert!(live.iter().zip(&again).all(|(a, b)| a.to_bits() == b.to_bits()) && live.len() == again.len());
}

#[test]
fn a_take_from_another_engine_renders_but_says_so() {
    let dir = take_through_latency("revision-other");
    // The take as the first engine would have written it: no revision field.
    let path = dir.join(TAKE_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let older: String = text
        .lines()
        .filter(|l| !l.starts_with("model_revision") && !l.starts_with("ferrotape_version"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, older).unwrap();
    let (_, _, exact) = replay_take(&dir, 256, |_, _| {}).expect("replay");
    assert!(!exact);
    let report = render_take(&dir, &dir.join("again.wav"), None, 256).expect("it still renders");
    let why = report.not_exact_because.expect("a reason");
    assert!(why.starts_with("not the original engine: recorded by sound model revision 1"), "{why}");
    assert!(why.contains(&format!("revision {MODEL_REVISION}")), "{why}");
}

#[test]
fn the_take_log_alone_starts_from_the_latency_in_force() {
    let dir = take_through_latency("revision-own-log");
    let events = ferrotape::events::EventList::load(&dir.join("events.toml")).expect("log");
    let first = events.events.first().expect("events");
    assert_eq!(first.at, 0.0);
    assert_eq!(first.command, Command::RecordLatency { frames: 1_311 });
}
