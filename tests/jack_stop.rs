//! Stopping a JACK client whose process thread is busy: libjack cancels a
//! thread it finds inside the process callback, and the forced unwind
//! through Rust aborts the whole process ("FATAL: exception not
//! rethrown"). That happens when the callback runs late, longer than a
//! period, as on a loaded machine or with an engine past its budget: the
//! server moves on without the client and the cancel finds it still inside.
//! `jack_native::stopping` has the thread quit from inside first. Here a
//! client whose every cycle takes three periods is stopped again and again:
//! with a plain `deactivate` this process aborts in the first rounds.
//!
//! Without `jackd` the test says why and passes, except under CI (`CI=true`).
#![cfg(feature = "jack")]

mod live_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotape::io::jack_native::stopping::{self, LastCycle, Stoppable};
use jack::{AudioOut, Client, ClientOptions, Control, Port, ProcessHandler, ProcessScope};
use live_support::JackServer;

/// Busy for `duty` periods each cycle, then a constant on its output.
struct Busy {
    out: Port<AudioOut>,
    period: Duration,
    duty: f64,
    cycles: Arc<AtomicU64>,
    silenced: Arc<AtomicBool>,
}

impl ProcessHandler for Busy {
    fn process(&mut self, _: &Client, ps: &ProcessScope) -> Control {
        let until = Instant::now() + self.period.mul_f64(self.duty);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        self.out.as_mut_slice(ps).fill(0.5);
        self.cycles.fetch_add(1, Ordering::Relaxed);
        Control::Continue
    }
}

impl LastCycle for Busy {
    fn last_cycle(&mut self, _: &Client, ps: &ProcessScope) {
        self.out.as_mut_slice(ps).fill(0.0);
        self.silenced.store(true, Ordering::Relaxed);
    }
}

#[test]
fn a_client_busy_in_its_callback_stops_again_and_again() {
    let Some(server) = JackServer::start("stop") else { return };
    for (key, value) in server.env() {
        std::env::set_var(key, value);
    }
    const ROUNDS: usize = 20;
    for round in 0..ROUNDS {
        let (client, _) = Client::new("busy", ClientOptions::NO_START_SERVER).expect("jack client");
        let period =
            Duration::from_secs_f64(f64::from(client.buffer_size()) / f64::from(client.sample_rate()));
        let out = client.register_port("out", AudioOut::default()).expect("port");
        let (cycles, silenced) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let busy = Busy { out, period, duty: 3.0, cycles: cycles.clone(), silenced: silenced.clone() };
        let (handler, switch) = Stoppable::new(busy);
        let active = client.activate_async((), handler).expect("activate");
        // Stop at a different moment of the period each round.
        let deadline = Instant::now() + Duration::from_secs(10);
        while cycles.load(Ordering::Relaxed) < 3 {
            assert!(Instant::now() < deadline, "round {round}: the client never ran");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(period.mul_f64(round as f64 / ROUNDS as f64));
        let stopped = stopping::deactivate(active, &switch);
        let (client, (), _) = stopped.unwrap_or_else(|e| panic!("round {round}: deactivate failed: {e}"));
        assert!(silenced.load(Ordering::Relaxed), "round {round}: the last cycle did not silence the output");
        let ran = cycles.load(Ordering::Relaxed);
        std::thread::sleep(period * 4);
        assert_eq!(cycles.load(Ordering::Relaxed), ran, "round {round}: the callback ran after the stop");
        drop(client);
    }
}
