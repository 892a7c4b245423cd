//! MIDI inputs as a surface: the router with the patch's bindings, on its
//! own command ring, with MIDI learn and the last message for the screen.
//!
//! On the native JACK client the surface opens no midir ports: it hands its
//! router to the process callback (through the run's slot, see
//! [`Setup::native_midi`]), which feeds it each cycle's `midi_in` events and
//! applies what it commands at the events' own frames.

use super::component::{Component, Setup};
use super::describe::describe_activity;
use crate::engine::SyncSource;
use crate::io;
use crate::io::midi::{MidiInputConfig, MidiInputs, PortSelection, CLIENT_NAME, DEFAULT_POLL, VIRTUAL_PORT};
use crate::io::Handoff;
use crate::midi_map::{
    learn_channel, ActivityMonitor, LearnControl, LearnRequest, LearnedBinding, MidiRouter,
};
use std::sync::Arc;

/// The MIDI inputs of a run.
pub struct MidiSurface {
    /// Until [`Component::start`] opens the ports.
    pending: Option<(MidiInputConfig, MidiRouter, crate::bridge::CommandSender)>,
    inputs: Option<MidiInputs>,
    learn: LearnControl,
    activity: ActivityMonitor,
    /// Native JACK: the slot the router goes into, and the client's name.
    native: Option<(Arc<Handoff<MidiRouter>>, String)>,
    /// The router is in the native slot (started).
    native_running: bool,
}

/// Wanted with the virtual port or any `--midi` port.
pub fn surface(setup: &mut Setup<'_>) -> Option<Box<dyn Component>> {
    let options = setup.options;
    if !options.virtual_midi && options.midi_ports.is_empty() {
        return None;
    }
    let sender = setup.register("midi")?;
    let (learn, endpoint) = learn_channel();
    let mut router = MidiRouter::new(setup.bindings, setup.controls.selected.clone())
        .with_take_presses(setup.controls.take_presses.clone())
        .with_learn(endpoint);
    if setup.patch.sync.config.source == SyncSource::Midi {
        // `[sync] source = "midi"`: the inputs' clock moves the grid.
        router = router.with_clock(f64::from(setup.sample_rate));
    }
    let activity = router.activity();
    let config = MidiInputConfig {
        ports: PortSelection::from_args(&options.midi_ports),
        virtual_port: options.virtual_midi,
        poll: DEFAULT_POLL,
    };
    let native = setup
        .native_midi
        .clone()
        .map(|slot| (slot, setup.native_client.clone().unwrap_or_else(|| CLIENT_NAME.to_string())));
    Some(Box::new(MidiSurface {
        pending: Some((config, router, sender)),
        inputs: None,
        learn,
        activity,
        native,
        native_running: false,
    }))
}

impl MidiSurface {
    /// Open MIDI input ports, the virtual one first.
    pub fn ports(&self) -> Vec<String> {
        if let (Some((_, client)), true) = (&self.native, self.native_running) {
            return vec![format!("{client}:{VIRTUAL_PORT}")];
        }
        let Some(inputs) = &self.inputs else { return Vec::new() };
        let mut ports = Vec::new();
        if inputs.has_virtual_port() {
            ports.push(format!("{CLIENT_NAME}:{VIRTUAL_PORT}"));
        }
        ports.extend(inputs.status().open);
        ports
    }

    /// The last message and what it did, described with `bindings`.
    pub fn last_message(&self, bindings: &[crate::midi_map::MidiBinding]) -> Option<String> {
        Some(describe_activity(&self.activity.latest()?, bindings))
    }

    /// Bind the next control that moves. False without open inputs.
    pub fn learn(&mut self, request: LearnRequest) -> bool {
        (self.inputs.is_some() || self.native_running) && self.learn.request(request)
    }

    pub fn cancel_learn(&mut self) {
        self.learn.cancel();
    }

    /// A binding the router has learned, if any.
    pub fn learned(&mut self) -> Option<LearnedBinding> {
        self.learn.learned()
    }

    /// The last problem opening a port.
    pub fn last_error(&self) -> Option<String> {
        self.inputs.as_ref()?.status().last_error
    }
}

impl Component for MidiSurface {
    fn name(&self) -> &'static str {
        "midi"
    }

    fn start(&mut self) -> Result<(), String> {
        let Some((config, router, sender)) = self.pending.take() else { return Ok(()) };
        if let Some((slot, _)) = &self.native {
            // The command ring stays registered (and empty): what MIDI
            // commands goes straight into the cycle it arrived in.
            drop(sender);
            if slot.put(Box::new(router)).is_err() {
                return Err("MIDI: the JACK client already has a router".into());
            }
            self.native_running = true;
            return Ok(());
        }
        // alsa-lib reports a missing sequencer on stderr: keep it in the log.
        let capture = io::stderr::StderrCapture::begin();
        let started = MidiInputs::start(config, router, Box::new(sender));
        drop(capture);
        self.inputs = Some(started?);
        Ok(())
    }

    fn tick(
        &mut self,
        _view: &super::component::SessionView,
        _requests: &mut Vec<super::component::SessionRequest>,
    ) {
        if let Some(inputs) = &self.inputs {
            inputs.poll_clock();
        }
    }

    fn stop(&mut self) {
        if let Some(inputs) = self.inputs.take() {
            inputs.stop();
        }
        if let (Some((slot, _)), true) = (&self.native, self.native_running) {
            // Back off the audio thread, so it is never freed there.
            drop(slot.take_waiting(100));
            self.native_running = false;
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
