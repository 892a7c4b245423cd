//! The real midir input on a private JACK server (dummy driver, no sound
//! card): the virtual `ferrotape:midi_in` port and a named port that goes
//! away and comes back, fed by other JACK clients.
//!
//! Run with `cargo test --features jack --test midi_jack`. Without `jackd`
//! the test says why and passes, except under CI (`CI=true`), where it fails.
#![cfg(feature = "jack")]

mod live_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrotape::bridge::CommandSink;
use ferrotape::engine::{Command, Param, TrackAction};
use ferrotape::io::midi::{list_ports, MidiInputConfig, MidiInputs, PortSelection};
use ferrotape::midi_map::{MidiMap, MidiRouter, SelectedTrack};
use live_support::midi_device::MidiDevice;
use live_support::{jack_env, JackServer};

// The callbacks run inside `realtime::callback`: with this allocator an
// allocation there (in the parser, the queues or the router) aborts the test.
#[global_allocator]
static ALLOCATOR: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// Room for the commands one step of the test sends, so that the sink
/// (standing in for the engine's ring) never allocates in the callback.
const SINK_ROOM: usize = 1024;

/// Commands as the engine's queue would receive them.
#[derive(Clone)]
struct SharedSink(Arc<Mutex<Vec<Command>>>);

impl Default for SharedSink {
    fn default() -> Self {
        SharedSink(Arc::new(Mutex::new(Vec::with_capacity(SINK_ROOM))))
    }
}

impl CommandSink for SharedSink {
    fn send(&mut self, command: Command, _at: Instant) -> bool {
        self.0.lock().expect("sink").push(command);
        true
    }
}

impl SharedSink {
    fn take(&self) -> Vec<Command> {
        std::mem::replace(&mut *self.0.lock().expect("sink"), Vec::with_capacity(SINK_ROOM))
    }

    /// Wait (up to 3 s) until `count` commands have arrived.
    fn wait_for(&self, count: usize) -> Vec<Command> {
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.0.lock().expect("sink").len() < count && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.take()
    }
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const MAP: &str = r#"
[[midi]]
cc = 7
set = "feedback"
track = 1

[[midi]]
note = 36
do = "dub"
track = 2
mode = "momentary"
"#;

#[test]
fn midir_on_jack_delivers_commands() {
    let server_name = JackServer::name_for("midi");
    // Only this test runs in this binary, so setting the environment cannot
    // race another thread reading it.
    for (key, value) in jack_env(&server_name) {
        std::env::set_var(key, value);
    }

    let bindings = MidiMap::parse(MAP, std::path::Path::new("jack-test.toml")).expect("map").bindings;
    let router = || MidiRouter::new(&bindings, SelectedTrack::new(2));

    // No server yet: a clear error, not a panic.
    let err = MidiInputs::start(MidiInputConfig::default(), router(), Box::new(SharedSink::default()))
        .err()
        .expect("no JACK server");
    assert!(err.starts_with("MIDI input is not available"), "{err}");

    let Some(_server) = JackServer::start("midi") else { return };

    let sink = SharedSink::default();
    let config = MidiInputConfig {
        ports: PortSelection::Matching(vec!["ft-device".into()]),
        virtual_port: true,
        poll: Duration::from_millis(100),
    };
    let inputs = MidiInputs::start(config, router(), Box::new(sink.clone())).expect("start MIDI input");
    assert!(inputs.has_virtual_port());

    // 1. Another client sends into the virtual port ferrotape:midi_in.
    let to_virtual = MidiDevice::plug_in("ft-sender");
    to_virtual.connect_to("ferrotape:midi_in");
    to_virtual.send(&[0xB0, 7, 127]);
    to_virtual.send(&[0x90, 36, 100]);
    to_virtual.send(&[0x80, 36, 0]);
    assert_eq!(
        sink.wait_for(3),
        vec![
            Command::Set { track: 0, param: Param::Feedback, value: 1.0 },
            Command::Track { track: 1, action: TrackAction::Dub },
            Command::Track { track: 1, action: TrackAction::Play },
        ]
    );

    // 2. A "device" port matched by name is opened by the watcher...
    let device_out = MidiDevice::plug_in("ft-device");
    wait_until("the device port to open", || inputs.status().open.iter().any(|n| n == "ft-device:out"));
    assert!(list_ports().expect("list").iter().any(|n| n == "ft-device:out"));
    device_out.send(&[0xB0, 7, 0]);
    assert_eq!(sink.wait_for(1), vec![Command::Set { track: 0, param: Param::Feedback, value: 0.0 }]);

    // ...forgotten when it disappears, and reopened when it comes back.
    drop(device_out);
    wait_until("the device port to close", || inputs.status().open.is_empty());
    let device_out = MidiDevice::plug_in("ft-device");
    wait_until("the device port to reopen", || inputs.status().open.iter().any(|n| n == "ft-device:out"));
    // On JACK a reopened connection can deliver the port's last message once
    // more (here the CC 7 = 0 sent before the port went away): an absolute
    // value, so harmless. Let it arrive, then check what the new port sends.
    std::thread::sleep(Duration::from_millis(300));
    let replayed = sink.take();
    assert!(
        replayed.iter().all(|c| *c == Command::Set { track: 0, param: Param::Feedback, value: 0.0 }),
        "unexpected commands on reopening: {replayed:?}"
    );
    device_out.send(&[0x90, 36, 64]);
    assert_eq!(sink.wait_for(1), vec![Command::Track { track: 1, action: TrackAction::Dub }]);

    inputs.stop();
}
