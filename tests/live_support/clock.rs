//! A drum machine and a MIDI monitor on a private JACK server: a client
//! that sends MIDI clock (24 ppq, start, stop, continue) at a tempo with a
//! chosen jitter into ferrotape's `midi_in`, and records, with their frames,
//! the MIDI messages ferrotape sends out of `midi_out`, and its audio.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::test_client::TestClient;
use jack::{AudioIn, AudioOut, Client, ClientOptions, Control, MidiIn, MidiOut, ProcessScope, RawMidi};

/// What the drum machine is told from the test.
#[derive(Default)]
pub struct Machine {
    /// Tempo in BPM, as f64 bits.
    bpm: AtomicU64,
    /// Peak jitter of each tick, frames.
    jitter: AtomicU64,
    start: AtomicBool,
    stop: AtomicBool,
    cont: AtomicBool,
    /// Send a song position (sixteenths) before the next continue.
    song_position: AtomicU64,
    /// Other messages to send at the next cycle (a controller's presses).
    messages: Mutex<Vec<Vec<u8>>>,
}

/// A MIDI message ferrotape sent, at the absolute JACK frame it was stamped with.
#[derive(Clone, Debug, PartialEq)]
pub struct Heard {
    pub frame: u64,
    pub bytes: Vec<u8>,
}

type Callback = Box<dyn FnMut(&Client, &ProcessScope) -> Control + Send>;
type Process = jack::contrib::ClosureProcessHandler<(), Callback>;

pub struct ClockRig {
    client: TestClient<Process>,
    pub machine: Arc<Machine>,
    /// MIDI from ferrotape's `midi_out`.
    pub midi: Arc<Mutex<Vec<Heard>>>,
    /// Ferrotape's `out_L`, with the JACK frame of its first sample.
    pub audio: Arc<Mutex<(u64, Vec<f32>)>>,
    /// JACK frames at which the machine sent start (0xFA) and each tick.
    pub sent_ticks: Arc<Mutex<Vec<u64>>>,
    pub rate: f64,
}

impl ClockRig {
    pub fn start(name: &str, bpm: f64) -> ClockRig {
        let (client, _) = Client::new(name, ClientOptions::NO_START_SERVER).expect("jack client");
        let rate = f64::from(client.sample_rate());
        let mut out = client.register_port("clock_out", MidiOut::default()).expect("port");
        let midi_in = client.register_port("from_ferrotape", MidiIn::default()).expect("port");
        let audio_in = client.register_port("audio_in", AudioIn::default()).expect("port");
        // A click on every bar line of the machine's clock (every 96 ticks),
        // for ferrotape to record.
        let mut click_out = client.register_port("click_out", AudioOut::default()).expect("port");
        let mut ticks_since_start = 0u64;
        let machine = Arc::new(Machine::default());
        machine.bpm.store(bpm.to_bits(), Ordering::Relaxed);
        let midi = Arc::new(Mutex::new(Vec::new()));
        let audio = Arc::new(Mutex::new((0u64, Vec::with_capacity(48_000 * 60))));
        let sent_ticks = Arc::new(Mutex::new(Vec::new()));
        let (m, heard, recorded, sent) = (machine.clone(), midi.clone(), audio.clone(), sent_ticks.clone());
        // The ideal frame of the next tick, once running.
        let mut next_tick: Option<f64> = None;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        // What the callback could not hand over because the test thread held
        // the lock (reading what was heard): kept and handed over next cycle,
        // never dropped, so a reader never makes a tick or a block vanish.
        let (mut unsent_ticks, mut unheard, mut unrecorded) = (Vec::new(), Vec::new(), Vec::new());
        let mut recording_from: Option<u64> = None;
        let process: Callback = Box::new(move |_: &Client, ps: &ProcessScope| -> Control {
            let t0 = u64::from(ps.last_frame_time());
            let n = ps.n_frames();
            let click = click_out.as_mut_slice(ps);
            click.fill(0.0);
            let mut writer = out.writer(ps);
            let mut last_offset = 0u32;
            let mut write = |offset: u32, bytes: &[u8], last: &mut u32| {
                let time = offset.max(*last).min(n - 1);
                *last = time;
                let _ = writer.write(&RawMidi { time, bytes });
            };
            if let Ok(mut messages) = m.messages.try_lock() {
                for bytes in messages.drain(..) {
                    write(0, &bytes, &mut last_offset);
                }
            }
            if m.stop.swap(false, Ordering::AcqRel) {
                next_tick = None;
                write(0, &[0xFC], &mut last_offset);
            }
            let starting = m.start.swap(false, Ordering::AcqRel);
            let continuing = m.cont.swap(false, Ordering::AcqRel);
            if starting || continuing {
                let position = m.song_position.swap(u64::MAX, Ordering::AcqRel);
                if continuing && position != u64::MAX {
                    let p = position as u16;
                    write(0, &[0xF2, (p & 0x7F) as u8, (p >> 7) as u8], &mut last_offset);
                }
                write(0, &[if starting { 0xFA } else { 0xFB }], &mut last_offset);
                // The first tick after start is beat 1; a little later, as
                // machines do.
                next_tick = Some(t0 as f64 + 10.0);
                if starting {
                    ticks_since_start = 0;
                }
            }
            if let Some(tick) = next_tick.as_mut() {
                let period = 60.0 * rate / f64::from_bits(m.bpm.load(Ordering::Relaxed)) / 24.0;
                let jitter = f64::from_bits(m.jitter.load(Ordering::Relaxed));
                while *tick < (t0 + u64::from(n)) as f64 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let r = (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                    let at = (*tick + r * jitter).round().max(t0 as f64) as u64;
                    write((at - t0) as u32, &[0xF8], &mut last_offset);
                    unsent_ticks.push(t0 + u64::from(last_offset));
                    // The click sits on the ideal bar line, not the jittered tick.
                    let ideal = (*tick).round() as u64;
                    if ticks_since_start % 96 == 0 && ideal >= t0 {
                        let at = (ideal - t0) as usize;
                        for x in click.iter_mut().skip(at).take(4) {
                            *x = 0.8;
                        }
                    }
                    ticks_since_start += 1;
                    *tick += period;
                }
            }
            if let Ok(mut s) = sent.try_lock() {
                s.append(&mut unsent_ticks);
            }
            for event in midi_in.iter(ps) {
                unheard.push(Heard { frame: t0 + u64::from(event.time), bytes: event.bytes.to_vec() });
            }
            if let Ok(mut h) = heard.try_lock() {
                h.append(&mut unheard);
            }
            // The frame of the first sample waiting to be handed over.
            recording_from.get_or_insert(t0);
            unrecorded.extend_from_slice(audio_in.as_slice(ps));
            if let Ok(mut a) = recorded.try_lock() {
                if a.1.is_empty() {
                    a.0 = recording_from.unwrap_or(t0);
                }
                a.1.append(&mut unrecorded);
                recording_from = None;
            }
            Control::Continue
        });
        let client = TestClient::activate(client, jack::contrib::ClosureProcessHandler::new(process));
        ClockRig { client, machine, midi, audio, sent_ticks, rate }
    }

