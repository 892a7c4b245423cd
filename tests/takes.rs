//! The take recorder driven by a simulated clock: what it writes, that a
//! take re-renders bit for bit, always-on mode, and disks that fail.

mod take_support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferrotape::engine::{Command, Engine, Param, TrackAction};
use ferrotape::events::EventList;
use ferrotape::take::folder::{replay_take, TakeInfo};
use ferrotape::take::{spawn, TakeConfig, TakeFeed, EVENT_QUEUE};
use take_support::*;

#[test]
fn a_take_re_renders_bit_for_bit() {
    let root = scratch("exact");
    let patch = wobbly_patch();
    let (mut engine, mut feed, handle) = start(&root, &patch);
    // Start 1.5 s in (tracks already recording, wow mid-cycle), stop at 4 s.
    perform(&mut engine, &mut feed, &score(), 200_000, |frame| {
        if (72_000..72_600).contains(&frame) {
            handle.start();
        }
        if (192_000..192_600).contains(&frame) {
            handle.stop();
        }
    });
    assert!(handle.finish(Duration::from_secs(10)), "writer finishes");
    let status = handle.status();
    assert_eq!(status.last_error, None);
    assert_eq!(status.dropped_blocks, 0);
    let dir = status.folder.expect("a take folder");
    let info = TakeInfo::load(&dir).expect("take.toml");
    assert!(info.exact);
    let frames = info.frames.expect("finished take has a length");
    assert!((119_000..121_000).contains(&frames), "take length {frames}");

    let (channels, live_mix) = read_wav(&dir.join("mix.wav"));
    assert_eq!(channels, 2);
    assert_eq!(live_mix.len() as u64, 2 * frames);
    let (_, live_stem) = read_wav(&dir.join("track-02.wav"));
    let (_, live_input) = read_wav(&dir.join("input.wav"));
    assert_eq!(live_input[0], input_at(info.start_frame));

    for block in [64, 333] {
        let mut mix = Vec::new();
        let mut stem = Vec::new();
        let (_, replayed, exact) = replay_take(&dir, block, |b, range| {
            for i in range.clone() {
                mix.push(b.left[i]);
                mix.push(b.right[i]);
            }
            stem.extend_from_slice(&b.stem(1)[range]);
        })
        .expect("replay");
        assert!(exact);
        assert_eq!(replayed, frames);
        let differing = mix.iter().zip(&live_mix).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        assert_eq!(differing, 0, "block {block}: {differing} samples differ");
        assert_eq!(mix.len(), live_mix.len());
        assert!(stem.iter().zip(&live_stem).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert!(mix.iter().any(|&x| x.abs() > 0.05), "the take is not silence");
    }

    // The take's own control log is in the events format, relative to its start.
    let events = EventList::load(&dir.join("events.toml")).expect("events.toml parses");
    // It starts with the latency in force; then what the performer did.
    assert!(matches!(events.events[0].command, Command::RecordLatency { frames: 0 }));
    let first = events.events.get(1).expect("commands inside the take");
    let expected = (score().iter().find(|(f, _)| *f >= info.start_frame).expect("a command").0
        - info.start_frame) as f64
        / RATE as f64;
    assert_eq!((first.at * RATE as f64).round(), (expected * RATE as f64).round());
    // A press that waited for the grid is logged where it was pressed, and
    // where it acted is noted beside it.
    let log = std::fs::read_to_string(dir.join("events.toml")).expect("events.toml");
    assert!(log.contains("on track 2 acted here (it waited for the grid)"), "{}", &log[..log.len().min(300)]);
    for name in ["patch.toml", "take.toml", "track-01.wav"] {
        assert!(dir.join(name).is_file(), "{name} written");
    }

    // And through the command line, to a file.
    let out = root.join("again.wav");
    let report = ferrotape::take::render_take(&dir, &out, None, 256).expect("render take");
    assert!(report.exact);
    let (_, again) = read_wav(&out);
    assert!(again.iter().zip(&live_mix).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(again.len(), live_mix.len());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn always_on_starts_the_take_at_the_first_record() {
    let root = scratch("always-on");
    let patch = wobbly_patch();
    let (mut engine, mut feed, handle) = start(&root, &patch);
    handle.set_always_on(true);
    let score = score();
    perform(&mut engine, &mut feed, &score, 60_000, |frame| {
        if (50_000..50_600).contains(&frame) {
            handle.stop();
        }
    });
    assert!(handle.finish(Duration::from_secs(10)));
    let status = handle.status();
    assert!(status.armed);
    let info = TakeInfo::load(&status.folder.expect("take made")).expect("take.toml");
    assert_eq!(info.start_frame, 4_801, "starts on the record command's frame");
    let events = EventList::load(
        &root
            .join(
                std::fs::read_dir(&root)
                    .expect("list")
                    .flatten()
                    .map(|e| e.file_name())
                    .find(|n| !n.to_string_lossy().starts_with('.'))
                    .expect("take folder"),
            )
            .join("events.toml"),
    )
    .expect("events parse");
    assert!(matches!(events.events[0].command, Command::RecordLatency { .. }));
    assert_eq!(events.events[1].at, 0.0);
    assert_eq!(events.events[1].command, score[0].1);
    let _ = std::fs::remove_dir_all(&root);
}

/// Armed, a take waits through actions that leave the tape alone and starts
/// at the first that puts the input on it (here `multiply`).
#[test]
fn always_on_waits_for_an_action_that_writes_the_input() {
    let root = scratch("always-on-multiply");
    let patch = wobbly_patch();
    let (mut engine, mut feed, handle) = start(&root, &patch);
    handle.set_always_on(true);
    let track = |action| Command::Track { track: 0, action };
    let score = [
        (1_000, track(TrackAction::Play)),
        (2_000, track(TrackAction::Trigger)),
        (3_000, track(TrackAction::Pause)),
        (3_500, track(TrackAction::Pause)),
        (4_801, track(TrackAction::Multiply)),
        (20_000, track(TrackAction::Multiply)),
    ];
    perform(&mut engine, &mut feed, &score, 30_000, |frame| {
        if (25_000..25_600).contains(&frame) {
            handle.stop();
        }
    });
    assert!(handle.finish(Duration::from_secs(10)));
    let info = TakeInfo::load(&handle.status().folder.expect("take made")).expect("take.toml");
    assert_eq!(info.start_frame, 4_801, "starts on the multiply's frame");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn an_unwritable_take_folder_is_reported_and_audio_goes_on() {
    // Writes under a regular file fail even for root.
    let root = PathBuf::from("/dev/null/takes");
    let patch = wobbly_patch();
    let (mut engine, mut feed, handle) = start(&root, &patch);
    handle.start();
    perform(&mut engine, &mut feed, &score(), 100_000, |_| {});
    assert!(handle.flush(Duration::from_secs(5)));
    let status = handle.status();
    let error = status.last_error.expect("the failure is reported");
    assert!(error.contains("/dev/null/takes"), "{error}");
    assert_eq!(status.dropped_blocks, 0, "the writer kept draining");
    assert!(handle.finish(Duration::from_secs(5)));
}

/// Frames per push in the tests below.
const PUSH: u64 = 512;

fn ramp(frame: u64) -> Vec<f32> {
    (0..PUSH).map(|i| input_at(frame + i)).collect()
}

/// Push `ramp(frame)` as input, mix and stems.
fn push(feed: &mut TakeFeed, frame: u64) {
    let x = ramp(frame);
    feed.push(frame, &x, &x, &x, |_| &x[..]);
}

/// Wait until the feed can take `frames` without dropping: the writer has
/// handed enough blocks back. Fails only if the writer stops for good.
fn wait_for_room(feed: &TakeFeed, frames: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while (feed.room() as u64) < frames {
        assert!(Instant::now() < deadline, "the writer stopped handing blocks back");
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn a_stalled_writer_drops_blocks_and_never_blocks_the_feed() {
    let root = scratch("stall");
    let patch = wobbly_patch();
    let engine = Engine::new(patch.engine_config(), RATE as f64, 512);
    let mut config = TakeConfig::new(root.clone(), patch, RATE, engine.track_count());
    config.queue_seconds = 0.05;
    let (mut feed, handle) = spawn(config).expect("spawn");
    handle.start();
    handle.simulate_stalled_disk(true);
    // What the queue holds: the pushes that fit before the first drop.
    let held = feed.room() as u64 / PUSH;
    assert!(held >= 2, "a queue of {held} pushes");
    // Ten seconds in a tight loop while the writer drains nothing. It is
    // released only after the loop: a feed that waited for it would hang here.
    let pushes = 10 * RATE as u64 / PUSH;
    for k in 0..pushes {
        push(&mut feed, k * PUSH);
    }
    let status = handle.status();
    assert_eq!(status.dropped_blocks, pushes - held, "every push that found no free block counted once");
    handle.simulate_stalled_disk(false);
    // One push after the stall: the writer sees the gap and keeps the files in time.
    let last = pushes * PUSH;
    wait_for_room(&feed, PUSH);
    push(&mut feed, last);
    feed.flush();
    handle.stop();
    feed.push(last + PUSH, &[], &[], &[], |_| &[][..]);
    assert!(handle.finish(Duration::from_secs(60)));
    let status = handle.status();
    assert_eq!(status.last_error, None);
    assert_eq!(status.dropped_blocks, pushes - held, "nothing dropped after the stall");

    let folder = status.folder.expect("take folder");
    let info = TakeInfo::load(&folder).expect("take.toml");
    assert!(!info.exact, "a take that lost audio says so");
    assert_eq!(info.dropped_blocks, pushes - held);
    let (_, input) = read_wav(&folder.join("input.wav"));
    assert_eq!(input.len() as u64, last + PUSH, "the lost audio is silence, in time");
    let kept = (held * PUSH) as usize;
    assert!(input[..kept].iter().enumerate().all(|(i, &x)| x == input_at(i as u64)), "the queued audio");
    assert!(input[kept..last as usize].iter().all(|&x| x == 0.0), "silence where audio was lost");
    assert!(input[last as usize..].iter().zip(ramp(last)).all(|(&a, b)| a == b), "the audio after the stall");
    let journal = status.journal.expect("journal kept: a take names it");
    assert!(journal.join("inexact").is_file(), "the journal says it cannot replay exactly");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_take_that_lost_its_end_is_not_exact() {
    // Audio dropped at the very end: no later block shows a gap.
    let root = scratch("stall-end");
    let patch = wobbly_patch();
    let engine = Engine::new(patch.engine_config(), RATE as f64, 512);
    let mut config = TakeConfig::new(root.clone(), patch, RATE, engine.track_count());
    config.queue_seconds = 0.05;
    let (mut feed, handle) = spawn(config).expect("spawn");
    handle.start();
    handle.simulate_stalled_disk(true);
    let held = feed.room() as u64 / PUSH;
    let pushes = RATE as u64 / PUSH;
    for k in 0..pushes {
        push(&mut feed, k * PUSH);
    }
    handle.stop();
    handle.simulate_stalled_disk(false);
    assert!(handle.finish(Duration::from_secs(60)));
    let status = handle.status();
    assert_eq!(status.dropped_blocks, pushes - held);
    let info = TakeInfo::load(&status.folder.expect("take folder")).expect("take.toml");
    assert_eq!(info.frames, Some(held * PUSH), "what reached the writer");
    assert!(!info.exact, "the take lost its end and says so");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn lost_commands_make_the_take_and_the_journal_inexact() {
    let root = scratch("lost-commands");
    let patch = wobbly_patch();
    let engine = Engine::new(patch.engine_config(), RATE as f64, 512);
    let config = TakeConfig::new(root.clone(), patch, RATE, engine.track_count());
    let (mut feed, handle) = spawn(config).expect("spawn");
    handle.start();
    push(&mut feed, 0);
    handle.simulate_stalled_disk(true);
    // More commands than the control-log queue holds, all at one frame.
    let nudge = Command::Nudge { track: 0, param: Param::Pan, delta: 0.0 };
    let sent = EVENT_QUEUE as u64 + 100;
    for _ in 0..sent {
        feed.log(PUSH, nudge);
    }
    push(&mut feed, PUSH);
    handle.simulate_stalled_disk(false);
    feed.flush();
    assert!(handle.finish(Duration::from_secs(60)));
    let status = handle.status();
    assert!(status.dropped_events >= 100, "{} commands dropped", status.dropped_events);
    assert_eq!(status.dropped_blocks, 0);
    let info = TakeInfo::load(&status.folder.expect("take folder")).expect("take.toml");
    assert!(!info.exact, "the take's log misses commands");
    assert!(status.journal.expect("journal").join("inexact").is_file());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_take_longer_than_its_queue_keeps_every_frame() {
    // The queue's blocks go round many times: each must come back empty.
    let root = scratch("long");
    let patch = wobbly_patch();
    let engine = Engine::new(patch.engine_config(), RATE as f64, 512);
    let mut config = TakeConfig::new(root.clone(), patch, RATE, engine.track_count());
    config.queue_seconds = 1.0;
    let (mut feed, handle) = spawn(config).expect("spawn");
    handle.start();
    let pushes = 6 * RATE as u64 / PUSH;
    let capacity = feed.room() as u64;
    assert!(pushes * PUSH > 4 * capacity, "the take is several queues long");
    for k in 0..pushes {
        // Paced on the writer, not the clock: however busy the machine,
        // no push finds the queue full.
        wait_for_room(&feed, PUSH);
        push(&mut feed, k * PUSH);
    }
    feed.flush();
    assert!(handle.finish(Duration::from_secs(60)));
    let status = handle.status();
    assert_eq!(status.dropped_blocks, 0);
    let folder = status.folder.expect("take folder");
    assert!(TakeInfo::load(&folder).expect("take.toml").exact);
    let (_, input) = read_wav(&folder.join("input.wav"));
    assert_eq!(input.len() as u64, pushes * PUSH, "every frame is in the take");
    assert!(input.iter().enumerate().all(|(i, &x)| x == input_at(i as u64)), "in order, unchanged");
    let _ = std::fs::remove_dir_all(&root);
}
