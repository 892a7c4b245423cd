//! A MIDI device on a test's JACK graph: a client with one MIDI output
//! port, `<name>:out`, that goes away when dropped.
//!
//! A JACK client rather than a midir one: closing a midir JACK connection
//! unregisters its port before it deactivates the client, and a refused
//! midir connection leaves its client active with a callback on freed
//! state, so a process cycle at that moment reads freed memory and the
//! whole test process crashes, hiding what failed. A JACK client is
//! deactivated before its ports go, and stopped the safe way
//! ([`TestClient`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jack::{Client, ClientOptions, Control, MidiOut, ProcessScope, RawMidi};

use super::test_client::TestClient;

type Callback = Box<dyn FnMut(&Client, &ProcessScope) -> Control + Send>;

pub struct MidiDevice {
    client: TestClient<jack::contrib::ClosureProcessHandler<(), Callback>>,
    /// Messages the test queued, sent at the start of the next cycle.
    queue: Arc<Mutex<Vec<Vec<u8>>>>,
    pub port: String,
}

impl MidiDevice {
    pub fn plug_in(name: &str) -> MidiDevice {
        let (client, _) = Client::new(name, ClientOptions::NO_START_SERVER).expect("device client");
        let mut out = client.register_port("out", MidiOut::default()).expect("device port");
        let port = out.name().expect("device port name");
        let queue = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
        let pending = queue.clone();
        let process: Callback = Box::new(move |_, ps| {
            let mut writer = out.writer(ps);
            // Never wait in a JACK callback: what the test is queueing now
            // goes out next cycle.
            if let Ok(mut messages) = pending.try_lock() {
                for bytes in messages.drain(..) {
                    let _ = writer.write(&RawMidi { time: 0, bytes: &bytes });
                }
            }
            Control::Continue
        });
        let handler = jack::contrib::ClosureProcessHandler::new(process);
        let client = TestClient::activate(client, handler);
        MidiDevice { client, queue, port }
    }

    /// Connect `<name>:out` to `to`, trying for up to 10 s: JACK refuses a
    /// connection to a client that has registered its ports but is not
    /// active yet, and a busy machine may take a while to get there.
    pub fn connect_to(&self, to: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(e) = self.client.as_client().connect_ports_by_name(&self.port, to) {
            assert!(Instant::now() < deadline, "cannot connect {} to {to}: {e}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn send(&self, bytes: &[u8]) {
        self.queue.lock().expect("device queue").push(bytes.to_vec());
    }
}
