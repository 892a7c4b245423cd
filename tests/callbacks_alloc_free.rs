//! The real cpal callbacks on ALSA's null device, in this process, with an
//! allocator that aborts on any allocation inside a real-time callback:
//! every sample format the callbacks are built for, callbacks four times
//! longer than the block the engine is prepared for, a take and the tape
//! copier attached, the grid moving with MIDI clock out fed from it,
//! commands arriving, and the stream stopped and started again on the same
//! engine (as after a device reopens).

mod common;
mod live_support;

use assert_no_alloc::AllocDisabler;
use common::*;
use ferrotape::bridge::{Bridge, QueueSizes};
use ferrotape::engine::{Engine, Param, TrackAction};
use ferrotape::io::audio::CpalBackend;
use ferrotape::io::{AudioBackend, AudioOptions, Handoff, LiveProcessor, SampleFormatChoice};
use ferrotape::patch::Patch;
use ferrotape::session::{tape_mirror, DEFAULT_COPY_BUDGET};
use ferrotape::take::{spawn, TakeConfig};
#[cfg(feature = "jack")]
use live_support::test_client::TestClient;
use live_support::{alsa_config, Scratch};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts the clock thread's sends.
struct CountClock(Arc<std::sync::atomic::AtomicU64>);

impl ferrotape::sync::ClockSink for CountClock {
    fn send(&mut self, _bytes: &[u8]) -> Result<(), String> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

/// The engine's block; the device's callbacks are four times longer.
const ENGINE_BLOCK: usize = 64;
const DEVICE_BUFFER: u32 = 256;

fn run_format(format: SampleFormatChoice, scratch: &Scratch) {
    let options = AudioOptions {
        host: Some("alsa".into()),
        device: Some("null".into()),
        input_device: Some("none".into()),
        buffer: DEVICE_BUFFER,
        sample_format: Some(format),
        ..AudioOptions::default()
    };
    let mut backend = CpalBackend::open(&options, Some(48_000)).expect("ALSA null device");
    let settings = backend.settings().clone();
    assert!(settings.description.contains(&format!("{format:?}").to_lowercase()), "{}", settings.description);
    let rate = settings.sample_rate;
    let config = config(vec![clean_track(0.5), clean_track(0.3)]);
    let patch = Patch::parse(
        "version = 1\nname = \"alloc\"\n[[track]]\nlength = 0.5\n[[track]]\nlength = 0.3\n",
        std::path::Path::new("alloc.toml"),
    )
    .expect("patch");
    let (feed, take) =
        spawn(TakeConfig::new(scratch.0.join(format!("{format:?}")), patch, rate, 2)).expect("take writer");
    let (copier, mut copies) = tape_mirror(&config, rate as f64, DEFAULT_COPY_BUDGET);
    let mut bridge = Bridge::new(QueueSizes::default());
    let mut screen = bridge.register("keys").expect("a command ring");
    let engine = Box::new(Engine::new(config, rate as f64, ENGINE_BLOCK));
    let clock_sends = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (clock_thread, clock_feed) =
        ferrotape::sync::ClockThread::spawn(Box::new(CountClock(clock_sends.clone()))).expect("clock thread");
    let processor = LiveProcessor::new(engine, bridge.audio, Vec::new(), ENGINE_BLOCK, false, Some(0))
        .with_take(feed)
        .with_copier(copier)
        .with_clock_out(clock_feed);
    let processor = Arc::new(Handoff::new(Box::new(processor)));
    let input = Arc::new(Handoff::new(Box::new(bridge.input)));
    take.start();
    for round in 0..2 {
        // The second round is the same engine on a rebuilt stream.
        processor.with(|p| p.restart_input(false));
        backend.start(processor.clone(), input.clone()).expect("stream starts");
        let started = bridge.stats.callbacks.load(Ordering::Relaxed);
        screen.send_now(ferrotape::engine::Command::Track { track: 0, action: TrackAction::Record });
        screen.send_now(ferrotape::engine::Command::Set { track: 1, param: Param::Speed, value: 0.7 });
        let position = ferrotape::engine::GridCommand::Position { beat: 0.0, frames_per_beat: 2_400.0 };
        screen.send_now(ferrotape::engine::Command::Grid(position));
        let requested = copies.request();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut copied = None;
        while Instant::now() < deadline {
            copied = copied.or_else(|| copies.collect());
            if copied.is_some() && bridge.stats.callbacks.load(Ordering::Relaxed) > started + 50 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        screen.send_now(ferrotape::engine::Command::Track { track: 0, action: TrackAction::Play });
        std::thread::sleep(Duration::from_millis(50));
        backend.stop();
        assert!(
            bridge.stats.callbacks.load(Ordering::Relaxed) > started + 50,
            "{format:?}, round {round}: callbacks ran"
        );
        assert!(!requested || copied.is_some(), "{format:?}, round {round}: the tape copy came back");
    }
    assert_eq!(bridge.stats.engine_faults.load(Ordering::Relaxed), 0);
    // The null device runs faster than real time; the clock thread keeps
    // wall-clock time, so give it a moment of that.
    std::thread::sleep(Duration::from_millis(300));
    clock_thread.stop();
    assert!(clock_sends.load(Ordering::Relaxed) > 10, "{format:?}: clock went out from the grid");
    let frames = processor.with(|p| {
        assert!(!p.faulted());
        p.flush_take();
        p.frames()
    });
    assert!(frames.is_some_and(|f| f > 100 * DEVICE_BUFFER as u64), "{format:?}: {frames:?} frames");
    take.stop();
    assert!(take.finish(Duration::from_secs(5)), "{format:?}: the take closed");
    assert_eq!(take.status().last_error, None);
}

/// The tests set the environment (ALSA's configuration, JACK's server):
/// one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_cpal_callbacks_never_allocate_in_any_sample_format() {
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    std::env::set_var("ALSA_CONFIG_PATH", alsa_config("null.conf"));
    let scratch = Scratch::new("callbacks-alloc");
    for format in [SampleFormatChoice::F32, SampleFormatChoice::I16, SampleFormatChoice::I32] {
        run_format(format, &scratch);
    }
}

/// The native JACK client's one process callback: input ports, MIDI in
/// through the router, the engine in pieces (JACK's period is four times
/// the engine's block), per-track outputs, MIDI out from the control side's
/// queue, a take and the tape copier, stopped and started again.
#[cfg(feature = "jack")]
#[test]
fn the_native_jack_callback_never_allocates() {
    use ferrotape::io::jack_native::JackBackend;
    use ferrotape::midi_map::{MidiMap, MidiRouter, SelectedTrack};
    let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(server) = live_support::JackServer::start("alloc-native") else { return };
    for (key, value) in server.env() {
        std::env::set_var(key, value);
    }
    let scratch = Scratch::new("callbacks-alloc-native");
    let text = "version = 1\nname = \"alloc\"\n[[track]]\nlength = 0.5\n[[track]]\nlength = 0.3\n\n\
                [[midi]]\ncc = 7\nset = \"speed\"\ntrack = 2\n\n[[midi]]\nnote = 36\ndo = \"dub\"\ntrack = 1\n";
    let patch = Patch::parse(text, std::path::Path::new("alloc.toml")).expect("patch");
    let options =
        AudioOptions { no_connect: true, track_outputs: true, inputs: Some(2), ..AudioOptions::default() };
    let mut backend = JackBackend::open(&options, None).expect("the native client");
    let rate = backend.settings().sample_rate;
    let config = patch.engine_config();
    let (feed, take) =
        spawn(TakeConfig::new(scratch.0.join("native"), patch.clone(), rate, 2)).expect("take writer");
    let (copier, mut copies) = tape_mirror(&config, rate as f64, DEFAULT_COPY_BUDGET);
    let mut bridge = Bridge::new(QueueSizes::default());
    let mut screen = bridge.register("keys").expect("a command ring");
    let mut feedback = bridge.take_midi_out().expect("the MIDI out producer");
    let map = MidiMap::from_patch_tables(&patch.midi, std::path::Path::new("alloc.toml")).expect("bindings");
    let router = Arc::new(Handoff::new(Box::new(MidiRouter::new(&map.bindings, SelectedTrack::new(2)))));
    let engine = Box::new(Engine::new(config, rate as f64, ENGINE_BLOCK));
    let processor = LiveProcessor::new(engine, bridge.audio, Vec::new(), ENGINE_BLOCK, true, None)
        .with_take(feed)
        .with_copier(copier)
        .with_midi_router(router);
    let processor = Arc::new(Handoff::new(Box::new(processor)));
    let input = Arc::new(Handoff::new(Box::new(bridge.input)));
    // A client feeding MIDI (a note, CCs, clock) and a tone into the ports.
    let (client, _) =
        jack::Client::new("alloc-tester", jack::ClientOptions::NO_START_SERVER).expect("client");
    let mut midi = client.register_port("midi", jack::MidiOut::default()).expect("port");
    let mut tone = client.register_port("tone", jack::AudioOut::default()).expect("port");
    let mut cycle = 0u64;
    let tester = TestClient::activate(
        client,
        jack::contrib::ClosureProcessHandler::new(move |_: &jack::Client, ps: &jack::ProcessScope| {
            for (i, s) in tone.as_mut_slice(ps).iter_mut().enumerate() {
                *s = 0.1 * ((cycle as f32 + i as f32) * 0.05).sin();
            }
            let mut writer = midi.writer(ps);
            let value = (cycle % 128) as u8;
            let events: [&[u8]; 4] = [&[0xF8], &[0xB0, 7, value], &[0x90, 36, 100], &[0xF2, 1, 2]];
            for (k, bytes) in events.iter().enumerate() {
                let _ = writer.write(&jack::RawMidi { time: 20 * k as u32, bytes });
            }
            cycle += 1;
            jack::Control::Continue
        }),
    );
    take.start();
    for round in 0..2 {
        processor.with(|p| p.restart_input(true));
        backend.start(processor.clone(), input.clone()).expect("the client starts");
        let c = tester.as_client();
        for (from, to) in
            [("alloc-tester:midi", "ferrotape:midi_in"), ("alloc-tester:tone", "ferrotape:in_2")]
        {
            let deadline = Instant::now() + Duration::from_secs(5);
            while c.connect_ports_by_name(from, to).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let started = bridge.stats.callbacks.load(Ordering::Relaxed);
        screen.send_now(ferrotape::engine::Command::Track { track: 0, action: TrackAction::Record });
        let requested = copies.request();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut copied = None;
        while Instant::now() < deadline {
            copied = copied.or_else(|| copies.collect());
            feedback.send(&[0x90, 40, 127]);
            if copied.is_some() && bridge.stats.callbacks.load(Ordering::Relaxed) > started + 50 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        backend.stop();
        assert!(
            bridge.stats.callbacks.load(Ordering::Relaxed) > started + 50,
            "round {round}: callbacks ran"
        );
        assert!(!requested || copied.is_some(), "round {round}: the tape copy came back");
    }
    drop(tester);
    assert_eq!(bridge.stats.engine_faults.load(Ordering::Relaxed), 0);
    let frames = processor.with(|p| {
        assert!(!p.faulted());
        p.flush_take();
        p.frames()
    });
    assert!(frames.is_some_and(|f| f > 100 * DEVICE_BUFFER as u64), "{frames:?} frames");
    take.stop();
    assert!(take.finish(Duration::from_secs(5)), "the take closed");
}
