//! The native JACK client (build with `--features jack`) on a private JACK
//! server, dummy driver: one client named `ferrotape` (or `--jack-name`)
//! with its ports, per-track outputs carrying each track, MIDI acting at
//! its frame of the cycle, the record latency read off the ports' latency
//! ranges, and feedback bytes from the control side arriving on
//! `midi_out`. The in-process test runs the callback with an allocator
//! that aborts on any allocation inside it.
//!
//! Without `jackd` the tests say why and pass, except under CI (`CI=true`).
#![cfg(feature = "jack")]

mod live_support;

use assert_no_alloc::AllocDisabler;
use ferrotape::analysis::{db, rms};
use ferrotape::events::EventList;
use jack::{
    AudioIn, AudioOut, Client, ClientOptions, Control, MidiIn, MidiOut, PortFlags, ProcessScope, RawMidi,
};
use live_support::test_client::TestClient;
use live_support::*;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

/// The in-process test sets the server in the environment: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

const TONE_HZ: f64 = 440.0;
const TONE_AMPLITUDE: f32 = 0.25;

/// Two clean one-second tracks; a note for record and one for play on track 1.
const TWO_TRACKS: &str = r#"
version = 1
name = "native test"
seed = 1

[[track]]
length = 1.0
saturation = "off"
tone = "flat"
wow_pct = 0.0
flutter_pct = 0.0
inertia_s = 0.0

[[track]]
length = 1.0
saturation = "off"
tone = "flat"
wow_pct = 0.0
flutter_pct = 0.0
inertia_s = 0.0

[[midi]]
note = 36
do = "record"
track = 1
mode = "trigger"

[[midi]]
note = 38
do = "play"
track = 1
mode = "trigger"
"#;

/// Record track 1 for a second, then play it.
const RECORD_TRACK_1: &str = r#"
[[event]]
at = 1.0
track = 1
do = "record"

[[event]]
at = 2.0
track = 1
do = "play"
"#;

/// What the test client heard and sends.
#[derive(Default)]
struct Heard {
    /// One buffer per audio input port (`heard_1`, `heard_2`).
    audio: [Vec<f32>; 2],
    /// MIDI that reached `midi_back`: (cycle, frame in the cycle, bytes).
    midi: Vec<(u64, u32, Vec<u8>)>,
}

/// A test client: `tester:tone` plays a sine, `tester:heard_1`/`heard_2`
/// record, `tester:midi` sends one batch of events per cycle from `send`,
/// `tester:midi_back` records MIDI with its frame.
struct Tester {
    client: TestClient<jack::contrib::ClosureProcessHandler<(), TesterProcess>>,
    heard: Arc<Mutex<Heard>>,
    send: Arc<Mutex<VecDeque<Batch>>>,
}

/// One cycle's MIDI events: (frame in the cycle, bytes).
type Batch = Vec<(u32, Vec<u8>)>;

type TesterProcess = Box<dyn FnMut(&Client, &ProcessScope) -> Control + Send>;

impl Tester {
    fn start(env: &[(String, String)]) -> Tester {
        for (key, value) in env {
            std::env::set_var(key, value);
        }
        let (client, _) = Client::new("tester", ClientOptions::NO_START_SERVER).expect("jack client");
        let rate = client.sample_rate() as f64;
        let mut tone = client.register_port("tone", AudioOut::default()).expect("port");
        let heard_1 = client.register_port("heard_1", AudioIn::default()).expect("port");
        let heard_2 = client.register_port("heard_2", AudioIn::default()).expect("port");
        let mut midi = client.register_port("midi", MidiOut::default()).expect("port");
        let midi_back = client.register_port("midi_back", MidiIn::default()).expect("port");
        let heard = Arc::new(Mutex::new(Heard::default()));
        let send = Arc::new(Mutex::new(VecDeque::<Batch>::new()));
        let (recorder, sender) = (heard.clone(), send.clone());
        let mut phase = 0.0f64;
        let mut cycle = 0u64;
        // What a cycle could not hand over while the test read the lock:
        // handed over next cycle, never dropped.
        let mut unheard = Heard::default();
        let process: TesterProcess = Box::new(move |_: &Client, ps: &ProcessScope| -> Control {
            for s in tone.as_mut_slice(ps) {
                *s = TONE_AMPLITUDE * (phase * std::f64::consts::TAU).sin() as f32;
                phase = (phase + TONE_HZ / rate).fract();
            }
            let mut writer = midi.writer(ps);
            if let Ok(mut batches) = sender.try_lock() {
                if let Some(batch) = batches.pop_front() {
                    for (time, bytes) in &batch {
                        writer.write(&RawMidi { time: *time, bytes }).expect("MIDI written");
                    }
                }
            }
            unheard.audio[0].extend_from_slice(heard_1.as_slice(ps));
            unheard.audio[1].extend_from_slice(heard_2.as_slice(ps));
            for event in midi_back.iter(ps) {
                unheard.midi.push((cycle, event.time, event.bytes.to_vec()));
            }
            // Never wait in a JACK callback: while the test reads, keep it for the next cycle.
            if let Ok(mut heard) = recorder.try_lock() {
                heard.audio[0].append(&mut unheard.audio[0]);
                heard.audio[1].append(&mut unheard.audio[1]);
                heard.midi.append(&mut unheard.midi);
            }
            cycle += 1;
            Control::Continue
        });
        let handler = jack::contrib::ClosureProcessHandler::new(process);
        Tester { client: TestClient::activate(client, handler), heard, send }
    }

