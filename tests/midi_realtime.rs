//! The MIDI router's per-message path allocates nothing: every profile's
//! bindings, every kind of message, learning included.

use std::time::Instant;

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use ferrotape::bridge::CommandSink;
use ferrotape::engine::Command;
use ferrotape::midi_map::{learn_channel, LearnRequest, MidiMap, MidiRouter, SelectedTrack};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

/// Counts commands without storing them (storing could allocate).
struct Count(usize);

impl CommandSink for Count {
    fn send(&mut self, _command: Command, _at: Instant) -> bool {
        self.0 += 1;
        true
    }
}

#[test]
fn routing_and_learning_do_not_allocate() {
    let mut bindings = Vec::new();
    for name in ["nanokontrol2", "launch_control_xl", "apc_mini", "generic"] {
        let path = format!("patches/midi/{name}.toml");
        bindings.extend(MidiMap::load(std::path::Path::new(&path)).expect("profile").bindings);
    }
    bindings.truncate(200);
    let (mut control, endpoint) = learn_channel();
    let mut router = MidiRouter::new(&bindings, SelectedTrack::new(8)).with_learn(endpoint);
    // Every status on channels 1, 9 and 10 with a spread of data, plus
    // real-time and sysex bytes.
    let mut stream = Vec::with_capacity(200_000);
    for status in (0x80u8..0xF0).filter(|s| [0, 8, 9].contains(&(s & 0x0F))) {
        for a in (0u8..128).step_by(3) {
            for b in [0u8, 1, 63, 64, 65, 127] {
                stream.extend([status, a, b, 0xF8]);
            }
        }
    }
    stream.extend([0xF0, 1, 2, 3, 0xF7]);
    control.request(LearnRequest::parse("dub:1").expect("parse"));
    let mut sink = Count(0);
    assert_no_alloc(|| {
        for chunk in stream.chunks(3) {
            router.feed(chunk, Instant::now(), &mut sink);
        }
    });
    assert!(sink.0 > 100, "only {} commands", sink.0);
    assert!(control.learned().is_some());
}

#[test]
fn following_a_clock_does_not_allocate() {
    let bindings =
        MidiMap::load(std::path::Path::new("patches/midi/apc_mini.toml")).expect("profile").bindings;
    let mut router = MidiRouter::new(&bindings, SelectedTrack::new(8)).with_clock(48_000.0);
    let start = Instant::now();
    let tick = std::time::Duration::from_micros(20_833);
    let mut sink = Count(0);
    assert_no_alloc(|| {
        router.feed(&[0xF2, 0x10, 0xF8, 0x00, 0xFB], start, &mut sink);
        for k in 0..24 * 32 {
            let at = start + tick * k;
            // A tick inside a note-on (running status after the first).
            router.feed(&[0x90, 0xF8, 1, 127], at, &mut sink);
        }
        // Silent for longer than two beats: the grid is stopped.
        router.poll_clock(start + tick * 900, &mut sink);
        router.feed(&[0xFC], start + tick * 1000, &mut sink);
    });
    assert!(sink.0 > 2 * 32, "only {} commands", sink.0);
    assert!(router.clock_follower().is_some_and(|f| f.tempo_bpm().is_some()));
}
