//! A performer's rig on a private JACK server: a client standing for the
//! sound card, the room and the performer. What ferrotape plays reaches the
//! performer's ear `playback_latency` frames after it leaves ferrotape's port
//! (the output converter); what the performer plays reaches ferrotape's port
//! `capture_latency` frames after it was played (the input converter). Both
//! are declared to JACK through its latency API, the way a sound card's
//! driver declares them, so ferrotape's measurement sees them as on real
//! hardware.

use std::ffi::c_void;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::test_client::TestClient;
use jack::jack_sys as j;
use jack::{AudioIn, AudioOut, Client, ClientOptions, Control, ProcessScope};

/// What the performer plays into ferrotape's input.
#[derive(Clone, Copy, Debug)]
pub enum Performer {
    /// A steady sine: `hz`, peak `amplitude`.
    Tone { hz: f64, amplitude: f32 },
    /// Plays back exactly what they hear, with no reaction time (a loopback
    /// cable through the converters).
    Echo,
}

/// The ports whose latencies the rig declares, for JACK's latency callback.
struct DeclaredLatency {
    to_ferrotape: *mut j::jack_port_t,
    from_ferrotape: *mut j::jack_port_t,
    playback: u32,
    capture: u32,
}

unsafe extern "C" fn declare_latency(mode: j::jack_latency_callback_mode_t, arg: *mut c_void) {
    // SAFETY: `arg` is the `DeclaredLatency` the `Rig` keeps alive (boxed)
    // until after the client is deactivated.
    let declared = unsafe { &*(arg as *const DeclaredLatency) };
    if mode == j::JackCaptureLatency {
        let mut range = j::jack_latency_range_t { min: declared.capture, max: declared.capture };
        unsafe { j::jack_port_set_latency_range(declared.to_ferrotape, mode, &mut range) };
    } else {
        let mut range = j::jack_latency_range_t { min: declared.playback, max: declared.playback };
        unsafe { j::jack_port_set_latency_range(declared.from_ferrotape, mode, &mut range) };
    }
}

type Callback = Box<dyn FnMut(&Client, &ProcessScope) -> Control + Send>;
type Process = jack::contrib::ClosureProcessHandler<(), Callback>;

pub struct Rig {
    /// Closed first (see `Drop`), before the latencies its callback reads
    /// are freed.
    client: TestClient<Process>,
    /// Everything that reached the rig from ferrotape, from when it was cleared.
    pub heard: Arc<Mutex<Vec<f32>>>,
    pub rate: f64,
    pub playback_latency: u32,
    pub capture_latency: u32,
    /// What the latency callback reads: freed only once the client closed.
    declared: Option<Box<DeclaredLatency>>,
}

impl Rig {
    /// A rig client named `name` on the server in the environment.
    pub fn start(name: &str, performer: Performer, playback_latency: u32, capture_latency: u32) -> Rig {
        let (client, _) = Client::new(name, ClientOptions::NO_START_SERVER).expect("jack client");
        let rate = client.sample_rate() as f64;
        let mut to_ferrotape = client.register_port("to_ferrotape", AudioOut::default()).expect("port");
        let from_ferrotape = client.register_port("from_ferrotape", AudioIn::default()).expect("port");
        let mut declared = Box::new(DeclaredLatency {
            to_ferrotape: to_ferrotape.raw(),
            from_ferrotape: from_ferrotape.raw(),
            playback: playback_latency,
            capture: capture_latency,
        });
        // SAFETY: the client is not active yet; `declared` outlives it (see `Rig`).
        let status = unsafe {
            j::jack_set_latency_callback(
                client.raw(),
                Some(declare_latency),
                &mut *declared as *mut DeclaredLatency as *mut c_void,
            )
        };
        assert_eq!(status, 0, "jack_set_latency_callback failed");
        let heard = Arc::new(Mutex::new(Vec::<f32>::with_capacity(48_000 * 30)));
        let recorder = heard.clone();
        // The sound on its way from the ear back to ferrotape's input.
        let delay = (playback_latency + capture_latency) as usize;
        let mut air = vec![0.0f32; delay.max(1)];
        let mut air_at = 0usize;
        let mut phase = 0.0f64;
        let process: Callback = Box::new(move |_: &Client, ps: &ProcessScope| -> Control {
            let input = from_ferrotape.as_slice(ps);
            let output = to_ferrotape.as_mut_slice(ps);
            for (out, &x) in output.iter_mut().zip(input) {
                *out = match performer {
                    Performer::Tone { hz, amplitude } => {
                        let y = amplitude * (phase * std::f64::consts::TAU).sin() as f32;
                        phase = (phase + hz / rate).fract();
                        y
                    }
                    Performer::Echo if delay == 0 => x,
                    Performer::Echo => {
                        let y = air[air_at];
                        air[air_at] = x;
                        air_at = (air_at + 1) % delay;
                        y
                    }
                };
            }
            // Never wait in a JACK callback: a busy recording skips a block (tests check length).
            if let Ok(mut v) = recorder.try_lock() {
                v.extend_from_slice(input);
            }
            Control::Continue
        });
        let handler = jack::contrib::ClosureProcessHandler::new(process);
        let client = TestClient::activate(client, handler);
        Rig { client, heard, rate, playback_latency, capture_latency, declared: Some(declared) }
    }

    /// Wait for ferrotape (process `pid`, built with the jack feature) to
    /// show its ports, then connect: its output to the rig, the rig to its input.
    pub fn connect(&self, pid: u32) {
        let client = self.client.as_client();
        let own = client.name().to_string();
        let (input, output) = (format!("cpal_client_{pid}_in:in_0"), format!("cpal_client_{pid}_out:out_0"));
        let deadline = Instant::now() + Duration::from_secs(15);
        while client.port_by_name(&input).is_none() || client.port_by_name(&output).is_none() {
            assert!(Instant::now() < deadline, "ferrotape's ports did not appear");
            std::thread::sleep(Duration::from_millis(10));
        }
        let connect = |from: &str, to: &str| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while let Err(e) = client.connect_ports_by_name(from, to) {
                assert!(Instant::now() < deadline, "cannot connect {from} to {to}: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        connect(&output, &format!("{own}:from_ferrotape"));
        connect(&format!("{own}:to_ferrotape"), &input);
        // The rig is ferrotape's sound card: nothing else stays connected
        // (the audio host connects every port to the system ports as it
        // starts, and JACK reports the largest latency of a client's ports).
        let prefixes = [format!("cpal_client_{pid}_in:"), format!("cpal_client_{pid}_out:")];
        let settle = Instant::now() + Duration::from_millis(600);
        while Instant::now() < settle {
            for name in client.ports(None, None, jack::PortFlags::empty()) {
                if !prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                    continue;
                }
                let Some(port) = client.port_by_name(&name) else { continue };
                for other in port.get_connections().into_iter().filter(|o| !o.starts_with(&own)) {
                    let _ = client.disconnect_ports_by_name(&name, &other);
                    let _ = client.disconnect_ports_by_name(&other, &name);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the rig has heard so far.
    pub fn heard(&self) -> Vec<f32> {
        self.heard.lock().unwrap().clone()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if !self.client.close() {
            // The client may still call its latency callback.
            std::mem::forget(self.declared.take());
        }
    }
}
