//! LED feedback as a component: the controller's lamps follow the engine
//! snapshots the session reads.
//!
//! [`FeedbackSurface`] turns each snapshot into the messages for what
//! changed ([`Feedback`]) and sends them through a [`FeedbackSink`]: a
//! midir output here, a queue to the JACK client's MIDI port with the
//! `jack` feature. On start every lamp is sent (the controller's LEDs may
//! show anything when it connects); on stop every lamp goes dark.
//!
//! Wanted when the `--midi-map` file has a `[feedback]` table and a
//! `--midi NAME` port is named: the lamps go to the output of that name.

use super::component::{Component, ComponentStatus, Setup};
use crate::engine::EngineSnapshot;
use crate::io::midi_port::open_output;
use crate::midi_map::{Feedback, MidiMap, SelectedTrack};

/// Where lamp messages go (one whole message per call).
pub trait FeedbackSink: Send {
    fn send(&mut self, bytes: &[u8]) -> Result<(), String>;
}

impl FeedbackSink for crate::io::midi_port::MidiOutPort {
    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        crate::io::midi_port::MidiOutPort::send(self, bytes)
            .map_err(|e| format!("cannot send LED feedback: {e}"))
    }
}

/// The native JACK client's `midi_out`: sent at frame 0 of the next cycle.
impl FeedbackSink for crate::io::midi_out::MidiOutSender {
    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        if crate::io::midi_out::MidiOutSender::send(self, bytes) {
            Ok(())
        } else {
            Err("LED feedback: the MIDI out queue is full".to_string())
        }
    }
}

/// Opens the sink when the component starts.
type Opener = Box<dyn FnOnce() -> Result<Box<dyn FeedbackSink>, String> + Send>;

/// A controller's lamps, lit from the engine's snapshots.
pub struct FeedbackSurface {
    feedback: Feedback,
    selected: SelectedTrack,
    opener: Option<Opener>,
    sink: Option<Box<dyn FeedbackSink>>,
    /// Where the lamps go, for the status line.
    port: String,
    sent: u64,
    failed: u64,
    last_error: Option<String>,
}

/// The factory: a `[feedback]` table in the `--midi-map` file, and the
/// native JACK client's `midi_out` or else a named port.
pub fn surface(setup: &mut Setup<'_>) -> Option<Box<dyn Component>> {
    let options = setup.options;
    let map_path = options.midi_map.as_ref()?;
    let table = MidiMap::load(map_path).ok()?.feedback?;
    let feedback = Feedback::new(table, setup.bindings);
    if setup.native_midi.is_some() {
        let selected = setup.controls.selected.clone();
        let sender = setup.take_midi_out()?;
        return Some(Box::new(FeedbackSurface::new(feedback, Box::new(sender), selected)));
    }
    let port = options.midi_ports.iter().find(|name| !name.eq_ignore_ascii_case("all"))?.clone();
    let name = port.clone();
    let opener: Opener = Box::new(move || {
        // alsa-lib reports a missing sequencer on stderr: keep it in the log.
        let capture = crate::io::stderr::StderrCapture::begin();
        let opened = open_output(Some(&name), "feedback_out");
        drop(capture);
        opened.map(|connection| Box::new(connection) as Box<dyn FeedbackSink>)
    });
    Some(Box::new(FeedbackSurface::with_opener(feedback, opener, setup.controls.selected.clone(), port)))
}

impl FeedbackSurface {
    /// Lamps sent into `sink` from the first snapshot on.
    pub fn new(feedback: Feedback, sink: Box<dyn FeedbackSink>, selected: SelectedTrack) -> FeedbackSurface {
        let mut surface =
            FeedbackSurface::with_opener(feedback, Box::new(|| Err(String::new())), selected, "");
        surface.opener = None;
        surface.sink = Some(sink);
        surface.feedback.refresh();
        surface
    }

    fn with_opener(
        feedback: Feedback,
        opener: Opener,
        selected: SelectedTrack,
        port: impl Into<String>,
    ) -> Self {
        FeedbackSurface {
            feedback,
            selected,
            opener: Some(opener),
            sink: None,
            port: port.into(),
            sent: 0,
            failed: 0,
            last_error: None,
        }
    }

    /// The lamps' state machine (to mark presses waiting for the grid).
    pub fn feedback_mut(&mut self) -> &mut Feedback {
        &mut self.feedback
    }

    /// Messages sent, and sends that failed.
    pub fn counts(&self) -> (u64, u64) {
        (self.sent, self.failed)
    }

    fn send(&mut self, message: [u8; 3]) {
        let Some(sink) = self.sink.as_mut() else { return };
        match sink.send(&message) {
            Ok(()) => self.sent += 1,
            Err(e) => {
                self.failed += 1;
                self.last_error = Some(e);
            }
        }
    }
}

impl Component for FeedbackSurface {
    fn name(&self) -> &'static str {
        "feedback"
    }

    fn start(&mut self) -> Result<(), String> {
        if let Some(open) = self.opener.take() {
            self.sink = Some(open().map_err(|e| format!("feedback: {e}"))?);
        }
        self.feedback.refresh();
        Ok(())
    }

    fn observe(&mut self, snapshot: &EngineSnapshot) {
        // On the session's thread, not a real-time one: a short list is fine.
        let mut changed = Vec::new();
        self.feedback.update(snapshot, self.selected.get(), |m| changed.push(m));
        for message in changed {
            self.send(message);
        }
    }

    fn stop(&mut self) {
        let mut off = Vec::new();
        self.feedback.all_off(|m| off.push(m));
        for message in off {
            self.send(message);
        }
        self.sink = None;
    }

    fn status(&self) -> ComponentStatus {
        ComponentStatus {
            line: self.sink.as_ref().map(|_| format!("leds {}: {} lamps", self.port, self.feedback.lamps())),
            warning: self.last_error.clone(),
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::HeadMode;
    use std::sync::{Arc, Mutex};

    struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

    impl FeedbackSink for Recorder {
        fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
            self.0.lock().unwrap().push(bytes.to_vec());
            Ok(())
        }
    }

    #[test]
    fn the_component_sends_a_full_refresh_then_changes_then_darkness() {
        let map = MidiMap::load(std::path::Path::new("patches/midi/nanokontrol2.toml")).expect("profile");
        let feedback = Feedback::new(map.feedback.expect("table"), &map.bindings);
        let lamps = feedback.lamps();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let selected = SelectedTrack::new(4);
        let mut surface = FeedbackSurface::new(feedback, Box::new(Recorder(Arc::clone(&sent))), selected);
        surface.start().expect("start");
        let mut snapshot = EngineSnapshot { track_count: 4, ..EngineSnapshot::default() };
        snapshot.tracks.iter_mut().for_each(|t| t.mode = HeadMode::Stop);
        surface.observe(&snapshot);
        assert_eq!(sent.lock().unwrap().len(), lamps);
        surface.observe(&snapshot);
        assert_eq!(sent.lock().unwrap().len(), lamps, "nothing changed, nothing sent");
        snapshot.tracks[0].mode = HeadMode::Record;
        surface.observe(&snapshot);
        assert_eq!(
            sent.lock().unwrap()[lamps..],
            [vec![0xB0, 64, 127], vec![0xB0, 69, 127], vec![0xB0, 45, 127]]
        );
        surface.stop();
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 2 * lamps + 3);
        assert!(sent[lamps + 3..].iter().all(|m| m[2] == 0), "all dark at the end");
        assert_eq!(surface.counts(), (sent.len() as u64, 0));
    }
}
