//! MIDI input through midir: named ports, a virtual port, and reopening
//! ports that come back after being unplugged.
//!
//! The backend is chosen at build time: ALSA sequencer on Linux (CoreMIDI,
//! WinMM elsewhere), or JACK with the `jack` cargo feature. Every open port
//! delivers bytes on a midir thread; the callback stamps `Instant::now()`,
//! parses with that port's own parser (running status is per port) and
//! routes straight into the engine's command queue.
//!
//! One [`MidiRouter`] and one [`CommandSink`] serve every port. A callback
//! never waits for them (with the `jack` feature it runs on JACK's
//! real-time thread): it queues its parsed messages in its port's own ring
//! and routes every port's queue if no other callback is doing so; if one
//! is, that one routes them too before it lets go ([`SharedRouting`]).

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use midir::{Ignore, MidiInput, MidiInputConnection};
use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::realtime;
use crate::bridge::CommandSink;
use crate::midi_map::{MidiMessage, MidiParser, MidiRouter};
use crate::sync::{ClockMessage, ClockParser};

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

/// Messages a port's callback may queue before the router takes them.
const PORT_QUEUE: usize = 512;

/// A parsed message: a channel message, or MIDI clock when the router follows it.
#[derive(Clone, Copy, Debug)]
enum Incoming {
    Channel(MidiMessage),
    Clock(ClockMessage),
}

/// A parsed message and when its bytes arrived.
type Stamped = (Incoming, Instant);

/// The router, the engine queue and each port's queue of parsed messages.
struct Routing {
    router: MidiRouter,
    sink: Box<dyn CommandSink>,
    /// One queue per open port, by port id.
    ports: Vec<(u64, HeapCons<Stamped>)>,
}

impl Routing {
    /// Route everything the ports have queued; returns how many.
    fn route_queued(&mut self) -> isize {
        let Routing { router, sink, ports } = self;
        let mut routed = 0;
        for (_, queue) in ports.iter_mut() {
            while let Some((message, at)) = queue.try_pop() {
                match message {
                    Incoming::Channel(message) => router.route(message, at, sink.as_mut()),
                    Incoming::Clock(message) => router.route_clock(message, at, sink.as_mut()),
                };
                routed += 1;
            }
        }
        routed
    }
}

/// What every port's callback shares: the routing, which one thread at a
/// time may hold. A callback never waits for it: it queues its messages,
/// takes the routing if it is free and routes what every port queued; if
/// another callback holds it, that one routes them before letting go
/// (it looks again afterwards). No lock, no system call: with the `jack`
/// feature these callbacks run on JACK's real-time thread.
struct SharedRouting {
    busy: AtomicBool,
    /// Messages queued and not yet routed (may dip below zero for a moment
    /// when the router takes a message before its port counted it).
    waiting: AtomicIsize,
    /// Messages lost because a port's queue was full.
    overflowed: AtomicU64,
    next_port: AtomicU64,
    /// The router follows MIDI clock: ports deliver and parse it.
    clock: bool,
    routing: UnsafeCell<Routing>,
}

// SAFETY: `routing` is only touched by the thread that swapped `busy` from
// false to true, until it stores false again.
unsafe impl Sync for SharedRouting {}
unsafe impl Send for SharedRouting {}

impl SharedRouting {
    fn new(router: MidiRouter, sink: Box<dyn CommandSink>) -> Arc<SharedRouting> {
        Arc::new(SharedRouting {
            clock: router.follows_clock(),
            busy: AtomicBool::new(false),
            waiting: AtomicIsize::new(0),
            overflowed: AtomicU64::new(0),
            next_port: AtomicU64::new(0),
            routing: UnsafeCell::new(Routing { router, sink, ports: Vec::new() }),
        })
    }