    /// Connect the machine to `ferrotape:midi_in`, and `ferrotape:midi_out`
    /// and `ferrotape:out_L` to the monitor, once those ports exist.
    pub fn connect(&self, ferrotape: &str) {
        let client = self.client.as_client();
        let own = client.name().to_string();
        let pairs = [
            (format!("{own}:clock_out"), format!("{ferrotape}:midi_in")),
            (format!("{ferrotape}:midi_out"), format!("{own}:from_ferrotape")),
            (format!("{ferrotape}:out_L"), format!("{own}:audio_in")),
            (format!("{own}:click_out"), format!("{ferrotape}:in_1")),
        ];
        let deadline = Instant::now() + Duration::from_secs(20);
        for (from, to) in pairs {
            while client.connect_ports_by_name(&from, &to).is_err() {
                assert!(Instant::now() < deadline, "cannot connect {from} to {to}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    pub fn set_bpm(&self, bpm: f64) {
        self.machine.bpm.store(bpm.to_bits(), Ordering::Relaxed);
    }

    /// Peak jitter of each tick, milliseconds.
    pub fn set_jitter_ms(&self, ms: f64) {
        self.machine.jitter.store((ms * self.rate / 1000.0).to_bits(), Ordering::Relaxed);
    }

    pub fn press_start(&self) {
        self.machine.start.store(true, Ordering::Release);
    }

    pub fn press_stop(&self) {
        self.machine.stop.store(true, Ordering::Release);
    }

    /// Continue, from `sixteenths` into the song when given.
    pub fn press_continue(&self, sixteenths: Option<u16>) {
        self.machine.song_position.store(sixteenths.map_or(u64::MAX, u64::from), Ordering::Release);
        self.machine.cont.store(true, Ordering::Release);
    }

    /// Send a MIDI message into ferrotape at the next cycle.
    pub fn send(&self, bytes: &[u8]) {
        self.machine.messages.lock().unwrap().push(bytes.to_vec());
    }

    /// The messages heard from ferrotape so far whose first byte is `status`.
    pub fn heard(&self, status: u8) -> Vec<u64> {
        self.midi
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.bytes.first() == Some(&status))
            .map(|h| h.frame)
            .collect()
    }

    /// Everything heard from ferrotape so far.
    pub fn heard_all(&self) -> Vec<Heard> {
        self.midi.lock().unwrap().clone()
    }

    /// The client's current JACK frame.
    pub fn frame(&self) -> u64 {
        u64::from(self.client.as_client().frame_time())
    }
}
