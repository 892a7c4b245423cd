//! The queues between threads and the callback wrapper: drops are counted,
//! commands land at the right sample, and the callback never allocates.

mod common;

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use common::*;
use ferrotape::analysis::sine;
use ferrotape::bridge::{command_offset, Bridge, CommandSink, LiveStats, QueueSizes};
use ferrotape::engine::{Engine, Param, TimedCommand, TrackAction};
use ferrotape::io::input_sync::CROSSFADE;
use ferrotape::io::LiveProcessor;
use ferrotape::render::render_to_memory;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

fn small_queues() -> QueueSizes {
    QueueSizes { commands: 4, snapshots: 2, input_frames: 1024, midi_out: 4 }
}

#[test]
fn a_full_command_queue_drops_and_counts() {
    let mut bridge = Bridge::new(small_queues());
    let mut midi = bridge.register("midi").unwrap();
    let mut screen = bridge.register("keys").unwrap();
    let now = Instant::now();
    let sent: Vec<bool> = (0..6).map(|_| midi.send(act(0, TrackAction::Play), now)).collect();
    assert_eq!(sent, [true, true, true, true, false, false]);
    assert_eq!(LiveStats::get(&bridge.stats.dropped_commands), 2);
    // Other producers have their own rings.
    assert!(screen.send(act(1, TrackAction::Stop), now));
    let mut out = [TimedCommand { offset: 0, command: act(0, TrackAction::Play) }; 16];
    assert_eq!(bridge.audio.pop_commands(&mut out, now, SRF, 256), 5);
}

#[test]
fn command_offsets_follow_arrival_time_one_block_late() {
    let block_start = Instant::now();
    let ms = |m: f64| block_start + Duration::from_secs_f64(m / 1000.0);
    // 1 ms after the previous block started = 48 frames into this one.
    assert_eq!(command_offset(ms(1.0), block_start, SRF, 256), 48);
    assert_eq!(command_offset(ms(0.0), block_start, SRF, 256), 0);
    // Late (the block ran long) and early stamps are clamped into the block.
    assert_eq!(command_offset(ms(100.0), block_start, SRF, 256), 255);
    assert_eq!(command_offset(block_start - Duration::from_millis(5), block_start, SRF, 256), 0);

    let mut bridge = Bridge::new(QueueSizes::default());
    let mut senders: Vec<_> = ["midi", "keys", "osc"].map(|s| bridge.register(s).unwrap()).into();
    senders[0].send(act(0, TrackAction::Record), ms(4.0));
    senders[1].send(act(1, TrackAction::Dub), ms(2.0));
    senders[2].send(act(0, TrackAction::Play), ms(0.5));
    let mut out = [TimedCommand { offset: 0, command: act(0, TrackAction::Play) }; 8];
    let n = bridge.audio.pop_commands(&mut out, block_start, SRF, 256);
    let offsets: Vec<u32> = out[..n].iter().map(|c| c.offset).collect();
    assert_eq!(offsets, [24, 96, 192], "sorted by offset");
}

/// The live wrapper with an events score and an input stream gives what
/// the offline renderer gives, and never allocates.
#[test]
fn the_callback_wrapper_matches_the_offline_render_without_allocating() {
    let score = vec![
        (0, act(0, TrackAction::Record)),
        (at(0.2), set(0, Param::Speed, 0.7)),
        (at(0.5), act(0, TrackAction::Play)),
        (at(0.5) + 17, act(1, TrackAction::Dub)),
    ];
    let seconds = 1.0;
    let input = sine(330.0, 0.4, SRF, at(seconds) as usize + 4096);
    let config = config(vec![clean_track(0.5), clean_track(0.3)]);
    // The live input fades in over its first frames when the stream primes.
    let mut faded = input.clone();
    for (i, x) in faded[..CROSSFADE].iter_mut().enumerate() {
        *x *= (i as f32 + 0.5) / CROSSFADE as f32;
    }
    let offline = render_to_memory(config.clone(), SR, &faded, &score, at(seconds), 256);

    let mut bridge = Bridge::new(QueueSizes { input_frames: 1 << 16, ..QueueSizes::default() });
    let engine = Box::new(Engine::new(config, SRF, 256));
    let mut processor = LiveProcessor::new(engine, bridge.audio, score, 256, true, Some(0));
    let mut out = vec![0.0f32; 512];
    let mut left = Vec::with_capacity(at(seconds) as usize + 4096);
    let mut fed = 0;
    // The input ring reaches its target (4 blocks) as the first block starts.
    bridge.input.write(&input[..768]);
    fed += 768;
    while left.len() < at(seconds) as usize {
        bridge.input.write(&input[fed..fed + 256]);
        fed += 256;
        assert_no_alloc(|| processor.render(&mut out, 2, None));
        left.extend(out.chunks(2).map(|f| f[0]));
    }
    assert!(processor.started());
    let n = at(seconds) as usize;
    let first_difference = (0..n).find(|&i| left[i] != offline.left[i]);
    assert_eq!(first_difference, None, "live and offline differ");
    assert!(ferrotape::analysis::rms(&left[at(0.5) as usize..n]) > 0.05, "the recording plays back");
    assert_eq!(LiveStats::get(&processor.stats().input_underruns), 0);
}

