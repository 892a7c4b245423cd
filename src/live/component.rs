//! Components of a live session: the surfaces a performer plays it through
//! (keys on the screen, MIDI, OSC; next a clock and sync) behind one trait.
//!
//! Each surface is made by a [`SurfaceFactory`] while the run is built. The
//! factory decides whether the surface is wanted (an option, a patch table)
//! and [`register`](Setup::register)s its own command ring with the bridge,
//! before audio starts: the audio side's list of rings is fixed from then on.
//! The session then drives every component the same way: [`start`] once,
//! [`observe`] each engine snapshot it reads, [`tick`] every 20–50 ms,
//! [`stop`] when the run ends, and [`status`] for the screen and the status
//! line. The list of factories is `live/surfaces.rs`.
//!
//! [`start`]: Component::start
//! [`observe`]: Component::observe
//! [`tick`]: Component::tick
//! [`stop`]: Component::stop
//! [`status`]: Component::status

use std::any::Any;
use std::path::{Path, PathBuf};

use super::controls::SharedControls;
use super::session::LiveOptions;
use crate::bridge::{Bridge, CommandSender};
use crate::engine::EngineSnapshot;
use crate::io::midi_out::MidiOutSender;
use crate::io::Handoff;
use crate::midi_map::{MidiBinding, MidiRouter};
use crate::patch::Patch;
use std::sync::Arc;

/// What a component reports about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComponentStatus {
    /// A short part of the status line ("osc 127.0.0.1:9951, 2 clients").
    pub line: Option<String>,
    /// Something the performer must know (shown on screen, printed once headless).
    pub warning: Option<String>,
}

/// What a component asks of the session; the session acts on it in its tick.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionRequest {
    /// Start a take (nothing if one records).
    StartTake,
    /// Stop the take recording (nothing if none does).
    StopTake,
    /// Play another patch file.
    Load(PathBuf),
    /// Save the live state as a patch (with its tapes beside it); `None`:
    /// over the patch playing.
    Save(Option<PathBuf>),
}

/// What a session can tell a component about itself when it ticks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionView {
    /// Whether a take records now.
    pub take_recording: bool,
    pub patch_path: PathBuf,
    /// The outcome of the last [`SessionRequest`], in a line.
    pub last_request: Option<String>,
}

/// One part of a live session. See the module docs.
pub trait Component: Any + Send {
    /// A short name for status lines and problems ("keys", "midi", "osc").
    fn name(&self) -> &'static str;

    /// Start threads, open ports or sockets. Called once, after every
    /// surface has registered and before audio starts. An error is shown to
    /// the performer; the session plays on without this component.
    fn start(&mut self) -> Result<(), String> {
        Ok(())
    }

    /// An engine snapshot the session has just read (about 30 a second).
    fn observe(&mut self, _snapshot: &EngineSnapshot) {}

    /// Housekeeping, every 20–50 ms on the session's thread; requests for
    /// the session go into `requests`.
    fn tick(&mut self, _view: &SessionView, _requests: &mut Vec<SessionRequest>) {}

    /// Stop threads and close ports. Called once; never blocks for long.
    fn stop(&mut self) {}

    fn status(&self) -> ComponentStatus {
        ComponentStatus::default()
    }

    /// For the session to reach a surface's own API (the screen's key
    /// commands, MIDI learn) by its type.
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// What a surface factory sees while the run is built.
pub struct Setup<'a> {
    pub(super) bridge: &'a mut Bridge,
    pub options: &'a LiveOptions,
    pub patch: &'a Patch,
    pub patch_path: &'a Path,
    pub bindings: &'a [MidiBinding],
    pub controls: &'a SharedControls,
    pub sample_rate: u32,
    pub track_count: usize,
    /// The screen plays this session (false: `play --no-tui`).
    pub interactive: bool,
    /// Problems for the performer (a surface that could not be made).
    pub problems: &'a mut Vec<String>,
    /// When the backend routes MIDI in its process callback (the native
    /// JACK client): the slot the MIDI surface puts its router in, instead
    /// of opening midir. The processor borrows it every cycle.
    pub native_midi: Option<Arc<Handoff<MidiRouter>>>,
    /// The native client's name, for the ports a surface reports.
    pub native_client: Option<String>,
}

impl Setup<'_> {
    /// A command ring of the surface's own. `None` (noted as a problem)
    /// when the bridge holds its most rings already.
    pub fn register(&mut self, surface: &'static str) -> Option<CommandSender> {
        let sender = self.bridge.register(surface);
        if sender.is_none() {
            self.problems.push(format!("{surface}: no command ring left for it"));
        }
        sender
    }

    /// The one producer of raw MIDI for the `midi_out` port (sent at frame
    /// 0 of the next cycle, on the native JACK client): for a surface that
    /// sends feedback to a controller. `None` once a surface took it.
    pub fn take_midi_out(&mut self) -> Option<MidiOutSender> {
        self.bridge.take_midi_out()
    }
}

/// Makes one surface for a run, or `None` when it is not wanted.
pub type SurfaceFactory = fn(&mut Setup<'_>) -> Option<Box<dyn Component>>;

/// The components of one run, in registration order.
#[derive(Default)]
pub struct Components {
    list: Vec<Box<dyn Component>>,
    running: bool,
}

impl Components {
    /// Every factory's component for this run.
    pub fn build(setup: &mut Setup<'_>, factories: &[SurfaceFactory]) -> Components {
        let list = factories.iter().filter_map(|factory| factory(setup)).collect();
        Components { list, running: false }
    }

    /// Start each; one that fails is noted in `problems` and left out.
    pub fn start(&mut self, problems: &mut Vec<String>) {
        let mut started = Vec::with_capacity(self.list.len());
        for mut component in self.list.drain(..) {
            match component.start() {
                Ok(()) => started.push(component),
                Err(e) => problems.push(e),
            }
        }
        self.list = started;
        self.running = true;
    }

    pub fn observe(&mut self, snapshot: &EngineSnapshot) {
        for component in &mut self.list {
            component.observe(snapshot);
        }
    }

    pub fn tick(&mut self, view: &SessionView) -> Vec<SessionRequest> {
        let mut requests = Vec::new();
        for component in &mut self.list {
            component.tick(view, &mut requests);
        }
        requests
    }

    /// Stop each (once).
    pub fn stop(&mut self) {
        if std::mem::take(&mut self.running) {
            for component in &mut self.list {
                component.stop();
            }
        }
    }

    /// Whether they were started and not yet stopped.
    pub fn running(&self) -> bool {
        self.running
    }

    pub fn statuses(&self) -> impl Iterator<Item = (&'static str, ComponentStatus)> + '_ {
        self.list.iter().map(|c| (c.name(), c.status()))
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.list.iter().map(|c| c.name()).collect()
    }

    /// The component of type `T`, if the run has one.
    pub fn get<T: Component>(&self) -> Option<&T> {
        self.list.iter().find_map(|c| c.as_any().downcast_ref::<T>())
    }

    pub fn get_mut<T: Component>(&mut self) -> Option<&mut T> {
        self.list.iter_mut().find_map(|c| c.as_any_mut().downcast_mut::<T>())
    }
}

impl Drop for Components {
    fn drop(&mut self) {
        self.stop();
    }
}