    fn client(&self) -> &Client {
        self.client.as_client()
    }

    /// Wait for `port` to exist, generously (the machine may be busy).
    fn wait_for_port(&self, port: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.client().port_by_name(port).is_none() {
            assert!(
                Instant::now() < deadline,
                "{port} did not appear: {:?}",
                self.client().ports(None, None, PortFlags::empty())
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Connect, retrying briefly: ports exist a moment before their client is active.
    fn connect(&self, from: &str, to: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Err(e) = self.client().connect_ports_by_name(from, to) {
            assert!(Instant::now() < deadline, "cannot connect {from} to {to}: {e}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every port on the server.
    fn ports(&self) -> Vec<String> {
        self.client().ports(None, None, PortFlags::empty())
    }
}

/// The binary under test, killed if a failing test leaves it running.
struct Ferrotape(Option<Child>);

impl Ferrotape {
    fn start(args: &[&str], server: &JackServer, state: &Path) -> Ferrotape {
        let child = Command::new(binary())
            .args(args)
            .envs(server.env())
            .env("XDG_STATE_HOME", state)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ferrotape");
        Ferrotape(Some(child))
    }

    /// Wait for the run to end (it has a `--duration`); (stdout, stderr).
    fn wait(mut self) -> (String, String) {
        let out = self.0.take().expect("running").wait_with_output().expect("wait");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "exit {:?}\nstdout: {stdout}\nstderr: {stderr}", out.status);
        (stdout, stderr)
    }
}

impl Drop for Ferrotape {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The ports of client `name`, short names, sorted.
fn ports_of(ports: &[String], name: &str) -> Vec<String> {
    let prefix = format!("{name}:");
    let mut own: Vec<String> =
        ports.iter().filter_map(|p| p.strip_prefix(prefix.as_str())).map(str::to_string).collect();
    own.sort();
    own
}

/// Clients on the server besides the system, the tester and `expected`.
fn other_clients(ports: &[String], expected: &str) -> Vec<String> {
    let mut clients: Vec<String> = ports
        .iter()
        .filter_map(|p| p.split(':').next())
        .filter(|c| !["system", "tester", expected].contains(c))
        .map(str::to_string)
        .collect();
    clients.dedup();
    clients
}

#[test]
fn one_client_with_its_ports_and_a_name_of_its_own() {
    let _turn = serial();
    let Some(server) = JackServer::start("native-ports") else { return };
    let scratch = Scratch::new("native-ports");
    let patch = scratch.write("patch.toml", TWO_TRACKS);
    let tester = Tester::start(&server.env());
    for (name, extra) in [("ferrotape", vec!["--track-outputs"]), ("other", vec!["--jack-name", "other"])] {
        let mut args = vec!["play", patch.to_str().unwrap(), "--no-tui", "--duration", "2.5", "--quiet"];
        args.extend(extra.iter().copied());
        let run = Ferrotape::start(&args, &server, &scratch.0);
        tester.wait_for_port(&format!("{name}:midi_out"));
        if name == "ferrotape" {
            tester.wait_for_port("ferrotape:track_02");
        }
        // The ports a moment after they appeared (the client is active by then).
        std::thread::sleep(Duration::from_millis(300));
        let ports = tester.ports();
        let mut expected = vec!["in_1", "midi_in", "midi_out", "out_L", "out_R"];
        if name == "ferrotape" {
            expected.extend(["track_01", "track_02"]);
        }
        expected.sort();
        assert_eq!(ports_of(&ports, name), expected, "{ports:?}");
        assert_eq!(other_clients(&ports, name), Vec::<String>::new(), "exactly one client: {ports:?}");
        // Connected to the system's ports at start.
        let out_l = tester.client().port_by_name(&format!("{name}:out_L")).expect("out_L");
        assert_eq!(out_l.get_connections(), ["system:playback_1"]);
        let in_1 = tester.client().port_by_name(&format!("{name}:in_1")).expect("in_1");
        assert_eq!(in_1.get_connections(), ["system:capture_1"]);
        run.wait();
    }
}

/// 0.1-second RMS windows of `x`, in dB.
fn windows_db(x: &[f32]) -> Vec<f64> {
    x.chunks(4_800).filter(|w| w.len() == 4_800).map(|w| db(rms(w))).collect()
}

#[test]
fn each_track_output_carries_its_track_only() {
    let _turn = serial();
    let Some(server) = JackServer::start("native-tracks") else { return };
    let scratch = Scratch::new("native-tracks");
    let patch = scratch.write("patch.toml", TWO_TRACKS);
    let events = scratch.write("events.toml", RECORD_TRACK_1);
    let tester = Tester::start(&server.env());
    let args = [
        "play",
        patch.to_str().unwrap(),
        "--no-tui",
        "--quiet",
        "--duration",
        "3.5",
        "--events",
        events.to_str().unwrap(),
        "--track-outputs",
        "--no-connect",
    ];
    let run = Ferrotape::start(&args, &server, &scratch.0);
    tester.wait_for_port("ferrotape:track_02");
    tester.connect("tester:tone", "ferrotape:in_1");
    tester.connect("ferrotape:track_01", "tester:heard_1");
    tester.connect("ferrotape:track_02", "tester:heard_2");
    run.wait();
    let heard = tester.heard.lock().unwrap();
    let (one, two) = (windows_db(&heard.audio[0]), windows_db(&heard.audio[1]));
    let loud = one.iter().filter(|&&d| d > -20.0).count();
    let loudest_two = two.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let loudest_one = one.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    eprintln!("track_01: {loud} loud windows of {}, loudest {loudest_one:.1} dB; track_02 loudest {loudest_two:.1} dB", one.len());
    // The loop plays the tone for about 1.5 s: at least half of that heard.
    assert!(loud >= 7, "track_01 carries the recorded tone: {one:?}");
    // Through a clean track at unity: the tone's own RMS, within a dB.
    let tone_db = db(TONE_AMPLITUDE as f64 / 2f64.sqrt());
    assert!(
        (loudest_one - tone_db).abs() < 1.0,
        "track_01 at {loudest_one:.2} dB, the tone is {tone_db:.2} dB"
    );
    assert!(!two.is_empty() && loudest_two < -90.0, "track_02 stays silent: {two:?}");
}

/// The take folder in `dir`.
fn the_take(dir: &Path) -> PathBuf {
    let takes: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("take.toml").is_file())
        .collect();
    assert_eq!(takes.len(), 1, "takes in {}: {takes:?}", dir.display());
    takes[0].clone()
}

#[test]
fn a_midi_note_acts_at_its_own_frame_of_the_cycle() {
    let _turn = serial();
    const PERIOD: u64 = 256;
    let Some(server) = JackServer::start_with_period("native-midi", PERIOD as u32) else { return };
    let scratch = Scratch::new("native-midi");
    let patch = scratch.write("patch.toml", TWO_TRACKS);
    let takes = scratch.0.join("takes");
    let tester = Tester::start(&server.env());
    let args = [
        "play",
        patch.to_str().unwrap(),
        "--no-tui",
        "--quiet",
        "--duration",
        "3",
        "--no-connect",
        "--take",
        "--takes",
        takes.to_str().unwrap(),
    ];
    let run = Ferrotape::start(&args, &server, &scratch.0);
    tester.wait_for_port("ferrotape:midi_in");
    tester.connect("tester:midi", "ferrotape:midi_in");
    std::thread::sleep(Duration::from_millis(500));
    // Record at frame 37 of one cycle, play at frame 200 of a cycle ten later.
    const RECORD_AT: u32 = 37;
    const PLAY_AT: u32 = 200;
    {
        let mut batches = tester.send.lock().unwrap();
        batches.push_back(vec![(RECORD_AT, vec![0x90, 36, 100])]);
        batches.push_back(vec![(RECORD_AT + 10, vec![0x80, 36, 0])]);
        batches.extend(std::iter::repeat_n(Vec::new(), 8));
        batches.push_back(vec![(PLAY_AT, vec![0x90, 38, 100])]);
        batches.push_back(vec![(PLAY_AT + 10, vec![0x80, 38, 0])]);
    }
    run.wait();
    let take = the_take(&takes);
    let events = EventList::load(&take.join("events.toml")).expect("the take's events");
    let track_commands: Vec<(u64, ferrotape::engine::Command)> = events
        .frames(48_000.0)
        .filter(|(_, c)| matches!(c, ferrotape::engine::Command::Track { .. }))
        .collect();
    eprintln!("logged: {track_commands:?}");
    assert_eq!(track_commands.len(), 2, "record and play, once each: {track_commands:?}");
    let (record, play) = (track_commands[0].0, track_commands[1].0);
    // The engine's frame 0 is the first frame of a cycle and every cycle is
    // one period long: a command applied at its own frame of the cycle
    // lands on that frame modulo the period, exactly (offsets are whole
    // frames from JACK's event times, nothing is rounded on the way).
    assert_eq!(record % PERIOD, u64::from(RECORD_AT), "record applied at frame {record}");
    assert_eq!(play % PERIOD, u64::from(PLAY_AT), "play applied at frame {play}");
    assert!(play > record, "in the order sent: {record} {play}");
}

/// The status line's record latency: (frames, where from).
fn reported_latency(stdout: &str) -> (u32, String) {
    let line = stdout.lines().rev().find(|l| l.contains("record latency ")).expect("a report line");
    let after = line.split("record latency ").nth(1).unwrap();
    let frames = after.split(' ').next().unwrap().parse().unwrap();
    let source = after.split('(').nth(1).unwrap().split(')').next().unwrap().to_string();
    (frames, source)
}

#[test]
fn the_record_latency_is_the_ports_latency_ranges() {
    let _turn = serial();
    // A long period: the dummy driver's ports report latencies of it.
    let Some(server) = JackServer::start_with_period("native-latency", 1024) else { return };
    let scratch = Scratch::new("native-latency");
    let patch = scratch.write("patch.toml", TWO_TRACKS);
    let tester = Tester::start(&server.env());
    let args = ["play", patch.to_str().unwrap(), "--no-tui", "--duration", "2.5"];
    let run = Ferrotape::start(&args, &server, &scratch.0);
    tester.wait_for_port("ferrotape:out_L");
    std::thread::sleep(Duration::from_millis(500));
    let capture =
        tester.client().port_by_name("ferrotape:in_1").unwrap().get_latency_range(jack::LatencyType::Capture);
    let playback = tester
        .client()
        .port_by_name("ferrotape:out_L")
        .unwrap()
        .get_latency_range(jack::LatencyType::Playback);
    let (stdout, _) = run.wait();
    let (frames, source) = reported_latency(&stdout);
    eprintln!("capture {capture:?} + playback {playback:?}; reported {frames} ({source})");
    assert!(capture.1 > 0 && playback.1 > 0, "the dummy driver declares latencies");
    assert_eq!(frames, capture.1 + playback.1);
    assert_eq!(source, "from JACK port latencies");
    assert!(stdout.contains(&format!("latency {frames} fr")), "the status lines say it: {stdout}");

    // --latency-ms still wins.
    let args = ["play", patch.to_str().unwrap(), "--no-tui", "--duration", "1.5", "--latency-ms", "10"];
    let (stdout, _) = Ferrotape::start(&args, &server, &scratch.0).wait();
    assert_eq!(reported_latency(&stdout), (480, "from --latency-ms".to_string()));
}

/// In this process: the backend on a processor whose feedback queue the
/// test fills; the bytes come out of `midi_out`, MIDI into `midi_in`
/// drives the router, and nothing in the callback allocates (the global
/// allocator aborts if it does).
#[test]
fn feedback_bytes_from_the_control_side_arrive_on_midi_out() {
    use ferrotape::bridge::{Bridge, QueueSizes};
    use ferrotape::engine::Engine;
    use ferrotape::io::jack_native::JackBackend;
    use ferrotape::io::{AudioBackend, AudioOptions, Handoff, LiveProcessor};
    use ferrotape::midi_map::{MidiMap, MidiRouter, SelectedTrack};
    let _turn = serial();
    let Some(server) = JackServer::start("native-feedback") else { return };
    let tester = Tester::start(&server.env());
    let options = AudioOptions { no_connect: true, track_outputs: true, ..AudioOptions::default() };
    let mut backend = JackBackend::open(&options, None).expect("the native client");
    let settings = backend.settings().clone();
    let patch = ferrotape::patch::Patch::parse(TWO_TRACKS, Path::new("p.toml")).expect("patch");
    let mut bridge = Bridge::new(QueueSizes::default());
    let mut feedback = bridge.take_midi_out().expect("the MIDI out producer");
    assert!(bridge.take_midi_out().is_none(), "one producer");
    let map = MidiMap::from_patch_tables(&patch.midi, Path::new("p.toml")).expect("bindings");
    let slot = Arc::new(Handoff::new(Box::new(MidiRouter::new(&map.bindings, SelectedTrack::new(2)))));
    let engine = Box::new(Engine::new(patch.engine_config(), settings.sample_rate as f64, settings.block));
    let processor = LiveProcessor::new(engine, bridge.audio, Vec::new(), settings.block, true, None)
        .with_midi_router(slot);
    let processor = Arc::new(Handoff::new(Box::new(processor)));
    let input = Arc::new(Handoff::new(Box::new(bridge.input)));
    backend.start(processor.clone(), input).expect("started");
    tester.connect("ferrotape:midi_out", "tester:midi_back");
    tester.connect("tester:midi", "ferrotape:midi_in");
    tester.connect("tester:tone", "ferrotape:in_1");
    tester.connect("ferrotape:track_01", "tester:heard_1");
    std::thread::sleep(Duration::from_millis(200));
    // An LED on, a short sysex, an LED off; and a note that records.
    let sent: [&[u8]; 3] = [&[0x90, 40, 127], &[0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7], &[0x80, 40, 0]];
    for bytes in sent {
        assert!(feedback.send(bytes));
    }
    assert!(!feedback.send(&[0u8; 64]), "too long for a packet");
    tester.send.lock().unwrap().push_back(vec![(5, vec![0x90, 36, 100])]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = tester.heard.lock().unwrap().midi.len();
        if got >= sent.len() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let the recording run a little, then look.
    std::thread::sleep(Duration::from_millis(500));
    backend.stop();
    let heard = tester.heard.lock().unwrap();
    let bytes: Vec<Vec<u8>> = heard.midi.iter().map(|(_, _, b)| b.clone()).collect();
    assert_eq!(bytes, sent.iter().map(|b| b.to_vec()).collect::<Vec<_>>(), "in order, once each");
    assert!(heard.midi.iter().all(|&(_, frame, _)| frame == 0), "at frame 0: {:?}", heard.midi);
    let stats = processor.with(|p| p.stats_arc()).expect("the processor is back");
    assert_eq!(ferrotape::bridge::LiveStats::get(&stats.engine_faults), 0, "nothing allocated or panicked");
    assert_eq!(ferrotape::bridge::LiveStats::get(&stats.midi_out_dropped), 1, "the long message counted");
    let mode = processor.with(|p| p.engine_mut().snapshot().tracks()[0].mode.label()).unwrap();
    assert_eq!(mode, "REC", "the note on midi_in recorded track 1");
    drop(heard);
    drop(tester);
}

#[test]
fn a_longer_period_later_is_rendered_in_pieces() {
    let _turn = serial();
    let Some(server) = JackServer::start_with_period("native-period", 256) else { return };
    let scratch = Scratch::new("native-period");
    let patch = scratch.write("patch.toml", TWO_TRACKS);
    let events = scratch.write("events.toml", RECORD_TRACK_1);
    let tester = Tester::start(&server.env());
    let args = [
        "play",
        patch.to_str().unwrap(),
        "--no-tui",
        "--duration",
        "3.5",
        "--events",
        events.to_str().unwrap(),
        "--track-outputs",
        "--no-connect",
    ];
    let run = Ferrotape::start(&args, &server, &scratch.0);
    tester.wait_for_port("ferrotape:track_01");
    tester.connect("tester:tone", "ferrotape:in_1");
    tester.connect("ferrotape:track_01", "tester:heard_1");
    // The engine was prepared for 256 frames; the server now runs 1024.
    tester.client().set_buffer_size(1024).expect("the server takes a new period");
    assert_eq!(tester.client().buffer_size(), 1024);
    let (stdout, _) = run.wait();
    let heard = tester.heard.lock().unwrap();
    let one = windows_db(&heard.audio[0]);
    let loud = one.iter().filter(|&&d| d > -20.0).count();
    let loudest = one.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tone_db = db(TONE_AMPLITUDE as f64 / 2f64.sqrt());
    eprintln!("at 1024 frames: {loud} loud windows, loudest {loudest:.2} dB\n{stdout}");
    assert!(loud >= 7, "the loop plays on at the longer period: {one:?}");
    assert!((loudest - tone_db).abs() < 1.0, "track_01 at {loudest:.2} dB, the tone is {tone_db:.2} dB");
    assert!(stdout.contains("played "), "{stdout}");
}