    /// Run `f` on the routing if no other thread holds it. Never waits.
    fn try_with<R>(&self, f: impl FnOnce(&mut Routing) -> R) -> Option<R> {
        if self.busy.swap(true, Ordering::SeqCst) {
            return None;
        }
        // SAFETY: the swap made this thread the only holder (see above).
        let result = f(unsafe { &mut *self.routing.get() });
        self.busy.store(false, Ordering::SeqCst);
        Some(result)
    }

    /// Route what every port queued, unless another thread is doing it.
    /// After letting go it looks once more, so that a message queued by a
    /// callback that found the routing busy is never left behind.
    fn drain(&self) {
        loop {
            if self.try_with(|routing| self.route_queued(routing)).is_none() {
                return;
            }
            if self.waiting.load(Ordering::SeqCst) <= 0 {
                return;
            }
        }
    }

    /// Off the real-time threads (opening and closing ports): wait for the
    /// routing, a millisecond at a time, then route what is queued.
    fn with_waiting<R>(&self, f: impl FnOnce(&mut Routing) -> R) -> R {
        let mut f = Some(f);
        loop {
            // `f` is taken only by the attempt that gets the routing.
            if let Some(Some(result)) = self.try_with(|routing| f.take().map(|f| f(routing))) {
                self.drain();
                return result;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A new port's end: its parser and the queue the router reads.
    fn add_port(self: &Arc<Self>) -> PortInput {
        let id = self.next_port.fetch_add(1, Ordering::Relaxed);
        let (queue, routed) = HeapRb::<Stamped>::new(PORT_QUEUE).split();
        self.with_waiting(|routing| routing.ports.push((id, routed)));
        PortInput {
            id,
            parser: MidiParser::new(),
            clock: self.clock.then(ClockParser::new),
            queue,
            shared: Arc::clone(self),
        }
    }

    /// Route what the ports queued, counted off while the routing is held
    /// (so that `waiting` above zero always means a message to route).
    fn route_queued(&self, routing: &mut Routing) {
        let routed = routing.route_queued();
        self.waiting.fetch_sub(routed, Ordering::SeqCst);
    }

    /// Forget a closed port's queue (after routing what it left).
    fn remove_port(&self, id: u64) {
        self.with_waiting(|routing| {
            self.route_queued(routing);
            routing.ports.retain(|(i, _)| *i != id);
        });
    }
}

/// What each midir callback owns.
struct PortInput {
    id: u64,
    parser: MidiParser,
    /// With a followed clock, its parser (fed the same bytes).
    clock: Option<ClockParser>,
    queue: HeapProd<Stamped>,
    shared: Arc<SharedRouting>,
}

fn on_bytes(bytes: &[u8], input: &mut PortInput) {
    realtime::callback(|| {
        let at = Instant::now();
        let mut queued = 0;
        for &byte in bytes {
            let clock = input.clock.as_mut().and_then(|parser| parser.push(byte)).map(Incoming::Clock);
            let message = clock.or_else(|| input.parser.push(byte).map(Incoming::Channel));
            if let Some(message) = message {
                if input.queue.try_push((message, at)).is_ok() {
                    queued += 1;
                } else {
                    input.shared.overflowed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if queued > 0 {
            input.shared.waiting.fetch_add(queued, Ordering::SeqCst);
            input.shared.drain();
        }
    });
}

/// Open MIDI inputs; closing happens on drop (or [`MidiInputs::stop`]).
pub struct MidiInputs {
    routing: Arc<SharedRouting>,
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
        let routing = SharedRouting::new(router, sink);
        let shared = Arc::clone(&routing);
        // The virtual port's client is opened first so that it gets the plain
        // client name (JACK renames later clients that ask for a taken name).
        let virtual_input = if config.virtual_port { open_virtual(&routing)? } else { None };
        let lister = new_input("-watch", false)?;
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
        Ok(MidiInputs { routing: shared, stop, watcher, status, virtual_input })
    }

    /// The ports open now and the last problem, if any.
    pub fn status(&self) -> PortStatus {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// With a followed clock, stop the grid if the clock went silent
    /// ([`MidiRouter::poll_clock`]). Never waits: if a port's callback
    /// holds the router just now, the next call looks.
    pub fn poll_clock(&self) {
        if !self.routing.clock {
            return;
        }
        let now = Instant::now();
        let _ = self.routing.try_with(|routing| {
            let Routing { router, sink, .. } = routing;
            router.poll_clock(now, sink.as_mut());
        });
        self.routing.drain();
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
        if let Some(connection) = self.virtual_input.take() {
            super::midi_port::release(connection);
        }
    }
}

impl Drop for MidiInputs {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        for (_, _, connection) in self.open.drain(..) {
            super::midi_port::release(connection);
        }
    }
}

/// Opens selected ports as they appear and forgets those that vanish.
struct Watcher {
    lister: MidiInput,
    selection: PortSelection,
    routing: Arc<SharedRouting>,
    /// Open connections by port name, with their queue's id.
    open: Vec<(String, u64, MidiInputConnection<PortInput>)>,
    status: Arc<Mutex<PortStatus>>,
}

impl Watcher {
    fn scan(&mut self) {
        let names: Vec<String> =
            self.lister.ports().iter().filter_map(|port| self.lister.port_name(port).ok()).collect();
        // A port that is gone: drop (close) its connection so that it can be
        // opened afresh, with a fresh parser, when it comes back.
        let (kept, gone): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.open).into_iter().partition(|(name, _, _)| names.contains(name));
        self.open = kept;
        for (_, id, connection) in gone {
            super::midi_port::release(connection);
            self.routing.remove_port(id);
        }
        let mut error = None;
        for port in self.lister.ports() {
            let Ok(name) = self.lister.port_name(&port) else { continue };
            if !self.selection.matches(&name) || self.open.iter().any(|(open, _, _)| *open == name) {
                continue;
            }
            match connect(&port, &name, &self.routing) {
                Ok((id, connection)) => self.open.push((name, id, connection)),
                Err(message) => error = Some(message),
            }
        }
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        status.open = self.open.iter().map(|(name, _, _)| name.clone()).collect();
        if error.is_some() || !status.open.is_empty() {
            status.last_error = error;
        }
    }
}

fn connect(
    port: &midir::MidiInputPort,
    name: &str,
    routing: &Arc<SharedRouting>,
) -> Result<(u64, MidiInputConnection<PortInput>), String> {
    let input = new_input("-in", routing.clock)?;
    let data = routing.add_port();
    let id = data.id;
    match input.connect(port, "input", |_stamp_us, bytes, data| on_bytes(bytes, data), data) {
        Ok(connection) => Ok((id, connection)),
        Err(e) => {
            routing.remove_port(id);
            Err(format!("cannot open MIDI port \"{name}\": {e}"))
        }
    }
}

#[cfg(not(target_os = "windows"))]
fn open_virtual(routing: &Arc<SharedRouting>) -> Result<Option<MidiInputConnection<PortInput>>, String> {
    use midir::os::unix::VirtualInput;
    let input = new_input("", routing.clock)?;
    let data = routing.add_port();
    input
        .create_virtual(VIRTUAL_PORT, |_stamp_us, bytes, data| on_bytes(bytes, data), data)
        .map(Some)
        .map_err(|e| format!("cannot create the virtual MIDI port {CLIENT_NAME}:{VIRTUAL_PORT}: {e}"))
}

#[cfg(target_os = "windows")]
fn open_virtual(_routing: &Arc<SharedRouting>) -> Result<Option<MidiInputConnection<PortInput>>, String> {
    // WinMM has no virtual ports; loopMIDI or similar provides one to open by name.
    Ok(None)
}

/// A midir input client, or the one-line reason there is none.
fn new_input(suffix: &str, clock: bool) -> Result<MidiInput, String> {
    let mut input = MidiInput::new(&format!("{CLIENT_NAME}{suffix}")).map_err(|_| unavailable())?;
    // Sysex and active sensing bind to nothing, nor does clock unless it is
    // followed; not delivering them saves the callback work (the parser
    // would skip them anyway).
    input.ignore(if clock { Ignore::SysexAndActiveSense } else { Ignore::All });
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
    let input = new_input("-list", false)?;
    Ok(input.ports().iter().filter_map(|port| input.port_name(port).ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts what reaches the engine's queue.
    struct Counting(Arc<AtomicU64>);

    impl CommandSink for Counting {
        fn send(&mut self, _command: crate::engine::Command, _at: Instant) -> bool {
            self.0.fetch_add(1, Ordering::Relaxed);
            true
        }
    }

    /// Four ports' callbacks on four threads at once, with the port list
    /// changing under them: each message is routed once, none is left
    /// behind in a queue, and nobody ever waited for the routing (a
    /// callback that waited could deadlock here with the port list held).
    #[test]
    fn callbacks_on_many_threads_route_every_message_once() {
        let map = "[[midi]]\ncc = 7\nset = \"feedback\"\ntrack = 1\n";
        let bindings =
            crate::midi_map::MidiMap::parse(map, std::path::Path::new("t.toml")).expect("map").bindings;
        let routed = Arc::new(AtomicU64::new(0));
        let router = MidiRouter::new(&bindings, crate::midi_map::SelectedTrack::new(1));
        let shared = SharedRouting::new(router, Box::new(Counting(Arc::clone(&routed))));
        const PER_PORT: u64 = 20_000;
        let ports: Vec<PortInput> = (0..4).map(|_| shared.add_port()).collect();
        let threads: Vec<_> = ports
            .into_iter()
            .map(|mut port| {
                std::thread::spawn(move || {
                    for i in 0..PER_PORT {
                        on_bytes(&[0xB0, 7, (i % 128) as u8], &mut port);
                        if i % 1000 == 0 {
                            std::thread::yield_now();
                        }
                    }
                    port
                })
            })
            .collect();
        // Ports open and close meanwhile, as the watcher does.
        for _ in 0..50 {
            let extra = shared.add_port();
            shared.remove_port(extra.id);
        }
        let ports: Vec<PortInput> = threads.into_iter().map(|t| t.join().expect("port thread")).collect();
        // Four threads blasting as fast as they can outrun a port's queue
        // at times, by how much depends on the scheduler (real ports deliver
        // a few thousand messages a second); what does not fit is counted,
        // never lost track of.
        let overflowed = shared.overflowed.load(Ordering::Relaxed);
        assert_eq!(routed.load(Ordering::Relaxed) + overflowed, 4 * PER_PORT, "every message routed once");
        assert_eq!(shared.waiting.load(Ordering::SeqCst), 0);
        drop(ports);
    }

    #[test]
    fn a_port_delivers_clock_only_when_the_router_follows_it() {
        for (follows, expected) in [(false, 1), (true, 3)] {
            let routed = Arc::new(AtomicU64::new(0));
            let map = "[[midi]]\ncc = 7\nset = \"feedback\"\ntrack = 1\n";
            let bindings =
                crate::midi_map::MidiMap::parse(map, std::path::Path::new("t.toml")).expect("map").bindings;
            let mut router = MidiRouter::new(&bindings, crate::midi_map::SelectedTrack::new(1));
            if follows {
                router = router.with_clock(48_000.0);
            }
            let shared = SharedRouting::new(router, Box::new(Counting(Arc::clone(&routed))));
            let mut port = shared.add_port();
            // Start, a tick inside a CC (position 0 at it), a tick, stop.
            on_bytes(&[0xFA, 0xB0, 0xF8, 7], &mut port);
            on_bytes(&[64, 0xF8], &mut port);
            on_bytes(&[0xFC], &mut port);
            assert_eq!(routed.load(Ordering::Relaxed), expected, "follows clock: {follows}");
        }
    }

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
