//! The session's side of its surfaces: each component ticks and its
//! requests (takes, loading and saving patches) are acted on here, on the
//! session's thread; and what the session tells of them (MIDI ports and
//! learn, status parts).

use std::path::Path;

use super::LiveSession;
use crate::live::component::{SessionRequest, SessionView};
use crate::live::midi_surface::MidiSurface;
use crate::midi_map::LearnRequest;

impl LiveSession {
    /// Tick every surface and act on what they ask of the session.
    pub(super) fn tick_components(&mut self, say: &mut dyn FnMut(&str)) {
        let view = SessionView {
            take_recording: self.take_status().is_some_and(|t| t.recording),
            patch_path: self.run.plan.patch_path.clone(),
            last_request: self.last_request.clone(),
        };
        for request in self.run.components.tick(&view) {
            let outcome = self.act_on(request);
            say(&outcome);
            self.last_request = Some(outcome);
        }
        let warnings: Vec<String> = self.run.components.statuses().filter_map(|(_, s)| s.warning).collect();
        for warning in &warnings {
            if !self.said_warnings.contains(warning) {
                say(&format!("ferrotape: {warning}"));
            }
        }
        self.said_warnings = warnings;
    }

    /// Do what a surface asked; one line on how it went.
    fn act_on(&mut self, request: SessionRequest) -> String {
        match request {
            SessionRequest::StartTake | SessionRequest::StopTake => {
                let want = request == SessionRequest::StartTake;
                if self.run.take.is_none() {
                    return "take: no take recorder in this session".into();
                }
                let recording = self.take_status().is_some_and(|t| t.recording)
                    || self.run.take_request.is_some_and(|(wanted, _)| wanted);
                if recording != want {
                    self.toggle_take();
                }
                (if want { "take: recording" } else { "take: stopped" }).into()
            }
            SessionRequest::Load(path) => match self.load(&path) {
                Ok(()) => format!("loaded {}", path.display()),
                Err(e) => format!("ferrotape: not loaded: {e}"),
            },
            SessionRequest::Save(path) => {
                let path = path.unwrap_or_else(|| self.run.plan.patch_path.clone());
                match self.save_patch(&path) {
                    Ok(()) => format!("saved {}", path.display()),
                    Err(e) => format!("ferrotape: not saved: {e}"),
                }
            }
        }
    }

    /// Write the live state (every parameter, mute, solo, loop length as
    /// playing) as a patch at `path`, with its tapes beside it from the
    /// next tape copy.
    pub fn save_patch(&mut self, path: &Path) -> Result<(), String> {
        let states: Vec<_> = self.run.last_seen.iter().map(|(_, state)| *state).collect();
        let patch = if states.is_empty() {
            self.run.plan.patch.clone()
        } else {
            crate::session::live_patch(
                &self.run.plan.patch,
                &states,
                self.run.last_grid.as_ref(),
                self.settings.sample_rate,
            )
        };
        patch.save(path).map_err(|e| e.to_string())?;
        if self.run.autosave.is_some() {
            self.save_tapes(path)?;
        }
        Ok(())
    }

    /// Open MIDI input ports, the virtual one first.
    pub fn midi_ports(&self) -> Vec<String> {
        self.run.components.get::<MidiSurface>().map(MidiSurface::ports).unwrap_or_default()
    }

    /// Each surface's part of the status line ("osc 127.0.0.1:9951, bad 0").
    pub fn surface_status(&self) -> Vec<String> {
        self.run.components.statuses().filter_map(|(_, s)| s.line).collect()
    }

    /// The surfaces this run plays through ("keys", "midi", "osc").
    pub fn surfaces(&self) -> Vec<&'static str> {
        self.run.components.names()
    }

    /// The last MIDI message and what it did: "CC 21 = 64 ch 1 → track 1 speed".
    pub fn last_midi(&self) -> Option<String> {
        self.run.components.get::<MidiSurface>()?.last_message(&self.run.plan.bindings)
    }

    /// Bind the next control that moves. False without MIDI input.
    pub fn learn(&mut self, request: LearnRequest) -> bool {
        self.run.components.get_mut::<MidiSurface>().is_some_and(|m| m.learn(request))
    }

    pub fn cancel_learn(&mut self) {
        if let Some(midi) = self.run.components.get_mut::<MidiSurface>() {
            midi.cancel_learn();
        }
    }
}