/// With the take recorder and the tape copier attached, the callback still
/// never allocates: commands are logged at their frames, blocks go to the
/// writer, tapes are copied out in slices; the take and the copy arrive.
#[test]
fn the_callback_feeds_takes_and_tape_copies_without_allocating() {
    use ferrotape::patch::Patch;
    use ferrotape::session::{tape_mirror, DEFAULT_COPY_BUDGET};
    use ferrotape::take::{spawn, TakeConfig};

    let dir = std::env::temp_dir().join(format!("ferrotape-bridge-take-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = config(vec![clean_track(0.5), clean_track(0.3)]);
    let patch = Patch::parse(
        "version = 1\nname = \"bridge\"\n[[track]]\nlength = 0.5\n[[track]]\nlength = 0.3\n",
        std::path::Path::new("bridge.toml"),
    )
    .expect("patch");
    let (feed, take) = spawn(TakeConfig::new(dir.clone(), patch, SR, 2)).expect("take writer");
    let (copier, mut copies) = tape_mirror(&config, SRF, DEFAULT_COPY_BUDGET);
    let score = vec![(0, act(0, TrackAction::Record)), (at(0.3) + 5, act(0, TrackAction::Play))];
    let mut bridge = Bridge::new(QueueSizes { input_frames: 1 << 16, ..QueueSizes::default() });
    let mut screen = bridge.register("keys").unwrap();
    let engine = Box::new(Engine::new(config, SRF, 256));
    let mut processor = LiveProcessor::new(engine, bridge.audio, score, 256, true, Some(0))
        .with_take(feed)
        .with_copier(copier);
    let input = sine(330.0, 0.4, SRF, at(1.0) as usize + 4096);
    bridge.input.write(&input[..768]);
    let mut fed = 768;
    let mut out = vec![0.0f32; 512];
    take.start();
    let mut requested = false;
    let mut tapes = None;
    while processor.frames() < at(1.0) {
        bridge.input.write(&input[fed..fed + 256]);
        fed += 256;
        if processor.frames() >= at(0.5) && !requested {
            requested = copies.request();
            // Commands from a producer are logged too.
            screen.send_now(set(1, Param::Speed, 0.5));
        }
        assert_no_alloc(|| processor.render(&mut out, 2, None));
        tapes = tapes.or_else(|| copies.collect());
    }
    take.stop();
    processor.flush_take();
    assert!(take.finish(Duration::from_secs(5)), "the writer finished");
    let status = take.status();
    assert_eq!(status.last_error, None);
    assert_eq!((status.dropped_blocks, status.dropped_events), (0, 0));
    let folder = status.folder.expect("a take folder");
    for file in ["mix.wav", "input.wav", "track-01.wav", "track-02.wav", "events.toml", "take.toml"] {
        assert!(folder.join(file).is_file(), "{file} missing in {}", folder.display());
    }
    let events = std::fs::read_to_string(folder.join("events.toml")).unwrap();
    // The record at frame 0 came before the take's first block (it is in the journal).
    assert!(events.contains("at = 0.30010416666666667") && events.contains("\"play\""), "{events}");
    assert!(events.contains("speed"), "{events}");
    let tapes = tapes.expect("the tape copy came back").tapes;
    let engine = processor.engine();
    assert_eq!(tapes[0].as_slice(), engine.tape(0).unwrap(), "a playing tape copies exactly");
    assert!(ferrotape::analysis::rms(&tapes[0]) > 0.05, "the copy holds the recording");
    let _ = std::fs::remove_dir_all(&dir);
}
