//! MIDI input through midir: named ports, a virtual port, and reopening
//! ports that come back after being unplugged.
//!
//! The backend is chosen at build time: ALSA sequencer on Linux (CoreMIDI,
//! WinMM elsewhere), or JACK with the `jack` cargo feature. Every open port
//! delivers bytes on a midir thread; the callback stamps `Instant::now()`,
//! parses with that port's own parser (running status is per port) and
//! routes straight into the engine's command queue.
//!
//! NOTE: one [`MidiRouter`] and one [`CommandSink`] serve every port, so the
//! callbacks share them behind a `Mutex`. Only MIDI threads take that lock,
//! for the microseconds a message takes to route; the audio thread never
//! does. With a single port it is never contended.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use midir::{Ignore, MidiInput, MidiInputConnection};

use crate::bridge::CommandSink;
use crate::midi_map::{MidiParser, MidiRouter};

/// The client name ferrotape registers with the MIDI system.
pub const CLIENT_NAME: &str = "ferrotape";

/// The virtual input port's own name; others see it as `ferrotape:midi_in`
/// (JACK appends a number to the client name if `ferrotape` is taken).
pub const VIRTUAL_PORT: &str = "midi_in";

/// How often the watcher looks for ports that appeared or went away.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// Which existing ports to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortSelection {
    /// No existing ports (only the virtual port, if enabled).
    None,
    /// Every MIDI source there is (`--midi all`).
    All,
    /// Ports whose name contains any of these, ignoring case (`--midi NAME`, repeatable).
    Matching(Vec<String>),
}

impl PortSelection {
    /// From the values of a repeatable `--midi` option: none given opens no
    /// ports, `all` opens every port, anything else is a name substring.
    pub fn from_args(names: &[String]) -> PortSelection {
        if names.is_empty() {
            PortSelection::None
        } else if names.iter().any(|n| n.eq_ignore_ascii_case("all")) {
            PortSelection::All
        } else {
            PortSelection::Matching(names.to_vec())
        }
    }

    pub fn matches(&self, port_name: &str) -> bool {
        match self {
            PortSelection::None => false,
            PortSelection::All => true,
            PortSelection::Matching(names) => {
                let port = port_name.to_lowercase();
                names.iter().any(|n| port.contains(&n.to_lowercase()))
            }
        }
    }
}

/// What to open.
#[derive(Clone, Debug)]
pub struct MidiInputConfig {
    pub ports: PortSelection,
    /// Create the `ferrotape:midi_in` virtual port (JACK, ALSA, CoreMIDI;
    /// Windows has no virtual ports and ignores this).
    pub virtual_port: bool,
    /// How often to look for ports that appeared or disappeared.
    pub poll: Duration,
}

impl Default for MidiInputConfig {
    fn default() -> Self {
        MidiInputConfig { ports: PortSelection::None, virtual_port: true, poll: DEFAULT_POLL }
    }
}

/// The router and the engine queue, shared by every port's callback.
struct Routing {
    router: MidiRouter,
    sink: Box<dyn CommandSink>,
}

type SharedRouting = Arc<Mutex<Routing>>;

/// What each midir callback owns.
struct PortInput {
    parser: MidiParser,
    routing: SharedRouting,
}

fn on_bytes(bytes: &[u8], input: &mut PortInput) {
    let at = Instant::now();
    // A panic elsewhere while holding the lock must not silence MIDI for
    // the rest of the show: the router's state is still usable.
    let mut routing = input.routing.lock().unwrap_or_else(PoisonError::into_inner);
    let Routing { router, sink } = &mut *routing;
    for &byte in bytes {
        if let Some(message) = input.parser.push(byte) {
            router.route(message, at, sink.as_mut());
        }
    }
}

/// Open MIDI inputs; closing happens on drop (or [`MidiInputs::stop`]).
pub struct MidiInputs {
    stop: Arc<AtomicBool>,
    watcher: Option<JoinHandle<()>>,
    status: Arc<Mutex<PortStatus>>,
    virtual_input: Option<MidiInputConnection<PortInput>>,
}

/// What is open right now, for the screen and for `--midi` feedback.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortStatus {
    /// Names of the existing ports currently open.
    pub open: Vec<String>,
    /// The last problem opening a port (kept until a later open succeeds).
    pub last_error: Option<String>,
}

impl MidiInputs {
    /// Open the virtual port and the selected ports, and start the watcher
    /// that reopens ports when they come back. Fails with one line a
    /// performer can act on when the MIDI system is not available.
    pub fn start(
        config: MidiInputConfig,
        router: MidiRouter,
        sink: Box<dyn CommandSink>,
    ) -> Result<MidiInputs, String> {
        let routing: SharedRouting = Arc::new(Mutex::new(Routing { router, sink }));
        // The virtual port's client is opened first so that it gets the plain
        // client name (JACK renames later clients that ask for a taken name).
        let virtual_input = if config.virtual_port { open_virtual(&routing)? } else { None };
        let lister = new_input("-watch")?;
        let stop = Arc::new(AtomicBool::new(false));
        let status = Arc::new(Mutex::new(PortStatus::default()));
        let watcher = if config.ports == PortSelection::None {
            // Nothing to watch; keep the lister from holding a client open.
            drop(lister);
            None
        } else {
            let mut watch = Watcher {
                lister,
                selection: config.ports,
                routing,
                open: Vec::new(),
                status: Arc::clone(&status),
            };
            // Open what is there now before returning, so a caller can
            // report the ports straight away.
            watch.scan();
            let stop = Arc::clone(&stop);
            let poll = config.poll;
            let handle = std::thread::Builder::new()
                .name("ferrotape-midi-watch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::park_timeout(poll);
                        if !stop.load(Ordering::Relaxed) {
                            watch.scan();
                        }
                    }
                })
                .map_err(|e| format!("cannot start the MIDI port watcher: {e}"))?;
            Some(handle)
        };
        Ok(MidiInputs { stop, watcher, status, virtual_input })
    }

    /// The ports open now and the last problem, if any.
    pub fn status(&self) -> PortStatus {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether the virtual input port exists.
    pub fn has_virtual_port(&self) -> bool {
        self.virtual_input.is_some()
    }

    /// Close every port and stop the watcher.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.watcher.take() {
            handle.thread().unpark();
            // The watcher only scans and sleeps; a panic in it has nothing
            // left to clean up.
            let _ = handle.join();
        }
        self.virtual_input = None;
    }
}

impl Drop for MidiInputs {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Opens selected ports as they appear and forgets those that vanish.
struct Watcher {
    lister: MidiInput,
    selection: PortSelection,
    routing: SharedRouting,
    /// Open connections by port name.
    open: Vec<(String, MidiInputConnection<PortInput>)>,
    status: Arc<Mutex<PortStatus>>,
}

impl Watcher {
    fn scan(&mut self) {
        let names: Vec<String> =
            self.lister.ports().iter().filter_map(|port| self.lister.port_name(port).ok()).collect();
        // A port that is gone: drop (close) its connection so that it can be
        // opened afresh, with a fresh parser, when it comes back.
        self.open.retain(|(name, _)| names.contains(name));
        let mut error = None;
        for port in self.lister.ports() {
            let Ok(name) = self.lister.port_name(&port) else { continue };
            if !self.selection.matches(&name) || self.open.iter().any(|(open, _)| *open == name) {
                continue;
            }
            match connect(&port, &name, &self.routing) {
                Ok(connection) => self.open.push((name, connection)),
                Err(message) => error = Some(message),
            }
        }
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        status.open = self.open.iter().map(|(name, _)| name.clone()).collect();
        if error.is_some() || !status.open.is_empty() {
            status.last_error = error;
        }
    }
}

fn connect(
    port: &midir::MidiInputPort,
    name: &str,
    routing: &SharedRouting,
) -> Result<MidiInputConnection<PortInput>, String> {
    let input = new_input("-in")?;
    let data = PortInput { parser: MidiParser::new(), routing: Arc::clone(routing) };
    input
        .connect(port, "input", |_stamp_us, bytes, data| on_bytes(bytes, data), data)
        .map_err(|e| format!("cannot open MIDI port \"{name}\": {e}"))
}

#[cfg(not(target_os = "windows"))]
fn open_virtual(routing: &SharedRouting) -> Result<Option<MidiInputConnection<PortInput>>, String> {
    use midir::os::unix::VirtualInput;
    let input = new_input("")?;
    let data = PortInput { parser: MidiParser::new(), routing: Arc::clone(routing) };
    input
        .create_virtual(VIRTUAL_PORT, |_stamp_us, bytes, data| on_bytes(bytes, data), data)
        .map(Some)
        .map_err(|e| format!("cannot create the virtual MIDI port {CLIENT_NAME}:{VIRTUAL_PORT}: {e}"))
}

#[cfg(target_os = "windows")]
fn open_virtual(_routing: &SharedRouting) -> Result<Option<MidiInputConnection<PortInput>>, String> {
    // WinMM has no virtual ports; loopMIDI or similar provides one to open by name.
    Ok(None)
}

/// A midir input client, or the one-line reason there is none.
fn new_input(suffix: &str) -> Result<MidiInput, String> {
    let mut input = MidiInput::new(&format!("{CLIENT_NAME}{suffix}")).map_err(|_| unavailable())?;
    // Sysex, clock and active sensing bind to nothing; not delivering them
    // saves the callback work (the parser would skip them anyway).
    input.ignore(Ignore::All);
    Ok(input)
}

#[cfg(feature = "jack")]
fn unavailable() -> String {
    "MIDI input is not available: cannot connect to a JACK server (is jackd or pipewire-jack running?)".into()
}

#[cfg(all(not(feature = "jack"), target_os = "linux"))]
fn unavailable() -> String {
    "MIDI input is not available: the ALSA sequencer cannot be opened (no /dev/snd/seq; is the snd-seq \
     module loaded?); run without --midi, or use a build with the jack feature and a JACK server"
        .into()
}

#[cfg(all(not(feature = "jack"), not(target_os = "linux")))]
fn unavailable() -> String {
    "MIDI input is not available: the system MIDI service could not be opened".into()
}

/// Names of the MIDI sources that can be opened, for `ferrotape devices`.
pub fn list_ports() -> Result<Vec<String>, String> {
    let input = new_input("-list")?;
    Ok(input.ports().iter().filter_map(|port| input.port_name(port).ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_from_args() {
        assert_eq!(PortSelection::from_args(&[]), PortSelection::None);
        assert_eq!(PortSelection::from_args(&["nano".into(), "ALL".into()]), PortSelection::All);
        let some = PortSelection::from_args(&["nanoKONTROL".into(), "launch".into()]);
        assert!(some.matches("nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0"));
        assert!(some.matches("Launch Control XL:Launch Control XL MIDI 1 24:0"));
        assert!(!some.matches("Midi Through:Midi Through Port-0 14:0"));
        assert!(!PortSelection::None.matches("anything"));
    }
}
